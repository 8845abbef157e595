#!/usr/bin/env bash
# `podman-storage why IMAGE` (store path and --cli-only) against `podman
# system df` in one hyperfine run, on root podman 4.3's standard setup store
# (tests/scenarios/setup-store.sh) plus N_CONTAINERS containers of the image
# asked about and N_VOLUMES volumes, in a store of its own under /tmp (never
# the host's default store). The figure is the ratio; absolute times on a
# shared 2-core machine are noise. BIN=PATH runs that build instead of
# building a release one. Take /tmp/podman-storage-real.lock around it.
#
#   N_CONTAINERS=300 N_VOLUMES=100 flock /tmp/podman-storage-real.lock benches/why.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/podman-storage
fi
bin=$(realpath "$BIN")
n_ctr=${N_CONTAINERS:-300} n_vol=${N_VOLUMES:-100} runs=${RUNS:-15}
iso=/tmp/podman-storage-bench-why
mkdir -p "$iso"
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n' "$iso" "$iso" >"$iso/storage.conf"
# As tests/scenarios/build.sh: runc, and a tmp dir, locks and network configs of its own.
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\ntmp_dir = "%s/tmp"\nlock_type = "file"\n[network]\nnetwork_config_dir = "%s/net"\n' "$iso" "$iso" >"$iso/containers.conf"
export CONTAINERS_STORAGE_CONF="$iso/storage.conf" CONTAINERS_CONF="$iso/containers.conf"
bash tests/scenarios/setup-store.sh build
for i in $(seq 1 "$n_vol"); do podman volume create "v$i" >/dev/null; done
for i in $(seq 1 "$n_ctr"); do podman create --name "c$i" -v "v$((i % n_vol + 1)):/v" localhost/copy:1 true >/dev/null; done
hyperfine -N --warmup 2 --runs "$runs" --export-json "$iso/hf.json" \
  -n 'podman system df' 'podman system df' \
  -n 'why IMAGE' "$bin why localhost/copy:1" \
  -n 'why IMAGE --cli-only' "$bin --cli-only why localhost/copy:1" \
  -n 'why VOLUME' "$bin why v1" >/dev/null 2>&1
python3 - "$iso/hf.json" "$n_ctr" "$n_vol" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["podman system df"]
print(f"root4 (+{sys.argv[2]} containers, +{sys.argv[3]} volumes): " + ", ".join(
    f"{k} {v/base:.2f}x" for k, v in r.items() if k != "podman system df")
    + f" of podman system df ({base*1000:.0f} ms)")
PY
bash tests/scenarios/setup-store.sh reset
