//! Issue 15: `--regions`, `--regions-mode`, `--regions-partial`, `--span-mean`,
//! `--span-max`. Positions against the intervals, statistics at fixed seeds with negative
//! controls, every bad regions file, threads and shards, the manifest.

mod common;

use common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One masking run: the FASTA and the rates rows (with positions).
struct Run {
    fasta: Vec<(String, String)>,
    rows: Vec<HashMap<String, String>>,
}

fn run(dir: &Path, inputs: &[&Path], extra: &[&str]) -> Run {
    let out = dir.join("run.fa");
    let rates = dir.join("run.csv");
    protmask()
        .arg("mask")
        .args(inputs)
        .args(["-q", "-w", "0", "--positions", "-o"])
        .arg(&out)
        .arg("-r")
        .arg(&rates)
        .args(extra)
        .assert()
        .success();
    Run {
        fasta: parse_fasta(&std::fs::read_to_string(&out).unwrap()),
        rows: parse_rates(&std::fs::read_to_string(&rates).unwrap(), b','),
    }
}

fn positions(row: &HashMap<String, String>) -> Vec<usize> {
    let p = &row["positions"];
    if p.is_empty() {
        return Vec::new();
    }
    p.split(';').map(|x| x.parse().unwrap()).collect()
}

/// Maximal runs of consecutive positions, as (start, length).
fn runs(pos: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &p in pos {
        match out.last_mut() {
            Some((s, l)) if *s + *l == p => *l += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}

/// A FASTA of `n` records of standard residues with lengths `min..min+spread`.
fn plain_fasta(n: usize, min: usize, spread: usize, seed: u64) -> (String, Vec<(String, Vec<u8>)>) {
    let aa = b"ACDEFGHIKLMNPQRSTVWY";
    let mut next = xorshift(seed);
    let mut text = String::new();
    let mut records = Vec::new();
    for i in 0..n {
        let len = min + (next() % spread as u64) as usize;
        let seq: Vec<u8> = (0..len).map(|_| aa[(next() % 20) as usize]).collect();
        let id = format!("p{i}");
        text.push_str(&format!(">{id} test protein\n"));
        for line in seq.chunks(60) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
        records.push((id, seq));
    }
    (text, records)
}

/// Intervals for every other record: two or three per ID, overlapping or book-ended
/// pieces included; returns the BED text and each ID's merged eligible positions.
fn some_regions(records: &[(String, Vec<u8>)]) -> (String, HashMap<String, BTreeSet<usize>>) {
    let mut bed = String::from("# id\tstart\tend\tname\n\n");
    let mut want = HashMap::new();
    for (i, (id, seq)) in records.iter().enumerate() {
        let l = seq.len();
        if i % 2 == 1 || l < 12 {
            continue;
        }
        let pieces = [
            (l / 10, l / 10 + l / 5),
            (l / 10 + l / 8, l / 2), // overlaps the first
            (l / 2, l / 2 + 3),      // book-ended with the second
            (l - l / 8, l),          // reaches the end
        ];
        let mut set = BTreeSet::new();
        for (s, e) in pieces {
            bed.push_str(&format!("{id}\t{s}\t{e}\tpiece\t0\t+\n"));
            set.extend(s..e);
        }
        want.insert(id.clone(), set);
    }
    (bed, want)
}

#[test]
fn whole_region_inpainting_selects_exactly_the_merged_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(60, 20, 300, 1);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, want) = some_regions(&records);
    let bed = write(dir.path(), "r.bed", bed);
    let r = run(
        dir.path(),
        &[&input],
        &[
            "--regions",
            bed.to_str().unwrap(),
            "--schedule",
            "1",
            "--mode",
            "exact",
        ],
    );
    assert_eq!(r.rows.len(), records.len());
    for ((row, (id, seq)), (_, masked)) in r.rows.iter().zip(&records).zip(&r.fasta) {
        let expected: Vec<usize> = want
            .get(id)
            .map_or(Vec::new(), |s| s.iter().copied().collect());
        assert_eq!(positions(row), expected, "{id}");
        assert_eq!(row["length"], expected.len().to_string());
        assert_eq!(row["masked"], expected.len().to_string());
        for (p, (&o, m)) in seq.iter().zip(masked.bytes()).enumerate() {
            assert_eq!(m == b'_', expected.binary_search(&p).is_ok(), "{id} {p}");
            if m != b'_' {
                assert_eq!(m, o);
            }
        }
    }
}

#[test]
fn except_never_selects_inside_and_leaves_records_without_intervals_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(80, 20, 300, 2);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, want) = some_regions(&records);
    let bed = write(dir.path(), "r.bed", bed);
    let flags = ["--schedule", "0.9"];
    let plain = run(dir.path(), &[&input], &flags);
    let mut with = flags.to_vec();
    with.extend([
        "--regions",
        bed.to_str().unwrap(),
        "--regions-mode",
        "except",
    ]);
    let except = run(dir.path(), &[&input], &with);
    let mut selected_outside = 0;
    for ((row, plain_row), (id, seq)) in except.rows.iter().zip(&plain.rows).zip(&records) {
        match want.get(id) {
            Some(inside) => {
                let pos = positions(row);
                assert!(pos.iter().all(|p| !inside.contains(p)), "{id}: {pos:?}");
                assert_eq!(row["length"], (seq.len() - inside.len()).to_string());
                selected_outside += pos.len();
            }
            None => assert_eq!(row, plain_row, "{id} has no interval: as without --regions"),
        }
    }
    // Negative control: at rate 0.9 the complement is mostly selected, so "never inside"
    // above is not vacuous.
    assert!(selected_outside > 1000);
}

#[test]
fn regions_compose_with_maskable() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(40, 30, 200, 3);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, want) = some_regions(&records);
    let bed = write(dir.path(), "r.bed", bed);
    let r = run(
        dir.path(),
        &[&input],
        &[
            "--regions",
            bed.to_str().unwrap(),
            "--maskable",
            "ACDEKR",
            "--schedule",
            "1",
            "--mode",
            "exact",
        ],
    );
    let mut total = 0;
    for (row, (id, seq)) in r.rows.iter().zip(&records) {
        let expected: Vec<usize> = want.get(id).map_or(Vec::new(), |s| {
            s.iter()
                .copied()
                .filter(|&p| b"ACDEKR".contains(&seq[p]))
                .collect()
        });
        assert_eq!(positions(row), expected, "{id}");
        assert_eq!(row["length"], expected.len().to_string());
        total += expected.len();
    }
    assert!(total > 100);
}

#[test]
fn bernoulli_counts_in_regions_follow_binomial_of_the_eligible_length() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(3000, 40, 400, 4);
    let input = write(dir.path(), "in.fa", &text);
    let mut bed = String::new();
    for (id, seq) in &records {
        let l = seq.len();
        bed.push_str(&format!("{id}\t{}\t{}\n", l / 4, l / 4 + l / 3));
    }
    let bed = write(dir.path(), "r.bed", bed);
    let r = run(
        dir.path(),
        &[&input],
        &[
            "--regions",
            bed.to_str().unwrap(),
            "--schedule",
            "0.3",
            "--seed",
            "1515",
        ],
    );
    let p = 0.3;
    // z of the total count, and the dispersion sum of squared per-record z-scores.
    let z_against = |length: &dyn Fn(usize) -> f64| {
        let (mut dev, mut var, mut disp) = (0.0, 0.0, 0.0);
        for (i, row) in r.rows.iter().enumerate() {
            let k: f64 = row["masked"].parse().unwrap();
            let n = length(i);
            let v = n * p * (1.0 - p);
            dev += k - n * p;
            var += v;
            disp += (k - n * p).powi(2) / v;
        }
        (dev / var.sqrt(), disp / r.rows.len() as f64)
    };
    let eligible = |i: usize| r.rows[i]["length"].parse::<f64>().unwrap();
    let (z, dispersion) = z_against(&eligible);
    assert!(z.abs() < 4.0, "z = {z}");
    // Sum of n squared z-scores ~ n ± sqrt(2n): per record 1 ± 0.026; 5 sd is 0.13.
    assert!((dispersion - 1.0).abs() < 0.13, "dispersion {dispersion}");
    for (row, (_, seq)) in r.rows.iter().zip(&records) {
        assert_eq!(row["length"], (seq.len() / 3).to_string());
    }
    // Negative control: against the whole record length the same counts are far off.
    let whole = |i: usize| records[i].1.len() as f64;
    let (z_whole, _) = z_against(&whole);
    assert!(z_whole < -50.0, "z against the whole length = {z_whole}");
}

/// Mean length of the maximal runs of selected positions over all rows, and their count.
fn mean_run_length(r: &Run) -> (f64, usize) {
    let lens: Vec<usize> = r
        .rows
        .iter()
        .flat_map(|row| runs(&positions(row)))
        .map(|(_, l)| l)
        .collect();
    (
        lens.iter().sum::<usize>() as f64 / lens.len() as f64,
        lens.len(),
    )
}

#[test]
fn span_mean_5_gives_runs_of_mean_near_5_with_the_exact_count_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(200, 5000, 2000, 5);
    let input = write(dir.path(), "in.fa", &text);
    let exact = ["--schedule", "0.02", "--mode", "exact"];
    let spans = |extra: &[&str]| {
        let mut flags = exact.to_vec();
        flags.extend(extra);
        run(dir.path(), &[&input], &flags)
    };
    let r = spans(&["--span-mean", "5"]);
    for (row, (id, seq)) in r.rows.iter().zip(&records) {
        let k: usize = row["masked"].parse().unwrap();
        let rl = 0.02 * seq.len() as f64;
        assert!(
            k == rl.floor() as usize || k == rl.ceil() as usize,
            "{id}: {k} vs {rl}"
        );
        assert_eq!(positions(row).len(), k);
    }
    // The run that reaches k is cut: with geometric lengths every selected position but
    // the last ends a run with probability 1/M, so a record has 1 + (k-1)/M runs on
    // average and the mean run length is a little under M (4.84 here, k ~ 120). Runs
    // that touch merge, which at a 2% rate hardly shows.
    let expected = |m: f64, r: &Run| {
        let ks: Vec<f64> = r
            .rows
            .iter()
            .map(|row| row["masked"].parse().unwrap())
            .collect();
        ks.iter().sum::<f64>() / ks.iter().map(|k| 1.0 + (k - 1.0) / m).sum::<f64>()
    };
    let (mean, n) = mean_run_length(&r);
    assert!(
        (mean - 5.0).abs() < 0.3,
        "mean run length {mean} over {n} runs"
    );
    assert!(
        (mean - expected(5.0, &r)).abs() < 0.15,
        "{mean} vs {}",
        expected(5.0, &r)
    );
    // The count is the same as without spans: same t, same rate, same k.
    let single = spans(&[]);
    for (a, b) in r.rows.iter().zip(&single.rows) {
        assert_eq!(
            (&a["t"], &a["rate"], &a["masked"]),
            (&b["t"], &b["rate"], &b["masked"])
        );
    }
    // Negative controls: one by one, runs are about 1 long; a mean of 3 is told apart.
    let (single_mean, _) = mean_run_length(&single);
    assert!(single_mean < 1.1, "{single_mean}");
    let r3 = spans(&["--span-mean", "3"]);
    let (three, _) = mean_run_length(&r3);
    assert!((three - expected(3.0, &r3)).abs() < 0.1, "{three}");
    assert!((three - 5.0).abs() > 1.5, "{three}");
    // --span-max caps each drawn run (touching runs may still merge: rare at 2%).
    let (capped, _) = mean_run_length(&spans(&["--span-mean", "10", "--span-max", "3"]));
    assert!(capped < 3.0, "{capped}");
}

#[test]
fn runs_never_cross_region_edges() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(200, 300, 300, 6);
    let input = write(dir.path(), "in.fa", &text);
    // Intervals of 7 with gaps of 1: long spans must stop at every edge.
    let mut bed = String::new();
    let mut inside: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (id, seq) in &records {
        let mut s = 0;
        while s + 7 <= seq.len() {
            bed.push_str(&format!("{id}\t{s}\t{}\n", s + 7));
            inside.entry(id).or_default().push((s, s + 7));
            s += 8;
        }
    }
    let bed = write(dir.path(), "r.bed", bed);
    for mode in ["exact", "bernoulli"] {
        let r = run(
            dir.path(),
            &[&input],
            &[
                "--regions",
                bed.to_str().unwrap(),
                "--schedule",
                "0.3",
                "--mode",
                mode,
                "--span-mean",
                "50",
            ],
        );
        let mut full = 0;
        for (row, (id, _)) in r.rows.iter().zip(&records) {
            for (s, l) in runs(&positions(row)) {
                let iv = inside[id.as_str()]
                    .iter()
                    .find(|&&(a, b)| a <= s && s < b)
                    .unwrap_or_else(|| panic!("{id}: run at {s} starts outside"));
                assert!(
                    s + l <= iv.1,
                    "{id}: run {s}+{l} crosses the edge at {}",
                    iv.1
                );
                full += usize::from(l == 7);
            }
        }
        // Negative control: with mean 50 most runs fill their interval, so they did
        // reach the edges they stopped at.
        assert!(full > 500, "{mode}: {full} runs fill their interval");
    }
}

#[test]
fn every_preset_and_replicates_stay_within_the_regions() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(100, 10, 200, 7);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, want) = some_regions(&records);
    let bed = write(dir.path(), "r.bed", bed);
    for &p in protmask::presets::Preset::ALL {
        let preset = p.name();
        // D3PM redraws residues rather than selecting them: no spans.
        let d3pm = p.facts().mode.d3pm().is_some();
        let spans: &[&[&str]] = if d3pm {
            &[&[]]
        } else {
            &[&[], &["--span-mean", "4"]]
        };
        for span in spans.iter().copied() {
            let mut flags = vec![
                "--preset",
                preset,
                "--regions",
                bed.to_str().unwrap(),
                "--replicates",
                "2",
            ];
            flags.extend(span);
            let r = run(dir.path(), &[&input], &flags);
            assert_eq!(r.rows.len(), 2 * records.len());
            for (i, row) in r.rows.iter().enumerate() {
                let (id, _) = &records[i / 2];
                let eligible = want.get(id).map_or(0, BTreeSet::len);
                assert_eq!(row["length"], eligible.to_string(), "{preset} {id}");
                let pos = positions(row);
                assert!(pos.iter().all(|p| want[id].contains(p)), "{preset} {id}");
                if preset == "evodiff" && eligible >= 2 {
                    // OADM: k uniform on 2..=L of the eligible L.
                    assert!(pos.len() >= 2 && pos.len() <= eligible, "{id}");
                }
            }
        }
    }
}

/// `mask` of `input` expecting failure: exit 1, the one-line message.
fn mask_fails(dir: &Path, input: &Path, bed: &Path, extra: &[&str]) -> String {
    let out = protmask()
        .arg("mask")
        .arg(input)
        .arg("-o")
        .arg(dir.join("out.fa"))
        .arg("-r")
        .arg(dir.join("out.csv"))
        .arg("--manifest")
        .arg(dir.join("out.json"))
        .arg("--regions")
        .arg(bed)
        .args(extra)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn bad_regions_files_exit_1_name_file_and_line_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = plain_fasta(30, 50, 10, 8);
    let input = write(dir.path(), "in.fa", &text);
    let ok = "# comment\n\np0\t1\t5\n";
    for (case, bed, line, says) in [
        (
            "malformed",
            format!("{ok}p1\t3\n"),
            4,
            "expected 'id<TAB>start<TAB>end'",
        ),
        ("spaces", format!("{ok}p1 3 9\n"), 4, "tabs, not spaces"),
        (
            "not a number",
            format!("{ok}p1\t3\tten\n"),
            4,
            "end 'ten' is not a whole number",
        ),
        (
            "end <= start",
            format!("{ok}p1\t9\t9\n"),
            4,
            "end 9 is not after start 9",
        ),
        (
            "negative",
            format!("{ok}p1\t-3\t9\n"),
            4,
            "negative coordinate",
        ),
        (
            "past the end",
            format!("{ok}p1\t3\t9\np2\t0\t400\n"),
            5,
            "record 3 (p2)",
        ),
        (
            "unknown ID",
            format!("{ok}p1\t3\t9\nnope\t0\t4\n"),
            5,
            "no input record has ID 'nope'",
        ),
    ] {
        let bed_path = write(dir.path(), "r.bed", bed);
        let stderr = mask_fails(dir.path(), &input, &bed_path, &[]);
        let name = bed_path.display().to_string();
        assert!(
            stderr.contains(&format!("regions file '{name}', line {line}: ")),
            "{case}: {stderr}"
        );
        assert!(stderr.contains(says), "{case}: {stderr}");
        assert_eq!(
            dir_entries(dir.path()),
            ["in.fa", "r.bed"],
            "{case}: output left behind"
        );
    }
    // The unknown-ID check comes after every input is read, across inputs: an ID in the
    // second input is found, and with --regions-partial an unknown one is only counted.
    let bed_path = write(
        dir.path(),
        "r.bed",
        format!("{ok}nope\t0\t4\nnope\t5\t6\nalso\t0\t1\n"),
    );
    let out = protmask()
        .arg("mask")
        .arg(&input)
        .args(["-o"])
        .arg(dir.path().join("out.fa"))
        .arg("--regions")
        .arg(&bed_path)
        .arg("--regions-partial")
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("2 IDs in regions file"), "{stderr}");
    std::fs::remove_file(dir.path().join("out.fa")).unwrap();
    // A missing regions file: exit 1, named.
    let stderr = mask_fails(dir.path(), &input, &dir.path().join("none.bed"), &[]);
    assert!(stderr.contains("none.bed"), "{stderr}");
    // A regions file given as the output is refused before anything is written.
    protmask()
        .arg("mask")
        .arg(&input)
        .arg("-o")
        .arg(&bed_path)
        .arg("--regions")
        .arg(&bed_path)
        .assert()
        .code(1);
    assert!(std::fs::read_to_string(&bed_path).unwrap().contains("nope"));
    // Usage errors (exit 2): a mean below 1, flags that need --regions or --span-mean.
    for args in [
        &["--span-mean", "0.5"][..],
        &["--regions-mode", "except"],
        &["--regions-partial"],
        &["--span-max", "3"],
    ] {
        protmask()
            .arg("mask")
            .arg(&input)
            .args(args)
            .assert()
            .code(2);
    }
}

/// The output of `args` as (FASTA text, rates text without its `file` column).
fn bytes_of(dir: &Path, inputs: &[&Path], args: &[&str], stdin: Option<&[u8]>) -> (String, String) {
    let out = dir.join("b.fa");
    let rates = dir.join("b.csv");
    let mut cmd = protmask();
    cmd.arg("mask")
        .args(inputs)
        .args(["-q", "--positions", "-o"])
        .arg(&out)
        .arg("-r")
        .arg(&rates)
        .args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s.to_vec());
    }
    cmd.assert().success();
    let table = std::fs::read_to_string(&rates).unwrap();
    let rows: String = table
        .lines()
        .map(|l| l.split_once(',').unwrap().1.to_string() + "\n")
        .collect();
    (std::fs::read_to_string(&out).unwrap(), rows)
}

#[test]
fn identical_for_threads_stdin_several_inputs_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let text = synthetic_fasta(900, 15);
    let input = write(dir.path(), "in.fa", &text);
    let records = parse_fasta(&text);
    let mut bed = String::new();
    for (i, (header, seq)) in records.iter().enumerate() {
        let id = header.split_whitespace().next().unwrap();
        if i % 3 != 0 && seq.len() > 10 {
            bed.push_str(&format!("{id}\t{}\t{}\n", seq.len() / 3, seq.len() - 2));
            bed.push_str(&format!("{id}\t0\t{}\n", seq.len() / 5 + 1));
        }
    }
    let bed = write(dir.path(), "r.bed", bed);
    let bed = bed.to_str().unwrap();
    for flags in [
        vec!["--regions", bed],
        vec![
            "--regions",
            bed,
            "--regions-mode",
            "except",
            "--span-mean",
            "3",
            "--preset",
            "esm2",
        ],
        vec![
            "--regions",
            bed,
            "--span-mean",
            "6",
            "--span-max",
            "9",
            "--preset",
            "evodiff",
        ],
    ] {
        let with = |extra: &[&'static str]| -> Vec<&str> { [flags.as_slice(), extra].concat() };
        let whole = bytes_of(dir.path(), &[&input], &with(&["-j", "1"]), None);
        let j2 = bytes_of(
            dir.path(),
            &[&input],
            &with(&["-j", "2", "--block-size", "3000"]),
            None,
        );
        assert_eq!(whole, j2, "{flags:?}: -j1 vs -j2");
        let stdin = bytes_of(dir.path(), &[], &with(&["-j", "2"]), Some(text.as_bytes()));
        assert_eq!(whole, stdin, "{flags:?}: stdin");
        // Three shards: as three inputs of one run, and as three runs with --regions-partial.
        let cut: Vec<usize> = text.match_indices("\n>").map(|(i, _)| i + 1).collect();
        let (a, b) = (cut[cut.len() / 3], cut[2 * cut.len() / 3]);
        let shards: Vec<PathBuf> = [&text[..a], &text[a..b], &text[b..]]
            .iter()
            .enumerate()
            .map(|(i, s)| write(dir.path(), &format!("shard{i}.fa"), s))
            .collect();
        let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
        let together = bytes_of(dir.path(), &refs, &with(&["-j", "2"]), None);
        assert_eq!(whole, together, "{flags:?}: three inputs");
        let (mut fasta, mut rows) = (String::new(), String::new());
        for (i, shard) in refs.iter().enumerate() {
            let (f, r) = bytes_of(dir.path(), &[shard], &with(&["--regions-partial"]), None);
            fasta.push_str(&f);
            rows.push_str(if i == 0 {
                &r
            } else {
                r.split_once('\n').unwrap().1
            });
        }
        assert_eq!(whole, (fasta, rows), "{flags:?}: shards gathered");
        // Negative control: a shard without --regions-partial is refused.
        protmask()
            .arg("mask")
            .arg(refs[0])
            .args(["-o", "/dev/null"])
            .args(&flags)
            .assert()
            .code(1);
    }
}

#[test]
fn manifest_round_trip_and_a_changed_regions_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(50, 30, 200, 9);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, _) = some_regions(&records);
    let bed_path = write(dir.path(), "r.bed", &bed);
    protmask()
        .current_dir(dir.path())
        .args([
            "mask",
            "in.fa",
            "-q",
            "-o",
            "out.fa",
            "-r",
            "out.csv",
            "--manifest",
            "m.json",
        ])
        .args([
            "--regions",
            "r.bed",
            "--regions-mode",
            "except",
            "--span-mean",
            "4.5",
        ])
        .args(["--span-max", "12", "--preset", "dplm"])
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    // A small regions file is recorded as its merged intervals (manifest version 2), so
    // the set verifies and regenerates without it.
    let recorded = &m["options"]["regions"];
    assert_eq!(
        (&recorded["mode"], &recorded["partial"]),
        (&"except".into(), &false.into())
    );
    let intervals = recorded["intervals"].as_object().unwrap();
    assert_eq!(
        intervals.len(),
        records.len().div_ceil(2)
            - records
                .iter()
                .step_by(2)
                .filter(|(_, s)| s.len() < 12)
                .count()
    );
    assert_eq!(
        m["options"]["span"],
        serde_json::json!({"mean": 4.5, "max": 12})
    );
    assert_eq!(m["regions"]["path"], "r.bed");
    assert_eq!(m["regions"]["bytes"], bed.len());
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bed.as_bytes()))
    };
    assert_eq!(m["regions"]["sha256"], sha);
    let verify = || {
        let mut c = protmask();
        c.current_dir(dir.path()).args([
            "verify",
            "in.fa",
            "out.fa",
            "-r",
            "out.csv",
            "--manifest",
            "m.json",
        ]);
        c
    };
    verify().assert().success();
    // From elsewhere: the regions file is found beside the manifest.
    protmask()
        .args(["verify"])
        .arg(&input)
        .arg(dir.path().join("out.fa"))
        .arg("--manifest")
        .arg(dir.path().join("m.json"))
        .assert()
        .success();
    // A changed regions file (one coordinate) given to verify is caught, named; not
    // given, it is not needed (the intervals are in the manifest), nor when it is gone.
    let shift_first_start = |bed: &str| -> String {
        let mut shifted = false;
        let lines: Vec<String> = bed
            .lines()
            .map(|line| {
                let mut f: Vec<String> = line.split('\t').map(String::from).collect();
                if !shifted && f.len() >= 3 && !line.starts_with('#') {
                    f[1] = (f[1].parse::<u64>().unwrap() + 1).to_string();
                    shifted = true;
                }
                f.join("\t")
            })
            .collect();
        lines.join("\n") + "\n"
    };
    let tampered = shift_first_start(&bed);
    assert_ne!(tampered, bed);
    std::fs::write(&bed_path, &tampered).unwrap();
    let out = verify()
        .args(["--regions", "r.bed"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("regions file 'r.bed' does not have the intervals recorded"),
        "{stderr}"
    );
    verify().assert().success();
    std::fs::remove_file(&bed_path).unwrap();
    verify().assert().success();

    // A regions file over the size recorded as intervals (1 MiB: here a long comment) is
    // recorded by its digests and required: changed or gone, it is caught and named.
    let big = format!("#{}\n{bed}", "x".repeat(1 << 20));
    std::fs::write(&bed_path, &big).unwrap();
    protmask()
        .current_dir(dir.path())
        .args(["mask", "in.fa", "-q", "-o", "out.fa", "-r", "out.csv"])
        .args([
            "--manifest",
            "m.json",
            "--regions",
            "r.bed",
            "--regions-mode",
        ])
        .args([
            "except",
            "--span-mean",
            "4.5",
            "--span-max",
            "12",
            "--preset",
            "dplm",
        ])
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(m["options"]["regions"]["path"], "r.bed");
    verify().assert().success();
    std::fs::write(&bed_path, shift_first_start(&big)).unwrap();
    let out = verify().assert().code(1).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("regions file") && stderr.contains("is not the one manifest"),
        "{stderr}"
    );
    std::fs::remove_file(&bed_path).unwrap();
    let out = verify().assert().code(1).get_output().clone();
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("regions file 'r.bed' is missing")
    );
}

#[test]
fn verify_regions_catches_a_position_outside() {
    let dir = tempfile::tempdir().unwrap();
    let (text, records) = plain_fasta(20, 100, 50, 10);
    let input = write(dir.path(), "in.fa", &text);
    let (bed, _) = some_regions(&records);
    let bed = write(dir.path(), "r.bed", bed);
    let masked = dir.path().join("m.fa");
    let rates = dir.path().join("m.csv");
    let mask = |extra: &[&str]| {
        protmask()
            .arg("mask")
            .arg(&input)
            .args(["-q", "-o"])
            .arg(&masked)
            .arg("-r")
            .arg(&rates)
            .args(["--positions", "--schedule", "0.5"])
            .args(extra)
            .assert()
            .success();
    };
    let verify = || {
        let mut c = protmask();
        c.arg("verify")
            .arg(&input)
            .arg(&masked)
            .arg("-r")
            .arg(&rates)
            .arg("--regions")
            .arg(&bed);
        c
    };
    mask(&["--regions", bed.to_str().unwrap()]);
    verify().assert().success();
    // Masked without the regions: a position outside them is named.
    mask(&[]);
    let out = verify().assert().code(1).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("not eligible by the regions file"),
        "{stderr}"
    );
}
