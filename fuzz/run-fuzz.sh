#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for a given time each and
# reports executions and findings. Usage: fuzz/run-fuzz.sh [fuzztime [target-regexp]]
#   fuzz/run-fuzz.sh 10s     # CI budget
#   fuzz/run-fuzz.sh 10m     # a real campaign
#   fuzz/run-fuzz.sh 20m 'Text'   # only the targets whose name matches
# A finding is written by `go test` under the package's testdata/fuzz/ and
# makes this script exit non-zero; commit it as a regression input.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
only=${2:-}
status=0
findings=0
summary=()
while IFS= read -r line; do
  file=${line%%:*}
  target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  if [ -n "$only" ] && ! grep -qE -- "$only" <<<"$target"; then
    continue
  fi
  echo "-- $target in $pkg for $fuzztime"
  out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" 2>&1)
  rc=$?
  # The last status line's counts (go test prints one every 3 s and a final
  # one when -fuzztime ends; a short run may print only the first).
  execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 | grep -oE '[0-9]+')
  interesting=$(grep -oE 'new interesting: [0-9]+' <<<"$out" | tail -1 | grep -oE '[0-9]+')
  finding=$(grep -oE 'Failing input written to [^ ]+' <<<"$out" | tail -1 | sed 's/Failing input written to //')
  stats="${execs:-?} execs, ${interesting:-0} new corpus entries"
  if [ $rc -ne 0 ] && grep -q 'context deadline exceeded' <<<"$out" \
      && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$out"; then
    # Go 1.26's fuzz coordinator can report "context deadline exceeded" when
    # -fuzztime expires while a worker is busy (golang/go#75804, fixed in
    # Go 1.27). A real finding always writes a failing input; this did not.
    summary+=("$target ($pkg): ok, $stats (ignored the fuzztime deadline race, golang/go#75804)")
  elif [ $rc -ne 0 ]; then
    status=1
    echo "$out" | tail -30
    findings=$((findings + 1))
    summary+=("$target ($pkg): FAILED after $stats${finding:+; failing input: $pkg/$finding}")
  else
    summary+=("$target ($pkg): ok, $stats")
  fi
done < <(grep -rnE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . | sed -E 's/^\.\///; s/:[0-9]+:/:/')
echo "== fuzz summary: ${#summary[@]} targets, $findings findings"
printf '%s\n' "${summary[@]}"
exit $status
