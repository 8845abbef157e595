#!/usr/bin/env bash
# Builds a real podman store for one scenario in an isolated graphroot, so
# nothing on the machine's own store is read or touched.
#
#   tests/scenarios/build.sh SCENARIO DIR
#
# prints the `export CONTAINERS_STORAGE_CONF=...` line that selects the store.
# Scenarios: empty, one-image, base-derived, volumes-dangling, intermediates,
# projects, many.
# Needs podman, runc and a static busybox (apt-get install -y busybox-static).
set -euo pipefail
scenario=$1
dir=$(realpath -m "$2")
mkdir -p "$dir"
cat > "$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/run"
CONF
# crun fails on this machine's hybrid cgroups: runc, and ulimits it accepts.
# Its own tmp dir, file locks and network configs keep concurrent stores
# apart: with the defaults they share /run/libpod, one SHM lock table and
# /etc/cni/net.d, and trip each other.
cat > "$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
tmp_dir = "$dir/tmp"
lock_type = "file"
[network]
network_config_dir = "$dir/net"
CONF
export CONTAINERS_STORAGE_CONF="$dir/storage.conf" CONTAINERS_CONF="$dir/containers.conf"
run=(podman run --network none)
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || { echo "build.sh: busybox not found (apt-get install -y busybox-static)" >&2; exit 1; }

# A base image from a tarball: busybox plus random data, so sizes are real.
base() {
  local name=$1 kb=$2 work="$dir/ctx-$RANDOM"
  mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
  cp "$busybox" "$work/rootfs/bin/busybox"
  ln -s busybox "$work/rootfs/bin/sh"
  head -c $((kb * 1000)) /dev/urandom > "$work/rootfs/etc/data"
  tar -C "$work/rootfs" -cf "$work/base.tar" .
  podman import -q "$work/base.tar" "$name" >/dev/null
  rm -rf "$work"
}

# An image built FROM another with one COPY layer of random data.
derived() {
  local from=$1 name=$2 kb=$3 work="$dir/ctx-$RANDOM"; shift 3
  mkdir -p "$work"
  head -c $((kb * 1000)) /dev/urandom > "$work/data"
  { echo "FROM $from"; for l in "$@"; do echo "LABEL $l"; done; echo "COPY data /data-$RANDOM"; } > "$work/Containerfile"
  podman build -q -t "$name" "$work" >/dev/null
  rm -rf "$work"
}

case "$scenario" in
  empty)
    podman images >/dev/null ;;
  one-image)
    base localhost/solo:1 2000 ;;
  base-derived)
    base localhost/base:1 3400
    derived localhost/base:1 localhost/app1:1 2000
    derived localhost/base:1 localhost/app2:1 3000
    "${run[@]}" --name written localhost/app1:1 sh -c 'head -c 500000 /dev/urandom > /written' >/dev/null
    "${run[@]}" -d --name running localhost/app2:1 sh -c 'head -c 700000 /dev/urandom > /w; exec sleep 100000' >/dev/null
    podman create --name idle localhost/base:1 true >/dev/null ;;
  volumes-dangling)
    base localhost/base:1 1000
    derived localhost/base:1 localhost/tool:1 2500
    derived localhost/base:1 localhost/tool:1 3000  # the old tool:1 is now dangling
    podman volume create --label owner=team-a data >/dev/null
    podman volume create spare >/dev/null
    "${run[@]}" --name filler -v data:/data localhost/tool:1 sh -c 'head -c 1200000 /dev/urandom > /data/blob' >/dev/null
    "${run[@]}" --rm -v spare:/spare localhost/base:1 sh -c 'head -c 300000 /dev/urandom > /spare/x' >/dev/null ;;
  intermediates)
    # A multi-step build: podman keeps a nameless image per step (one of
    # them an empty-layer LABEL step sharing its parent's top layer).
    base localhost/base:1 1000
    work="$dir/ctx-multi"; mkdir -p "$work"
    head -c 300000 /dev/urandom > "$work/a"; head -c 200000 /dev/urandom > "$work/b"
    printf 'FROM localhost/base:1\nLABEL step=1\nCOPY a /a\nRUN ["/bin/busybox", "true"]\nCOPY b /b\n' > "$work/Containerfile"
    podman build -q -t localhost/multi:1 "$work" >/dev/null
    podman create --name user localhost/multi:1 true >/dev/null
    rm -rf "$work" ;;
  projects)
    # Two podman-compose projects built on one base, each with a volume
    # holding data, plus a volume left behind by a project that is gone.
    base localhost/base:1 2000
    for p in alpha beta; do
      mkdir -p "$dir/$p/app"
      kb=800; [ "$p" = beta ] && kb=1500
      head -c $((kb * 1000)) /dev/urandom > "$dir/$p/app/data"
      printf 'FROM localhost/base:1\nCOPY data /data\n' > "$dir/$p/app/Containerfile"
      cat > "$dir/$p/docker-compose.yml" <<YML
services:
  web:
    build: ./app
    command: sh -c "head -c 300000 /dev/urandom > /written; head -c 400000 /dev/urandom > /vol/x; exec sleep 100000"
    volumes:
      - data:/vol
volumes:
  data:
YML
      (cd "$dir/$p" && podman-compose -p "$p" up -d >/dev/null 2>&1)
    done
    podman volume create --label com.docker.compose.project=gone gone_data >/dev/null ;;
  many)
    # For benchmarks: IMAGES derived images on one base, CONTAINERS containers
    # spread over them, a few volumes.
    images=${IMAGES:-30} containers=${CONTAINERS:-50}
    base localhost/base:1 3000
    for i in $(seq 1 "$images"); do derived localhost/base:1 "localhost/app$i:1" $((100 + i * 10)); done
    for v in 1 2 3; do podman volume create "vol$v" >/dev/null; done
    for c in $(seq 1 "$containers"); do
      podman create --name "c$c" -v "vol$((c % 3 + 1)):/v" "localhost/app$((c % images + 1)):1" true >/dev/null
    done ;;
  *)
    echo "build.sh: unknown scenario $scenario" >&2; exit 2 ;;
esac
echo "export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf"
