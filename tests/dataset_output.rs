//! Issue 22, items 4 and 5: `--parquet-compression` (snappy, the default, leaves the
//! residue text uncompressed; zstd compresses every column; none compresses nothing) and
//! `--dataset -` (JSON Lines on stdout). The codecs are read back from each file's footer
//! (pyarrow reads them too: tests/python/test_dataset.py).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// Each column's codec in every row group (one entry per column; a column whose row
/// groups disagree fails), and the file's key-value metadata.
fn codecs(path: &Path) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    let mut out = BTreeMap::new();
    for group in meta.row_groups() {
        for column in group.columns() {
            let codec = match column.compression() {
                Compression::ZSTD(_) => "ZSTD".to_string(),
                c => c.to_string(),
            };
            let old = out.insert(column.column_path().string(), codec.clone());
            assert!(old.is_none_or(|o| o == codec), "{}", column.column_path());
        }
    }
    let kv = (meta
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten())
    .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
    .collect();
    (out, kv)
}

/// `mask` on `input` in `dir` with `args`, a dataset at `name`; its size.
fn dataset(dir: &Path, input: &str, name: &str, args: &[&str]) -> u64 {
    protmask()
        .current_dir(dir)
        .args(["mask", "-q", input, "--dataset", name])
        .args(args)
        .assert()
        .success();
    std::fs::metadata(dir.join(name)).unwrap().len()
}

/// On data/ and on a generated set, with and without token ids: the default is Snappy on
/// every column but the residue text (as before the flag: `snappy` given is the same
/// bytes), zstd compresses every column and makes a smaller file, none compresses
/// nothing; every file verifies against the original.
#[test]
fn issue22_parquet_compression_sets_every_column_and_zstd_is_smaller() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("data.fa")).unwrap();
    write(d, "gen.fa", synthetic_fasta(3000, 22));
    for input in ["data.fa", "gen.fa"] {
        for tokens in [&[][..], &["--tokens", "esm"][..]] {
            let default = dataset(d, input, "default.parquet", tokens);
            let args = [tokens, &["--parquet-compression", "snappy"]].concat();
            let snappy = dataset(d, input, "snappy.parquet", &args);
            assert_eq!(snappy, default);
            assert_eq!(
                std::fs::read(d.join("snappy.parquet")).unwrap(),
                std::fs::read(d.join("default.parquet")).unwrap(),
                "{input} {tokens:?}: snappy given is not the default's bytes"
            );
            let (columns, _) = codecs(&d.join("default.parquet"));
            assert_eq!(columns.len(), if tokens.is_empty() { 11 } else { 13 });
            for (column, codec) in &columns {
                let text = column == "sequence" || column == "masked_sequence";
                let want = if text { "UNCOMPRESSED" } else { "SNAPPY" };
                assert_eq!(codec, want, "default: {column}");
            }
            let mut sizes = BTreeMap::new();
            for (codec, want) in [
                ("zstd", "ZSTD"),
                ("zstd:9", "ZSTD"),
                ("zstd:1", "ZSTD"),
                ("none", "UNCOMPRESSED"),
            ] {
                let args = [tokens, &["--parquet-compression", codec]].concat();
                sizes.insert(codec, dataset(d, input, "z.parquet", &args));
                let (columns, _) = codecs(&d.join("z.parquet"));
                assert!(columns.values().all(|c| c == want), "{codec}: {columns:?}");
                protmask()
                    .current_dir(d)
                    .args(["verify", "-q", input, "z.parquet"])
                    .assert()
                    .success();
            }
            assert!(
                sizes["zstd"] < default && sizes["zstd:9"] < default,
                "{input} {tokens:?}: zstd {sizes:?} not smaller than snappy {default}"
            );
            assert!(sizes["none"] > default, "{sizes:?} vs {default}");
        }
    }
}

/// A file flag like `--compress`: recorded (as given, level included) in the manifest's
/// options and command line and in the file's own options, only when not the default, and
/// `regenerate` rebuilds the same bytes.
#[test]
fn issue22_parquet_compression_is_recorded_and_regenerates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    let mask = |name: &str, extra: &[&str]| {
        protmask()
            .current_dir(d)
            .args(["mask", "-q", "in.fa", "--dataset", name, "--tokens", "esm"])
            .args(extra)
            .assert()
            .success();
    };
    mask("s.parquet", &["--manifest", "s.json"]);
    let m = std::fs::read_to_string(d.join("s.json")).unwrap();
    assert!(!m.contains("parquet_compression") && !m.contains("--parquet-compression"));
    let (_, kv) = codecs(&d.join("s.parquet"));
    assert!(!kv["protmask.options"].contains("parquet_compression"));

    mask(
        "z.parquet",
        &["--parquet-compression", "zstd:9", "--manifest", "z.json"],
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("z.json")).unwrap()).unwrap();
    assert_eq!(m["options"]["parquet_compression"], "zstd:9");
    let line: Vec<&str> = (m["command_line"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(line.contains(&"--parquet-compression=zstd:9"), "{line:?}");
    let (_, kv) = codecs(&d.join("z.parquet"));
    let options: serde_json::Value = serde_json::from_str(&kv["protmask.options"]).unwrap();
    assert_eq!(options["parquet_compression"], "zstd:9");
    let out = protmask()
        .current_dir(d)
        .args(["regenerate", "z.json", "-C", "re"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("identical: re/z.parquet"), "{stdout}");
    assert_eq!(
        std::fs::read(d.join("re/z.parquet")).unwrap(),
        std::fs::read(d.join("z.parquet")).unwrap()
    );
    // A bare `zstd` is recorded with its level.
    mask("y.parquet", &["--parquet-compression", "zstd", "-s", "1"]);
    let (_, kv) = codecs(&d.join("y.parquet"));
    assert!(kv["protmask.options"].contains("\"parquet_compression\":\"zstd:1\""));
}

/// `--dataset -` writes the bytes `--dataset x.jsonl` writes, to stdout; `--compress`
/// compresses it there; a FASTA goes to `-o FILE` beside it, the same as without it;
/// a manifest records it and `regenerate` rebuilds it (as `stdout`).
#[test]
fn issue22_dataset_on_stdout_equals_the_jsonl_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    let run = |args: &[&str]| -> Vec<u8> {
        let out = protmask()
            .current_dir(d)
            .args([
                "mask",
                "-q",
                "in.fa",
                "--tokens",
                "esm",
                "--replicates",
                "2",
            ])
            .args(args)
            .assert()
            .success();
        out.get_output().stdout.clone()
    };
    assert!(run(&["--dataset", "x.jsonl", "-o", "x.fa"]).is_empty());
    let file = std::fs::read(d.join("x.jsonl")).unwrap();
    assert!(file.len() > 10_000);
    assert_eq!(run(&["--dataset", "-"]), file);
    let piped = run(&["--dataset", "-", "-o", "y.fa", "--compress", "zst"]);
    assert_eq!(zstd::decode_all(&piped[..]).unwrap(), file);
    assert_eq!(
        std::fs::read(d.join("y.fa")).unwrap(),
        std::fs::read(d.join("x.fa")).unwrap()
    );
    assert!(run(&["--dataset", "-", "--manifest", "m.json"]) == file);
    let m = std::fs::read_to_string(d.join("m.json")).unwrap();
    assert!(m.contains("\"--dataset=-\""), "{m}");
    protmask()
        .current_dir(d)
        .args(["regenerate", "-q", "m.json", "-C", "re"])
        .assert()
        .success();
    assert_eq!(std::fs::read(d.join("re/stdout")).unwrap(), file);
    // verify takes the manifest with the rows saved from stdout, or piped back in.
    protmask()
        .current_dir(d)
        .args(["verify", "-q", "in.fa", "x.jsonl", "--manifest", "m.json"])
        .assert()
        .success();
    protmask()
        .current_dir(d)
        .args(["verify", "-q", "in.fa", "-", "--manifest", "m.json"])
        .write_stdin(file.clone())
        .assert()
        .success();
}

/// `mask --dataset - | protmask verify ORIGINAL -`: verify reads the dataset from stdin.
#[test]
fn issue22_verify_reads_the_dataset_from_stdin() {
    let masked = protmask()
        .args(["mask", "-q", DATA, "--dataset", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = protmask()
        .args(["verify", DATA, "-"])
        .write_stdin(masked.clone())
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("verified 85 records"), "{err}");
    // And a changed row is caught from stdin too.
    let text = String::from_utf8(masked).unwrap();
    let tampered = text.replacen("\"masked\":", "\"masked\":1", 1);
    assert_ne!(tampered, text);
    protmask()
        .args(["verify", DATA, "-"])
        .write_stdin(tampered)
        .assert()
        .code(1);
}

/// `--dataset - | head -1`: the closed pipe ends the run quietly, as with the FASTA.
#[test]
fn issue22_dataset_on_stdout_closed_pipe_is_quiet() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "big.fa", synthetic_fasta(20_000, 9));
    let mut child = Command::new(common::protmask_path())
        .args(["mask", "--dataset", "-"])
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("{\"file\":"), "{line}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// Bad values and flags that cannot work: exit 2, one error line naming the accepted forms
/// or the clash, nothing written.
#[test]
fn issue22_bad_compression_and_stdout_clashes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let forms = "expected snappy, zstd, zstd:LEVEL (LEVEL 1 to 22";
    for (args, says) in [
        (
            &["--dataset", "d.parquet", "--parquet-compression", "zstd:23"][..],
            forms,
        ),
        (
            &["--dataset", "d.parquet", "--parquet-compression", "zstd:x"],
            forms,
        ),
        (
            &["--dataset", "d.parquet", "--parquet-compression", "gzip"],
            forms,
        ),
        (
            &["--dataset", "d.parquet", "--parquet-compression", "ZSTD"],
            forms,
        ),
        (
            &["--dataset", "d.parquet", "--parquet-compression", ""],
            forms,
        ),
        (
            &["--dataset", "d.jsonl", "--parquet-compression", "zstd"],
            "'d.jsonl' is JSON Lines",
        ),
        (
            &["--dataset", "-", "--parquet-compression", "zstd"],
            "'-' is JSON Lines",
        ),
        (&["--parquet-compression", "zstd"], "--dataset <PATH>"),
        (&["--dataset", "-", "-o", "-"], "cannot both go to stdout"),
        (
            &["--dataset", "d.parquet", "--compress", "gz"],
            "--compress applies to the FASTA on stdout",
        ),
    ] {
        let out = protmask()
            .current_dir(dir.path())
            .arg("mask")
            .arg(DATA)
            .args(args)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(out.get_output().stdout.is_empty(), "{args:?}");
    }
    assert!(dir_entries(dir.path()).is_empty());
}
