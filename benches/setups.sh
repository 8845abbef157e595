#!/usr/bin/env bash
# `podman-storage df` (store path and --cli-only) against `podman system df`
# on each real setup, side by side in one hyperfine run per setup, run by
# that setup's own user. The figure is the ratio; absolute times on a shared
# 2-core machine are noise. Needs root and the setups of tests/scenarios
# (podman5.sh setup, rootless.sh setup). Each setup's store is rebuilt with
# setup-store.sh, then N_CONTAINERS more containers and N_VOLUMES volumes.
#
#   benches/setups.sh                       # every setup
#   N_CONTAINERS=300 N_VOLUMES=100 benches/setups.sh root5
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
n_ctr=${N_CONTAINERS:-0} n_vol=${N_VOLUMES:-0} runs=${RUNS:-15}
setups=("$@")
[ ${#setups[@]} -gt 0 ] || setups=(rootless4 root5 rootless5)
tree=/var/cache/podman-storage/root5
bash tests/scenarios/podman5.sh setup >/dev/null
bash tests/scenarios/rootless.sh setup >/dev/null
for s in "${setups[@]}"; do
  case $s in
    rootless4) run=(bash tests/scenarios/rootless.sh run); dir=/tmp/podman-storage-bench ;;
    root5) run=(bash tests/scenarios/podman5.sh root); dir=/opt/podman-storage-bench ;;
    rootless5) run=(bash tests/scenarios/podman5.sh user psuser); dir=/opt/podman-storage-bench ;;
    *) echo "setups.sh: unknown setup $s (rootless4, root5, rootless5)" >&2; exit 2 ;;
  esac
  host=$dir; [ "$s" = rootless4 ] || host=$tree$dir
  mkdir -p "$host"
  cp target/release/podman-storage tests/scenarios/setup-store.sh "$host/"
  chmod -R a+rX "$host"; chmod a+w "$host"
  "${run[@]}" bash "$dir/setup-store.sh" build
  "${run[@]}" bash -c "for i in \$(seq 1 $n_vol); do podman volume create v\$i >/dev/null; done;
    for i in \$(seq 1 $n_ctr); do podman create --name c\$i localhost/copy:1 true >/dev/null; done"
  "${run[@]}" hyperfine -N --warmup 2 --runs "$runs" --export-json "$dir/hf.json" \
    -n 'podman system df' 'podman system df' \
    -n 'df' "$dir/podman-storage df" \
    -n 'df --cli-only' "$dir/podman-storage --cli-only df" >/dev/null 2>&1
  python3 - "$host/hf.json" "$s" "$n_ctr" "$n_vol" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["podman system df"]
print(f"{sys.argv[2]:<10} ({sys.argv[3]} extra containers, {sys.argv[4]} volumes): "
      f"df {r['df']/base:.2f}x, df --cli-only {r['df --cli-only']/base:.2f}x of podman system df "
      f"({base*1000:.0f} ms)")
PY
  "${run[@]}" bash "$dir/setup-store.sh" reset
done
