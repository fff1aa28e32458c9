#!/usr/bin/env bash
# The fault-injection campaign for as long as asked (see fuzz/faults/README.md):
#   fuzz/faults/run.sh 30m           # the full campaign: shared mix, no schedule constraint,
#                                    # strict deletion checks, convergence ≤ 5 s (faultcases tag)
#   fuzz/faults/run.sh 10m --ci      # the CI campaign's mix and constraints (disjoint edits),
#                                    # on all four scenarios (TestCampaign, TestCampaignClusters)
# Every round runs the four scenarios (bolt, postgres, cluster3, regions2) for
# FLOWSYNC_FAULTS_DURATION each (default 60s) with a new seed, until the time is spent.
# Prints every round's summary lines, then the totals; exits 1 if any round failed. The whole
# output of a failed round is kept in FLOWSYNC_FAULTS_OUT (default: a new temporary directory).
# Replay a round: FLOWSYNC_SEED=<seed> go test [-tags faultcases] -run 'TestCampaignFull/<scenario>' ./fuzz/faults
set -euo pipefail
cd "$(dirname "$0")/../.."
budget=${1:-30m}
mode=${2:-full}
case "$budget" in
  *h) secs=$(( ${budget%h} * 3600 )) ;;
  *m) secs=$(( ${budget%m} * 60 )) ;;
  *s) secs=${budget%s} ;;
  *) echo "usage: $0 <duration: 30m, 2h, 90s> [--ci]" >&2; exit 2 ;;
esac
tags=(-tags faultcases)
run=TestCampaignFull
if [ "$mode" = "--ci" ]; then
  run='TestCampaign$|TestCampaignClusters'
fi
export FLOWSYNC_FAULTS_DURATION=${FLOWSYNC_FAULTS_DURATION:-60s}
# shellcheck source=../../storage/postgres/testdb.sh
source storage/postgres/testdb.sh
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c "${tags[@]}" -o "$bin/faults.test" ./fuzz/faults
log="$bin/rounds.log"
out=${FLOWSYNC_FAULTS_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/flowsync-faults.XXXXXX")}
mkdir -p "$out"
: >"$log"
start=$(date +%s)
round=0
failed=0
while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
  round=$((round + 1))
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  echo "== round $round, seed $seed"
  if ! (cd fuzz/faults && FLOWSYNC_SEED=$seed "$bin/faults.test" -test.run "$run" -test.count 1 -test.timeout 2h -test.v) >"$bin/round.out" 2>&1; then
    failed=$((failed + 1))
    keep="$out/round-$round-seed-$seed.log"
    cp "$bin/round.out" "$keep"
    grep -E '^\s+--- FAIL|: (durable-acked edit lost|edit never stored|replicas diverge|honest edit refused|deletion|editor stuck|converged)' "$bin/round.out" | head -40 || true
    echo "   (whole output: $keep)"
  fi
  grep -oE 'faults: scenario=.*' "$bin/round.out" | tee -a "$log" || true
done
echo "== $round rounds in $(( $(date +%s) - start )) s, $failed failed"
awk '{
  for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  n++; ops += v["ops"]; acked += v["durable-acked"]; lost += v["lost"]; unstored += v["unstored"]
  div += v["divergent"]; ref += v["refused"]; del += v["deletion-problems"]; stuck += v["stuck"]
  kills += v["kills"]; cuts += v["cuts"]
  c = v["convergence"]; s = c + 0
  if (c ~ /ms$/) s = s / 1000; else if (c ~ /µs$/) s = s / 1e6; else if (c ~ /m[0-9]/) { split(c, mm, "m"); s = mm[1] * 60 + mm[2] }
  if (s > maxc) maxc = s
} END {
  printf "faults totals: runs=%d kills=%d cuts=%d ops=%d durable-acked=%d lost=%d unstored=%d divergent=%d refused=%d deletion-problems=%d stuck=%d max-convergence=%.3fs\n",
    n, kills, cuts, ops, acked, lost, unstored, div, ref, del, stuck, maxc
}' "$log"
[ "$failed" -eq 0 ]
