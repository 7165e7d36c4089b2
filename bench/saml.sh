#!/usr/bin/env bash
# SAML throughput on one core: builds release, runs the `saml_bench` example (raw RSA-2048
# signatures, signed and unsigned HTTP-Redirect AuthnRequests, ACS validation of the 8 KB
# Entra-style response in bench/data) and pysaml2's SP on the same response, then prints
# the ratios. Exits non-zero when any step fails.
#
#   bench/saml.sh [seconds]      (default 3 s per measurement; about 30 s in all once built)
#
# Needs xmlsec1 (pysaml2 runs it) and python3 -m venv; the venv .venv (git-ignored) with
# pysaml2 7.5.5 and freezegun is made on first use. Regenerate the response with
# bench/make_response.py. Logs go to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
out=bench/out; mkdir -p "$out"

command -v xmlsec1 >/dev/null || { echo "saml.sh: xmlsec1 is not installed (apt-get install xmlsec1)" >&2; exit 1; }
if ! .venv/bin/python -c 'import saml2, freezegun' 2>/dev/null; then
  echo "== creating .venv with pysaml2 7.5.5 ==" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet pysaml2==7.5.5 freezegun==1.5.5
fi

cargo build --release --quiet --example saml_bench

echo "== $(nproc) cores, $(date -u +%FT%TZ), ${secs}s per measurement, one thread each =="
if command -v openssl >/dev/null; then
  # Context for the absolute numbers: this machine's RSA-2048 speed right now (the VM's
  # CPU share varies; the ratios below are measured in one run and stay comparable).
  openssl speed -seconds 1 rsa2048 2>/dev/null | awk '/^rsa 2048/ {printf "openssl speed rsa2048: %s sign/s, %s verify/s\n", $6, $7}'
fi
target/release/examples/saml_bench "$secs" bench/data | tee "$out/saml_bench.txt"
.venv/bin/python bench/pysaml2_sp.py "$secs" bench/data | tee "$out/pysaml2.txt"

val() { # file name -> ops/s
  local v
  v=$(awk -v n="$2" '$1 == n && $3 == "ops/s" {print $2}' "$1")
  [ -n "$v" ] || { echo "saml.sh: no $2 figure in $1" >&2; exit 1; }
  echo "$v"
}
rsa=$(val "$out/saml_bench.txt" rsa2048_sign_raw)
signed=$(val "$out/saml_bench.txt" redirect_signed)
unsigned=$(val "$out/saml_bench.txt" redirect_unsigned)
acs=$(val "$out/saml_bench.txt" acs_validate_8k)
py=$(val "$out/pysaml2.txt" pysaml2_acs_8k)

echo
awk -v rsa="$rsa" -v s="$signed" -v u="$unsigned" -v acs="$acs" -v py="$py" 'BEGIN {
  printf "%-42s %12s\n", "measurement (one core)", "ops/s"
  printf "%-42s %12.1f\n", "raw RSA-2048 PKCS#1 v1.5 SHA-256 sign", rsa
  printf "%-42s %12.1f\n", "signed HTTP-Redirect AuthnRequest", s
  printf "%-42s %12.1f\n", "unsigned HTTP-Redirect AuthnRequest", u
  printf "%-42s %12.1f   (target >= 2000)\n", "realmgate ACS validate (8 KB response)", acs
  printf "%-42s %12.1f\n", "pysaml2 7.5.5 ACS (same response)", py
  printf "\n%-42s %12.2f   (target >= 0.80)\n", "signed redirect / raw RSA sign", s / rsa
  printf "%-42s %12.1f\n", "realmgate ACS / pysaml2 ACS", acs / py
}' | tee "$out/saml_summary.txt"
