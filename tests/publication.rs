//! Issue 20, findings 1-3, 7-8: all-or-nothing publication, content identity,
//! self-contained manifests, manifest integrity, `protmask regenerate`. Each test is named
//! after its finding and fails on 0.2.0 (`PROTMASK_BIN=... cargo test --test integration
//! publication::`).

mod common;

#[allow(unused_imports)]
use common::*;
use std::path::Path;
use std::process::Output;

/// Run protmask in `dir` with `args`; the whole output.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    protmask().current_dir(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

#[track_caller]
fn fails(o: &Output, code: i32, says: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert!(
        stderr(o).contains(says),
        "expected '{says}' in: {}",
        stderr(o)
    );
}

/// A folder with `orig.fa` (the plastid proteome) and a published set in `set/`: masked
/// FASTA (gzip), rates table, manifest; esm2's corruption, 2 replicates.
fn published(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("orig.fa")).unwrap();
    std::fs::create_dir(d.join("set")).unwrap();
    let mut args = vec![
        "mask",
        "orig.fa",
        "-q",
        "-o",
        "set/m.fa.gz",
        "-r",
        "set/m.csv",
    ];
    args.extend([
        "--manifest",
        "set/m.json",
        "--preset",
        "esm2",
        "--replicates",
        "2",
    ]);
    args.extend(extra);
    ok(run_in(d, &args));
    dir
}

/// The ID of the data's first record.
fn first_id() -> String {
    std::fs::read_to_string(DATA).unwrap()[1..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Mask `orig.fa` in `d` into `set/m.fa` with `set/m.json`, at rate 0.5 within the
/// regions file `regions`.
fn mask_with_regions(d: &Path, regions: &str) {
    let mut args = vec!["mask", "orig.fa", "-q", "-o", "set/m.fa", "--manifest"];
    args.extend(["set/m.json", "--regions", regions, "--schedule", "0.5"]);
    ok(run_in(d, &args));
}

fn verify_args<'a>(original: &'a str, masked: &'a str) -> Vec<&'a str> {
    vec!["verify", original, masked, "--manifest", "set/m.json"]
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &serde_json::Value) {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

// ---- 1. all-or-nothing publication --------------------------------------------------

/// A manifest in a missing folder is refused before any work, and nothing is published.
#[test]
fn issue20_1_manifest_in_a_missing_folder_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("out")).unwrap();
    let o = run_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "out/m.fa",
            "-r",
            "out/m.csv",
            "--manifest",
            "nodir/m.json",
        ],
    );
    fails(
        &o,
        1,
        "cannot create manifest 'nodir/m.json': directory 'nodir' does not exist",
    );
    // Refused before the work: no closing summary line was printed.
    assert!(!stderr(&o).contains("masked ("), "{}", stderr(&o));
    assert_eq!(dir_entries(&d.join("out")), Vec::<String>::new());
}

/// A full filesystem under the manifest (a 64 KiB tmpfs, where the test may mount one):
/// the outputs on another filesystem are not published either, and no temp file is left.
#[test]
fn issue20_1_manifest_on_a_full_filesystem_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = d.join("small");
    std::fs::create_dir_all(d.join("out")).unwrap();
    std::fs::create_dir_all(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a tmpfs here: the full-disk case is not run");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    // Fill it: an empty file (the probe before the work) still fits, the manifest not.
    std::fs::write(small.join("filler"), vec![0u8; 64 * 1024]).unwrap();
    let o = run_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "out/m.fa",
            "-r",
            "out/m.csv",
            "--manifest",
            "small/m.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest"), "{}", stderr(&o));
    assert_eq!(dir_entries(&d.join("out")), Vec::<String>::new());
    assert_eq!(dir_entries(&small), vec!["filler".to_string()]);
}

/// A dataset that cannot be written (its folder is missing) publishes nothing (as in
/// 0.2.0, where this case already held: kept as the issue asks for it).
#[test]
fn a_dataset_path_that_fails_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("out")).unwrap();
    let o = run_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "out/m.fa",
            "-r",
            "out/m.csv",
            "--dataset",
            "gone/d.parquet",
        ],
    );
    fails(&o, 1, "gone");
    assert_eq!(dir_entries(&d.join("out")), Vec::<String>::new());
}

// ---- 2. content identity ------------------------------------------------------------

/// A set made from a gzipped input verifies against the decompressed original, and one
/// made from a plain input against it gzipped (`gzip -9`); the report says how it matched.
#[test]
fn issue20_2_the_input_is_identified_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = std::fs::read(DATA).unwrap();
    write(d, "orig.fa.gz", gzip(&plain));
    std::fs::create_dir(d.join("set")).unwrap();
    ok(run_in(
        d,
        &[
            "mask",
            "orig.fa.gz",
            "-q",
            "-o",
            "set/m.fa",
            "--manifest",
            "set/m.json",
        ],
    ));
    write(d, "orig.fa", &plain);
    let o = ok(run_in(d, &verify_args("orig.fa", "set/m.fa")));
    assert!(
        stderr(&o).contains("'orig.fa' matched the recorded 'orig.fa.gz' by content"),
        "{}",
        stderr(&o)
    );
    // Recompressed at another level: other bytes, the same content.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    std::io::Write::write_all(&mut e, &plain).unwrap();
    write(d, "orig9.fa.gz", e.finish().unwrap());
    ok(run_in(d, &verify_args("orig9.fa.gz", "set/m.fa")));
    // Another content is still refused.
    write(d, "other.fa", &plain[..plain.len() - 200]);
    let o = run_in(d, &verify_args("other.fa", "set/m.fa"));
    fails(&o, 1, "SHA-256");
}

/// A decompressed output whose content the manifest records is accepted as MASKED.
#[test]
fn issue20_2_a_decompressed_output_is_the_recorded_one() {
    let dir = published(&[]);
    let d = dir.path();
    let plain = gunzip(&std::fs::read(d.join("set/m.fa.gz")).unwrap());
    write(d, "m.fa", &plain);
    let o = ok(run_in(d, &verify_args("orig.fa", "m.fa")));
    assert!(stderr(&o).contains("by content"), "{}", stderr(&o));
}

// ---- 3. self-contained manifests --------------------------------------------------------

/// A regions file given to verify under another name is the one regenerated from.
#[test]
fn issue20_3_a_renamed_regions_file_regenerates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("orig.fa")).unwrap();
    let first_id = first_id();
    write(d, "cdr.bed", format!("{first_id}\t2\t40\n"));
    std::fs::create_dir(d.join("set")).unwrap();
    mask_with_regions(d, "cdr.bed");
    std::fs::rename(d.join("cdr.bed"), d.join("renamed.bed")).unwrap();
    let mut args = verify_args("orig.fa", "set/m.fa");
    args.extend(["--regions", "renamed.bed"]);
    ok(run_in(d, &args));
    // And without it: the intervals are in the manifest.
    ok(run_in(d, &verify_args("orig.fa", "set/m.fa")));
}

/// Regions from a pipe (`--regions <(...)`, a FIFO here) are read once and recorded: the
/// set verifies and regenerates afterwards.
#[test]
fn issue20_3_regions_from_a_pipe_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("orig.fa")).unwrap();
    let first_id = first_id();
    let fifo = d.join("regions.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let fifo = fifo.clone();
        let text = format!("{first_id}\t2\t40\n");
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    std::fs::create_dir(d.join("set")).unwrap();
    mask_with_regions(d, "regions.fifo");
    writer.join().unwrap();
    std::fs::remove_file(&fifo).unwrap();
    let m = read_json(&d.join("set/m.json"));
    assert_eq!(
        m["options"]["regions"]["intervals"][&first_id],
        serde_json::json!([[2, 40]])
    );
    ok(run_in(d, &verify_args("orig.fa", "set/m.fa")));
    let o = ok(run_in(d, &["regenerate", "set/m.json", "-C", "again"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("identical: again/m.fa"));
}

// ---- 7. manifest integrity ------------------------------------------------------------

/// An edited `command_line` (cosine for the preset's schedule) is refused.
#[test]
fn issue20_7_an_edited_command_line_is_refused() {
    let dir = published(&[]);
    let d = dir.path();
    let path = d.join("set/m.json");
    let mut m = read_json(&path);
    let line = m["command_line"].as_array_mut().unwrap();
    line.insert(4, "--schedule=cosine".into());
    write_json(&path, &m);
    let o = run_in(d, &verify_args("orig.fa", "set/m.fa.gz"));
    fails(&o, 1, "command_line does not match its options");
}

/// An edited `version`: newer than this protmask is refused with what to use; older than
/// the manifest format is refused as an edit.
#[test]
fn issue20_7_an_edited_version_is_refused() {
    let dir = published(&[]);
    let d = dir.path();
    let path = d.join("set/m.json");
    let original = read_json(&path);
    let mut m = original.clone();
    m["version"] = "9.0.0".into();
    write_json(&path, &m);
    let o = run_in(d, &verify_args("orig.fa", "set/m.fa.gz"));
    fails(&o, 1, "newer than this protmask");
    fails(&o, 1, "use protmask 9.0.0 or later");
    m["version"] = "0.2.0".into();
    write_json(&path, &m);
    let o = run_in(d, &verify_args("orig.fa", "set/m.fa.gz"));
    fails(&o, 1, "the manifest was edited");
    write_json(&path, &original);
    ok(run_in(d, &verify_args("orig.fa", "set/m.fa.gz")));
}

/// Every other edit changes what a digest is checked against: the options with the
/// command line edited to agree (the seed), an input's, an output's, a record count.
#[test]
fn issue20_7_every_other_edit_is_caught() {
    let dir = published(&[]);
    let d = dir.path();
    let path = d.join("set/m.json");
    let original = read_json(&path);
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &str); 5] = [
        (
            "seed in options and command_line",
            |m| {
                m["options"]["seed"] = 43.into();
                let line = m["command_line"].as_array_mut().unwrap();
                let seed = line
                    .iter()
                    .position(|t| t.as_str().unwrap().starts_with("--seed="))
                    .unwrap();
                line[seed] = "--seed=43".into();
            },
            "does not reproduce",
        ),
        (
            "input sha256",
            |m| m["inputs"][0]["sha256"] = "0".repeat(64).into(),
            "the manifest was edited",
        ),
        (
            "input sha256 and content_sha256",
            |m| {
                m["inputs"][0]["sha256"] = "0".repeat(64).into();
                m["inputs"][0]["content_sha256"] = "0".repeat(64).into();
            },
            "SHA-256",
        ),
        (
            "output sha256 and content_sha256",
            |m| {
                // (The stored digest alone is what a recompressed output changes: the
                // content digest still identifies it, which the report says.)
                m["outputs"][0]["sha256"] = "0".repeat(64).into();
                m["outputs"][0]["content_sha256"] = "0".repeat(64).into();
            },
            "is not a FASTA output recorded",
        ),
        (
            "output records",
            |m| m["outputs"][1]["records"] = 3.into(),
            "does not reproduce",
        ),
    ];
    for (what, edit, says) in edits {
        let mut m = original.clone();
        edit(&mut m);
        write_json(&path, &m);
        let o = run_in(d, &verify_args("orig.fa", "set/m.fa.gz"));
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{what}: {}", stderr(&o));
    }
}

// ---- 8. regenerate ------------------------------------------------------------------------

/// `protmask regenerate` rebuilds a moved set in a fresh folder, finding the input
/// renamed and gzipped among the paths given; one line per output.
#[test]
fn issue20_8_regenerate_into_a_fresh_folder() {
    let dir = published(&[]);
    let d = dir.path();
    let elsewhere = d.join("downloads");
    std::fs::create_dir(&elsewhere).unwrap();
    write(
        &elsewhere,
        "plastid.fa.gz",
        gzip(&std::fs::read(DATA).unwrap()),
    );
    write(&elsewhere, "unrelated.fa", ">x\nACD\n");
    std::fs::rename(d.join("set"), d.join("moved")).unwrap();
    std::fs::remove_file(d.join("orig.fa")).unwrap();
    let o = ok(run_in(
        d,
        &[
            "regenerate",
            "moved/m.json",
            "--input",
            "downloads",
            "-C",
            "fresh/new",
        ],
    ));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("identical: fresh/new/m.fa.gz"), "{stdout}");
    assert!(stdout.contains("identical: fresh/new/m.csv"), "{stdout}");
    assert!(
        stderr(&o).contains("input 'orig.fa' is 'downloads/plastid.fa.gz'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(d.join("fresh/new/m.fa.gz")).unwrap(),
        std::fs::read(d.join("moved/m.fa.gz")).unwrap()
    );
    // Without the input anywhere: named.
    let o = run_in(d, &["regenerate", "moved/m.json", "-C", "fresh/again"]);
    fails(&o, 1, "input 'orig.fa' is missing");
    // The set's input at hand but another content: not taken for it.
    write(d, "orig.fa", ">x\nACD\n");
    let o = run_in(
        d,
        &[
            "regenerate",
            "moved/m.json",
            "--input",
            "orig.fa",
            "-C",
            "f3",
        ],
    );
    fails(&o, 1, "input 'orig.fa' is missing");
}

// ---- the canonical command line ------------------------------------------------------

/// A manifest's `command_line`, run again elsewhere (argv[0] aside), writes the same
/// outputs and a manifest with the same options, for every preset and with options that
/// differ from each preset's: it is the set's recipe, not a record of how it was typed.
#[test]
fn the_command_line_rebuilds_the_set_for_every_preset() {
    let overrides: [&[&str]; 3] = [
        &[],
        &[
            "--schedule",
            "cosine",
            "--mode",
            "bernoulli",
            "--mask-token=-x-",
            "--corrupt",
            "0.7,0.2,0.1",
            "--maskable",
            "ACDEFGHIK",
            "--timesteps",
            "stratified",
            "--replicates",
            "2",
            "-w",
            "0",
            "--positions",
        ],
        &[
            "--span-mean",
            "2.5",
            "--span-max",
            "4",
            "--seed",
            "9",
            "--tokens",
            "esm",
        ],
    ];
    // D3PM takes no schedule, selection, token or corruption options.
    let d3pm_overrides: [&[&str]; 2] = [
        &[
            "--maskable",
            "ACDEFGHIKX",
            "--replicates",
            "2",
            "--positions",
        ],
        &[
            "--mode",
            "d3pm-blosum",
            "--seed",
            "9",
            "--tokens",
            "evodiff",
        ],
    ];
    for p in protmask::presets::Preset::ALL {
        let preset = p.name();
        let overrides: &[&[&str]] = if p.facts().mode.d3pm().is_some() {
            &d3pm_overrides
        } else {
            &overrides
        };
        for (k, extra) in overrides.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            std::fs::copy(DATA, d.join("in.fa")).unwrap();
            for sub in ["a", "b"] {
                std::fs::create_dir(d.join(sub)).unwrap();
            }
            let mut args = vec!["mask", "in.fa", "-q", "-o", "a/m.fa.zst", "-r", "a/r.tsv"];
            args.extend(["--manifest", "a/m.json", "--preset", preset]);
            args.extend(extra.iter().copied());
            if extra.contains(&"--tokens") {
                args.extend(["--dataset", "a/d.jsonl"]);
            }
            ok(run_in(d, &args));
            let m = read_json(&d.join("a/m.json"));
            let line: Vec<String> = m["command_line"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().replace("a/", "b/"))
                .collect();
            let o = protmask()
                .current_dir(d)
                .args(["mask", "-q"])
                .args(&line[2..])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{preset} #{k}: {line:?}: {}",
                stderr(&o)
            );
            for name in ["m.fa.zst", "r.tsv", "d.jsonl"] {
                let (a, b) = (d.join("a").join(name), d.join("b").join(name));
                if a.exists() {
                    let same = std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap();
                    assert!(same, "{preset} #{k}: {name} differs; {line:?}");
                }
            }
            let again = read_json(&d.join("b/m.json"));
            assert_eq!(m["options"], again["options"], "{preset} #{k}");
        }
    }
}

/// A regions file over the size recorded as intervals is recorded by path; moved and
/// renamed, it is found (given to verify, or among regenerate's --input paths) and every
/// output regenerates byte for byte, the Parquet dataset too (its metadata records the
/// recorded path, not where the file was found).
#[test]
fn issue20_3_a_large_regions_file_moved_regenerates_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("orig.fa")).unwrap();
    let first_id = first_id();
    let big = format!("#{}\n{first_id}\t2\t40\n", "x".repeat(1 << 20));
    write(d, "cdr.bed", &big);
    std::fs::create_dir(d.join("set")).unwrap();
    let mut args = vec![
        "mask",
        "orig.fa",
        "-q",
        "-o",
        "set/m.fa",
        "--manifest",
        "set/m.json",
    ];
    args.extend(["--dataset", "set/d.parquet", "--tokens", "esm"]);
    args.extend(["--regions", "cdr.bed", "--schedule", "0.5"]);
    ok(run_in(d, &args));
    assert_eq!(
        read_json(&d.join("set/m.json"))["options"]["regions"]["path"],
        "cdr.bed"
    );
    std::fs::create_dir(d.join("moved")).unwrap();
    std::fs::rename(d.join("cdr.bed"), d.join("moved/renamed.bed")).unwrap();
    let mut args = verify_args("orig.fa", "set/d.parquet");
    args.extend(["--regions", "moved/renamed.bed"]);
    let o = run_in(d, &args);
    // A dataset is checked against ORIGINAL alone: --regions is refused with it, so the
    // FASTA output carries the check here.
    if !o.status.success() {
        let mut args = verify_args("orig.fa", "set/m.fa");
        args.extend(["--regions", "moved/renamed.bed"]);
        ok(run_in(d, &args));
    }
    let o = ok(run_in(
        d,
        &[
            "regenerate",
            "set/m.json",
            "--input",
            "moved",
            "--input",
            "orig.fa",
            "-C",
            "re",
        ],
    ));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("identical: re/d.parquet"), "{stdout}");
    assert!(stdout.contains("identical: re/m.fa"), "{stdout}");
}

// ---- manifests of 0.2.0 ---------------------------------------------------------------

/// Copy a set made by protmask 0.2.0 (tests/data/v020_*: manifest format 1, no content
/// digests, the regions file by path) into a fresh folder.
fn set_of_020(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// A manifest written by 0.2.0 (format 1) still verifies, and regenerates.
#[test]
fn a_manifest_of_0_2_0_still_verifies() {
    let dir = set_of_020("v020_set");
    let d = dir.path();
    let o = ok(run_in(
        d,
        &[
            "verify",
            "in.fa",
            "m.fa.gz",
            "-r",
            "m.csv",
            "--manifest",
            "m.json",
        ],
    ));
    assert!(
        stderr(&o).contains("2 outputs regenerate byte-identical"),
        "{}",
        stderr(&o)
    );
    let o = ok(run_in(d, &["regenerate", "m.json", "-C", "again"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("identical: again/m.fa.gz"));
}

/// A 0.2.0 set made with --span-max whose runs touched cannot regenerate under 0.3.0's
/// hard cap: verify says why and which version to use, not a bare mismatch.
#[test]
fn a_span_max_set_of_0_2_0_names_the_version_that_regenerates_it() {
    let dir = set_of_020("v020_span_max");
    let o = run_in(
        dir.path(),
        &["verify", "in.fa", "m.fa", "--manifest", "m.json"],
    );
    fails(
        &o,
        1,
        "made by protmask 0.2.0, whose --span-max let runs touch",
    );
    fails(&o, 1, "regenerate it with protmask 0.2.0");
}
