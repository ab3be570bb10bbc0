//! The readers: threads that open inputs, decompress them and cut them into blocks, and
//! hand each block to the pool with a token.
//!
//! Up to `min(-j, inputs)` inputs are read at once, each reader taking the next input in
//! order when it finishes one, so a sharded dataset decompresses on every core. Each
//! reader has its own tokens (blocks in flight), so memory stays bounded, and a reader
//! that runs ahead of the writer waits without holding back the input being written.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use anyhow::{Context, Result, bail};
use rayon::ThreadPool;

use super::{BlockMasker, InputReport, Progress, work};
use crate::io::{Compression, InputSource};
use crate::records::BlockCutter;
use crate::scan::PART_BYTES;

/// What every reader reads with.
pub(super) struct Reading<'a> {
    pub inputs: &'a [InputSource],
    pub shared: &'a Arc<BlockMasker>,
    pub pool: &'a Arc<ThreadPool>,
    /// The front end's display of progress, if any.
    pub progress: Option<&'a dyn Progress>,
    pub block_size: usize,
    /// Compute each input's size and SHA-256 while reading it.
    pub digests: bool,
    /// Set when the writer stops: readers stop too.
    pub cancelled: &'a AtomicBool,
    /// The input the writer is at.
    pub writing: &'a AtomicUsize,
}

/// A block masked (or the error that stopped its input), tagged for reordering.
pub(super) struct Done {
    pub file: usize,
    /// 0-based block number within its input.
    pub block: u64,
    pub last: bool,
    /// The reader whose token the block holds.
    pub reader: usize,
    pub result: Result<work::BlockOutput>,
}

/// The running readers.
pub(super) struct Readers<'scope> {
    handles: Vec<ScopedJoinHandle<'scope, ()>>,
    /// `tokens[r]` gives reader r a token back.
    pub tokens: Vec<SyncSender<()>>,
    reports: Arc<Mutex<Vec<InputReport>>>,
}

impl Readers<'_> {
    /// Stop the readers (a reader waiting for a token or sending a block gives up) and
    /// wait for them; the per-input reports.
    pub fn join(self, done: Receiver<Done>) -> Vec<InputReport> {
        drop(self.tokens);
        drop(done);
        for h in self.handles {
            let _ = h.join();
        }
        let reports = self.reports.lock().map(|r| r.clone());
        reports.unwrap_or_default()
    }
}

/// Start the readers; they end when every input is read (or on error or cancellation).
pub(super) fn spawn<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    reading: &'env Reading<'env>,
    threads: usize,
    done: Sender<Done>,
) -> Result<Readers<'scope>> {
    let n = reading.inputs.len();
    let readers = threads.min(n).max(1);
    let per_reader = ((2 * threads + 2) / readers).max(3);
    let next_input = Arc::new(AtomicUsize::new(0));
    // Inputs after one that failed need not be read: its error ends the run.
    let stop_after = Arc::new(AtomicUsize::new(usize::MAX));
    let reports = Arc::new(Mutex::new(vec![InputReport::default(); n]));
    let mut handles = Vec::with_capacity(readers);
    let mut tokens = Vec::with_capacity(readers);
    for r in 0..readers {
        let (token_tx, token_rx) = mpsc::sync_channel::<()>(per_reader);
        for _ in 0..per_reader {
            token_tx.send(()).expect("the receiver is alive");
        }
        tokens.push(token_tx);
        let (done, next_input, stop_after, reports) = (
            done.clone(),
            Arc::clone(&next_input),
            Arc::clone(&stop_after),
            Arc::clone(&reports),
        );
        let handle = std::thread::Builder::new()
            .name(format!("protmask-reader-{r}"))
            .spawn_scoped(s, move || {
                let reader = Reader {
                    id: r,
                    reading,
                    tokens: token_rx,
                    done,
                };
                loop {
                    let file = next_input.fetch_add(1, Ordering::Relaxed);
                    if file >= n
                        || file > stop_after.load(Ordering::Relaxed)
                        || reading.cancelled.load(Ordering::Relaxed)
                    {
                        return;
                    }
                    let mut block = 0;
                    match reader.read_input(file, &mut block) {
                        Ok(Some(report)) => {
                            if let Ok(mut all) = reports.lock() {
                                all[file] = report;
                            }
                        }
                        Ok(None) => return,
                        Err(e) => {
                            stop_after.fetch_min(file, Ordering::Relaxed);
                            reader.send(file, block, true, Err(e));
                            return;
                        }
                    }
                }
            })
            .context("cannot start a reader thread")?;
        handles.push(handle);
    }
    Ok(Readers {
        handles,
        tokens,
        reports,
    })
}

struct Reader<'a> {
    id: usize,
    reading: &'a Reading<'a>,
    tokens: Receiver<()>,
    done: Sender<Done>,
}

impl Reader<'_> {
    /// Wait until the writer is at input `file`; false if the run is cancelled first.
    fn wait_for_turn(&self, file: usize) -> bool {
        let r = self.reading;
        while r.writing.load(Ordering::Acquire) < file {
            if r.cancelled.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    fn send(&self, file: usize, block: u64, last: bool, result: Result<work::BlockOutput>) {
        let _ = self.done.send(Done {
            file,
            block,
            last,
            reader: self.id,
            result,
        });
    }

    /// Read one input, handing its blocks to the pool; `None` if stopped early. Every
    /// input yields at least one block, the last flagged, so its output is created even
    /// when it is empty. `block` counts the blocks handed on.
    fn read_input(&self, file: usize, block: &mut u64) -> Result<Option<InputReport>> {
        let r = self.reading;
        let input = &r.inputs[file];
        let name = &r.shared.names[file];
        let size_at_open = crate::io::input_size(input);
        let counter = Arc::new(AtomicU64::new(0));
        let hasher = r
            .digests
            .then(|| Arc::new(Mutex::new(crate::io::Hasher::default())));
        // BGZF is inflated on the pool from -j2; with one worker the reader does it, on
        // its own core, as it does other compressed input.
        let inflate_on = (r.pool.current_num_threads() > 1).then_some(r.pool);
        let (format, reader): (_, Box<dyn Read + Send>) = match &hasher {
            Some(h) => {
                crate::io::open_input_hashed(input, Arc::clone(&counter), Arc::clone(h), inflate_on)
            }
            None => crate::io::open_input_counted(input, Arc::clone(&counter), inflate_on),
        }?;
        // Reading ahead pays only where decompressing is slower than masking (gzip, bzip2,
        // xz): the output of a later input must be held until its turn, which costs fresh
        // memory. Plain and zstd input, decoded faster than it is masked, waits its turn.
        // A compressed input's content (the decompressed bytes) is digested as well: the
        // manifest identifies the input by either, so recompressing it keeps its identity.
        let content = (hasher.is_some() && format != Compression::None)
            .then(|| Arc::new(Mutex::new(crate::io::Hasher::default())));
        let reader: Box<dyn Read + Send> = match &content {
            Some(h) => Box::new(
                crate::io::CountingReader::new(reader, Arc::default()).hashing(Arc::clone(h)),
            ),
            None => reader,
        };
        if matches!(format, Compression::None | Compression::Zstd) && !self.wait_for_turn(file) {
            return Ok(None);
        }
        if let Some(p) = r.progress {
            p.start_file(file, &counter);
        }
        let mut cutter = BlockCutter::new(reader, r.block_size, &r.shared.inputs);
        loop {
            let cut = cutter.next_block().with_context(|| {
                format!(
                    "{name}: read error after record {}",
                    cutter.records_so_far()
                )
            })?;
            let Some(cut) = cut else { break };
            if cut.last {
                // Before the last block is handed on: the error must take its place in order.
                check_unchanged(input, name, size_at_open, counter.load(Ordering::Relaxed))?;
            }
            if r.shared.scan.is_some() {
                // A scan's block is written as parts of bounded output, each a block of
                // the writer's order with a token of its own.
                let last = cut.last;
                let cost = r.shared.row_cost;
                let parts =
                    crate::scan::parts(&cut.data[..cut.len], &cut.headers, cost, PART_BYTES);
                let (n, cut) = (parts.len(), Arc::new(cut));
                for (i, part) in parts.into_iter().enumerate() {
                    if r.cancelled.load(Ordering::Relaxed) || self.tokens.recv().is_err() {
                        return Ok(None);
                    }
                    let (shared, done, id, this) =
                        (Arc::clone(r.shared), self.done.clone(), self.id, *block);
                    let cut = Arc::clone(&cut);
                    let last = last && i + 1 == n;
                    r.pool.spawn(move || {
                        let result = work::scan_part(cut, part, file, &shared);
                        let _ = done.send(Done {
                            file,
                            block: this,
                            last,
                            reader: id,
                            result,
                        });
                    });
                    *block += 1;
                }
                if last {
                    break;
                }
                continue;
            }
            if r.cancelled.load(Ordering::Relaxed) || self.tokens.recv().is_err() {
                return Ok(None);
            }
            let (shared, done, id, this) =
                (Arc::clone(r.shared), self.done.clone(), self.id, *block);
            let last = cut.last;
            r.pool.spawn(move || {
                let result = work::mask_block(cut, file, &shared);
                let _ = done.send(Done {
                    file,
                    block: this,
                    last,
                    reader: id,
                    result,
                });
            });
            *block += 1;
            if last {
                break;
            }
        }
        if let Some(p) = r.progress {
            p.finish_file(file);
        }
        drop(cutter);
        let digest = match hasher {
            Some(h) => Some(crate::io::finish_input_digest(
                input,
                &h,
                counter.load(Ordering::Relaxed),
            )?),
            None => None,
        };
        let content = match content {
            Some(h) => Some(
                h.lock()
                    .map_err(|_| anyhow::anyhow!("input hasher poisoned"))?
                    .clone()
                    .finish(),
            ),
            None => None,
        };
        Ok(Some(InputReport {
            records: 0,
            digest,
            content,
        }))
    }
}

/// A file that grew or shrank while it was read gave a torn input: refuse it rather than
/// mask part of it. (`size_at_open` is `None` for stdin and pipes, which cannot be told.)
fn check_unchanged(
    input: &InputSource,
    name: &str,
    size_at_open: Option<u64>,
    consumed: u64,
) -> Result<()> {
    let Some(size) = size_at_open else {
        return Ok(());
    };
    let now = crate::io::input_size(input);
    if consumed != size || now != Some(size) {
        bail!(
            "{name}: the file changed while it was being read ({size} bytes when opened, \
             {consumed} read, {} now); not masking a torn input",
            now.map_or("gone".to_string(), |n| format!("{n} bytes"))
        );
    }
    Ok(())
}
