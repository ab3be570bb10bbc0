//! The `mask` command as users run it: real subprocesses of the binary on real files.

mod common;

use common::*;
use predicates::prelude::*;

fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = protmask()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    out.stdout
}

#[test]
fn version_is_bare() {
    let out = run_ok(&["--version"]);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text, format!("protmask {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn readme_first_command_writes_fasta_and_rates() {
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("masked.fa");
    let rates = dir.path().join("rates.csv");
    protmask()
        .args(["mask", DATA, "-o"])
        .arg(&fa)
        .arg("-r")
        .arg(&rates)
        .assert()
        .success()
        .stderr(predicate::str::contains("85 records"));
    let original = parse_fasta(&std::fs::read_to_string(DATA).unwrap());
    let masked = parse_fasta(&std::fs::read_to_string(&fa).unwrap());
    let rows = parse_rates(&std::fs::read_to_string(&rates).unwrap(), b',');
    assert_eq!(original.len(), 85);
    assert_eq!(masked.len(), 85);
    assert_eq!(rows.len(), 85);
    let header = std::fs::read_to_string(&rates).unwrap();
    assert_eq!(
        header.lines().next(),
        Some("file,id,replicate,length,t,rate,masked")
    );
    for ((o, m), row) in original.iter().zip(&masked).zip(&rows) {
        assert_eq!(o.0, m.0, "headers are copied unchanged");
        assert_eq!(o.1.len(), m.1.len(), "'_' is one character");
        let changed = o.1.bytes().zip(m.1.bytes()).filter(|(a, b)| a != b).count();
        let underscores = m.1.bytes().filter(|&b| b == b'_').count();
        assert_eq!(changed, underscores, "every change is a mask token");
        assert_eq!(row["masked"].parse::<usize>().unwrap(), underscores);
        assert_eq!(row["length"].parse::<usize>().unwrap(), o.1.len());
        assert_eq!(row["file"], DATA);
        assert_eq!(format!("{} ", row["id"]), o.0[..row["id"].len() + 1]);
    }
    // 60 residues per line by default.
    let text = std::fs::read_to_string(&fa).unwrap();
    assert!(text.lines().all(|l| l.starts_with('>') || l.len() <= 60));
    assert!(text.lines().any(|l| l.len() == 60));
}

#[test]
fn unselected_positions_are_the_input_and_positions_match_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.fa", synthetic_fasta(300, 1));
    let fa = dir.path().join("out.fa");
    let rates = dir.path().join("rates.tsv");
    protmask()
        .args(["mask", "--preset", "esm2", "--positions", "-q"])
        .arg(&input)
        .arg("-o")
        .arg(&fa)
        .arg("-r")
        .arg(&rates)
        .assert()
        .success();
    let original = parse_fasta(&std::fs::read_to_string(&input).unwrap());
    let masked = parse_fasta(&std::fs::read_to_string(&fa).unwrap());
    let rows = parse_rates(&std::fs::read_to_string(&rates).unwrap(), b'\t');
    assert_eq!(masked.len(), original.len());
    assert_eq!(rows.len(), original.len());
    let (mut tokens, mut selected) = (0usize, 0usize);
    for ((o, m), row) in original.iter().zip(&masked).zip(&rows) {
        // Walk the masked sequence token by token.
        let positions: Vec<usize> = if row["positions"].is_empty() {
            vec![]
        } else {
            row["positions"]
                .split(';')
                .map(|p| p.parse().unwrap())
                .collect()
        };
        assert_eq!(positions.len(), row["masked"].parse::<usize>().unwrap());
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "ascending");
        let mut rest = m.1.as_str();
        for (i, c) in o.1.chars().enumerate() {
            let sel = positions.binary_search(&i).is_ok();
            if let Some(r) = rest.strip_prefix("<mask>") {
                assert!(sel, "a token at an unselected position {i}");
                tokens += 1;
                rest = r;
            } else {
                let got = rest.chars().next().unwrap();
                if !sel {
                    assert_eq!(got, c, "unselected position {i} changed");
                } else {
                    assert!(got == c || b"ACDEFGHIKLMNPQRSTVWY".contains(&(got as u8)));
                }
                rest = &rest[1..];
            }
        }
        assert!(rest.is_empty());
        selected += positions.len();
        // esm2 is exact mode at 15%: k = floor(0.15 L + U).
        let l: f64 = row["length"].parse().unwrap();
        let k: f64 = row["masked"].parse().unwrap();
        assert!(k == (0.15 * l).floor() || k == (0.15 * l).ceil());
        assert_eq!(row["rate"], "0.15");
    }
    // 80/10/10: most selected positions are tokens, not all.
    let frac = tokens as f64 / selected as f64;
    assert!((0.75..0.85).contains(&frac), "{frac}");
}

fn mask_bytes(input: &std::path::Path, extra: &[&str]) -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let rates = dir.path().join("r.csv");
    let fasta = protmask()
        .arg("mask")
        .arg(input)
        .args(["-q", "-r"])
        .arg(&rates)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    (fasta, std::fs::read_to_string(rates).unwrap())
}

#[test]
fn threads_and_block_sizes_do_not_change_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.fa", synthetic_fasta(2000, 2));
    let (base_fa, base_rates) = mask_bytes(&input, &["-j", "1"]);
    for extra in [
        &["-j", "2"][..],
        &["-j", "8"],
        &["-j", "2", "--block-size", "1000"],
        &["-j", "8", "--block-size", "1"],
        &["-j", "1", "--block-size", "77777"],
    ] {
        let (fa, rates) = mask_bytes(&input, extra);
        assert!(fa == base_fa, "FASTA differs with {extra:?}");
        assert_eq!(rates, base_rates, "rates differ with {extra:?}");
    }
}

#[test]
fn shards_masked_apart_concatenate_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let text = synthetic_fasta(900, 3);
    let whole = write(dir.path(), "whole.fa", &text);
    let records: Vec<&str> = text.split_inclusive('\n').collect();
    // Split at record boundaries into three shards of unequal size.
    let starts: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with('>'))
        .map(|(i, _)| i)
        .collect();
    let cuts = [0, starts[200], starts[650], records.len()];
    let mut shard_fa = Vec::new();
    let mut shard_rows = Vec::new();
    for (k, w) in cuts.windows(2).enumerate() {
        let shard = write(
            dir.path(),
            &format!("shard{k}.fa"),
            records[w[0]..w[1]].concat(),
        );
        let (fa, rates) = mask_bytes(&shard, &["--preset", "dplm"]);
        shard_fa.extend(fa);
        shard_rows.extend(
            rates
                .lines()
                .skip(1)
                .map(|l| l.split_once(',').unwrap().1.to_string()),
        );
    }
    let (fa, rates) = mask_bytes(&whole, &["--preset", "dplm"]);
    assert!(fa == shard_fa, "concatenated shards differ from the whole");
    let rows: Vec<String> = rates
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect();
    assert_eq!(rows, shard_rows, "rates differ up to the file column");
}

#[test]
fn compressed_input_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = synthetic_fasta(500, 4);
    let plain = write(dir.path(), "in.fa", &text);
    // Misleading extensions: formats are sniffed from the content.
    let gz = write(dir.path(), "in.txt", gzip(text.as_bytes()));
    let zst = write(
        dir.path(),
        "in.fa.gz",
        zstd::encode_all(text.as_bytes(), 3).unwrap(),
    );
    let (base, base_rates) = mask_bytes(&plain, &[]);
    let strip = |r: &str| -> Vec<String> {
        r.lines()
            .map(|l| l.split_once(',').unwrap().1.to_string())
            .collect()
    };
    for p in [&gz, &zst] {
        let (fa, rates) = mask_bytes(p, &[]);
        assert!(fa == base, "{} differs", p.display());
        assert_eq!(strip(&rates), strip(&base_rates));
    }
}

#[test]
fn compressed_outputs_by_extension_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, _) = mask_bytes(std::path::Path::new(DATA), &[]);
    let gz = dir.path().join("out.fa.gz");
    let zst = dir.path().join("out.fa.zst");
    for p in [&gz, &zst] {
        protmask()
            .args(["mask", DATA, "-q", "-o"])
            .arg(p)
            .assert()
            .success();
    }
    let gz_bytes = std::fs::read(&gz).unwrap();
    assert_eq!(
        &gz_bytes[..4],
        &[0x1f, 0x8b, 8, 4],
        "BGZF header with FEXTRA"
    );
    assert!(gunzip(&gz_bytes) == plain);
    assert!(zstd::decode_all(&std::fs::read(&zst).unwrap()[..]).unwrap() == plain);
    let out = run_ok(&["mask", DATA, "-q", "--compress", "gz"]);
    assert!(gunzip(&out) == plain);
    // Compressed rates table.
    let rates = dir.path().join("r.tsv.gz");
    protmask()
        .args(["mask", DATA, "-q", "-o", "-", "-r"])
        .arg(&rates)
        .assert()
        .success();
    let text = String::from_utf8(gunzip(&std::fs::read(&rates).unwrap())).unwrap();
    assert!(text.starts_with("file\tid\treplicate\tlength\tt\trate\tmasked\n"));
}

#[test]
fn outdir_writes_one_file_per_input() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.fa", synthetic_fasta(50, 5));
    let b = write(
        dir.path(),
        "b.fa.gz",
        gzip(synthetic_fasta(60, 6).as_bytes()),
    );
    let out = dir.path().join("out");
    protmask()
        .arg("mask")
        .args([&a, &b])
        .arg("-O")
        .arg(&out)
        .arg("-q")
        .assert()
        .success();
    assert_eq!(dir_entries(&out), ["a.fa", "b.fa.gz"]);
    let (fa_a, _) = mask_bytes(&a, &[]);
    let (fa_b, _) = mask_bytes(&b, &[]);
    assert!(std::fs::read(out.join("a.fa")).unwrap() == fa_a);
    assert!(gunzip(&std::fs::read(out.join("b.fa.gz")).unwrap()) == fa_b);
    // Several inputs to one output are concatenated in input order.
    let both = run_ok(&["mask", "-q", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(both == [fa_a, fa_b].concat());
}

#[test]
fn stdin_and_input_list() {
    let text = synthetic_fasta(40, 7);
    let from_stdin = protmask()
        .args(["mask", "-q"])
        .write_stdin(text.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "x.fa", &text);
    let list = write(dir.path(), "list.txt", format!("{}\n\n", input.display()));
    let from_list = protmask()
        .args(["mask", "-q", "--input-list"])
        .arg(&list)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(from_stdin == from_list);
    let rates = dir.path().join("r.csv");
    protmask()
        .args(["mask", "-q", "-", "-o", "-", "-r"])
        .arg(&rates)
        .write_stdin(text)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(rates)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("-,seq0,")
    );
}

#[test]
fn replicates_line_width_and_token() {
    let input = ">p1 first\nACDEFGHIKLMNPQRSTVWY\n>p2\nMK\n";
    let out = protmask()
        .args([
            "mask",
            "-q",
            "--replicates",
            "3",
            "-w",
            "7",
            "--mask-token",
            "<mask>",
            "--schedule",
            "1",
        ])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with('>')).collect();
    assert_eq!(
        headers,
        [
            ">p1_r1 first",
            ">p1_r2 first",
            ">p1_r3 first",
            ">p2_r1",
            ">p2_r2",
            ">p2_r3"
        ]
    );
    // rate 1: every position masked, 7 tokens per line, never split.
    let first: Vec<&str> = text.lines().skip(1).take(3).collect();
    assert_eq!(
        first,
        ["<mask>".repeat(7), "<mask>".repeat(7), "<mask>".repeat(6)]
    );
    let unwrapped = protmask()
        .args(["mask", "-q", "-w", "0", "--schedule", "0"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(unwrapped).unwrap(), input);
}

#[test]
fn maskable_only_touches_listed_residues() {
    let input = ">a\nAAAAKKKKaaaa\n";
    let out = protmask()
        .args(["mask", "-q", "--maskable", "K", "--schedule", "1"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(out).unwrap(), ">a\nAAAA____aaaa\n");
}

#[test]
fn seeds_change_masks_and_the_same_seed_repeats_them() {
    let a = run_ok(&["mask", DATA, "-q", "-s", "1"]);
    let b = run_ok(&["mask", DATA, "-q", "-s", "1"]);
    let c = run_ok(&["mask", DATA, "-q", "-s", "2"]);
    assert!(a == b);
    assert!(a != c);
}

#[test]
fn empty_input_gives_empty_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "empty.fa", "");
    let fa = dir.path().join("o.fa");
    let rates = dir.path().join("r.csv");
    protmask()
        .arg("mask")
        .arg(&input)
        .arg("-o")
        .arg(&fa)
        .arg("-r")
        .arg(&rates)
        .assert()
        .success();
    assert_eq!(std::fs::read(&fa).unwrap(), b"");
    assert_eq!(
        std::fs::read_to_string(&rates).unwrap(),
        "file,id,replicate,length,t,rate,masked\n"
    );
}

#[test]
fn stratified_rates_cover_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.fa", synthetic_fasta(1000, 8));
    let (_, rates) = mask_bytes(
        &input,
        &["--timesteps", "stratified", "--schedule", "linear"],
    );
    let mut t: Vec<f64> = parse_rates(&rates, b',')
        .iter()
        .map(|r| r["t"].parse().unwrap())
        .collect();
    t.sort_by(f64::total_cmp);
    let gap = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(t[0] + 1.0 - t[999], f64::max);
    assert!(gap < 2.0 / 1000.0, "largest gap {gap}");
    // iid leaves larger gaps: the test can tell the two apart.
    let (_, iid) = mask_bytes(&input, &["--schedule", "linear"]);
    let mut t: Vec<f64> = parse_rates(&iid, b',')
        .iter()
        .map(|r| r["t"].parse().unwrap())
        .collect();
    t.sort_by(f64::total_cmp);
    let gap = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(gap > 2.0 / 1000.0);
}

#[test]
fn rates_rows_lie_on_the_curve() {
    let (_, rates) = mask_bytes(std::path::Path::new(DATA), &["--schedule", "cosine"]);
    let rows = parse_rates(&rates, b',');
    assert_eq!(
        rows.len(),
        85,
        "a row per record (an empty table would pass the loop)"
    );
    for row in rows {
        let t: f64 = row["t"].parse().unwrap();
        let r: f64 = row["rate"].parse().unwrap();
        assert!((r - (std::f64::consts::FRAC_PI_2 * t).cos()).abs() < 1e-12);
    }
}

#[test]
fn broken_pipe_is_quiet_success() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "big.fa", synthetic_fasta(20_000, 9));
    let mut child = Command::new(common::protmask_path())
        .arg("mask")
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 100];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panic") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn help_lists_the_contract_options() {
    let out = run_ok(&["mask", "--help"]);
    let text = String::from_utf8(out).unwrap();
    for flag in [
        "--input-list",
        "--output",
        "--outdir",
        "--rates",
        "--positions",
        "--line-width",
        "--schedule",
        "--preset",
        "--mode",
        "--mask-token",
        "--corrupt",
        "--maskable",
        "--timesteps",
        "--seed",
        "--replicates",
        "--threads",
        "--quiet",
        "--compress",
    ] {
        assert!(text.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = String::from_utf8(run_ok(&["completions", shell])).unwrap();
        for word in [
            "mask",
            "schedule",
            "verify",
            "schedule",
            "preset",
            "replicates",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let man = String::from_utf8(run_ok(&["man"])).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH protmask 1"),
        "{}",
        &man[..80]
    );
    assert!(man.contains(".SH NAME") && man.contains("protmask"));
    assert!(man.contains("mask") && man.contains("verify") && man.contains("schedule"));
    protmask().args(["completions", "tcsh"]).assert().code(2);
}

/// Issue 24: a number out of range is named with its range, as clap names `--threads 0`
/// (0.2 said "invalid digit found in string" for a negative seed or thread count); the
/// Python package raises the same words.
#[test]
fn issue24_numbers_out_of_range_are_refused_with_the_range() {
    for (flag, message) in [
        (
            "--seed=-1",
            "invalid value '-1' for '--seed <N>': -1 is not in 0..=18446744073709551615",
        ),
        (
            "--seed=18446744073709551616",
            "18446744073709551616 is not in 0..=18446744073709551615",
        ),
        (
            "--threads=-2",
            "invalid value '-2' for '--threads <N>': -2 is not in 1..=4294967295",
        ),
        (
            "--threads=0",
            "invalid value '0' for '--threads <N>': 0 is not in 1..=4294967295",
        ),
        (
            "--replicates=-1",
            "invalid value '-1' for '--replicates <N>': -1 is not in 1..=4294967295",
        ),
        (
            "--seed=x",
            "invalid value 'x' for '--seed <N>': invalid digit found in string",
        ),
    ] {
        protmask()
            .args(["mask", "-q", DATA, "-o", "/dev/null", flag])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}
