//! Regression tests named after the case of the issue that found them (issue 12: "Evaluation
//! sets that verify wherever they are moved, and the edges a new user hit"). Each failed
//! before its fix.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// `protmask mask ARGS` run in `dir`: success.
fn mask_in(dir: &Path, args: &[&str]) {
    protmask()
        .current_dir(dir)
        .arg("mask")
        .args(args)
        .assert()
        .success();
}

/// `protmask verify ARGS` run in `dir`: (exit code, stderr).
fn verify_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = protmask()
        .current_dir(dir)
        .arg("verify")
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A set made in `root/set` from NC_000932.faa, as the issue's repro does.
fn make_set(root: &Path) -> std::path::PathBuf {
    let set = root.join("set");
    std::fs::create_dir(&set).unwrap();
    std::fs::copy(DATA, set.join("NC_000932.faa")).unwrap();
    mask_in(
        &set,
        &[
            "NC_000932.faa",
            "--positions",
            "-o",
            "masked.fa",
            "-r",
            "rates.csv",
            "--manifest",
            "manifest.json",
            "-q",
        ],
    );
    set
}

#[test]
fn issue12_1_verify_a_set_from_another_folder() {
    let root = tempfile::tempdir().unwrap();
    let set = make_set(root.path());
    let args = [
        "set/NC_000932.faa",
        "set/masked.fa",
        "--rates",
        "set/rates.csv",
        "--manifest",
        "set/manifest.json",
    ];
    let (code, stderr) = verify_in(root.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("regenerate byte-identical"), "{stderr}");
    // `./x.fa` against `x.fa`, from inside the set.
    let dotted = [
        "./NC_000932.faa",
        "./masked.fa",
        "--rates",
        "./rates.csv",
        "--manifest",
        "./manifest.json",
    ];
    assert_eq!(verify_in(&set, &dotted).0, 0);
    // A renamed original, elsewhere.
    std::fs::copy(set.join("NC_000932.faa"), root.path().join("renamed.fa")).unwrap();
    let renamed = [
        "renamed.fa",
        "set/masked.fa",
        "--rates",
        "set/rates.csv",
        "--manifest",
        "set/manifest.json",
    ];
    let (code, stderr) = verify_in(root.path(), &renamed);
    assert_eq!(code, 0, "{stderr}");
    // The negative control: another original is refused by its checksum.
    let other = write(root.path(), "other.fa", ">x\nMKV\n");
    let mut wrong = renamed;
    wrong[0] = other.to_str().unwrap();
    let (code, stderr) = verify_in(root.path(), &wrong);
    assert_eq!(code, 1);
    assert!(stderr.contains("is not the one manifest"), "{stderr}");
}

#[test]
fn issue12_1_two_input_set_from_the_parent_folder() {
    let root = tempfile::tempdir().unwrap();
    let set = root.path().join("set");
    std::fs::create_dir(&set).unwrap();
    let text = std::fs::read_to_string(DATA).unwrap();
    let cut = text[1..].find('>').unwrap() + 1;
    write(&set, "a.fa", &text[..cut]);
    write(&set, "b.fa", &text[cut..]);
    write(&set, "all.fa", &text);
    mask_in(
        &set,
        &[
            "a.fa",
            "b.fa",
            "-o",
            "masked.fa",
            "-r",
            "rates.csv",
            "--manifest",
            "m.json",
            "-q",
        ],
    );
    let (code, stderr) = verify_in(
        root.path(),
        &[
            "set/all.fa",
            "set/masked.fa",
            "--rates",
            "set/rates.csv",
            "--manifest",
            "set/m.json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn issue12_3_a_set_made_from_stdin_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read(DATA).unwrap();
    std::fs::write(dir.path().join("in.fa"), &input).unwrap();
    protmask()
        .current_dir(dir.path())
        .args([
            "mask",
            "-q",
            "-o",
            "s.fa",
            "-r",
            "s.csv",
            "--manifest",
            "s.json",
        ])
        .write_stdin(input)
        .assert()
        .success();
    let manifest = std::fs::read_to_string(dir.path().join("s.json")).unwrap();
    assert!(
        manifest.contains("\"path\": \"-\""),
        "stdin recorded as '-'"
    );
    let (code, stderr) = verify_in(
        dir.path(),
        &["in.fa", "s.fa", "--rates", "s.csv", "--manifest", "s.json"],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Feed `bytes` into the named pipe `fifo` from another thread.
#[cfg(unix)]
fn feed(fifo: &Path, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        let _ = f.write_all(&bytes);
    })
}

/// A named pipe with `--manifest` hung: the digest reopened the pipe. Now `mask` hashes
/// while reading, and `verify` reads a pipe once (case 15 too: MASKED as a pipe).
#[cfg(unix)]
#[test]
fn issue12_2_and_15_named_pipes_with_a_manifest_do_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = std::fs::read(DATA).unwrap();
    std::fs::write(d.join("in.fa"), &input).unwrap();
    mkfifo(&d.join("f"));
    let writer = feed(&d.join("f"), input.clone());
    protmask()
        .current_dir(d)
        .args([
            "mask",
            "f",
            "-q",
            "-o",
            "x.fa",
            "-r",
            "x.csv",
            "--manifest",
            "m.json",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    writer.join().unwrap();
    // ORIGINAL through a pipe.
    let writer = feed(&d.join("f"), input);
    let (code, stderr) = verify_in(
        d,
        &["f", "x.fa", "--rates", "x.csv", "--manifest", "m.json"],
    );
    writer.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    // MASKED through a pipe (`verify ORIG <(cat masked.fa) --manifest m.json`).
    let writer = feed(&d.join("f"), std::fs::read(d.join("x.fa")).unwrap());
    let (code, stderr) = verify_in(d, &["in.fa", "f", "--manifest", "m.json"]);
    writer.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn issue12_4_tokens_that_cannot_be_tokens_are_usage_errors() {
    for token in ["\u{1}", "é", ";", "a;b", " x", ">x", "\t"] {
        let out = protmask()
            .args(["mask", "/nonexistent/in.fa", "--mask-token", token])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{token:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot be a mask token"),
            "{token:?}: {stderr}"
        );
    }
}

#[test]
fn issue12_7_a_missing_middle_replicate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    mask_in(
        d,
        &[
            "in.fa",
            "--replicates",
            "3",
            "-o",
            "m.fa",
            "-q",
            "--manifest",
            "m.json",
        ],
    );
    // Drop replicate 2 of the first record.
    let text = std::fs::read_to_string(d.join("m.fa")).unwrap();
    let records: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut skipping = false;
    for line in records {
        if line.starts_with('>') {
            skipping = line.split_whitespace().next().unwrap().ends_with("_r2")
                && out.matches('>').count() == 1;
        }
        if !skipping {
            out.push_str(line);
        }
    }
    std::fs::write(d.join("gap.fa"), &out).unwrap();
    let first_id = text[1..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches("_r1")
        .to_string();
    // Without a manifest the count is found from the first record's run.
    let (code, stderr) = verify_in(d, &["in.fa", "gap.fa"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("replicate {first_id}_r2 is missing")),
        "{stderr}"
    );
    // With the manifest the count is known (3) and the expected ID is named.
    let (code, stderr) = verify_in(d, &["in.fa", "gap.fa", "--manifest", "m.json"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("expected ID '{first_id}_r2'")),
        "{stderr}"
    );
}

#[test]
fn issue12_8_a_changed_rates_value_is_named_by_row_and_column() {
    let root = tempfile::tempdir().unwrap();
    let set = make_set(root.path());
    let table = std::fs::read_to_string(set.join("rates.csv")).unwrap();
    let mut lines: Vec<String> = table.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    let (id, old) = (fields[1].clone(), fields[5].clone());
    fields[5] = "0.5".into();
    lines[3] = fields.join(",");
    std::fs::write(set.join("rates.csv"), lines.join("\n") + "\n").unwrap();
    let (code, stderr) = verify_in(
        &set,
        &[
            "NC_000932.faa",
            "masked.fa",
            "--rates",
            "rates.csv",
            "--manifest",
            "manifest.json",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "row 3 ({id}, replicate 1): rate is '0.5' here, '{old}' when regenerated"
        )),
        "{stderr}"
    );
}

#[test]
fn issue12_10_a_refused_outdir_run_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    write(&a, "x.fa", ">a\nMK\n");
    write(&b, "x.fa", ">b\nMK\n");
    let out = dir.path().join("out");
    protmask()
        .arg("mask")
        .arg(a.join("x.fa"))
        .arg(b.join("x.fa"))
        .arg("-O")
        .arg(&out)
        .assert()
        .code(1);
    assert!(!out.exists(), "-O left its directory behind");
}

#[test]
fn issue12_12_a_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(DATA).unwrap();
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(&plain);
    let with = write(dir.path(), "bom.fa", &bom);
    let run = |p: &Path| {
        protmask()
            .arg("mask")
            .arg(p)
            .arg("-q")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    assert_eq!(run(&with), run(Path::new(DATA)));
    // Also behind gzip, and with a one-byte block size (the mark split across reads).
    let gz = write(dir.path(), "bom.fa.gz", gzip(&bom));
    assert_eq!(run(&gz), run(Path::new(DATA)));
    let tiny = protmask()
        .arg("mask")
        .arg(&with)
        .args(["-q", "--block-size", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(tiny, run(Path::new(DATA)));
}

/// NC_000932.faa with every `L` turned into `X`, so that an `X` token meets `X` residues.
fn with_x_residues(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(DATA).unwrap();
    let x: String = text
        .lines()
        .map(|l| match l.starts_with('>') {
            true => format!("{l}\n"),
            false => format!("{}\n", l.replace('L', "X")),
        })
        .collect();
    write(dir, "x.fa", x)
}

#[test]
fn issue12_4_residue_letter_token_warns_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_x_residues(d);
    // One warning, before any input is read (a missing input still gets it first), and
    // also with -q.
    let out = protmask()
        .current_dir(d)
        .args(["mask", "missing.fa", "--mask-token", "X", "-q"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("protmask: warning: the mask token 'X' is also a residue"));
    assert!(lines[1].contains("missing.fa"), "{stderr}");
    // The default token gives no warning.
    let out = protmask()
        .current_dir(d)
        .args(["mask", "x.fa", "-q", "-o", "plain.fa"])
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = protmask()
        .current_dir(d)
        .args(["mask", "x.fa", "--mask-token", "X", "--positions"])
        .args(["-r", "r.csv", "-o", "m.fa", "--manifest", "m.json", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    // Checked by the listed positions: with the table, with the manifest, with both.
    for args in [
        &["x.fa", "m.fa", "--rates", "r.csv", "--mask-token", "X"][..],
        &["x.fa", "m.fa", "--manifest", "m.json"],
        &["x.fa", "m.fa", "--rates", "r.csv", "--manifest", "m.json"],
    ] {
        let (code, stderr) = verify_in(d, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
    let (_, stderr) = verify_in(
        d,
        &["x.fa", "m.fa", "--rates", "r.csv", "--mask-token", "X"],
    );
    let rows = parse_rates(&std::fs::read_to_string(d.join("r.csv")).unwrap(), b',');
    let total: u64 = rows
        .iter()
        .map(|r| r["masked"].parse::<u64>().unwrap())
        .sum();
    assert!(
        stderr.contains(&format!(", {total} selected positions ({total} changed)")),
        "exact count from the positions: {stderr}"
    );

    // Negative controls: an unlisted residue turned into X, and a listed X turned back.
    let masked = std::fs::read_to_string(d.join("m.fa")).unwrap();
    let records = parse_fasta(&masked);
    let original = parse_fasta(&std::fs::read_to_string(d.join("x.fa")).unwrap());
    let listed: Vec<usize> = rows[0]["positions"]
        .split(';')
        .map(|p| p.parse().unwrap())
        .collect();
    let seq0 = original[0].1.as_bytes();
    let unlisted = (0..seq0.len())
        .find(|p| !listed.contains(p) && seq0[*p] != b'X')
        .unwrap();
    let listed_non_x = *listed.iter().find(|&&p| seq0[p] != b'X').unwrap();
    for (p, byte, want) in [
        (unlisted, b'X', format!("position {unlisted}: found 'X'")),
        (
            listed_non_x,
            seq0[listed_non_x],
            "but the FASTA shows".to_string(),
        ),
    ] {
        let mut seq = records[0].1.clone().into_bytes();
        seq[p] = byte;
        let mut text = format!(">{}\n{}\n", records[0].0, String::from_utf8(seq).unwrap());
        for (h, s) in &records[1..] {
            text.push_str(&format!(">{h}\n{s}\n"));
        }
        write(d, "bad.fa", text);
        let (code, stderr) = verify_in(
            d,
            &["x.fa", "bad.fa", "--rates", "r.csv", "--mask-token", "X"],
        );
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(&want), "{want}: {stderr}");
    }
}

/// `protmask mask ARGS` (stdin `input`): its warning lines.
fn warnings(args: &[&str], input: &[u8]) -> Vec<String> {
    let out = protmask()
        .arg("mask")
        .args(args)
        .write_stdin(input.to_vec())
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.starts_with("protmask: warning:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn issue12_5_duplicate_ids_warn_once() {
    let data = std::fs::read(DATA).unwrap();
    // Unique IDs: no warning.
    assert!(warnings(&[DATA, "-o", "/dev/null"], b"").is_empty());
    // A file given twice: every ID repeated, one line, the same whatever -j or block size
    // (also with -q).
    let twice = warnings(&[DATA, DATA, "-o", "/dev/null"], b"");
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(
        twice[0].contains("85 IDs occur more than once")
            && twice[0].contains("the first 'gi|7525080|ref|NP_051037.1|' (record 1 of ")
            && twice[0].contains("--replicates"),
        "{twice:?}"
    );
    for extra in [&["-j", "1"][..], &["-j", "2", "--block-size", "500", "-q"]] {
        let again = warnings(&[&[DATA, DATA, "-o", "/dev/null"][..], extra].concat(), b"");
        assert_eq!(again, twice, "{extra:?}");
    }
    // Within one input (stdin): two records share the ID of a later one; the first
    // repeated ID in input order is named, with its first record.
    let text = String::from_utf8(data).unwrap();
    let third = text.match_indices('>').nth(2).unwrap().0;
    let fourth = text.match_indices('>').nth(3).unwrap().0;
    let copy = &text[third..fourth];
    let input = format!("{text}{copy}{copy}");
    for extra in [&["-j", "1"][..], &["-j", "2", "--block-size", "300"]] {
        let w = warnings(
            &[&["-o", "/dev/null"][..], extra].concat(),
            input.as_bytes(),
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("1 ID occurs more than once"), "{w:?}");
        assert!(w[0].contains("(record 3 of -)"), "{w:?}");
    }
    // More IDs than the check keeps: a sample by hash, the same line for any -j and block
    // size, and a run whose IDs all repeat is still caught.
    let mut many = String::new();
    for i in 0..150_000 {
        many.push_str(&format!(">id{i}\nACD\n"));
    }
    let many = format!("{many}{many}");
    let a = warnings(&["-o", "/dev/null", "-j", "1"], many.as_bytes());
    let b = warnings(
        &["-o", "/dev/null", "-j", "2", "--block-size", "20000"],
        many.as_bytes(),
    );
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a, b);
    assert!(
        a[0].contains("in a sample of 1 in 2 of the IDs of 300000 records"),
        "{a:?}"
    );
}

#[test]
fn issue12_16_nothing_eligible_warns() {
    let w = warnings(&[DATA, "--maskable", "ZZZ", "-o", "/dev/null", "-q"], b"");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("no position of the 26409 residues read was eligible")
            && w[0].contains("--maskable 'ZZZ'"),
        "{w:?}"
    );
    // Lowercase does not match uppercase residues.
    let lower = warnings(
        &["--maskable", "acdefghiklmnpqrstvwy", "-o", "/dev/null"],
        b">a\nACD\n",
    );
    assert_eq!(lower.len(), 1, "{lower:?}");
    // Some eligible position, or no residue at all: no warning.
    assert!(warnings(&[DATA, "--maskable", "WZ", "-o", "/dev/null"], b"").is_empty());
    assert!(warnings(&["--maskable", "Z", "-o", "/dev/null"], b"").is_empty());
    assert!(warnings(&["--maskable", "Z", "-o", "/dev/null"], b">empty\n").is_empty());
}

/// Case 6: `verify` accepted residues that `mask` refuses (`>a\nAC1D` verified against
/// itself). Both now read through one record layer.
#[test]
fn issue12_6_verify_refuses_what_mask_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "d.fa", ">a\nAC1D\n");
    for cmd in [vec!["verify", "d.fa", "d.fa"], vec!["mask", "d.fa", "-q"]] {
        let out = protmask()
            .current_dir(dir.path())
            .args(&cmd)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("d.fa: record 1 (a): invalid residue '1' at sequence position 2"),
            "{cmd:?}: {stderr}"
        );
    }
    assert!(bad.exists());
}

/// Case 11: positions in messages are 0-based, like the table and `verify`.
#[test]
fn issue12_11_positions_in_messages_are_0_based() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.fa", ">a\nMKV\n>b\nMK V\n");
    let out = protmask()
        .current_dir(dir.path())
        .args(["mask", "d.fa", "-q"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The space is the third residue: position 2 counting from 0 (it said 3).
    assert!(stderr.contains("position 2 (0-based)"), "{stderr}");
}

/// Case 17: lowercase residues stay lowercase in the FASTA, and `--tokens esm` gives them
/// their uppercase letter's id, one id per residue (Hugging Face's tokenizer would merge a
/// lowercase run into one `<unk>`).
#[test]
fn issue12_17_lowercase_residues_take_their_uppercase_ids() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.fa", ">low\nmktaYIAK\n");
    protmask()
        .current_dir(dir.path())
        .args([
            "mask",
            "d.fa",
            "-q",
            "--schedule",
            "0",
            "--dataset",
            "d.jsonl",
        ])
        .args(["--tokens", "esm"])
        .assert()
        .success();
    let row: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("d.jsonl")).unwrap())
            .unwrap();
    assert_eq!(row["masked_sequence"], "mktaYIAK");
    // <cls> M K T A Y I A K <eos>, in the ESM alphabet.
    assert_eq!(
        row["input_ids"],
        serde_json::json!([0, 20, 15, 11, 5, 19, 12, 5, 15, 2])
    );
}

/// Case 18: `bash fuzz/run.sh 60`, as documented, failed on a fresh machine (stable Rust
/// rejects AddressSanitizer's flags). The default is now the sanitizer-free build, which
/// works on stable; AddressSanitizer is opt-in and says it needs nightly.
#[test]
fn issue12_18_the_documented_fuzz_command_defaults_to_what_stable_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("fuzz/run.sh")).unwrap();
    assert!(
        script.contains("sanitizer=${SANITIZER:-none}"),
        "fuzz/run.sh must default to no sanitizer"
    );
    let readme = std::fs::read_to_string(root.join("fuzz/README.md")).unwrap();
    assert!(readme.contains("bash fuzz/run.sh 60"));
    assert!(
        readme.contains("nightly"),
        "the README says what ASan needs"
    );
}

/// Issue 20, case 1: a manifest that cannot be written publishes nothing; the outputs
/// before it used to be renamed into place already. Outputs and manifest are now all
/// written, then all renamed.
#[test]
fn issue20_1_a_manifest_that_cannot_be_written_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("out")).unwrap();
    let out = protmask()
        .current_dir(d)
        .args(["mask", DATA, "-q", "-o", "out/m.fa", "-r", "out/m.csv"])
        .args(["--dataset", "out/m.parquet", "--manifest", "nodir/m.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot create manifest 'nodir/m.json'"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // The same run with a manifest that can be written publishes all four.
    mask_in(
        d,
        &[
            DATA,
            "-q",
            "-o",
            "out/m.fa",
            "-r",
            "out/m.csv",
            "--dataset",
            "out/m.parquet",
        ]
        .iter()
        .copied()
        .chain(["--manifest", "out/m.json"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(std::fs::read_dir(d.join("out")).unwrap().count(), 4);
}
