#!/usr/bin/env bash
# The README's test command: installs what the tests run against, then `cargo test "$@"`
# (so `scripts/test.sh --test saml_attacks` runs one binary). Installs, when missing:
# - what building needs (scripts/setup.sh);
# - the test peers: xmlsec1 and openssl (sign and certify test SAML data), Chromium +
#   chromedriver (browser tests), dnsmasq (loopback DNS for TXT proofs), nginx
#   (forward-auth), wrk and curl (benchmarks), redis-server and postgresql (tests, and
#   bench/soak.sh's own instances), and a Python virtualenv with pysaml2 (a real SAML IdP
#   nobody here wrote), openapi-spec-validator, schemathesis, scim2-tester, aiosmtpd (a real
#   SMTP server) and Authlib + Flask (a second OpenID Connect relying party);
# - the npm test peers of tests/peers (wsfed, oidc-provider, openid-client, axe-core), with
#   the machine's Node.js, exactly as package-lock.json pins them.
# Tests skip with a message when PostgreSQL or Redis is down or ../shared/testvectors (the
# python3-saml and crewjam/saml vectors) is absent; under CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh xmlsec1 openssl chromium chromium-driver dnsmasq-base nginx-light wrk curl \
  python3-venv redis-server postgresql

# The venv is (re)filled whenever tests/idp/requirements.txt changed since the last install.
want=$(sha256sum tests/idp/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python3 ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  echo "test: installing the Python test peers into .venv"
  python3 -m venv .venv
  .venv/bin/python3 -m pip install -q --disable-pip-version-check -r tests/idp/requirements.txt
  echo "$want" > .venv/.requirements.sha256
fi

# The npm peers likewise, whenever tests/peers/package-lock.json changed.
want=$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)
command -v npm >/dev/null || scripts/setup.sh nodejs npm
if [ "$(cat tests/peers/node_modules/.lock.sha256 2>/dev/null)" != "$want" ]; then
  echo "test: installing the npm test peers into tests/peers/node_modules"
  npm ci --prefix tests/peers --no-audit --no-fund --loglevel=error
  echo "$want" > tests/peers/node_modules/.lock.sha256
fi

exec cargo test "$@"
