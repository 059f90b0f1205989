#!/usr/bin/env bash
# Forward-auth under load: requests/s through nginx with auth_request to
# examples/forward_auth.rs (release build) against nginx alone, in the same
# run, alternating for several rounds. One nginx (one worker) serves three
# loopback ports: an upstream that answers 200 itself, a plain proxy to it,
# and the same proxy behind auth_request (the configuration of
# docs/behind-a-proxy.md). Every request carries the same HS256 token.
# Prints requests/s of each, their ratio, and the service's CPU time per
# request (user + system, from /proc), steadier than requests/s on a
# shared machine.
#
#   benches/forward_auth/run.sh
#
# Settings (environment): ROUNDS (3), DURATION (5s), CONNECTIONS (32),
# THREADS (1, wrk's), FORWARD_AUTH (a binary to run instead of building
# this checkout's). Needs wrk and nginx (apt-get install -y wrk nginx-light).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[[ -x "$NGINX" ]] || { echo "nginx is missing: apt-get install -y nginx-light" >&2; exit 1; }

if [[ -z "${FORWARD_AUTH:-}" ]]; then
  cargo build --release --example forward_auth --features full >&2
  FORWARD_AUTH=${CARGO_TARGET_DIR:-target}/release/examples/forward_auth
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AUTH=$(free_port) UPSTREAM=$(free_port) PLAIN=$(free_port) GUARDED=$(free_port)
SECRET="the forward-auth bench secret, 32+ bytes"
WORK=$(mktemp -d)

# An HS256 token for `alice`, valid for an hour (Python's standard library only).
TOKEN=$(SECRET="$SECRET" python3 - <<'EOF'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"iss": "https://bench.test", "aud": "api", "sub": "alice",
    "exp": int(time.time()) + 3600, "jti": "bench", "scope": "read:ping"}).encode())
mac = hmac.new(os.environ["SECRET"].encode(), f"{header}.{claims}".encode(), hashlib.sha256)
print(f"{header}.{claims}.{b64(mac.digest())}")
EOF
)

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/client_body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    upstream forward_auth { server 127.0.0.1:$AUTH; keepalive 64; }
    upstream backend { server 127.0.0.1:$UPSTREAM; keepalive 64; }
    server { listen 127.0.0.1:$UPSTREAM; location / { return 200 "ok"; } }
    server {
        listen 127.0.0.1:$PLAIN;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
    }
    server {
        listen 127.0.0.1:$GUARDED;
        location = /_forward_auth {
            internal;
            proxy_pass http://forward_auth/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Forwarded-Method \$request_method;
            proxy_set_header X-Forwarded-Uri \$request_uri;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$http_host;
        }
        location / {
            auth_request /_forward_auth;
            auth_request_set \$auth_subject \$upstream_http_x_auth_subject;
            proxy_set_header X-Auth-Subject \$auth_subject;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
    }
}
EOF

BIND=127.0.0.1:$AUTH JWT_SECRET="$SECRET" JWT_ISSUER=https://bench.test JWT_AUDIENCE=api \
  REQUIRE_SCOPES='/=read:ping' RUST_LOG=warn "$FORWARD_AUTH" &
SERVICE=$!
"$NGINX" -p "$WORK" -c nginx.conf -g 'daemon off;' &
PROXY=$!
trap 'kill "$SERVICE" "$PROXY" 2>/dev/null; wait "$SERVICE" "$PROXY" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Both listening (the service logs nothing at warn; poll its /health).
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$AUTH/health" >/dev/null 2>&1 \
    && curl -fs "http://127.0.0.1:$PLAIN/" >/dev/null 2>&1 && break
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GUARDED/notes")
[[ "$status" == 200 ]] || { echo "the guarded port answered $status, not 200" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GUARDED/notes")
[[ "$status" == 401 ]] || { echo "the guarded port answered $status without a token, not 401" >&2; exit 1; }

# wrk's requests/s and request count.
load() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $TOKEN" "$1" \
  | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}'; }
# The service's CPU time so far (user + system), in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$SERVICE/stat"; }
HZ=$(getconf CLK_TCK)
plain_all=() guarded_all=() cpu_all=()
for round in $(seq "$ROUNDS"); do
  read -r plain _ < <(load "http://127.0.0.1:$PLAIN/notes")
  before=$(ticks)
  read -r guarded requests < <(load "http://127.0.0.1:$GUARDED/notes")
  cpu=$(echo "($(ticks) - $before) / $HZ * 1000000 / $requests" | bc -l)
  plain_all+=("$plain") guarded_all+=("$guarded") cpu_all+=("$cpu")
  printf 'round %d: nginx alone %8.0f req/s, nginx + forward_auth %8.0f req/s, ratio %.2f, forward_auth CPU %.1f µs/request\n' \
    "$round" "$plain" "$guarded" "$(echo "$guarded / $plain" | bc -l)" "$cpu"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
p=$(median "${plain_all[@]}") g=$(median "${guarded_all[@]}") c=$(median "${cpu_all[@]}")
printf 'median: nginx alone %.0f req/s, nginx + forward_auth %.0f req/s, ratio %.2f, forward_auth CPU %.1f µs/request\n' \
  "$p" "$g" "$(echo "$g / $p" | bc -l)" "$c"
