#!/usr/bin/env bash
# Runs every load-generator figure of BENCHMARKS.md ("Load generator"), one
# command per figure, into benchmarks/results/<scenario>/ (results.json,
# results.md and the PNG charts). Each command is also listed in
# BENCHMARKS.md; run one alone to reproduce one figure.
#   benchmarks/run-all.sh                       # every scenario at the goal sizes
#   benchmarks/run-all.sh many-rooms idle       # only these
# Needs Postgres (FLOWSYNC_POSTGRES_URL, default below; the database is
# created if missing) and ~25 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${FLOWSYNC_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/flowsync_bench?sslmode=disable}
out=benchmarks/results
bin=$(mktemp -d)/flowsync-bench
go build -o "$bin" ./cmd/flowsync-bench
all=(many-rooms many-rooms-rate5 hot-room drag-storm typing structural reconnect-storm reconnect-restart large-join idle search search-hot)
selected=("${@:-${all[@]}}")
T=flowsync,baseline,relay
for s in "${selected[@]}"; do
  echo "== $s ($(date -u +%H:%M:%S), load average $(cut -d' ' -f1-3 /proc/loadavg))"
  case $s in
    many-rooms)      "$bin" run --target $T --scenario many-rooms --clients 1000 --rooms 100 --rate 20 --duration 30s --postgres-url "$pg" --out $out/many-rooms ;;
    many-rooms-rate5) "$bin" run --target $T --scenario many-rooms --clients 1000 --rooms 100 --rate 5 --duration 30s --postgres-url "$pg" --out $out/many-rooms-rate5 ;;
    hot-room)        "$bin" run --target $T --scenario hot-room --clients 100 --rate 5 --duration 30s --postgres-url "$pg" --out $out/hot-room ;;
    drag-storm)      "$bin" run --target $T --scenario drag-storm --clients 200 --rooms 20 --rate 30 --duration 30s --postgres-url "$pg" --out $out/drag-storm ;;
    typing)          "$bin" run --target $T --scenario typing --clients 200 --rooms 50 --rate 8 --duration 30s --postgres-url "$pg" --out $out/typing ;;
    structural)      "$bin" run --target $T --scenario structural --clients 100 --rooms 10 --rate 5 --duration 30s --mix position=20,subblock=20,structural=60 --postgres-url "$pg" --out $out/structural ;;
    reconnect-storm) "$bin" run --target $T --scenario reconnect-storm --clients 2000 --rooms 200 --rate 1 --warmup 5s --postgres-url "$pg" --out $out/reconnect-storm ;;
    reconnect-restart) "$bin" run --target $T --scenario reconnect-storm --storm restart --clients 2000 --rooms 200 --rate 1 --warmup 5s --postgres-url "$pg" --out $out/reconnect-restart ;;
    large-join)      "$bin" run --target $T --scenario large-join --clients 20 --doc-blocks 10000 --postgres-url "$pg" --out $out/large-join ;;
    idle)            "$bin" run --target $T --scenario idle --clients 10000 --rooms 1000 --hold 10s --postgres-url "$pg" --out $out/idle ;;
    search)          "$bin" search --target flowsync,baseline --clients 20 --rooms 10 --start 250 --factor 1.5 --step 5s --bound 100ms --postgres-url "$pg" --out $out/search ;;
    search-hot)      "$bin" search --target flowsync,baseline --clients 20 --rooms 1 --start 250 --factor 1.5 --step 5s --bound 100ms --postgres-url "$pg" --out $out/search-hot ;;
    *) echo "unknown scenario $s (want: ${all[*]})" >&2; exit 2 ;;
  esac
done
