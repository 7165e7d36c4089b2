#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, run and test realmgate:
# - build: libxmlsec1/libxml2 headers, pkg-config and libclang (samael's xmlsec feature);
# - test peers: xmlsec1 (signs test SAML data), Chromium + chromedriver (browser tests),
#   dnsmasq (loopback DNS for TXT proofs), nginx (forward-auth), wrk (benchmarks),
#   redis-server and postgresql (tests, and bench/soak.sh's own instances),
#   and a Python virtualenv with pysaml2 (a real SAML IdP nobody here wrote).
# Idempotent: installs only what is missing. Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libxmlsec1-dev libxml2-dev pkg-config libclang-dev clang xmlsec1 chromium chromium-driver
          dnsmasq-base nginx-light wrk python3-venv curl openssl
          redis-server postgresql)  # the services; bench/soak.sh also starts its own of each
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is (re)filled whenever tests/idp/requirements.txt changed since the last install.
want=$(sha256sum tests/idp/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python3 ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python test peers into .venv"
  python3 -m venv .venv
  .venv/bin/python3 -m pip install -q --disable-pip-version-check -r tests/idp/requirements.txt
  echo "$want" > .venv/.requirements.sha256
fi
echo "setup: ok"
