//! `cargo fuzz run redirect_query`: see `realmgate_fuzz::redirect_query` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::redirect_query(data));
