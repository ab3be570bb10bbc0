//! `protmask verify` and `--manifest`: a masking verifies; every kind of tampering fails
//! with a message that says what; a manifest regenerates byte-identical outputs.

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Set {
    dir: tempfile::TempDir,
}

impl Set {
    fn new() -> Set {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "in.fa", std::fs::read(DATA).unwrap());
        Set { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Mask with `extra`, writing masked.fa, rates.csv (with positions) and manifest.json.
    fn mask(&self, extra: &[&str]) {
        protmask()
            .current_dir(self.dir.path())
            .args(["mask", "-q", "in.fa", "-o", "masked.fa", "-r", "rates.csv"])
            .args(["--positions", "--manifest", "manifest.json"])
            .args(extra)
            .assert()
            .success();
    }

    fn verify(&self, extra: &[&str]) -> (bool, String) {
        let out = protmask()
            .current_dir(self.dir.path())
            .args(["verify", "in.fa", "masked.fa"])
            .args(extra)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0) | Some(1)), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        }
        (out.status.success(), stderr)
    }

    fn fails(&self, extra: &[&str], needles: &[&str]) {
        let (ok, stderr) = self.verify(extra);
        assert!(!ok, "verify passed but should fail ({needles:?})");
        for n in needles {
            assert!(stderr.contains(n), "'{n}' not in: {stderr}");
        }
    }

    fn edit(&self, name: &str, f: impl FnOnce(String) -> String) {
        let p = self.path(name);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, f(text)).unwrap();
    }
}

const FULL: &[&str] = &["--rates", "rates.csv", "--manifest", "manifest.json"];

#[test]
fn every_preset_verifies_with_rates_and_manifest() {
    for &preset in protmask::presets::Preset::NAMES {
        let set = Set::new();
        set.mask(&["--preset", preset]);
        let (ok, stderr) = set.verify(FULL);
        assert!(ok, "{preset}: {stderr}");
        assert!(stderr.contains("85 records") && stderr.contains("regenerate byte-identical"));
    }
    // Replicates, a mixture, compression and a different seed too.
    let set = Set::new();
    protmask()
        .current_dir(set.dir.path())
        .args([
            "mask",
            "-q",
            "in.fa",
            "-o",
            "masked.fa.gz",
            "-r",
            "rates.tsv.gz",
        ])
        .args(["--manifest", "m.json", "--replicates", "3", "--seed", "11"])
        .args(["--schedule", "0.5*cosine+0.5*beta(2,5)", "--positions"])
        .assert()
        .success();
    let out = protmask()
        .current_dir(set.dir.path())
        .args([
            "verify",
            "in.fa",
            "masked.fa.gz",
            "-r",
            "rates.tsv.gz",
            "--manifest",
            "m.json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("x 3 replicates"));
}

#[test]
fn a_changed_residue_at_an_unselected_position_fails() {
    let set = Set::new();
    set.mask(&[]);
    // Record 1's sequence starts with M, unmasked or masked; make it a W that is neither.
    set.edit("masked.fa", |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        let line = &mut lines[1];
        let (i, c) = line
            .char_indices()
            .find(|(_, c)| *c != '_')
            .expect("an unmasked residue");
        assert_ne!(c, 'W');
        line.replace_range(i..i + 1, "W");
        lines.join("\n") + "\n"
    });
    set.fails(&[], &["masked.fa", "record 1", "found 'W'"]);
}

#[test]
fn a_removed_record_fails() {
    let set = Set::new();
    set.mask(&[]);
    set.edit("masked.fa", |t| {
        let records: Vec<&str> = t.split_inclusive('\n').collect();
        let starts: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].starts_with('>'))
            .collect();
        [&records[..starts[4]], &records[starts[5]..]]
            .concat()
            .concat()
    });
    set.fails(
        &[],
        &["record 5", "expected ID", "removed, added or reordered"],
    );
    // And the last one: the masked file ends early.
    set.mask(&[]);
    set.edit("masked.fa", |t| {
        let cut = t.rfind("\n>").unwrap() + 1;
        t[..cut].to_string()
    });
    set.fails(&[], &["ends after 84 records"]);
}

#[test]
fn reordered_records_fail() {
    let set = Set::new();
    set.mask(&[]);
    set.edit("masked.fa", |t| {
        let mut recs: Vec<String> = t.split('>').skip(1).map(|r| format!(">{r}")).collect();
        recs.swap(2, 3);
        recs.concat()
    });
    set.fails(&[], &["record 3", "expected ID"]);
}

#[test]
fn a_changed_header_fails() {
    let set = Set::new();
    set.mask(&[]);
    set.edit("masked.fa", |t| {
        t.replacen("ribosomal protein S12", "ribosomal protein S13", 1)
    });
    set.fails(&[], &["record 1", "header differs"]);
}

#[test]
fn edited_rates_rows_fail() {
    let set = Set::new();
    set.mask(&[]);
    // The masked count of row 2.
    set.edit("rates.csv", |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
        let k: u64 = f[6].parse().unwrap();
        f[6] = (k + 1).to_string();
        lines[2] = f.join(",");
        lines.join("\n") + "\n"
    });
    set.fails(&["--rates", "rates.csv"], &["rates.csv", "row 2", "masked"]);
    // A listed position moved.
    set.mask(&[]);
    set.edit("rates.csv", |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        let mut f: Vec<String> = lines[1].split(',').map(str::to_string).collect();
        let mut pos: Vec<u64> = f[7].split(';').map(|p| p.parse().unwrap()).collect();
        let last = pos.len() - 1;
        pos[last] += 1000; // beyond the sequence: no longer matches the FASTA
        f[7] = pos.iter().map(u64::to_string).collect::<Vec<_>>().join(";");
        lines[1] = f.join(",");
        lines.join("\n") + "\n"
    });
    set.fails(&["--rates", "rates.csv"], &["row 1", "listed"]);
    // The rate of a row: only the manifest can tell.
    set.mask(&[]);
    set.edit("rates.csv", |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        let mut f: Vec<String> = lines[3].split(',').map(str::to_string).collect();
        f[5] = "0.5".into();
        lines[3] = f.join(",");
        lines.join("\n") + "\n"
    });
    assert!(set.verify(&["--rates", "rates.csv"]).0);
    set.fails(FULL, &["rates.csv", "not the rates table recorded"]);
}

#[test]
fn a_rates_table_with_wrong_columns_fails() {
    let set = Set::new();
    set.mask(&[]);
    set.edit("rates.csv", |t| {
        t.replacen("file,id,replicate", "file,name,replicate", 1)
    });
    set.fails(
        &["--rates", "rates.csv"],
        &["columns are", "file,id,replicate,length,t,rate,masked"],
    );
}

#[test]
fn a_wrong_token_fails_and_the_right_one_passes() {
    let set = Set::new();
    set.mask(&["--mask-token", "<mask>"]);
    set.fails(&[], &["found '<'", "--mask-token"]);
    assert!(set.verify(&["--mask-token", "<mask>"]).0);
    assert!(
        set.verify(&["--manifest", "manifest.json"]).0,
        "the manifest knows the token"
    );
}

#[test]
fn an_extra_record_fails() {
    let set = Set::new();
    set.mask(&[]);
    set.edit("masked.fa", |t| t + ">extra\nMKV\n");
    set.fails(&[], &["record 86 (extra) has no counterpart"]);
}

#[test]
fn manifest_problems_are_named() {
    let set = Set::new();
    set.mask(&[]);
    // A different input.
    set.edit("in.fa", |t| t.replacen("MPTIKQ", "MPTIKA", 1));
    set.fails(
        &["--manifest", "manifest.json"],
        &["is not the one manifest", "SHA-256"],
    );
    // Another tool's manifest.
    let set = Set::new();
    set.mask(&[]);
    set.edit("manifest.json", |t| {
        t.replacen("\"tool\": \"protmask\"", "\"tool\": \"othermask\"", 1)
    });
    set.fails(
        &["--manifest", "manifest.json"],
        &["written by 'othermask'"],
    );
    // A newer RNG scheme.
    let set = Set::new();
    set.mask(&[]);
    set.edit("manifest.json", |t| {
        t.replacen("\"rng_scheme\": 1", "\"rng_scheme\": 2", 1)
    });
    set.fails(&["--manifest", "manifest.json"], &["RNG scheme 2, newer"]);
    // Not JSON at all.
    set.edit("manifest.json", |_| "hello".into());
    set.fails(
        &["--manifest", "manifest.json"],
        &["not a protmask manifest"],
    );
}

#[test]
fn a_missing_input_of_a_multi_input_manifest_is_named() {
    let set = Set::new();
    let second = write(set.dir.path(), "second.fa", ">x\nMKVL\n");
    protmask()
        .current_dir(set.dir.path())
        .args([
            "mask",
            "-q",
            "in.fa",
            "second.fa",
            "-o",
            "masked.fa",
            "--manifest",
            "m.json",
        ])
        .assert()
        .success();
    std::fs::remove_file(&second).unwrap();
    let out = protmask()
        .current_dir(set.dir.path())
        .args(["verify", "in.fa", "masked.fa", "--manifest", "m.json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("input 'second.fa' is missing"));
}

#[test]
fn a_manifest_regenerates_byte_identical_outputs_elsewhere() {
    // Make the set in one directory, move everything to another: verify regenerates from
    // the manifest (inputs found beside it) and compares SHA-256.
    let set = Set::new();
    set.mask(&["--preset", "esm2", "--replicates", "2"]);
    let moved = tempfile::tempdir().unwrap();
    for f in ["in.fa", "masked.fa", "rates.csv", "manifest.json"] {
        std::fs::copy(set.path(f), moved.path().join(f)).unwrap();
    }
    let out = protmask()
        .current_dir(moved.path())
        .args([
            "verify",
            "in.fa",
            "masked.fa",
            "-r",
            "rates.csv",
            "--manifest",
            "manifest.json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 outputs regenerate byte-identical"));
    // The manifest itself is reproducible: a second run writes the same options and
    // checksums.
    let m1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.path("manifest.json")).unwrap()).unwrap();
    set.mask(&["--preset", "esm2", "--replicates", "2"]);
    let m2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.path("manifest.json")).unwrap()).unwrap();
    assert_eq!(m1["outputs"], m2["outputs"]);
    assert_eq!(m1["options"]["seed"], 42);
    assert_eq!(m1["rng_scheme"], 1);
    assert_eq!(m1["inputs"][0]["records"], 85);
    assert_eq!(m1["outputs"][0]["records"], 170);
    assert_eq!(
        m1["inputs"][0]["sha256"].as_str().unwrap(),
        sha256_hex(Path::new(DATA))
    );
}

/// A compressed output made by another compressor (here: gzip at level 1 instead of BGZF
/// at level 6, as a future protmask or its deflate library might) still verifies: the
/// manifest records the uncompressed content's SHA-256 too, and regeneration accepts an
/// output whose content is identical. A manifest without content digests (older builds)
/// is served by the recorded file given as MASKED. A different content still fails.
#[test]
fn a_compressed_output_regenerates_by_content_whatever_the_compressor() {
    use std::io::{Read, Write};
    let set = Set::new();
    let d = set.dir.path();
    protmask()
        .current_dir(d)
        .args([
            "mask",
            "-q",
            "in.fa",
            "-o",
            "masked.fa.gz",
            "-r",
            "rates.csv",
        ])
        .args(["--manifest", "manifest.json"])
        .assert()
        .success();
    let mut content = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(d.join("masked.fa.gz")).unwrap())
        .read_to_end(&mut content)
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    let fasta = &manifest["outputs"][0];
    assert_eq!(fasta["role"], "fasta");
    assert_eq!(fasta["content_bytes"], content.len() as u64);
    assert_eq!(
        fasta["content_sha256"].as_str().unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content))
    );
    // The plain rates table: its bytes are its content (manifest version 2 records both).
    assert_eq!(
        manifest["outputs"][1]["content_sha256"],
        manifest["outputs"][1]["sha256"]
    );

    // Recompress the same content differently and record that file instead.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    gz.write_all(&content).unwrap();
    let other = gz.finish().unwrap();
    assert_ne!(other, std::fs::read(d.join("masked.fa.gz")).unwrap());
    std::fs::write(d.join("masked.fa.gz"), &other).unwrap();
    let recorded = |m: &mut serde_json::Value| {
        m["outputs"][0]["sha256"] =
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&other)).into();
        m["outputs"][0]["bytes"] = (other.len() as u64).into();
    };
    let write_manifest = |m: &serde_json::Value| {
        std::fs::write(
            d.join("manifest.json"),
            serde_json::to_string_pretty(m).unwrap(),
        )
        .unwrap()
    };
    let verify = || {
        protmask()
            .current_dir(d)
            .args(["verify", "in.fa", "masked.fa.gz", "-r", "rates.csv"])
            .args(["--manifest", "manifest.json"])
            .output()
            .unwrap()
    };
    let mut m = manifest.clone();
    recorded(&mut m);
    write_manifest(&m);
    let out = verify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 output regenerates byte-identical, 1 more with identical content"),
        "{stderr}"
    );

    // An older manifest without content digests: the recorded file given as MASKED serves.
    let mut old = m.clone();
    for key in ["content_bytes", "content_sha256"] {
        old["outputs"][0].as_object_mut().unwrap().remove(key);
    }
    write_manifest(&old);
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A recorded content that differs from what the job gives is still a failure.
    let mut wrong = m.clone();
    wrong["outputs"][0]["content_sha256"] = "0".repeat(64).into();
    write_manifest(&wrong);
    let out = verify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does not reproduce fasta output") && stderr.contains("uncompressed"),
        "{stderr}"
    );
}

fn sha256_hex(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// Stratified timesteps make an evaluation set's rates cover the distribution evenly: the
/// largest gap between the sorted rates' CDF values (on the circle) is below 2/n.
#[test]
fn stratified_rates_have_low_discrepancy() {
    let schedule = protmask::schedule::Schedule::parse("betalinear30").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for n in [1000usize, 777] {
        let input = write(dir.path(), "in.fa", synthetic_fasta(n, 31));
        let gap = |timesteps: &str| {
            let rates = dir.path().join("r.csv");
            protmask()
                .arg("mask")
                .arg(&input)
                .args(["-q", "-o", "/dev/null", "--timesteps", timesteps, "-r"])
                .arg(&rates)
                .assert()
                .success();
            let mut u: Vec<f64> = parse_rates(&std::fs::read_to_string(&rates).unwrap(), b',')
                .iter()
                .map(|r| schedule.cdf(r["rate"].parse().unwrap()))
                .collect();
            u.sort_by(f64::total_cmp);
            u.windows(2)
                .map(|w| w[1] - w[0])
                .fold(u[0] + 1.0 - u[n - 1], f64::max)
        };
        let stratified = gap("stratified");
        assert!(
            stratified < 2.0 / n as f64,
            "n={n}: stratified gap {stratified}"
        );
        let iid = gap("iid");
        assert!(
            iid > 2.0 / n as f64,
            "n={n}: iid gap {iid} (the test must tell them apart)"
        );
    }
}

/// The library's `check::run` is what the command runs: the same numbers, and a failure
/// as a value that says where (file, record, position) and what (found, expected).
#[test]
fn the_library_reports_what_and_where() {
    use protmask::check::{self, Place, Request, Unexpected, VerifyError};
    let set = Set::new();
    set.mask(&[]);
    let path = |name: &str| set.path(name).display().to_string();
    let request = Request {
        original: path("in.fa"),
        masked: path("masked.fa"),
        rates: Some(set.path("rates.csv")),
        manifest: Some(set.path("manifest.json")),
        ..Request::default()
    };
    let report = check::run(&request).unwrap();
    assert_eq!((report.verified.records, report.verified.rows), (85, 85));
    assert_eq!(report.regenerated.unwrap().identical, 2);

    // Record 1 starts with M, masked or not: a W there is neither.
    set.edit("masked.fa", |t| {
        let at = t.find('\n').unwrap() + 1;
        format!("{}W{}", &t[..at], &t[at + 1..])
    });
    let plain = Request {
        rates: None,
        manifest: None,
        ..request
    };
    match check::run(&plain).unwrap_err() {
        VerifyError::Residue {
            at,
            position: 0,
            found: b'W',
            expected: b'M',
            why: Unexpected::NotToken { token },
        } => {
            assert_eq!(&*at.file, path("masked.fa"));
            assert!(matches!(at.place, Place::Record { number: 1, .. }));
            assert_eq!(token, "_");
        }
        other => panic!("not a residue error: {other}"),
    }
    set.edit("in.fa", |t| t.replacen("MPTIKQ", "MPTIKA", 1));
    let with_manifest = Request {
        manifest: Some(set.path("manifest.json")),
        ..plain
    };
    match check::run(&with_manifest).unwrap_err() {
        VerifyError::DigestMismatch { digests, .. } => {
            assert_ne!(digests.recorded.sha256, digests.found.sha256)
        }
        other => panic!("not a digest error: {other}"),
    }
}
