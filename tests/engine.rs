//! The parallel engine: the same bytes for any thread count and any block size (down to
//! blocks smaller than one record), for plain, gzip (BGZF or not) and zstd input, and
//! plain, gzip and zstd output.

mod common;

use common::*;
use std::path::Path;

fn mask_to(input: &Path, output: &Path, rates: &Path, extra: &[&str]) {
    let _ = std::fs::remove_file(output);
    protmask()
        .arg("mask")
        .arg(input)
        .arg("-q")
        .arg("-o")
        .arg(output)
        .arg("-r")
        .arg(rates)
        .args(extra)
        .assert()
        .success();
}

#[test]
fn identical_for_threads_and_block_sizes_across_compressions() {
    let dir = tempfile::tempdir().unwrap();
    // Long records (up to ~2,300 residues) so that small blocks cut inside none of them.
    let text = synthetic_fasta(1500, 21) + &std::fs::read_to_string(DATA).unwrap();
    // BGZF input is inflated on the workers (with -j 2 and more); a BGZF part followed by
    // an ordinary gzip member switches to the serial decoder mid-file.
    let bgzf = |bytes: &[u8]| {
        use std::io::Write;
        let mut w = protmask::io::BgzfWriter::new(Vec::new());
        w.write_all(bytes).unwrap();
        w.finish().unwrap()
    };
    let (head, tail) = text.as_bytes().split_at(text.len() / 2);
    let mut mixed = bgzf(head);
    mixed.extend(gzip(tail));
    let inputs = [
        write(dir.path(), "in.fa", &text),
        write(dir.path(), "in.fa.gz", gzip(text.as_bytes())),
        write(dir.path(), "in.bgzf.gz", bgzf(text.as_bytes())),
        write(dir.path(), "in.mixed.gz", mixed),
        write(
            dir.path(),
            "in.fa.zst",
            zstd::encode_all(text.as_bytes(), 3).unwrap(),
        ),
    ];
    let configs: [&[&str]; 5] = [
        &["-j", "1"],
        &["-j", "2"],
        &["-j", "8"],
        &["-j", "2", "--block-size", "100"],
        &["-j", "8", "--block-size", "4096"],
    ];
    for ext in ["fa", "fa.gz", "fa.zst"] {
        let mut reference: Option<(Vec<u8>, String)> = None;
        for input in &inputs {
            for extra in configs {
                let out = dir.path().join(format!("out.{ext}"));
                let rates = dir.path().join("rates.tsv");
                mask_to(input, &out, &rates, extra);
                let bytes = std::fs::read(&out).unwrap();
                // Compare compressed bytes too: gzip (BGZF) and zstd output must not
                // depend on threads or blocks either.
                let rows: String = std::fs::read_to_string(&rates)
                    .unwrap()
                    .lines()
                    .map(|l| l.split_once('\t').unwrap().1.to_string() + "\n")
                    .collect();
                match &reference {
                    None => reference = Some((bytes, rows)),
                    Some((b, r)) => {
                        assert!(
                            &bytes == b,
                            "{ext} output differs: {} {extra:?}",
                            input.display()
                        );
                        assert_eq!(
                            &rows,
                            r,
                            "{ext} rates differ: {} {extra:?}",
                            input.display()
                        );
                    }
                }
            }
        }
        // And it is the masked FASTA, once decompressed.
        let (bytes, _) = reference.unwrap();
        let plain = match ext {
            "fa.gz" => gunzip(&bytes),
            "fa.zst" => zstd::decode_all(&bytes[..]).unwrap(),
            _ => bytes,
        };
        assert_eq!(
            parse_fasta(std::str::from_utf8(&plain).unwrap()).len(),
            1585
        );
    }
}

#[test]
fn a_record_larger_than_the_block_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let long: String = "ACDEFGHIKLMNPQRSTVWY".repeat(50_000); // 1 MB, one line
    let text = format!(">short\nMK\n>long one line\n{long}\n>tail\nMKV\n");
    let input = write(dir.path(), "in.fa", &text);
    let a = dir.path().join("a.fa");
    let b = dir.path().join("b.fa");
    let r = dir.path().join("r.csv");
    mask_to(
        &input,
        &a,
        &r,
        &["-j", "2", "--block-size", "1000", "-w", "0"],
    );
    mask_to(&input, &b, &r, &["-j", "1", "-w", "0"]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    let masked = parse_fasta(&std::fs::read_to_string(&a).unwrap());
    assert_eq!(masked[1].1.len(), long.len());
}
