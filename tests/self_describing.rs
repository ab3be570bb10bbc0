//! Issue 20, findings 4-6: complete row checks without a manifest, verify inputs sniffed
//! from their bytes, datasets that say how they were made (Parquet key-value metadata,
//! `verify --preset`). Each test is named after its finding and fails on 0.2.0
//! (`PROTMASK_BIN=... cargo test --test integration self_describing::`).

mod common;

#[allow(unused_imports)]
use common::*;
