//! Shared helpers for the CLI tests: run the real binary, read FASTA and rates back.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/NC_000932.faa");

/// The binary under test: this build's, or the one `PROTMASK_BIN` names (to show that a
/// regression test fails on an older release: `PROTMASK_BIN=/path/to/protmask-0.2.0`).
pub fn protmask() -> Command {
    Command::new(protmask_path())
}

/// The path of the binary under test (for `std::process::Command`).
pub fn protmask_path() -> PathBuf {
    std::env::var_os("PROTMASK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("protmask"))
}

/// (header line without '>', sequence) pairs.
pub fn parse_fasta(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('>') {
            out.push((h.trim_end_matches('\r').to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line.trim_end());
        }
    }
    out
}

/// Rows of a rates table as maps from column name to value.
pub fn parse_rates(text: &str, delimiter: u8) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A deterministic xorshift64 stream from `seed`: test data, the same on every machine.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A deterministic protein FASTA of `n` records with varied lengths, wrapping and case.
pub fn synthetic_fasta(n: usize, seed: u64) -> String {
    let aa = b"ACDEFGHIKLMNPQRSTVWYXacdefghik";
    let mut next = xorshift(seed);
    let mut s = String::new();
    for i in 0..n {
        let len = (next() % 700) as usize + if i % 17 == 0 { 0 } else { 5 };
        s.push_str(&format!(">seq{i} synthetic protein {i} len={len}\n"));
        let width = [60usize, 80, 1000][i % 3];
        let seq: Vec<u8> = (0..len)
            .map(|_| aa[(next() % aa.len() as u64) as usize])
            .collect();
        for chunk in seq.chunks(width) {
            s.push_str(std::str::from_utf8(chunk).unwrap());
            s.push('\n');
        }
    }
    s
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `protmask ARGS` in `dir`: its exit code and stderr.
pub fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = protmask().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `run_in`, which must succeed: its stderr.
pub fn ok_in(dir: &Path, args: &[&str]) -> String {
    let (code, stderr) = run_in(dir, args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stderr
}
