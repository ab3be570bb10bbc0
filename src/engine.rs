//! Streaming, parallel, ordered processing of one or many inputs.
//!
//! One reader thread opens the inputs in order, decompresses them and cuts each stream
//! into blocks of whole records (at `\n>`); a rayon pool masks blocks concurrently; the
//! calling thread writes results strictly in block order. Tokens bound the blocks in
//! flight, so memory does not grow with the input. Because a record's output depends only
//! on the record, the bytes are the same for any thread count or block size.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use memchr::memmem;

use crate::fasta::{Block, BlockOutput, FormatOptions, Stats, header_starts, process_block};
use crate::io::{
    Compression, FileDigest, InputSource, Output, OutputDigest, OutputTarget, PendingOutput,
    create_output_on,
};
use crate::mask::Masker;
use crate::progress::Progress;
use crate::report::RowWriter;
use sha2::{Digest, Sha256};

/// Input bytes per block: large enough to amortise the hand-offs, small enough that a
/// few blocks per thread stay well inside the memory budget.
pub const DEFAULT_BLOCK_SIZE: u64 = 1 << 20;

/// Where the masked FASTA goes.
#[derive(Clone, Debug)]
pub enum OutputPlan {
    /// All inputs concatenated into one output.
    Single {
        target: OutputTarget,
        compression: Compression,
    },
    /// One output per input: `dir/<input file name>`, compressed by that name.
    PerFile { paths: Vec<PathBuf> },
}

/// A complete, resolved masking job.
pub struct Job {
    pub inputs: Vec<InputSource>,
    pub output: OutputPlan,
    /// The rates table, if any: path and compression.
    pub rates: Option<PathBuf>,
    pub format: FormatOptions,
    pub masker: Masker,
    pub threads: usize,
    pub block_size: usize,
    pub progress: bool,
    /// Compute the size and SHA-256 of every input and output (for a manifest).
    pub digests: bool,
}

/// One output of a finished job.
#[derive(Clone, Debug)]
pub struct OutputReport {
    /// `fasta` or `rates`.
    pub role: &'static str,
    /// As given (`-` for stdout).
    pub path: String,
    /// FASTA records or table rows.
    pub records: u64,
    pub digest: Option<OutputDigest>,
}

/// What a finished job reports.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub stats: Stats,
    /// Records read per input (replicates not counted).
    pub input_records: Vec<u64>,
    /// Size and SHA-256 of each input, with `Job::digests`.
    pub input_digests: Vec<Option<FileDigest>>,
    pub outputs: Vec<OutputReport>,
    pub elapsed: Duration,
}

/// A unit of work: one block of one input.
struct Work {
    seq: u64,
    file: usize,
    first_index: u64,
    /// A recycled buffer; the block is `data[..len]`.
    data: Vec<u8>,
    len: usize,
    /// Offsets of the block's header lines, found while cutting it.
    headers: Vec<usize>,
    /// The last block of its input.
    last: bool,
}

/// Buffers handed back after use, so that in the steady state nothing is allocated (or
/// faulted in, or zeroed) per block. At most a few per thread circulate (see the tokens).
#[derive(Default)]
struct Recycler {
    inputs: Mutex<Vec<Vec<u8>>>,
    fasta: Mutex<Vec<Vec<u8>>>,
    rates: Mutex<Vec<Vec<u8>>>,
}

impl Recycler {
    /// A buffer of at least `len` initialised bytes (contents unspecified).
    fn input(&self, len: usize) -> Vec<u8> {
        let mut v = take(&self.inputs);
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }

    fn give_input(&self, v: Vec<u8>) {
        give(&self.inputs, v);
    }

    /// Empty output buffers, with the capacity they had last time (each kind its own
    /// pool, so a small rates buffer never has to grow into a FASTA one).
    fn outputs(&self) -> (Vec<u8>, Vec<u8>) {
        (take(&self.fasta), take(&self.rates))
    }

    fn give_outputs(&self, mut fasta: Vec<u8>, mut rates: Vec<u8>) {
        fasta.clear();
        rates.clear();
        give(&self.fasta, fasta);
        give(&self.rates, rates);
    }
}

fn take(pool: &Mutex<Vec<Vec<u8>>>) -> Vec<u8> {
    pool.lock()
        .ok()
        .and_then(|mut l| l.pop())
        .unwrap_or_default()
}

fn give(pool: &Mutex<Vec<Vec<u8>>>, v: Vec<u8>) {
    if let Ok(mut l) = pool.lock() {
        l.push(v);
    }
}

/// A unit of work done (or the error that stopped it), tagged for reordering.
struct Done {
    seq: u64,
    file: usize,
    last: bool,
    result: Result<BlockOutput>,
}

/// Everything the workers share.
struct Shared {
    masker: Masker,
    format: FormatOptions,
    shifts: Vec<f64>,
    names: Vec<String>,
    recycler: Recycler,
}

pub fn run(job: Job) -> Result<Summary> {
    let start = Instant::now();
    let names: Vec<String> = job.inputs.iter().map(InputSource::display_name).collect();
    let shifts = (1..=job.format.replicates)
        .map(|k| job.masker.stratified_shift(k))
        .collect();
    let shared = Arc::new(Shared {
        masker: job.masker,
        format: job.format,
        shifts,
        names,
        recycler: Recycler::default(),
    });
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(job.threads)
            .thread_name(|i| format!("protmask-worker-{i}"))
            .build()
            .context("cannot start worker threads")?,
    );
    // Outputs compress on the same workers, so `-j` bounds all the computing threads.
    let digests = job.digests;
    let open = |target: OutputTarget, compression: Compression| {
        create_output_on(target, compression, Some(&pool), digests)
    };
    let input_digests: Arc<Mutex<Vec<Option<FileDigest>>>> =
        Arc::new(Mutex::new(vec![None; job.inputs.len()]));

    // Open the outputs before reading anything, so a bad output path fails fast.
    let mut rates_out = match &job.rates {
        Some(path) => {
            let mut out = open(
                OutputTarget::Path(path.clone()),
                Compression::from_path(path),
            )
            .with_context(|| format!("cannot create rates table '{}'", path.display()))?;
            out.write_all(&RowWriter::header(
                shared.format.rates_delimiter.unwrap_or(b','),
                shared.format.positions,
            ))
            .with_context(|| format!("cannot write '{}'", path.display()))?;
            Some((path.clone(), out))
        }
        None => None,
    };
    let mut single = match &job.output {
        OutputPlan::Single {
            target,
            compression,
        } => Some(
            open(target.clone(), *compression)
                .with_context(|| format!("cannot create output '{}'", target_name(target)))?,
        ),
        OutputPlan::PerFile { .. } => None,
    };

    let in_flight = 2 * job.threads + 2;
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        token_tx.send(()).expect("the receiver is alive");
    }
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let cancelled = Arc::new(AtomicBool::new(false));
    let progress = Progress::new(job.progress, &job.inputs);

    let reader = {
        let inputs = job.inputs.clone();
        let shared = Arc::clone(&shared);
        let cancelled = Arc::clone(&cancelled);
        let progress = progress.clone();
        let block_size = job.block_size;
        let threads = job.threads;
        let pool = Arc::clone(&pool);
        let input_digests = Arc::clone(&input_digests);
        std::thread::Builder::new()
            .name("protmask-reader".into())
            .spawn(move || {
                let mut dispatch = |w: Work| {
                    if cancelled.load(Ordering::Relaxed) || token_rx.recv().is_err() {
                        return false;
                    }
                    let shared = Arc::clone(&shared);
                    let tx = done_tx.clone();
                    pool.spawn(move || {
                        let (seq, file, last) = (w.seq, w.file, w.last);
                        let result = mask_work(w, &shared);
                        let _ = tx.send(Done {
                            seq,
                            file,
                            last,
                            result,
                        });
                    });
                    true
                };
                let mut seq = 0u64;
                for (file, input) in inputs.iter().enumerate() {
                    let how = ReadSettings {
                        block_size,
                        progress: &progress,
                        recycler: &shared.recycler,
                        digest: digests,
                        inflate_on: (threads > 1).then_some(&pool),
                    };
                    let outcome = read_blocks(input, file, &how, &mut seq, &mut dispatch);
                    let outcome = outcome.map(|digest| {
                        if let Ok(mut all) = input_digests.lock() {
                            all[file] = digest;
                        }
                    });
                    if let Err(e) = outcome {
                        let _ = done_tx.send(Done {
                            seq,
                            file,
                            last: true,
                            result: Err(e),
                        });
                        return;
                    }
                    if cancelled.load(Ordering::Relaxed) {
                        return;
                    }
                }
            })
            .context("cannot start the reader thread")?
    };

    let mut summary = Summary {
        input_records: vec![0; job.inputs.len()],
        ..Summary::default()
    };
    let mut per_file: Option<(usize, Output)> = None;
    let mut finished: Vec<PendingOutput> = Vec::new();
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let written: Result<()> = (|| {
        for done in done_rx.iter() {
            pending.insert(done.seq, done);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                let out = d.result?;
                summary.stats.add(&out.stats);
                summary.input_records[d.file] += out.input_records;
                let sink = match (&mut single, &job.output) {
                    (Some(o), _) => o,
                    (None, OutputPlan::PerFile { paths }) => {
                        if per_file.as_ref().is_none_or(|(f, _)| *f != d.file) {
                            let path = &paths[d.file];
                            let o = open(
                                OutputTarget::Path(path.clone()),
                                Compression::from_path(path),
                            )
                            .with_context(|| {
                                format!("cannot create output '{}'", path.display())
                            })?;
                            per_file = Some((d.file, o));
                        }
                        &mut per_file.as_mut().expect("just set").1
                    }
                    (None, OutputPlan::Single { .. }) => unreachable!("single output is open"),
                };
                sink.write_all(&out.fasta)
                    .with_context(|| format!("cannot write {}", sink.name()))?;
                if let Some((path, r)) = rates_out.as_mut() {
                    r.write_all(&out.rates)
                        .with_context(|| format!("cannot write '{}'", path.display()))?;
                }
                shared.recycler.give_outputs(out.fasta, out.rates);
                if d.last
                    && let Some((_, o)) = per_file.take()
                {
                    finished.push(o.close()?);
                }
                let _ = token_tx.send(());
            }
        }
        Ok(())
    })();
    cancelled.store(true, Ordering::Relaxed);
    drop(token_tx);
    drop(done_rx);
    let _ = reader.join();
    progress.finish();
    written?;
    if !pending.is_empty() {
        return Err(anyhow!(
            "internal error: {} blocks were never written",
            pending.len()
        ));
    }

    // Everything was written: publish the outputs, the table last.
    let replicates = u64::from(shared.format.replicates);
    if let Some(o) = single {
        let path = o.name().to_string();
        let digest = o.finish()?;
        summary.outputs.push(OutputReport {
            role: "fasta",
            path,
            records: summary.stats.records,
            digest,
        });
    }
    for (file, p) in finished.into_iter().enumerate() {
        summary.outputs.push(OutputReport {
            role: "fasta",
            path: p.name().to_string(),
            records: summary.input_records[file] * replicates,
            digest: p.digest.clone(),
        });
        p.commit()?;
    }
    if let Some((path, r)) = rates_out {
        let digest = r.finish()?;
        summary.outputs.push(OutputReport {
            role: "rates",
            path: path.display().to_string(),
            records: summary.stats.records,
            digest,
        });
    }
    summary.input_digests = input_digests.lock().map(|d| d.clone()).unwrap_or_default();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

fn target_name(t: &OutputTarget) -> String {
    match t {
        OutputTarget::Stdout => "stdout".into(),
        OutputTarget::Path(p) => p.display().to_string(),
    }
}

fn mask_work(w: Work, shared: &Shared) -> Result<BlockOutput> {
    let name = &shared.names[w.file];
    let block = Block {
        data: &w.data[..w.len],
        file: name,
        first_index: w.first_index,
        headers: Some(&w.headers),
    };
    let (fasta, rates) = shared.recycler.outputs();
    let mut out = BlockOutput {
        fasta,
        rates,
        ..BlockOutput::default()
    };
    let result = process_block(
        &block,
        &shared.masker,
        &shared.format,
        &shared.shifts,
        &mut out,
    );
    shared.recycler.give_input(w.data);
    result.map_err(|e| anyhow!("{name}: {e}"))?;
    Ok(out)
}

/// How the reader reads every input.
#[derive(Clone, Copy)]
struct ReadSettings<'a> {
    block_size: usize,
    progress: &'a Progress,
    recycler: &'a Recycler,
    /// Compute the input's SHA-256.
    digest: bool,
    /// Inflate BGZF input on this pool (with two or more workers; with one, the reader
    /// inflates it, on its own core, as it does other compressed input).
    inflate_on: Option<&'a Arc<rayon::ThreadPool>>,
}

/// Read one input and hand its blocks to `dispatch` (which returns false to stop).
/// Every input yields at least one block, the last flagged, so its output is created
/// even when it is empty.
fn read_blocks(
    input: &InputSource,
    file: usize,
    how: &ReadSettings,
    seq: &mut u64,
    dispatch: &mut impl FnMut(Work) -> bool,
) -> Result<Option<FileDigest>> {
    let ReadSettings {
        block_size,
        progress,
        recycler,
        digest,
        inflate_on,
    } = *how;
    let name = input.display_name();
    let size_at_open = crate::io::input_size(input);
    let counter = progress.counter(file);
    let hasher = digest.then(|| Arc::new(Mutex::new(Sha256::new())));
    let (_, mut reader) = match &hasher {
        Some(h) => {
            crate::io::open_input_hashed(input, Arc::clone(&counter), Arc::clone(h), inflate_on)
        }
        None => crate::io::open_input_counted(input, Arc::clone(&counter), inflate_on),
    }
    .map_err(|e| anyhow!("{e}"))?;
    progress.start_file(file);
    let spare = block_size / 4;
    let mut buf = recycler.input(block_size + spare);
    let mut filled = 0usize;
    let mut searched = 0usize;
    let mut first_index = 0u64;
    loop {
        // Fill to block_size more bytes (or to the end of input). A record longer than a
        // block grows the buffer by half instead, so reading it costs O(n), not
        // O(n²/block), without leaving much of the (zeroed, so resident) buffer unused.
        let target = filled + block_size.max(if searched > 0 { filled / 2 } else { 0 });
        if buf.len() < target {
            buf.resize(target + spare, 0);
        }
        let eof = fill(&mut reader, &mut buf[..target], &mut filled)
            .with_context(|| format!("{name}: read error after record {first_index}"))?;
        if eof {
            // Before the last block is handed on: the error must take its place in order.
            let consumed = counter.load(std::sync::atomic::Ordering::Relaxed);
            check_unchanged(input, size_at_open, consumed)?;
        }
        let cut = if eof {
            Some(filled)
        } else {
            // The last "\n>" in what has not been searched yet (a record larger than the
            // block simply grows the buffer until its end is found).
            let from = searched.saturating_sub(1);
            memmem::rfind(&buf[from..filled], b"\n>").map(|i| from + i + 1)
        };
        let Some(cut) = cut else {
            searched = filled;
            continue;
        };
        // The bytes after the cut start the next block.
        let carry = filled - cut;
        // The next block's buffer, starting with the carried bytes; none after the last.
        let next = if eof {
            Vec::new()
        } else {
            let mut next = recycler.input(carry + block_size + spare);
            next[..carry].copy_from_slice(&buf[cut..filled]);
            next
        };
        let headers = header_starts(&buf[..cut]);
        let records = headers.len() as u64;
        let work = Work {
            seq: *seq,
            file,
            first_index,
            data: std::mem::replace(&mut buf, next),
            len: cut,
            headers,
            last: eof,
        };
        *seq += 1;
        first_index += records;
        filled = carry;
        searched = 0;
        if !dispatch(work) || eof {
            progress.finish_file(file);
            drop(reader);
            return match hasher {
                Some(h) => Ok(Some(crate::io::finish_input_digest(
                    input,
                    &h,
                    counter.load(std::sync::atomic::Ordering::Relaxed),
                )?)),
                None => Ok(None),
            };
        }
    }
}

/// A file that grew or shrank while it was read gave a torn input: refuse it rather than
/// mask part of it. (`size_at_open` is `None` for stdin and pipes, which cannot be told.)
fn check_unchanged(input: &InputSource, size_at_open: Option<u64>, consumed: u64) -> Result<()> {
    let Some(size) = size_at_open else {
        return Ok(());
    };
    let now = crate::io::input_size(input);
    if consumed != size || now != Some(size) {
        bail!(
            "{}: the file changed while it was being read ({size} bytes when opened, {consumed} \
             read, {} now); not masking a torn input",
            input.display_name(),
            now.map_or("gone".to_string(), |n| format!("{n} bytes"))
        );
    }
    Ok(())
}

/// Read into `buf[*filled..]` until it is full; true at end of input.
fn fill(reader: &mut impl Read, buf: &mut [u8], filled: &mut usize) -> std::io::Result<bool> {
    while *filled < buf.len() {
        match reader.read(&mut buf[*filled..]) {
            Ok(0) => return Ok(true),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
