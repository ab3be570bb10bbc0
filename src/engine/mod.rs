//! Streaming, parallel, ordered processing of one or many inputs.
//!
//! Reader threads (`read`) open inputs, decompress them and cut them into blocks of whole
//! records, several inputs at a time; a rayon pool masks blocks (`work`); the calling
//! thread writes the results strictly in (input, block) order to every output (`write`).
//! Tokens bound the blocks in flight per reader, so memory does not grow with the input.
//! Because a record's output depends only on the record, the bytes are the same for any
//! thread count, block size or number of concurrent readers.

mod duplicates;
mod read;
mod work;
mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::MaskConfig;
use crate::io::{FileDigest, InputSource, OutputDigest};
use crate::manifest::FileEntry;
use crate::provenance::Provenance;
use crate::regions::{Regions, RegionsMode};
use crate::sink::{OutputSpec, Role};

pub use duplicates::DuplicateReport;
pub use work::{BlockMasker, BlockOutput, Stats};

/// Input bytes per block: large enough to amortise the hand-offs, small enough that a
/// few blocks per thread stay well inside the memory budget.
pub const DEFAULT_BLOCK_SIZE: u64 = 1 << 20;

/// Output of later inputs held in memory (over all of them) before it spills to a
/// temporary file, while an earlier input is still being written (see `write`).
pub const DEFAULT_SPILL_MEMORY: u64 = 64 << 20;

/// One input: where to read it, and the name its rows carry (the `file` column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub source: InputSource,
    pub name: String,
}

impl Input {
    /// An input named as given (`-` for stdin).
    pub fn new(source: InputSource) -> Input {
        let name = source.display_name();
        Input { source, name }
    }
}

/// A complete, resolved masking job.
pub struct Job {
    pub config: MaskConfig,
    pub inputs: Vec<Input>,
    /// Every output, in the order they are published (and recorded in a manifest).
    pub outputs: Vec<OutputSpec>,
    /// Write a manifest here, last (every input and output is then digested).
    pub manifest: Option<PathBuf>,
    pub threads: usize,
    pub block_size: usize,
    /// See `DEFAULT_SPILL_MEMORY`.
    pub spill_memory: usize,
    /// A display of progress (the command line's bars on a terminal), told as inputs
    /// start and finish.
    pub progress: Option<Arc<dyn Progress>>,
    /// A regeneration's inputs as its manifest records them (`Manifest::job`): a Parquet
    /// dataset records these, not the digests read now, so an input recompressed since
    /// (the same content) regenerates the same file.
    pub recorded_inputs: Option<Vec<FileEntry>>,
}

/// What a front end shows while a job runs; the library draws nothing itself.
pub trait Progress: Send + Sync {
    /// Input `file` (an index into the job's inputs) is being read; `read` counts its
    /// bytes as stored (compressed) as the reader consumes them.
    fn start_file(&self, file: usize, read: &Arc<AtomicU64>);
    /// Input `file` has been read to its end.
    fn finish_file(&self, file: usize);
    /// The job is over (successfully or not).
    fn finish(&self);
}

/// One finished output.
#[derive(Clone, Debug)]
pub struct OutputReport {
    pub role: Role,
    /// As given (`-` for stdout).
    pub path: String,
    /// FASTA records or table rows.
    pub records: u64,
    /// With a manifest.
    pub digest: Option<OutputDigest>,
}

/// One input, read.
#[derive(Clone, Debug, Default)]
pub struct InputReport {
    /// Records read (replicates not counted).
    pub records: u64,
    /// With a manifest: of the file as stored.
    pub digest: Option<FileDigest>,
    /// With a manifest, for a compressed input: of its decompressed content.
    pub content: Option<FileDigest>,
}

/// The regions file a job read (`--regions`).
#[derive(Clone, Debug)]
pub struct RegionsReport {
    /// As given.
    pub path: String,
    pub digest: FileDigest,
    /// Of its content (decompressed).
    pub content: FileDigest,
    /// Interval lines.
    pub intervals: u64,
    /// IDs no input record had (only with `--regions-partial`; else an error).
    pub unmatched: u64,
    /// The merged intervals by ID (`None` if a bound exceeds `i64::MAX`), which a
    /// manifest records in place of the file when they are small or the file cannot be
    /// read again.
    pub map: Option<std::collections::BTreeMap<String, Vec<(i64, i64)>>>,
    /// The file is a regular file (it can be read again; a pipe or `/dev/fd/N` cannot).
    pub regular: bool,
    /// Input records without an interval (with `--regions-mode only`, left unmasked).
    pub without_intervals: u64,
    pub mode: RegionsMode,
}

/// The splits of a job (`--split`) and what went to each.
#[derive(Clone, Debug)]
pub struct SplitReport {
    /// The split names, in the order given.
    pub names: Vec<String>,
    /// Records emitted to each (replicates counted).
    pub records: Vec<u64>,
    /// The groups file read (`--split-groups`).
    pub groups: Option<GroupsReport>,
}

/// The groups file a job read (`--split-groups`).
#[derive(Clone, Debug)]
pub struct GroupsReport {
    /// As given.
    pub path: String,
    pub digest: FileDigest,
    /// Of its content (decompressed).
    pub content: FileDigest,
    /// Lines (`representative<TAB>member`).
    pub lines: u64,
    /// Input records whose ID is in no line (each its own group); replicates not counted.
    pub ungrouped: u64,
}

/// What a finished job reports.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub stats: Stats,
    /// IDs that occur more than once.
    pub duplicates: DuplicateReport,
    pub inputs: Vec<InputReport>,
    pub outputs: Vec<OutputReport>,
    pub elapsed: Duration,
    pub regions: Option<RegionsReport>,
    pub split: Option<SplitReport>,
    /// The variants file of a variants scan (`scan --variants`).
    pub variants: Option<VariantsReport>,
}

/// The variants file a scan read (`scan --variants`).
#[derive(Clone, Debug)]
pub struct VariantsReport {
    /// As given.
    pub path: String,
    pub digest: FileDigest,
    /// Of its content (decompressed).
    pub content: FileDigest,
    /// Its lines after the header.
    pub mutants: u64,
    /// The scan rows they need.
    pub rows: u64,
    /// Mutants an earlier line already had (kept), and the first: its line, the mutant,
    /// the earlier line.
    pub duplicates: u64,
    pub first_duplicate: Option<(u64, String, u64)>,
    /// The reference record.
    pub reference_id: String,
}

pub fn run(job: Job) -> Result<Summary> {
    let start = Instant::now();
    // Before any input, and before any output exists.
    let regions = match &job.config.regions {
        Some(r) => Some(Arc::new(r.load()?)),
        None => None,
    };
    let split = job.config.split_rule()?.map(Arc::new);
    let scan = crate::scan::Scan::of_job(&job.config, &job.inputs)?.map(Arc::new);
    let variants = scan
        .as_ref()
        .and_then(|s| s.plan.as_ref())
        .map(|p| VariantsReport {
            path: p.name.clone(),
            digest: p.digest.clone(),
            content: p.content.clone(),
            mutants: p.mutants.len() as u64,
            rows: p.rows.len() as u64,
            duplicates: p.duplicates,
            first_duplicate: p.first_duplicate.clone(),
            reference_id: p.reference_id.clone(),
        });
    let shared = Arc::new(
        BlockMasker::new(&job, scan)
            .with_regions(regions)
            .with_split(split),
    );
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(job.threads)
            .thread_name(|i| format!("protmask-worker-{i}"))
            .build()
            .context("cannot start worker threads")?,
    );
    // A manifest digests every input and output; a dataset that records how it was made
    // (Parquet's metadata) needs the inputs' digests.
    let manifest = job.manifest.is_some();
    let described = job.outputs.iter().any(|o| o.format.describes_run());
    // Open the outputs before reading anything, so a bad output path fails fast.
    let mut sinks = write::Sinks::open(&job, &shared, &pool, manifest)?;
    let sources: Vec<InputSource> = job.inputs.iter().map(|i| i.source.clone()).collect();
    let cancelled = AtomicBool::new(false);
    let writing = AtomicUsize::new(0);
    let reading = read::Reading {
        inputs: &sources,
        shared: &shared,
        pool: &pool,
        progress: job.progress.as_deref(),
        block_size: job.block_size,
        digests: manifest || described,
        cancelled: &cancelled,
        writing: &writing,
    };
    let (done_tx, done_rx) = mpsc::channel();
    let (written, inputs) = std::thread::scope(|s| {
        let readers = read::spawn(s, &reading, job.threads, done_tx)?;
        let written = sinks.write_in_order(&done_rx, &readers.tokens, &shared, &writing);
        cancelled.store(true, Ordering::Relaxed);
        let inputs = readers.join(done_rx);
        anyhow::Ok((written, inputs))
    })?;
    if let Some(p) = &job.progress {
        p.finish();
    }
    written?;
    let mut inputs = inputs;
    for (report, &records) in inputs.iter_mut().zip(&sinks.input_records) {
        report.records = records;
    }
    // IDs that no input had: known only now, and still before anything is published.
    let regions = match &shared.regions {
        Some(r) => Some(regions_report(r, &job.config)?),
        None => None,
    };
    let split = shared.split.as_ref().map(|rule| SplitReport {
        names: rule.splits.names(),
        records: sinks.split_records.clone(),
        groups: rule.groups.as_ref().map(|g| GroupsReport {
            path: g.name().to_string(),
            digest: g.digest.clone(),
            content: g.content.clone(),
            lines: g.lines,
            ungrouped: g.ungrouped(),
        }),
    });
    let mut summary = Summary {
        stats: sinks.stats,
        duplicates: sinks.duplicates.report(),
        inputs,
        regions,
        split,
        variants,
        ..Summary::default()
    };
    // All or nothing: every output complete (and the manifest written) before any is
    // renamed into place.
    let provenance = described
        .then(|| Provenance::of_run(&job, &summary))
        .transpose()?;
    let closed = sinks.close(&summary.inputs, shared.replicates, provenance.as_ref())?;
    let (mut outputs, mut pending) = (closed.reports, closed.pending);
    // Each dataset folder's card, after its shards (it lists them).
    let mut folders = Vec::new();
    for parts in closed.folders {
        let p = (provenance.as_ref()).context("internal error: a dataset folder undescribed")?;
        let dir = &parts.folder.dir;
        let card = crate::sink::card::write(dir, &parts.splits, p, parts.shard_rows, manifest)
            .with_context(|| format!("cannot write the dataset card in '{}'", dir.display()))?;
        outputs.push(OutputReport {
            role: Role::Card,
            path: card.name().to_string(),
            records: parts.splits.iter().map(|s| s.rows).sum(),
            digest: card.digest.clone(),
        });
        pending.push(card);
        folders.push(parts.folder);
    }
    summary.outputs = outputs;
    summary.elapsed = start.elapsed();
    let manifest = match &job.manifest {
        Some(path) => Some(crate::manifest::Manifest::of_run(&job, &summary)?.prepare(path)?),
        None => None,
    };
    // An earlier dataset's shards in a folder (--force) go just before the new files
    // take their place.
    for f in &mut folders {
        f.remove_stale()?;
    }
    for p in pending.into_iter().chain(manifest) {
        p.commit()?;
    }
    for f in folders {
        f.keep();
    }
    Ok(summary)
}

/// What the run made of its regions file; IDs no input had are the error unless the
/// run is a shard (`--regions-partial`).
fn regions_report(r: &Regions, config: &MaskConfig) -> Result<RegionsReport> {
    let unmatched = r.unmatched();
    let partial = config.regions.as_ref().is_some_and(|o| o.partial);
    if !partial && let Some(e) = r.unmatched_error(&unmatched) {
        return Err(e.into());
    }
    Ok(RegionsReport {
        path: r.name().to_string(),
        digest: r.digest.clone(),
        content: r.content.clone(),
        intervals: r.intervals,
        unmatched: unmatched.len() as u64,
        map: r.to_map(),
        regular: r.regular,
        without_intervals: r.without_intervals(),
        mode: r.mode(),
    })
}

#[cfg(test)]
mod tests;
