#!/usr/bin/env bash
# Builds every cargo-fuzz target (fuzz/) and runs each for SECONDS (default 60) on the corpus
# fuzz/seed.sh builds; exits non-zero on the first crash, leak or invariant failure, whose
# input libFuzzer writes to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh            # CI: 60 s per target
#   scripts/fuzz.sh 600        # a longer session: 10 min per target
#   TARGETS="saml_response" scripts/fuzz.sh 3600
#
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags
# cargo-fuzz passes (SanitizerCoverage, AddressSanitizer, whose runtime ships with rustup's
# stable toolchain). Builds are `-O` (release, no debug assertions): debug assertions
# would double the first build of the gateway's whole dependency tree for little gain.
# A crash, once found: `cargo fuzz tmin TARGET fuzz/artifacts/TARGET/crash-...`, copy the
# minimised file into fuzz/regressions/TARGET/, fix, and `cargo test --test fuzz_regressions`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
read -r -a targets <<< "${TARGETS:-email tenant_file saml_response redirect_query xml_document scim_request wsfed_wresult}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
fuzz/seed.sh
(cd fuzz && cargo fuzz build -O)
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${seconds}s"
  # -rss_limit_mb: the SAML target holds libxml2 documents and xmlsec contexts; 2 GB is far
  # above a healthy run and well below what the machine has.
  (cd fuzz && cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
done
echo "fuzz: ok"
