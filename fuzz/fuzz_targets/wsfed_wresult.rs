//! `cargo fuzz run wsfed_wresult`: see `realmgate_fuzz::wsfed_wresult` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::wsfed_wresult(data));
