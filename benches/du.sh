#!/usr/bin/env bash
# Benchmark: `podman-storage du` against GNU du on a 200,000-file tree.
#
#   benches/du.sh            (BENCH_DIR=/tmp/podman-storage-bench by default)
#
# Builds the tree once (benches/du_tree.py, ~20 s, ~1.6 GB) and keeps it
# under $BENCH_DIR, builds the release binary, checks that both tools report
# the same bytes, then runs one hyperfine comparison on a warm cache and
# measures peak RSS. Prints the ratios ours / du: below 1 is faster.
# Needs: python3, hyperfine, GNU time (/usr/bin/time, Debian package `time`).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=${BENCH_DIR:-/tmp/podman-storage-bench}
tree=$bench_dir/tree
runs=${RUNS:-15}

command -v hyperfine >/dev/null || { echo "du.sh: hyperfine is not installed" >&2; exit 2; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

mkdir -p "$bench_dir"
if [ ! -e "$bench_dir/tree.done" ]; then
    rm -rf "$tree"
    python3 "$repo/benches/du_tree.py" "$tree"
    touch "$bench_dir/tree.done"
fi

cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
ours="$repo/target/release/podman-storage"

# Warm the cache (dentries and inodes) for every contender.
du -sb "$tree" >/dev/null
"$ours" du --bytes "$tree" >/dev/null

# Same figures, or the timing means nothing.
read -r apparent disk files dirs < <("$ours" du --bytes "$tree" | awk 'NR == 2 { print $2, $3, $4, $5 }')
du_apparent=$(du -sb "$tree" | cut -f1)
du_disk=$(du -s -B1 "$tree" | cut -f1)
if [ "$apparent" != "$du_apparent" ] || [ "$disk" != "$du_disk" ]; then
    echo "du.sh: MISMATCH: ours apparent=$apparent disk=$disk, du -sb=$du_apparent du -s -B1=$du_disk" >&2
    exit 1
fi
echo "tree: $files files, $dirs dirs, apparent $apparent B (= du -sb), on disk $disk B (= du -s -B1)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

hyperfine -N --warmup 3 --runs "$runs" --export-json "$bench_dir/du-hyperfine.json" \
    -n podman-storage "$ours du --bytes $tree" \
    -n "du -sb" "du -sb $tree" \
    -n "du -s" "du -s $tree"

rss_kb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
ours_rss=$(rss_kb "$ours" du --bytes "$tree")
du_rss=$(rss_kb du -sb "$tree")

python3 - "$bench_dir/du-hyperfine.json" "$ours_rss" "$du_rss" <<'EOF'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours = results["podman-storage"]
print()
for other in ("du -sb", "du -s"):
    r = results[other]
    print(f"ratio podman-storage / {other:6}: {ours['mean'] / r['mean']:.2f}"
          f"  ({ours['mean'] * 1000:.0f} ms / {r['mean'] * 1000:.0f} ms, median"
          f" {ours['median'] / r['median']:.2f})")
print(f"peak RSS: podman-storage {int(sys.argv[2]) / 1024:.1f} MB, du -sb {int(sys.argv[3]) / 1024:.1f} MB")
EOF
