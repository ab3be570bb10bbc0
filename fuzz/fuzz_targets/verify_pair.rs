//! Fuzz target `verify_pair`: the check is in `checks/verify_pair.rs`, shared with the regression
//! tests of the main crate (`tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../checks/verify_pair.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
