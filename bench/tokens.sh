#!/usr/bin/env bash
# Token endpoint and JWT throughput: builds the `tokens_bench` example and runs it (ES256
# sign, ES256 verify against the JWKS key, in-process authorization-code exchange, and
# POST /oauth2/token over loopback HTTP with N concurrent clients: a native app's code, a
# confidential web app's code with an ID token, client_credentials for a service client of
# the configuration and for one of the management API) and prints a summary.
# Codes are one-time, so wrk cannot replay a token request: the HTTP figure comes from the
# example's own client loop, which hands every request a fresh pre-minted code.
#
#   bench/tokens.sh [seconds] [concurrency]      (defaults: 3 s, 16)
#   PROFILE=dev bench/tokens.sh                  (reuse the debug build; slower figures)
#
# Logs go to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
conc=${2:-16}
profile=${PROFILE:-release}
out=bench/out; mkdir -p "$out"

cargo build --profile "$profile" --quiet --example tokens_bench
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

echo "== $(nproc) cores, $(date -u +%FT%TZ), profile $profile =="
"target/$dir/examples/tokens_bench" "$secs" "$conc" | tee "$out/tokens.txt"

val() { awk -v n="$1" '$1 == n && $3 == "ops/s" {print $2}' "$out/tokens.txt"; }
for n in es256_sign es256_verify code_exchange "http_token_c$conc" "http_oidc_code_c$conc" "http_client_credentials_c$conc" "http_client_credentials_api_c$conc"; do
  [ -n "$(val "$n")" ] || { echo "tokens.sh: no $n figure" >&2; exit 1; }
done
awk -v s="$(val es256_sign)" -v v="$(val es256_verify)" -v c="$(val code_exchange)" \
    -v h="$(val "http_token_c$conc")" -v o="$(val "http_oidc_code_c$conc")" \
    -v k="$(val "http_client_credentials_c$conc")" -v a="$(val "http_client_credentials_api_c$conc")" \
    -v n="$conc" 'BEGIN {
  printf "\n%-46s %12s\n", "measurement", "ops/s"
  printf "%-46s %12.1f\n", "ES256 access token sign (1 thread)", s
  printf "%-46s %12.1f\n", "ES256 access token verify via JWKS (1 thread)", v
  printf "%-46s %12.1f\n", "authorization_code exchange, in-process", c
  printf "%-46s %12.1f\n", "POST /oauth2/token (code), HTTP, " n " clients", h
  printf "%-46s %12.1f  (%.2f of code)\n", "  (code + ID token, client_secret_basic)", o, o / h
  printf "%-46s %12.1f  (%.2f of code)\n", "  (client_credentials)", k, k / h
  printf "%-46s %12.1f  (%.2f of config client)\n", "  (client_credentials, management API client)", a, a / k
}' | tee "$out/tokens_summary.txt"
