#!/usr/bin/env bash
# Load harness: the demo (release build) on loopback under wrk, alternating
# GET /health (no auth layer) and GET /protected/ping (auth layer, one token
# from POST /auth/login reused for every request) for several rounds. Prints
# requests/s of each, their ratio, and the server's CPU time per request
# (user + system, from /proc), which matters because wrk shares the machine.
#
#   benches/load.sh                       # HS256
#   JWT_ALGORITHM=ES256 benches/load.sh   # ES256, keys from benches/keys/
#   TOKENS=16000 JWT_ALGORITHM=ES256 benches/load.sh   # 16 000 clients
#
# Settings (environment): ROUNDS (3), DURATION (5s), CONNECTIONS (32),
# THREADS (1, wrk's), PORT (3917), PIN (1: server on CPU 0, wrk on CPU 1
# when there are two or more CPUs; 0: no pinning), JWT_ALGORITHM (HS256,
# RS256, ES256, EdDSA), SAME_HEADERS (1: send the token to /health too, so
# both requests have the same size and only the layer differs; default 0),
# DEMO (a demo binary to run instead of building this checkout's, e.g. an
# older build kept for comparison), TOKENS (unset: one token from
# POST /auth/login reused by every request; N: N distinct tokens from N
# logins, and every request, to /health too, carries the next of them in
# turn (wrk with benches/tokens.lua), so the verified-token cache sees N
# clients; SAME_HEADERS does not apply).
# The demo uses its in-memory revocation store.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
PORT=${PORT:-3917}
PIN=${PIN:-1}
SAME_HEADERS=${SAME_HEADERS:-0}
TOKENS=${TOKENS:-}
ALG=${JWT_ALGORITHM:-HS256}
BASE="http://127.0.0.1:${PORT}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install -y curl" >&2; exit 1; }

if [[ -z "${DEMO:-}" ]]; then
  cargo build --release --example demo >&2
  DEMO=target/release/examples/demo
fi

# shellcheck source=benches/demo_env.sh
source benches/demo_env.sh
demo_server_env "$PORT" "$ALG"

server_pin=() wrk_pin=()
if [[ "$PIN" == 1 && $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  server_pin=(taskset -c 0) wrk_pin=(taskset -c 1)
fi

env "${server_env[@]}" "${server_pin[@]}" "$DEMO" &
SERVER=$!
WORK=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Readiness: poll /health until it answers (the server has no other signal).
for _ in $(seq 1 100); do
  curl -fsS "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the demo exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$BASE/health" >/dev/null

TOKEN=$(curl -fsS -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d '{"username":"alice","password":"alice-password"}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/protected/ping")
[[ "$status" == 200 ]] || { echo "the token from /auth/login was refused ($status)" >&2; exit 1; }

# Distinct-token mode: N logins in one curl process (one keep-alive
# connection), one access token a line.
protected_args=(-H "Authorization: Bearer $TOKEN")
if [[ -n "$TOKENS" ]]; then
  [[ "$TOKENS" =~ ^[1-9][0-9]*$ ]] || { echo "TOKENS must be a positive number" >&2; exit 2; }
  export TOKENS_FILE="$WORK/tokens"
  for _ in $(seq 1 "$TOKENS"); do printf 'url = "%s/auth/login"\n' "$BASE"; done >"$WORK/logins"
  curl -fsS -K "$WORK/logins" -X POST -H 'content-type: application/json' \
    -d '{"username":"alice","password":"alice-password"}' -w '\n' |
    sed -nE 's/.*"access_token":"([^"]+)".*/\1/p' >"$TOKENS_FILE"
  got=$(sort -u "$TOKENS_FILE" | wc -l)
  [[ "$got" == "$TOKENS" ]] || { echo "got $got distinct tokens of $TOKENS" >&2; exit 1; }
  protected_args=(-s benches/tokens.lua)
  echo "$TOKENS distinct tokens of $(head -n1 "$TOKENS_FILE" | tr -d '\n' | wc -c) bytes from /auth/login" >&2
fi

CLK_TCK=$(getconf CLK_TCK)
# Server CPU ticks (utime + stime) so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER/stat"; }

# One wrk run; prints "<req/s> <server µs CPU per request>".
run() {
  local url=$1; shift
  local before after out requests rps
  before=$(cpu_ticks)
  out=$("${wrk_pin[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url")
  after=$(cpu_ticks)
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "non-2xx answers from $url:" >&2; echo "$out" >&2; exit 1
  fi
  awk -v r="$rps" -v n="$requests" -v t=$((after - before)) -v hz="$CLK_TCK" \
    'BEGIN { printf "%.0f %.1f\n", r, (t / hz) * 1e6 / n }'
}

health_args=()
[[ "$SAME_HEADERS" == 1 ]] && health_args=(-H "Authorization: Bearer $TOKEN")
[[ -n "$TOKENS" ]] && health_args=(-s benches/tokens.lua)
mode=""
[[ "$SAME_HEADERS" == 1 ]] && mode=", token sent to /health too"
[[ -n "$TOKENS" ]] && mode=", $TOKENS distinct tokens in turn, to /health too"
echo "demo $ALG on $BASE: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds${server_pin:+, server on CPU 0, wrk on CPU 1}$mode"
printf '%-6s %14s %14s %8s %16s %16s\n' round health_rps protected_rps ratio health_cpu_us protected_cpu_us
# Warm-up, not counted.
run "$BASE/health" "${health_args[@]}" >/dev/null
run "$BASE/protected/ping" "${protected_args[@]}" >/dev/null
# With many tokens, also one pass over all of them in one curl process,
# however long it takes (each is verified in full the first time), so no
# round pays for that; every one must be accepted.
if [[ -n "$TOKENS" ]]; then
  rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status"; }
  rss_before=$(rss_kib)
  awk -v url="$BASE/protected/ping" '{ if (NR > 1) print "next"
    printf "url = \"%s\"\nheader = \"Authorization: Bearer %s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", url, $0 }' \
    "$TOKENS_FILE" >"$WORK/pass"
  accepted=$(curl -sS -K "$WORK/pass" | grep -c '^200$' || true)
  [[ "$accepted" == "$TOKENS" ]] || { echo "only $accepted of the $TOKENS tokens were accepted" >&2; exit 1; }
  # Mostly the verified-token cache's new entries (the sessions were
  # stored by the logins before); the allocator's overhead included.
  awk -v a="$rss_before" -v b="$(rss_kib)" -v n="$TOKENS" \
    'BEGIN { printf "server RSS %.1f -> %.1f MiB over the first pass: %.0f bytes per token\n", a / 1024, b / 1024, (b - a) * 1024 / n }' >&2
fi
sum_h=0 sum_p=0 sum_ch=0 sum_cp=0 ratios=()
for round in $(seq 1 "$ROUNDS"); do
  read -r h ch < <(run "$BASE/health" "${health_args[@]}")
  read -r p cp < <(run "$BASE/protected/ping" "${protected_args[@]}")
  ratio=$(awk -v p="$p" -v h="$h" 'BEGIN { printf "%.3f", p / h }')
  ratios+=("$ratio")
  printf '%-6s %14s %14s %8s %16s %16s\n' "$round" "$h" "$p" "$ratio" "$ch" "$cp"
  sum_h=$(awk -v a="$sum_h" -v b="$h" 'BEGIN { print a + b }')
  sum_p=$(awk -v a="$sum_p" -v b="$p" 'BEGIN { print a + b }')
  sum_ch=$(awk -v a="$sum_ch" -v b="$ch" 'BEGIN { print a + b }')
  sum_cp=$(awk -v a="$sum_cp" -v b="$cp" 'BEGIN { print a + b }')
done
awk -v h="$sum_h" -v p="$sum_p" -v ch="$sum_ch" -v cp="$sum_cp" -v n="$ROUNDS" \
  'BEGIN { printf "%-6s %14.0f %14.0f %8.3f %16.1f %16.1f\n", "mean", h / n, p / n, p / h, ch / n, cp / n
          printf "server CPU per request, health / protected: %.3f (the throughput ratio when the server is CPU-bound)\n", ch / cp }'
# Each round's two runs are back to back, so the per-round ratio is the
# steadiest req/s figure on a shared machine; its median ignores a round that
# another process disturbed.
printf '%s\n' "${ratios[@]}" | sort -n |
  awk '{ r[NR] = $1 } END { m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
                            printf "median of the per-round req/s ratios: %.3f\n", m }'
