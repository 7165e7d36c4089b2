//! `cargo fuzz run tenant_file`: see `realmgate_fuzz::tenant_file` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::tenant_file(data));
