//! Issue 22, second part: `--split`, `--split-seed`, `--split-groups` through the binary:
//! the fractions on 20,000 records (with negative controls that fail the same bound),
//! disjoint splits, whole clusters, the same split whatever the threads, block size,
//! order, sharding, mask seed or replicate, `-O` with one FASTA per split, verify and
//! regenerate, and bad input.

mod common;

use common::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// `n` records `p0..` of 12 to 40 residues, IDs in input order.
fn records(n: usize) -> Vec<(String, String)> {
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let mut next = xorshift(2222);
    (0..n)
        .map(|i| {
            let len = 12 + (next() % 29) as usize;
            let seq: String = (0..len)
                .map(|_| letters[(next() % 20) as usize] as char)
                .collect();
            (format!("p{i}"), seq)
        })
        .collect()
}

fn fasta(records: &[(String, String)]) -> String {
    records
        .iter()
        .map(|(id, seq)| format!(">{id} a protein\n{seq}\n"))
        .collect()
}

/// `protmask mask -q INPUTS -o out.fa -r rates.csv ARGS` in `dir`: the rates rows.
fn run(dir: &Path, inputs: &[&str], args: &[&str]) -> Vec<HashMap<String, String>> {
    protmask()
        .current_dir(dir)
        .args(["mask", "-q"])
        .args(inputs)
        .args(["-o", "out.fa", "-r", "rates.csv"])
        .args(args)
        .assert()
        .success();
    parse_rates(
        &std::fs::read_to_string(dir.join("rates.csv")).unwrap(),
        b',',
    )
}

/// ID -> split, every row of an ID (its replicates) agreeing.
fn splits_of(rows: &[HashMap<String, String>]) -> BTreeMap<String, String> {
    let mut by_id = BTreeMap::new();
    for r in rows {
        let old = by_id.insert(r["id"].clone(), r["split"].clone());
        assert!(
            old.is_none_or(|s| s == r["split"]),
            "{} in two splits",
            r["id"]
        );
    }
    by_id
}

/// Whether `counts` are within 4 binomial standard deviations of `n · fractions`.
fn within_4_sd(counts: &[u64], fractions: &[f64]) -> Result<(), String> {
    let n: u64 = counts.iter().sum();
    for (&c, &p) in counts.iter().zip(fractions) {
        let mean = n as f64 * p;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        let z = (c as f64 - mean) / sd;
        if z.abs() > 4.0 {
            return Err(format!(
                "count {c}, expected {mean:.1} ± {sd:.1} (z = {z:.2})"
            ));
        }
    }
    Ok(())
}

fn counts(by_id: &BTreeMap<String, String>, names: &[&str]) -> Vec<u64> {
    names
        .iter()
        .map(|n| by_id.values().filter(|s| s == n).count() as u64)
        .collect()
}

/// The draw of the documented rule (docs/reference.md), written here again.
fn draw(seed: u64, key: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"protmask split v1\0");
    h.update(seed.to_le_bytes());
    h.update(key);
    u64::from_le_bytes(h.finalize()[..8].try_into().unwrap())
}

#[test]
fn issue22_fractions_on_20000_records_within_4_sd_with_negative_controls() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(20_000);
    write(dir.path(), "in.fa", fasta(&recs));
    for (spec, names, fractions, off) in [
        (
            "train=0.98,validation=0.01,test=0.01",
            ["train", "validation", "test"],
            [0.98, 0.01, 0.01],
            // Off by 0.4 percentage points: 4.4 sd of a split of 1% on 20,000 records.
            [0.976, 0.014, 0.01],
        ),
        (
            "a=0.5,b=0.3,c=0.2",
            ["a", "b", "c"],
            [0.5, 0.3, 0.2],
            // Off by 2 percentage points: 5.7 sd of the 50% split.
            [0.48, 0.32, 0.2],
        ),
    ] {
        let by_id = splits_of(&run(dir.path(), &["in.fa"], &["--split", spec]));
        assert_eq!(by_id.len(), 20_000);
        let got = counts(&by_id, &names);
        println!("{spec}: counts {got:?}");
        within_4_sd(&got, &fractions).unwrap_or_else(|e| panic!("{spec}: {e}"));
        // Negative control 1: the same counts against fractions a little off fail the
        // bound, so it has the power to see a rule that misses its fractions.
        let e = within_4_sd(&got, &off).expect_err("off fractions passed");
        println!("  against {off:?}: {e}");
        // Negative control 2: the rule without its hash (the ID's first 8 bytes read as
        // the draw) fails it: the IDs share their first bytes.
        let unhashed: Vec<u64> = recs
            .iter()
            .map(|(id, _)| {
                let mut b = [0u8; 8];
                let n = id.len().min(8);
                b[..n].copy_from_slice(&id.as_bytes()[..n]);
                u64::from_le_bytes(b)
            })
            .collect();
        let mut naive = vec![0u64; 3];
        for u in unhashed {
            let mut c = 0.0;
            let i = fractions
                .iter()
                .position(|&f| {
                    c += f;
                    (u as f64) < c * 2f64.powi(64)
                })
                .unwrap_or(2);
            naive[i] += 1;
        }
        let e = within_4_sd(&naive, &fractions).expect_err("the unhashed rule passed");
        println!("  an unhashed rule: {naive:?}: {e}");
        // And each record's split is the documented rule's (recomputed here).
        let mut thresholds = Vec::new();
        let mut c = 0.0f64;
        for f in fractions {
            c += f;
            thresholds.push((c * 2f64.powi(64)) as u128);
        }
        for (id, split) in &by_id {
            let u = u128::from(draw(0, id.as_bytes()));
            let i = thresholds.iter().position(|&t| u < t).unwrap_or(2);
            assert_eq!(split, names[i], "{id}");
        }
    }
}

#[test]
fn issue22_the_split_depends_on_the_id_and_the_split_seed_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recs = records(3000);
    write(d, "in.fa", fasta(&recs));
    let spec = ["--split", "train=0.6,validation=0.2,test=0.2"];
    let reference = splits_of(&run(d, &["in.fa"], &spec));
    let same = |args: &[&str], inputs: &[&str], what: &str| {
        let mut all = spec.to_vec();
        all.extend(args);
        assert_eq!(splits_of(&run(d, inputs, &all)), reference, "{what}");
    };
    same(&["-j", "1"], &["in.fa"], "-j 1");
    same(&["-j", "2"], &["in.fa"], "-j 2");
    same(&["--block-size", "1000"], &["in.fa"], "--block-size 1000");
    same(&["--block-size", "77777"], &["in.fa"], "--block-size 77777");
    same(&["--seed", "7"], &["in.fa"], "another mask seed");
    same(&["--preset", "esm2"], &["in.fa"], "another preset");
    // Shuffled input order.
    let mut shuffled = recs.clone();
    let mut next = xorshift(5);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    write(d, "shuffled.fa", fasta(&shuffled));
    same(&[], &["shuffled.fa"], "shuffled input");
    // The input cut into three files.
    write(d, "a.fa", fasta(&recs[..1000]));
    write(d, "b.fa", fasta(&recs[1000..2200]));
    write(d, "c.fa", fasta(&recs[2200..]));
    same(&[], &["a.fa", "b.fa", "c.fa"], "three shards in one run");
    let mut shards = BTreeMap::new();
    for shard in ["a.fa", "b.fa", "c.fa"] {
        shards.extend(splits_of(&run(d, &[shard], &spec)));
    }
    assert_eq!(shards, reference, "three runs, one per shard");
    // Every replicate of a record is in the record's split (splits_of checks that the
    // rows of an ID agree).
    let rows = run(d, &["in.fa"], &[&spec[..], &["--replicates", "3"]].concat());
    assert_eq!(rows.len(), 9000);
    assert_eq!(splits_of(&rows), reference, "replicates");
    // Negative control: another split seed moves records (about 1 - (0.36 + 0.04 + 0.04)
    // = 56% of them).
    let other = splits_of(&run(
        d,
        &["in.fa"],
        &[&spec[..], &["--split-seed", "1"]].concat(),
    ));
    let moved = reference.iter().filter(|(id, s)| other[*id] != **s).count();
    println!("--split-seed 1 moved {moved} of 3000 records");
    assert!((1500..1850).contains(&moved), "{moved} moved");
    // The default split seed is 0.
    same(&["--split-seed", "0"], &["in.fa"], "--split-seed 0");
}

#[test]
fn issue22_disjoint_splits_and_every_output_carries_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", fasta(&records(500)));
    let out = protmask()
        .current_dir(d)
        .args([
            "mask",
            "in.fa",
            "-o",
            "all.fa",
            "-r",
            "rates.tsv",
            "--positions",
        ])
        .args(["--max-length", "20", "--dataset", "d.jsonl", "--split"])
        .args(["train=0.8,test=0.2"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let rates = std::fs::read_to_string(d.join("rates.tsv")).unwrap();
    // The column order: the crop columns' precedent, then split last.
    assert!(rates.starts_with(
        "file\tid\treplicate\tlength\tt\trate\tmasked\tpositions\tcrop_start\toriginal_length\tsplit\n"
    ));
    let by_id = splits_of(&parse_rates(&rates, b'\t'));
    let train: HashSet<&String> = by_id
        .iter()
        .filter(|(_, s)| *s == "train")
        .map(|(i, _)| i)
        .collect();
    let test: HashSet<&String> = by_id
        .iter()
        .filter(|(_, s)| *s == "test")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(train.len() + test.len(), 500);
    assert!(train.is_disjoint(&test));
    // The summary names the counts.
    let line = format!(
        "protmask: records per split: train {}, test {} (replicates counted)",
        train.len(),
        test.len()
    );
    assert!(stderr.contains(&line), "{stderr}");
    // JSON Lines: `split` last, equal to the table's.
    let jsonl = std::fs::read_to_string(d.join("d.jsonl")).unwrap();
    for line in jsonl.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let split = by_id[row["id"].as_str().unwrap()].as_str();
        assert_eq!(row["split"], split);
        assert!(
            line.ends_with(&format!(",\"split\":\"{split}\"}}")),
            "{line}"
        );
    }
    // -o FILE with --split: one FASTA with every record, the same bytes as without.
    protmask()
        .current_dir(d)
        .args([
            "mask",
            "-q",
            "in.fa",
            "-o",
            "plain.fa",
            "--max-length",
            "20",
        ])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(d.join("all.fa")).unwrap(),
        std::fs::read(d.join("plain.fa")).unwrap()
    );
    // Without a rates table or dataset, the split is in no file: a warning says so.
    let out = protmask()
        .current_dir(d)
        .args(["mask", "-q", "in.fa", "-o", "x.fa", "--split", "a=1"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("warning: --split with one FASTA"),
        "{stderr}"
    );
    // Without --split the table has no split column (golden outputs unchanged).
    let rows = run(d, &["in.fa"], &[]);
    assert!(!rows[0].contains_key("split"));
}

#[test]
fn issue22_outdir_writes_one_fasta_per_split_with_exactly_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", fasta(&records(2000)));
    let spec = "train=0.7,validation=0.2,test=0.1";
    let rows = run(d, &["in.fa"], &["--split", spec, "--replicates", "2"]);
    let by_id = splits_of(&rows);
    let whole = parse_fasta(&std::fs::read_to_string(d.join("out.fa")).unwrap());
    for (compress, suffix) in [(None, ""), (Some("gz"), ".gz")] {
        let mut cmd = protmask();
        cmd.current_dir(d)
            .args(["mask", "-q", "in.fa", "-O", "per", "--replicates", "2"])
            .args(["--split", spec]);
        if let Some(c) = compress {
            cmd.args(["--compress", c]);
        }
        cmd.assert().success();
        let names: Vec<String> = ["test", "train", "validation"]
            .iter()
            .map(|s| format!("{s}.fa{suffix}"))
            .collect();
        assert_eq!(dir_entries(&d.join("per")), names);
        let mut seen = 0;
        for split in ["train", "validation", "test"] {
            let bytes = std::fs::read(d.join("per").join(format!("{split}.fa{suffix}"))).unwrap();
            let text = match compress {
                Some(_) => gunzip(&bytes),
                None => bytes,
            };
            let records = parse_fasta(&String::from_utf8(text).unwrap());
            // Exactly the records of its split, in input order, masked as in the whole.
            let want: Vec<&(String, String)> = whole
                .iter()
                .filter(|(h, _)| {
                    let id = h.split(' ').next().unwrap();
                    by_id[id.rsplit_once("_r").unwrap().0] == split
                })
                .collect();
            assert_eq!(records.len(), want.len(), "{split}");
            assert!(records.iter().zip(&want).all(|(a, b)| a == *b), "{split}");
            seen += records.len();
        }
        assert_eq!(seen, 4000);
        std::fs::remove_dir_all(d.join("per")).unwrap();
    }
    // Stdin has no name, which -O with --split does not need.
    protmask()
        .current_dir(d)
        .args(["mask", "-q", "-O", "stdin_out", "--split", "a=0.5,b=0.5"])
        .write_stdin(fasta(&records(10)))
        .assert()
        .success();
    assert_eq!(dir_entries(&d.join("stdin_out")), ["a.fa", "b.fa"]);
}

/// A groups file of clusters of 1 to 8 consecutive records (representative first, a
/// member of itself), leaving out the records `left_out` of.
fn clusters(recs: &[(String, String)], left_out: &HashSet<usize>) -> (String, Vec<Vec<String>>) {
    let mut next = xorshift(9);
    let (mut text, mut groups) = (String::new(), Vec::new());
    let mut i = 0;
    while i < recs.len() {
        let size = 1 + (next() % 8) as usize;
        let members: Vec<usize> = (i..(i + size).min(recs.len()))
            .filter(|j| !left_out.contains(j))
            .collect();
        if let Some(&rep) = members.first() {
            for &m in &members {
                text.push_str(&format!("{}\t{}\n", recs[rep].0, recs[m].0));
            }
            groups.push(members.iter().map(|&m| recs[m].0.clone()).collect());
        }
        i += size;
    }
    (text, groups)
}

#[test]
fn issue22_groups_keep_every_cluster_in_one_split_and_report_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recs = records(3000);
    write(d, "in.fa", fasta(&recs));
    let left_out: HashSet<usize> = (0..3000).filter(|i| i % 37 == 5).collect();
    let (text, groups) = clusters(&recs, &left_out);
    write(d, "clu_cluster.tsv", &text);
    let spec = ["--split", "train=0.5,test=0.5"];
    let out = protmask()
        .current_dir(d)
        .args(["mask", "in.fa", "-o", "out.fa", "-r", "rates.csv"])
        .args(spec)
        .args(["--split-groups", "clu_cluster.tsv"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let warning = format!(
        "protmask: warning: {} input records are in no line of split groups file \
         'clu_cluster.tsv': each is a group of its own\n",
        left_out.len()
    );
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(stderr.contains(&warning), "{stderr}");
    let rows = parse_rates(&std::fs::read_to_string(d.join("rates.csv")).unwrap(), b',');
    let by_id = splits_of(&rows);
    let straddling = |by_id: &BTreeMap<String, String>| {
        groups
            .iter()
            .filter(|g| g.iter().any(|m| by_id[m] != by_id[&g[0]]))
            .count()
    };
    assert_eq!(straddling(&by_id), 0, "a cluster in two splits");
    // Each cluster is where its representative's own ID would put it; a record left out
    // is where its own ID puts it.
    let alone = splits_of(&run(d, &["in.fa"], &spec));
    for g in &groups {
        assert_eq!(by_id[&g[1.min(g.len() - 1)]], alone[&g[0]]);
    }
    for &i in &left_out {
        assert_eq!(by_id[&recs[i].0], alone[&recs[i].0]);
    }
    // Negative control: without the groups file, clusters straddle the splits.
    let n = straddling(&alone);
    println!(
        "without --split-groups {n} of {} clusters straddle",
        groups.len()
    );
    assert!(n > 200, "{n}");
    // A compressed groups file reads the same.
    write(d, "clu.tsv.gz", gzip(text.as_bytes()));
    let zipped = splits_of(&run(
        d,
        &["in.fa"],
        &[&spec[..], &["--split-groups", "clu.tsv.gz"]].concat(),
    ));
    assert_eq!(zipped, by_id);
}

#[test]
fn issue22_verify_checks_the_split_column_and_a_split_fasta() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recs = records(300);
    write(d, "in.fa", fasta(&recs));
    let (text, _) = clusters(&recs, &HashSet::new());
    write(d, "clu.tsv", &text);
    let rule = ["--split", "train=0.8,test=0.2", "--split-seed", "4"];
    let groups = ["--split-groups", "clu.tsv"];
    protmask()
        .current_dir(d)
        .args(["mask", "-q", "in.fa", "-O", "per", "-r", "rates.csv"])
        .args(["--dataset", "d.jsonl", "--manifest", "m.json"])
        .args(rule)
        .args(groups)
        .assert()
        .success();
    protmask()
        .current_dir(d)
        .args(["mask", "-q", "in.fa", "--dataset", "d.parquet"])
        .args(rule)
        .args(groups)
        .assert()
        .success();
    let verify = |args: &[&str]| protmask().current_dir(d).arg("verify").args(args).assert();
    // The set as written: each split's FASTA with the whole table, the datasets.
    verify(&[
        "in.fa",
        "per/train.fa",
        "-r",
        "rates.csv",
        "--manifest",
        "m.json",
    ])
    .success();
    verify(&[
        "in.fa",
        "per/test.fa",
        "-r",
        "rates.csv",
        "--manifest",
        "m.json",
    ])
    .success();
    verify(&["in.fa", "d.jsonl", "--manifest", "m.json"]).success();
    verify(&["in.fa", "d.parquet"]).success();
    let flags = [&rule[..], &groups[..]].concat();
    verify(&[&["in.fa", "d.jsonl"][..], &flags].concat()).success();
    verify(&[&["in.fa", "per/test.fa", "-r", "rates.csv"][..], &flags].concat()).success();

    // An edited split value, in the table and in the dataset, is named by its row.
    let rates = std::fs::read_to_string(d.join("rates.csv")).unwrap();
    let row = rates
        .lines()
        .skip(1)
        .position(|l| l.ends_with(",test"))
        .unwrap()
        + 1;
    let edited: Vec<String> = rates
        .lines()
        .enumerate()
        .map(|(i, l)| match i == row {
            true => format!("{},train", l.strip_suffix(",test").unwrap()),
            false => l.to_string(),
        })
        .collect();
    write(d, "edited.csv", edited.join("\n") + "\n");
    let id = rates
        .lines()
        .nth(row)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    let e = verify(&[&["in.fa", "per/train.fa", "-r", "edited.csv"][..], &flags].concat()).code(1);
    let stderr = String::from_utf8_lossy(&e.get_output().stderr).to_string();
    assert_eq!(
        stderr,
        format!(
            "protmask: error: edited.csv: row {row} ({id}, replicate 1): split 'train', but \
             the split rule (--split, --split-seed, --split-groups) puts it in 'test'\n"
        )
    );
    let jsonl = std::fs::read_to_string(d.join("d.jsonl")).unwrap();
    write(
        d,
        "edited.jsonl",
        jsonl.replacen("\"split\":\"test\"", "\"split\":\"train\"", 1),
    );
    let e = verify(&[&["in.fa", "edited.jsonl"][..], &flags].concat()).code(1);
    let stderr = String::from_utf8_lossy(&e.get_output().stderr).to_string();
    assert!(
        stderr.contains("split 'train', but the split rule"),
        "{stderr}"
    );
    // Negative control: the unedited files pass with the same flags (above); another
    // split seed, given for a set that records none, fails on the first moved record.
    let e = verify(&["in.fa", "d.jsonl", "--split", "train=0.8,test=0.2"]).code(1);
    assert!(String::from_utf8_lossy(&e.get_output().stderr).contains("split '"));
    // A flag that disagrees with the recorded rule is a usage error.
    let e = verify(&["in.fa", "d.parquet", "--split-seed", "5"]).code(2);
    assert!(String::from_utf8_lossy(&e.get_output().stderr).contains("--split-seed '5' disagrees"));
    // A table without the column, for a set made with --split.
    run(d, &["in.fa"], &[]);
    let e = verify(&[&["in.fa", "out.fa", "-r", "rates.csv"][..], &flags].concat()).code(1);
    assert!(String::from_utf8_lossy(&e.get_output().stderr).contains("no 'split' column"));
    // A split's FASTA holds its split alone: the other split's FASTA named as it fails.
    std::fs::copy(d.join("per/test.fa"), d.join("train.fa")).unwrap();
    verify(&[&["in.fa", "train.fa"][..], &flags].concat()).code(1);
}

#[test]
fn issue22_manifest_records_the_split_and_regenerate_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recs = records(400);
    write(d, "in.fa", fasta(&recs));
    let (text, _) = clusters(&recs, &HashSet::new());
    write(d, "clu.tsv", &text);
    protmask()
        .current_dir(d)
        .args(["mask", "-q", "in.fa", "-O", "set", "--compress", "zst"])
        .args(["-r", "rates.csv", "--dataset", "d.parquet"])
        .args(["--manifest", "m.json", "--split", "train=0.9,test=0.1"])
        .args(["--split-seed", "11", "--split-groups", "clu.tsv"])
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m.json")).unwrap()).unwrap();
    let o = &m["options"];
    assert_eq!(o["split"], "train=0.9,test=0.1");
    assert_eq!(
        (&o["split_seed"], &o["split_groups"]),
        (&11.into(), &"clu.tsv".into())
    );
    assert_eq!(m["split_groups"]["path"], "clu.tsv");
    assert_eq!(m["split_groups"]["records"], 400);
    let line: Vec<&str> = m["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for flag in [
        "--split=train=0.9,test=0.1",
        "--split-seed=11",
        "--split-groups=clu.tsv",
        "--outdir=set",
        "--compress=zst",
    ] {
        assert!(line.contains(&flag), "{flag} not in {line:?}");
    }
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            "set/train.fa.zst",
            "set/test.fa.zst",
            "rates.csv",
            "d.parquet"
        ]
    );
    // The records of each split's FASTA, as recorded, sum to the input's.
    let fasta_records: u64 = m["outputs"].as_array().unwrap()[..2]
        .iter()
        .map(|e| e["records"].as_u64().unwrap())
        .sum();
    assert_eq!(fasta_records, 400);
    // The Parquet footer records the same options.
    let p = protmask::provenance::Provenance::of_parquet(&d.join("d.parquet"))
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_value(&p.options).unwrap(), m["options"]);
    // Moved elsewhere with the groups file renamed: found by its digest.
    let moved = d.join("moved");
    std::fs::create_dir(&moved).unwrap();
    std::fs::copy(d.join("m.json"), moved.join("m.json")).unwrap();
    std::fs::copy(d.join("clu.tsv"), moved.join("clusters-renamed.tsv")).unwrap();
    let out = protmask()
        .current_dir(d)
        .args(["regenerate", "moved/m.json", "--input", "in.fa"])
        .args(["--input", "moved/clusters-renamed.tsv", "-C", "rebuilt"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(stdout.matches("identical").count(), 4, "{stdout}");
    for f in [
        "set/train.fa.zst",
        "set/test.fa.zst",
        "rates.csv",
        "d.parquet",
    ] {
        let name = Path::new(f).file_name().unwrap();
        assert_eq!(
            std::fs::read(d.join("rebuilt").join(name)).unwrap(),
            std::fs::read(d.join(f)).unwrap(),
            "{f}"
        );
    }
    // verify --manifest regenerates too, and a groups file that is not the recorded one
    // is refused by its digest.
    protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "d.parquet", "--manifest", "m.json"])
        .assert()
        .success();
    write(d, "clu.tsv", text.replacen('\n', "\n\n", 1));
    let e = protmask()
        .current_dir(d)
        .args(["verify", "in.fa", "d.parquet", "--manifest", "m.json"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&e.get_output().stderr).to_string();
    assert!(
        stderr.contains("split groups file 'clu.tsv' is not the one manifest"),
        "{stderr}"
    );
}

#[test]
fn issue22_bad_split_input_is_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", fasta(&records(20)));
    write(d, "empty.tsv", "");
    write(d, "one.tsv", "p0\tp0\np1\n");
    write(d, "two.tsv", "p0\tp0\np0\tp1\np2\tp2\np2\tp1\n");
    for (args, code, says) in [
        (
            vec!["--split", "a=-0.5,b=1.5"],
            2,
            "a fraction cannot be negative",
        ),
        (
            vec!["--split", "a=0.5,a=0.5"],
            2,
            "the split 'a' is named twice",
        ),
        (
            vec!["--split", "a=0.5,b=0.4"],
            2,
            "the fractions sum to 0.9, not 1",
        ),
        (vec!["--split", "=1"], 2, "a split needs a name"),
        (vec!["--split", "a"], 2, "'a' is not NAME=FRACTION"),
        (vec!["--split", "a-b=1"], 2, "cannot name a split"),
        (
            vec!["--split-groups", "one.tsv"],
            2,
            "the following required arguments were not provided",
        ),
        (
            vec!["--split-seed", "3"],
            2,
            "the following required arguments were not provided",
        ),
        (
            vec!["--split", "a=1", "--split-groups", "empty.tsv"],
            1,
            "split groups file 'empty.tsv': it is empty",
        ),
        (
            vec!["--split", "a=1", "--split-groups", "one.tsv"],
            1,
            "split groups file 'one.tsv', line 2: expected 'representative<TAB>member'",
        ),
        (
            vec!["--split", "a=1", "--split-groups", "two.tsv"],
            1,
            "split groups file 'two.tsv', line 4: 'p1' is in the cluster of 'p2' here, but \
             line 2 puts it in the cluster of 'p0'",
        ),
        (
            vec!["--split", "a=1", "--split-groups", "missing.tsv"],
            1,
            "cannot read split groups file 'missing.tsv'",
        ),
    ] {
        for outputs in [
            vec!["-o", "out.fa", "-r", "r.csv", "--manifest", "m.json"],
            vec!["-O", "outdir", "--dataset", "d.parquet"],
        ] {
            let out = protmask()
                .current_dir(d)
                .args(["mask", "in.fa"])
                .args(&outputs)
                .args(&args)
                .assert()
                .code(code);
            let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            if code == 1 {
                assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            }
            let mut left = dir_entries(d);
            left.retain(|f| !f.ends_with(".fa") || f == "out.fa");
            left.retain(|f| !f.ends_with(".tsv"));
            assert!(left.is_empty(), "{args:?} left {left:?}");
        }
    }
}
