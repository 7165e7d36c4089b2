#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ (not committed) from the committed seeds and the test data:
#   email           fuzz/seeds/email + every quoted address in tests/ and src/discovery/
#   tenant_file     fuzz/seeds/tenant_file + domains/*.toml
#   saml_response   fuzz/seeds/saml_response + tests/testdata/saml/*.xml + the python3-saml
#                   and crewjam response vectors (../shared/testvectors beside the repository)
#   redirect_query  fuzz/seeds/redirect_query + tests/data/open_redirects.txt as return_to
#   scim_request    fuzz/seeds/scim_request (filters, PATCH paths and bodies)
#   wsfed_wresult   fuzz/seeds/wsfed_wresult + tests/testdata/wsfed/*.xml (wresults and WS-Trust
#                   SOAP answers: one parser behind both entries)
#   saml_logout     fuzz/seeds/saml_logout (LogoutRequest/Response XML, Redirect queries)
#   xml_document    fuzz/seeds/xml_document + the saml_response corpus + domains/*.xml + the
#                   python3-saml and crewjam metadata vectors
# Files are named by content hash, as libFuzzer names what it adds, so reruns add nothing.
# Usage: fuzz/seed.sh [VECTORS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
vectors=${1:-../shared/testvectors}

add() { # add TARGET FILE...: copy files into the target's corpus under their hash
  local target=$1; shift
  mkdir -p "fuzz/corpus/$target"
  for f in "$@"; do
    if [ -f "$f" ]; then cp "$f" "fuzz/corpus/$target/$(sha1sum < "$f" | cut -c1-40)"; fi
  done
}
add_text() { # add_text TARGET: each stdin line becomes one corpus entry
  local target=$1 line tmp
  tmp=$(mktemp)
  while IFS= read -r line; do
    printf '%s' "$line" > "$tmp"
    add "$target" "$tmp"
  done
  rm -f "$tmp"
}

for t in email tenant_file saml_response redirect_query xml_document scim_request wsfed_wresult saml_logout; do
  add "$t" fuzz/seeds/"$t"/* fuzz/regressions/"$t"/*
done

grep -ohE '"[^" ]*@[^" ]*"' tests/*.rs src/discovery/*.rs | tr -d '"' | sort -u | add_text email
add tenant_file domains/*.toml
add saml_response tests/testdata/saml/*.xml
add wsfed_wresult tests/testdata/wsfed/*.xml
if [ -d "$vectors" ]; then
  add saml_response "$vectors"/python3-saml/responses/*.xml* "$vectors"/python3-saml/responses/*/*.xml* \
    "$vectors"/crewjam-saml/*_response "$vectors"/crewjam-saml/*Response*
else
  echo "seed: $vectors not found, SAML corpus from tests/testdata only" >&2
fi
add xml_document fuzz/corpus/saml_response/* domains/*.xml
if [ -d "$vectors" ]; then
  add xml_document "$vectors"/python3-saml/metadata/* "$vectors"/crewjam-saml/*etadata*
fi
grep -v '^#' tests/data/open_redirects.txt | grep -v '^$' \
  | python3 -c 'import sys, urllib.parse as u; [print("return_to=" + u.quote(l.rstrip("\n"), safe="")) for l in sys.stdin]' \
  | add_text redirect_query

for t in email tenant_file saml_response redirect_query xml_document scim_request wsfed_wresult saml_logout; do
  echo "seed: $t $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
done
