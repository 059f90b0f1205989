# Sourced by benches/load.sh and benches/http_instructions.sh: the demo
# server's environment for one algorithm, with the keys in benches/keys/.
#
#   demo_server_env <port> <algorithm> [extra VAR=value ...]
#
# fills the array `server_env`. Keys given in JWT_PRIVATE_KEY_FILE /
# JWT_PUBLIC_KEY_FILE override the bench keys.
demo_server_env() {
  local port=$1 alg=$2
  shift 2
  server_env=(BIND="127.0.0.1:${port}" JWT_ALGORITHM="$alg" ACCESS_TTL_SECS=86400 RUST_LOG=warn REDIS_URL= "$@")
  case "$alg" in
    HS*) server_env+=(JWT_SECRET="load-harness-secret-0123456789-abcdefghijklmnop") ;;
    RS*|PS*) server_env+=(JWT_PRIVATE_KEY_FILE=benches/keys/rs256-private.pem JWT_PUBLIC_KEY_FILE=benches/keys/rs256-public.pem) ;;
    ES256) server_env+=(JWT_PRIVATE_KEY_FILE=benches/keys/es256-private.pem JWT_PUBLIC_KEY_FILE=benches/keys/es256-public.pem) ;;
    EdDSA) server_env+=(JWT_PRIVATE_KEY_FILE=benches/keys/eddsa-private.pem JWT_PUBLIC_KEY_FILE=benches/keys/eddsa-public.pem) ;;
    *) echo "no bench keys for $alg" >&2; exit 2 ;;
  esac
  [[ -n "${JWT_PRIVATE_KEY_FILE:-}" ]] && server_env+=(JWT_PRIVATE_KEY_FILE="$JWT_PRIVATE_KEY_FILE")
  [[ -n "${JWT_PUBLIC_KEY_FILE:-}" ]] && server_env+=(JWT_PUBLIC_KEY_FILE="$JWT_PUBLIC_KEY_FILE")
  return 0
}
