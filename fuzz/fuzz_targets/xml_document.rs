//! `cargo fuzz run xml_document`: see `realmgate_fuzz::xml_document` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| realmgate_fuzz::xml_document(data));
