#!/usr/bin/env bash
# Runs the convergence simulator over many seeds, spread over the step ladder
# (6, 40, 300, 1,000, 5,000, 30,000 steps). A failure prints the seed and the
# command that replays it; add that seed to regressions_test.go.
#   fuzz/run-seeds.sh 100000          # 100,000 seeds starting at 1
#   fuzz/run-seeds.sh 5000 200001     # 5,000 seeds starting at 200,001
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-10000}
first=${2:-1}
exec go test -count=1 -timeout 0 -run 'TestConvergenceLadder' ./fuzz -seeds="$seeds" -first-seed="$first" -v
