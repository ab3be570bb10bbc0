//! Fuzz target `schedule_parse`: the check is in `checks/schedule_parse.rs`, shared with the regression
//! tests of the main crate (`tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../checks/schedule_parse.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
