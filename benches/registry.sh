#!/usr/bin/env bash
# Benchmark for `podman-storage caches` on a registry's storage directory.
#
#   (a) bytes and blob bytes vs `du -sb` (minus directory entries, which
#       `caches` does not count: see src/caches/mod.rs), and the
#       garbage-collect plan vs `docker-registry garbage-collect --dry-run`
#       (same marked count, same eligible blobs and manifests);
#   (b) time to analyse a synthetic registry of 20,000 blobs in 100
#       repositories, side by side with `du -sb` of the same directory and
#       `docker-registry garbage-collect --dry-run` (hyperfine), ratios printed.
#
# The registry is written directly in distribution's filesystem layout with
# real sha256 digests of real content: 2,800 schema 2 images (manifest,
# config, 4 own layers and one of 20 shared base layers), every 7th one
# untagged, plus 3,180 blobs no manifest references.
#
# Needs: docker-registry, hyperfine, jq, python3 (Debian packages). Starts no
# server. Usage: benches/registry.sh [--quick]
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=(--warmup 3 --min-runs 20)
[[ "${1:-}" == "--quick" ]] && RUNS=(--warmup 1 --min-runs 5)
for tool in docker-registry hyperfine jq python3; do
  command -v "$tool" >/dev/null || { echo "benches/registry.sh: $tool is not installed" >&2; exit 2; }
done

cargo build --release --quiet
BIN=$PWD/target/release/podman-storage
WORK=$(mktemp -d /tmp/pstest-registry-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

python3 - "$WORK/reg" <<'EOF'
import hashlib, json, os, sys
root = os.path.join(sys.argv[1], "docker/registry/v2")
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(root, "blobs/sha256", h[:2], h)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "data"), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)
def link(path, digest):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f:
        f.write(digest)
def content(n, size):
    return (b"%08d" % n) * (size // 8)
bases = [blob(content(10**7 + i, 4000)) for i in range(20)]
n = 0
for r in range(100):
    repo = os.path.join(root, "repositories", "team%02d/app%02d" % (r % 10, r))
    os.makedirs(os.path.join(repo, "_uploads"), exist_ok=True)
    for i in range(28):
        n += 1
        base = bases[n % 20]
        layers = [base] + [blob(content(n * 10 + k, 200 + (n * 37 + k * 91) % 1800)) for k in range(4)]
        cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "n": n}).encode())
        desc = lambda mt, d: {"mediaType": mt, "digest": d[0], "size": d[1]}
        man = blob(json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": desc("application/vnd.docker.container.image.v1+json", cfg),
            "layers": [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", l) for l in layers],
        }).encode())
        for d in [cfg] + layers:
            link(os.path.join(repo, "_layers/sha256", d[0][7:]), d[0])
        link(os.path.join(repo, "_manifests/revisions/sha256", man[0][7:]), man[0])
        if n % 7:
            tag = os.path.join(repo, "_manifests/tags", "v%d" % i)
            link(os.path.join(tag, "current"), man[0])
            link(os.path.join(tag, "index/sha256", man[0][7:]), man[0])
for i in range(3180):
    blob(content(2 * 10**7 + i, 300 + i % 2000))
EOF
REG=$WORK/reg
cat >"$WORK/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $REG
EOF

# ---------------------------------------------------------------- (a) figures
json=$("$BIN" caches --format json "$REG")
blobs=$(jq '.caches[0].blobs' <<<"$json")
bytes=$(jq '.caches[0].bytes' <<<"$json")
blob_bytes=$(jq '.caches[0].blob_bytes' <<<"$json")
minus_dirs() { echo $(( $(du -sb "$1" | cut -f1) - $(find "$1" -type d -printf '%s\n' | paste -sd+ | bc) )); }
du_all=$(minus_dirs "$REG")
du_blobs=$(minus_dirs "$REG/docker/registry/v2/blobs")
printf '%-28s %14s %14s\n' "" podman-storage "du -sb - dirs"
printf '%-28s %14s %14s\n' "registry bytes" "$bytes" "$du_all"
printf '%-28s %14s %14s\n' "blobs/ bytes" "$blob_bytes" "$du_blobs"
[[ $bytes == "$du_all" && $blob_bytes == "$du_blobs" ]] || { echo "MISMATCH" >&2; exit 1; }
echo "blobs: $blobs"

for flag in "" --delete-untagged; do
  gc=$(docker-registry garbage-collect --dry-run $flag "$WORK/config.yml" 2>/dev/null)
  key=$([[ -z $flag ]] && echo gc || echo gc_untagged)
  theirs=$(grep -o '[0-9]* blobs marked, [0-9]* blobs and [0-9]* manifests' <<<"$gc")
  ours=$(jq -r ".caches[0].registry.$key | \"\(.marked) blobs marked, \(.blobs | length) blobs and \(.manifests | length) manifests\"" <<<"$json")
  printf 'garbage-collect %-18s ours: %s\n%34s theirs: %s\n' "$flag" "$ours" "" "$theirs"
  diff <(grep -o 'blob eligible for deletion: .*' <<<"$gc" | cut -d' ' -f5 | sort) \
    <(jq -r ".caches[0].registry.$key.blobs[]" <<<"$json" | sort) >/dev/null ||
    { echo "eligible blob sets differ ($flag)" >&2; exit 1; }
  [[ $ours == "$theirs" ]] || { echo "MISMATCH" >&2; exit 1; }
done

# ---------------------------------------------------------------- (b) time
hyperfine "${RUNS[@]}" -N --export-json "$WORK/times.json" \
  -n "podman-storage caches" "$BIN caches --format json $REG" \
  -n "du -sb" "du -sb $REG" \
  -n "garbage-collect --dry-run" "docker-registry garbage-collect --dry-run $WORK/config.yml" >/dev/null
jq -r '.results as $r | $r[0].mean as $ours |
  ($r[] | "\(.command): mean \(.mean * 1000 | floor) ms, ratio to podman-storage \(.mean / $ours * 100 | floor / 100)")' \
  "$WORK/times.json"
# The goal is under 1 s; on a shared machine du's own time says how loaded it is.
jq -r '.results | "podman-storage / du -sb: \(.[0].mean / .[1].mean * 100 | floor / 100)x; " +
  "under 1 s: \(if .[0].mean < 1 then "yes" else "no (du -sb alone took \(.[1].mean * 1000 | floor) ms)" end)"' \
  "$WORK/times.json"
