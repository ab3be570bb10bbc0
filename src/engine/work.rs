//! The work of one block, on a pool thread: parse its records (the record layer), find
//! each record's split (`--split`, once per record), mask it once per replicate, and hand
//! every emitted record to every output format. A scan (`protmask scan`) emits each
//! record's rows instead (`scan`), one part of a block at a time (`scan_part`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};

use super::Job;
use super::duplicates::IdBatch;
use crate::config::MaskConfig;
use crate::crop::Cropping;
use crate::mask::{Marks, Masker};
use crate::records::{Block, BlockRecords, BufferPool, Cut, Record, RecordError, RecordErrorKind};
use crate::regions::{Interval, Regions};
use crate::scan::{Part, Scan};
use crate::sink::{Emitted, Encoder, Format, OnlySplit, OutputSpec, Scratch};
use crate::split::SplitRule;

/// A block holding one record larger than this is freed as soon as the record is parsed,
/// before it is masked: a giant record then peaks at about 3 times its size (the parsed
/// sequence, its marks, its output) rather than 4.
const FREE_BLOCK_AFTER_PARSE: usize = 16 << 20;

/// Totals over records, for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Records emitted (replicates counted).
    pub records: u64,
    pub residues: u64,
    pub eligible: u64,
    pub masked: u64,
    pub rate_sum: f64,
    /// Records (replicates counted) with fewer selected positions than their drawn k:
    /// runs kept within `--span-max` could not hold them all.
    pub short: u64,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.records += other.records;
        self.residues += other.residues;
        self.eligible += other.eligible;
        self.masked += other.masked;
        self.rate_sum += other.rate_sum;
        self.short += other.short;
    }
}

/// What one block produced: one buffer per output format, in the job's format order.
#[derive(Debug, Default)]
pub struct BlockOutput {
    pub bufs: Vec<Vec<u8>>,
    pub stats: Stats,
    /// Records read from the input (replicates not counted).
    pub input_records: u64,
    /// Their IDs, for the duplicate check.
    pub ids: IdBatch,
    /// Records emitted per split (replicates counted), with `--split`.
    pub split_records: Vec<u64>,
}

/// Everything the workers share: the masker and the output formats of a run.
pub struct BlockMasker {
    pub(super) masker: Masker,
    /// One per output, in the job's order.
    pub(super) formats: Vec<Box<dyn Encoder>>,
    pub(super) replicates: u32,
    /// Each input's name (messages, the `file` column).
    pub(super) names: Vec<String>,
    /// Input blocks, and output buffers (one pool per format, so a small rates buffer
    /// never has to grow into a FASTA one).
    pub(super) inputs: BufferPool,
    pub(super) outputs: Vec<BufferPool>,
    /// IDs whose hash is above this cannot be kept by the duplicate check (the writer
    /// lowers it): workers skip them.
    pub(super) id_limit: AtomicU64,
    /// `--max-length` and `--crop`.
    pub(super) cropping: Option<Cropping>,
    /// `--regions`, read before any input.
    pub(super) regions: Option<Arc<Regions>>,
    /// `--split`, its groups file read before any input.
    pub(super) split: Option<Arc<SplitRule>>,
    /// `protmask scan`: rows instead of masks (the variants read before any input).
    pub(super) scan: Option<Arc<Scan>>,
    /// What a scan row costs in output, to cut blocks into parts (`scan::parts`).
    pub(super) row_cost: crate::scan::RowCost,
    /// The formats' per-block state, reused by the next block (a dataset's columns
    /// would otherwise be fresh memory, grown from nothing, in every block).
    scratch: Mutex<Vec<Vec<Scratch>>>,
}

impl BlockMasker {
    pub(super) fn new(job: &Job, scan: Option<Arc<Scan>>) -> BlockMasker {
        let names: Vec<String> = job.inputs.iter().map(|i| i.name.clone()).collect();
        let formats: Vec<Format> = job.outputs.iter().map(|o| o.format).collect();
        let plan = scan.as_ref().and_then(|s| s.plan.as_deref());
        let mut masker = BlockMasker::build(&job.config, &formats, names, plan);
        masker.scan = scan;
        // An output of one split writes only that split's records.
        let encoders = std::mem::take(&mut masker.formats);
        masker.formats = encoders
            .into_iter()
            .zip(&job.outputs)
            .map(
                |(inner, spec): (Box<dyn Encoder>, &OutputSpec)| match spec.split {
                    Some(split) => Box::new(OnlySplit { split, inner }) as Box<dyn Encoder>,
                    None => inner,
                },
            )
            .collect();
        masker
    }

    /// The FASTA and, with a delimiter, the rates table of inputs named `names`.
    pub fn with(config: &MaskConfig, rates_delimiter: Option<u8>, names: Vec<String>) -> Self {
        let mut formats = vec![Format::Fasta];
        formats.extend(match rates_delimiter {
            Some(b'\t') => Some(Format::Tsv),
            Some(_) => Some(Format::Csv),
            None => None,
        });
        BlockMasker::with_formats(config, &formats, names)
    }

    /// Blocks in `formats`, in that order, for inputs named `names`.
    pub fn with_formats(config: &MaskConfig, formats: &[Format], names: Vec<String>) -> Self {
        BlockMasker::build(config, formats, names, None)
    }

    fn build(
        config: &MaskConfig,
        formats: &[Format],
        names: Vec<String>,
        plan: Option<&crate::variants::Plan>,
    ) -> Self {
        let row_cost = crate::scan::RowCost::of(formats, config);
        let formats: Vec<Box<dyn Encoder>> = formats
            .iter()
            .map(|f| f.encoder(config, &names, plan))
            .collect();
        BlockMasker {
            masker: config.masker(),
            outputs: formats.iter().map(|_| BufferPool::default()).collect(),
            formats,
            replicates: config.replicates,
            names,
            inputs: BufferPool::default(),
            id_limit: AtomicU64::new(u64::MAX),
            cropping: config.cropping(),
            regions: None,
            split: None,
            scan: None,
            row_cost,
            scratch: Mutex::default(),
        }
    }

    /// Mask within these regions (`--regions`; `None`: everywhere).
    pub fn with_regions(mut self, regions: Option<Arc<Regions>>) -> Self {
        self.regions = regions;
        self
    }

    /// Put records in splits by this rule (`--split`; `None`: no split).
    pub fn with_split(mut self, split: Option<Arc<SplitRule>>) -> Self {
        self.split = split;
        self
    }

    /// Mask one block of input `file` as the engine does (tests, fuzzing, benchmarks).
    pub fn mask(&self, block: &Block, file: usize) -> Result<BlockOutput, RecordError> {
        let mut out = BlockOutput {
            bufs: vec![Vec::new(); self.formats.len()],
            ..BlockOutput::default()
        };
        mask_records(block, file, self, &mut out)?;
        out.ids.own_names(block.data);
        Ok(out)
    }
}

/// Mask the block `cut` of input `file`; its buffer goes back to the pool.
pub(super) fn mask_block(cut: Cut, file: usize, shared: &BlockMasker) -> Result<BlockOutput> {
    let mut out = BlockOutput {
        bufs: shared.outputs.iter().map(|p| p.take()).collect(),
        ..BlockOutput::default()
    };
    let name = &shared.names[file];
    let result = if cut.headers.len() == 1 && cut.len > FREE_BLOCK_AFTER_PARSE {
        mask_giant(cut, file, shared, &mut out)
    } else {
        let result = mask_records(&cut.block(), file, shared, &mut out);
        // The IDs point into the block: it goes back to the pool once the writer has
        // tallied them.
        out.ids.keep(cut.data, true);
        result
    };
    result.map_err(|e| anyhow!("{name}: {e}"))?;
    Ok(out)
}

/// Write the rows of one part of a scan's block (`scan::parts`); the block's buffer goes
/// back to the pool with its last part.
pub(super) fn scan_part(
    cut: Arc<Cut>,
    part: Part,
    file: usize,
    shared: &BlockMasker,
) -> Result<BlockOutput> {
    let mut out = BlockOutput {
        bufs: shared.outputs.iter().map(|p| p.take()).collect(),
        ..BlockOutput::default()
    };
    let result = scan_records(&cut, part, file, shared, &mut out);
    if let Ok(cut) = Arc::try_unwrap(cut) {
        shared.inputs.give(cut.data);
    }
    result.map_err(|e| anyhow!("{}: {e}", shared.names[file]))?;
    Ok(out)
}

/// The records a part has rows of (only those are parsed: a part of a long record reads
/// that record alone), their rows emitted; the records it owns counted and their IDs
/// tallied, once over all the parts of a block.
fn scan_records(
    cut: &Cut,
    part: Part,
    file: usize,
    shared: &BlockMasker,
    out: &mut BlockOutput,
) -> Result<(), RecordError> {
    let count = cut.headers.len();
    let records = part.records(count);
    let from = match records.start {
        0 => 0,
        r if r >= count => cut.len,
        r => cut.headers[r],
    };
    let to = cut
        .headers
        .get(records.end)
        .copied()
        .unwrap_or(cut.len)
        .max(from);
    let block = Block {
        data: &cut.data[from..to],
        first_index: cut.first_index + records.start.min(count) as u64,
        headers: None,
    };
    let mut parsed = BlockRecords::new(&block)?;
    let limit = shared.id_limit.load(Ordering::Relaxed);
    out.ids.begin(block.data, parsed.len(), limit);
    let mut emitter = Emitter::new(shared);
    let mut r = records.start;
    while let Some(record) = parsed.next_record()? {
        if part.owns(r) {
            out.input_records += 1;
            out.ids
                .push(&record.header[..record.id.len()], record.number);
        }
        emitter.emit_rows(&record, file, shared, out, part.keys(r))?;
        r += 1;
    }
    emitter.end_block(shared, out);
    out.ids.own_names(block.data);
    Ok(())
}

fn mask_records(
    block: &Block,
    file: usize,
    shared: &BlockMasker,
    out: &mut BlockOutput,
) -> Result<(), RecordError> {
    let mut records = BlockRecords::new(block)?;
    let limit = shared.id_limit.load(Ordering::Relaxed);
    out.ids.begin(block.data, records.len(), limit);
    let mut emitter = Emitter::new(shared);
    while let Some(record) = records.next_record()? {
        // The ID as it stands in the header, in the block (here rather than in `emit`,
        // whose code is large enough that it would cost more there).
        out.ids
            .push(&record.header[..record.id.len()], record.number);
        emitter.emit(&record, file, shared, out)?;
    }
    emitter.end_block(shared, out);
    Ok(())
}

/// One record alone in a large block: parse it, free the block, then mask.
fn mask_giant(
    cut: Cut,
    file: usize,
    shared: &BlockMasker,
    out: &mut BlockOutput,
) -> Result<(), RecordError> {
    let (number, header, parsed) = {
        let mut records = BlockRecords::new(&cut.block())?;
        let (number, header) = match records.next_record()? {
            Some(r) => (r.number, r.header.to_vec()),
            None => return Ok(()),
        };
        (number, header, records.finish()?)
    };
    drop(cut);
    let record = Record {
        number,
        id: parsed.id(),
        header: &header,
        seq: parsed.seq(),
    };
    let limit = shared.id_limit.load(Ordering::Relaxed);
    out.ids.begin(&header, 1, limit);
    out.ids
        .push(&record.header[..record.id.len()], record.number);
    let mut emitter = Emitter::new(shared);
    emitter.emit(&record, file, shared, out)?;
    emitter.end_block(shared, out);
    out.ids.keep(header, false);
    Ok(())
}

/// Per-block state reused from record to record.
struct Emitter {
    marks: Marks,
    /// A scan row's ID suffix (`_p<i>`).
    suffix: Vec<u8>,
    /// A cropped record's regions, in its window's coordinates.
    intervals: Vec<Interval>,
    /// One per format.
    scratch: Vec<Scratch>,
}

impl Emitter {
    fn new(shared: &BlockMasker) -> Emitter {
        let pooled = shared.scratch.lock().ok().and_then(|mut p| p.pop());
        Emitter {
            marks: Marks::default(),
            suffix: Vec::new(),
            intervals: Vec::new(),
            scratch: pooled
                .unwrap_or_else(|| shared.formats.iter().map(|_| Scratch::default()).collect()),
        }
    }

    /// What the formats kept aside for the block, to their buffers; the scratch goes
    /// back to the pool.
    fn end_block(mut self, shared: &BlockMasker, out: &mut BlockOutput) {
        let outputs = shared.formats.iter().zip(&mut out.bufs);
        for ((format, buf), scratch) in outputs.zip(&mut self.scratch) {
            format.end_block(buf, scratch);
        }
        if let Ok(mut pool) = shared.scratch.lock() {
            pool.push(self.scratch);
        }
    }

    fn emit(
        &mut self,
        record: &Record,
        file: usize,
        shared: &BlockMasker,
        out: &mut BlockOutput,
    ) -> Result<(), RecordError> {
        out.input_records += 1;
        let within = match &shared.regions {
            None => None,
            Some(r) => r
                .within(record.id, record.seq.len())
                .map_err(|message| RecordError {
                    number: record.number,
                    id: Some(record.id.to_string()),
                    kind: RecordErrorKind::Regions(message),
                })?,
        };
        // `--split`: once per record, whatever the replicates.
        let split = shared.split.as_ref().map(|rule| {
            let i = rule.of(record.id.as_bytes());
            if out.split_records.len() < rule.splits.len() {
                out.split_records.resize(rule.splits.len(), 0);
            }
            out.split_records[i] += u64::from(shared.replicates);
            i
        });
        for replicate in 1..=shared.replicates {
            // `--max-length`: a record longer than it is masked and written as its window.
            let window = shared.cropping.and_then(|c| {
                c.window(
                    shared.masker.key(),
                    replicate,
                    record.id.as_bytes(),
                    record.seq.len(),
                )
            });
            let cropped;
            let record = match window {
                None => record,
                Some(w) => {
                    cropped = Record {
                        seq: &record.seq[w.start..w.end()],
                        ..*record
                    };
                    &cropped
                }
            };
            // Regions are in the original's coordinates: a window sees them shifted.
            let shifted;
            let within = match (&within, window) {
                (Some(w), Some(win)) => {
                    shifted = w.window(win.start as u64, win.end() as u64, &mut self.intervals);
                    Some(shifted)
                }
                _ => within,
            };
            let outcome = shared.masker.mask_record(
                record.id.as_bytes(),
                record.seq,
                replicate,
                record.index(),
                &mut self.marks,
                within.as_ref(),
            );
            let emitted = Emitted {
                file,
                record,
                replicate,
                outcome: &outcome,
                marks: &self.marks,
                window,
                split,
                suffix: b"",
            };
            let outputs = shared.formats.iter().zip(&mut out.bufs);
            for ((format, buf), scratch) in outputs.zip(&mut self.scratch) {
                format.write(buf, &emitted, scratch);
            }
            let s = &mut out.stats;
            s.records += 1;
            s.residues += record.seq.len() as u64;
            s.eligible += outcome.length as u64;
            s.masked += outcome.masked as u64;
            s.rate_sum += outcome.rate;
            s.short += u64::from(outcome.masked < outcome.drawn);
        }
        Ok(())
    }

    /// A scan's rows of one record whose first position lies in `keys`: each written to
    /// every output as a masked record (its window, its marks, the ID suffix `_p<i>`).
    fn emit_rows(
        &mut self,
        record: &Record,
        file: usize,
        shared: &BlockMasker,
        out: &mut BlockOutput,
        keys: std::ops::Range<usize>,
    ) -> Result<(), RecordError> {
        let fail = |kind| RecordError {
            number: record.number,
            id: Some(record.id.to_string()),
            kind,
        };
        let Some(scan) = shared.scan.as_deref() else {
            return Ok(());
        };
        let within = match &shared.regions {
            None => None,
            Some(r) => r
                .within(record.id, record.seq.len())
                .map_err(|m| fail(RecordErrorKind::Regions(m)))?,
        };
        let maskable = shared.masker.maskable.as_deref();
        let (marks, suffix, scratch) = (&mut self.marks, &mut self.suffix, &mut self.scratch);
        scan.rows(
            record.id,
            record.seq,
            maskable,
            within.as_ref(),
            keys,
            |row| {
                let outcome = row.mark(marks);
                row.suffix(suffix);
                let window =
                    (scan.window.is_some() && row.window.len() < record.seq.len()).then(|| {
                        crate::crop::Window {
                            start: row.window.start,
                            len: row.window.len(),
                            original_length: record.seq.len(),
                        }
                    });
                let held = Record {
                    seq: &record.seq[row.window.clone()],
                    ..*record
                };
                let emitted = Emitted {
                    file,
                    record: &held,
                    replicate: 1,
                    outcome: &outcome,
                    marks,
                    window,
                    split: None,
                    suffix,
                };
                let outputs = shared.formats.iter().zip(&mut out.bufs);
                for ((format, buf), scratch) in outputs.zip(scratch.iter_mut()) {
                    format.write(buf, &emitted, scratch);
                }
                let s = &mut out.stats;
                s.records += 1;
                s.residues += held.seq.len() as u64;
                s.eligible += outcome.length as u64;
                s.masked += outcome.masked as u64;
                s.rate_sum += outcome.rate;
            },
        )
        .map_err(|m| fail(RecordErrorKind::Call(m)))
    }
}
