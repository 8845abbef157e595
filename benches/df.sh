#!/usr/bin/env bash
# `podman-storage df` against `podman system df` (and `images` against
# `podman images`) on one store, side by side in one hyperfine run. The
# figure is the ratio: absolute times on a shared 2-core machine are noise.
#
#   benches/df.sh            # 30 images, 50 containers (IMAGES=, CONTAINERS= to change)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "df.sh: needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/podman-storage
store=${BENCH_STORE:-/tmp/podman-storage-df-bench}
if [ ! -f "$store/storage.conf" ]; then
  echo "building a store of ${IMAGES:-30} images and ${CONTAINERS:-50} containers in $store ..."
  tests/scenarios/build.sh many "$store" >/dev/null
fi
export CONTAINERS_STORAGE_CONF=$store/storage.conf CONTAINERS_CONF=$store/containers.conf
out=$(mktemp -d)
hyperfine --warmup 3 --runs "${RUNS:-20}" -N --export-json "$out/df.json" \
  -n 'podman system df' 'podman system df' \
  -n 'podman-storage df' "$bin df" \
  -n 'podman-storage df --cli-only' "$bin df --cli-only" \
  -n 'podman images' 'podman images' \
  -n 'podman-storage images' "$bin images" >&2
python3 - "$out/df.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
def ratio(a, b):
    return r[a]["mean"] / r[b]["mean"]
print(f"podman-storage df            / podman system df : {ratio('podman-storage df', 'podman system df'):.2f}x")
print(f"podman-storage df --cli-only / podman system df : {ratio('podman-storage df --cli-only', 'podman system df'):.2f}x")
print(f"podman-storage images / podman images    : {ratio('podman-storage images', 'podman images'):.2f}x")
PY
echo "images bytes: podman-storage $("$bin" --format json df | python3 -c 'import json,sys; print(json.load(sys.stdin)["components"][0]["bytes"])')," \
     "podman system df $(podman system df --format '{{json .}}' | python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin][0]["Size"])')"
