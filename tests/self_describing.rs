//! Issue 20, findings 4-6: complete row checks without a manifest, verify inputs sniffed
//! from their bytes, datasets that say how they were made (Parquet key-value metadata,
//! `verify --preset`). Each test is named after its finding and fails on 0.2.0
//! (`PROTMASK_BIN=... cargo test --test integration self_describing::`).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;

/// `mask` in `d` with `args` (the input is `in.fa`, a copy of the test data).
fn mask(d: &Path, args: &[&str]) {
    if !d.join("in.fa").exists() {
        std::fs::copy(DATA, d.join("in.fa")).unwrap();
    }
    protmask()
        .current_dir(d)
        .args(["mask", "in.fa", "-q"])
        .args(args)
        .assert()
        .success();
}

/// `verify in.fa MASKED ARGS` in `d`: exit code and stderr.
fn verify(d: &Path, masked: &str, args: &[&str]) -> (i32, String) {
    let out = protmask()
        .current_dir(d)
        .args(["verify", "in.fa", masked])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

/// A failure of exactly one line, exit 1, whose text has every one of `parts`.
fn fails_with(d: &Path, masked: &str, args: &[&str], parts: &[&str]) {
    let (code, err) = verify(d, masked, args);
    assert_eq!(code, 1, "{masked} {args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for p in parts {
        assert!(err.contains(p), "{masked}: '{p}' not in: {err}");
    }
}

const FIRST: &str = "gi|7525080|ref|NP_051037.1|";
const SECOND: &str = "gi|7525013|ref|NP_051039.1|";
const LAST: &str = "gi|7525099|ref|NP_051123.1|";

/// A JSONL dataset of in.fa with 3 replicates (85 records, 255 rows), its lines.
fn jsonl_set(d: &Path) -> Vec<String> {
    mask(d, &["--dataset", "d.jsonl", "--replicates", "3"]);
    let text = std::fs::read_to_string(d.join("d.jsonl")).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 255);
    lines
}

fn write_lines(d: &Path, name: &str, lines: &[String]) {
    write(d, name, lines.join("\n") + "\n");
}

/// The rows of a Parquet file and its key-value metadata.
fn read_parquet(
    path: &Path,
) -> (
    arrow_array::RecordBatch,
    Vec<parquet::file::metadata::KeyValue>,
) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .with_batch_size(1 << 20);
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    (batch, kv)
}

/// Rewrite a Parquet file with `batch`, keeping its key-value metadata (as a tool that
/// edits rows would).
fn write_parquet(
    path: &Path,
    batch: &arrow_array::RecordBatch,
    kv: &[parquet::file::metadata::KeyValue],
) {
    let kv = kv.iter().filter(|p| p.key != "ARROW:schema").cloned();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(kv.collect()))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, Arc::clone(&batch.schema()), Some(props))
            .unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn issue20_4_dataset_missing_replicate_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lines = jsonl_set(d);
    // Record 2's third replicate (row 6).
    assert!(lines[5].contains("\"replicate\":3"), "{}", lines[5]);
    lines.remove(5);
    write_lines(d, "rep.jsonl", &lines);
    fails_with(
        d,
        "rep.jsonl",
        &[],
        &[
            &format!("rep.jsonl: record 2 ({SECOND}) has 2 replicates"),
            &format!("the first record ({FIRST}) has 3"),
        ],
    );
}

#[test]
fn issue20_4_dataset_missing_last_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lines = jsonl_set(d);
    lines.pop();
    write_lines(d, "last.jsonl", &lines);
    fails_with(
        d,
        "last.jsonl",
        &[],
        &[&format!(
            "last.jsonl: record 85 ({LAST}) has 2 replicates, but the first record ({FIRST}) \
             has 3"
        )],
    );
    // The same in Parquet, whose metadata records the replicates (254 rows of 255).
    mask(d, &["--dataset", "d.parquet", "--replicates", "3"]);
    let (batch, kv) = read_parquet(&d.join("d.parquet"));
    assert_eq!(batch.num_rows(), 255);
    write_parquet(&d.join("last.parquet"), &batch.slice(0, 254), &kv);
    fails_with(
        d,
        "last.parquet",
        &[],
        &[&format!(
            "last.parquet: record 85 ({LAST}) has 2 replicates, expected 3"
        )],
    );
}

#[test]
fn issue20_4_dataset_extra_copy_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lines = jsonl_set(d);
    // A copy of the last row as a fourth replicate.
    let copy = lines[254].replace("\"replicate\":3", "\"replicate\":4");
    lines.push(copy);
    write_lines(d, "extra.jsonl", &lines);
    fails_with(
        d,
        "extra.jsonl",
        &[],
        &[&format!(
            "extra.jsonl: record 85 ({LAST}) has 4 replicates, but the first record ({FIRST}) \
             has 3"
        )],
    );
    // In the middle, a fourth replicate of record 2.
    let mut lines = jsonl_set(d);
    let copy = lines[5].replace("\"replicate\":3", "\"replicate\":4");
    lines.insert(6, copy);
    write_lines(d, "extra.jsonl", &lines);
    fails_with(
        d,
        "extra.jsonl",
        &[],
        &[&format!("record 2 ({SECOND}) has 4 replicates")],
    );
}

#[test]
fn issue20_4_fasta_extra_copy_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mask(d, &["-o", "m.fa", "--replicates", "3", "-w", "0"]);
    let text = std::fs::read_to_string(d.join("m.fa")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Records are two lines each (-w 0): a copy of record 1's third replicate as its
    // fourth, after it. 0.2.0 took 4 for every record and blamed record 2 for a missing
    // `_r4`; the message now names both counts.
    let copy = lines[4].replace("_r3", "_r4");
    let mut edited: Vec<&str> = lines[..6].to_vec();
    edited.extend([copy.as_str(), lines[5]]);
    edited.extend(&lines[6..]);
    write(d, "extra1.fa", edited.join("\n") + "\n");
    fails_with(
        d,
        "extra1.fa",
        &[],
        &[&format!(
            "extra1.fa: record 2 ({SECOND}) has 3 replicates, but the first record ({FIRST}) \
             has 4"
        )],
    );
    // The last record's third replicate removed: named as such, not as an original that
    // has more records.
    write(d, "last.fa", lines[..lines.len() - 2].join("\n") + "\n");
    fails_with(
        d,
        "last.fa",
        &[],
        &[&format!(
            "last.fa: record 85 ({LAST}) has 2 replicates, but the first record ({FIRST}) has 3"
        )],
    );
    // An extra copy after the last record.
    let mut extra = lines.clone();
    let copy = lines[lines.len() - 2].replace("_r3", "_r4");
    extra.extend([copy.as_str(), lines[lines.len() - 1]]);
    write(d, "extra.fa", extra.join("\n") + "\n");
    fails_with(
        d,
        "extra.fa",
        &[],
        &[&format!("extra.fa: record 85 ({LAST}) has 4 replicates")],
    );
}

#[test]
fn issue20_5_parquet_renamed_pq_is_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mask(d, &["--dataset", "d.parquet", "--replicates", "2"]);
    std::fs::rename(d.join("d.parquet"), d.join("d.pq")).unwrap();
    let (code, err) = verify(d, "d.pq", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified 85 records x 2 replicates"), "{err}");
    // From a pipe too (copied once: Parquet is read from its end).
    let out = protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "-"])
        .pipe_stdin(d.join("d.pq"))
        .unwrap()
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("verified 85 records x 2 replicates"), "{out}");
    // A FASTA named .parquet is read as FASTA.
    mask(d, &["-o", "fasta.parquet"]);
    let (code, err) = verify(d, "fasta.parquet", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified 85 records,"), "{err}");
}

#[test]
fn issue20_5_jsonl_gz_renamed_is_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mask(d, &["--dataset", "d.jsonl.gz", "--replicates", "2"]);
    std::fs::rename(d.join("d.jsonl.gz"), d.join("d.dat")).unwrap();
    let (code, err) = verify(d, "d.dat", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified 85 records x 2 replicates"), "{err}");
    // Read as a dataset: a rates table cannot go with it.
    let (code, err) = verify(d, "d.dat", &["--rates", "r.csv"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("a dataset is checked against ORIGINAL alone"),
        "{err}"
    );
    // From stdin, compressed.
    let out = protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "-"])
        .pipe_stdin(d.join("d.dat"))
        .unwrap()
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("verified 85 records x 2 replicates"), "{out}");
}

#[test]
fn issue20_6_verify_parquet_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mask(
        d,
        &[
            "--preset",
            "esm2",
            "--replicates",
            "2",
            "--dataset",
            "esm2.parquet",
            "--tokens",
            "esm",
            "--manifest",
            "m.json",
        ],
    );
    // The four keys, their values the manifest's.
    let (_, kv) = read_parquet(&d.join("esm2.parquet"));
    let get = |key: &str| -> serde_json::Value {
        let v = kv.iter().find(|p| p.key == key);
        let v = v.and_then(|p| p.value.clone()).unwrap_or_default();
        serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v))
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m.json")).unwrap()).unwrap();
    assert_eq!(get("protmask.options"), manifest["options"]);
    assert_eq!(get("protmask.inputs"), manifest["inputs"]);
    assert_eq!(get("protmask.rng_scheme"), manifest["rng_scheme"]);
    assert_eq!(get("protmask.version"), manifest["version"]);
    assert_eq!(manifest["inputs"][0]["records"], 85);
    // No flag retyped: one line says where the options came from, then the summary.
    let (code, err) = verify(d, "esm2.parquet", &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("protmask: options from the metadata of 'esm2.parquet'")
            && lines[0].contains("preset esm2, mask token '<mask>', corrupt 0.8,0.1,0.1"),
        "{err}"
    );
    assert!(
        lines[1].contains("verified 85 records x 2 replicates"),
        "{err}"
    );
    // Flags that restate the metadata are fine; -q prints nothing.
    let (code, err) = verify(
        d,
        "esm2.parquet",
        &[
            "--preset",
            "esm2",
            "--mask-token",
            "<mask>",
            "--corrupt",
            "0.8,0.1,0.1",
            "-q",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    // JSON Lines carries no metadata: its verify takes the flags, or --preset.
    mask(d, &["--preset", "esm2", "--dataset", "esm2.jsonl"]);
    fails_with(d, "esm2.jsonl", &[], &["wrong --mask-token?"]);
    let (code, err) = verify(d, "esm2.jsonl", &["--preset", "esm2"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("metadata"), "{err}");
}

#[test]
fn issue20_6_verify_preset_for_fasta() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for preset in ["esm2", "dplm", "evodiff"] {
        mask(d, &["--preset", preset, "-o", "m.fa", "--replicates", "2"]);
        let (code, err) = verify(d, "m.fa", &["--preset", preset]);
        assert_eq!(code, 0, "{preset}: {err}");
        assert!(
            err.contains("verified 85 records x 2 replicates"),
            "{preset}: {err}"
        );
    }
    // The preset's values with a flag over them, as `mask --preset esm2 --mask-token #`.
    mask(d, &["--preset", "esm2", "--mask-token", "#", "-o", "h.fa"]);
    let (code, err) = verify(d, "h.fa", &["--preset", "esm2", "--mask-token", "#"]);
    assert_eq!(code, 0, "{err}");
    fails_with(d, "h.fa", &["--preset", "esm2"], &["wrong --mask-token?"]);
    // An unknown preset is clap's usage error.
    let (code, err) = verify(d, "h.fa", &["--preset", "nope"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn issue20_6_flag_disagreeing_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mask(d, &["--preset", "esm2", "--dataset", "esm2.parquet"]);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--mask-token", "_"],
            "--mask-token '_' disagrees with the metadata of 'esm2.parquet', which records \
             '<mask>'",
        ),
        (
            &["--corrupt", "1,0,0"],
            "--corrupt '1,0,0' disagrees with the metadata of 'esm2.parquet', which records \
             '0.8,0.1,0.1'",
        ),
        (
            &["--preset", "dplm"],
            "--preset 'dplm' disagrees with the metadata of 'esm2.parquet', which records \
             'esm2'",
        ),
        (
            &["--maskable", "ACD"],
            "--maskable 'ACD' disagrees with the metadata of 'esm2.parquet', which records \
             'every residue'",
        ),
    ];
    for (args, message) in cases {
        let (code, err) = verify(d, "esm2.parquet", args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("verified"), "{err}");
    }
    // The same rule for a manifest's options.
    mask(
        d,
        &["--preset", "esm2", "-o", "m.fa", "--manifest", "m.json"],
    );
    let (code, err) = verify(d, "m.fa", &["--manifest", "m.json", "--mask-token", "X"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--mask-token 'X' disagrees with manifest 'm.json', which records '<mask>'"),
        "{err}"
    );
}

#[test]
fn issue20_6_recompressed_input_regenerates_the_same_parquet() {
    // The dataset records its input's digests; a regeneration from the manifest records
    // the manifest's, so an input recompressed since (the same content) still gives the
    // recorded file byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = std::fs::read(DATA).unwrap();
    write(d, "in.fa.gz", gzip(&text));
    protmask()
        .current_dir(d)
        .args(["mask", "in.fa.gz", "-q", "--dataset", "d.parquet"])
        .args(["--manifest", "m.json"])
        .assert()
        .success();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &text).unwrap();
    write(d, "in.fa.gz", e.finish().unwrap());
    let out = protmask()
        .current_dir(d)
        .args(["verify", "in.fa.gz", "d.parquet", "--manifest", "m.json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 output regenerates byte-identical"), "{err}");
}
