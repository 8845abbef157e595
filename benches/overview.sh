#!/usr/bin/env bash
# `podman-storage overview` against `podman system df` on a store of 30
# images and 50 containers plus a 200,000-file workspace tree, side by side
# in one hyperfine run. The overview does strictly more (it also walks the
# workspaces); the ratio is the figure.
#
#   benches/overview.sh      (reuses the stores of benches/df.sh and benches/du.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v hyperfine >/dev/null || { echo "overview.sh: needs hyperfine" >&2; exit 1; }
bench_dir=${BENCH_DIR:-/tmp/podman-storage-bench}
tree=$bench_dir/tree
store=${BENCH_STORE:-/tmp/podman-storage-df-bench}
if [ ! -e "$bench_dir/tree.done" ]; then
  rm -rf "$tree"; mkdir -p "$bench_dir"
  python3 benches/du_tree.py "$tree"
  touch "$bench_dir/tree.done"
fi
[ -f "$store/storage.conf" ] || tests/scenarios/build.sh many "$store" >/dev/null
cargo build --release --quiet
bin=$repo/target/release/podman-storage
export CONTAINERS_STORAGE_CONF=$store/storage.conf CONTAINERS_CONF=$store/containers.conf
config=$bench_dir/overview-config.toml
cat > "$config" <<TOML
[[projects]]
id = "apps"
images = ["^localhost/app"]
workspaces = ["$tree/*"]
[global]
images = ["^localhost/base$"]
TOML
"$bin" --config "$config" overview >/dev/null   # warm the cache
echo "workspaces: $(ls -d "$tree"/*/ | wc -l) dirs, $(find "$tree" | wc -l) entries"
out=$(mktemp -d)
hyperfine -N --warmup 3 --runs "${RUNS:-15}" --export-json "$out/o.json" \
  -n 'podman system df' 'podman system df' \
  -n 'podman-storage overview' "$bin --config $config overview" \
  -n 'podman-storage overview (no workspaces)' "$bin --config /dev/null overview" >&2
python3 - "$out/o.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["podman system df"]
for name in ("podman-storage overview", "podman-storage overview (no workspaces)"):
    print(f"{name:42s} / podman system df: {r[name] / base:.2f}x")
PY
