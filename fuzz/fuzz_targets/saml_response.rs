//! `cargo fuzz run saml_response`: see `realmgate_fuzz::saml_response` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::saml_response(data));
