#!/usr/bin/env bash
# Rootless podman on this host (Debian 12: podman 4.3) as the test user psuser.
#
#   tests/scenarios/rootless.sh setup                    create psuser (idempotent)
#   tests/scenarios/rootless.sh run [NAME=value...] CMD...   run CMD as psuser
#
# psuser has uid/gid 4242, home /home/psuser, subuid/subgid 200000:65536 and
# XDG_RUNTIME_DIR /run/user/4242. Its ~/.config/containers/containers.conf
# sets cgroupfs, runc and nofile/nproc 1024 (this host's hybrid cgroups need
# them); it has no storage.conf of its own, so podman 4.3 picks vfs and the
# store is ~/.local/share/containers/storage. `run` starts from a clean
# login-like environment (HOME, USER, LOGNAME, XDG_RUNTIME_DIR, PATH) in
# psuser's home; NAME=value arguments before CMD are added to it.
# The same user runs podman 5 with `podman5.sh user psuser CMD...`.
set -euo pipefail

user=psuser uid=4242 home=/home/psuser range=200000:65536
runtime=/run/user/$uid
path=/usr/local/bin:/usr/bin:/bin

die() { echo "rootless.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

setup() {
  local t0; t0=$(date +%s.%N)
  exec 9>/run/lock/podman-storage-rootless.lock
  flock 9
  if ! getent group "$user" >/dev/null; then groupadd -g "$uid" "$user"; fi
  if ! getent passwd "$user" >/dev/null; then
    useradd -u "$uid" -g "$uid" -d "$home" -m -s /bin/bash "$user"
  fi
  [ "$(id -u "$user")" = "$uid" ] || die "$user exists with a uid other than $uid"
  local f
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -qx "$user:$range" "$f"; then
      { grep -v "^$user:" "$f" || true; echo "$user:$range"; } > "$f.new"
      chmod 644 "$f.new"; mv "$f.new" "$f"
    fi
  done
  local conf=$home/.config/containers/containers.conf
  if [ ! -f "$conf" ]; then
    install -d -o "$uid" -g "$uid" "$home/.config" "$home/.config/containers"
    cat > "$conf" <<'CONF'
# podman-storage tests: this machine's hybrid cgroups need cgroupfs and runc.
# No storage.conf here: the tests need podman's own choice of driver.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
    chown "$uid:$uid" "$conf"
  fi
  ensure_runtime
  flock -u 9; exec 9>&-
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "rootless.sh: setup %.2f s\n", b - a }' >&2
}

ensure_runtime() { # /run is a tmpfs: gone after a reboot
  if [ ! -d "$runtime" ]; then
    mkdir -p /run/user
    install -d -m 700 -o "$uid" -g "$uid" "$runtime"
  fi
}

case "${1:-}" in
  setup)
    setup ;;
  run)
    shift
    getent passwd "$user" >/dev/null || die "no user $user: run '$0 setup' first"
    ensure_runtime
    envs=()
    while [ $# -gt 0 ] && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do envs+=("$1"); shift; done
    [ $# -gt 0 ] || die "no command"
    cd "$home"
    # In a mount namespace of its own whose / is shared, as on a systemd
    # host: here / is private and podman would warn on every call.
    exec unshare -m --propagation shared setpriv --reuid "$uid" --regid "$uid" --init-groups \
      env -i PATH="$path" HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash LANG=C.UTF-8 \
      XDG_RUNTIME_DIR="$runtime" "${envs[@]}" "$@" ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
