#!/usr/bin/env bash
# The gate benchmark as recorded in docs/benchmarks.md: for each database, three runs at the
# target rate (2,000 scans/s over 4 gates, 10 s), one at 3,000 scans/s to show the headroom,
# and one where the server is killed with SIGKILL 3 s into the scanning and restarted 1 s
# later (scans in flight then fail; none may be admitted twice or answered wrongly). Every run starts a fresh server on a fresh database; the setup (organizations,
# 10 tickets per planned scan, check-in list, paired devices) goes through the public API.
# Prints one JSON line per run (the benchmark's last line, plus the run's label).
#
#   crates/bench/gate-suite.sh [sqlite|postgres ...]
#
# Needs release builds (cargo build --release) and, for postgres, a server reachable at
# $NEXTKT_BENCH_PG_ADMIN (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
NEXTKT=$TARGET/release/nextkt
BENCH=$TARGET/release/nextkt-bench
PORT=${NEXTKT_BENCH_PORT:-8791}
URL=http://127.0.0.1:$PORT
PG_ADMIN=${NEXTKT_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
SERVER_PID=
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

fresh_database() {
  case $1 in
    sqlite) rm -f "$WORK"/gate.db*; echo "sqlite://$WORK/gate.db" ;;
    postgres)
      PGOPTIONS="--client-min-messages=warning" psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS nextkt_gate_bench" -c "CREATE DATABASE nextkt_gate_bench" >/dev/null
      echo "${PG_ADMIN%/*}/nextkt_gate_bench" ;;
    *) echo "unknown database $1" >&2; exit 2 ;;
  esac
}

start_server() {
  NEXTKT_LOG=warn "$NEXTKT" serve --listen "127.0.0.1:$PORT" --database-url "$1" \
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
  for run in 2000-1 2000-2 2000-3 3000-1; do
    rate=${run%-*}
    start_server "$(fresh_database "$db")"
    "$BENCH" gate --url "$URL" --setup --tickets $((rate * 10)) --gates 4 --rate "$rate" --duration 10 \
      2>/dev/null | tail -n1 | label "$db-$run"
    stop_server
  done
  url=$(fresh_database "$db")
  start_server "$url"
  "$BENCH" gate --url "$URL" --setup --tickets 20000 --gates 4 --rate 2000 --duration 10 \
    2>"$WORK/kill.err" >"$WORK/kill.out" &
  bench_pid=$!
  # Kill once the scanning has run for 3 s (the setup comes first).
  until grep -q "^gate:" "$WORK/kill.err" 2>/dev/null; do sleep 0.1; done
  sleep 3; kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  sleep 1; start_server "$url"
  wait "$bench_pid" || true
  tail -n1 "$WORK/kill.out" | label "$db-sigkill"
  stop_server
done
