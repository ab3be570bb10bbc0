//! The one integration-test binary (Cargo.toml: `autotests = false` and one `[[test]]`
//! named `integration`): every `tests/*.rs` file is a module of it, so `cargo test` links
//! one test executable instead of thirteen. Test names are `<file>::<test>`, e.g.
//! `cargo test --test integration reliability::` runs the tests of tests/reliability.rs.
//!
//! Each file is declared with `#[path]` so that it stays as it was as a test crate of its
//! own: a module loaded by `#[path]` resolves its own `mod` declarations beside itself, so
//! the `mod common;` each file has finds tests/common/mod.rs (the golden outputs in
//! tests/reproducibility.rs are not touched). A file added to tests/ must be listed here;
//! `every_test_file_is_a_module` fails until it is.

// Every file keeps the `mod common;` it had as a crate of its own, so tests/common/mod.rs is
// compiled once per file (a hundred lines of helpers), which is what this lint flags.
#![allow(clippy::duplicate_mod)]

#[path = "bad_input.rs"]
mod bad_input;
#[path = "bert.rs"]
mod bert;
#[path = "cli.rs"]
mod cli;
#[path = "crop.rs"]
mod crop;
#[path = "dataset.rs"]
mod dataset;
#[path = "dataset_output.rs"]
mod dataset_output;
#[path = "edges.rs"]
mod edges;
#[path = "engine.rs"]
mod engine;
#[path = "fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "presets.rs"]
mod presets;
#[path = "properties.rs"]
mod properties;
#[path = "publication.rs"]
mod publication;
#[path = "regions.rs"]
mod regions;
#[path = "regression.rs"]
mod regression;
#[path = "reliability.rs"]
mod reliability;
#[path = "reproducibility.rs"]
mod reproducibility;
#[path = "scan.rs"]
mod scan;
#[path = "schedule_cmd.rs"]
mod schedule_cmd;
#[path = "self_describing.rs"]
mod self_describing;
#[path = "shards.rs"]
mod shards;
#[path = "split.rs"]
mod split;
#[path = "tokens_evodiff.rs"]
mod tokens_evodiff;
#[path = "verify.rs"]
mod verify;

/// With `autotests = false` Cargo no longer finds test files by itself: a `tests/*.rs` file
/// left out of this list would silently never run.
#[test]
fn every_test_file_is_a_module() {
    let root = include_str!("tests.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") && name != "tests.rs" {
            let declared = format!("#[path = \"{name}\"]\nmod {};", &name[..name.len() - 3]);
            if !root.contains(&declared) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not declared in tests/tests.rs: {missing:?}"
    );
}
