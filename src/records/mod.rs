//! The one record layer: FASTA records parsed with rust-bio under one set of rules and
//! messages, used by `mask` (engine workers) and `verify` alike.
//!
//! Input is cut into blocks of whole records (`cut`), and a block is parsed here. Rules:
//! blank lines before the first header are skipped, other text before it is an error (a
//! FASTQ file is named as such); every header has an ID and no control character; residues
//! are letters, `*`, `-` or `.`; bytes are UTF-8. A bare `>` line, which bio would take
//! for the end of input, is an error. Header lines are taken raw from the block, so they
//! are copied unchanged. Errors name the record (1-based number in its input, and ID).

pub(crate) mod cut;
pub(crate) mod stream;

use bio::io::fasta::{FastaRead, Reader};
use memchr::memmem;

pub(crate) use cut::{BlockCutter, BufferPool, Cut};
pub use stream::{OwnedRecord, ReadError, RecordStream, read};

/// A block of one input: whole records, and where they sit in that input.
pub struct Block<'a> {
    pub data: &'a [u8],
    /// 0-based number (within its input) of the block's first record.
    pub first_index: u64,
    /// `header_starts(data)`, if the caller already has it (the cutter does).
    pub headers: Option<&'a [usize]>,
}

/// One validated record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// 1-based number of the record in its input.
    pub number: u64,
    /// The first word of the header.
    pub id: &'a str,
    /// The header line without its `>` and line ending (a trailing `\r` dropped).
    pub header: &'a [u8],
    /// The residues, unwrapped.
    pub seq: &'a [u8],
}

impl Record<'_> {
    /// 0-based number of the record in its input.
    pub fn index(&self) -> u64 {
        self.number - 1
    }

    /// The header after the ID and the whitespace that follows it (may be empty).
    pub fn description(&self) -> &[u8] {
        description(self.header, self.id.len())
    }
}

/// A header without its ID (`id_len` bytes) and the whitespace after it.
pub fn description(header: &[u8], id_len: usize) -> &[u8] {
    let rest = &header[id_len..];
    let start = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    &rest[start..]
}

/// A problem with one record: its 1-based number in its input, its ID if known, and what
/// is wrong (`kind`, with the 0-based position where there is one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("record {number}{}: {kind}", id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default())]
pub struct RecordError {
    pub number: u64,
    pub id: Option<String>,
    pub kind: RecordErrorKind,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordErrorKind {
    /// A byte that is neither a letter nor `*`, `-`, `.`.
    #[error("invalid residue {} at sequence position {position} (0-based)", shown(*byte))]
    InvalidResidue { position: usize, byte: u8 },
    #[error("header has no ID (the '>' must be followed by an identifier)")]
    NoId,
    /// An ID given apart from a header (Python) that is empty.
    #[error("the ID is empty (a FASTA header's first word cannot be)")]
    EmptyId,
    /// An ID given apart from a header (Python) that holds whitespace or a control character.
    #[error(
        "the ID {id:?} holds {character:?}: an ID is a header's first word (no whitespace or control characters)"
    )]
    BadId { id: String, character: char },
    #[error("the header holds a control character (byte 0x{byte:02x})")]
    ControlInHeader { byte: u8 },
    #[error("byte 0x{byte:02x} in the {} is not valid UTF-8 text (binary data?)", if *in_header { "header" } else { "sequence" })]
    NotUtf8 { byte: u8, in_header: bool },
    #[error("this looks like FASTQ ('@' header); protmask reads FASTA")]
    Fastq,
    #[error("text before the first '>' header; is this FASTA?")]
    TextBeforeHeader,
    #[error("unexpected data after the last record")]
    DataAfterLastRecord,
    /// What the FASTA parser could not read.
    #[error("{0}")]
    Unreadable(String),
    /// The record against its intervals (`--regions`): an interval past its end.
    #[error("{0}")]
    Regions(String),
    /// A call that cannot be a record (Python: replicate 0, IDs and sequences that do not
    /// pair up).
    #[error("{0}")]
    Call(String),
}

/// A byte as messages show it: the character if printable, else its hex value.
fn shown(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
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

/// The records of one block, in order: `next_record` until `Ok(None)`.
pub(crate) struct BlockRecords<'a> {
    data: &'a [u8],
    headers: HeaderList<'a>,
    first_index: u64,
    reader: Reader<BlockLines<'a>>,
    record: bio::io::fasta::Record,
    /// Records returned so far.
    read: usize,
    /// Bytes accepted in sequences besides residues (a masked file's token).
    also: &'a [u8],
}

enum HeaderList<'a> {
    Given(&'a [usize]),
    Computed(Vec<usize>),
}

impl HeaderList<'_> {
    fn get(&self) -> &[usize] {
        match self {
            HeaderList::Given(h) => h,
            HeaderList::Computed(h) => h,
        }
    }
}

impl<'a> BlockRecords<'a> {
    /// Start on a block; fails at once for text before the first header or bytes that
    /// are not UTF-8.
    pub fn new(block: &Block<'a>) -> Result<BlockRecords<'a>, RecordError> {
        let data = skip_leading_blank_lines(block.data).ok_or_else(|| RecordError {
            number: block.first_index + 1,
            id: None,
            kind: if block.data.first() == Some(&b'@') {
                RecordErrorKind::Fastq
            } else {
                RecordErrorKind::TextBeforeHeader
            },
        })?;
        let headers = match block.headers {
            // Offsets into `block.data`: still right unless blank lines were skipped.
            Some(h) if data.len() == block.data.len() => HeaderList::Given(h),
            _ => HeaderList::Computed(header_starts(data)),
        };
        let text = std::str::from_utf8(data).map_err(|_| {
            invalid_utf8(data, headers.get(), block.first_index)
                .expect("from_utf8 found a bad byte")
        })?;
        Ok(BlockRecords {
            data,
            headers,
            first_index: block.first_index,
            reader: Reader::from_bufread(BlockLines { rest: text }),
            record: bio::io::fasta::Record::new(),
            read: 0,
            also: &[],
        })
    }

    /// Also accept the bytes of `also` in sequences: a masked file holds its mask token.
    pub fn allowing(mut self, also: &'a [u8]) -> Self {
        self.also = also;
        self
    }

    /// Records in the block (counted from its header lines).
    pub fn len(&self) -> usize {
        self.headers.get().len()
    }

    /// The next record, or `None` after the last (having checked nothing follows it).
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        let i = self.read;
        let number = self.first_index + i as u64 + 1;
        let Some(&start) = self.headers.get().get(i) else {
            self.check_end()?;
            return Ok(None);
        };
        let fail = |id: Option<&str>, kind| RecordError {
            number,
            id: id.map(str::to_owned),
            kind,
        };
        self.reader
            .read(&mut self.record)
            .map_err(|e| fail(None, RecordErrorKind::Unreadable(e.to_string())))?;
        let id = self.record.id();
        if id.is_empty() {
            return Err(fail(None, RecordErrorKind::NoId));
        }
        let header = raw_header(self.data, start);
        // Folded without an early exit so it vectorises; looked at closely only if bad.
        let control = |c: u8| (c < 0x20 && c != b'\t') | (c == 0x7f);
        if header.iter().fold(false, |bad, &c| bad | control(c))
            && let Some(&c) = header.iter().find(|&&c| control(c))
        {
            return Err(fail(Some(id), RecordErrorKind::ControlInHeader { byte: c }));
        }
        debug_assert!(header.starts_with(id.as_bytes()));
        let seq = self.record.seq();
        check_residues(seq, self.also).map_err(|kind| fail(Some(id), kind))?;
        self.read += 1;
        Ok(Some(Record {
            number,
            id,
            header,
            seq,
        }))
    }

    /// After the block's only record: check that nothing follows it, and keep the
    /// record as parsed (its sequence owned, the block no longer borrowed).
    pub fn finish(mut self) -> Result<bio::io::fasta::Record, RecordError> {
        self.check_end()?;
        Ok(self.record)
    }

    /// bio reads a bare '>' line as the end of input: make sure nothing was left unread.
    fn check_end(&mut self) -> Result<(), RecordError> {
        let n = self.headers.get().len() as u64;
        let mut probe = bio::io::fasta::Record::new();
        self.reader.read(&mut probe).map_err(|e| RecordError {
            number: self.first_index + n,
            id: None,
            kind: RecordErrorKind::Unreadable(e.to_string()),
        })?;
        if !probe.is_empty() {
            return Err(RecordError {
                number: self.first_index + n + 1,
                id: None,
                kind: RecordErrorKind::DataAfterLastRecord,
            });
        }
        Ok(())
    }
}

/// Lines longer than this reach bio in pieces (see `BlockLines::read_line`).
const LINE_PIECE: usize = 1 << 20;

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

    /// A line, or the first piece of a sequence line longer than `LINE_PIECE`: bio
    /// appends each piece to the sequence as it would the whole line, so its line buffer
    /// stays small for a giant one-line record (memory 1 copy of it, not 2). A piece never
    /// ends in whitespace (bio trims it) and the next never starts with `>` (bio would
    /// take it for a header), so the record and its errors are exactly the line's.
    fn read_line(&mut self, buf: &mut String) -> std::io::Result<usize> {
        let bytes = self.rest.as_bytes();
        let mut end = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1);
        if end > LINE_PIECE && bytes[0] != b'>' {
            let mut cut = LINE_PIECE;
            while cut > 0
                && (!self.rest.is_char_boundary(cut)
                    || bytes[cut] == b'>'
                    || self.rest[..cut].ends_with(char::is_whitespace))
            {
                cut -= 1;
            }
            if cut > 0 {
                end = cut;
            }
        }
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

/// The residue rule: every byte of `seq` is a letter, `*`, `-`, `.` or in `also`; the
/// error names the first other byte and its 0-based position.
pub(crate) fn check_residues(seq: &[u8], also: &[u8]) -> Result<(), RecordErrorKind> {
    match first_invalid(seq, also) {
        None => Ok(()),
        Some(position) => Err(RecordErrorKind::InvalidResidue {
            position,
            byte: seq[position],
        }),
    }
}

/// An ID as the record layer gives one: the first word of a header, so not empty, and
/// without whitespace or control characters.
pub(crate) fn check_id(id: &str) -> Result<(), RecordErrorKind> {
    if id.is_empty() {
        return Err(RecordErrorKind::EmptyId);
    }
    if let Some(character) = id.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(RecordErrorKind::BadId {
            id: id.to_string(),
            character,
        });
    }
    Ok(())
}

/// A mask token made only of residue characters (such as `X`): in a masked file it cannot
/// be told from an original residue by looking, so `mask` warns and `verify` goes by the
/// recorded positions.
pub fn is_residue_token(token: &[u8]) -> bool {
    !token.is_empty() && token.iter().all(|&b| is_residue(b))
}

/// A letter, `*`, `-` or `.`; branch-free so that `first_invalid` vectorises.
#[inline(always)]
fn is_residue(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26) | (b == b'*') | (b == b'-') | (b == b'.')
}

/// The first byte of `seq` that is neither a residue nor in `also`. Checks 64 bytes at a
/// time without an early exit (so the compiler can use SIMD), and looks closer only at a
/// chunk that holds something else.
fn first_invalid(seq: &[u8], also: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let chunk = seq[start..]
            .chunks(64)
            .position(|c| !c.iter().fold(true, |ok, &b| ok & is_residue(b)))?;
        let from = start + chunk * 64;
        let to = (from + 64).min(seq.len());
        if let Some(i) = seq[from..to]
            .iter()
            .position(|b| !is_residue(*b) && !also.contains(b))
        {
            return Some(from + i);
        }
        start = to;
    }
}

/// The error for the first bytes of `data` that are not UTF-8, naming their record.
fn invalid_utf8(data: &[u8], headers: &[usize], first_index: u64) -> Option<RecordError> {
    let bad = std::str::from_utf8(data).err()?.valid_up_to();
    let i = headers.partition_point(|&h| h <= bad).max(1) - 1;
    let in_header = headers
        .get(i)
        .is_none_or(|&h| memchr::memchr(b'\n', &data[h..]).is_none_or(|e| bad < h + e));
    Some(RecordError {
        number: first_index + i as u64 + 1,
        id: None,
        kind: RecordErrorKind::NotUtf8 {
            byte: data[bad],
            in_header,
        },
    })
}

#[cfg(test)]
mod tests;
