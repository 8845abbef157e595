#!/usr/bin/env bash
# Podman 5 on a Debian 12 host: Debian 13's podman in a cached chroot.
#
#   tests/scenarios/podman5.sh setup                  build the tree once, mount it
#   tests/scenarios/podman5.sh root [NAME=value...] CMD...
#   tests/scenarios/podman5.sh user USER [NAME=value...] CMD...
#   tests/scenarios/podman5.sh teardown               unmount (the tree stays cached)
#
# The tree is built once at /var/cache/podman-storage/trixie (debootstrap
# minbase + podman runc busybox-static uidmap nftables passt) and reused
# while its marker file is there; a half-built tree has no marker and is
# rebuilt, and a changed package list is installed into the cached tree. It is used
# through a bind mount at /var/cache/podman-storage/root5, because
# containers/storage needs `/` to be a mount point; proc, sys, dev and a
# tmpfs /run are mounted under it.
#
# `root` runs CMD as root in the chroot, `user` as USER (who must exist on
# the host; the same uid, gid and subuid/subgid ranges are made inside) in a
# private mount namespace whose root is the tree (pivot_root: the kernel
# refuses user namespaces to a chrooted process). Both start from a clean
# environment; NAME=value arguments before CMD are added to it, e.g.
#   podman5.sh root CONTAINERS_STORAGE_CONF=/tmp/s1/storage.conf podman images
# Every path CMD sees is a path inside the tree: share files through it,
# /var/cache/podman-storage/root5/tmp/X on the host is /tmp/X inside.
# Podman there runs with cgroupfs, runc and nofile/nproc 1024: set in
# /etc/containers/containers.conf and, so that a test's own CONTAINERS_CONF
# keeps them, in CONTAINERS_CONF_OVERRIDE (unless the caller sets one).
set -euo pipefail

# PODMAN5_CACHE: another place for all of it, to test this script itself.
cache=${PODMAN5_CACHE:-/var/cache/podman-storage}
tree=$cache/trixie
root5=$cache/root5
marker=$cache/trixie.done
lock=$cache/lock
# nftables: netavark's firewall, for RUN steps in root builds; passt:
# rootless podman 5's network (pasta), for RUN steps in rootless builds.
packages=(podman runc busybox-static uidmap nftables passt buildah hyperfine)
override=/etc/containers/podman-storage.conf
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "podman5.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# The Debian mirror the host's apt uses (first non-security URI of a
# Debian suite), unless PODMAN5_MIRROR names one.
mirror() {
  if [ -n "${PODMAN5_MIRROR:-}" ]; then echo "$PODMAN5_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^[[:space:]]*deb[[:space:]]/ {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i+1) ~ /^(bookworm|trixie|stable|testing|sid|unstable)$/) { print $i; exit }
    }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { suites = $0 }
    /^[[:space:]]*$/ { uri = ""; suites = "" }
    uri != "" && suites ~ /[[:space:]](bookworm|trixie|stable)([[:space:]]|$)/ && suites !~ /security/ { print uri; exit }')
  echo "${m:-http://deb.debian.org/debian}"
}

mounted() { findmnt -rn --mountpoint "$1" >/dev/null 2>&1; }

# Mounts under root5, each only if absent: a second call mounts nothing.
ensure_mounts() {
  mkdir -p "$root5"
  if ! mounted "$root5"; then
    mount --bind "$tree" "$root5"
    # Private, so mounts under root5 do not propagate back into the tree
    # (or anywhere else) when the host's / is shared.
    mount --make-private "$root5"
  fi
  mounted "$root5/proc" || mount -t proc proc "$root5/proc"
  if ! mounted "$root5/sys"; then mount --rbind /sys "$root5/sys"; mount --make-rslave "$root5/sys"; fi
  if ! mounted "$root5/dev"; then mount --rbind /dev "$root5/dev"; mount --make-rslave "$root5/dev"; fi
  # /run on tmpfs: podman's run root and its reboot detection expect it.
  mounted "$root5/run" || mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root5/run"
  mkdir -p "$root5/run/lock"
}

teardown() {
  if mounted "$root5"; then umount -R "$root5" || umount -R -l "$root5"; fi
}

conf_files() {
  mkdir -p "$tree/etc/containers"
  cat > "$tree/etc/containers/containers.conf" <<'CONF'
# podman-storage tests: this machine's hybrid cgroups need cgroupfs and runc.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
  cp "$tree/etc/containers/containers.conf" "$tree$override"
}

install_packages() { # [update]: refresh the package lists first
  local apt=(chroot "$root5" env -i PATH="$path" DEBIAN_FRONTEND=noninteractive apt-get -q)
  { if [ "${1:-}" = update ]; then "${apt[@]}" update; fi &&
    "${apt[@]}" install -y --no-install-recommends "${packages[@]}" &&
    "${apt[@]}" clean; } >"$cache/apt.log" 2>&1 ||
    { tail -20 "$cache/apt.log" >&2; die "apt-get install failed (log: $cache/apt.log)"; }
}

write_marker() {
  conf_files # after the packages: they may ship their own containers.conf
  printf '%s\n' "${packages[*]}" "$(chroot "$root5" podman --version)" > "$marker.new"
  mv "$marker.new" "$marker"
}

build() {
  local t0 t1 t2 m
  m=$(mirror)
  echo "podman5.sh: building the trixie tree at $tree from $m" >&2
  teardown
  # Never rm through a mount point.
  if findmnt -rn -o TARGET | grep -q "^$tree\(/\|$\)"; then die "mounts under $tree; unmount them first"; fi
  rm -rf --one-file-system "$tree"
  t0=$(date +%s.%N)
  debootstrap --variant=minbase trixie "$tree" "$m" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  t1=$(date +%s.%N)
  printf '#!/bin/sh\nexit 101\n' > "$tree/usr/sbin/policy-rc.d"; chmod 755 "$tree/usr/sbin/policy-rc.d"
  conf_files
  mkdir -p "$tree/.oldroot"
  ensure_mounts
  install_packages
  t2=$(date +%s.%N)
  write_marker
  awk -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "podman5.sh: debootstrap %.0f s, apt-get install %.0f s\n", b - a, c - b }' >&2
}

with_lock() { # runs "$@" holding the lock; fd 9 is not passed on to CMD
  mkdir -p "$cache"
  exec 9>"$lock"
  flock 9
  "$@"
  flock -u 9
  exec 9>&-
}

setup_locked() {
  local t0; t0=$(date +%s.%N)
  if [ ! -f "$marker" ]; then
    build
  elif [ "$(head -1 "$marker")" != "${packages[*]}" ]; then
    ensure_mounts
    install_packages update
    write_marker
  fi
  ensure_mounts
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "podman5.sh: setup %.2f s\n", b - a }' >&2
}

ready_locked() {
  [ -f "$marker" ] || die "no podman 5 tree yet: run '$0 setup' first"
  ensure_mounts
}

# USER from the host into the tree, with the same ids and subuid/subgid
# ranges, a containers.conf of its own and a runtime dir.
user_locked() {
  local user=$1 uid gid home line
  line=$(getent passwd "$user") || die "no user $user on the host"
  uid=$(cut -d: -f3 <<<"$line"); gid=$(cut -d: -f4 <<<"$line")
  home=/home/$user
  if ! grep -q "^$user:x:$uid:" "$tree/etc/passwd"; then
    grep -q "^[^:]*:x:$gid:" "$tree/etc/group" || chroot "$root5" groupadd -g "$gid" "$user"
    chroot "$root5" useradd -u "$uid" -g "$gid" -d "$home" -m -s /bin/sh "$user"
  fi
  local f ranges
  for f in subuid subgid; do
    ranges=$(grep "^$user:" "/etc/$f" || true)
    [ -n "$ranges" ] || die "$user has no range in the host's /etc/$f (run tests/scenarios/rootless.sh setup)"
    if [ "$(grep "^$user:" "$tree/etc/$f" 2>/dev/null || true)" != "$ranges" ]; then
      { grep -v "^$user:" "$tree/etc/$f" 2>/dev/null || true; echo "$ranges"; } > "$tree/etc/$f.new"
      mv "$tree/etc/$f.new" "$tree/etc/$f"
    fi
  done
  if [ ! -f "$tree$home/.config/containers/containers.conf" ]; then
    mkdir -p "$tree$home/.config/containers"
    cp "$tree/etc/containers/containers.conf" "$tree$home/.config/containers/containers.conf"
    chown -R "$uid:$gid" "$tree$home/.config"
  fi
  mkdir -p "$root5/run/user"
  if [ ! -d "$root5/run/user/$uid" ]; then
    mkdir -m 700 "$root5/run/user/$uid"; chown "$uid:$gid" "$root5/run/user/$uid"
  fi
  user_uid=$uid user_gid=$gid user_home=$home
}

# NAME=value arguments before CMD, for env.
split_env() {
  envs=()
  while [ $# -gt 0 ] && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] || die "no command"
  cmd=("$@")
}

defaults() { # the override, unless the caller names one
  local e
  for e in "${envs[@]}"; do [[ $e == CONTAINERS_CONF_OVERRIDE=* ]] && return; done
  envs=("CONTAINERS_CONF_OVERRIDE=$override" "${envs[@]}")
}

case "${1:-}" in
  setup)
    with_lock setup_locked ;;
  teardown)
    with_lock teardown ;;
  root)
    shift
    with_lock ready_locked
    split_env "$@"; defaults
    exec chroot "$root5" env -i PATH="$path" HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 \
      PODMAN_IGNORE_CGROUPSV1_WARNING=1 "${envs[@]}" "${cmd[@]}" ;;
  user)
    shift
    [ $# -ge 2 ] || die "usage: $0 user USER [NAME=value...] CMD..."
    u=$1; shift
    with_lock ready_locked
    with_lock user_locked "$u"
    split_env "$@"; defaults
    # A private mount namespace, then the tree as its root and the old root
    # gone (shared again only inside this namespace); setpriv (the tree's)
    # drops to the user.
    exec unshare -m --propagation private /bin/sh -c '
      cd "$1" && pivot_root . .oldroot && cd / && umount -l /.oldroot && cd "$2" || exit 125
      mount --make-rshared / # as on a host; rootless podman warns otherwise
      shift 2; exec "$@"' sh "$root5" "$user_home" \
      setpriv --reuid "$user_uid" --regid "$user_gid" --init-groups \
      env -i PATH="$path" HOME="$user_home" USER="$u" LOGNAME="$u" LANG=C.UTF-8 \
      XDG_RUNTIME_DIR="/run/user/$user_uid" PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
      "${envs[@]}" "${cmd[@]}" ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
