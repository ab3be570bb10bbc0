//! Opening inputs: a file or stdin, with the compression detected from the first bytes
//! (never the extension) and the matching multi-member/multi-frame decoder wrapped around it.
//! Invariants: the sniffed bytes are never lost; a truncated compressed stream is an
//! `io::Error` at the end, never a silent short read; open errors name the file.

use flate2::bufread::MultiGzDecoder;
use rayon::ThreadPool;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Compression;
use super::bgzf_read::{Fallback, ParallelBgzfReader};
use super::digest::{FileDigest, Hasher};
use super::named;

/// Buffer under the decoders (which read from it in place). Plain input has none: the
/// caller reads it in large blocks, and a buffer would only copy every byte twice.
pub const INPUT_BUFFER_SIZE: usize = 1 << 20;

/// Longest magic number we sniff (xz, 6 bytes).
const MAX_MAGIC: usize = 6;

/// Where an input comes from. `-` means stdin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InputSource {
    Stdin,
    Path(PathBuf),
}

impl InputSource {
    /// `-` is stdin; anything else is a path, taken as given.
    pub fn parse(s: &str) -> InputSource {
        if s == "-" {
            InputSource::Stdin
        } else {
            InputSource::Path(PathBuf::from(s))
        }
    }

    /// The name to show users and to write in the rates table: `-` for stdin, else the
    /// path as given (lossy if it is not UTF-8).
    pub fn display_name(&self) -> String {
        match self {
            InputSource::Stdin => "-".to_string(),
            InputSource::Path(p) => p.display().to_string(),
        }
    }

    /// The path, if this is a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            InputSource::Stdin => None,
            InputSource::Path(p) => Some(p),
        }
    }
}

impl fmt::Display for InputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// A reader that adds the number of bytes it reads to a shared counter. Used under the
/// decoder, so the counter is the number of *compressed* (on-disk) bytes consumed, for a
/// progress bar whose total is [`input_size`].
pub struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
    hasher: Option<Arc<Mutex<Hasher>>>,
}

impl<R: Read> CountingReader<R> {
    pub fn new(inner: R, counter: Arc<AtomicU64>) -> Self {
        CountingReader {
            inner,
            counter,
            hasher: None,
        }
    }

    /// Also feed every byte read to `hasher` (for a manifest's SHA-256 of the input).
    pub fn hashing(mut self, hasher: Arc<Mutex<Hasher>>) -> Self {
        self.hasher = Some(hasher);
        self
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(h) = &self.hasher
            && let Ok(mut h) = h.lock()
        {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Open an input and return its detected format and a reader of the *decompressed* bytes.
///
/// Errors from opening or sniffing are one line naming the input
/// (`missing.fa: No such file or directory (os error 2)`). Errors from reading the returned
/// reader do NOT name the file (the caller adds the file and record context); a truncated
/// or corrupt compressed stream reads as an error such as
/// `unexpected end of compressed stream (gzip; the file is truncated)`.
pub fn open_input(src: &InputSource) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    open_inner(src, None, None, None)
}

/// Like [`open_input`], and adds every byte read from the file or stdin (the compressed
/// bytes) to `counter` as they are read. The counter runs up to one buffer
/// ([`INPUT_BUFFER_SIZE`]) ahead of what the caller has decoded; it reaches the file size
/// at the end.
/// With a `pool`, BGZF input is inflated on it in parallel (see [`super::bgzf_read`]).
pub fn open_input_counted(
    src: &InputSource,
    counter: Arc<AtomicU64>,
    pool: Option<&Arc<ThreadPool>>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    open_inner(src, Some(counter), None, pool)
}

/// Like [`open_input_counted`], and feeds the same (compressed) bytes to `hasher`. A
/// decoder may stop before the end of the file: [`finish_input_digest`] hashes the rest.
pub fn open_input_hashed(
    src: &InputSource,
    counter: Arc<AtomicU64>,
    hasher: Arc<Mutex<Hasher>>,
    pool: Option<&Arc<ThreadPool>>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    open_inner(src, Some(counter), Some(hasher), pool)
}

/// The size and SHA-256 of a whole input read through [`open_input_hashed`], where
/// `consumed` bytes went through the hasher: for a file, any bytes after those are read
/// and hashed now, so the digest is always of the complete file.
pub fn finish_input_digest(
    src: &InputSource,
    hasher: &Mutex<Hasher>,
    consumed: u64,
) -> io::Result<FileDigest> {
    let mut h = hasher
        .lock()
        .map_err(|_| io::Error::other("input hasher poisoned"))?
        .clone();
    // Only a regular file is opened again (to hash what the decoder left unread): opening
    // a named pipe again would wait for a writer that never comes.
    let regular = src
        .path()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_file());
    if let (InputSource::Path(p), true) = (src, regular) {
        use std::io::{Seek, SeekFrom};
        let name = src.display_name();
        let mut f = File::open(p).map_err(|e| named(&name, e))?;
        f.seek(SeekFrom::Start(consumed))
            .map_err(|e| named(&name, e))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| named(&name, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finish())
}

/// The on-disk size of an input, when known (a regular file): the total for a progress
/// bar driven by [`open_input_counted`]. `None` for stdin, pipes and devices.
pub fn input_size(src: &InputSource) -> Option<u64> {
    let md = std::fs::metadata(src.path()?).ok()?;
    md.is_file().then_some(md.len())
}

fn open_inner(
    src: &InputSource,
    counter: Option<Arc<AtomicU64>>,
    hasher: Option<Arc<Mutex<Hasher>>>,
    pool: Option<&Arc<ThreadPool>>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    let name = src.display_name();
    let raw: Box<dyn Read + Send> = match src {
        InputSource::Stdin => Box::new(io::stdin()),
        InputSource::Path(p) => Box::new(File::open(p).map_err(|e| named(&name, e))?),
    };
    let raw: Box<dyn Read + Send> = match (counter, hasher) {
        (Some(c), Some(h)) => Box::new(CountingReader::new(raw, c).hashing(h)),
        (Some(c), None) => Box::new(CountingReader::new(raw, c)),
        (None, Some(h)) => Box::new(CountingReader::new(raw, Arc::default()).hashing(h)),
        (None, None) => raw,
    };
    let (format, reader) = sniff_and_decode_on(raw, pool).map_err(|e| named(&name, e))?;
    Ok((format, reader))
}

/// Read the magic bytes, put them back in front of the stream and wrap the decoder.
#[cfg(test)]
pub(super) fn sniff_and_decode<R: Read + Send + 'static>(
    raw: R,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    sniff_and_decode_on(raw, None)
}

/// [`sniff_and_decode`], inflating BGZF on `pool` when there is one.
pub(super) fn sniff_and_decode_on<R: Read + Send + 'static>(
    mut raw: R,
    pool: Option<&Arc<ThreadPool>>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    // A single read (or BufReader::fill_buf) may return fewer bytes than the magic number
    // (pipes, stdin): loop until we have MAX_MAGIC bytes or EOF.
    let mut head = [0u8; MAX_MAGIC];
    let mut got = 0;
    while got < MAX_MAGIC {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let format = Compression::detect(&head[..got]);
    let head = Cursor::new(head[..got].to_vec());
    let stream = head.chain(raw);
    if format == Compression::None {
        // No buffer of our own: the caller reads in large blocks, straight from the file.
        return Ok((format, Box::new(stream)));
    }
    let buffered = BufReader::with_capacity(INPUT_BUFFER_SIZE, stream);
    let reader: Box<dyn Read + Send> = match format {
        Compression::None => unreachable!("returned above"),
        Compression::Gzip => {
            // BGZF block by block (in parallel with a pool), anything else by the
            // multi-member decoder, from the first member that is not a BGZF block on.
            let serial: Fallback = Box::new(|rest| Box::new(MultiGzDecoder::new(rest)));
            let pending = pool.map_or(1, |p| p.current_num_threads() + 2);
            Box::new(DecodeGuard::new(
                ParallelBgzfReader::new(Box::new(buffered), pool.cloned(), pending, serial),
                format,
            ))
        }
        Compression::Bzip2 => Box::new(DecodeGuard::new(
            bzip2::bufread::MultiBzDecoder::new(buffered),
            format,
        )),
        Compression::Xz => Box::new(DecodeGuard::new(
            xz2::bufread::XzDecoder::new_multi_decoder(buffered),
            format,
        )),
        Compression::Zstd => Box::new(DecodeGuard::new(
            zstd::stream::read::Decoder::with_buffer(buffered)?,
            format,
        )),
    };
    Ok((format, reader))
}

/// Prefix an error with the input's name, keeping its kind: one line, file first.
/// Wraps a decoder so its errors read the same across formats, and so a stream that stops
/// before its end is always an error. All four decoders already report truncation
/// themselves (see `native_decoders_error_on_truncation` in tests.rs); this turns their
/// various messages into one clear line.
struct DecodeGuard<D> {
    inner: D,
    format: Compression,
}

impl<D: Read> DecodeGuard<D> {
    fn new(inner: D, format: Compression) -> Self {
        DecodeGuard { inner, format }
    }
}

impl<D: Read> Read for DecodeGuard<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "unexpected end of compressed stream ({}; the file is truncated)",
                    self.format.format_name()
                ),
            ),
            io::ErrorKind::Interrupted => e,
            // Errors of the underlying file (EIO, EISDIR...) pass through with their kind.
            _ if e.get_ref().is_none() => e,
            kind => io::Error::new(
                kind,
                format!("corrupt {} stream: {e}", self.format.format_name()),
            ),
        })
    }
}
