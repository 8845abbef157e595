#!/usr/bin/env bash
# Benchmark for `podman-storage growth` over a long history.
#
# A synthetic history of 10,000 snapshots (one an hour, ~14 months), each a
# copy of a real snapshot of the recorded `projects` store (the tool's own
# `--replay`), then `growth --since 7d` timed with hyperfine:
#   (a) against a report FILE (`--to`), which is the history's own cost:
#       list 10,000 names, pick the one a week old, load two reports, compare;
#   (b) measuring now from the recording, as a cron job would;
#   (c) (a) with a history of one snapshot, for the ratio (a)/(c).
# Target: (a) under 100 ms.
#
# Needs: hyperfine, python3. Usage: benches/growth.sh [--quick]
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=(--warmup 3 --min-runs 20)
[[ "${1:-}" == "--quick" ]] && RUNS=(--warmup 1 --min-runs 5)
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "benches/growth.sh: $tool is not installed" >&2; exit 2; }
done

cargo build --release --quiet
BIN=$PWD/target/release/podman-storage
FIXTURE=$PWD/fixtures/podman-4.3.1/projects
WORK=$(mktemp -d /tmp/pstest-growth-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

run() { env -i PATH=/usr/bin:/bin HOME=/nonexistent "$BIN" --replay "$FIXTURE" --no-progress "$@"; }

run snapshot --history "$WORK/one" >/dev/null
BASE=$(ls "$WORK"/one/snapshot-*.json)
python3 - "$BASE" "$WORK/history" <<'PY'
import os, sys, time
base, out = sys.argv[1], sys.argv[2]
body = open(base, "rb").read()
os.makedirs(out)
now = int(time.time())
for i in range(1, 10001):
    t = time.gmtime(now - i * 3600)
    name = time.strftime("snapshot-%Y%m%dT%H%M%S.000Z.json", t)
    with open(os.path.join(out, name), "wb") as f:
        f.write(body)
PY
echo "history: $(ls "$WORK/history" | wc -l) snapshots, $(du -sh "$WORK/history" | cut -f1)"

hyperfine "${RUNS[@]}" -N --export-json "$WORK/growth.json" \
  -n "growth --since 7d --to FILE (10,000 snapshots)" \
  "env -i PATH=/usr/bin:/bin HOME=/nonexistent $BIN --no-progress growth --history $WORK/history --since 7d --to $BASE" \
  -n "growth --since 7d, measuring now (10,000 snapshots)" \
  "env -i PATH=/usr/bin:/bin HOME=/nonexistent $BIN --replay $FIXTURE --no-progress growth --history $WORK/history --since 7d" \
  -n "growth --since 0s --to FILE (1 snapshot)" \
  "env -i PATH=/usr/bin:/bin HOME=/nonexistent $BIN --no-progress growth --history $WORK/one --since 0s --to $BASE"

python3 - "$WORK/growth.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b, c = (x["mean"] for x in r)
print(f"(a) 10,000-snapshot history, --to FILE: {a*1000:.1f} ms mean (target < 100 ms)")
print(f"(b) measuring now:                      {b*1000:.1f} ms mean")
print(f"(a)/(c) history of 10,000 vs of 1:      {a/c:.2f}x")
PY
