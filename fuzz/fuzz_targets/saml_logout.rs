//! `cargo fuzz run saml_logout`: see `realmgate_fuzz::saml_logout` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::saml_logout(data));
