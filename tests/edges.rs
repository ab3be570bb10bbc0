//! Issue 20, findings 10-12: messages, the BED reader's edges, `--span-max` as a hard cap,
//! signals. Each test is named after its finding and fails on 0.2.0
//! (`PROTMASK_BIN=/path/to/protmask-0.2.0 cargo test --test integration edges::`).

mod common;

#[allow(unused_imports)]
use common::*;
