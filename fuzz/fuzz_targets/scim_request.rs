//! `cargo fuzz run scim_request`: see `realmgate_fuzz::scim_request` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::scim_request(data));
