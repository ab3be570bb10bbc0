//! `mask --dataset --tokens evodiff`: `input_ids` and `labels` in EvoDiff's 31 symbols
//! (`ACDEFGHIKLMNPQRSTVWYBZXJOU-*#@!`, the index is the id), `@` (29) first and `*` (27)
//! last; `verify` accepts the set and catches an edited id.

mod common;

use common::*;
use serde_json::Value;

/// Two records: rare letters, gap, a lowercase letter and a byte outside the alphabet;
/// then the 26 letters in alphabet order.
const FASTA: &str = ">a\nMKWYAOUJBZX-m.\n>b\nACDEFGHIKLMNPQRSTVWYBZXJOU\n";

/// The ids of the two records' residues, by hand from the alphabet string ('m' is M's,
/// '.' is X's).
fn original_ids() -> [Vec<i64>; 2] {
    [
        vec![10, 8, 18, 19, 0, 24, 25, 23, 20, 21, 22, 26, 10, 22],
        (0..26).collect(),
    ]
}

fn rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn evodiff_ids_are_the_alphabet_index_with_start_and_stop() {
    // The mask id is 28 whatever the mask token, as `<mask>` is 32 with `--tokens esm`.
    for token in [None, Some("<mask>")] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "in.fa", FASTA);
        let mut cmd = protmask();
        cmd.current_dir(d)
            .args([
                "mask",
                "in.fa",
                "-q",
                "--preset",
                "evodiff",
                "--replicates",
                "4",
            ])
            .args(["--dataset", "d.jsonl", "--tokens", "evodiff"]);
        if let Some(t) = token {
            cmd.args(["--mask-token", t]);
        }
        cmd.assert().success();
        let rows = rows(&d.join("d.jsonl"));
        assert_eq!(rows.len(), 8);
        let mut masked = 0;
        for row in &rows {
            let want = &original_ids()[usize::from(row["id"] != "a")];
            let positions: Vec<usize> = (row["positions"].as_array().unwrap().iter())
                .map(|p| p.as_u64().unwrap() as usize)
                .collect();
            assert!(!positions.is_empty());
            let mut ids = vec![29];
            let mut labels = vec![-100];
            for (p, &id) in want.iter().enumerate() {
                let selected = positions.contains(&p);
                ids.push(if selected { 28 } else { id });
                labels.push(if selected { id } else { -100 });
            }
            ids.push(27);
            labels.push(-100);
            let got = |c: &str| -> Vec<i64> {
                (row[c].as_array().unwrap().iter())
                    .map(|v| v.as_i64().unwrap())
                    .collect()
            };
            assert_eq!(got("input_ids"), ids, "{row}");
            assert_eq!(got("labels"), labels, "{row}");
            masked += positions.len();
        }
        assert!(masked > 8);
        protmask()
            .current_dir(d)
            .args(["verify", "in.fa", "d.jsonl", "--preset", "evodiff"])
            .args(token.map(|t| vec!["--mask-token", t]).unwrap_or_default())
            .assert()
            .success();
    }
}

#[test]
fn verify_accepts_an_evodiff_dataset_and_catches_an_edited_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    for name in ["d.parquet", "d.jsonl"] {
        protmask()
            .current_dir(d)
            .args([
                "mask",
                "in.fa",
                "-q",
                "--preset",
                "evodiff",
                "--replicates",
                "2",
            ])
            .args([
                "--dataset",
                name,
                "--tokens",
                "evodiff",
                "--manifest",
                "m.json",
            ])
            .assert()
            .success();
        let manifest = std::fs::read_to_string(d.join("m.json")).unwrap();
        assert!(manifest.contains("\"tokens\": \"evodiff\""), "{manifest}");
        let ok = protmask()
            .current_dir(d)
            .args(["verify", "in.fa", name, "--manifest", "m.json"])
            .assert()
            .success()
            .get_output()
            .stderr
            .clone();
        let ok = String::from_utf8_lossy(&ok);
        assert!(ok.contains("1 output regenerates byte-identical"), "{ok}");
    }
    // The JSONL alone (no manifest): its first id tells the vocabulary.
    protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "d.jsonl", "--preset", "evodiff"])
        .assert()
        .success();
    let lines: Vec<Value> = rows(&d.join("d.jsonl"));
    let unmasked = |r: &Value| {
        let p = r["positions"].as_array().unwrap();
        (0..).find(|i| !p.contains(&Value::from(*i))).unwrap() as usize
    };
    type Tamper = fn(&mut Value, usize);
    let cases: [(&str, Tamper); 4] = [
        // An unselected residue's id, one off.
        ("input_ids[", |r, p| {
            let v = r["input_ids"][p + 1].as_i64().unwrap();
            r["input_ids"][p + 1] = Value::from((v + 1) % 26);
        }),
        // The stop id swapped for the pad id.
        ("input_ids[", |r, _| {
            let n = r["input_ids"].as_array().unwrap().len();
            r["input_ids"][n - 1] = Value::from(30);
        }),
        // A masked position's id given as the original's (its label).
        ("input_ids[", |r, _| {
            let p = r["positions"][0].as_u64().unwrap() as usize;
            r["input_ids"][p + 1] = r["labels"][p + 1].clone();
        }),
        // A label at an unselected position.
        ("labels[", |r, p| r["labels"][p + 1] = Value::from(0)),
    ];
    for (want, tamper) in cases {
        let mut rows = lines.clone();
        let p = unmasked(&rows[6]);
        tamper(&mut rows[6], p);
        let text: String = rows.iter().map(|r| r.to_string() + "\n").collect();
        std::fs::write(d.join("bad.jsonl"), text).unwrap();
        let err = protmask()
            .current_dir(d)
            .args(["verify", "in.fa", "bad.jsonl", "--preset", "evodiff"])
            .assert()
            .code(1)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8_lossy(&err);
        assert!(
            err.contains("bad.jsonl: row 7") && err.contains(want),
            "{err}"
        );
    }
}
