#!/usr/bin/env bash
# realmgate side by side with a peer that does the same job, in one run on this machine:
# pysaml2 7.5.5's own SP (the SAML engine of SATOSA), installed by this script from PyPI
# into bench/.peer-venv, against realmgate's `saml_bench` example (release build), on one
# thread each, for the two operations of every SAML login:
#   - start a login: a fresh AuthnRequest as an HTTP-Redirect URL, unsigned and signed
#     (RSA-SHA256 with a 2048-bit SP key on both sides);
#   - consume a signed response: full validation of the same 8 KB Entra ID-style response
#     (bench/data, made by bench/make_response.py) with the same clock, IDs and metadata.
# Beside the ACS: one OpenID Connect callback's ID token verification (RS256, Entra-sized
# token, two-key JWKS) in the same run, as validations/s per core and as a ratio to the ACS.
# Also the raw RSA-2048 signing rate (the floor of any signed redirect) and openssl's, for
# context. Prints every rate and the ratios; exits non-zero when a step fails.
#
#   bench/compare.sh [seconds]      (default 3 s per measurement; about a minute once built)
#
# Needs xmlsec1 (pysaml2 runs it) and python3-venv (scripts/test.sh installs both).
# Output also goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
out=bench/out; mkdir -p "$out"
peer=bench/.peer-venv

command -v xmlsec1 >/dev/null || { echo "compare.sh: xmlsec1 is not installed (apt-get install xmlsec1)" >&2; exit 1; }
if ! "$peer/bin/python" -c 'import saml2, freezegun' 2>/dev/null; then
  echo "== installing the peer: pysaml2 7.5.5 from PyPI into $peer ==" >&2
  python3 -m venv "$peer"
  "$peer/bin/pip" install --quiet --disable-pip-version-check pysaml2==7.5.5 freezegun==1.5.5
fi
# The peer's SP signing key, the same size as realmgate's (RSA-2048).
[ -s "$out/peer-sp-key.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
  -subj /CN=peer-sp -keyout "$out/peer-sp-key.pem" -out "$out/peer-sp-cert.pem" 2>/dev/null

cargo build --release --quiet --example saml_bench

echo "== $(nproc) cores, $(date -u +%FT%TZ), ${secs}s per measurement, one thread each =="
# Context for the absolute numbers: this machine's RSA-2048 speed right now (a VM's CPU
# share varies; the ratios below are measured in one run and stay comparable).
openssl speed -seconds 1 rsa2048 2>/dev/null | awk '/^rsa 2048/ {printf "openssl speed rsa2048: %s sign/s, %s verify/s\n", $6, $7}'
target/release/examples/saml_bench "$secs" bench/data | tee "$out/saml_bench.txt"
"$peer/bin/python" bench/pysaml2_sp.py "$secs" bench/data "$out/peer-sp-key.pem" "$out/peer-sp-cert.pem" \
  | tee "$out/pysaml2.txt"

val() { # file name -> ops/s
  local v
  v=$(awk -v n="$2" '$1 == n && $3 == "ops/s" {print $2}' "$1")
  [ -n "$v" ] || { echo "compare.sh: no $2 figure in $1" >&2; exit 1; }
  echo "$v"
}
rsa=$(val "$out/saml_bench.txt" rsa2048_sign_raw)
signed=$(val "$out/saml_bench.txt" redirect_signed)
unsigned=$(val "$out/saml_bench.txt" redirect_unsigned)
acs=$(val "$out/saml_bench.txt" acs_validate_8k)
xmlsec=$(val "$out/saml_bench.txt" xmlsec_verify_8k)
oidc=$(val "$out/saml_bench.txt" oidc_validate_rs256)
py_acs=$(val "$out/pysaml2.txt" pysaml2_acs_8k)
py_unsigned=$(val "$out/pysaml2.txt" pysaml2_start_unsigned)
py_signed=$(val "$out/pysaml2.txt" pysaml2_start_signed)

echo
awk -v rsa="$rsa" -v s="$signed" -v u="$unsigned" -v acs="$acs" -v xs="$xmlsec" \
    -v pa="$py_acs" -v pu="$py_unsigned" -v ps="$py_signed" -v oidc="$oidc" 'BEGIN {
  printf "%-40s %12s %12s %9s\n", "operation (one core, ops/s)", "realmgate", "pysaml2", "ratio"
  printf "%-40s %12.1f %12.1f %8.1fx   (target >= 10)\n", "start login, unsigned Redirect", u, pu, u / pu
  printf "%-40s %12.1f %12.1f %8.1fx   (RSA-bound: see below)\n", "start login, signed Redirect", s, ps, s / ps
  printf "%-40s %12.1f %12.1f %8.1fx   (target >= 10)\n", "consume signed 8 KB response (ACS)", acs, pa, acs / pa
  printf "\n%-40s %12.1f\n", "raw RSA-2048 PKCS#1 v1.5 SHA-256 sign", rsa
  printf "%-40s %12.2f   (target >= 0.80)\n", "realmgate signed redirect / raw RSA", s / rsa
  printf "%-40s %12.2f   (share of its time the RSA signature takes)\n", "pysaml2 signed redirect / raw RSA", ps / rsa
  printf "%-40s %12.0f   (target >= 2000)\n", "realmgate ACS validations/s/core", acs
  printf "%-40s %12.0f   (validate / this = %.2f)\n", "samael/xmlsec signature step alone", xs, acs / xs
  printf "%-40s %12.0f   (OIDC / SAML ACS = %.2f)\n", "realmgate OIDC ID token checks/s/core", oidc, oidc / acs
}' | tee "$out/compare_summary.txt"
