#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and run realmgate: the headers and
# tools samael's xmlsec feature builds against (libxmlsec1/libxml2, pkg-config, libclang),
# whose runtime libraries come with them. Nothing else: the gateway runs on embedded
# defaults (SQLite, in-memory sessions). The test peers are scripts/test.sh's.
#
#   scripts/setup.sh [PACKAGE...]    also the given Debian packages (scripts/test.sh's)
#
# Idempotent: installs only what is missing. Run as root or with sudo available.
set -euo pipefail

packages=(libxmlsec1-dev libxml2-dev pkg-config libclang-dev clang "$@")
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
echo "setup: ok"
