#!/usr/bin/env bash
# Short benchmark runs against each database, for CI: an on-sale rush, a checkout run and a
# gate run, asserting only correctness (nothing oversold, no counter drift, no errors, every
# order paid once with one ticket per unit, no ticket admitted twice, no wrong scan answer),
# never throughput; then Kisum's access gate (no stale allow, no wrong answer).
#   crates/bench/smoke.sh TARGET_DIR [POSTGRES_ADMIN_URL]   (default: $NEXTKT_TEST_DATABASE_URL)
#   scripts/test --run bash crates/bench/smoke.sh TARGET_DIR   (finds or starts PostgreSQL first)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$1/debug
PG_ADMIN=${2:-${NEXTKT_TEST_DATABASE_URL:?give a PostgreSQL admin URL or set NEXTKT_TEST_DATABASE_URL}}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=18790
URL=http://127.0.0.1:$PORT

check() {
  python3 - "$1" "$2" <<'PY'
import json, sys
label, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
bad = {k: r[k] for k in ("oversold", "duplicate_claims", "drift", "errors") if r[k] != 0}
if bad or r["units_held"] > r["capacity"] or r["holds_ok"] == 0:
    sys.exit(f"{label}: invariant broken or nothing held: {line}")
print(f"{label}: ok ({r['holds_ok']} holds, {r['sold_out']} sold out, p99 {r['p99_ms']} ms)")
PY
}

for db in sqlite postgres; do
  case $db in
    sqlite) url="sqlite://$WORK/smoke.db" ;;
    postgres)
      PGOPTIONS="--client-min-messages=warning" psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS nextkt_smoke" -c "CREATE DATABASE nextkt_smoke" >/dev/null
      url="${PG_ADMIN%/*}/nextkt_smoke" ;;
  esac
  NEXTKT_LOG=warn "$BIN/nextkt" serve --listen "127.0.0.1:$PORT" --database-url "$url" --auth-rate-per-ip 10000 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
  line=$("$BIN/nextkt-bench" onsale --url "$URL" --setup --capacity 300 --buyers 50 --rate 400 \
    --duration 3 --max-per-order 3 --abandon-share 0.2 2>/dev/null | tail -n1)
  check "$db" "$line"
  line=$("$BIN/nextkt-bench" checkout --url "$URL" --setup --rate 20 --duration 3 --late-share 0 2>/dev/null | tail -n1)
  python3 - "$db" "$line" <<'PY'
import json, sys
label, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
if r["duplicate_tickets"] or r["double_charged"] or r["errors"] or r["orders_paid"] != r["buyers"]:
    sys.exit(f"{label} checkout: {line}")
print(f"{label} checkout: ok ({r['orders_paid']} orders paid, {r['tickets_issued']} tickets)")
PY
  line=$("$BIN/nextkt-bench" gate --url "$URL" --setup --tickets 3000 --gates 3 --rate 300 --duration 3 2>/dev/null | tail -n1)
  python3 - "$db" "$line" <<'PY'
import json, sys
label, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
if r["double_admits"] or r["wrong_answers"] or r["errors"] or r["tickets_scanned"] == 0:
    sys.exit(f"{label} gate: {line}")
print(f"{label} gate: ok ({r['scans']} scans, {r['tickets_scanned']} tickets, p99 {r['p99_ms']} ms)")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
  "$BIN/nextkt" audit --database-url "$url" >/dev/null
done

# Kisum: members reading finance while an addon is canceled and a grant revoked midway.
KEY=kisum-smoke-internal-key-0123
KPORT=18791
for db in sqlite postgres; do
  case $db in
    sqlite) url="sqlite://$WORK/kisum-smoke.db" ;;
    postgres)
      PGOPTIONS="--client-min-messages=warning" psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS kisum_smoke" -c "CREATE DATABASE kisum_smoke" >/dev/null
      url="${PG_ADMIN%/*}/kisum_smoke" ;;
  esac
  KISUM_LOG=warn KISUM_INTERNAL_API_KEY=$KEY "$BIN/kisum" serve --listen "127.0.0.1:$KPORT" \
    --database-url "$url" --auth-rate-per-ip 100000 --mail-dir "$WORK/mail" &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$KPORT/healthz" >/dev/null && break; sleep 0.1; done
  line=$("$BIN/nextkt-bench" kisum-access --url "http://127.0.0.1:$KPORT" --setup --internal-key "$KEY" \
    --companies 4 --members 3 --rate 200 --duration 3 2>/dev/null | tail -n1)
  python3 - "$db" "$line" <<'PY'
import json, sys
label, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
if r["stale_allows"] or r["wrong_answers"] or r["errors"] or r["allowed"] == 0 or r["denied"] == 0:
    sys.exit(f"{label} kisum-access: {line}")
print(f"{label} kisum-access: ok ({r['allowed']} allowed, {r['denied']} denied, p99 {r['p99_ms']} ms)")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
