//! Arbitrary ORIGINAL, MASKED and rates-table bytes through `verify::verify`: it may
//! reject them (it nearly always will), but must never panic.
//!
//! Layout: byte 0 picks the options; bytes 1-2 (u16 LE, modulo what is left + 1) the
//! length of ORIGINAL; bytes 3-4 likewise that of MASKED; the rest is the rates table.

use std::io::Write as _;

use protmask::check::{Expect, verify};
use protmask::io::InputSource;
use protmask::mask::Corruption;

/// A scratch directory per thread (regression tests run in parallel), removed when the
/// thread ends.
fn scratch() -> std::path::PathBuf {
    thread_local! {
        static D: tempfile::TempDir = tempfile::tempdir().expect("temp dir");
    }
    D.with(|d| d.path().to_path_buf())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Splits off a piece whose length is the next u16 (little-endian) modulo what is left + 1.
fn piece<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let n = match data {
        [a, b, rest @ ..] => {
            let n = usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1);
            *data = rest;
            n
        }
        _ => 0,
    };
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

/// One input: returns normally, or panics on a bug.
pub fn run(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let original = piece(&mut rest);
    let masked = piece(&mut rest);
    let table = rest;
    let bit = |i: u8| sel >> i & 1 == 1;
    let expect = Expect {
        token: [&b"_"[..], b"<mask>", b"#", b"X"][usize::from(sel & 3)].to_vec(),
        corruption: if bit(2) {
            Corruption::new(0.8, 0.1, 0.1).unwrap()
        } else {
            Corruption::MASK_ONLY
        },
        maskable: bit(3).then(|| b"ACDEFGHIKLMNPQRSTVWY".to_vec()),
        replacements: protmask::mask::STANDARD_RESIDUES,
        replicates: None,
        cropping: None,
        split: None,
        only_split: None,
    };
    let dir = scratch();
    let dir = dir.as_path();
    let (o, m) = (dir.join("original.fa"), dir.join("masked.fa"));
    std::fs::write(&o, original).unwrap();
    std::fs::write(
        &m,
        if bit(4) {
            gzip(masked)
        } else {
            masked.to_vec()
        },
    )
    .unwrap();
    let rates = match sel >> 5 {
        0 | 1 => None,
        2..=5 => Some(dir.join("rates.csv")),
        _ => Some(dir.join("rates.tsv")),
    };
    if let Some(r) = &rates {
        std::fs::write(
            r,
            if bit(5) && bit(6) {
                gzip(table)
            } else {
                table.to_vec()
            },
        )
        .unwrap();
    }
    let _ = verify(
        &InputSource::Path(o),
        &InputSource::Path(m),
        rates.as_deref(),
        &expect,
    );
}
