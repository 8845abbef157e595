#!/usr/bin/env bash
# Benchmarks for `podman-storage caches` and `prune caches`.
#
#   (a) bytes reported per cache vs `du -sb` (minus directory entries, which
#       `caches` does not count: see src/caches/mod.rs);
#   (b) time to analyse a synthetic OCI layout of 10,000 blobs (204 nested
#       indexes, 2,040 manifests and configs, 5,712 layers, 4 orphans), vs
#       `du -sb` of the same directory (hyperfine);
#   (c) orphan prune vs `umoci gc --layout DIR` on identical copies of a
#       skopeo-made layout with planted orphans, side by side in one hyperfine
#       run (`--prepare` restores the copy), after checking both remove the
#       same set of blobs.
#
# Needs: podman, skopeo, umoci, hyperfine, jq (Debian packages). Uses an
# isolated podman store in a temp dir (CONTAINERS_STORAGE_CONF/CONTAINERS_CONF)
# and removes everything it made. Usage: benches/caches.sh [--quick]
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=(--warmup 3 --min-runs 20)
[[ "${1:-}" == "--quick" ]] && RUNS=(--warmup 1 --min-runs 5)
for tool in podman skopeo umoci hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "benches/caches.sh: $tool is not installed" >&2; exit 2; }
done

cargo build --release --quiet
BIN=$PWD/target/release/podman-storage
WORK=$(mktemp -d /tmp/pstest-caches-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# ---------------------------------------------------------------- fixtures
# Synthetic layout: 204 indexes -> 10 manifests each -> config + 3 layers
# (every 4th image shares its first layer): 9,996 blobs.
# Digests are fake (podman-storage never hashes blob contents).
synthetic_layout() {
  local dir=$1
  mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  awk -v dir="$dir/blobs/sha256" -v index_json="$dir/index.json" '
    function hex(n) { return sprintf("%064x", n) }
    function put(n, body) { f = dir "/" hex(n); printf "%s", body > f; close(f) }
    function desc(mt, n, size) { return sprintf("{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%d}", mt, hex(n), size) }
    BEGIN {
      id = 0; layers = 0; top = ""
      for (i = 0; i < 204; i++) {
        idx = ++id; mans = ""
        for (m = 0; m < 10; m++) {
          man = ++id; cfg = ++id
          put(cfg, sprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":%d}", cfg))
          ls = ""
          for (l = 0; l < 3; l++) {
            # Every 4th image shares its first layer with the previous one.
            if (l == 0 && m % 4 == 3) { ls = desc("application/vnd.oci.image.layer.v1.tar+gzip", prev, 1); continue }
            lay = ++id; layers++
            put(lay, sprintf("%" (100 + (lay * 37) % 1900) "s", ""))
            if (l == 0) prev = lay
            ls = ls (ls == "" ? "" : ",") desc("application/vnd.oci.image.layer.v1.tar+gzip", lay, 1)
          }
          put(man, sprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":%s,\"layers\":[%s]}", desc("application/vnd.oci.image.config.v1+json", cfg, 1), ls))
          mans = mans (mans == "" ? "" : ",") desc("application/vnd.oci.image.manifest.v1+json", man, 1)
        }
        put(idx, sprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[%s]}", mans))
        top = top (top == "" ? "" : ",") desc("application/vnd.oci.image.index.v1+json", idx, 1)
      }
      printf "{\"schemaVersion\":2,\"manifests\":[%s]}", top > index_json
    }'
}

# Orphans planted in a layout: COUNT blobs of 1-4 kB with fresh digests.
plant_orphans() {
  local dir=$1 count=$2
  awk -v dir="$dir/blobs/sha256" -v count="$count" 'BEGIN {
    for (i = 1; i <= count; i++) { f = dir "/" sprintf("%064x", 900000 + i); printf "%" (1000 + i % 3000) "s", "" > f; close(f) }
  }'
}

flat_cache() {
  local dir=$1 count=$2
  mkdir -p "$dir"
  awk -v dir="$dir" -v count="$count" 'BEGIN {
    for (i = 1; i <= count; i++) { f = dir "/sha256:" sprintf("%064x", i); printf "%" (500 + i % 5000) "s", "" > f; close(f) }
  }'
}

# A skopeo-made layout: two tags sharing a base layer, from an isolated store.
skopeo_layout() {
  local dir=$1 store=$WORK/store
  mkdir -p "$store/rootfs/etc" "$store/ctx"
  printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$store" "$store" >"$store/storage.conf"
  printf '[engine]\ntmp_dir = "%s/tmp"\nevents_logger = "file"\nevents_logfile_path = "%s/tmp/events.log"\n' "$store" "$store" >"$store/containers.conf"
  export CONTAINERS_STORAGE_CONF=$store/storage.conf CONTAINERS_CONF=$store/containers.conf
  head -c 2000000 /dev/urandom >"$store/rootfs/etc/data"
  tar -C "$store/rootfs" -cf "$store/rootfs.tar" .
  podman import -q "$store/rootfs.tar" localhost/pstest-caches-base:1 >/dev/null
  head -c 500000 /dev/urandom >"$store/ctx/extra"
  printf 'FROM localhost/pstest-caches-base:1\nCOPY extra /extra\n' >"$store/ctx/Containerfile"
  podman build -q --pull=never -t localhost/pstest-caches-derived:1 "$store/ctx" >/dev/null
  skopeo copy -q containers-storage:localhost/pstest-caches-base:1 "oci:$dir:base"
  skopeo copy -q containers-storage:localhost/pstest-caches-derived:1 "oci:$dir:derived"
  unset CONTAINERS_STORAGE_CONF CONTAINERS_CONF
}

synthetic_layout synthetic && plant_orphans synthetic 4
flat_cache flat 5000
skopeo_layout skopeo
cp -a skopeo orphans2 && plant_orphans orphans2 2
cp -a skopeo orphans2000 && plant_orphans orphans2000 2000
mkdir -p unknown/a/b && cp -a synthetic/index.json unknown/a/b/ && ln -s /etc/passwd unknown/a/link

# Mean and median ratios of the second command's time to the first's.
ratios() {
  jq -r --arg what "$2" '.results | def ms(x): x * 1000 | round;
    "ratio \($what): mean \(.[1].mean / .[0].mean * 100 | round / 100)x (\(ms(.[0].mean)) vs \(ms(.[1].mean)) ms), median \(.[1].median / .[0].median * 100 | round / 100)x (\(ms(.[0].median)) vs \(ms(.[1].median)) ms), min \(ms(.[0].min)) vs \(ms(.[1].min)) ms"' "$1"
}

# ---------------------------------------------------------------- (a)
echo "== (a) bytes per cache vs du -sb"
printf '%-12s %-10s %12s %12s %12s %12s  %s\n' CACHE KIND REPORTED "du -sb" "dir entries" "du - dirs" MATCH
"$BIN" --format json caches synthetic flat skopeo orphans2000 unknown |
  jq -r '.caches[] | "\(.path) \(.kind) \(.bytes)"' |
  while read -r path kind bytes; do
    du=$(du -sb "$path" | cut -f1)
    dirs=$(find "$path" -type d -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    want=$((du - dirs))
    printf '%-12s %-10s %12d %12d %12d %12d  %s\n' "$path" "$kind" "$bytes" "$du" "$dirs" "$want" \
      "$([[ $bytes == "$want" ]] && echo yes || echo NO)"
  done

# ---------------------------------------------------------------- (b)
echo
echo "== (b) analyse an OCI layout of $(find synthetic/blobs -type f | wc -l) blobs"
"$BIN" --bytes caches synthetic
hyperfine "${RUNS[@]}" -N --export-json b.json \
  "$BIN --format json caches synthetic" \
  "du -sb synthetic"
ratios b.json "du -sb / podman-storage caches"

# ---------------------------------------------------------------- (c)
for name in orphans2 orphans2000; do
  echo
  echo "== (c) orphan prune vs umoci gc: skopeo layout + ${name#orphans} planted orphans"
  cp -a "$name" ours && cp -a "$name" theirs
  "$BIN" prune caches --force --orphans ours
  umoci gc --layout theirs
  if diff <(ls ours/blobs/sha256) <(ls theirs/blobs/sha256) >/dev/null; then
    echo "same set removed: $(($(ls "$name/blobs/sha256" | wc -l) - $(ls ours/blobs/sha256 | wc -l))) blobs, $(ls ours/blobs/sha256 | wc -l) kept"
  else
    echo "DIFFERENT sets removed:" && diff <(ls ours/blobs/sha256) <(ls theirs/blobs/sha256) || true
    exit 1
  fi
  rm -rf ours theirs .ours.podman-storage-lock
  # -N: both commands take a few ms, under what shell-start calibration resolves.
  # `sync` after restoring: otherwise the journal commit (and, with the
  # `discard` mount option, the TRIM) of the previous run's deletions lands
  # in whichever run comes next.
  hyperfine "${RUNS[@]}" -N --export-json "c-$name.json" \
    --prepare "bash -c 'rm -rf $WORK/copy && cp -a $WORK/$name $WORK/copy && sync'" \
    -n "podman-storage prune caches --orphans" "$BIN prune caches --force --orphans $WORK/copy" \
    -n "umoci gc" "umoci gc --layout $WORK/copy"
  ratios "c-$name.json" "umoci gc / podman-storage"
  # hyperfine runs all of one command, then all of the other; with thousands
  # of unlinks the file system's journal makes that order matter, so check
  # with the two interleaved too.
  for round in $(seq 1 10); do
    for tool in podman-storage umoci; do
      rm -rf copy && cp -a "$name" copy && sync
      start=$(date +%s%N)
      if [[ $tool == podman-storage ]]; then "$BIN" prune caches --force --orphans copy >/dev/null; else umoci gc --layout copy; fi
      echo "$tool $((($(date +%s%N) - start) / 1000))"
    done
  done | sort -k1,1 -k2,2n | awk '{t[$1] = t[$1] " " $2; n[$1]++; v[$1, n[$1]] = $2}
    END { for (k in n) printf "interleaved, 10 rounds: %-14s median %6.1f ms\n", k, v[k, int((n[k] + 1) / 2)] / 1000 }'
done
