//! `cargo fuzz run email`: see `realmgate_fuzz::email` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::email(data));
