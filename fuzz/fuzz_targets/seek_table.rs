//! Fuzz target `seek_table`: see fuzz/harness.rs.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::seek_table(data));
