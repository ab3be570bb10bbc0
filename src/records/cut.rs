//! Cutting a decompressed input into blocks of whole records, at `\n>`.
//!
//! A block is about `block_size` bytes; a record longer than that grows its block until
//! the record ends (by half each time, so a giant record costs O(n) to read, not
//! O(n²/block), and the growth reads into unzeroed capacity so it holds one copy of it).
//! Buffers come from, and go back to, a `BufferPool`, so that in the steady state nothing
//! is allocated, faulted in or zeroed per block. A UTF-8 byte-order mark at the start of
//! an input is dropped.

use std::io::{self, Read};
use std::sync::Mutex;

use memchr::memmem;

use super::header_starts;

/// Recycled byte buffers.
#[derive(Default)]
pub struct BufferPool(Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    /// A buffer of at least `len` initialised bytes (contents unspecified).
    pub fn filled(&self, len: usize) -> Vec<u8> {
        let mut v = self.take();
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }

    /// A buffer, empty or not, with whatever capacity it had.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut l| l.pop())
            .unwrap_or_default()
    }

    pub fn give(&self, v: Vec<u8>) {
        if let Ok(mut l) = self.0.lock() {
            l.push(v);
        }
    }
}

/// One block: whole records, `data[..len]`.
pub struct Cut {
    /// A pooled buffer; the block is `data[..len]`.
    pub data: Vec<u8>,
    pub len: usize,
    /// Offsets of the block's header lines.
    pub headers: Vec<usize>,
    /// 0-based number (within the input) of the block's first record.
    pub first_index: u64,
    /// The last block of its input (every input has one, possibly empty).
    pub last: bool,
}

impl Cut {
    pub fn block(&self) -> super::Block<'_> {
        super::Block {
            data: &self.data[..self.len],
            first_index: self.first_index,
            headers: Some(&self.headers),
        }
    }
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Cuts one input into blocks; `P` is a `&BufferPool` or an `Arc<BufferPool>`.
pub struct BlockCutter<P, R> {
    reader: R,
    pool: P,
    block_size: usize,
    /// The bytes read but not yet cut: `buf[..filled]`.
    buf: Vec<u8>,
    filled: usize,
    first_index: u64,
    /// The first buffer was taken from the pool.
    started: bool,
    /// The start of the input was looked at for a byte-order mark.
    bom_checked: bool,
    done: bool,
}

impl<P: std::ops::Deref<Target = BufferPool>, R: Read> BlockCutter<P, R> {
    pub fn new(reader: R, block_size: usize, pool: P) -> Self {
        BlockCutter {
            reader,
            pool,
            block_size: block_size.max(1),
            buf: Vec::new(),
            filled: 0,
            first_index: 0,
            started: false,
            bom_checked: false,
            done: false,
        }
    }

    /// Records before the next block (those of every block returned so far).
    pub fn records_so_far(&self) -> u64 {
        self.first_index
    }

    /// The next block; `None` after the one flagged `last`.
    pub fn next_block(&mut self) -> io::Result<Option<Cut>> {
        if self.done {
            return Ok(None);
        }
        let spare = self.block_size / 4;
        if !self.started {
            self.started = true;
            self.buf = self.pool.filled(self.block_size + spare);
        }
        let mut searched = 0usize;
        loop {
            // Fill to block_size more bytes (or to the end of input); a record longer than
            // a block grows the buffer by half of what it holds instead.
            let grow = if searched > 0 { self.filled / 2 } else { 0 };
            let target = self.filled + self.block_size.max(grow);
            let eof = if self.buf.len() >= target {
                fill(&mut self.reader, &mut self.buf[..target], &mut self.filled)?
            } else {
                // Into unzeroed capacity: only the bytes read are ever touched.
                self.buf.truncate(self.filled);
                let want = (target - self.filled) as u64;
                let n = (&mut self.reader).take(want).read_to_end(&mut self.buf)?;
                self.filled += n;
                (n as u64) < want
            };
            if !self.bom_checked {
                if self.filled < BOM.len() && !eof {
                    continue;
                }
                self.bom_checked = true;
                if self.buf[..self.filled].starts_with(BOM) {
                    self.buf.copy_within(BOM.len()..self.filled, 0);
                    self.filled -= BOM.len();
                }
            }
            let from = searched.saturating_sub(1);
            let unsearched = &self.buf[from..self.filled];
            let cut = if searched > 0 {
                // A record longer than a block: the block ends right after it, so that it
                // is alone in its block (which is freed as soon as the record is parsed).
                memmem::find(unsearched, b"\n>")
                    .map(|i| from + i + 1)
                    .or(eof.then_some(self.filled))
            } else if eof {
                Some(self.filled)
            } else {
                // The last "\n>" in what has not been searched yet.
                memmem::rfind(unsearched, b"\n>").map(|i| from + i + 1)
            };
            let Some(cut) = cut else {
                searched = self.filled;
                continue;
            };
            // At the end of input with bytes left after the cut, they make one more block.
            let last = eof && cut == self.filled;
            let carry = self.filled - cut;
            // The next block's buffer, starting with the carried bytes; none after the last.
            let next = if last {
                Vec::new()
            } else {
                let mut next = self.pool.filled(carry + self.block_size + spare);
                next[..carry].copy_from_slice(&self.buf[cut..self.filled]);
                next
            };
            let data = std::mem::replace(&mut self.buf, next);
            let headers = header_starts(&data[..cut]);
            let first_index = self.first_index;
            self.first_index += headers.len() as u64;
            self.filled = carry;
            self.done = last;
            return Ok(Some(Cut {
                data,
                len: cut,
                headers,
                first_index,
                last,
            }));
        }
    }
}

/// Read into `buf[*filled..]` until it is full; true at end of input.
fn fill(reader: &mut impl Read, buf: &mut [u8], filled: &mut usize) -> io::Result<bool> {
    while *filled < buf.len() {
        match reader.read(&mut buf[*filled..]) {
            Ok(0) => return Ok(true),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
