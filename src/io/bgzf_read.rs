//! Reading BGZF in parallel: the blocks of a BGZF file (bgzip's, or protmask's own `.gz`
//! output) are independent gzip members whose compressed size is in their header, so the
//! reader can cut the compressed stream into batches without inflating anything, and the
//! worker pool inflates the batches while the reader hands on the text in order. Ordinary
//! gzip (one member, as `gzip` and `pigz` write) cannot be cut like this and is inflated
//! serially by the caller's decoder: at the first member that is not a BGZF block, the rest
//! of the stream goes to that decoder instead.
//!
//! Every block is checked as a serial decoder checks it (deflate, CRC-32, ISIZE), and a
//! stream that ends inside a block is an `UnexpectedEof` error, never a short read.

use std::collections::VecDeque;
use std::io::{self, BufRead, Cursor, Read};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use rayon::ThreadPool;

/// Blocks per batch: about 1 MiB of text, the engine's block size.
const BATCH_BLOCKS: usize = 16;

/// The most text one BGZF block holds (its total size is at most 64 KiB, and so is ISIZE).
const MAX_BLOCK_TEXT: u32 = 1 << 16;

/// Fixed part of a gzip member header: ID1 ID2 CM FLG MTIME(4) XFL OS XLEN(2).
const FIXED_HEADER: usize = 12;

/// What to read once the stream stops being BGZF: the bytes already taken from it, then
/// the rest of it, decoded serially by the caller's decoder.
pub type Fallback = Box<dyn FnOnce(Box<dyn BufRead + Send>) -> Box<dyn Read + Send> + Send>;

/// One BGZF block as read from the stream: its compressed data and footer.
struct RawBlock {
    /// The deflate data.
    cdata: Vec<u8>,
    crc: u32,
    isize: u32,
    /// Offset of the block in the compressed stream (for error messages).
    offset: u64,
}

/// A `Read` of the text of a BGZF stream, inflated on `pool`, in order.
pub struct ParallelBgzfReader {
    /// The compressed stream; `None` once handed to the fallback or exhausted.
    raw: Option<Box<dyn BufRead + Send>>,
    /// `None`: inflate in the calling thread.
    pool: Option<Arc<ThreadPool>>,
    fallback: Option<Fallback>,
    /// The serial decoder of a non-BGZF tail, once there is one.
    serial: Option<Box<dyn Read + Send>>,
    /// Batches submitted, oldest first.
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    current: Vec<u8>,
    pos: usize,
    /// Compressed bytes consumed so far.
    offset: u64,
    /// An error met while cutting the stream, reported after the batches before it.
    error: Option<io::Error>,
}

impl ParallelBgzfReader {
    /// Read `raw` (a gzip stream, from its first byte) as BGZF, inflating on `pool` with up
    /// to `max_pending` batches in flight (or in the calling thread, one batch at a time,
    /// without a pool); `fallback` decodes whatever is not BGZF.
    pub fn new(
        raw: Box<dyn BufRead + Send>,
        pool: Option<Arc<ThreadPool>>,
        max_pending: usize,
        fallback: Fallback,
    ) -> Self {
        let max_pending = if pool.is_some() { max_pending } else { 1 };
        ParallelBgzfReader {
            raw: Some(raw),
            pool,
            fallback: Some(fallback),
            serial: None,
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
            current: Vec::new(),
            pos: 0,
            offset: 0,
            error: None,
        }
    }

    /// Cut and submit batches until `max_pending` are in flight or the BGZF part ends.
    fn submit(&mut self) {
        while self.pending.len() < self.max_pending && self.raw.is_some() && self.error.is_none() {
            let mut batch = Vec::with_capacity(BATCH_BLOCKS);
            while batch.len() < BATCH_BLOCKS {
                match self.next_block() {
                    Ok(Some(b)) => batch.push(b),
                    Ok(None) => break,
                    Err(e) => {
                        self.error = Some(e);
                        break;
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            let (tx, rx) = sync_channel(1);
            match &self.pool {
                Some(pool) => pool.spawn(move || {
                    let _ = tx.send(inflate_batch(&batch));
                }),
                None => {
                    let _ = tx.send(inflate_batch(&batch));
                }
            }
            self.pending.push_back(rx);
        }
    }

    /// The next BGZF block, or `None` at the end of the stream or at a member that is not
    /// a BGZF block (then the serial decoder takes over from that member).
    fn next_block(&mut self) -> io::Result<Option<RawBlock>> {
        let Some(raw) = self.raw.as_mut() else {
            return Ok(None);
        };
        let mut header = [0u8; FIXED_HEADER];
        let got = read_full(raw, &mut header)?;
        if got == 0 {
            self.raw = None;
            return Ok(None);
        }
        // gzip magic, deflate, and FLG = FEXTRA only, as every BGZF block has.
        let is_bgzf_start = got == FIXED_HEADER && header[..4] == [0x1f, 0x8b, 0x08, 0x04];
        let xlen = usize::from(u16::from_le_bytes([header[10], header[11]]));
        let mut extra = vec![0u8; if is_bgzf_start { xlen } else { 0 }];
        let got_extra = if is_bgzf_start {
            read_full(raw, &mut extra)?
        } else {
            0
        };
        let bsize = (got_extra == xlen)
            .then(|| bc_field(&extra))
            .flatten()
            .map(|b| usize::from(b) + 1);
        let Some(bsize) = bsize.filter(|&b| b >= FIXED_HEADER + xlen + 8) else {
            // Not a BGZF block: the serial decoder reads on from this member's first byte.
            let mut taken = header[..got].to_vec();
            taken.extend_from_slice(&extra[..got_extra]);
            self.hand_over(taken);
            return Ok(None);
        };
        let offset = self.offset;
        let mut rest = vec![0u8; bsize - FIXED_HEADER - xlen];
        let got_rest = read_full(raw, &mut rest)?;
        if got_rest < rest.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("BGZF block at byte {offset} is cut short"),
            ));
        }
        self.offset += bsize as u64;
        let footer = rest.split_off(rest.len() - 8);
        let isize = u32::from_le_bytes(footer[4..].try_into().expect("4 bytes"));
        if isize > MAX_BLOCK_TEXT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BGZF block at byte {offset} claims {isize} bytes of text, over 64 KiB"),
            ));
        }
        Ok(Some(RawBlock {
            cdata: rest,
            crc: u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")),
            isize,
            offset,
        }))
    }

    /// Give the rest of the stream, after `taken` (bytes already read from it), to the
    /// serial decoder.
    fn hand_over(&mut self, taken: Vec<u8>) {
        if let (Some(raw), Some(fallback)) = (self.raw.take(), self.fallback.take()) {
            let stream: Box<dyn BufRead + Send> = Box::new(Cursor::new(taken).chain(raw));
            self.serial = Some(fallback(stream));
        }
    }
}

impl Read for ParallelBgzfReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.current.len() {
                let n = buf.len().min(self.current.len() - self.pos);
                buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.submit();
            match self.pending.pop_front() {
                Some(rx) => {
                    self.current = rx
                        .recv()
                        .map_err(|_| io::Error::other("a BGZF inflate job was lost"))??;
                    self.pos = 0;
                }
                None => {
                    if let Some(e) = self.error.take() {
                        return Err(e);
                    }
                    return match self.serial.as_mut() {
                        Some(s) => s.read(buf),
                        None => Ok(0),
                    };
                }
            }
        }
    }
}

/// The BC subfield of a gzip extra field: BSIZE (the block size minus one).
fn bc_field(extra: &[u8]) -> Option<u16> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let data = rest.get(4..4 + len)?;
        if rest[..2] == *b"BC" && len == 2 {
            return Some(u16::from_le_bytes([data[0], data[1]]));
        }
        rest = &rest[4 + len..];
    }
    None
}

/// Read until `buf` is full or the stream ends; the number of bytes read.
fn read_full(r: &mut dyn BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Inflate the blocks of one batch, checking each one's size and CRC-32.
fn inflate_batch(batch: &[RawBlock]) -> io::Result<Vec<u8>> {
    let total: usize = batch.iter().map(|b| b.isize as usize).sum();
    let mut out = vec![0u8; total];
    let mut d = libdeflater::Decompressor::new();
    let mut at = 0;
    for b in batch {
        let len = b.isize as usize;
        let corrupt = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BGZF block at byte {}: {what}", b.offset),
            )
        };
        let dest = &mut out[at..at + len];
        match d.deflate_decompress(&b.cdata, dest) {
            Ok(n) if n == len => {}
            Ok(_) => return Err(corrupt("its size differs from its ISIZE")),
            Err(_) => return Err(corrupt("bad deflate data")),
        }
        let mut crc = flate2::Crc::new();
        crc.update(dest);
        if crc.sum() != b.crc {
            return Err(corrupt("CRC-32 mismatch"));
        }
        at += len;
    }
    Ok(out)
}
