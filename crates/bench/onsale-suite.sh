#!/usr/bin/env bash
# The on-sale benchmark as recorded in docs/benchmarks.md: for each database, three runs of
# the batched path, three of the naive baseline, and one run where the server is killed
# with SIGKILL mid-burst and restarted. Every run starts a fresh server on a fresh database.
# Prints one JSON line per run (the benchmark's last line, plus the run's label).
#
#   crates/bench/onsale-suite.sh [sqlite|postgres ...]
#
# Needs release builds (cargo build --release) and, for postgres, a server reachable at
# $NEXTKT_BENCH_PG_ADMIN (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
NEXTKT=$TARGET/release/nextkt
BENCH=$TARGET/release/nextkt-bench
PORT=${NEXTKT_BENCH_PORT:-8790}
URL=http://127.0.0.1:$PORT
PG_ADMIN=${NEXTKT_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}
PG_BENCH=${PG_ADMIN%/*}/nextkt_bench
WORK=$(mktemp -d)
ARGS=(--capacity 10000 --buyers 1000 --rate 5000 --duration 10)
SERVER_PID=

fresh_database() {
  case $1 in
    sqlite) rm -f "$WORK"/bench.db*; echo "sqlite://$WORK/bench.db" ;;
    postgres)
      PGOPTIONS="--client-min-messages=warning" psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS nextkt_bench" -c "CREATE DATABASE nextkt_bench" >/dev/null
      echo "$PG_BENCH" ;;
  esac
}

start_server() {
  "$NEXTKT" serve --listen "127.0.0.1:$PORT" --database-url "$1" --enable-baseline-reservations \
    --auth-rate-per-ip 100000 >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited (port $PORT taken?)" >&2; exit 1; }
    curl -sf "$URL/healthz" >/dev/null && return
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}

stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

label() { sed "s/^{/{\"run\":\"$1\",/"; }

dbs=("$@")
[ ${#dbs[@]} -eq 0 ] && dbs=(sqlite postgres)
for db in "${dbs[@]}"; do
  for path in batched baseline; do
    for run in 1 2 3; do
      url=$(fresh_database "$db")
      start_server "$url"
      extra=(); [ "$path" = baseline ] && extra=(--baseline)
      "$BENCH" onsale --url "$URL" --setup "${ARGS[@]}" "${extra[@]}" 2>/dev/null | tail -n1 | label "$db-$path-$run"
      stop_server
    done
  done
  # Killed mid-burst: SIGKILL 1 s in (while tickets are still selling), restart 1 s later on the same database; the benchmark
  # keeps sending, then audits through the restarted server; nextkt audit checks offline.
  url=$(fresh_database "$db")
  start_server "$url"
  "$BENCH" onsale --url "$URL" --setup "${ARGS[@]}" 2>/dev/null >"$WORK/kill.out" &
  bench_pid=$!
  sleep 1; kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  sleep 1; start_server "$url"
  wait "$bench_pid" || true
  tail -n1 "$WORK/kill.out" | label "$db-sigkill"
  stop_server
  "$NEXTKT" audit --database-url "$url" | tail -n1 | label "$db-sigkill-offline-audit"
done
rm -rf "$WORK"
