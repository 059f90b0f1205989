#!/usr/bin/env bash
# User-space instructions per HTTP request in the demo server, counted by
# valgrind's callgrind: the server's own share of what benches/load.sh
# measures, in a unit that does not move with the machine's load (the
# kernel's share, about two thirds of the server's CPU on loopback, is not
# counted). One keep-alive connection sends N requests to each of:
#
#   GET /health                  no auth layer
#   GET /health + the token      same request size as the next one
#   GET /protected/ping + token  the auth layer, the token repeated (cached)
#
#   benches/http_instructions.sh             # HS256, N=2000
#   N=5000 JWT_ALGORITHM=ES256 benches/http_instructions.sh
#
# Needs valgrind, curl and python3.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-2000}
PORT=${PORT:-3919}
ALG=${JWT_ALGORITHM:-HS256}
BASE="http://127.0.0.1:${PORT}"
OUT=$(mktemp -d)

for tool in valgrind callgrind_control curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

cargo build --release --example demo >&2

# shellcheck source=benches/demo_env.sh
source benches/demo_env.sh
demo_server_env "$PORT" "$ALG" TOKIO_WORKER_THREADS=1

env "${server_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
  target/release/examples/demo 2>"$OUT/valgrind.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; rm -rf "$OUT"' EXIT

# Readiness: poll /health (slow under valgrind).
for _ in $(seq 1 300); do
  curl -fsS "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the demo exited" >&2; cat "$OUT/valgrind.log" >&2; exit 1; }
  sleep 0.2
done
TOKEN=$(curl -fsS -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d '{"username":"alice","password":"alice-password"}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# N sequential requests on one keep-alive connection; fails on any non-200.
send() {
  python3 - "$PORT" "$1" "$2" "${3:-}" <<'PY'
import http.client, sys
port, path, n, token = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
headers = {"Authorization": "Bearer " + token} if token else {}
conn = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
PY
}

# Warm-up: the verified-token cache learns the token.
send /health 100 "$TOKEN"
send /protected/ping 100 "$TOKEN"

# Zero the counters, send N requests, dump: the dump holds exactly them.
measure() {
  local label=$1; shift
  callgrind_control -z "$SERVER" >/dev/null 2>&1
  send "$@"
  callgrind_control -d "$SERVER" >/dev/null 2>&1
  local dump total
  dump=$(ls -t "$OUT"/callgrind.out.* | head -1)
  total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
  printf '%-30s %8d\n' "$label" $((total / N))
}

echo "demo $ALG, $N requests each, one keep-alive connection: user-space instructions per request"
measure "/health" /health "$N"
measure "/health + token" /health "$N" "$TOKEN"
measure "/protected/ping + token" /protected/ping "$N" "$TOKEN"
