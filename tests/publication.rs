//! Issue 20, findings 1-3, 7-8: all-or-nothing publication, content identity,
//! self-contained manifests, manifest integrity, `protmask regenerate`. Each test is named
//! after its finding and fails on 0.2.0 (`PROTMASK_BIN=... cargo test --test integration
//! publication::`).

mod common;

#[allow(unused_imports)]
use common::*;
