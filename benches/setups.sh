#!/usr/bin/env bash
# `podman-storage df` (store path and --cli-only) and `plan` against `podman system df`
# on each real setup, side by side in one hyperfine run per setup, run by
# that setup's own user. The figure is the ratio; absolute times on a shared
# 2-core machine are noise. Needs root and the setups of tests/scenarios
# (podman5.sh setup, rootless.sh setup). Each setup's store is rebuilt with
# setup-store.sh, then N_CONTAINERS more containers and N_VOLUMES volumes.
# root4 is the host's podman 4.3 as root, in a store of its own under /tmp
# (never the host's default store). BASELINE=BIN adds another build of the
# tool to the same run, for before/after ratios.
#
#   benches/setups.sh                       # every setup
#   N_CONTAINERS=300 N_VOLUMES=100 benches/setups.sh root5
#   BASELINE=/tmp/old-podman-storage benches/setups.sh root4
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
n_ctr=${N_CONTAINERS:-0} n_vol=${N_VOLUMES:-0} runs=${RUNS:-15}
setups=("$@")
[ ${#setups[@]} -gt 0 ] || setups=(root4 rootless4 root5 rootless5)
tree=/var/cache/podman-storage/root5
bash tests/scenarios/podman5.sh setup >/dev/null
bash tests/scenarios/rootless.sh setup >/dev/null
for s in "${setups[@]}"; do
  case $s in
    root4)
      iso=/tmp/podman-storage-bench-root4
      mkdir -p "$iso"
      printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n' "$iso" "$iso" >"$iso/storage.conf"
      # As tests/scenarios/build.sh: runc, and a tmp dir, locks and network configs of its own.
      printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\ntmp_dir = "%s/tmp"\nlock_type = "file"\n[network]\nnetwork_config_dir = "%s/net"\n' "$iso" "$iso" >"$iso/containers.conf"
      run=(env CONTAINERS_STORAGE_CONF="$iso/storage.conf" CONTAINERS_CONF="$iso/containers.conf"); dir=$iso/bin ;;
    rootless4) run=(bash tests/scenarios/rootless.sh run); dir=/tmp/podman-storage-bench ;;
    root5) run=(bash tests/scenarios/podman5.sh root); dir=/opt/podman-storage-bench ;;
    rootless5) run=(bash tests/scenarios/podman5.sh user psuser); dir=/opt/podman-storage-bench ;;
    *) echo "setups.sh: unknown setup $s (root4, rootless4, root5, rootless5)" >&2; exit 2 ;;
  esac
  host=$dir; case $s in root5|rootless5) host=$tree$dir ;; esac
  mkdir -p "$host"
  cp target/release/podman-storage tests/scenarios/setup-store.sh "$host/"
  baseline=()
  if [ -n "${BASELINE:-}" ]; then
    cp "$BASELINE" "$host/baseline"
    baseline=(-n 'baseline df' "$dir/baseline df" -n 'baseline df --cli-only' "$dir/baseline --cli-only df")
  fi
  # root5 and rootless5 share the directory: another user's results file
  # would make hyperfine fail for this one.
  rm -f "$host/hf.json"
  chmod -R a+rX "$host"; chmod a+w "$host"
  "${run[@]}" bash "$dir/setup-store.sh" build
  "${run[@]}" bash -c "for i in \$(seq 1 $n_vol); do podman volume create v\$i >/dev/null; done;
    for i in \$(seq 1 $n_ctr); do podman create --name c\$i localhost/copy:1 true >/dev/null; done"
  "${run[@]}" hyperfine -N --warmup 2 --runs "$runs" --export-json "$dir/hf.json" \
    -n 'podman system df' 'podman system df' \
    -n 'df' "$dir/podman-storage df" \
    -n 'df --cli-only' "$dir/podman-storage --cli-only df" \
    -n 'plan' "$dir/podman-storage plan" "${baseline[@]}" >/dev/null 2>&1
  python3 - "$host/hf.json" "$s" "$n_ctr" "$n_vol" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["podman system df"]
print(f"{sys.argv[2]:<10} ({sys.argv[3]} extra containers, {sys.argv[4]} volumes): "
      f"df {r['df']/base:.2f}x, df --cli-only {r['df --cli-only']/base:.2f}x, "
      f"plan {r['plan']/base:.2f}x of podman system df "
      f"({base*1000:.0f} ms)")
if "baseline df" in r:
    print(f"{'':<10} baseline: df {r['baseline df']/base:.2f}x, "
          f"df --cli-only {r['baseline df --cli-only']/base:.2f}x")
PY
  "${run[@]}" bash "$dir/setup-store.sh" reset
done
