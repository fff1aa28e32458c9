#!/usr/bin/env bash
# Longer crash and outage runs than CI's (10 kills):
#   cmd/flowsync/crash.sh [cycles] [runs]
# Each run picks a new seed (printed); replay one with FLOWSYNC_SEED=<seed>.
# Needs Postgres: FLOWSYNC_TEST_POSTGRES_URL, the local default, or initdb
# (storage/postgres/testdb.sh finds or starts one).
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=${1:-100}
runs=${2:-1}
# shellcheck source=../../storage/postgres/testdb.sh
source storage/postgres/testdb.sh
for ((i = 1; i <= runs; i++)); do
  echo "== run $i/$runs: $cycles kills"
  FLOWSYNC_CRASH_CYCLES=$cycles go test -count=1 -timeout 60m -v ./cmd/flowsync/crashtest |
    grep -E '^(---|ok|FAIL|PASS)|seed|kills|outage|converged|rows|lost'
done
