#!/usr/bin/env bash
# Removes a store made by build.sh: containers first (a running one holds
# mounts), then the whole directory.
set -uo pipefail
dir=$(realpath -m "$1")
[ -f "$dir/storage.conf" ] || exit 0
export CONTAINERS_STORAGE_CONF="$dir/storage.conf" CONTAINERS_CONF="$dir/containers.conf"
podman rm -af -t 0 >/dev/null 2>&1
podman pod rm -af >/dev/null 2>&1
podman network prune -f >/dev/null 2>&1
podman system reset -f >/dev/null 2>&1
umount -R "$dir/root/overlay" 2>/dev/null
rm -rf "$dir"
