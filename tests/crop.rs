//! Issue 22, first part: `--max-length N` and `--crop random|start|center` through the
//! binary: uniform random offsets (chi-square, with the fixed crops as a negative
//! control), windows inside their record, exact fixed offsets, records not cropped masked
//! exactly as without the flag, the same bytes for any -j or block size, bad input.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;

/// `n` records `r0..` of `len` residues each (the residues vary by record).
fn records(n: usize, len: usize) -> String {
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let mut next = xorshift(22);
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(">r{i} some description\n"));
        let seq: String = (0..len)
            .map(|_| letters[(next() % 20) as usize] as char)
            .collect();
        out.push_str(&seq);
        out.push('\n');
    }
    out
}

/// Run `protmask mask IN -o out.fa -r rates.csv ARGS` in `dir`: (FASTA, rates rows).
fn mask(dir: &Path, input: &str, args: &[&str]) -> (String, Vec<HashMap<String, String>>) {
    protmask()
        .current_dir(dir)
        .args(["mask", "-q", input, "-o", "out.fa", "-r", "rates.csv"])
        .args(args)
        .assert()
        .success();
    let fasta = std::fs::read_to_string(dir.join("out.fa")).unwrap();
    let rates = std::fs::read_to_string(dir.join("rates.csv")).unwrap();
    (fasta, parse_rates(&rates, b','))
}

/// Pearson's chi-square of `counts` against equal expectations.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let e = total as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

#[test]
fn issue22_random_offsets_are_uniform_and_windows_inside() {
    let dir = tempfile::tempdir().unwrap();
    // 3,000 records of 40 residues cut to 30: offsets 0..=10, 11 cells of ~273.
    write(dir.path(), "in.fa", records(3000, 40));
    let original = parse_fasta(&records(3000, 40));
    let count = |crop: &str| {
        let (fasta, rows) = mask(dir.path(), "in.fa", &["--max-length", "30", "--crop", crop]);
        let masked = parse_fasta(&fasta);
        let mut counts = vec![0u64; 11];
        for ((row, (header, seq)), (_, orig)) in rows.iter().zip(&masked).zip(&original) {
            let start: usize = row["crop_start"].parse().unwrap();
            assert_eq!(row["original_length"], "40");
            assert_eq!(row["length"], "30");
            assert!(start <= 10, "window outside the record: {start}");
            assert!(
                header.ends_with(&format!(" crop={start}-{}", start + 30)),
                "{header}"
            );
            assert_eq!(seq.len(), 30);
            // Unmasked letters of the window are the original's.
            for (m, o) in seq.bytes().zip(orig[start..start + 30].bytes()) {
                assert!(m == o || m == b'_', "{header}: {m} vs {o}");
            }
            counts[start] += 1;
        }
        counts
    };
    // 10 degrees of freedom: the 0.1% critical value is 29.59.
    let random = count("random");
    let chi2 = chi_square(&random);
    assert!(chi2 < 29.59, "chi2 {chi2}, counts {random:?}");
    // Negative controls: the same statistic rejects the classic off-by-one (offsets on
    // 0..L−N, never the last: its count moved to the others) and the fixed crops.
    let mut off_by_one = random.clone();
    let last = off_by_one.pop().unwrap();
    for (i, c) in off_by_one.iter_mut().enumerate() {
        *c += last / 10 + u64::from((i as u64) < last % 10);
    }
    off_by_one.push(0);
    let control = chi_square(&off_by_one);
    eprintln!(
        "crop offsets: chi-square {chi2:.1} (10 df, bound 29.59); never the last offset: {control:.1}"
    );
    assert!(control > 29.59, "{off_by_one:?}");
    for crop in ["start", "center"] {
        let fixed = count(crop);
        assert!(chi_square(&fixed) > 29.59, "{crop}: {fixed:?}");
    }
}

#[test]
fn issue22_start_and_center_offsets_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    for len in [5usize, 9, 10, 11, 12, 37] {
        input.push_str(&format!(
            ">len{len}\n{}\n",
            "ACDEFGHIKLMNPQRSTVWY".repeat(2).get(..len.min(40)).unwrap()
        ));
    }
    write(dir.path(), "in.fa", &input);
    for (crop, want) in [
        ("start", [0, 0, 0, 0, 0, 0]),
        ("center", [0, 0, 0, 0, 1, 13]),
    ] {
        let (fasta, rows) = mask(
            dir.path(),
            "in.fa",
            &["--max-length", "10", "--crop", crop, "--schedule", "0"],
        );
        let masked = parse_fasta(&fasta);
        for (((row, (header, seq)), (_, orig)), want) in
            rows.iter().zip(&masked).zip(parse_fasta(&input)).zip(want)
        {
            let start: usize = row["crop_start"].parse().unwrap();
            assert_eq!(start, want, "{crop} {header}");
            assert_eq!(row["original_length"], orig.len().to_string());
            let end = (start + 10).min(orig.len());
            assert_eq!(seq, &orig[start..end], "{crop} {header}");
            // Only a cropped record's header says so.
            assert_eq!(header.contains(" crop="), orig.len() > 10, "{header}");
        }
    }
}

/// A run whose `--max-length` no record reaches gives the FASTA of a run without it byte
/// for byte, and the rates table and dataset rows with the two columns added (0 and the
/// length); with data/ at 1,022, every record of at most 1,022 residues is as without.
#[test]
fn issue22_records_not_cropped_are_masked_as_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str], tag: &str| {
        protmask()
            .current_dir(d)
            .args([
                "mask",
                "-q",
                DATA,
                "--preset",
                "esm2",
                "--mask-token=_",
                "--positions",
            ])
            .args(["-o", &format!("{tag}.fa"), "-r", &format!("{tag}.csv")])
            .args(["--dataset", &format!("{tag}.jsonl")])
            .args(args)
            .assert()
            .success();
        let read = |ext: &str| std::fs::read_to_string(d.join(format!("{tag}.{ext}"))).unwrap();
        (read("fa"), read("csv"), read("jsonl"))
    };
    let (fa0, csv0, jsonl0) = run(&[], "plain");
    let (fa1, csv1, jsonl1) = run(&["--max-length", "100000"], "long");
    assert_eq!(fa0, fa1);
    let (r0, r1) = (parse_rates(&csv0, b','), parse_rates(&csv1, b','));
    assert_eq!(r0.len(), r1.len());
    for (a, b) in r0.iter().zip(&r1) {
        let mut b = b.clone();
        assert_eq!(b.remove("crop_start").as_deref(), Some("0"));
        let len = b.remove("original_length").unwrap();
        assert_eq!(&b, a);
        assert!(len.parse::<usize>().unwrap() >= a["length"].parse::<usize>().unwrap());
    }
    for (a, b) in jsonl0.lines().zip(jsonl1.lines()) {
        let a: serde_json::Value = serde_json::from_str(a).unwrap();
        let mut b: serde_json::Value = serde_json::from_str(b).unwrap();
        let o = b.as_object_mut().unwrap();
        assert_eq!(o.remove("crop_start"), Some(0.into()));
        assert_eq!(
            o.remove("original_length"),
            Some(a["sequence"].as_str().unwrap().len().into())
        );
        assert_eq!(a, b);
    }
    // Cropping some records leaves the others' masks as they were.
    let (fa2, _, _) = run(&["--max-length", "1022"], "crop");
    let (plain, cropped) = (parse_fasta(&fa0), parse_fasta(&fa2));
    let original = parse_fasta(&std::fs::read_to_string(DATA).unwrap());
    let mut n_cropped = 0;
    for (((h0, s0), (h2, s2)), (_, o)) in plain.iter().zip(&cropped).zip(&original) {
        if o.len() <= 1022 {
            assert_eq!((h0, s0), (h2, s2));
        } else {
            n_cropped += 1;
            assert!(h2.starts_with(h0.as_str()) && h2.contains(" crop="), "{h2}");
            assert_eq!(s2.len(), 1022);
        }
    }
    assert!(
        n_cropped > 0,
        "data/ has records longer than 1,022 residues"
    );
}

#[test]
fn issue22_same_bytes_for_any_threads_and_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", records(500, 300));
    let mut outputs = Vec::new();
    for (i, args) in [
        ["-j1", "--block-size=1048576"],
        ["-j2", "--block-size=2048"],
        ["-j2", "--block-size=65536"],
    ]
    .iter()
    .enumerate()
    {
        protmask()
            .current_dir(d)
            .args(["mask", "-q", "in.fa", "--max-length", "200"])
            .args(["-o", &format!("{i}.fa"), "--rates", &format!("{i}.tsv")])
            .args(["--dataset", &format!("{i}.parquet"), "--tokens", "esm"])
            .args(["--replicates", "2"])
            .args(args)
            .assert()
            .success();
        let read = |ext: &str| std::fs::read(d.join(format!("{i}.{ext}"))).unwrap();
        outputs.push((read("fa"), read("tsv"), read("parquet")));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    // Each replicate draws its own window.
    let fasta = String::from_utf8(outputs[0].0.clone()).unwrap();
    let starts: std::collections::HashSet<&str> = fasta
        .lines()
        .filter_map(|l| l.split(" crop=").nth(1))
        .collect();
    assert!(starts.len() > 50, "{}", starts.len());
}

#[test]
fn issue22_bad_crop_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", ">a\nACDEFGHIK\n");
    for (args, says) in [
        (&["--max-length", "0"][..], "'0' for '--max-length <N>'"),
        (&["--max-length=-3"][..], "'-3' for '--max-length <N>'"),
        (&["--crop", "start"][..], "--max-length <N>"),
        (&["--crop", "middle", "--max-length", "4"][..], "middle"),
    ] {
        let out = protmask()
            .current_dir(d)
            .args(["mask", "in.fa", "-o", "out.fa"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.lines().next().unwrap().contains(says),
            "{args:?}: {stderr}"
        );
        assert!(!d.join("out.fa").exists(), "{args:?}");
    }
}

/// `protmask verify ORIGINAL ARGS` in `dir`: (exit code, stderr).
fn verify(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = protmask()
        .current_dir(dir)
        .args(["verify", DATA])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replace the first `crop=START-END` in `path` by the window one residue to the right.
fn shift_first_window(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text.find(" crop=").unwrap() + 6;
    let end = at + text[at..].find('\n').unwrap();
    let (a, b) = text[at..end].split_once('-').unwrap();
    let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
    let shifted = format!("{}{}-{}{}", &text[..at], a + 1, b + 1, &text[end..]);
    std::fs::write(path, shifted).unwrap();
}

#[test]
fn issue22_verify_accepts_cropped_sets_and_rejects_a_shifted_window() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for crop in ["random", "start", "center"] {
        protmask()
            .current_dir(d)
            .args(["mask", "-q", DATA, "--max-length", "300", "--crop", crop])
            .args([
                "-o",
                "m.fa",
                "-r",
                "r.csv",
                "--positions",
                "--manifest",
                "m.json",
            ])
            .args(["--dataset", "d.parquet", "--tokens", "esm"])
            .assert()
            .success();
        protmask()
            .current_dir(d)
            .args(["mask", "-q", DATA, "--max-length", "300", "--crop", crop])
            .args(["-o", "j.fa", "--dataset", "d.jsonl"])
            .assert()
            .success();
        for args in [
            &["m.fa", "-r", "r.csv", "--manifest", "m.json"][..],
            &["m.fa", "-r", "r.csv", "--max-length", "300", "--crop", crop][..],
            &["d.parquet"][..],
            &["d.parquet", "--manifest", "m.json"][..],
            &["d.jsonl", "--max-length", "300", "--crop", crop][..],
        ] {
            let (code, stderr) = verify(d, args);
            assert_eq!(code, Some(0), "{crop} {args:?}: {stderr}");
        }
        // A set checked against the wrong length or crop is refused.
        let (code, stderr) = verify(d, &["m.fa", "--max-length", "301"]);
        assert_eq!(code, Some(1), "{crop}: {stderr}");
        assert!(stderr.contains("not --max-length 301"), "{stderr}");
        if crop != "start" {
            let (code, stderr) = verify(d, &["m.fa", "--max-length", "300", "--crop", "start"]);
            assert_eq!(code, Some(1), "{crop}: {stderr}");
        }

        // The window moved one residue: its letters are not the original's there (or, for a
        // fixed crop, not its offset); the rates row's crop_start then disagrees too.
        std::fs::copy(d.join("m.fa"), d.join("s.fa")).unwrap();
        shift_first_window(&d.join("s.fa"));
        let (code, stderr) = verify(d, &["s.fa", "--max-length", "300", "--crop", crop]);
        assert_eq!(code, Some(1), "{crop}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        // The same shift in the dataset row alone (the first cropped row).
        let text = std::fs::read_to_string(d.join("d.jsonl")).unwrap();
        let mut done = false;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                if !done && v["original_length"].as_u64().unwrap() > 300 {
                    done = true;
                    v["crop_start"] = (v["crop_start"].as_u64().unwrap() + 1).into();
                }
                v.to_string()
            })
            .collect();
        assert!(done);
        std::fs::write(d.join("s.jsonl"), lines.join("\n") + "\n").unwrap();
        let (code, stderr) = verify(d, &["s.jsonl", "--max-length", "300", "--crop", crop]);
        assert_eq!(code, Some(1), "{crop}: {stderr}");
        // A record longer than N left whole.
        let (code, stderr) = verify(d, &["m.fa", "--max-length", "200"]);
        assert_eq!(code, Some(1), "{crop}: {stderr}");
    }
    // Without cropping, a set that has windows is refused where they are not windows of
    // the original: verify against a longer --max-length says the original is short.
    let (code, stderr) = verify(d, &["m.fa", "--max-length", "100000"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("not more than --max-length 100000"),
        "{stderr}"
    );
}

/// `--regions` with cropping: intervals are in the original's coordinates, shifted into
/// each window; every selected position (window coordinates + crop_start) lies inside an
/// interval, and verify with the regions accepts the set.
#[test]
fn issue22_regions_are_shifted_into_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", records(200, 120));
    let mut bed = String::new();
    for i in 0..200 {
        bed.push_str(&format!("r{i}\t10\t30\nr{i}\t50\t70\n"));
    }
    write(d, "r.bed", &bed);
    let (_, rows) = mask(
        d,
        "in.fa",
        &[
            "--max-length",
            "60",
            "--regions",
            "r.bed",
            "--positions",
            "--schedule",
            "0.9",
        ],
    );
    let mut selected = 0;
    for row in &rows {
        let start: u64 = row["crop_start"].parse().unwrap();
        for p in row["positions"].split(';').filter(|s| !s.is_empty()) {
            let p = start + p.parse::<u64>().unwrap();
            assert!((10..30).contains(&p) || (50..70).contains(&p), "{row:?}");
            selected += 1;
        }
        // L counts the eligible positions of the window.
        let eligible = (start..start + 60)
            .filter(|p| (10..30).contains(p) || (50..70).contains(p))
            .count();
        assert_eq!(row["length"], eligible.to_string(), "{row:?}");
    }
    assert!(selected > 1000, "{selected}");
    let out = protmask()
        .current_dir(d)
        .args([
            "verify",
            "in.fa",
            "out.fa",
            "-r",
            "rates.csv",
            "--regions",
            "r.bed",
        ])
        .args(["--max-length", "60"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
