//! Issue 20, findings 10-12: messages, the BED reader's edges, `--span-max` as a hard cap,
//! signals. Each test is named after its finding and fails on 0.2.0
//! (`PROTMASK_BIN=/path/to/protmask-0.2.0 cargo test --test integration edges::`).

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const OKT3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/okt3_vh.faa");
const OKT3_BED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/regions/okt3_cdrh3.bed");
const ACCD_BED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/regions/accd_idr.bed");
/// What esm2 did, for `verify` without a manifest.
const ESM2: [&str; 4] = ["--mask-token", "<mask>", "--corrupt", "0.8,0.1,0.1"];

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_jsonl(path: &Path, rows: &[serde_json::Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

// ---- 10. Messages ----

#[test]
fn issue20_10_no_debug_text_in_verify_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_in(
        d,
        &[
            "mask",
            DATA,
            "-q",
            "--preset",
            "esm2",
            "--tokens",
            "esm",
            "--dataset",
            "e.jsonl",
        ],
    );
    let rows = read_jsonl(&d.join("e.jsonl"));
    // Row 2, input_ids[3] one id off.
    let mut bad = rows.clone();
    let id = bad[1]["input_ids"][3].as_i64().unwrap();
    bad[1]["input_ids"][3] = (id + 1).into();
    write_jsonl(&d.join("bad.jsonl"), &bad);
    let (code, stderr) = run_in(d, &[&["verify", DATA, "bad.jsonl"][..], &ESM2].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("input_ids[3] is {}, expected {id}", id + 1)),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Some(") && !stderr.contains("None"),
        "{stderr}"
    );
    // Row 1's labels one id short (the last, <eos>'s, missing).
    let mut short = rows;
    let labels = short[0]["labels"].as_array_mut().unwrap();
    let n = labels.len() - 1;
    labels.pop();
    write_jsonl(&d.join("short.jsonl"), &short);
    let (code, stderr) = run_in(d, &[&["verify", DATA, "short.jsonl"][..], &ESM2].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("labels ends after {n} ids")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Some(") && !stderr.contains("None"),
        "{stderr}"
    );
}

/// The dataset of OKT3_VH with one position that is not listed turned into the token:
/// verify's error line.
fn unlisted_position_error(d: &Path) -> (String, usize) {
    ok_in(d, &["mask", OKT3, "-q", "--dataset", "e.jsonl"]);
    let mut rows = read_jsonl(&d.join("e.jsonl"));
    let listed: Vec<u64> = rows[0]["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let p = (0..).find(|p| !listed.contains(p)).unwrap() as usize;
    let mut masked = rows[0]["masked_sequence"].as_str().unwrap().to_string();
    masked.replace_range(p..p + 1, "_");
    rows[0]["masked_sequence"] = masked.into();
    write_jsonl(&d.join("bad.jsonl"), &rows);
    let (code, stderr) = run_in(d, &["verify", OKT3, "bad.jsonl"]);
    assert_eq!(code, 1, "{stderr}");
    (stderr, p)
}

#[test]
fn issue20_10_each_path_once() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, p) = unlisted_position_error(dir.path());
    assert_eq!(stderr.matches("bad.jsonl").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bad.jsonl: row 1 (OKT3_VH, replicate 1): masked_sequence: position {p}: found '_'"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn issue20_10_dataset_only_message() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, _) = unlisted_position_error(dir.path());
    assert!(!stderr.contains("rates table"), "{stderr}");
    assert!(stderr.contains("not in the row's positions"), "{stderr}");
}

#[test]
fn issue20_10_one_output_singular() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let masked = ok_in(
        d,
        &["mask", OKT3, "--dataset", "e.jsonl", "--manifest", "m.json"],
    );
    assert!(masked.starts_with("protmask: 1 record, "), "{masked}");
    let verified = ok_in(d, &["verify", OKT3, "e.jsonl", "--manifest", "m.json"]);
    assert!(
        verified.contains("1 output regenerates byte-identical"),
        "{verified}"
    );
    assert!(
        verified.starts_with("protmask: verified 1 record, "),
        "{verified}"
    );
    assert!(!verified.contains("1 outputs") && !verified.contains("1 records"));
    ok_in(d, &["mask", OKT3, "-o", "m.fa", "-r", "r.csv"]);
    let verified = ok_in(d, &["verify", OKT3, "m.fa", "-r", "r.csv"]);
    assert!(verified.contains(", 1 rates row"), "{verified}");
    assert!(!verified.contains("1 rates rows"), "{verified}");
}

/// Positions of `masked` that show the token or another residue than `original`'s.
fn changed_positions(original: &str, masked: &str, token: &str) -> u64 {
    let (o, m) = (parse_fasta(original), parse_fasta(masked));
    let mut changed = 0;
    for ((_, os), (_, ms)) in o.iter().zip(&m) {
        let mut rest = ms.as_str();
        for c in os.chars() {
            if let Some(after) = rest.strip_prefix(token) {
                changed += 1;
                rest = after;
            } else {
                changed += u64::from(!rest.starts_with(c));
                rest = &rest[1..];
            }
        }
    }
    changed
}

#[test]
fn issue20_10_both_masked_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_in(
        d,
        &[
            "mask",
            DATA,
            "-q",
            "--preset",
            "esm2",
            "-o",
            "m.fa",
            "-r",
            "r.csv",
            "--positions",
            "--dataset",
            "d.jsonl",
        ],
    );
    let rates = parse_rates(&std::fs::read_to_string(d.join("r.csv")).unwrap(), b',');
    let selected: u64 = rates
        .iter()
        .map(|r| r["masked"].parse::<u64>().unwrap())
        .sum();
    let changed = changed_positions(
        &std::fs::read_to_string(DATA).unwrap(),
        &std::fs::read_to_string(d.join("m.fa")).unwrap(),
        "<mask>",
    );
    // esm2 keeps 10% of the selected residues as they were.
    assert!(changed < selected, "{changed} vs {selected}");
    let both = format!("{selected} selected positions ({changed} changed)");
    let with_table = ok_in(
        d,
        &[&["verify", DATA, "m.fa", "-r", "r.csv"][..], &ESM2].concat(),
    );
    assert!(with_table.contains(&both), "{with_table}");
    let dataset = ok_in(d, &[&["verify", DATA, "d.jsonl"][..], &ESM2].concat());
    assert!(dataset.contains(&both), "{dataset}");
    // Without a table only the changed ones can be seen, and are named so.
    let alone = ok_in(d, &[&["verify", DATA, "m.fa"][..], &ESM2].concat());
    assert!(
        alone.contains(&format!(", {changed} changed positions")),
        "{alone}"
    );
}

// ---- 11. BED niceties ----

/// The masked FASTA of OKT3_VH with `regions` (a file in `d`), or the error.
fn with_regions(d: &Path, regions: &Path, extra: &[&str]) -> Result<String, String> {
    let out = d.join("out.fa");
    let (code, stderr) = run_in(
        d,
        &[
            &[
                "mask",
                OKT3,
                "-q",
                "-o",
                out.to_str().unwrap(),
                "--regions",
                regions.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat(),
    );
    match code {
        0 => Ok(std::fs::read_to_string(out).unwrap()),
        _ => Err(stderr),
    }
}

fn plain_bed() -> Vec<u8> {
    std::fs::read(OKT3_BED).unwrap()
}

#[test]
fn issue20_11_bed_bom() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = with_regions(d, Path::new(OKT3_BED), &[]).unwrap();
    // Before a comment, and before the first interval (whose ID it became in 0.2.0).
    let intervals: Vec<u8> = String::from_utf8(plain_bed())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    for text in [plain_bed(), intervals] {
        let bom = write(d, "bom.bed", [b"\xEF\xBB\xBF".as_slice(), &text].concat());
        let masked = with_regions(d, &bom, &[]);
        assert_eq!(masked.as_deref(), Ok(plain.as_str()));
    }
    // The masking is inside the CDR-H3 interval (not "no record has ID '\u{feff}OKT3_VH'").
    assert_ne!(plain, std::fs::read_to_string(OKT3).unwrap());
}

#[test]
fn issue20_11_bed_track_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = with_regions(d, Path::new(OKT3_BED), &[]).unwrap();
    let text = [
        b"browser position OKT3_VH:97-108\nbrowser hide all\n".as_slice(),
        b"track name=cdr description=\"CDR-H3 (IMGT)\" visibility=2\n",
        &plain_bed(),
        b"track name=empty\ntrack\n",
    ]
    .concat();
    let bed = write(d, "ucsc.bed", text);
    assert_eq!(with_regions(d, &bed, &[]).unwrap(), plain);
    // A line that is neither is still refused, naming its line.
    let bed = write(
        d,
        "bad.bed",
        [plain_bed().as_slice(), b"tracks 1 2\n"].concat(),
    );
    let e = with_regions(d, &bed, &[]).unwrap_err();
    let line = plain_bed().iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(
        e.contains(&format!(
            "bad.bed', line {line}: expected 'id<TAB>start<TAB>end'"
        )),
        "{e}"
    );
}

#[test]
fn issue20_11_bed_gz() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = with_regions(d, Path::new(OKT3_BED), &[]).unwrap();
    let bed = plain_bed();
    let zstd = zstd::encode_all(bed.as_slice(), 3).unwrap();
    let bz2 = {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(&bed).unwrap();
        e.finish().unwrap()
    };
    let xz = {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&bed).unwrap();
        e.finish().unwrap()
    };
    for (name, bytes) in [
        ("r.bed.gz", gzip(&bed)),
        ("r.bed.zst", zstd),
        ("r.bed.bz2", bz2),
        ("r.bed.xz", xz),
        // The name does not matter: the first bytes say.
        ("gzipped.bed", gzip(&bed)),
    ] {
        let path = write(d, name, &bytes);
        let masked = with_regions(d, &path, &["-r", "r.csv", "--manifest", "m.json"]);
        assert_eq!(masked.as_deref(), Ok(plain.as_str()), "{name}");
        // The manifest's checksum is the file's as stored: verify finds it so.
        let verified = ok_in(
            d,
            &[
                "verify",
                OKT3,
                "out.fa",
                "-r",
                "r.csv",
                "--manifest",
                "m.json",
            ],
        );
        assert!(verified.contains("regenerate"), "{name}: {verified}");
        ok_in(d, &["verify", OKT3, "out.fa", "--regions", name]);
    }
}

#[test]
fn issue20_11_regions_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = protmask()
        .current_dir(d)
        .args(["mask", OKT3, "-o", "out.fa", "--regions", "-"])
        .write_stdin(plain_bed())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("regions cannot come from stdin"),
        "{stderr}"
    );
    assert!(!d.join("out.fa").exists());
    ok_in(d, &["mask", OKT3, "-q", "-o", "out.fa"]);
    let (code, stderr) = run_in(d, &["verify", OKT3, "out.fa", "--regions", "-"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("regions cannot come from stdin"),
        "{stderr}"
    );
}

#[test]
fn issue20_11_only_mode_warns_unmatched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One of the 85 records has an interval.
    let warning = "protmask: warning: 84 records have no interval in regions file";
    for quiet in [false, true] {
        let args = ["mask", DATA, "-o", "o.fa", "--regions", ACCD_BED];
        let stderr = ok_in(d, &[&args[..], if quiet { &["-q"] } else { &[] }].concat());
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "{stderr}");
        assert!(warnings[0].starts_with(warning), "{stderr}");
        assert!(
            warnings[0].contains("nothing in them was masked"),
            "{stderr}"
        );
        if !quiet {
            let summary = stderr.lines().last().unwrap();
            assert!(
                summary.contains(", 84 input records without an interval"),
                "{stderr}"
            );
        }
    }
    // Replicates do not multiply it; `except` masks them, and says nothing.
    let stderr = ok_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "o.fa",
            "--regions",
            ACCD_BED,
            "--replicates",
            "3",
        ],
    );
    assert!(stderr.contains(warning), "{stderr}");
    let stderr = ok_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "o.fa",
            "--regions",
            ACCD_BED,
            "--regions-mode",
            "except",
        ],
    );
    assert!(!stderr.contains("no interval"), "{stderr}");
}

#[test]
fn issue20_11_start_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (line, says) in [
        (
            "OKT3_VH\t18446744073709551616\t10\n",
            "start 18446744073709551616 does not fit",
        ),
        (
            "OKT3_VH\t5\t99999999999999999999999999999999999999999\n",
            "end 99999999999999999999999999999999999999999 does not fit",
        ),
    ] {
        let bed = write(d, "big.bed", line);
        let e = with_regions(d, &bed, &[]).unwrap_err();
        assert!(e.contains("regions file"), "{e}");
        assert!(e.contains("line 1: "), "{e}");
        assert!(e.contains(says), "{e}");
        assert!(
            !e.contains("not after") && !e.contains("not a whole number"),
            "{e}"
        );
    }
    // The largest coordinate is one.
    let bed = write(d, "max.bed", "OKT3_VH\t5\t18446744073709551615\n");
    let e = with_regions(d, &bed, &[]).unwrap_err();
    assert!(e.contains("past the end of this record"), "{e}");
}

/// The longest run of consecutive listed positions of any row, and the rows.
fn longest_run(rates: &str) -> (usize, Vec<std::collections::HashMap<String, String>>) {
    let rows = parse_rates(rates, b',');
    let mut longest = 0;
    for row in &rows {
        let positions: Vec<u64> = row["positions"]
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(positions.len().to_string(), row["masked"]);
        let mut run = 0;
        for (i, p) in positions.iter().enumerate() {
            run = if i > 0 && positions[i - 1] + 1 == *p {
                run + 1
            } else {
                1
            };
            longest = longest.max(run);
        }
    }
    (longest, rows)
}

/// Negative control (issue 20): with the cap applied only to drawn lengths, as in 0.2.0,
/// touching runs merged into runs up to 19 long at `--span-max 3`; this fails then.
#[test]
fn issue20_11_span_max_is_a_hard_cap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synthetic = write(d, "s.fa", synthetic_fasta(300, 20));
    let mut reached = 0;
    for input in [DATA, synthetic.to_str().unwrap()] {
        for max in ["1", "3", "5"] {
            for schedule in ["0.15", "0.4", "cosine"] {
                for seed in ["1", "2"] {
                    let stderr = ok_in(
                        d,
                        &[
                            "mask",
                            input,
                            "-q",
                            "-o",
                            "o.fa",
                            "-r",
                            "r.csv",
                            "--positions",
                            "--span-mean",
                            "4",
                            "--span-max",
                            max,
                            "--schedule",
                            schedule,
                            "-s",
                            seed,
                        ],
                    );
                    let (longest, _) =
                        longest_run(&std::fs::read_to_string(d.join("r.csv")).unwrap());
                    let max: usize = max.parse().unwrap();
                    assert!(
                        longest <= max,
                        "{input} --span-max {max} --schedule {schedule} -s {seed}: a run of \
                         {longest}\n{stderr}"
                    );
                    reached += usize::from(longest == max);
                }
            }
        }
    }
    // The cap is reached (runs are not merely short).
    assert!(reached >= 30, "{reached}");
    // Where runs kept within the cap cannot hold the count, fewer are selected, and said.
    let stderr = ok_in(
        d,
        &[
            "mask",
            DATA,
            "-o",
            "o.fa",
            "-r",
            "r.csv",
            "--positions",
            "--span-mean",
            "4",
            "--span-max",
            "1",
            "--schedule",
            "0.8",
        ],
    );
    assert!(
        stderr.contains("records have fewer selected positions than drawn"),
        "{stderr}"
    );
    let (longest, rows) = longest_run(&std::fs::read_to_string(d.join("r.csv")).unwrap());
    assert_eq!(longest, 1);
    let short = rows.iter().filter(|r| {
        let (len, rate): (f64, f64) = (r["length"].parse().unwrap(), r["rate"].parse().unwrap());
        r["masked"].parse::<f64>().unwrap() < (len * rate).floor()
    });
    assert!(short.count() > 40);
}

// ---- 12. Signals ----

/// `mask` reading `input` (a FIFO we write to, or stdin from a pipe we hold open), started
/// with `args`; the run is in progress once `ready` holds. Then `signal`: the exit code.
fn interrupt(args: &[&str], fifo: Option<&Path>, ready: impl Fn() -> bool, signal: &str) -> Output {
    let mut child = Command::new(protmask_path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut writer: Box<dyn Write> = match fifo {
        // Opening blocks until the child opens it to read.
        Some(f) => Box::new(std::fs::OpenOptions::new().write(true).open(f).unwrap()),
        None => Box::new(stdin),
    };
    writer
        .write_all(synthetic_fasta(100, 12).as_bytes())
        .unwrap();
    writer.flush().unwrap();
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    drop(writer);
    out
}

#[test]
fn issue20_12_sigterm_exits_143() {
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fa");
        let args = ["mask", "-q", "-", "-o", out.to_str().unwrap()];
        let got = interrupt(&args, None, || !dir_entries(dir.path()).is_empty(), signal);
        assert_eq!(got.status.code(), Some(code), "{signal}: {got:?}");
        assert!(dir_entries(dir.path()).is_empty(), "{signal}");
    }
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn issue20_12_interrupted_outdir_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("in.fa");
    mkfifo(&fifo);
    // A directory the run makes (and its parent) goes.
    let made: PathBuf = d.join("new/sub");
    let args = [
        "mask",
        "-q",
        fifo.to_str().unwrap(),
        "-O",
        made.to_str().unwrap(),
    ];
    let got = interrupt(&args, Some(&fifo), || made.is_dir(), "-TERM");
    assert_eq!(got.status.code(), Some(143), "{got:?}");
    assert!(!d.join("new").exists(), "{:?}", dir_entries(d));
    // One that existed is left, with nothing of the run in it.
    let existing = d.join("old");
    std::fs::create_dir(&existing).unwrap();
    let args = [
        "mask",
        "-q",
        fifo.to_str().unwrap(),
        "-O",
        existing.to_str().unwrap(),
    ];
    let got = interrupt(&args, Some(&fifo), || true, "-INT");
    assert_eq!(got.status.code(), Some(130), "{got:?}");
    assert!(existing.is_dir());
    assert!(
        dir_entries(&existing).is_empty(),
        "{:?}",
        dir_entries(&existing)
    );
    // A run that fails (a bad record) leaves no directory either.
    let bad = write(d, "bad.fa", ">a\nM1K\n");
    let (code, _) = run_in(d, &["mask", bad.to_str().unwrap(), "-O", "failed"]);
    assert_eq!(code, 1);
    assert!(!d.join("failed").exists());
}
