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

/// Issue 11: several inputs are read at once, and a later input's output is held (in
/// memory, or spilled to a temporary file) until its turn. Shards in every compression,
/// with any threads, block size and spill budget, give exactly the bytes of the whole
/// file, and `-O` gives each shard's own output.
#[test]
fn issue11_shards_read_in_parallel_equal_the_whole_file() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let text = synthetic_fasta(1200, 5) + &std::fs::read_to_string(DATA).unwrap();
    let whole = write(dir.path(), "whole.fa", &text);
    // Five shards, cut at record starts, each compressed differently.
    let starts: Vec<usize> = text.match_indices('>').map(|(i, _)| i).collect();
    let cuts: Vec<usize> = (0..=5)
        .map(|k| {
            if k == 5 {
                text.len()
            } else {
                starts[k * starts.len() / 5]
            }
        })
        .collect();
    let xz = |b: &[u8]| {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    let bz2 = |b: &[u8]| {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(6));
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    let part = |k: usize| &text.as_bytes()[cuts[k]..cuts[k + 1]];
    let shards = [
        write(dir.path(), "s0.fa.xz", xz(part(0))),
        write(dir.path(), "s1.fa.gz", gzip(part(1))),
        write(
            dir.path(),
            "s2.fa.zst",
            zstd::encode_all(part(2), 3).unwrap(),
        ),
        write(dir.path(), "s3.fa", part(3)),
        write(dir.path(), "s4.fa.bz2", bz2(part(4))),
    ];
    let out = dir.path().join("whole.out.fa");
    let rates = dir.path().join("whole.csv");
    mask_to(&whole, &out, &rates, &["-j", "1"]);
    let want = std::fs::read(&out).unwrap();
    let want_rows: Vec<String> = std::fs::read_to_string(&rates)
        .unwrap()
        .lines()
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect();
    for extra in [
        &["-j", "1"][..],
        &["-j", "2"],
        &["-j", "4", "--block-size", "3000"],
        &["-j", "2", "--spill-memory", "0"],
        &["-j", "4", "--spill-memory", "5000", "--block-size", "2000"],
    ] {
        for ext in ["fa", "fa.gz"] {
            let got = dir.path().join(format!("shards.out.{ext}"));
            let got_rates = dir.path().join("shards.csv");
            let _ = std::fs::remove_file(&got);
            protmask()
                .arg("mask")
                .args(&shards)
                .args(["-q", "-o"])
                .arg(&got)
                .arg("-r")
                .arg(&got_rates)
                .args(extra)
                .assert()
                .success();
            let bytes = std::fs::read(&got).unwrap();
            let bytes = if ext == "fa" { bytes } else { gunzip(&bytes) };
            assert!(
                bytes == want,
                "{extra:?} {ext}: FASTA differs from the whole file's"
            );
            let table = std::fs::read_to_string(&got_rates).unwrap();
            let rows: Vec<&str> = table.lines().collect();
            assert_eq!(rows.len(), want_rows.len(), "{extra:?}");
            for (row, want) in rows.iter().zip(&want_rows).skip(1) {
                assert_eq!(row.split_once(',').unwrap().1, want, "{extra:?}");
            }
        }
        // One output per shard, each the masking of that shard alone.
        let outdir = dir.path().join("per");
        let _ = std::fs::remove_dir_all(&outdir);
        protmask()
            .arg("mask")
            .args(&shards)
            .args(["-q", "-O"])
            .arg(&outdir)
            .args(extra)
            .assert()
            .success();
        let mut joined = Vec::new();
        for s in &shards {
            let name = s.file_name().unwrap();
            let bytes = std::fs::read(outdir.join(name)).unwrap();
            joined.extend(
                protmask::io::open_input(&protmask::io::InputSource::Path(outdir.join(name)))
                    .map(|(_, mut r)| {
                        let mut v = Vec::new();
                        std::io::Read::read_to_end(&mut r, &mut v).unwrap();
                        assert!(!v.is_empty() || bytes.is_empty());
                        v
                    })
                    .unwrap(),
            );
        }
        assert!(
            joined == want,
            "{extra:?}: -O outputs joined differ from the whole file's"
        );
    }
}
