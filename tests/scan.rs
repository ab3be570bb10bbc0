//! Issue 23: `protmask scan` through the binary. Every row masks exactly its own position
//! and nothing else, for every preset's token; windows equal an independent transcription
//! of ProteinGym's `get_optimal_window` on lengths around N and positions at both ends;
//! `--positions` scans a subset; the bytes do not depend on -j or the block size (a block
//! is written as several parts); variants tables against an independent parser of the
//! ProteinGym format, multi-mutants, and every bad input of the issue.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;

/// Run `protmask scan ARGS` in `dir`, expecting success; stderr.
fn scan(dir: &Path, args: &[&str]) -> String {
    let out = protmask()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

/// Run `protmask scan ARGS` in `dir`, expecting exit `code`; stderr.
fn scan_fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = protmask()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .assert()
        .code(code);
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

/// The ID and description of a header line.
fn split_header(h: &str) -> (&str, &str) {
    h.split_once(' ').unwrap_or((h, ""))
}

/// What a scan row of `orig` masking `pos` must be: the original with `token` there.
fn expected_row(orig: &str, pos: usize, token: &str) -> String {
    format!("{}{token}{}", &orig[..pos], &orig[pos + 1..])
}

/// Check a scan's FASTA and table against its input: per record, rows `<id>_p0 ..
/// <id>_p<L-1>` in order, each the original with exactly its position masked. The first
/// disagreement, if any.
fn check_rows(
    input: &[(String, String)],
    rows: &[(String, String)],
    table: &[HashMap<String, String>],
    token: &str,
) -> Result<(), String> {
    let expected: usize = input.iter().map(|(_, s)| s.len()).sum();
    if rows.len() != expected || table.len() != expected {
        return Err(format!(
            "{} rows and {} table rows, expected {expected}",
            rows.len(),
            table.len()
        ));
    }
    let mut at = 0;
    for (header, seq) in input {
        let (id, desc) = split_header(header);
        for pos in 0..seq.len() {
            let (h, got) = &rows[at];
            let row = &table[at];
            at += 1;
            let want_header = if desc.is_empty() {
                format!("{id}_p{pos}")
            } else {
                format!("{id}_p{pos} {desc}")
            };
            if *h != want_header {
                return Err(format!("row {at}: header '{h}', expected '{want_header}'"));
            }
            if *got != expected_row(seq, pos, token) {
                return Err(format!("row {at} ({h}): '{got}'"));
            }
            let fields = (
                row["id"].as_str(),
                row["positions"].as_str(),
                row["masked"].as_str(),
                row["length"].as_str(),
            );
            let (p, l) = (pos.to_string(), seq.len().to_string());
            if fields != (id, p.as_str(), "1", l.as_str()) {
                return Err(format!("table row {at}: {fields:?}"));
            }
            let rate: f64 = row["rate"].parse().unwrap();
            let t: f64 = row["t"].parse().unwrap();
            if rate != 1.0 / seq.len() as f64 || t != 1.0 - rate {
                return Err(format!("table row {at}: t {t}, rate {rate}"));
            }
        }
    }
    Ok(())
}

/// Mixed-case records, X, a one-residue record and a record of one letter, wrapped.
fn input_text() -> String {
    let mut s = synthetic_fasta(12, 23);
    s.push_str(">one\nM\n>poly desc with, comma\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAA\n");
    s
}

#[test]
fn issue23_every_row_masks_its_own_position_for_every_presets_token() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.fa", input_text());
    let input = parse_fasta(&input_text());
    let residues: usize = input.iter().map(|(_, s)| s.len()).sum();
    for &preset in protmask::presets::Preset::ALL {
        let token = preset.facts().token;
        let mut args = vec!["-q", "in.fa", "-o", "rows.fa", "-r", "rows.csv"];
        args.extend(["--preset", preset.name()]);
        if preset.name() == "bionemo-esm2" {
            // Its preset windows at 1,022; these records are shorter.
            assert_eq!(preset.facts().max_length, Some(1022));
        }
        scan(dir.path(), &args);
        let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
        let table = parse_rates(
            &std::fs::read_to_string(dir.path().join("rows.csv")).unwrap(),
            b',',
        );
        check_rows(&input, &rows, &table, token).unwrap_or_else(|e| panic!("{preset}: {e}"));
        // The checker is not vacuous: a row masking its neighbour, a row masking one more
        // position and a dropped row are each caught.
        let mut wrong = rows.clone();
        wrong[5].1 = expected_row(&input[0].1, 6, token);
        assert!(check_rows(&input, &wrong, &table, token).is_err());
        let mut extra = rows.clone();
        extra[7].1 = expected_row(&extra[7].1, 0, token);
        assert!(check_rows(&input, &extra, &table, token).is_err());
        assert!(check_rows(&input, &rows[1..], &table[1..], token).is_err());
        eprintln!(
            "{preset}: {} rows, token '{token}', each its own position",
            rows.len()
        );
        assert_eq!(rows.len(), residues);
    }
    // --mask-token overrides the preset's.
    scan(
        dir.path(),
        &[
            "-q",
            "in.fa",
            "-o",
            "rows.fa",
            "-r",
            "rows.csv",
            "--preset",
            "esm2",
            "--mask-token",
            "<M>",
        ],
    );
    let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
    let table = parse_rates(
        &std::fs::read_to_string(dir.path().join("rows.csv")).unwrap(),
        b',',
    );
    check_rows(&input, &rows, &table, "<M>").unwrap();
}

/// ProteinGym's `get_optimal_window(mutation_position_relative, seq_len_wo_special,
/// model_window)`, transcribed apart from the library.
fn proteingym_window(pos: i64, len: i64, window: i64) -> (i64, i64) {
    let half = window / 2;
    if len <= window {
        (0, len)
    } else if pos < half {
        (0, window)
    } else if pos >= len - half {
        (len - window, len)
    } else {
        ((pos - half).max(0), (pos + half).min(len))
    }
}

#[test]
fn issue23_windows_are_proteingyms_rule_around_n_and_at_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let mut checked = 0;
    for n in [10usize, 11] {
        let mut text = String::new();
        for len in [n - 1, n, n + 1, 3 * n, 3 * n + 1] {
            let seq: String = (0..len)
                .map(|i| letters[(i * 7 + len) % 20] as char)
                .collect();
            text.push_str(&format!(">len{len} d\n{seq}\n"));
        }
        write(dir.path(), "in.fa", &text);
        let input = parse_fasta(&text);
        let n_arg = n.to_string();
        scan(
            dir.path(),
            &[
                "-q",
                "in.fa",
                "-o",
                "rows.fa",
                "-r",
                "rows.csv",
                "--max-length",
                &n_arg,
                "-w",
                "0",
            ],
        );
        let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
        let table = parse_rates(
            &std::fs::read_to_string(dir.path().join("rows.csv")).unwrap(),
            b',',
        );
        let mut at = 0;
        for (header, seq) in &input {
            let len = seq.len();
            for pos in 0..len {
                let (h, got) = &rows[at];
                let row = &table[at];
                at += 1;
                let (a, b) = proteingym_window(pos as i64, len as i64, n as i64);
                let (a, b) = (a as usize, b as usize);
                let start: usize = row["crop_start"].parse().unwrap();
                let p: usize = row["positions"].parse().unwrap();
                assert_eq!(start, a, "{header} position {pos}, N {n}");
                assert_eq!(row["original_length"], len.to_string());
                assert_eq!(got.len(), b - a, "{h}");
                assert_eq!(start + p, pos, "{h}");
                assert_eq!(*got, expected_row(&seq[a..b], pos - a, "_"), "{h}");
                // A cropped row says where its window lies; a whole record does not.
                let id = split_header(header).0;
                if len > n {
                    assert_eq!(*h, format!("{id}_p{pos} d crop={a}-{b}"));
                } else {
                    assert_eq!(*h, format!("{id}_p{pos} d"));
                }
                assert_eq!(row["length"], (b - a).to_string());
                checked += 1;
            }
        }
        assert_eq!(at, rows.len());
    }
    // Every row of lengths 9, 10, 11, 30, 31 (N = 10) and 10, 11, 12, 33, 34 (N = 11).
    assert_eq!(checked, 91 + 100);
    // A window of 1 cannot hold its position by the rule: refused, exit 2.
    let e = scan_fails(dir.path(), &["in.fa", "--max-length", "1"], 2);
    assert!(e.contains("at least 2 residues"), "{e}");
}

#[test]
fn issue23_positions_file_scans_a_subset() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "in.fa",
        ">a x\nACDEFGHIKLMN\n>b\nPQRSTV\n>c\nWYWY\n",
    );
    write(dir.path(), "p.bed", "# CDRs\na\t2\t5\na\t9\t11\nb\t0\t1\n");
    scan(
        dir.path(),
        &[
            "-q",
            "in.fa",
            "--positions",
            "p.bed",
            "-o",
            "rows.fa",
            "-r",
            "rows.csv",
            "-w",
            "0",
        ],
    );
    let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
    let ids: Vec<&str> = rows.iter().map(|(h, _)| split_header(h).0).collect();
    assert_eq!(ids, ["a_p2", "a_p3", "a_p4", "a_p9", "a_p10", "b_p0"]);
    assert_eq!(rows[3].1, "ACDEFGHIK_MN");
    let table = parse_rates(
        &std::fs::read_to_string(dir.path().join("rows.csv")).unwrap(),
        b',',
    );
    // L counts the eligible positions: 5 in a, 1 in b.
    let lengths: Vec<&str> = table.iter().map(|r| r["length"].as_str()).collect();
    assert_eq!(lengths, ["5", "5", "5", "5", "5", "1"]);
    // An interval past a record, and an ID no record has: errors naming the file and line,
    // nothing written.
    write(dir.path(), "bad.bed", "a\t2\t40\n");
    let e = scan_fails(
        dir.path(),
        &["in.fa", "--positions", "bad.bed", "-o", "x.fa"],
        1,
    );
    assert!(e.contains("bad.bed") && e.contains("line 1"), "{e}");
    write(dir.path(), "other.bed", "zz\t0\t1\n");
    let e = scan_fails(
        dir.path(),
        &["in.fa", "--positions", "other.bed", "-o", "x.fa"],
        1,
    );
    assert!(e.contains("zz"), "{e}");
    assert!(!dir.path().join("x.fa").exists());
    // --maskable restricts the rows further.
    scan(
        dir.path(),
        &["-q", "in.fa", "--maskable", "W", "-o", "rows.fa"],
    );
    let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
    let ids: Vec<&str> = rows.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(ids, ["c_p0", "c_p2"]);
}

#[test]
fn issue23_bytes_do_not_depend_on_threads_block_size_or_parts() {
    let dir = tempfile::tempdir().unwrap();
    // One long record among short ones: its rows (4 MB of FASTA) are written as several
    // parts, each a unit of work.
    let mut text = synthetic_fasta(40, 9);
    let long: String = (0..2100)
        .map(|i| b"ACDEFGHIKLMNPQRSTVWY"[(i * 13) % 20] as char)
        .collect();
    text.push_str(&format!(">long\n{long}\n"));
    text.push_str(&synthetic_fasta(5, 10).replace(">seq", ">tail"));
    write(dir.path(), "in.fa", &text);
    let run = |extra: &[&str], out: &str| {
        let mut args = vec!["-q", "in.fa", "-o", out, "-r", "r.csv"];
        args.extend(extra);
        scan(dir.path(), &args);
        (
            std::fs::read(dir.path().join(out)).unwrap(),
            std::fs::read(dir.path().join("r.csv")).unwrap(),
        )
    };
    let one = run(&["-j", "1"], "a.fa");
    let two = run(&["-j", "2", "--block-size", "700"], "b.fa");
    let three = run(&["-j", "3", "--block-size", "1"], "c.fa");
    assert!(
        one == two && one == three,
        "outputs differ with -j or the block size"
    );
    let input = parse_fasta(&text);
    // The long record's rows alone are more than a part holds.
    assert!(one.0.len() > 4 << 20, "{}", one.0.len());
    let rows = parse_fasta(&String::from_utf8(one.0).unwrap());
    let table = parse_rates(&String::from_utf8(one.1).unwrap(), b',');
    check_rows(&input, &rows, &table, "_").unwrap();
    // The dataset's labels: -100 but at the masked position, which holds <mask> (32); the
    // same rows from -j1 and from parts of one block.
    let dataset = |extra: &[&str]| {
        let mut args = vec!["-q", "small.fa", "--dataset", "d.jsonl", "--tokens", "esm"];
        args.extend(extra);
        scan(dir.path(), &args);
        std::fs::read(dir.path().join("d.jsonl")).unwrap()
    };
    write(dir.path(), "small.fa", synthetic_fasta(6, 3));
    let jsonl = dataset(&["-j", "1"]);
    assert_eq!(jsonl, dataset(&["-j", "2", "--block-size", "1"]));
    let rows = parse_fasta(&synthetic_fasta(6, 3));
    let rows: Vec<(String, String)> = rows
        .iter()
        .flat_map(|(h, s)| (0..s.len()).map(move |p| (h.clone(), expected_row(s, p, "_"))))
        .collect();
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    for row in &lines {
        let p = row["positions"][0].as_u64().unwrap() as usize;
        let ids = row["input_ids"].as_array().unwrap();
        let labels = row["labels"].as_array().unwrap();
        for (i, (id, label)) in ids.iter().zip(labels).enumerate() {
            if i == p + 1 {
                assert_eq!(id, 32);
                assert_ne!(label, -100);
            } else {
                assert_eq!(label, -100, "{row}");
            }
        }
    }
}

#[test]
fn issue23_scan_takes_no_seed_and_stdin_works() {
    let dir = tempfile::tempdir().unwrap();
    let e = scan_fails(dir.path(), &["--seed", "7", "-"], 2);
    assert!(e.contains("--seed"), "{e}");
    let e = scan_fails(dir.path(), &["--tokens", "esm", "-"], 2);
    assert!(e.contains("--tokens applies to a dataset"), "{e}");
    let out = protmask()
        .args(["scan", "-q", "-w", "0"])
        .write_stdin(">s\nMKV\n")
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        ">s_p0\n_KV\n>s_p1\nM_V\n>s_p2\nMK_\n"
    );
    // An empty input: no rows, exit 0.
    write(dir.path(), "empty.fa", "");
    scan(dir.path(), &["-q", "empty.fa", "-o", "e.fa", "-r", "e.csv"]);
    assert_eq!(std::fs::read(dir.path().join("e.fa")).unwrap(), b"");
}

// ---- variants ------------------------------------------------------------------------

/// A reference of 30 residues.
const REFERENCE: &str = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI";

/// One DMS line read apart from the library: (mutant, [(wt, 1-based pos, mt)], carried
/// fields).
type DmsLine = (String, Vec<(char, usize, char)>, Vec<String>);

/// The ProteinGym format read apart from the library.
fn proteingym_parse(csv_text: &str) -> Vec<DmsLine> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().unwrap().clone();
    let at = header.iter().position(|h| h == "mutant").unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let mutant = rec[at].to_string();
            let muts = mutant
                .split(':')
                .map(|m| {
                    let c: Vec<char> = m.chars().collect();
                    let pos: usize = m[1..m.len() - 1].parse().unwrap();
                    (c[0], pos, c[c.len() - 1])
                })
                .collect();
            let carried = (rec.iter().enumerate())
                .filter(|&(i, _)| i != at)
                .map(|(_, f)| f.to_string())
                .collect();
            (mutant, muts, carried)
        })
        .collect()
}

/// ESM's ids (fair-esm's ESM-1b alphabet), written out again.
fn esm_id(c: char) -> i64 {
    "LAGVSERTIDPKQNFYMHWCXBUZO.-"
        .find(c)
        .map_or(3, |i| i as i64 + 4)
}

/// A DMS file of singles and multi-mutants over `REFERENCE`, with a quoted field.
fn dms_text() -> String {
    let r: Vec<char> = REFERENCE.chars().collect();
    let m = |p: usize, to: char| format!("{}{}{}", r[p - 1], p, to);
    let mut s = String::from("DMS_score,mutant,DMS_score_bin,note\n");
    let rows = [
        (m(2, 'A'), "0.5"),
        (m(7, 'W'), "-1.5"),
        (format!("{}:{}", m(2, 'G'), m(30, 'P')), "2"),
        (
            format!("{}:{}:{}", m(15, 'L'), m(4, 'Y'), m(7, 'C')),
            "-0.25",
        ),
        (m(30, 'K'), "1e-3"),
        (format!("{}:{}", m(4, 'Y'), m(15, 'L')), "0"),
    ];
    for (i, (mutant, score)) in rows.iter().enumerate() {
        s.push_str(&format!("{score},{mutant},{},\"n, {i}\"\n", i % 2));
    }
    s
}

#[test]
fn issue23_variants_table_agrees_with_an_independent_parser() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ref.fa",
        format!(">P1 wild type\n{REFERENCE}\n>P2\nMKV\n"),
    );
    write(dir.path(), "dms.csv", dms_text());
    let parsed = proteingym_parse(&dms_text());
    for mode in ["marginal", "joint"] {
        scan(
            dir.path(),
            &[
                "-q",
                "--variants",
                "dms.csv",
                "--reference",
                "ref.fa",
                "--reference-id",
                "P1",
                "--variants-mode",
                mode,
                "--variants-table",
                "vt.csv",
                "-o",
                "rows.fa",
                "-r",
                "rows.csv",
                "-w",
                "0",
            ],
        );
        let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("rows.fa")).unwrap());
        let table = parse_rates(
            &std::fs::read_to_string(dir.path().join("vt.csv")).unwrap(),
            b',',
        );
        // The rows, made independently: distinct positions, or distinct sorted sets.
        let mut sets: Vec<Vec<usize>> = match mode {
            "marginal" => parsed
                .iter()
                .flat_map(|(_, m, _)| m.iter().map(|x| vec![x.1 - 1]))
                .collect(),
            _ => parsed
                .iter()
                .map(|(_, m, _)| {
                    let mut s: Vec<usize> = m.iter().map(|x| x.1 - 1).collect();
                    s.sort();
                    s
                })
                .collect(),
        };
        sets.sort();
        sets.dedup();
        assert_eq!(rows.len(), sets.len(), "{mode}");
        for ((header, seq), set) in rows.iter().zip(&sets) {
            let name: Vec<String> = set.iter().map(|p| p.to_string()).collect();
            assert_eq!(*header, format!("P1_p{} wild type", name.join("_")));
            let mut want: Vec<char> = REFERENCE.chars().collect();
            for &p in set {
                want[p] = '_';
            }
            assert_eq!(*seq, want.iter().collect::<String>());
        }
        assert_eq!(table.len(), parsed.len());
        for (row, (mutant, muts, carried)) in table.iter().zip(&parsed) {
            assert_eq!(row["mutant"], *mutant);
            let split = |k: &str| row[k].split(';').map(str::to_string).collect::<Vec<_>>();
            let texts: Vec<String> = muts.iter().map(|(w, p, m)| format!("{w}{p}{m}")).collect();
            assert_eq!(split("mutations"), texts);
            let wt: Vec<String> = muts.iter().map(|m| esm_id(m.0).to_string()).collect();
            let mt: Vec<String> = muts.iter().map(|m| esm_id(m.2).to_string()).collect();
            assert_eq!((split("wt_ids"), split("mt_ids")), (wt, mt));
            // Each mutation's row masks its position.
            for (r, (_, p, _)) in split("rows").iter().zip(muts) {
                let r: usize = r.parse().unwrap();
                assert!(sets[r].contains(&(p - 1)), "{mutant}: row {r}");
                if mode == "joint" {
                    assert_eq!(sets[r].len(), muts.len());
                }
            }
            let got: Vec<&str> = ["DMS_score", "DMS_score_bin", "note"]
                .iter()
                .map(|c| row[*c].as_str())
                .collect();
            assert_eq!(got, carried.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

#[test]
fn issue23_every_bad_variants_file_is_one_line_exit_1_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ref.fa", format!(">P1\n{REFERENCE}\n"));
    write(
        dir.path(),
        "two.fa",
        format!(">P1\n{REFERENCE}\n>P2\nMKV\n"),
    );
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "no_mutant.csv",
            "variant,DMS_score\nM1A,1\n",
            &["no_mutant.csv: line 1: no 'mutant' column"],
        ),
        (
            "a23.csv",
            "mutant\nM1A\nA23\n",
            &["a23.csv: line 3: mutant 'A23'", "not a mutation"],
        ),
        (
            "23k.csv",
            "mutant\n23K\n",
            &["23k.csv: line 2: mutant '23K'", "not a mutation"],
        ),
        (
            "a0k.csv",
            "mutant\nA0K\n",
            &["a0k.csv: line 2: mutant 'A0K'", "1-based"],
        ),
        (
            "a23kk.csv",
            "mutant\nA23KK\n",
            &["a23kk.csv: line 2: mutant 'A23KK'", "not a mutation"],
        ),
        (
            "past.csv",
            "mutant\nM1A:I31K\n",
            &[
                "past.csv: line 2: mutant 'M1A:I31K'",
                "position 31 is past the end",
                "30 residues",
            ],
        ),
        (
            "offby1.csv",
            "mutant,s\nM1A,1\nT4A,2\n",
            &[
                "offby1.csv: line 3: mutant 'T4A'",
                "has 'A' at position 4, not 'T'",
            ],
        ),
        (
            "mismatch.csv",
            "mutant\nK3A\n",
            &[
                "mismatch.csv: line 2: mutant 'K3A'",
                "has 'T' at position 3, not 'K'",
            ],
        ),
        ("empty.csv", "", &["empty.csv", "empty"]),
        (
            "header.csv",
            "mutant,DMS_score\n",
            &["header.csv", "no mutants"],
        ),
    ];
    for (name, text, wants) in cases {
        write(dir.path(), name, text);
        let e = scan_fails(
            dir.path(),
            &[
                "--variants",
                name,
                "--reference",
                "ref.fa",
                "--variants-table",
                "vt.csv",
                "-o",
                "rows.fa",
                "--manifest",
                "m.json",
            ],
            1,
        );
        assert_eq!(e.trim_end().lines().count(), 1, "{name}: {e}");
        for want in *wants {
            assert!(e.contains(want), "{name}: '{want}' not in: {e}");
        }
        for out in ["vt.csv", "rows.fa", "m.json"] {
            assert!(!dir.path().join(out).exists(), "{name}: {out} written");
        }
        eprintln!("{name}: {}", e.trim_end());
    }
    // A reference of several records and no --reference-id: a usage error (exit 2).
    write(dir.path(), "ok.csv", "mutant\nM1A\n");
    let e = scan_fails(
        dir.path(),
        &[
            "--variants",
            "ok.csv",
            "--reference",
            "two.fa",
            "--variants-table",
            "vt.csv",
            "-o",
            "rows.fa",
        ],
        2,
    );
    assert!(e.contains("two.fa") && e.contains("--reference-id"), "{e}");
    let e = scan_fails(
        dir.path(),
        &[
            "--variants",
            "ok.csv",
            "--reference",
            "two.fa",
            "--reference-id",
            "P9",
            "--variants-table",
            "vt.csv",
        ],
        1,
    );
    assert!(e.contains("no record has the ID 'P9'"), "{e}");
    // Without --variants-table, and with options that only a scan of every position takes:
    // usage errors.
    scan_fails(
        dir.path(),
        &["--variants", "ok.csv", "--reference", "ref.fa"],
        2,
    );
    let e = scan_fails(
        dir.path(),
        &[
            "--variants",
            "ok.csv",
            "--reference",
            "ref.fa",
            "--variants-table",
            "vt.csv",
            "--maskable",
            "A",
        ],
        2,
    );
    assert!(
        e.contains("--maskable cannot be used with --variants"),
        "{e}"
    );
    assert!(!dir.path().join("vt.csv").exists());
    // A duplicated mutant: warned about, both kept.
    write(dir.path(), "dup.csv", "mutant,s\nM1A,1\nK2A,2\nM1A,3\n");
    let e = scan(
        dir.path(),
        &[
            "-q",
            "--variants",
            "dup.csv",
            "--reference",
            "two.fa",
            "--reference-id",
            "P1",
            "--variants-table",
            "vt.csv",
            "-o",
            "rows.fa",
        ],
    );
    assert!(
        e.contains("warning") && e.contains("'M1A' (line 4, as line 2)"),
        "{e}"
    );
    let table = parse_rates(
        &std::fs::read_to_string(dir.path().join("vt.csv")).unwrap(),
        b',',
    );
    assert_eq!(table.len(), 3);
    assert_eq!(
        (table[0]["rows"].as_str(), table[2]["rows"].as_str()),
        ("0", "0")
    );
}

#[test]
fn issue23_variants_parquet_table_and_joint_windows() {
    let dir = tempfile::tempdir().unwrap();
    let long: String = (0..40)
        .map(|i| b"ACDEFGHIKLMNPQRSTVWY"[i % 20] as char)
        .collect();
    write(dir.path(), "ref.fa", format!(">L\n{long}\n"));
    // Positions 2 and 39 cannot share a window of 10; 5 and 9 can.
    write(dir.path(), "far.csv", "mutant,s\nC2A:Y40A,1\n");
    write(dir.path(), "near.csv", "mutant,s\nF5A:L10A,1.5\nF5G,\n");
    let e = scan_fails(
        dir.path(),
        &[
            "--variants",
            "far.csv",
            "--reference",
            "ref.fa",
            "--variants-table",
            "vt.parquet",
            "--variants-mode",
            "joint",
            "--max-length",
            "10",
        ],
        1,
    );
    assert!(
        e.contains("far.csv: line 2: mutant 'C2A:Y40A'") && e.contains("span 39 residues"),
        "{e}"
    );
    // In marginal mode each position has its own window: fine.
    scan(
        dir.path(),
        &[
            "-q",
            "--variants",
            "far.csv",
            "--reference",
            "ref.fa",
            "--variants-table",
            "vt.parquet",
            "--max-length",
            "10",
            "-o",
            "m.fa",
            "-w",
            "0",
        ],
    );
    let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("m.fa")).unwrap());
    assert_eq!(rows[0].0, "L_p1 crop=0-10");
    assert_eq!(rows[1].0, "L_p39 crop=30-40");
    scan(
        dir.path(),
        &[
            "-q",
            "--variants",
            "near.csv",
            "--reference",
            "ref.fa",
            "--variants-table",
            "vt.parquet",
            "--variants-mode",
            "joint",
            "--max-length",
            "10",
            "-o",
            "j.fa",
            "-w",
            "0",
        ],
    );
    let rows = parse_fasta(&std::fs::read_to_string(dir.path().join("j.fa")).unwrap());
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    // Midpoint (4 + 9) / 2 = 6: [1, 11); the single F5G at 4: [0, 10).
    assert_eq!(names, ["L_p4 crop=0-10", "L_p4_9 crop=1-11"]);
    assert!(
        std::fs::read(dir.path().join("vt.parquet"))
            .unwrap()
            .starts_with(b"PAR1")
    );
}

// ---- verify and regenerate -------------------------------------------------------------

/// Run `protmask ARGS` in `dir`: (exit code, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = protmask().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue23_verify_catches_a_row_that_masks_the_wrong_position() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.fa", synthetic_fasta(8, 5));
    scan(
        dir.path(),
        &[
            "-q",
            "in.fa",
            "-o",
            "rows.fa",
            "-r",
            "rows.csv",
            "--max-length",
            "50",
            "--dataset",
            "d.jsonl",
            "--tokens",
            "esm",
            "--manifest",
            "m.json",
        ],
    );
    // The set as written verifies, by the manifest and by the flags alone.
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "rows.fa",
            "-r",
            "rows.csv",
            "--manifest",
            "m.json",
        ],
    );
    assert_eq!(code, 0, "{e}");
    assert!(e.contains("regenerate byte-identical"), "{e}");
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "rows.fa",
            "-r",
            "rows.csv",
            "--scan",
            "--max-length",
            "50",
        ],
    );
    assert_eq!(code, 0, "{e}");
    let (code, e) = run(
        dir.path(),
        &["verify", "in.fa", "d.jsonl", "--scan", "--max-length", "50"],
    );
    assert_eq!(code, 0, "{e}");

    // Row 4 of the first record (a_p3 in the FASTA) masks position 4 instead of 3.
    let text = std::fs::read_to_string(dir.path().join("rows.fa")).unwrap();
    let rows = parse_fasta(&text);
    let input = parse_fasta(&synthetic_fasta(8, 5));
    let first = &input[1]; // seq0 may be short: use the second record
    let (id, _) = split_header(&first.0);
    let at = rows
        .iter()
        .position(|(h, _)| h.starts_with(&format!("{id}_p3 ")))
        .unwrap();
    let window_start = {
        let h = &rows[at].0;
        h.rsplit_once(" crop=")
            .map_or(0, |(_, w)| w.split('-').next().unwrap().parse().unwrap())
    };
    let mut bad = rows.clone();
    let orig_window = &first.1[window_start..window_start + rows[at].1.len()];
    bad[at].1 = expected_row(orig_window, 4 - window_start, "_");
    let fasta: String = bad.iter().map(|(h, s)| format!(">{h}\n{s}\n")).collect();
    write(dir.path(), "bad.fa", &fasta);
    let (code, e) = run(
        dir.path(),
        &["verify", "in.fa", "bad.fa", "--scan", "--max-length", "50"],
    );
    assert_eq!(code, 1, "{e}");
    assert!(
        e.contains(&format!(
            "bad.fa: record {} ({id}_p3): position 3 is not masked, but the row masks [3]",
            at + 1
        )),
        "{e}"
    );
    // A row named for the wrong position (two rows swapped): the order is wrong.
    let mut swapped = rows.clone();
    swapped.swap(at, at + 1);
    let fasta: String = swapped
        .iter()
        .map(|(h, s)| format!(">{h}\n{s}\n"))
        .collect();
    write(dir.path(), "swapped.fa", &fasta);
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "swapped.fa",
            "--scan",
            "--max-length",
            "50",
        ],
    );
    assert_eq!(code, 1, "{e}");
    assert!(e.contains(&format!("expected the row {id}_p3")), "{e}");
    // A missing row.
    let mut short = rows.clone();
    short.remove(at);
    let fasta: String = short.iter().map(|(h, s)| format!(">{h}\n{s}\n")).collect();
    write(dir.path(), "short.fa", &fasta);
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "short.fa",
            "--scan",
            "--max-length",
            "50",
        ],
    );
    assert_eq!(code, 1, "{e}");
    // The wrong window for the rule: verified with another --max-length.
    let (code, e) = run(
        dir.path(),
        &["verify", "in.fa", "rows.fa", "--scan", "--max-length", "51"],
    );
    assert_eq!(code, 1, "{e}");
    assert!(e.contains("the rule places"), "{e}");
    // The dataset: a row whose masked_sequence masks the next position.
    let jsonl = std::fs::read_to_string(dir.path().join("d.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = &mut lines[at];
    let seq = row["sequence"].as_str().unwrap().to_string();
    let p = row["positions"][0].as_u64().unwrap() as usize;
    row["masked_sequence"] = expected_row(&seq, p + 1, "_").into();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    write(dir.path(), "bad.jsonl", text);
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "bad.jsonl",
            "--scan",
            "--max-length",
            "50",
        ],
    );
    assert_eq!(code, 1, "{e}");
    assert!(
        e.contains("bad.jsonl: row") && e.contains("position 3 is not masked"),
        "{e}"
    );
    // And its labels: one more label than the row masks.
    let mut lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[at]["labels"][1] = 5.into();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    write(dir.path(), "bad2.jsonl", text);
    let (code, e) = run(
        dir.path(),
        &[
            "verify",
            "in.fa",
            "bad2.jsonl",
            "--scan",
            "--max-length",
            "50",
        ],
    );
    // Without the recorded vocabulary the tokens are not checked; the manifest's options
    // say esm, so the manifest check catches it.
    let _ = (code, e);
    let (code, e) = run(
        dir.path(),
        &["verify", "in.fa", "bad2.jsonl", "--manifest", "m.json"],
    );
    assert_eq!(code, 1, "{e}");
    assert!(e.contains("labels"), "{e}");
}

#[test]
fn issue23_regenerate_rebuilds_scan_sets_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in.fa", synthetic_fasta(6, 8));
    write(d, "ref.fa", format!(">P1 wt\n{REFERENCE}\n>P2\nMKV\n"));
    write(d, "dms.csv", dms_text());
    write(d, "p.bed", "seq1\t0\t30\nseq3\t5\t9\n");
    scan(
        d,
        &[
            "-q",
            "in.fa",
            "--positions",
            "p.bed",
            "--max-length",
            "12",
            "-o",
            "rows.fa.gz",
            "-r",
            "rows.tsv",
            "--dataset",
            "set/",
            "--tokens",
            "evodiff",
            "--manifest",
            "m.json",
        ],
    );
    scan(
        d,
        &[
            "-q",
            "--variants",
            "dms.csv",
            "--reference",
            "ref.fa",
            "--reference-id",
            "P1",
            "--variants-mode",
            "joint",
            "--variants-table",
            "vt.parquet",
            "--dataset",
            "mm.parquet",
            "--tokens",
            "esm",
            "--manifest",
            "vm.json",
        ],
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("vm.json")).unwrap()).unwrap();
    assert_eq!(m["command_line"][1], "scan");
    assert_eq!(m["options"]["scan"]["random"], false);
    assert_eq!(m["variants"]["path"], "dms.csv");
    assert_eq!(m["variants"]["records"], 6);
    // Moved: the inputs and the variants file renamed in another folder.
    let moved = d.join("moved");
    std::fs::create_dir(&moved).unwrap();
    for (from, to) in [
        ("in.fa", "in.fa"),
        ("ref.fa", "reference.fa"),
        ("dms.csv", "assay.csv"),
        ("p.bed", "p.bed"),
    ] {
        std::fs::copy(d.join(from), moved.join(to)).unwrap();
    }
    for (manifest, outputs) in [("m.json", 4), ("vm.json", 2)] {
        let (code, e) = run(
            d,
            &[
                "regenerate",
                manifest,
                "--input",
                "moved",
                "-C",
                &format!("re-{manifest}"),
            ],
        );
        assert_eq!(code, 0, "{manifest}: {e}");
        let out = protmask()
            .current_dir(d)
            .args([
                "regenerate",
                manifest,
                "--input",
                "moved",
                "-C",
                &format!("re2-{manifest}"),
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.matches("identical").count(), outputs, "{stdout}");
    }
    // A variants file edited since: found by name, refused by its digest.
    write(&moved, "assay.csv", dms_text().replace("0.5", "0.6"));
    std::fs::remove_file(d.join("dms.csv")).unwrap();
    let (code, e) = run(
        d,
        &["regenerate", "vm.json", "--input", "moved", "-C", "re3"],
    );
    assert_eq!(code, 1, "{e}");
    assert!(e.contains("variants file 'dms.csv' is missing"), "{e}");
    // The dataset verifies by its own metadata (a scan recorded there).
    let (code, e) = run(d, &["verify", "ref.fa", "mm.parquet"]);
    assert_eq!(code, 0, "{e}");
}
