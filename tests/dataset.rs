//! `mask --dataset` (issue 14) from the Rust side: a manifest records the dataset and
//! regenerates it byte for byte; `verify` takes it as MASKED and catches a changed row;
//! flags that cannot work are usage errors before anything is written. (The columns
//! against real clients — pyarrow, datasets, DuckDB, polars, EsmTokenizer — are checked by
//! tests/python/test_dataset.py, which .ci/run runs.)

mod common;

use common::*;

#[test]
fn a_manifest_records_and_regenerates_the_dataset() {
    // Every compression an output takes (`.jsonl.bz2` and `.jsonl.xz` too: one file-name
    // rule for tables and datasets, issue 19).
    for name in [
        "d.parquet",
        "d.jsonl.gz",
        "d.jsonl.zst",
        "d.jsonl.bz2",
        "d.jsonl.xz",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::copy(DATA, d.join("in.fa")).unwrap();
        protmask()
            .current_dir(d)
            .args(["mask", "in.fa", "-q", "--dataset", name, "--tokens", "esm"])
            .args(["--replicates", "2", "--manifest", "m.json"])
            .assert()
            .success();
        let manifest = std::fs::read_to_string(d.join("m.json")).unwrap();
        assert!(manifest.contains("\"role\": \"dataset\""), "{manifest}");
        assert!(manifest.contains("\"tokens\": \"esm\""), "{manifest}");
        assert!(
            !manifest.contains("\"role\": \"fasta\""),
            "no FASTA was written"
        );
        let ok = protmask()
            .current_dir(d)
            .args(["verify", "in.fa", name, "--manifest", "m.json"])
            .assert()
            .success()
            .get_output()
            .stderr
            .clone();
        let ok = String::from_utf8_lossy(&ok);
        assert!(ok.contains("85 records x 2 replicates"), "{ok}");
        assert!(ok.contains("1 output regenerates byte-identical"), "{ok}");
        // Another dataset (same options, another seed) is not the recorded one.
        protmask()
            .current_dir(d)
            .args(["mask", "in.fa", "-q", "--dataset", name, "--tokens", "esm"])
            .args(["--replicates", "2", "--seed", "7"])
            .assert()
            .success();
        let bad = protmask()
            .current_dir(d)
            .args(["verify", "in.fa", name, "--manifest", "m.json"])
            .assert()
            .code(1)
            .get_output()
            .stderr
            .clone();
        assert!(
            String::from_utf8_lossy(&bad).contains("is not the dataset recorded"),
            "{name}"
        );
    }
}

/// `in.fa` (data/) and its dataset `d.jsonl` with tokens, in `d`; `verify` accepts it.
fn jsonl_set(d: &std::path::Path) {
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    protmask()
        .current_dir(d)
        .args([
            "mask",
            "in.fa",
            "-q",
            "--dataset",
            "d.jsonl",
            "--tokens",
            "esm",
        ])
        .assert()
        .success();
    protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "d.jsonl"])
        .assert()
        .success();
}

#[test]
fn verify_catches_a_changed_jsonl_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    jsonl_set(d);
    let text = std::fs::read_to_string(d.join("d.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Unmask one selected position in row 5: the masked sequence no longer agrees with
    // its positions.
    let mut row: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    let p = row["positions"][0].as_u64().unwrap() as usize;
    let seq = row["sequence"].as_str().unwrap().to_string();
    let mut masked: Vec<char> = row["masked_sequence"].as_str().unwrap().chars().collect();
    masked[p] = seq.as_bytes()[p] as char;
    row["masked_sequence"] = masked.into_iter().collect::<String>().into();
    lines[4] = row.to_string();
    std::fs::write(d.join("bad.jsonl"), lines.join("\n") + "\n").unwrap();
    let err = protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "bad.jsonl"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("bad.jsonl: row 5") && err.contains("listed but not masked"),
        "{err}"
    );
}

#[test]
fn dataset_usage_errors_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--dataset", "d.csv"],
        vec!["--dataset", "d.parquet.gz"],
        vec!["--tokens", "esm"],
        vec!["--dataset", "d.parquet", "--tokens", "bpe"],
        vec!["--dataset", "d.parquet", "--compress", "gz"],
    ] {
        protmask()
            .current_dir(dir.path())
            .arg("mask")
            .arg(DATA)
            .args(&args)
            .assert()
            .code(2);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Every check `verify` makes of a dataset row, one tampered row each: the message names
/// the row and what is wrong (and the untampered file passes, so each failure is the
/// tampering's).
#[test]
fn verify_names_each_kind_of_bad_row() {
    use serde_json::{Value, json};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    jsonl_set(d);
    let lines: Vec<String> = std::fs::read_to_string(d.join("d.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    type Tamper = fn(&mut Value);
    let cases: [(&str, Tamper); 11] = [
        ("expected ID", |r| r["id"] = json!("other")),
        ("description", |r| r["description"] = json!("changed")),
        ("sequence differs", |r| {
            let s = r["sequence"].as_str().unwrap().replacen('M', "A", 1);
            r["sequence"] = json!(s);
        }),
        ("outside the sequence", |r| {
            r["positions"]
                .as_array_mut()
                .unwrap()
                .push(json!(1_000_000))
        }),
        ("but 1 positions are listed", |r| {
            let first = r["positions"][0].clone();
            r["positions"] = json!([first]);
        }),
        ("not ascending", |r| {
            r["positions"].as_array_mut().unwrap().reverse();
        }),
        ("eligible positions", |r| {
            r["length"] = json!(r["length"].as_i64().unwrap() + 1)
        }),
        ("outside [0,1]", |r| r["t"] = json!(1.5)),
        ("input_ids[1]", |r| r["input_ids"][1] = json!(31)),
        ("labels[0]", |r| r["labels"][0] = json!(4)),
        ("expected replicate 2", |r| r["replicate"] = json!(3)),
    ];
    for (want, tamper) in cases {
        let mut rows = lines.clone();
        let mut row: Value = serde_json::from_str(&rows[6]).unwrap();
        assert!(
            row["positions"].as_array().unwrap().len() >= 2,
            "row 7 masks 2+"
        );
        tamper(&mut row);
        rows[6] = row.to_string();
        std::fs::write(d.join("bad.jsonl"), rows.join("\n") + "\n").unwrap();
        let out = protmask()
            .current_dir(d)
            .args(["verify", "in.fa", "bad.jsonl"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{want}: {err}");
        assert!(
            err.contains("bad.jsonl: row 7") && err.contains(want),
            "{want}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}
