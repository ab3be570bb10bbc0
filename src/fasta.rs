//! One block of FASTA in, masked FASTA and rates rows out: the work each thread does.
//!
//! A block holds whole records (the engine cuts at `\n>`). rust-bio parses the records;
//! header lines are taken raw from the block so they are copied unchanged, and the count
//! of header lines catches what bio would silently take for the end of input (a bare `>`).
//! Output depends only on the records, never on where the block boundaries fell.

use bio::io::fasta::{FastaRead, Reader, Record};
use memchr::memmem;

use crate::mask::{Marks, Masker, mark};
use crate::report::RowWriter;

/// Everything about the output format that does not touch the random draws.
#[derive(Clone, Debug)]
pub struct FormatOptions {
    /// Residues (positions) per line; 0 = one line per sequence.
    pub line_width: usize,
    pub token: Vec<u8>,
    pub replicates: u32,
    /// Rates rows: `None` = no table; `Some(delimiter)`.
    pub rates_delimiter: Option<u8>,
    pub positions: bool,
}

/// A block of one input: whole records, and where they sit in that input.
pub struct Block<'a> {
    pub data: &'a [u8],
    /// The input as named on the command line (the rates table's `file` column).
    pub file: &'a str,
    /// 0-based number (within its input) of the block's first record.
    pub first_index: u64,
    /// `header_starts(data)`, if the caller already has it (the engine's reader does).
    pub headers: Option<&'a [usize]>,
}

/// Totals over records, for the summary line and the manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Records emitted (replicates counted).
    pub records: u64,
    pub residues: u64,
    pub eligible: u64,
    pub masked: u64,
    pub rate_sum: f64,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.records += other.records;
        self.residues += other.residues;
        self.eligible += other.eligible;
        self.masked += other.masked;
        self.rate_sum += other.rate_sum;
    }
}

#[derive(Debug, Default)]
pub struct BlockOutput {
    pub fasta: Vec<u8>,
    pub rates: Vec<u8>,
    pub stats: Stats,
    /// Records read from the input (replicates not counted).
    pub input_records: u64,
}

/// A problem with one record: its 1-based number in its input and, if known, its ID.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("record {number}{}: {message}", id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default())]
pub struct RecordError {
    pub number: u64,
    pub id: Option<String>,
    pub message: String,
}

/// Offsets of the header lines (each starting at its `>`) in a block of whole records.
pub fn header_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    if data.first() == Some(&b'>') {
        starts.push(0);
    }
    starts.extend(memmem::find_iter(data, b"\n>").map(|i| i + 1));
    starts
}

/// A block as rust-bio's input. The block is checked to be UTF-8 once, as a whole, so the
/// lines bio asks for one at a time need no check of their own; and their ends are found
/// with the SIMD `memchr` crate, not std's generic loop (which dominates on 60-residue
/// lines).
struct BlockLines<'a> {
    rest: &'a str,
}

impl std::io::Read for BlockLines<'_> {
    /// Whole characters only (bio reads through `read_line`; this is for completeness).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = self.rest.len().min(buf.len());
        while !self.rest.is_char_boundary(n) {
            n -= 1;
        }
        let (head, tail) = self.rest.split_at(n);
        buf[..n].copy_from_slice(head.as_bytes());
        self.rest = tail;
        Ok(n)
    }
}

impl std::io::BufRead for BlockLines<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(self.rest.as_bytes())
    }

    /// Consumes whole characters: a cut inside one moves past it.
    fn consume(&mut self, amount: usize) {
        let mut at = amount.min(self.rest.len());
        while !self.rest.is_char_boundary(at) {
            at += 1;
        }
        self.rest = &self.rest[at..];
    }

    fn read_line(&mut self, buf: &mut String) -> std::io::Result<usize> {
        let end = memchr::memchr(b'\n', self.rest.as_bytes()).map_or(self.rest.len(), |i| i + 1);
        let (line, rest) = self.rest.split_at(end);
        buf.push_str(line);
        self.rest = rest;
        Ok(end)
    }
}

/// The header line at `start` without its `>` and line ending.
fn raw_header(data: &[u8], start: usize) -> &[u8] {
    let rest = &data[start + 1..];
    let line = memchr::memchr(b'\n', rest).map_or(rest, |e| &rest[..e]);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The block without leading blank lines, or `None` if text comes before the first `>`.
fn skip_leading_blank_lines(data: &[u8]) -> Option<&[u8]> {
    let first = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    (first == data.len() || data[first] == b'>').then(|| &data[first..])
}

/// A letter, `*`, `-` or `.`; branch-free so that `first_invalid` vectorises.
#[inline(always)]
fn is_residue(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26) | (b == b'*') | (b == b'-') | (b == b'.')
}

/// The first byte of `seq` that is not a residue. Checks 64 bytes at a time without an
/// early exit (so the compiler can use SIMD), and looks closer only at a bad chunk.
fn first_invalid(seq: &[u8]) -> Option<usize> {
    let chunk = seq
        .chunks(64)
        .position(|c| !c.iter().fold(true, |ok, &b| ok & is_residue(b)))?;
    let start = chunk * 64;
    seq[start..]
        .iter()
        .position(|&b| !is_residue(b))
        .map(|i| start + i)
}

/// Mask every record of `block`, appending FASTA and rates rows to `out`.
/// `shifts[k-1]` is the stratification shift of replicate k.
pub fn process_block(
    block: &Block,
    masker: &Masker,
    opts: &FormatOptions,
    shifts: &[f64],
    out: &mut BlockOutput,
) -> Result<(), RecordError> {
    let data = skip_leading_blank_lines(block.data).ok_or_else(|| RecordError {
        number: block.first_index + 1,
        id: None,
        message: if block.data.first() == Some(&b'@') {
            "this looks like FASTQ ('@' header); protmask reads FASTA".into()
        } else {
            "text before the first '>' header; is this FASTA?".into()
        },
    })?;
    let computed;
    let headers = match block.headers {
        // Offsets into `block.data`: still right unless blank lines were skipped.
        Some(h) if data.len() == block.data.len() => h,
        _ => {
            computed = header_starts(data);
            &computed[..]
        }
    };
    let text = std::str::from_utf8(data).map_err(|_| {
        invalid_utf8(data, headers, block.first_index).expect("from_utf8 found a bad byte")
    })?;
    let mut reader = Reader::from_bufread(BlockLines { rest: text });
    let mut record = Record::new();
    let mut marks = Marks::default();
    let mut patched = Vec::new();
    let patch =
        opts.token.len() == 1 && masker.corruption.is_mask_only() && masker.maskable.is_none();
    let rows = opts
        .rates_delimiter
        .map(|d| RowWriter::new(block.file, d, opts.positions));
    let lut = mark_bytes(&opts.token);

    for (i, &start) in headers.iter().enumerate() {
        let number = block.first_index + i as u64 + 1;
        let fail = |id: Option<&str>, message: String| RecordError {
            number,
            id: id.map(str::to_owned),
            message,
        };
        reader
            .read(&mut record)
            .map_err(|e| fail(None, e.to_string()))?;
        let id = record.id();
        if id.is_empty() {
            return Err(fail(
                None,
                "header has no ID (the '>' must be followed by an identifier)".into(),
            ));
        }
        let header = raw_header(data, start);
        // Folded without an early exit so it vectorises; looked at closely only if bad.
        let control = |c: u8| (c < 0x20 && c != b'\t') | (c == 0x7f);
        if header.iter().fold(false, |bad, &c| bad | control(c))
            && let Some(&c) = header.iter().find(|&&c| control(c))
        {
            return Err(fail(
                Some(id),
                format!("the header holds a control character (byte 0x{c:02x})"),
            ));
        }
        debug_assert!(header.starts_with(id.as_bytes()));
        let seq = record.seq();
        if let Some(p) = first_invalid(seq) {
            let b = seq[p];
            let shown = if b.is_ascii_graphic() {
                format!("'{}'", b as char)
            } else {
                format!("byte 0x{b:02x}")
            };
            return Err(fail(
                Some(id),
                format!("invalid residue {shown} at sequence position {}", p + 1),
            ));
        }
        out.input_records += 1;
        for replicate in 1..=opts.replicates {
            let index = block.first_index + i as u64;
            let outcome = masker.mask_record(
                id.as_bytes(),
                seq,
                replicate,
                index,
                shifts[replicate as usize - 1],
                &mut marks,
            );
            write_header(&mut out.fasta, header, id.len(), replicate, opts.replicates);
            if patch {
                write_patched(
                    &mut out.fasta,
                    &mut patched,
                    seq,
                    &marks,
                    opts.token[0],
                    opts.line_width,
                );
            } else {
                write_sequence(
                    &mut out.fasta,
                    seq,
                    &marks,
                    &opts.token,
                    &lut,
                    opts.line_width,
                );
            }
            if let Some(w) = &rows {
                w.row(&mut out.rates, id, replicate, &outcome, &marks);
            }
            let s = &mut out.stats;
            s.records += 1;
            s.residues += seq.len() as u64;
            s.eligible += outcome.length as u64;
            s.masked += outcome.masked as u64;
            s.rate_sum += outcome.rate;
        }
    }
    // bio reads a bare '>' line as the end of input: make sure nothing was left unread.
    reader.read(&mut record).map_err(|e| RecordError {
        number: block.first_index + headers.len() as u64,
        id: None,
        message: e.to_string(),
    })?;
    if !record.is_empty() {
        return Err(RecordError {
            number: block.first_index + headers.len() as u64 + 1,
            id: None,
            message: "unexpected data after the last record".into(),
        });
    }
    Ok(())
}

/// The error for the first bytes of `data` that are not UTF-8, naming their record.
fn invalid_utf8(data: &[u8], headers: &[usize], first_index: u64) -> Option<RecordError> {
    let bad = std::str::from_utf8(data).err()?.valid_up_to();
    let i = headers.partition_point(|&h| h <= bad).max(1) - 1;
    let in_header = memchr::memchr(b'\n', &data[headers[i]..]).is_none_or(|e| bad < headers[i] + e);
    Some(RecordError {
        number: first_index + i as u64 + 1,
        id: None,
        message: format!(
            "byte 0x{:02x} in the {} is not valid UTF-8 text (binary data?)",
            data[bad],
            if in_header { "header" } else { "sequence" }
        ),
    })
}

/// `>` + the header, with the ID of replicate k renamed `<id>_r<k>` when there are several.
fn write_header(out: &mut Vec<u8>, header: &[u8], id_len: usize, replicate: u32, replicates: u32) {
    out.push(b'>');
    if replicates > 1 {
        out.extend_from_slice(&header[..id_len]);
        out.extend_from_slice(format!("_r{replicate}").as_bytes());
        out.extend_from_slice(&header[id_len..]);
    } else {
        out.extend_from_slice(header);
    }
    out.push(b'\n');
}

/// For a one-byte token: the byte each mark writes, 0 meaning "the residue itself".
fn mark_bytes(token: &[u8]) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate().skip(3) {
        *v = i as u8;
    }
    lut[usize::from(mark::TOKEN)] = token.first().copied().unwrap_or(0);
    lut
}

/// Records longer than this are patched in the output itself (see `write_patched`).
const PATCH_IN_PLACE: usize = 1 << 20;

/// `write_sequence` for a one-byte token and pure masking, the common case, fast: copy
/// the lines (or lines of tokens, when most positions are selected), then patch the
/// positions Floyd's algorithm drew. Cost: a copy plus O(min(k, L-k)), not a look at
/// every position.
fn write_patched(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    seq: &[u8],
    marks: &Marks,
    token: u8,
    width: usize,
) {
    if seq.is_empty() {
        return;
    }
    let width = if width == 0 { seq.len() } else { width };
    if seq.len() > PATCH_IN_PLACE {
        // A huge record: patch the wrapped output itself (a division per drawn position)
        // rather than hold another copy of it.
        let start = out.len();
        for line in seq.chunks(width) {
            if marks.drawn_selected {
                out.extend_from_slice(line);
            } else {
                out.resize(out.len() + line.len(), token);
            }
            out.push(b'\n');
        }
        let body = &mut out[start..];
        for &p in &marks.drawn {
            let p = p as usize;
            body[p + p / width] = if marks.drawn_selected { token } else { seq[p] };
        }
        return;
    }
    // Patch an unwrapped copy, then wrap it: two copies are cheaper than a division per
    // drawn position.
    scratch.clear();
    if marks.drawn_selected {
        scratch.extend_from_slice(seq);
        for &p in &marks.drawn {
            scratch[p as usize] = token;
        }
    } else {
        scratch.resize(seq.len(), token);
        for &p in &marks.drawn {
            scratch[p as usize] = seq[p as usize];
        }
    }
    out.reserve(seq.len() + seq.len() / width + 1);
    for line in scratch.chunks(width) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

/// The sequence with its marks applied, `width` positions per line (0 = no wrapping).
fn write_sequence(
    out: &mut Vec<u8>,
    seq: &[u8],
    marks: &Marks,
    token: &[u8],
    lut: &[u8; 256],
    width: usize,
) {
    if seq.is_empty() {
        return;
    }
    let width = if width == 0 { seq.len() } else { width };
    for (s, m) in seq.chunks(width).zip(marks.by_position.chunks(width)) {
        if let [tok] = token {
            // Branch-free: which positions are selected is random, so a `match` per
            // position mispredicts constantly.
            debug_assert_eq!(lut[usize::from(mark::TOKEN)], *tok);
            out.extend(s.iter().zip(m).map(|(&r, &m)| {
                let v = lut[usize::from(m)];
                if v == 0 { r } else { v }
            }));
        } else {
            for (&r, &m) in s.iter().zip(m) {
                match m {
                    mark::NONE | mark::KEPT => out.push(r),
                    mark::TOKEN => out.extend_from_slice(token),
                    other => out.push(other),
                }
            }
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{Corruption, Mode, Timesteps};

    fn run(data: &[u8], opts: &FormatOptions) -> Result<BlockOutput, RecordError> {
        let masker = Masker::new(
            "0.5".parse().unwrap(),
            Mode::Exact,
            Corruption::MASK_ONLY,
            Timesteps::Iid,
            None,
            1,
        );
        let block = Block {
            data,
            file: "in.fa",
            first_index: 0,
            headers: None,
        };
        let mut out = BlockOutput::default();
        let shifts = vec![0.0; opts.replicates as usize];
        process_block(&block, &masker, opts, &shifts, &mut out).map(|_| out)
    }

    fn opts(width: usize, token: &str) -> FormatOptions {
        FormatOptions {
            line_width: width,
            token: token.as_bytes().to_vec(),
            replicates: 1,
            rates_delimiter: Some(b','),
            positions: true,
        }
    }

    #[test]
    fn wraps_by_positions_and_never_splits_a_token() {
        let out = run(b">a x\tdesc \nACDEFGHIKL\nMNPQ\n", &opts(4, "<mask>")).unwrap();
        let text = String::from_utf8(out.fasta).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(">a x\tdesc "));
        for line in lines {
            let positions = line.replace("<mask>", "_").len();
            assert!(positions <= 4 && positions > 0, "{line}");
        }
        assert_eq!(out.stats.masked, 7);
    }

    #[test]
    fn bare_header_is_an_error_not_the_end() {
        let err = run(b">a\nAC\n>\n>b\nAC\n", &opts(60, "_")).unwrap_err();
        assert_eq!(err.number, 2);
        assert!(err.message.contains("no ID"), "{err}");
        let err = run(b">a\nAC\n>\n", &opts(60, "_")).unwrap_err();
        assert_eq!(err.number, 2);
    }

    #[test]
    fn text_before_first_header_and_bad_residues_are_errors() {
        let err = run(b"@q\nACGT\n+\nIIII\n", &opts(60, "_")).unwrap_err();
        assert!(err.message.contains("FASTQ"), "{err}");
        let err = run(b"junk\n>a\nAC\n", &opts(60, "_")).unwrap_err();
        assert_eq!(err.number, 1);
        let err = run(b">a\nAC\n>b\nA\0C\n", &opts(60, "_")).unwrap_err();
        assert_eq!((err.number, err.id.as_deref()), (2, Some("b")));
        assert!(
            err.message.contains("0x00") && err.message.contains("position 2"),
            "{err}"
        );
    }

    #[test]
    fn empty_sequence_and_crlf() {
        let out = run(b">a desc\r\n\r\n>b\r\nAC\r\n", &opts(60, "_")).unwrap();
        let text = String::from_utf8(out.fasta).unwrap();
        assert!(text.starts_with(">a desc\n>b\n"), "{text}");
        assert_eq!(out.stats.records, 2);
    }

    #[test]
    fn first_invalid_finds_the_first_bad_byte_anywhere() {
        assert_eq!(first_invalid(b""), None);
        let good: Vec<u8> = (0..300).map(|i| b"ACDxyz*-.QWERTY"[i % 15]).collect();
        assert_eq!(first_invalid(&good), None);
        for bad_at in [0, 1, 63, 64, 65, 127, 128, 299] {
            for bad in [b'1', b' ', 0u8, b'@', b'[', b'`', b'{', 0xff] {
                let mut s = good.clone();
                s[bad_at] = bad;
                s[299] = if bad_at == 299 { bad } else { b'9' };
                assert_eq!(first_invalid(&s), Some(bad_at), "byte {bad} at {bad_at}");
            }
        }
        for b in 0..=255u8 {
            assert_eq!(
                is_residue(b),
                b.is_ascii_alphabetic() || b"*-.".contains(&b),
                "{b}"
            );
        }
    }

    #[test]
    fn patched_writer_equals_the_general_writer() {
        let masker = Masker::new(
            "uniform".parse().unwrap(),
            Mode::Bernoulli,
            Corruption::MASK_ONLY,
            Timesteps::Iid,
            None,
            5,
        );
        let lut = mark_bytes(b"_");
        let mut marks = Marks::default();
        let (mut complement, mut direct) = (0, 0);
        for i in 0..400usize {
            let seq: Vec<u8> = (0..i % 97)
                .map(|j| b"ACDEFGHIKL"[(i * 7 + j) % 10])
                .collect();
            masker.mask_record(format!("r{i}").as_bytes(), &seq, 1, 0, 0.0, &mut marks);
            if marks.drawn_selected {
                direct += 1
            } else {
                complement += 1
            }
            for width in [0, 1, 7, 60] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                write_patched(&mut a, &mut Vec::new(), &seq, &marks, b'_', width);
                write_sequence(&mut b, &seq, &marks, b"_", &lut, width);
                assert_eq!(a, b, "record {i} width {width}");
            }
        }
        assert!(complement > 50 && direct > 50);
    }

    #[test]
    fn replicates_rename_the_id_only() {
        let mut o = opts(0, "_");
        o.replicates = 2;
        let out = run(b">sp|P1|X some desc\nAAAA\n", &o).unwrap();
        let text = String::from_utf8(out.fasta).unwrap();
        let headers: Vec<&str> = text.lines().filter(|l| l.starts_with('>')).collect();
        assert_eq!(headers, [">sp|P1|X_r1 some desc", ">sp|P1|X_r2 some desc"]);
        let rates = String::from_utf8(out.rates).unwrap();
        assert!(rates.lines().all(|l| l.starts_with("in.fa,sp|P1|X,")));
    }
}
