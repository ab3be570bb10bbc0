//! Tests of the I/O module on real compressed data made by the real encoders (no mocks):
//! format sniffing, round trips, BGZF structure, truncation errors, atomic outputs and the
//! same-file guard.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::bgzf::{BLOCK_DATA_SIZE, EOF_BLOCK, MAX_BLOCK_SIZE, ParallelBgzfWriter};
use super::*;

// ---------- data ----------

/// Deterministic incompressible bytes (xorshift64*).
fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        v.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// FASTA-like protein text of about `n` bytes.
fn protein_text(n: usize) -> Vec<u8> {
    const AA: &[u8] = b"ACDEFGHIKLMNPQRSTVWYLLAAGSEK";
    let r = random_bytes(n, 42);
    let mut v = Vec::with_capacity(n + 100);
    let mut i = 0;
    let mut rec = 0;
    while v.len() < n {
        rec += 1;
        v.extend_from_slice(format!(">sp|P{rec:05}|PROT_{rec} some protein OS=Homo\n").as_bytes());
        for line in 0..(3 + rec % 7) {
            let w = if line == 2 + rec % 7 {
                17 + rec % 40
            } else {
                60
            };
            for _ in 0..w {
                v.push(AA[r[i % r.len()] as usize % AA.len()]);
                i += 1;
            }
            v.push(b'\n');
        }
    }
    v.truncate(n);
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
/// With a content checksum, as the `zstd` CLI writes by default.
fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
fn bgzf(data: &[u8]) -> Vec<u8> {
    let mut w = BgzfWriter::new(Vec::new());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

type Encode = fn(&[u8]) -> Vec<u8>;

const ENCODERS: [(Compression, Encode); 5] = [
    (Compression::Gzip, gzip),
    (Compression::Gzip, bgzf),
    (Compression::Bzip2, bzip2),
    (Compression::Xz, xz),
    (Compression::Zstd, zstd),
];

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, data).unwrap();
    p
}

fn read_input(p: &Path) -> io::Result<(Compression, Vec<u8>)> {
    let (fmt, mut r) = open_input(&InputSource::Path(p.to_path_buf()))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok((fmt, out))
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The process umask, from /proc (Linux); 0o022 if unavailable.
#[cfg(unix)]
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

// ---------- input ----------

#[test]
fn input_source_parse_and_display() {
    assert_eq!(InputSource::parse("-"), InputSource::Stdin);
    assert_eq!(InputSource::parse("-").display_name(), "-");
    let p = InputSource::parse("dir/x.fa.gz");
    assert_eq!(p, InputSource::Path(PathBuf::from("dir/x.fa.gz")));
    assert_eq!(p.display_name(), "dir/x.fa.gz");
    assert_eq!(p.to_string(), "dir/x.fa.gz");
}

#[test]
fn format_detect_magic() {
    assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    assert_eq!(Compression::detect(b"BZh9"), Compression::Bzip2);
    assert_eq!(
        Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
        Compression::Xz
    );
    assert_eq!(
        Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z']),
        Compression::None
    );
    assert_eq!(
        Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
        Compression::Zstd
    );
    assert_eq!(Compression::detect(b">sp|P1"), Compression::None);
    assert_eq!(Compression::detect(b""), Compression::None);
    assert_eq!(Compression::detect(&[0x1f]), Compression::None);
}

#[test]
fn sniffing_ignores_misleading_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let data = protein_text(200_000);
    let cases: [(&str, Compression, Vec<u8>); 6] = [
        ("zstd_named.gz", Compression::Zstd, zstd(&data)),
        ("gzip_named.fa", Compression::Gzip, gzip(&data)),
        ("bgzf_named.xz", Compression::Gzip, bgzf(&data)),
        ("bzip2_named.zst", Compression::Bzip2, bzip2(&data)),
        ("xz_named.bz2", Compression::Xz, xz(&data)),
        ("plain_named.gz", Compression::None, data.clone()),
    ];
    for (name, fmt, bytes) in cases {
        let p = write_file(dir.path(), name, &bytes);
        let (got_fmt, got) = read_input(&p).unwrap();
        assert_eq!(got_fmt, fmt, "{name}");
        assert!(got == data, "{name}: content differs");
    }
}

#[test]
fn empty_and_tiny_inputs_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    for bytes in [&b""[..], b">", &[0x1f], b"BZ", b"AC\n"] {
        let p = write_file(dir.path(), "t.fa", bytes);
        let (fmt, got) = read_input(&p).unwrap();
        assert_eq!(fmt, Compression::None);
        assert_eq!(got, bytes);
    }
}

/// A reader that returns one byte per read, like a slow pipe.
struct Trickle(Vec<u8>, usize);
impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.1 >= self.0.len() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[self.1];
        self.1 += 1;
        Ok(1)
    }
}

#[test]
fn sniffing_survives_short_reads() {
    let data = protein_text(10_000);
    for (fmt, enc) in ENCODERS {
        let (got_fmt, mut r) = input::sniff_and_decode(Trickle(enc(&data), 0)).unwrap();
        assert_eq!(got_fmt, fmt);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert!(got == data);
    }
    let (fmt, mut r) = input::sniff_and_decode(Trickle(data.clone(), 0)).unwrap();
    assert_eq!(fmt, Compression::None);
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(got == data);
}

#[test]
fn concatenated_members_and_frames_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    let a = protein_text(70_000);
    let b = b">second\nMKV\n".to_vec();
    let mut whole = a.clone();
    whole.extend_from_slice(&b);
    for (i, (fmt, enc)) in ENCODERS.into_iter().enumerate() {
        let mut bytes = enc(&a);
        bytes.extend(enc(&b));
        let p = write_file(dir.path(), &format!("multi{i}"), &bytes);
        let (got_fmt, got) = read_input(&p).unwrap();
        assert_eq!(got_fmt, fmt);
        assert!(got == whole, "{fmt}: multi-member content differs");
    }
}

#[test]
fn missing_input_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("missing.fa");
    let err = open_input(&InputSource::Path(p.clone())).err().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}: ", p.display())), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn directory_input_errors_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_input(&InputSource::Path(dir.path().to_path_buf()))
        .err()
        .unwrap();
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[test]
fn counted_input_counts_compressed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = protein_text(3_000_000);
    let bytes = zstd(&data);
    let p = write_file(dir.path(), "c.fa.zst", &bytes);
    let src = InputSource::Path(p);
    assert_eq!(input_size(&src), Some(bytes.len() as u64));
    assert_eq!(input_size(&InputSource::Stdin), None);
    let counter = Arc::new(AtomicU64::new(0));
    let (_, mut r) = open_input_counted(&src, counter.clone(), None).unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(got == data);
    assert_eq!(counter.load(Ordering::Relaxed), bytes.len() as u64);
}

// ---------- truncation ----------

/// Cut points: inside the header, mid-stream, and just before the end (trailer/checksum).
fn cut_points(len: usize) -> Vec<usize> {
    vec![1, 3, 10, len / 3, len / 2, len - 5, len - 1]
}

fn decode_native(fmt: Compression, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match fmt {
        Compression::Gzip => flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out),
        Compression::Bzip2 => bzip2::read::MultiBzDecoder::new(bytes).read_to_end(&mut out),
        Compression::Xz => xz2::read::XzDecoder::new_multi_decoder(bytes).read_to_end(&mut out),
        Compression::Zstd => zstd::stream::read::Decoder::new(bytes)?.read_to_end(&mut out),
        Compression::None => unreachable!(),
    }?;
    Ok(out)
}

/// Documents what each decoder does natively on truncated input: all four error.
#[test]
fn native_decoders_error_on_truncation() {
    let data = protein_text(300_000);
    for (fmt, enc) in ENCODERS {
        let bytes = enc(&data);
        assert!(decode_native(fmt, &bytes).unwrap() == data);
        for cut in cut_points(bytes.len()) {
            let r = decode_native(fmt, &bytes[..cut]);
            assert!(r.is_err(), "{fmt}: native decoder accepted a cut at {cut}");
        }
    }
}

#[test]
fn truncated_inputs_error_through_open_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = protein_text(300_000);
    for (i, (fmt, enc)) in ENCODERS.into_iter().enumerate() {
        let bytes = enc(&data);
        // Keep at least the magic so the format is still detected.
        for cut in cut_points(bytes.len()).into_iter().filter(|&c| c >= 6) {
            let p = write_file(dir.path(), &format!("trunc{i}_{cut}"), &bytes[..cut]);
            let err = match read_input(&p) {
                Ok((_, got)) => panic!("{fmt} cut at {cut}: read {} bytes, no error", got.len()),
                Err(e) => e,
            };
            let msg = err.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg}");
            // Cut in the last few bytes: a pure truncation, reported as such.
            if cut >= bytes.len() - 5 {
                assert_eq!(
                    err.kind(),
                    io::ErrorKind::UnexpectedEof,
                    "{fmt} {cut}: {msg}"
                );
                assert!(msg.contains("unexpected end of compressed stream"), "{msg}");
            }
        }
    }
}

#[test]
fn bgzf_missing_eof_block_is_still_readable() {
    // Like htslib, a BGZF file cut exactly at a block boundary is valid gzip; only the
    // EOF marker tells it was cut. We read it as gzip, without error.
    let data = protein_text(200_000);
    let bytes = bgzf(&data);
    let cut = &bytes[..bytes.len() - EOF_BLOCK.len()];
    assert!(decode_native(Compression::Gzip, cut).unwrap() == data);
}

#[test]
fn corrupt_stream_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = protein_text(100_000);
    for (i, (fmt, enc)) in ENCODERS.into_iter().enumerate() {
        let mut bytes = enc(&data);
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 16] {
            *b ^= 0x5a;
        }
        let p = write_file(dir.path(), &format!("corrupt{i}"), &bytes);
        let r = read_input(&p);
        assert!(r.is_err(), "{fmt}: corrupt stream read without error");
    }
}

// ---------- BGZF ----------

/// Walk a BGZF file block by block, checking each header and returning the block sizes
/// (ISIZE) and the inflated content.
fn parse_bgzf(bytes: &[u8]) -> (Vec<usize>, Vec<u8>) {
    let mut pos = 0;
    let mut isizes = Vec::new();
    let mut content = Vec::new();
    while pos < bytes.len() {
        let b = &bytes[pos..];
        assert!(b.len() >= 28, "short block at {pos}");
        assert_eq!(&b[..4], &[0x1f, 0x8b, 0x08, 0x04], "magic/CM/FLG at {pos}");
        assert_eq!(&b[4..8], &[0, 0, 0, 0], "MTIME");
        assert_eq!(b[8], 0, "XFL");
        assert_eq!(b[9], 0xff, "OS");
        assert_eq!(&b[10..12], &[6, 0], "XLEN");
        assert_eq!(&b[12..16], b"BC\x02\x00", "BC subfield");
        let bsize = u16::from_le_bytes([b[16], b[17]]) as usize + 1;
        assert!(
            bsize <= MAX_BLOCK_SIZE && bsize <= b.len(),
            "BSIZE at {pos}"
        );
        let block = &b[..bsize];
        let crc = u32::from_le_bytes(block[bsize - 8..bsize - 4].try_into().unwrap());
        let isize = u32::from_le_bytes(block[bsize - 4..].try_into().unwrap()) as usize;
        assert!(isize <= BLOCK_DATA_SIZE, "ISIZE {isize} at {pos}");
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&block[18..bsize - 8])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated.len(), isize);
        let mut c = flate2::Crc::new();
        c.update(&inflated);
        assert_eq!(c.sum(), crc);
        content.extend_from_slice(&inflated);
        isizes.push(isize);
        pos += bsize;
    }
    assert!(bytes.ends_with(&EOF_BLOCK), "no EOF block");
    assert_eq!(isizes.last(), Some(&0));
    (isizes, content)
}

#[test]
fn bgzf_round_trip_and_structure() {
    let sizes = [0, 1, BLOCK_DATA_SIZE, BLOCK_DATA_SIZE + 1, 1_000_000];
    for size in sizes {
        for (kind, data) in [
            ("random", random_bytes(size, 7)),
            ("protein", protein_text(size)),
        ] {
            let bytes = bgzf(&data);
            let (isizes, content) = parse_bgzf(&bytes);
            assert!(content == data, "{kind} {size}: parsed content differs");
            assert_eq!(decode_native(Compression::Gzip, &bytes).unwrap(), data);
            // Full blocks except the last data block, then the EOF block.
            let n_data = isizes.len() - 1;
            assert_eq!(n_data, size.div_ceil(BLOCK_DATA_SIZE), "{kind} {size}");
            for &s in &isizes[..n_data.saturating_sub(1)] {
                assert_eq!(s, BLOCK_DATA_SIZE);
            }
        }
    }
    assert_eq!(bgzf(&[]), EOF_BLOCK);
}

#[test]
fn bgzf_small_writes_give_same_bytes_as_one_write() {
    let data = protein_text(300_000);
    let mut w = BgzfWriter::new(Vec::new());
    for chunk in data.chunks(61) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.finish().unwrap(), bgzf(&data));
}

#[test]
fn compress_block_is_pure_and_handles_stored_blocks() {
    let rnd = random_bytes(BLOCK_DATA_SIZE, 9);
    for level in 0..=9 {
        let mut a = Vec::new();
        compress_block(&rnd, level, &mut a);
        let mut b = Vec::new();
        compress_block(&rnd, level, &mut b);
        assert_eq!(a, b);
        assert!(a.len() <= MAX_BLOCK_SIZE, "level {level}: {}", a.len());
        let mut file = a.clone();
        file.extend_from_slice(&EOF_BLOCK);
        let (isizes, content) = parse_bgzf(&file);
        assert_eq!(isizes, vec![BLOCK_DATA_SIZE, 0]);
        assert!(content == rnd);
    }
    // Blocks compressed separately (as threads would) concatenate to a valid file.
    let data = protein_text(200_000);
    let mut file = Vec::new();
    for chunk in data.chunks(BLOCK_DATA_SIZE) {
        compress_block(chunk, 6, &mut file);
    }
    file.extend_from_slice(&EOF_BLOCK);
    assert_eq!(file, bgzf(&data));
    // An oversized slice becomes several valid blocks.
    let mut multi = Vec::new();
    compress_block(&data, 6, &mut multi);
    multi.extend_from_slice(&EOF_BLOCK);
    assert_eq!(multi, file);
}

/// The stored-block fallback itself: force it by giving deflate no room.
#[test]
fn bgzf_stored_fallback_is_valid() {
    let rnd = random_bytes(BLOCK_DATA_SIZE, 11);
    let mut c = bgzf::BlockCompressor::new(9);
    let mut out = Vec::new();
    c.compress_stored_for_test(&rnd, &mut out);
    assert_eq!(out.len(), 18 + 5 + BLOCK_DATA_SIZE + 8);
    out.extend_from_slice(&EOF_BLOCK);
    let (_, content) = parse_bgzf(&out);
    assert!(content == rnd);
}

// ---------- output ----------

#[test]
fn compression_from_path_and_names() {
    let cases = [
        ("x.fa", Compression::None),
        ("x", Compression::None),
        ("x.fa.gz", Compression::Gzip),
        ("x.FA.GZ", Compression::Gzip),
        ("x.bgz", Compression::Gzip),
        ("x.bgzf", Compression::Gzip),
        ("rates.csv.gz", Compression::Gzip),
        ("x.bz2", Compression::Bzip2),
        ("x.xz", Compression::Xz),
        ("x.zst", Compression::Zstd),
        ("x.ZSTD", Compression::Zstd),
        ("dir.gz/x.tsv", Compression::None),
    ];
    for (p, c) in cases {
        assert_eq!(Compression::from_path(Path::new(p)), c, "{p}");
    }
    for c in [
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        assert_eq!(c.name().parse::<Compression>(), Ok(c));
    }
    assert_eq!("GZ".parse::<Compression>(), Ok(Compression::Gzip));
    let err = "zip".parse::<Compression>().unwrap_err();
    assert!(
        err.contains("'zip'") && err.contains("gz, bz2, xz, zst"),
        "{err}"
    );
}

#[test]
fn every_output_compression_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = protein_text(500_000);
    for (c, fmt) in [
        (Compression::None, Compression::None),
        (Compression::Gzip, Compression::Gzip),
        (Compression::Bzip2, Compression::Bzip2),
        (Compression::Xz, Compression::Xz),
        (Compression::Zstd, Compression::Zstd),
    ] {
        let target = dir.path().join(format!("out_{}.dat", c.name()));
        let mut out = create_output(OutputTarget::Path(target.clone()), c).unwrap();
        for chunk in data.chunks(4099) {
            out.write_all(chunk).unwrap();
        }
        out.finish().unwrap();
        let (got_fmt, got) = read_input(&target).unwrap();
        assert_eq!(got_fmt, fmt);
        assert!(got == data, "{c}: content differs");
        if c == Compression::Gzip {
            parse_bgzf(&fs::read(&target).unwrap());
        }
    }
    assert_eq!(dir_entries(dir.path()).len(), 5, "stray temp files");
}

#[test]
fn dropped_output_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new.fa.gz");
    {
        let mut out = create_output(OutputTarget::Path(target.clone()), Compression::Gzip).unwrap();
        out.write_all(&protein_text(400_000)).unwrap();
        let temps = dir_entries(dir.path());
        assert_eq!(temps.len(), 1);
        assert!(temps[0].starts_with(".protmask-"), "{temps:?}");
    }
    assert!(
        dir_entries(dir.path()).is_empty(),
        "{:?}",
        dir_entries(dir.path())
    );
}

#[test]
fn dropped_output_keeps_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::None, Compression::Bzip2, Compression::Xz] {
        let target = write_file(dir.path(), "old.fa", b">old\nACDE\n");
        {
            let mut out = create_output(OutputTarget::Path(target.clone()), c).unwrap();
            out.write_all(&protein_text(100_000)).unwrap();
        }
        assert_eq!(fs::read(&target).unwrap(), b">old\nACDE\n");
        assert_eq!(dir_entries(dir.path()), vec!["old.fa".to_string()]);
    }
}

#[test]
fn finished_output_replaces_with_normal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let target = write_file(dir.path(), "x.fa", b"old");
    let mut out = create_output(OutputTarget::Path(target.clone()), Compression::None).unwrap();
    out.write_all(b">new\nMKV\n").unwrap();
    // Nothing visible at the target until finish.
    assert_eq!(fs::read(&target).unwrap(), b"old");
    out.finish().unwrap();
    assert_eq!(fs::read(&target).unwrap(), b">new\nMKV\n");
    assert_eq!(dir_entries(dir.path()), vec!["x.fa".to_string()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644 & !umask());
    }
}

#[test]
fn output_in_missing_directory_errors_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("nope").join("x.fa");
    let err = create_output(OutputTarget::Path(target.clone()), Compression::None)
        .err()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(msg.starts_with(&target.display().to_string()), "{msg}");
    assert!(!dir.path().join("nope").exists());
}

#[test]
fn output_onto_a_directory_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = create_output(
        OutputTarget::Path(dir.path().to_path_buf()),
        Compression::None,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[cfg(unix)]
#[test]
fn output_through_symlink_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = write_file(dir.path(), "real.fa", b"old");
    let link = dir.path().join("link.fa");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut out = create_output(OutputTarget::Path(link.clone()), Compression::None).unwrap();
    out.write_all(b"new").unwrap();
    out.finish().unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&real).unwrap(), b"new");
}

#[cfg(unix)]
#[test]
fn output_to_dev_null_writes_in_place() {
    let mut out = create_output(
        OutputTarget::Path(PathBuf::from("/dev/null")),
        Compression::Zstd,
    )
    .unwrap();
    out.write_all(b"discarded").unwrap();
    out.finish().unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

// ---------- same-file guard ----------

#[test]
fn same_file_guard_cases() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_file(dir.path(), "a.fa", b">a\nM\n");
    let b = write_file(dir.path(), "b.fa", b">b\nM\n");
    let hard = dir.path().join("hard.fa");
    fs::hard_link(&a, &hard).unwrap();
    let inputs = [InputSource::Stdin, InputSource::Path(a.clone())];

    let err = same_file_guard(&inputs, std::slice::from_ref(&hard)).unwrap_err();
    assert_eq!((&err.output, &err.input), (&hard, &a));
    assert_eq!(
        err.to_string(),
        format!(
            "output '{}' is the same file as input '{}'; refusing to overwrite an input",
            hard.display(),
            a.display()
        )
    );
    assert!(same_file_guard(&inputs, std::slice::from_ref(&a)).is_err());
    // Same path that does not exist (yet).
    let ghost = dir.path().join("ghost.fa");
    assert!(same_file_guard(&[InputSource::Path(ghost.clone())], &[ghost]).is_err());
    // Another spelling of the same file.
    let dotted = dir.path().join(".").join("a.fa");
    assert!(same_file_guard(&inputs, &[dotted]).is_err());
    // Different files, new files, stdin only: fine.
    assert!(same_file_guard(&inputs, &[b.clone(), dir.path().join("new.fa")]).is_ok());
    assert!(same_file_guard(&[InputSource::Stdin], std::slice::from_ref(&a)).is_ok());
    assert!(same_file_guard(&inputs, &[]).is_ok());
    #[cfg(unix)]
    {
        let sym = dir.path().join("sym.fa");
        std::os::unix::fs::symlink(&b, &sym).unwrap();
        assert!(same_file_guard(&[InputSource::Path(b)], &[sym]).is_err());
    }
}

/// Random data does not compress: each block must still fit the 64 KiB limit (as libdeflate's
/// own stored blocks, or the writer's stored fallback when deflate runs out of room), and
/// the reused compressor must keep working afterwards.
#[test]
fn bgzf_level1_incompressible_then_text() {
    let mut data = random_bytes(300_000, 5);
    data.extend(protein_text(300_000));
    let mut w = BgzfWriter::with_level(Vec::new(), 1);
    w.write_all(&data).unwrap();
    let bytes = w.finish().unwrap();
    let (_, content) = parse_bgzf(&bytes);
    assert!(content == data);
}

#[test]
fn parallel_bgzf_is_byte_identical_to_serial_whatever_the_writes() {
    let data = protein_text(3_000_000);
    let serial = bgzf(&data);
    for threads in [1, 2, 5] {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        // Uneven write sizes must not move block boundaries.
        let mut w = ParallelBgzfWriter::new(Vec::new(), Arc::clone(&pool));
        let mut rest = &data[..];
        let mut step = 1usize;
        while !rest.is_empty() {
            let n = step.min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            step = step * 7 % 300_007 + 1;
        }
        let parallel = w.finish().unwrap();
        assert!(parallel == serial, "{threads} threads");
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );
    let empty = ParallelBgzfWriter::new(Vec::new(), pool).finish().unwrap();
    assert_eq!(empty, bgzf(b""));
}

// ---------- BGZF read block by block, in parallel ----------

fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    )
}

/// Read `bytes` as an input, inflating on a pool of `threads` (0 = no pool).
fn read_bgzf(bytes: &[u8], threads: usize) -> io::Result<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "in.gz", bytes);
    let pool = (threads > 0).then(|| pool(threads));
    let (fmt, mut r) = open_input_counted(
        &InputSource::Path(p),
        Arc::new(AtomicU64::new(0)),
        pool.as_ref(),
    )?;
    assert_eq!(fmt, Compression::Gzip);
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn bgzf_reads_the_same_with_any_pool() {
    // 3 MB: about 46 blocks, so batches of 16 and several in flight.
    let data = protein_text(3_000_000);
    let bytes = bgzf(&data);
    for threads in [0, 1, 2, 5] {
        assert!(
            read_bgzf(&bytes, threads).unwrap() == data,
            "{threads} threads"
        );
    }
    // Only the EOF block, and an empty block before it.
    assert!(read_bgzf(&bgzf(b""), 2).unwrap().is_empty());
}

#[test]
fn bgzf_then_ordinary_gzip_members_are_all_read() {
    // A BGZF file with an ordinary gzip member appended, and the reverse: the reader
    // hands over to the serial decoder at the first member that is not BGZF.
    let a = protein_text(500_000);
    let b = protein_text(70_000);
    for threads in [0, 2] {
        let mut bytes = bgzf(&a);
        bytes.extend(gzip(&b));
        let got = read_bgzf(&bytes, threads).unwrap();
        assert!(
            got.len() == a.len() + b.len() && got[..a.len()] == a[..] && got[a.len()..] == b[..]
        );
        let mut bytes = gzip(&b);
        bytes.extend(bgzf(&a));
        let got = read_bgzf(&bytes, threads).unwrap();
        assert!(
            got.len() == a.len() + b.len() && got[..b.len()] == b[..] && got[b.len()..] == a[..]
        );
    }
}

#[test]
fn bgzf_made_by_htslib_bgzip_reads_as_the_original() {
    // tests/data/bgzip/NC_000932.faa.gz: `bgzip -c data/NC_000932.faa` (htslib 1.16).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = fs::read(root.join("tests/data/bgzip/NC_000932.faa.gz")).unwrap();
    let original = fs::read(root.join("data/NC_000932.faa")).unwrap();
    assert_eq!(&bytes[12..14], b"BC", "the file is BGZF");
    for threads in [0, 2] {
        assert!(read_bgzf(&bytes, threads).unwrap() == original);
    }
}

#[test]
fn bgzf_truncated_anywhere_is_an_error_in_order() {
    let data = protein_text(400_000);
    let bytes = bgzf(&data);
    // Every 997th byte, and the bytes around the last block boundaries.
    let cuts = (6..bytes.len() - EOF_BLOCK.len())
        .step_by(997)
        .chain((bytes.len() - EOF_BLOCK.len() - 3)..bytes.len())
        .filter(|&c| c != bytes.len() - EOF_BLOCK.len());
    for cut in cuts {
        for threads in [0, 2] {
            let err = match read_bgzf(&bytes[..cut], threads) {
                Ok(got) => panic!("cut at {cut}: read {} bytes, no error", got.len()),
                Err(e) => e,
            };
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut {cut}: {err}");
            assert!(
                err.to_string()
                    .contains("unexpected end of compressed stream")
            );
        }
    }
}

#[test]
fn bgzf_corruption_is_named() {
    let data = protein_text(300_000);
    let bytes = bgzf(&data);
    let bsize = |at: usize| usize::from(u16::from_le_bytes([bytes[at + 16], bytes[at + 17]])) + 1;
    let second = bsize(0);
    let third = second + bsize(second);
    // A flipped bit in the CRC-32 of the second block.
    let mut bad_crc = bytes.clone();
    bad_crc[third - 8] ^= 1;
    // An ISIZE over 64 KiB in the second block.
    let mut bad_isize = bytes.clone();
    bad_isize[third - 2] = 0x7f;
    // Garbage deflate data in the second block.
    let mut bad_data = bytes.clone();
    for b in &mut bad_data[second + 18..second + 60] {
        *b = 0xff;
    }
    for (case, bytes, needle) in [
        ("crc", &bad_crc, "CRC-32 mismatch"),
        ("isize", &bad_isize, "over 64 KiB"),
        ("deflate", &bad_data, "BGZF block at byte"),
    ] {
        for threads in [0, 2] {
            let err = read_bgzf(bytes, threads).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("corrupt gzip stream") && msg.contains(needle),
                "{case} {threads}: {msg}"
            );
            assert!(msg.contains(&format!("at byte {second}")), "{case}: {msg}");
        }
    }
}
