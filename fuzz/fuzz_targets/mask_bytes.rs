//! Fuzz target `mask_bytes`: the check is in `checks/mask_bytes.rs`, shared with the regression
//! tests of the main crate (`tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../checks/mask_bytes.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
