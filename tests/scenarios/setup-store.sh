#!/usr/bin/env bash
# Builds, in the calling user's own podman store (wherever podman puts it:
# that is what the store resolver must find), the images and containers
# every real setup has. Run inside a setup (rootless.sh run, podman5.sh
# root|user); needs podman, a static busybox at /bin/busybox, and buildah
# for the working container.
#
#   setup-store.sh build    # reset the store, then build
#   setup-store.sh buildah  # add a buildah working container (not podman's)
#   setup-store.sh reset
set -euo pipefail
case "${1:-build}" in
  buildah)
    ctr=$(buildah from localhost/base:1)
    buildah run --network none "$ctr" -- sh -c 'head -c 300000 /dev/urandom > /b' >/dev/null
    exit 0 ;;
  reset)
    podman system reset -f >/dev/null 2>&1 || true
    exit 0 ;;
esac
podman system reset -f >/dev/null 2>&1 || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for l in sh true sleep head; do ln -s busybox "$work/rootfs/bin/$l"; done
head -c 3000000 /dev/urandom > "$work/rootfs/etc/data"
tar -C "$work/rootfs" -cf "$work/base.tar" .
podman import -q "$work/base.tar" localhost/base:1 >/dev/null

# Containerfiles ending in COPY, RUN, and LABEL/CMD/ENV (no new layer).
build() {
  local name=$1 last=$2
  mkdir -p "$work/$name"
  head -c 1500000 /dev/urandom > "$work/$name/data"
  printf 'FROM localhost/base:1\nCOPY data /data\n%s\n' "$last" > "$work/$name/Containerfile"
  podman build -q --network none -t "localhost/$name:1" "$work/$name" >/dev/null
}
build copy 'COPY data /data2'
build run 'RUN ["/bin/busybox", "sh", "-c", "head -c 700000 /dev/urandom > /run-data"]'
build label $'LABEL tier=web\nCMD ["sh"]\nENV MODE=prod'

podman volume create data >/dev/null
podman run --network none --name writer -v data:/vol localhost/copy:1 \
  sh -c 'head -c 800000 /dev/urandom > /vol/blob; head -c 400000 /dev/urandom > /written' >/dev/null
podman create --name idle localhost/label:1 true >/dev/null
# A --rm container left running, as every Quadlet unit is.
podman run -d --rm --network none --name quadlet localhost/run:1 \
  sh -c 'head -c 600000 /dev/urandom > /w; exec sleep 100000' >/dev/null
