//! BGZF writer (the blocked gzip of samtools/htslib): valid multi-member gzip whose members
//! each hold at most 65280 input bytes and are at most 65536 bytes long, with the size in
//! a `BC` extra field, ended by the standard 28-byte EOF block. Blocks are independent, so
//! [`compress_block`] is a pure function that can later run on many threads.

use std::cell::RefCell;
use std::io::{self, Write};

use flate2::Crc;

/// Largest uncompressed payload of one block (what htslib uses).
pub const BLOCK_DATA_SIZE: usize = 0xff00;
/// Largest total size of one block (BSIZE + 1 must fit in 16 bits).
pub const MAX_BLOCK_SIZE: usize = 0x10000;
/// Default deflate level.
pub const DEFAULT_LEVEL: u32 = 6;

const HEADER_SIZE: usize = 18;
const FOOTER_SIZE: usize = 8;
const MAX_CDATA: usize = MAX_BLOCK_SIZE - HEADER_SIZE - FOOTER_SIZE;
/// Deflate's output room: what fits in one block.
const SCRATCH_SIZE: usize = MAX_CDATA;

/// The empty block that ends every BGZF file.
pub const EOF_BLOCK: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// A reusable raw-deflate state plus scratch space: compresses blocks one at a time.
/// One per thread; cheaper than a fresh deflate state per block. libdeflate, as htslib
/// uses: it compresses a whole block in one call, faster than zlib-rs here and smaller
/// (docs/performance.md).
pub struct BlockCompressor {
    level: u32,
    deflate: libdeflater::Compressor,
    scratch: Vec<u8>,
}

impl BlockCompressor {
    /// `level` is the deflate level, 0..=9 (larger values are clamped to 9).
    pub fn new(level: u32) -> Self {
        let level = level.min(9);
        let lvl = libdeflater::CompressionLvl::new(level as i32)
            .expect("levels 0 to 9 are valid libdeflate levels");
        BlockCompressor {
            level,
            deflate: libdeflater::Compressor::new(lvl),
            scratch: vec![0; SCRATCH_SIZE],
        }
    }

    pub fn level(&self) -> u32 {
        self.level
    }

    /// Append to `out` the BGZF block(s) holding `data`: one block per
    /// [`BLOCK_DATA_SIZE`] bytes, and one empty block if `data` is empty.
    pub fn compress_block(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            self.one_block(data, out);
        }
        for chunk in data.chunks(BLOCK_DATA_SIZE) {
            self.one_block(chunk, out);
        }
    }

    fn one_block(&mut self, data: &[u8], out: &mut Vec<u8>) {
        debug_assert!(data.len() <= BLOCK_DATA_SIZE);
        // Room for at most MAX_CDATA bytes: libdeflate fails rather than overrun it, and
        // incompressible data that does not fit is stored instead (always fits, as
        // data <= 0xff00).
        match self.deflate.deflate_compress(data, &mut self.scratch) {
            Ok(cdata_len) => write_block(out, data, Some(&self.scratch[..cdata_len])),
            Err(_) => write_block(out, data, None),
        }
    }

    #[cfg(test)]
    pub(crate) fn compress_stored_for_test(&mut self, data: &[u8], out: &mut Vec<u8>) {
        write_block(out, data, None);
    }
}

/// Append one block: header, `cdata` (raw deflate of `data`) or, if `None`, `data` as a
/// single stored deflate block (BFINAL=1, BTYPE=00, LEN, NLEN), then CRC32 and ISIZE.
fn write_block(out: &mut Vec<u8>, data: &[u8], cdata: Option<&[u8]>) {
    let cdata_len = cdata.map_or(STORED_HEADER + data.len(), <[u8]>::len);
    let block_size = HEADER_SIZE + cdata_len + FOOTER_SIZE;
    out.reserve(block_size);
    write_header(out, block_size);
    match cdata {
        Some(c) => out.extend_from_slice(c),
        None => {
            let len = data.len() as u16;
            out.push(0x01);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(data);
        }
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
}

const STORED_HEADER: usize = 5;

fn write_header(out: &mut Vec<u8>, block_size: usize) {
    let bsize = (block_size - 1) as u16;
    out.extend_from_slice(&[
        0x1f, 0x8b, // gzip magic
        0x08, // CM = deflate
        0x04, // FLG = FEXTRA
        0x00, 0x00, 0x00, 0x00, // MTIME
        0x00, // XFL
        0xff, // OS = unknown
        0x06, 0x00, // XLEN
        b'B', b'C', // subfield id
        0x02, 0x00, // SLEN
    ]);
    out.extend_from_slice(&bsize.to_le_bytes());
}

thread_local! {
    static COMPRESSOR: RefCell<Option<BlockCompressor>> = const { RefCell::new(None) };
}

/// Append to `out` the complete BGZF block for `data` (several blocks if `data` is longer
/// than [`BLOCK_DATA_SIZE`]; one empty block if it is empty). Pure: depends only on its
/// arguments, so blocks may be compressed in any order on any thread and concatenated.
/// Reuses a per-thread deflate state.
pub fn compress_block(data: &[u8], level: u32, out: &mut Vec<u8>) {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match slot.as_mut() {
            Some(c) if c.level() == level.min(9) => c,
            _ => slot.insert(BlockCompressor::new(level)),
        };
        c.compress_block(data, out);
    });
}

/// Writes BGZF to `W`. Call [`BgzfWriter::finish`] to write the last block and the EOF
/// marker; dropping the writer without `finish` writes nothing more (a failed job must not
/// look complete).
pub struct BgzfWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    out: Vec<u8>,
    compressor: BlockCompressor,
}

impl<W: Write> BgzfWriter<W> {
    /// A writer at the default level (6).
    pub fn new(inner: W) -> Self {
        Self::with_level(inner, DEFAULT_LEVEL)
    }

    pub fn with_level(inner: W, level: u32) -> Self {
        BgzfWriter {
            inner,
            buf: Vec::with_capacity(BLOCK_DATA_SIZE),
            out: Vec::with_capacity(MAX_BLOCK_SIZE),
            compressor: BlockCompressor::new(level),
        }
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Compress `data` (at most one block) and write it out.
    fn emit(&mut self, data_from_buf: bool, data: &[u8]) -> io::Result<()> {
        self.out.clear();
        if data_from_buf {
            self.compressor.compress_block(&self.buf, &mut self.out);
            self.buf.clear();
        } else {
            self.compressor.compress_block(data, &mut self.out);
        }
        self.inner.write_all(&self.out)
    }

    /// Write the pending partial block, the EOF block, flush, and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.emit(true, &[])?;
        }
        self.inner.write_all(&EOF_BLOCK)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for BgzfWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.is_empty() && data.len() >= BLOCK_DATA_SIZE {
            // Whole block straight from the caller's slice, no copy.
            self.emit(false, &data[..BLOCK_DATA_SIZE])?;
            return Ok(BLOCK_DATA_SIZE);
        }
        let n = data.len().min(BLOCK_DATA_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK_DATA_SIZE {
            self.emit(true, &[])?;
        }
        Ok(n)
    }

    /// Ends the current block early (like htslib's `bgzf_flush`) and flushes the inner
    /// writer. Output stays valid BGZF; blocks are just smaller.
    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.emit(true, &[])?;
        }
        self.inner.flush()
    }
}

/// Uncompressed bytes per compression job: 16 BGZF blocks.
const BATCH: usize = 16 * BLOCK_DATA_SIZE;

/// Writes BGZF like [`BgzfWriter`], byte for byte, but compresses batches of blocks on a
/// rayon pool while the caller goes on writing. Blocks still start every
/// [`BLOCK_DATA_SIZE`] bytes of the stream, so the output does not depend on the number
/// of threads or on how the caller sliced its writes.
pub struct ParallelBgzfWriter<W: Write> {
    inner: W,
    pool: std::sync::Arc<rayon::ThreadPool>,
    level: u32,
    pending: Vec<u8>,
    in_flight: std::collections::VecDeque<std::sync::mpsc::Receiver<Vec<u8>>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelBgzfWriter<W> {
    pub fn new(inner: W, pool: std::sync::Arc<rayon::ThreadPool>) -> Self {
        let max_in_flight = 2 * pool.current_num_threads() + 2;
        ParallelBgzfWriter {
            inner,
            pool,
            level: DEFAULT_LEVEL,
            pending: Vec::with_capacity(BATCH),
            in_flight: std::collections::VecDeque::new(),
            max_in_flight,
        }
    }

    fn submit(&mut self, batch: Vec<u8>) -> io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let level = self.level;
        self.pool.spawn(move || {
            let mut out = Vec::with_capacity(batch.len() / 2 + 1024);
            compress_block(&batch, level, &mut out);
            let _ = tx.send(out);
        });
        self.in_flight.push_back(rx);
        while self.in_flight.len() > self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.in_flight.pop_front() {
            let block = rx
                .recv()
                .map_err(|_| io::Error::other("a BGZF compression job failed"))?;
            self.inner.write_all(&block)?;
        }
        Ok(())
    }

    /// Compress what is left, write everything in order and the EOF block.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.submit(last)?;
        }
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.inner.write_all(&EOF_BLOCK)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelBgzfWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let take = (BATCH - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == BATCH {
                let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
                self.submit(batch)?;
            }
        }
        Ok(buf.len())
    }

    /// Writes out the batches already compressed; the partial batch stays pending, so
    /// block boundaries do not move.
    fn flush(&mut self) -> io::Result<()> {
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.inner.flush()
    }
}
