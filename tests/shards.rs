//! Issue 22, item 3: a dataset folder (`--dataset DIR/`): Parquet shards of `--shard-rows`
//! rows in Hugging Face's layout (`DIR/data/train-{i:05}-of-{n:05}.parquet`) and a dataset
//! card (`DIR/README.md`); the same shard bytes whatever `-j` or the block size; the
//! manifest, `verify` and `regenerate` taking the folder; what a folder already holds;
//! nothing left behind by a run that fails. The card's YAML and `load_dataset(DIR)` are
//! tested with the real `datasets` library in tests/python/test_dataset.py.

mod common;

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// The files under `dir`, relative, sorted (`data/x` for a file in `data/`).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for name in dir_entries(dir) {
        let p = dir.join(&name);
        if p.is_dir() {
            out.extend(tree(&p).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out
}

/// Each file under `dir` and its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

fn num_rows(path: &Path) -> i64 {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().num_rows()
}

fn row_groups(path: &Path) -> usize {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().num_row_groups()
}

/// The key-value metadata of a Parquet file.
fn key_values(path: &Path) -> Vec<(String, Option<String>)> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned();
    kv.unwrap_or_default()
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect()
}

/// Every row of the Parquet files, in order, as text per column (floats by their bits),
/// leaving out the columns named in `skip`.
fn rows(files: &[PathBuf], skip: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            out.extend(batch_rows(&batch.unwrap(), skip));
        }
    }
    out
}

fn batch_rows(b: &RecordBatch, skip: &[&str]) -> Vec<Vec<String>> {
    let mut rows = vec![Vec::new(); b.num_rows()];
    for (field, col) in b.schema().fields().iter().zip(b.columns()) {
        if skip.contains(&field.name().as_str()) {
            continue;
        }
        for (r, row) in rows.iter_mut().enumerate() {
            let cell = if let Some(s) = col.as_string_opt::<i32>() {
                s.value(r).to_string()
            } else if let Some(i) = col.as_primitive_opt::<Int32Type>() {
                i.value(r).to_string()
            } else if let Some(i) = col.as_primitive_opt::<Int64Type>() {
                i.value(r).to_string()
            } else if let Some(x) = col.as_primitive_opt::<Float64Type>() {
                x.value(r).to_bits().to_string()
            } else if let Some(l) = col.as_list_opt::<i32>() {
                format!("{:?}", l.value(r).as_primitive::<Int32Type>().values())
            } else {
                panic!("column {} of an unexpected type", field.name())
            };
            row.push(cell);
        }
        assert_eq!(col.null_count(), 0);
    }
    rows
}

/// The shard files of `dir` (`data/`), in name order.
fn shards(dir: &Path) -> Vec<PathBuf> {
    let data = dir.join("data");
    dir_entries(&data)
        .into_iter()
        .filter(|n| n.ends_with(".parquet"))
        .map(|n| data.join(n))
        .collect()
}

/// The test data, and 85 records of it with replicates: shards at 30 rows are 30, 30, 25;
/// with 2 replicates, 170 rows are five shards of 30 and one of 20. Their rows, in order,
/// are those of the single-file dataset, and each shard records what it does.
#[test]
fn issue22_shards_hold_shard_rows_rows_in_output_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    for (replicates, want) in [("1", vec![30, 30, 25]), ("2", vec![30, 30, 30, 30, 30, 20])] {
        let folder = format!("r{replicates}");
        let args = ["mask", "-q", "in.fa", "--replicates", replicates];
        ok_in(
            d,
            &[
                &args[..],
                &["--dataset", &format!("{folder}/"), "--shard-rows", "30"],
            ]
            .concat(),
        );
        ok_in(
            d,
            &[&args[..], &["--dataset", &format!("{folder}.parquet")]].concat(),
        );
        let n = want.len();
        let mut names: Vec<String> = (0..n)
            .map(|i| format!("data/train-{i:05}-of-{n:05}.parquet"))
            .collect();
        names.insert(0, "README.md".into());
        assert_eq!(tree(&d.join(&folder)), names);
        let files = shards(&d.join(&folder));
        let got: Vec<i64> = files.iter().map(|f| num_rows(f)).collect();
        assert_eq!(got, want);
        let single = rows(&[d.join(format!("{folder}.parquet"))], &[]);
        assert_eq!(rows(&files, &[]), single);
        // Every shard records the run as the single file does (same protmask.* keys;
        // the options add the shard rows).
        let single_kv = key_values(&d.join(format!("{folder}.parquet")));
        let keys = |kv: &[(String, Option<String>)]| -> Vec<String> {
            kv.iter().map(|(k, _)| k.clone()).collect()
        };
        for f in &files {
            let kv = key_values(f);
            assert_eq!(keys(&kv), keys(&single_kv));
            assert_eq!(kv, key_values(&files[0]), "{}", f.display());
            let options = kv.iter().find(|(k, _)| k == "protmask.options").unwrap();
            assert!(options.1.as_ref().unwrap().contains("\"shard_rows\":30"));
        }
        let card = std::fs::read_to_string(d.join(&folder).join("README.md")).unwrap();
        let total: i64 = want.iter().sum();
        assert!(
            card.contains(&format!("    num_examples: {total}\n")),
            "{card}"
        );
        assert!(
            card.contains("  - split: train\n    path: data/train-*\n"),
            "{card}"
        );
    }
    // The default: 100,000 rows a shard, so one here; an empty input gives one empty shard.
    ok_in(d, &["mask", "-q", "in.fa", "--dataset", "default/"]);
    assert_eq!(
        tree(&d.join("default")),
        ["README.md", "data/train-00000-of-00001.parquet"]
    );
    let card = std::fs::read_to_string(d.join("default/README.md")).unwrap();
    assert!(card.contains("in 1 shard of at most 100000 rows"), "{card}");
    assert!(
        !card.contains("--shard-rows"),
        "the default is not a flag: {card}"
    );
    std::fs::write(d.join("empty.fa"), "").unwrap();
    ok_in(
        d,
        &[
            "mask",
            "-q",
            "empty.fa",
            "--dataset",
            "empty/",
            "--tokens",
            "esm",
        ],
    );
    let files = shards(&d.join("empty"));
    assert_eq!(files.len(), 1);
    assert_eq!(num_rows(&files[0]), 0);
    let card = std::fs::read_to_string(d.join("empty/README.md")).unwrap();
    assert!(
        card.contains("num_examples: 0\n") && card.contains("25000 rows"),
        "{card}"
    );
}

/// 1,500 records × 4 replicates with token ids (row groups of 2,048 rows): shards of
/// 2,500 rows, the full ones of two row groups, are the same bytes at -j1, -j2, -j8 and
/// block sizes of 4 KiB, 64 KiB and 1 MiB, card included. The input cut into three files
/// gives the same rows but for the `file` column (which names each row's input) and the
/// metadata (which lists the inputs), so not the same bytes.
#[test]
fn issue22_shard_bytes_do_not_depend_on_threads_block_size_or_cutting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = synthetic_fasta(1500, 22);
    write(d, "in.fa", &text);
    let common = [
        "mask",
        "-q",
        "in.fa",
        "--replicates",
        "4",
        "--tokens",
        "esm",
        "--shard-rows",
        "2500",
    ];
    let runs = [
        ("1", "1048576"),
        ("2", "4096"),
        ("8", "4096"),
        ("8", "1048576"),
        ("2", "65536"),
    ];
    for (i, (j, block)) in runs.iter().enumerate() {
        // Each in a folder of the same name (the card names its folder).
        let set = format!("run{i}/set/");
        std::fs::create_dir(d.join(format!("run{i}"))).unwrap();
        let args = ["-j", j, "--block-size", block, "--dataset", &set];
        ok_in(d, &[&common[..], &args].concat());
    }
    let first = contents(&d.join("run0/set"));
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "data/train-00000-of-00003.parquet",
            "data/train-00001-of-00003.parquet",
            "data/train-00002-of-00003.parquet"
        ]
    );
    let whole = shards(&d.join("run0/set"));
    let groups: Vec<(i64, usize)> = whole.iter().map(|f| (num_rows(f), row_groups(f))).collect();
    assert_eq!(groups, [(2500, 2), (2500, 2), (1000, 1)]);
    for (i, (j, block)) in runs.iter().enumerate().skip(1) {
        let run = contents(&d.join(format!("run{i}/set")));
        assert_eq!(run.len(), first.len());
        for ((name, bytes), (want_name, want)) in run.iter().zip(&first) {
            assert_eq!(name, want_name);
            assert!(
                bytes == want,
                "{name} differs at -j{j} --block-size {block}"
            );
        }
    }
    // The same input in three files (cut between records).
    let starts: Vec<usize> = text.match_indices('>').map(|(i, _)| i).collect();
    let (a, b) = (starts[500], starts[1000]);
    write(d, "p1.fa", &text[..a]);
    write(d, "p2.fa", &text[a..b]);
    write(d, "p3.fa", &text[b..]);
    let mut cut = common.to_vec();
    cut.retain(|a| *a != "in.fa");
    ok_in(
        d,
        &[
            &cut[..],
            &["p1.fa", "p2.fa", "p3.fa", "-j", "2", "--dataset", "cut/"],
        ]
        .concat(),
    );
    let parts = shards(&d.join("cut"));
    assert_eq!(parts.len(), whole.len());
    assert_eq!(
        rows(&parts, &["file"]),
        rows(&whole, &[])
            .into_iter()
            .map(|mut r| {
                r.remove(0);
                r
            })
            .collect::<Vec<_>>()
    );
    let files: Vec<String> = rows(&parts, &[])
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(files.iter().filter(|f| *f == "p2.fa").count(), 2000);
    assert_ne!(
        std::fs::read(&parts[0]).unwrap(),
        std::fs::read(&whole[0]).unwrap()
    );
}

/// `verify ORIGINAL DIR/` reads every shard in order; with the manifest (which lists every
/// shard and the card, each with its digest) it regenerates them; `regenerate` rebuilds
/// the folder byte for byte. Shards swapped, a byte changed, a shard missing or a card
/// edited: each fails (exit 1), naming what is wrong.
#[test]
fn issue22_verify_and_regenerate_take_the_folder_and_catch_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    let mask = [
        "mask",
        "-q",
        "in.fa",
        "--dataset",
        "set/",
        "--shard-rows",
        "20",
        "--manifest",
        "set/manifest.json",
    ];
    ok_in(d, &mask);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("set/manifest.json")).unwrap())
            .unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    let listed: Vec<(String, String)> = outputs
        .iter()
        .map(|o| {
            (
                o["role"].as_str().unwrap().into(),
                o["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = (0..5)
        .map(|i| {
            (
                "dataset".into(),
                format!("set/data/train-{i:05}-of-00005.parquet"),
            )
        })
        .collect();
    want.push(("card".into(), "set/README.md".into()));
    assert_eq!(listed, want);
    for o in outputs {
        let bytes = std::fs::read(d.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(o["bytes"].as_u64(), Some(bytes.len() as u64));
    }
    let line: Vec<&str> = manifest["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        line.contains(&"--dataset=set/") && line.contains(&"--shard-rows=20"),
        "{line:?}"
    );
    let err = ok_in(d, &["verify", "in.fa", "set/"]);
    assert!(err.contains("verified 85 records"), "{err}");
    let err = ok_in(
        d,
        &["verify", "in.fa", "set", "--manifest", "set/manifest.json"],
    );
    assert!(err.contains("6 outputs regenerate byte-identical"), "{err}");
    let out = protmask()
        .current_dir(d)
        .args(["regenerate", "set/manifest.json", "-C", "rebuilt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("identical: rebuilt/set/"))
            .count(),
        6,
        "{report}"
    );
    let original = contents(&d.join("set"));
    let mut rebuilt = contents(&d.join("rebuilt/set"));
    rebuilt.push(
        original
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .clone(),
    );
    rebuilt.sort();
    assert_eq!(rebuilt, original, "every shard and the card, byte for byte");
    // A second regeneration replaces the first.
    ok_in(d, &["regenerate", "set/manifest.json", "-C", "rebuilt"]);

    let fails = |args: &[&str], parts: &[&str]| {
        let (code, err) = run_in(d, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for p in parts {
            assert!(err.contains(p), "'{p}' not in: {err}");
        }
    };
    let shard = |i: usize| d.join(format!("set/data/train-{i:05}-of-00005.parquet"));
    // Two shards swapped: the rows come out of order.
    let (s1, s2) = (
        std::fs::read(shard(1)).unwrap(),
        std::fs::read(shard(2)).unwrap(),
    );
    std::fs::write(shard(1), &s2).unwrap();
    std::fs::write(shard(2), &s1).unwrap();
    fails(&["verify", "in.fa", "set/"], &["set/", "row 21"]);
    fails(
        &["verify", "in.fa", "set/", "--manifest", "set/manifest.json"],
        &["row 21"],
    );
    std::fs::write(shard(1), &s1).unwrap();
    std::fs::write(shard(2), &s2).unwrap();
    // A byte of a shard's data changed: unreadable or a wrong row (rows are numbered
    // through the folder, shards in order), with the manifest too (rows are checked
    // before the outputs' digests).
    let mut bad = s1.clone();
    bad[s1.len() / 3] ^= 0x20;
    std::fs::write(shard(1), &bad).unwrap();
    let (code, err) = run_in(d, &["verify", "in.fa", "set/"]);
    assert_eq!(code, 1, "{err}");
    fails(
        &["verify", "in.fa", "set/", "--manifest", "set/manifest.json"],
        &["set/: row 35"],
    );
    std::fs::write(shard(1), &s1).unwrap();
    // A shard missing.
    std::fs::rename(shard(3), d.join("aside.parquet")).unwrap();
    fails(
        &["verify", "in.fa", "set/"],
        &["lacks data/train-00003-of-00005.parquet"],
    );
    std::fs::rename(d.join("aside.parquet"), shard(3)).unwrap();
    // The card edited: not a recorded output.
    let card = std::fs::read_to_string(d.join("set/README.md")).unwrap();
    std::fs::write(
        d.join("set/README.md"),
        card.replace("num_examples: 85", "num_examples: 86"),
    )
    .unwrap();
    ok_in(d, &["verify", "in.fa", "set/"]);
    fails(
        &["verify", "in.fa", "set/", "--manifest", "set/manifest.json"],
        &["'set/README.md' is not the dataset card recorded"],
    );
    std::fs::write(d.join("set/README.md"), &card).unwrap();
    ok_in(
        d,
        &["verify", "in.fa", "set/", "--manifest", "set/manifest.json"],
    );
    // A shard of another run (another seed) among the shards.
    ok_in(
        d,
        &[
            "mask",
            "-q",
            "in.fa",
            "--dataset",
            "other/",
            "--shard-rows",
            "20",
            "--seed",
            "7",
        ],
    );
    std::fs::copy(d.join("other/data/train-00004-of-00005.parquet"), shard(4)).unwrap();
    fails(&["verify", "in.fa", "set/"], &["records another run"]);
}

/// Usage errors (exit 2, nothing written): `--shard-rows 0`, `--shard-rows` or `--force`
/// without a folder, a folder named without its slash, a JSON Lines folder, a folder that
/// is not empty (naming its files), `--force` over files protmask did not write, a file
/// where the folder should be, an output inside the shards' data/.
#[test]
fn issue22_folder_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    ok_in(
        d,
        &[
            "mask",
            "-q",
            "in.fa",
            "--dataset",
            "set/",
            "--shard-rows",
            "40",
        ],
    );
    let before = contents(&d.join("set"));
    std::fs::create_dir(d.join("mine")).unwrap();
    std::fs::write(d.join("mine/notes.txt"), "mine").unwrap();
    std::fs::write(d.join("afile"), "x").unwrap();
    for (args, message) in [
        (
            vec!["--dataset", "new/", "--shard-rows", "0"],
            "a shard holds at least 1 row",
        ),
        (
            vec!["--dataset", "x.parquet", "--shard-rows", "5"],
            "--shard-rows applies to a dataset folder",
        ),
        (
            vec!["--dataset", "x.jsonl", "--force"],
            "--force applies to a dataset folder",
        ),
        (vec!["-o", "x.fa", "--shard-rows", "5"], "--dataset"),
        (vec!["--dataset", "set"], "'set' is a folder: write 'set/'"),
        (
            vec!["--dataset", "x.jsonl.gz/"],
            "a folder holds Parquet shards",
        ),
        (
            vec!["--dataset", "set/"],
            "dataset folder 'set/' is not empty (README.md, data/train-00000-of-00003.parquet, data/train-00001-of-00003.parquet and 1 more)",
        ),
        (
            vec!["--dataset", "mine/", "--force"],
            "holds files protmask did not write there (notes.txt)",
        ),
        (
            vec!["--dataset", "afile/"],
            "dataset folder 'afile/' is a file",
        ),
        (
            vec!["--dataset", "new/", "-r", "new/data/r.csv"],
            "holds the dataset's shards alone",
        ),
    ] {
        let (code, err) = run_in(d, &[&["mask", "-q", "in.fa"][..], &args].concat());
        let want = if message.contains("shards alone") {
            1
        } else {
            2
        };
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    assert_eq!(contents(&d.join("set")), before);
    assert_eq!(tree(&d.join("mine")), ["notes.txt"]);
    assert!(!d.join("new").exists() && !d.join("x.parquet").exists());
}

/// `--force` over an earlier dataset: its shards go (3 of 40 rows, replaced by 2 of 50),
/// the card is replaced, a manifest the run writes in the folder is no obstacle; a run
/// that fails leaves the earlier dataset as it was. A folder the failed run made is
/// removed; one that existed stays, empty.
#[test]
fn issue22_force_replaces_an_earlier_dataset_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(DATA, d.join("in.fa")).unwrap();
    let run = |rows: &str| {
        let args = [
            "mask",
            "-q",
            "in.fa",
            "--dataset",
            "set/",
            "--force",
            "--shard-rows",
            rows,
        ];
        ok_in(
            d,
            &[&args[..], &["--manifest", "set/manifest.json"]].concat(),
        );
    };
    run("40");
    assert_eq!(tree(&d.join("set")).len(), 5);
    let earlier = contents(&d.join("set"));
    // A failing run (a bad record in the second input) changes nothing.
    write(d, "bad.fa", ">ok\nMKV\n>\nMK\n");
    let args = [
        "mask",
        "-q",
        "in.fa",
        "bad.fa",
        "--dataset",
        "set/",
        "--force",
        "--shard-rows",
        "50",
        "--manifest",
        "set/manifest.json",
    ];
    let (code, err) = run_in(d, &args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.fa") && err.contains("record 2"), "{err}");
    assert_eq!(contents(&d.join("set")), earlier);
    run("50");
    assert_eq!(
        tree(&d.join("set")),
        [
            "README.md",
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "manifest.json"
        ]
    );
    let card = std::fs::read_to_string(d.join("set/README.md")).unwrap();
    assert!(card.contains("--shard-rows=50"), "{card}");
    ok_in(
        d,
        &["verify", "in.fa", "set/", "--manifest", "set/manifest.json"],
    );
    // Failing runs: a folder they made goes, one that was there stays empty.
    let (code, _) = run_in(d, &["mask", "-q", "bad.fa", "--dataset", "made/deeper/"]);
    assert_eq!(code, 1);
    assert!(!d.join("made").exists());
    std::fs::create_dir(d.join("was")).unwrap();
    let (code, _) = run_in(d, &["mask", "-q", "bad.fa", "--dataset", "was/"]);
    assert_eq!(code, 1);
    assert!(dir_entries(&d.join("was")).is_empty());
}

/// Interrupted while shards are written (a FIFO input held open, 4 KiB blocks, 10 rows a
/// shard, so finished shards wait closed for their footers): the temp files and the folder
/// the run made are gone, exit 143.
#[test]
fn issue22_interrupted_folder_removed() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("in.fa");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let set = d.join("new/set");
    let child = Command::new(protmask_path())
        .args([
            "mask",
            "-q",
            fifo.to_str().unwrap(),
            "--block-size",
            "4096",
            "--shard-rows",
            "10",
            "-j",
            "2",
        ])
        .arg("--dataset")
        .arg(format!("{}/", set.display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer
        .write_all(synthetic_fasta(300, 5).as_bytes())
        .unwrap();
    writer.flush().unwrap();
    let start = std::time::Instant::now();
    let in_data = || std::fs::read_dir(set.join("data")).map_or(0, |r| r.count());
    while in_data() < 3 {
        assert!(start.elapsed().as_secs() < 20, "the run never got going");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    drop(writer);
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(!d.join("new").exists(), "{:?}", dir_entries(d));
}

/// `--split` with a folder: one run of shards per split (`data/{split}-*`), the card
/// naming each; every split's rows are the single-file dataset's rows of that split, in
/// order; the bytes are the same at any -j and block size; verify (from the shards'
/// metadata and with the manifest) and regenerate take the folder; a row moved to another
/// split's shards, or a split's shards missing, fails verify.
#[test]
fn issue22_split_folder_holds_each_split_in_its_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", synthetic_fasta(900, 8));
    let common = [
        "mask",
        "-q",
        "in.fa",
        "--replicates",
        "2",
        "--tokens",
        "esm",
        "--split",
        "train=0.7,validation=0.2,test=0.1",
        "--split-seed",
        "5",
    ];
    ok_in(d, &[&common[..], &["--dataset", "one.parquet"]].concat());
    for (i, (j, block)) in [("1", "1048576"), ("2", "4096"), ("8", "65536")]
        .iter()
        .enumerate()
    {
        std::fs::create_dir(d.join(format!("run{i}"))).unwrap();
        let set = format!("run{i}/set/");
        let mut args = vec!["-j", j, "--block-size", block, "--dataset", &set];
        args.extend(["--shard-rows", "300"]);
        if i == 0 {
            args.extend(["--manifest", "m.json"]);
        }
        ok_in(d, &[&common[..], &args].concat());
    }
    let first = contents(&d.join("run0/set"));
    for i in 1..3 {
        assert!(contents(&d.join(format!("run{i}/set"))) == first, "run{i}");
    }
    let whole = rows(&[d.join("one.parquet")], &[]);
    let split_col = whole[0].len() - 1;
    let set = d.join("run0/set");
    let mut total = 0;
    for name in ["train", "validation", "test"] {
        let files: Vec<PathBuf> = shards(&set)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!("{name}-"))
            })
            .collect();
        assert!(!files.is_empty(), "{name}");
        let got = rows(&files, &[]);
        let want: Vec<Vec<String>> = (whole.iter())
            .filter(|r| r[split_col] == name)
            .cloned()
            .collect();
        assert!(got == want, "{name}: the rows of the single file's split");
        for f in &files[..files.len() - 1] {
            assert_eq!(num_rows(f), 300);
        }
        total += got.len();
    }
    assert_eq!(total, whole.len());
    let card = std::fs::read_to_string(set.join("README.md")).unwrap();
    for name in ["train", "validation", "test"] {
        assert!(
            card.contains(&format!("  - split: {name}\n    path: data/{name}-*\n")),
            "{card}"
        );
    }
    // verify: from the shards' metadata, with the manifest, and regenerate.
    ok_in(d, &["verify", "in.fa", "run0/set/"]);
    ok_in(d, &["verify", "in.fa", "run0/set/", "--manifest", "m.json"]);
    ok_in(d, &["regenerate", "m.json", "-C", "regen"]);
    assert!(contents(&d.join("regen/set")) == first);
    // A validation shard renamed into the test split: its rows are in the wrong split.
    let moved = d.join("moved");
    std::fs::create_dir(&moved).unwrap();
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to.join("data")).unwrap();
        for (n, b) in contents(from) {
            std::fs::write(to.join(n), b).unwrap();
        }
    };
    copy(&set, &moved.join("set"));
    let data = moved.join("set/data");
    let val: Vec<String> = dir_entries(&data)
        .into_iter()
        .filter(|n| n.starts_with("validation-"))
        .collect();
    let test: Vec<String> = dir_entries(&data)
        .into_iter()
        .filter(|n| n.starts_with("test-"))
        .collect();
    for n in &test {
        std::fs::remove_file(data.join(n)).unwrap();
    }
    for n in &val {
        let renamed = n.replacen("validation-", "test-", 1);
        std::fs::rename(data.join(n), data.join(renamed)).unwrap();
    }
    let (code, err) = run_in(d, &["verify", "in.fa", "moved/set/"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("split"), "{err}");
    // A split's shards missing: its records are missing.
    let gone = d.join("gone");
    copy(&set, &gone.join("set"));
    for n in dir_entries(&gone.join("set/data")) {
        if n.starts_with("test-") {
            std::fs::remove_file(gone.join("set/data").join(n)).unwrap();
        }
    }
    let (code, err) = run_in(d, &["verify", "in.fa", "gone/set/"]);
    assert_eq!(code, 1, "{err}");
}
