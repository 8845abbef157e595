#!/usr/bin/env bash
# Builds a podman 5 store (SQLite state) in an isolated graphroot, for
# tests/libpod_sqlite.rs. Runs inside the podman 5 chroot:
#
#   tests/scenarios/podman5.sh root bash /tmp/X/podman5-store.sh build /tmp/X
#   tests/scenarios/podman5.sh root bash /tmp/X/podman5-store.sh destroy /tmp/X
#
# (the script is copied into the tree first: the chroot sees only its own
# files). Every podman state the reader maps is here: created, exited and
# running containers, a pod with its infra container, named volumes with
# labels, one dangling, one left dangling by `run --rm`, an anonymous one,
# a container using two volumes. With STATIC_DIR=1 in the environment,
# containers.conf sets `static_dir` (DIR/static), which moves db.sql there.
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
export CONTAINERS_STORAGE_CONF="$dir/storage.conf" CONTAINERS_CONF="$dir/containers.conf"

case "$action" in
  build)
    mkdir -p "$dir"
    cat > "$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/run"
CONF
    # Own tmp dir, file locks and network configs: stores built side by
    # side do not share /run/libpod or the SHM lock table.
    cat > "$dir/containers.conf" <<CONF
[engine]
tmp_dir = "$dir/tmp"
lock_type = "file"
$([ -n "${STATIC_DIR:-}" ] && echo "static_dir = \"$dir/static\"")
[network]
network_config_dir = "$dir/net"
CONF
    work="$dir/ctx"
    mkdir -p "$work/rootfs/bin"
    cp /bin/busybox "$work/rootfs/bin/busybox"
    for c in sh sleep true; do ln -s busybox "$work/rootfs/bin/$c"; done
    tar -C "$work/rootfs" -cf "$work/base.tar" .
    podman import -q "$work/base.tar" localhost/base:1 >/dev/null
    podman import -q --change 'LABEL flavour=other' "$work/base.tar" localhost/other:1 >/dev/null
    rm -rf "$work"
    run=(podman run --network none)

    podman volume create --label owner=team-a --label tier=gold data >/dev/null
    podman volume create shared >/dev/null
    podman volume create spare >/dev/null   # never used: dangling
    podman volume create once >/dev/null    # used by a --rm container: dangling again

    podman create --name idle --label app=web --label env=prod -v data:/data localhost/base:1 true >/dev/null
    "${run[@]}" --name done -v shared:/s -v data:/d localhost/other:1 sh -c 'echo hi > /s/x' >/dev/null
    "${run[@]}" -d --name busy --label role=worker localhost/base:1 sleep 100000 >/dev/null
    "${run[@]}" --rm -v once:/o localhost/base:1 true >/dev/null
    podman create --name anon -v /scratch localhost/base:1 true >/dev/null

    # No catatonit in the tree, so no pause image: the infra container runs
    # the base image.
    podman pod create --name pod1 --label tier=db --network none \
      --infra-image localhost/base:1 --infra-command sleep >/dev/null
    podman create --pod pod1 --name inpod -v shared:/s localhost/base:1 true >/dev/null
    podman pod create --name bare --infra=false >/dev/null
    ;;
  destroy)
    [ -f "$dir/storage.conf" ] || exit 0
    podman pod rm -af -t 0 >/dev/null 2>&1 || true
    podman rm -af -t 0 >/dev/null 2>&1 || true
    podman system reset -f >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "podman5-store.sh: unknown action $action" >&2; exit 2 ;;
esac
