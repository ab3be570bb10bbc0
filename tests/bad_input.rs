//! Bad input and bad options: a one-line error naming the file and the record, the right
//! exit code, and nothing left at the output paths (a file already there stays as it was).

mod common;

use common::*;
use std::path::Path;

/// Run `mask` on `input` with outputs in a fresh directory; assert exit 1, a one-line
/// message containing every `needles`, and that no output (nor temp file) was left.
fn fails(input: &Path, extra: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("out.fa");
    let rates = dir.path().join("rates.csv");
    let out = protmask()
        .arg("mask")
        .arg(input)
        .arg("-o")
        .arg(&fa)
        .arg("-r")
        .arg(&rates)
        .args(extra)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("protmask: error: "), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "'{n}' missing from: {stderr}");
    }
    assert!(!stderr.contains("panick"));
    assert!(
        dir_entries(dir.path()).is_empty(),
        "left behind: {:?}",
        dir_entries(dir.path())
    );
}

#[test]
fn fastq_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "reads.fq", "@r1\nACGT\n+\nIIII\n");
    fails(&p, &[], &["reads.fq", "record 1", "FASTQ"]);
}

#[test]
fn binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let p = write(dir.path(), "blob.bin", bytes);
    fails(&p, &[], &["blob.bin", "record 1"]);
}

#[test]
fn text_before_the_first_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.fa", "hello\n>a\nMK\n");
    fails(&p, &[], &["x.fa", "record 1", "before the first '>'"]);
}

#[test]
fn bad_record_deep_in_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = synthetic_fasta(3000, 10);
    text.push_str(">broken desc\nMK1LV\n");
    let p = write(dir.path(), "deep.fa", text);
    for j in ["1", "2"] {
        fails(
            &p,
            &["-j", j, "--block-size", "5000"],
            &[
                "deep.fa",
                "record 3001",
                "(broken)",
                "'1'",
                "position 2 (0-based)",
            ],
        );
    }
}

#[test]
fn non_utf8_and_nul_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "h.fa", b">a\nMK\n>b \xff\xfe\nMK\n");
    fails(&p, &[], &["h.fa", "record 2"]);
    let p = write(dir.path(), "n.fa", b">a\nM\0K\n");
    fails(&p, &[], &["n.fa", "record 1", "(a)", "0x00"]);
}

#[test]
fn bare_header_is_refused_not_taken_for_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bare.fa", ">a\nMK\n>\n>c\nMK\n");
    fails(&p, &[], &["bare.fa", "record 2", "no ID"]);
}

#[test]
fn truncated_gzip_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzip(synthetic_fasta(400, 11).as_bytes());
    let p = write(dir.path(), "cut.fa.gz", &gz[..gz.len() / 2]);
    fails(&p, &[], &["cut.fa.gz"]);
}

#[test]
fn missing_file_is_refused() {
    fails(Path::new("/nonexistent/missing.fa"), &[], &["missing.fa"]);
}

#[test]
fn an_existing_output_survives_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.fa", ">a\nMK\n>b\nM K\n");
    let fa = write(dir.path(), "out.fa", "precious\n");
    protmask()
        .arg("mask")
        .arg(&bad)
        .arg("-o")
        .arg(&fa)
        .assert()
        .code(1);
    assert_eq!(std::fs::read_to_string(&fa).unwrap(), "precious\n");
    assert_eq!(dir_entries(dir.path()), ["bad.fa", "out.fa"]);
}

#[test]
fn second_input_failing_leaves_no_outputs_in_outdir() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.fa", synthetic_fasta(20, 12));
    let bad = write(dir.path(), "bad.fa", "@fastq\nAC\n+\nII\n");
    let out = dir.path().join("out");
    protmask()
        .arg("mask")
        .args([&good, &bad])
        .arg("-O")
        .arg(&out)
        .assert()
        .code(1);
    // The directory the run made goes too (issue 20, finding 12).
    assert!(!out.exists(), "{:?}", dir_entries(&out));
}

#[test]
fn output_that_is_an_input_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.fa", ">a\nMK\n");
    let out = protmask()
        .arg("mask")
        .arg(&p)
        .arg("-o")
        .arg(&p)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("same file"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ">a\nMK\n");
    // The rates table too (named as a table), and an outdir that would write over its
    // input.
    let table = write(dir.path(), "x.csv", ">a\nMK\n");
    protmask()
        .arg("mask")
        .arg(&table)
        .args(["-o", "-", "-r"])
        .arg(&table)
        .assert()
        .code(1);
    assert_eq!(std::fs::read_to_string(&table).unwrap(), ">a\nMK\n");
    protmask()
        .arg("mask")
        .arg(&p)
        .arg("-O")
        .arg(dir.path())
        .assert()
        .code(1);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ">a\nMK\n");
}

#[test]
fn bad_options_are_usage_errors_before_any_input_is_read() {
    // The input does not exist: an option error must come first, with exit 2.
    for (args, needle) in [
        (&["--schedule", "cosin"][..], "cosin"),
        (&["--schedule", "0.5*linear + 0.4*cosine"], "sum"),
        (&["--schedule", "beta(0,2)"], "beta"),
        (&["--corrupt", "0.8,0.1,0.2"], "sum"),
        (&["--corrupt", "0.8,0.2"], "three"),
        (&["--mask-token", ""], "empty"),
        (&["--mask-token", ">x"], ">"),
        (&["--preset", "bert"], "bert"),
        (&["--mode", "sometimes"], "sometimes"),
        (&["--replicates", "0"], "0"),
        (&["-j", "0"], "0"),
    ] {
        let out = protmask()
            .arg("mask")
            .arg("/nonexistent/input.fa")
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("input.fa"),
            "{args:?} read the input: {stderr}"
        );
    }
}

#[test]
fn bad_paths_are_runtime_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.fa", ">a\nMK\n");
    let run = |args: &[&str]| {
        let out = protmask()
            .arg("mask")
            .arg(&p)
            .args(args)
            .assert()
            .code(1)
            .get_output()
            .clone();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["-o", "/nonexistent/dir/out.fa"]).contains("/nonexistent/dir/out.fa"));
}

/// Issue 12, point 9: flags that cannot work together, or a table name that is neither
/// CSV nor TSV, are usage errors (exit 2), before anything is read or written.
#[test]
fn issue12_9_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.fa", ">a\nMK\n");
    let out = dir.path().join("o.fa");
    let o = out.to_str().unwrap();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    for (stdin, args, needle) in [
        (false, vec!["-r", "rates.txt"], ".csv or .tsv"),
        (false, vec!["-r", "-"], "not stdout"),
        (false, vec!["--compress", "gz", "-o", o], "--compress"),
        (true, vec!["-O", d], "stdin"),
    ] {
        let mut cmd = protmask();
        cmd.arg("mask");
        if stdin {
            cmd.write_stdin(">a\nMK\n");
        } else {
            cmd.arg(&p);
        }
        let res = cmd.args(&args).assert().code(2).get_output().clone();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panick"));
    }
    assert!(!out.exists());
    assert!(!std::path::Path::new(d).exists(), "-O made its directory");
}
