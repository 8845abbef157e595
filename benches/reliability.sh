#!/usr/bin/env bash
# Reliability figures anyone can rerun: the fuzz budget, the fault and
# hostile-input suites, the prune stress and kill loops, then one summary
# table (Markdown).
#
#   benches/reliability.sh                    # FUZZ_CASES=200000 per target (~15 min on 2 cores)
#   FUZZ_CASES=20000 benches/reliability.sh   # a quicker pass
#
# Needs podman (the libpod_db fuzz target and one hostile-input test build
# real stores) and a tmpfs at /dev/shm (sparse files past 2^64 bytes).
# Logs: target/reliability/*.log. Exit status: 0 when every suite passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export FUZZ_CASES=${FUZZ_CASES:-200000}
logs=target/reliability
mkdir -p "$logs"
failed=()

run() { # name, command...
  local name=$1; shift
  echo "== $name: $*" >&2
  if ! "$@" > "$logs/$name.log" 2>&1; then
    failed+=("$name")
    echo "   FAILED (see $logs/$name.log)" >&2
  fi
}

run fuzz fuzz/run.sh
run reliability cargo test --test it faults:: -- --include-ignored --nocapture --test-threads 2
run stress cargo test --test it prune_stress:: -- --nocapture --test-threads 2
run kill cargo test --test it caches::sigkill -- --nocapture

# Figures, read from the suites' own summary lines.
first_num() { grep -oE '[0-9]+' | head -1; }
sum_field() { # regex, field-extracting sed
  grep -oE "$1" "$2" | sed -E "$3" | awk '{ s += $1 } END { print s + 0 }'
}
fuzz_rows=$(awk '/^TARGET/ { on = 1; next } on && NF == 3 && $1 != "total" { print }' "$logs/fuzz.log")
fuzz_total=$(awk '/^total/ { print $2 }' "$logs/fuzz.log")
fuzz_findings=$(awk '/^total/ { print $3 }' "$logs/fuzz.log")
faults=$(sum_field 'faults [a-z_-]+: [0-9]+ injected' "$logs/reliability.log" 's/.*: ([0-9]+) injected/\1/')
outcome() { # complete|partial|refused
  sum_field "faults [a-z_-]+: [0-9]+ injected: .*[0-9]+ $1" "$logs/reliability.log" "s/.* ([0-9]+) $1.*/\\1/"
}
complete=$(outcome complete); partial=$(outcome partial); refused=$(outcome refused)
exact=$(sum_field 'faults [a-z_-]+: [0-9]+ injected: [0-9]+ read exactly' "$logs/reliability.log" 's/.*: ([0-9]+) read exactly.*/\1/')
unmeasured=$(sum_field '[0-9]+ reported unmeasured' "$logs/reliability.log" 's/([0-9]+) reported unmeasured/\1/')
hostile=$(sum_field 'hostile [a-z-]+: [0-9]+' "$logs/reliability.log" 's/.*: ([0-9]+)/\1/')
hostile_lines=$(grep -oE 'hostile [a-z-]+: .*' "$logs/reliability.log")
escapes=$(echo "$hostile_lines" | grep -cE 'control characters on the terminal [1-9]|escapes [1-9]|canary counted [1-9]|wrapped figures [1-9]')
stress_lines=$(grep -oE 'stress [a-z-]+: .*' "$logs/stress.log")
kill_orphans=$(echo "$stress_lines" | grep kill-orphans | first_num)
kill_lru=$(echo "$stress_lines" | grep kill-lru | first_num)
kill_whole=$(grep -oE '[0-9]+ intact, [0-9]+ pruned' "$logs/kill.log" | awk '{ print $1 + $3 }')
writers=$(echo "$stress_lines" | grep 'stress writers' | first_num)
races=$(echo "$stress_lines" | grep 'two-prunes' | first_num)
toctou=$(echo "$stress_lines" | grep toctou | sed -E 's/.*: ([0-9]+) .*/\1/' | awk '{ s += $1 } END { print s + 0 }')
lost=$(echo "$stress_lines" | grep 'stress writers' | sed -E 's/.*after the swap [0-9]+ \(lost ([0-9]+)\).*/\1/')
after=$(echo "$stress_lines" | grep 'stress writers' | sed -E 's/.*after the swap ([0-9]+) .*/\1/')
broken=$(echo "$stress_lines" | grep -oE '(broken|double-counted) [0-9]+' | awk '{ s += $2 } END { print s + 0 }')
canary=$(echo "$stress_lines" | grep -c 'canary intact')

echo
echo "| figure | value |"
echo "|---|---|"
echo "$fuzz_rows" | while read -r target inputs findings; do
  echo "| fuzz \`$target\`: inputs / findings | $inputs / $findings |"
done
echo "| fuzz total: inputs / findings now | ${fuzz_total:-?} / ${fuzz_findings:-?} |"
echo "| faults injected: complete (exit 0) / partial, the rest reported (exit 1) / refused, one line naming the command (exit 2); odd volume sizes read exactly / reported unmeasured | ${faults}: ${complete} / ${partial} / ${refused}; ${exact} / ${unmeasured} |"
echo "| hostile-input runs (names, labels, errors, config ids, trees, vanishing files, sparse files) / control characters or canary bytes leaked | ${hostile} / ${escapes} |"
echo "| prune kill loops (SIGKILL at random points: whole, --orphans, --max-size) | $(( ${kill_whole:-0} + ${kill_orphans:-0} + ${kill_lru:-0} )) kills (${kill_whole:-?} + ${kill_orphans:-?} + ${kill_lru:-?}) |"
echo "| stress loops: prunes under writers / two-prune races / symlink-swap prunes | ${writers:-?} / ${races:-?} / ${toctou} |"
echo "| blobs written after the swap / lost | ${after:-?} / ${lost:-?} |"
echo "| layouts broken, LRU order broken, bytes double-counted | ${broken} |"
echo "| canary outside the cache touched | $(( 3 - canary )) of 3 suites |"
echo
echo "$hostile_lines" | sed 's/^/  /'
echo "$stress_lines" | sed 's/^/  /'
grep -oE '[0-9]+ intact, [0-9]+ pruned, [0-9]+ left an aside' "$logs/kill.log" | sed 's/^/  stress kill-whole (tests\/caches.rs): /'
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
