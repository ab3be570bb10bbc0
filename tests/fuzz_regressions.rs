//! Inputs replayed through the checks of the fuzz targets: the very code the fuzzers run
//! (`fuzz/checks/<target>.rs`, included here by path), so a crash the fuzzer found
//! reproduces as a failing test without cargo-fuzz or a nightly flag.
//!
//! - Every crash the fuzzer found is kept as `tests/data/fuzz/<target>-<short-name>` and
//!   gets a test named after it (`regression!` below); `every_kept_input_replays_clean`
//!   also replays whatever is in that folder.
//! - The hand-made seed corpus (`fuzz/corpus/<target>/seed-*`) must replay clean too.
//!
//! To add a crash: copy `fuzz/artifacts/<target>/crash-…` to
//! `tests/data/fuzz/<target>-<short-name>` and add a `regression!` line.

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/checks/mask_bytes.rs"]
mod mask_bytes;
#[allow(dead_code)]
#[path = "../fuzz/checks/schedule_parse.rs"]
mod schedule_parse;
#[allow(dead_code)]
#[path = "../fuzz/checks/verify_pair.rs"]
mod verify_pair;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `data` through the check of the target its file name starts with.
fn replay(name: &str, data: &[u8]) {
    if name.starts_with("schedule_parse") {
        schedule_parse::run(data)
    } else if name.starts_with("mask_bytes") {
        mask_bytes::run(data)
    } else if name.starts_with("verify_pair") {
        verify_pair::run(data)
    } else {
        panic!(
            "{name}: not named after a fuzz target (schedule_parse-, mask_bytes-, verify_pair-)"
        );
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// One test per kept crash input, named after it.
#[allow(unused_macros)]
macro_rules! regression {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            let path = Path::new(ROOT).join("tests/data/fuzz").join($file);
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replay($file, &data);
        }
    };
}

// One line per crash found (see fuzz/README.md for the runs):
// regression!(<target>_<short_name>, "<target>-<short-name>");

// `beta(12,3e-320)`: Beta with a vanishing (subnormal) parameter parses, but its quantile
// is not monotone: Q(1e-300) = 0.98494, Q(1e-9) = 0.97062, Q(1e-6) = 1 (so rate(t) rises
// near t = 1). Found by schedule_parse in its first minutes.
regression!(schedule_parse_beta_tiny_b, "schedule_parse-beta-tiny-b");

#[test]
fn every_kept_input_replays_clean() {
    for path in files_in(&Path::new(ROOT).join("tests/data/fuzz")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            continue;
        }
        replay(&name, &std::fs::read(&path).unwrap());
    }
}

#[test]
fn seed_corpus_replays_clean() {
    let mut replayed = 0;
    for target in ["schedule_parse", "mask_bytes", "verify_pair"] {
        for path in files_in(&Path::new(ROOT).join("fuzz/corpus").join(target)) {
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                replay(target, &std::fs::read(&path).unwrap());
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 30,
        "only {replayed} seed inputs found under fuzz/corpus/"
    );
}

/// Known-good inputs pass the checks (a check that is too strict would fail here).
#[test]
fn checks_accept_known_good_inputs() {
    schedule_parse::run(b"0.8*beta(3,9) + 0.2*uniform");
    let fasta = std::fs::read(Path::new(ROOT).join("data/NC_000932.faa")).unwrap();
    let three: Vec<u8> = fasta[..2000].to_vec();
    for selectors in [[0u8, 0], [0x5c, 0x3a], [0xff, 0x17]] {
        let mut input = selectors.to_vec();
        input.extend_from_slice(&three);
        mask_bytes::run(&input);
    }
}
