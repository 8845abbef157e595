#!/usr/bin/env bash
# Runs every fuzz target of tests/it/fuzz.rs with a fixed budget and prints
# inputs and findings per target.
#
#   fuzz/run.sh                      # FUZZ_CASES=200000 inputs per target
#   FUZZ_CASES=20000 fuzz/run.sh     # a quicker pass
#   FUZZ_SEED=123 fuzz/run.sh        # replay one run's inputs exactly
#   FUZZ_CASES_PIPELINE=50000 ...    # one target's own budget
#
# The tests are built optimised but with overflow checks and debug
# assertions on (an overflow is a finding, as in `cargo test`), in their own
# target directory so normal builds are not disturbed. The libpod_db target
# builds a real store first and needs podman (it fails without it).
# Exit status: 0 when no target found anything.
set -uo pipefail
cd "$(dirname "$0")/.."
export FUZZ_CASES=${FUZZ_CASES:-200000}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export FUZZ_REPORT=$report
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
       CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true \
       CARGO_PROFILE_RELEASE_LTO=false \
       CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
start=$(date +%s)
cargo test --release --target-dir target/fuzz --test it fuzz:: -- \
  --include-ignored --test-threads "${FUZZ_THREADS:-2}" --nocapture fuzz_ \
  > target/fuzz-run.log 2>&1
status=$?
secs=$(( $(date +%s) - start ))
grep -E '^(fuzz |libpod_db outcomes)' target/fuzz-run.log | sed 's/^/  /'
echo
printf '%-14s %12s %9s\n' TARGET INPUTS FINDINGS
sort "$report" | awk -F'\t' '{ printf "%-14s %12d %9d\n", $1, $2, $3; n += $2; f += $3 }
  END { printf "%-14s %12d %9d\n", "total", n, f }'
echo "($secs s; log: target/fuzz-run.log)"
if [ $status -ne 0 ]; then
  echo "fuzz: a target failed; findings (first input of each) are in target/fuzz-findings/" >&2
  grep -E -A3 '^(src|tests)/.*\(([0-9]+) inputs\)' target/fuzz-run.log >&2
fi
exit $status
