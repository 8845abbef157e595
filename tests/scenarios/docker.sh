#!/usr/bin/env bash
# Fills a Docker Engine (the one DOCKER_HOST points at) with the `docker`
# test scenario, without network:
#
#   DOCKER_HOST=unix:///.../d.sock tests/scenarios/docker.sh DIR
#
# * local/base:1 from `docker import` of a rootfs tar (static busybox plus
#   3.4 MB of random data);
# * local/app1:1 (+2 MB, with a LABEL step, so the legacy builder leaves an
#   intermediate image) and local/app2:1 (+3 MB), both built FROM it;
# * containers on local/base:1 only, so the one image in use shares all its
#   layers: `written` (exited; 500 kB in its writable layer, 1.2 MB into the
#   volume `data`, compose labels and a label whose value holds a comma),
#   `running` (700 kB, still running), `idle` (created, nothing written);
# * volumes `data` (labelled, in use) and `spare` (unused, empty).
#
# DIR is scratch space for the build contexts. Needs docker (client and a
# daemon) and a static busybox (apt-get install -y docker.io busybox-static).
set -euo pipefail
dir=$(realpath -m "$1")
mkdir -p "$dir"
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || { echo "docker.sh: busybox not found (apt-get install -y busybox-static)" >&2; exit 1; }
run=(docker run --network none)

work="$dir/ctx"
rm -rf "$work"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp "$busybox" "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
head -c 3400000 /dev/urandom > "$work/rootfs/etc/data"
tar -C "$work/rootfs" -cf "$work/base.tar" .
docker import "$work/base.tar" local/base:1 >/dev/null

# The legacy builder: BuildKit needs its own daemon pieces, and its cache is
# not part of what this scenario measures.
build() {
  local name=$1 kb=$2 label=$3 ctx="$work/$1"
  mkdir -p "$ctx"
  head -c $((kb * 1000)) /dev/urandom > "$ctx/data"
  { echo "FROM local/base:1"; [ -n "$label" ] && echo "LABEL $label"; echo "COPY data /data-$name"; } > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "local/$name:1" "$ctx" >/dev/null 2>&1 \
    || DOCKER_BUILDKIT=0 docker build -t "local/$name:1" "$ctx" >&2
}
build app1 2000 "app=one"
build app2 3000 ""

docker volume create --label owner=team-a data >/dev/null
docker volume create spare >/dev/null
"${run[@]}" --name written -v data:/data \
  --label com.docker.compose.project=shop --label com.docker.compose.service=web \
  --label 'weird=a,b=c' \
  local/base:1 sh -c 'head -c 500000 /dev/urandom > /written; head -c 1200000 /dev/urandom > /data/blob'
"${run[@]}" -d --name running local/base:1 \
  sh -c 'head -c 700000 /dev/urandom > /w.tmp && mv /w.tmp /w; exec sleep 100000' >/dev/null
docker create --network none --name idle local/base:1 true >/dev/null
# Bounded wait until `running` has written its file.
for _ in $(seq 100); do
  docker exec running sh -c 'test -f /w' 2>/dev/null && break
  sleep 0.1
done
docker exec running sh -c 'test -f /w' || { echo "docker.sh: container running never wrote /w" >&2; exit 1; }
rm -rf "$work"
