//! Outputs: stdout or a file, compressed by extension (files) or `--compress` (stdout).
//! A file is written to a `.protmask-*` temp file beside the target and renamed onto it
//! only by [`Output::finish`]; dropping an unfinished `Output` deletes the temp file, so on
//! any error nothing appears at the target and a file already there is left as it was.

use std::fs::{self, File};
use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use rayon::ThreadPool;
use std::sync::Arc;

use super::Compression;
use super::bgzf::{BgzfWriter, ParallelBgzfWriter};
use super::digest::{FileDigest, Hasher};
use super::input::InputSource;
use super::named;

/// Buffer between the compressor (or the caller, uncompressed) and the file or stdout.
pub const OUTPUT_BUFFER_SIZE: usize = 256 * 1024;

/// Permissions of a finished output file, before the umask (the temp file's 0600 would
/// otherwise survive the rename).
#[cfg(unix)]
const OUTPUT_MODE: u32 = 0o644;

const BZIP2_LEVEL: u32 = 6;
const XZ_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputTarget {
    Stdout,
    Path(PathBuf),
}

impl OutputTarget {
    /// `-` for stdout, else the path as given.
    pub fn display_name(&self) -> String {
        match self {
            OutputTarget::Stdout => "-".to_string(),
            OutputTarget::Path(p) => p.display().to_string(),
        }
    }
}

/// Where the bytes go.
enum Dest {
    Stdout(BufWriter<Stdout>),
    File(BufWriter<File>),
    /// A file closed for now (`Output::park`): reopened, appending, by the next write.
    Parked(PathBuf),
}

/// The byte sink under the compressor: the destination, and optionally a running SHA-256
/// and count of exactly the bytes that reach it (for manifests).
struct Sink {
    dest: Dest,
    digest: Option<Hasher>,
}

impl Sink {
    fn new(dest: Dest, digest: bool) -> Sink {
        Sink {
            dest,
            digest: digest.then(Hasher::default),
        }
    }

    fn dest(&mut self) -> io::Result<&mut dyn Write> {
        if let Dest::Parked(path) = &self.dest {
            let file = fs::OpenOptions::new().append(true).open(path)?;
            self.dest = Dest::File(BufWriter::with_capacity(OUTPUT_BUFFER_SIZE, file));
        }
        match &mut self.dest {
            Dest::Stdout(w) => Ok(w),
            Dest::File(w) => Ok(w),
            Dest::Parked(_) => Err(io::Error::other(
                "internal error: a parked file stayed closed",
            )),
        }
    }

    /// Flush a file and close it, keeping its path (and the digest so far).
    fn park(&mut self, path: &Path) -> io::Result<()> {
        if let Dest::File(w) = &mut self.dest {
            w.flush()?;
            self.dest = Dest::Parked(path.to_path_buf());
        }
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.dest()?.write(buf)?;
        if let Some(h) = &mut self.digest {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.dest()?.write_all(buf)?;
        if let Some(h) = &mut self.digest {
            h.update(buf);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.dest {
            // Flushed when it was parked.
            Dest::Parked(_) => Ok(()),
            _ => self.dest()?.flush(),
        }
    }
}

/// The digests of a finished output: of its bytes as stored and, when it is compressed,
/// of its uncompressed content (which, unlike the compressed bytes, no compressor version
/// can change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputDigest {
    pub stored: FileDigest,
    pub content: Option<FileDigest>,
}

enum Encoder {
    Plain(Sink),
    Gzip(BgzfWriter<Sink>),
    ParallelGzip(ParallelBgzfWriter<Sink>),
    Bzip2(bzip2::write::BzEncoder<Sink>),
    Xz(xz2::write::XzEncoder<Sink>),
    Zstd(zstd::stream::write::Encoder<'static, Sink>),
}

impl Encoder {
    fn new(
        sink: Sink,
        compression: Compression,
        pool: Option<&Arc<ThreadPool>>,
    ) -> io::Result<Encoder> {
        Ok(match compression {
            Compression::None => Encoder::Plain(sink),
            Compression::Gzip => match pool {
                Some(p) => Encoder::ParallelGzip(ParallelBgzfWriter::new(sink, Arc::clone(p))),
                None => Encoder::Gzip(BgzfWriter::new(sink)),
            },
            Compression::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                sink,
                bzip2::Compression::new(BZIP2_LEVEL),
            )),
            Compression::Xz => Encoder::Xz(xz2::write::XzEncoder::new(sink, XZ_LEVEL)),
            Compression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
                // Like the zstd CLI: lets readers detect corruption, not just truncation.
                e.include_checksum(true)?;
                if let Some(p) = pool {
                    // zstd's output is the same for any number (>= 1) of workers.
                    e.multithread(p.current_num_threads() as u32)?;
                }
                Encoder::Zstd(e)
            }
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(w) => w,
            Encoder::ParallelGzip(w) => w,
            Encoder::Bzip2(w) => w,
            Encoder::Xz(w) => w,
            Encoder::Zstd(w) => w,
        }
    }

    /// End the compressed stream and return the sink, flushed.
    fn finish(self) -> io::Result<Sink> {
        let mut sink = match self {
            Encoder::Plain(s) => s,
            Encoder::Gzip(w) => w.finish()?,
            Encoder::ParallelGzip(w) => w.finish()?,
            Encoder::Bzip2(w) => w.finish()?,
            Encoder::Xz(w) => w.finish()?,
            Encoder::Zstd(w) => w.finish()?,
        };
        sink.flush()?;
        Ok(sink)
    }
}

/// What `finish` must do after the stream is complete.
enum Commit {
    /// Stdout, or a non-regular file (`/dev/null`, a FIFO) written in place.
    Nothing,
    /// Rename the temp file onto the target. The temp path is registered for removal if
    /// a signal ends the process first.
    Rename {
        temp: TempPath,
        target: PathBuf,
        _registered: crate::cleanup::Registered,
    },
}

/// A compressed, buffered output. Write to it, then call [`Output::finish`]: without it,
/// a file output leaves nothing behind (the temp file is deleted on drop).
///
/// `flush()` ends the current compressed block (gzip) or flushes the compressor; it is
/// not needed before `finish` and should not be called per record.
pub struct Output {
    encoder: Option<Encoder>,
    commit: Commit,
    name: String,
    /// For a compressed output with digests: SHA-256 and count of the uncompressed bytes.
    content: Option<Hasher>,
}

/// Open an output. For a path: the parent directory must exist (else an error naming the
/// path); the data goes to a temp file `.protmask-XXXXXX` in that directory until
/// [`Output::finish`]. A symlink target is resolved, so the file it points to is replaced
/// and the link kept. An existing non-regular file (`/dev/null`, a FIFO, a terminal) is
/// written in place, not replaced. Errors are one line naming the path.
pub fn create_output(target: OutputTarget, compression: Compression) -> io::Result<Output> {
    create_output_on(target, compression, None, false)
}

/// [`create_output`], compressing on `pool` (gzip as BGZF in parallel batches, zstd with
/// as many workers as the pool has threads). The bytes are the same as without a pool
/// for gzip, and the same for any pool size for zstd. With `digest`, the output keeps a
/// SHA-256 of the bytes it writes, returned by `finish` (or `close`).
pub fn create_output_on(
    target: OutputTarget,
    compression: Compression,
    pool: Option<&Arc<ThreadPool>>,
    digest: bool,
) -> io::Result<Output> {
    let name = target.display_name();
    let (dest, commit) = match target {
        OutputTarget::Stdout => (
            Dest::Stdout(BufWriter::with_capacity(OUTPUT_BUFFER_SIZE, io::stdout())),
            Commit::Nothing,
        ),
        OutputTarget::Path(path) => open_path(&path).map_err(|e| named(&name, e))?,
    };
    let sink = Sink::new(dest, digest);
    let content = (digest && compression != Compression::None).then(Hasher::default);
    let encoder = Encoder::new(sink, compression, pool).map_err(|e| named(&name, e))?;
    Ok(Output {
        encoder: Some(encoder),
        commit,
        name,
        content,
    })
}

/// The existing directory a file at `target` would be written in.
fn directory_of(target: &Path) -> io::Result<&Path> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("directory '{}' does not exist", dir.display()),
        ));
    }
    Ok(dir)
}

/// Whether a file can be written at `path` as an output is (a temp file beside it, then a
/// rename): its directory exists and a file can be created there (a probe, removed at
/// once). Checked before any work, for an output that is only created at the end (the
/// manifest), so that a run that cannot publish fails before it starts.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if fs::metadata(path).is_ok_and(|md| md.is_dir()) {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory, not a file",
        ));
    }
    let dir = directory_of(path)?;
    tempfile::Builder::new()
        .prefix(".protmask-probe-")
        .tempfile_in(dir)
        .map(drop)
}

fn open_path(path: &Path) -> io::Result<(Dest, Commit)> {
    // Follow a symlink to the file it names, so the link survives the rename.
    let target = match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => fs::canonicalize(path).unwrap_or(path.into()),
        _ => path.to_path_buf(),
    };
    match fs::metadata(&target) {
        Ok(md) if md.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory, not a file",
            ));
        }
        Ok(md) if !md.is_file() => {
            // Device, FIFO, socket: cannot be replaced atomically; write straight to it.
            let file = fs::OpenOptions::new().write(true).open(&target)?;
            let sink = Dest::File(BufWriter::with_capacity(OUTPUT_BUFFER_SIZE, file));
            return Ok((sink, Commit::Nothing));
        }
        _ => {}
    }
    let dir = directory_of(&target)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".protmask-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Applied at creation, so the umask applies as for any new file.
        builder.permissions(fs::Permissions::from_mode(OUTPUT_MODE));
    }
    let (temp, registered) = crate::cleanup::Registered::make(|| builder.tempfile_in(dir))?;
    let (file, temp) = temp.into_parts();
    let sink = Dest::File(BufWriter::with_capacity(OUTPUT_BUFFER_SIZE, file));
    Ok((
        sink,
        Commit::Rename {
            temp,
            target,
            _registered: registered,
        },
    ))
}

impl Output {
    /// The output as given (`-` for stdout).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// End the compressed stream, flush, and (for a file) rename the temp file onto the
    /// target. Errors name the output.
    pub fn finish(self) -> io::Result<Option<OutputDigest>> {
        let pending = self.close()?;
        let digest = pending.digest.clone();
        pending.commit()?;
        Ok(digest)
    }

    /// End the compressed stream and flush, but do not publish yet: the complete file
    /// waits as a temp file until [`PendingOutput::commit`] (dropped, it is deleted). This
    /// lets a run with many outputs publish none of them if a later one fails.
    pub fn close(mut self) -> io::Result<PendingOutput> {
        let encoder = self.encoder.take();
        let commit = std::mem::replace(&mut self.commit, Commit::Nothing);
        let name = std::mem::take(&mut self.name);
        let content = self.content.take().map(Hasher::finish);
        let mut digest = None;
        if let Some(encoder) = encoder {
            let sink = encoder.finish().map_err(|e| named(&name, e))?;
            digest = sink.digest.map(|stored| OutputDigest {
                stored: stored.finish(),
                content,
            });
        }
        Ok(PendingOutput {
            commit,
            name,
            digest,
        })
    }

    /// Flush an uncompressed file output and close its file for now, keeping the temp
    /// file and the digest so far; the next write reopens it, appending. A finished
    /// dataset shard waits like this for its footer (written once every input has been
    /// read), holding neither a descriptor nor a buffer, so a run of thousands of shards
    /// stays within the descriptor limit. Stdout, a device and a compressed output (whose
    /// compressor state cannot wait on disk) are left open.
    pub fn park(&mut self) -> io::Result<()> {
        let Commit::Rename { temp, .. } = &self.commit else {
            return Ok(());
        };
        match &mut self.encoder {
            Some(Encoder::Plain(sink)) => sink.park(temp).map_err(|e| named(&self.name, e)),
            _ => Ok(()),
        }
    }

    fn encoder(&mut self) -> io::Result<&mut dyn Write> {
        match self.encoder.as_mut() {
            Some(e) => Ok(e.writer()),
            None => Err(io::Error::other("output already finished")),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder()?.write(buf)?;
        if let Some(h) = &mut self.content {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.encoder()?.write_all(buf)?;
        if let Some(h) = &mut self.content {
            h.update(buf);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder()?.flush()
    }
}

/// A complete output not yet renamed into place (see [`Output::close`]).
pub struct PendingOutput {
    commit: Commit,
    name: String,
    /// Size and SHA-256 of the complete output, when asked for.
    pub digest: Option<OutputDigest>,
}

impl PendingOutput {
    /// The output as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publish it at `target` instead, named `name` in messages and reports (a shard's
    /// name holds the number of shards, known only when the last one is closed). Stdout
    /// and a device stay where they are.
    pub fn retarget(mut self, target: PathBuf, name: String) -> PendingOutput {
        if let Commit::Rename { target: t, .. } = &mut self.commit {
            *t = target;
            self.name = name;
        }
        self
    }

    /// Rename the temp file onto the target (nothing to do for stdout or a device).
    pub fn commit(self) -> io::Result<()> {
        if let Commit::Rename { temp, target, .. } = self.commit {
            temp.persist(&target)
                .map_err(|e| named(&self.name, e.error))?;
        }
        Ok(())
    }
}

/// An output that is an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "output '{}' is the same file as input '{}'; refusing to overwrite an input",
    output.display(),
    input.display()
)]
pub struct SameFile {
    pub output: PathBuf,
    pub input: PathBuf,
}

/// Refuse, before anything is read, an output that is the same file as an input: the same
/// path (even if it does not exist yet), or the same file by device and inode (hard links,
/// symlinks, `./x.fa` vs `x.fa`) when both exist. Stdin inputs are skipped.
pub fn same_file_guard(inputs: &[InputSource], outputs: &[PathBuf]) -> Result<(), SameFile> {
    // One look at each file (10,000 inputs against 10,000 outputs must not cost 10^8
    // stats): inputs by path and by identity, then each output against both.
    let mut by_path = std::collections::HashMap::new();
    let mut by_identity = std::collections::HashMap::new();
    for inp in inputs.iter().filter_map(InputSource::path) {
        by_path.insert(inp, inp);
        if let Some(id) = file_identity(inp) {
            by_identity.insert(id, inp);
        }
    }
    for out in outputs {
        let clash = by_path
            .get(out.as_path())
            .or_else(|| file_identity(out).and_then(|id| by_identity.get(&id)));
        if let Some(inp) = clash {
            return Err(SameFile {
                output: out.clone(),
                input: inp.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// What makes two paths the same file: device and inode (following symlinks).
#[cfg(unix)]
fn file_identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(p).ok()?;
    Some((md.dev(), md.ino()))
}

/// Elsewhere, the canonical path stands in for the identity.
#[cfg(not(unix))]
fn file_identity(p: &Path) -> Option<PathBuf> {
    fs::canonicalize(p).ok()
}
