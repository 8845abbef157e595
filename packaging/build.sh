#!/usr/bin/env bash
# Builds the .deb and the .rpm from one release build and prints their paths.
#
#   packaging/build.sh
#
# Needs cargo-deb and cargo-generate-rpm (`.ci/run` installs them into
# /opt/cargo-tools). The files Cargo.toml's package metadata takes from
# target/packaging/ are made here: gzipped man pages (the checked-in ones),
# completions from the built binary and the systemd units with the packaged
# binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/cargo-tools/bin:$PATH
for tool in cargo-deb cargo-generate-rpm; do
  command -v "$tool" >/dev/null ||
    { echo "build.sh: $tool not found (cargo install --locked $tool)" >&2; exit 1; }
done

cargo build --release --locked
# cargo-deb maps target/release/ to the real target dir; so must we.
bin=${CARGO_TARGET_DIR:-target}/release/podman-storage
out=target/packaging
rm -rf "$out"
mkdir -p "$out/man" "$out/completions" "$out/systemd/system" "$out/systemd/user"

# -n: no name or time stamp in the gzip header, so a rebuild is identical.
for page in man/*.1; do
  gzip -9n < "$page" > "$out/man/${page#man/}.gz"
done

"$bin" completions bash > "$out/completions/podman-storage"
"$bin" completions zsh > "$out/completions/_podman-storage"
"$bin" completions fish > "$out/completions/podman-storage.fish"

# contrib/systemd's units run a `cargo install`ed binary; the package's run
# /usr/bin's. The lines about where cargo puts it do not apply here.
unit() { # SRC DEST FROM
  sed -e "s|$3|/usr/bin/podman-storage|" -e '/cargo install/d' "$1" > "$2"
  grep -q '^ExecStart=/usr/bin/podman-storage ' "$2" ||
    { echo "build.sh: no ExecStart=/usr/bin/podman-storage in $2" >&2; exit 1; }
}
unit contrib/systemd/system/podman-storage-snapshot.service "$out/systemd/system/podman-storage-snapshot.service" /usr/local/bin/podman-storage
unit contrib/systemd/user/podman-storage-snapshot.service "$out/systemd/user/podman-storage-snapshot.service" '%h/.cargo/bin/podman-storage'
cp contrib/systemd/system/podman-storage-snapshot.timer "$out/systemd/system/"
cp contrib/systemd/user/podman-storage-snapshot.timer "$out/systemd/user/"

cargo deb --no-build --output "$out/" >&2
cargo generate-rpm --output "$out/" >&2
ls "$PWD/$out"/*.deb "$PWD/$out"/*.rpm
