//! The ordered writer: block results arrive in any order and are written strictly in
//! (input, block) order, each format's buffer to its own output; then the outputs are
//! published (renamed into place), the rates table last.
//!
//! Inputs are read several at a time, so blocks of a later input arrive while an earlier
//! one is still being written. They are not held in memory (that would stall its reader
//! once its tokens are out, and serialise the inputs again): a block of a later input
//! goes at once to that input's own output (`-O`), or to an anonymous spill file of its
//! input (one per format that concatenates inputs), which is copied into the output when
//! the writer reaches that input. Memory stays bounded by the tokens; the bytes are the
//! same as reading one input after another.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use anyhow::{Context, Result, anyhow};
use rayon::ThreadPool;

use super::duplicates::Duplicates;
use super::read::Done;
use super::work::Stats;
use super::{BlockMasker, BlockOutput, InputReport, Job, OutputPlan, OutputReport};
use crate::io::{Compression, Output, OutputTarget, PendingOutput, create_output_on};
use crate::sink::{DatasetKind, ParquetSink, RecordFormat};

/// Where one format's bytes go.
enum Dest {
    /// Every input into one output.
    Single(Box<Output>),
    /// Every input into one Parquet file (each block's rows as one piece of columns).
    Parquet(Box<ParquetSink>),
    /// One output per input, each opened when its first block arrives.
    PerFile {
        paths: Vec<PathBuf>,
        open: BTreeMap<usize, Output>,
        closed: BTreeMap<usize, PendingOutput>,
    },
}

/// One format's bytes of a later input: a prefix in memory (its blocks' own buffers, not
/// copied), the rest in a file.
#[derive(Default)]
struct Spill {
    memory: Vec<Vec<u8>>,
    file: Option<File>,
}

/// A later input's blocks, put aside until the writer reaches it.
#[derive(Default)]
struct Ahead {
    /// Blocks that came before their turn within the input.
    pending: BTreeMap<u64, Done>,
    /// Blocks handled so far.
    next_block: u64,
    /// Per format: what was put aside, for formats that concatenate inputs.
    spills: Vec<Spill>,
    /// Its last block has been handled.
    complete: bool,
}

/// The outputs of a run, one per format.
pub(super) struct Sinks {
    dests: Vec<(&'static str, Dest)>,
    pool: Arc<ThreadPool>,
    digests: bool,
    pub stats: Stats,
    pub duplicates: Duplicates,
    /// Records read per input (replicates not counted).
    pub input_records: Vec<u64>,
    /// What is left of the job's `spill_memory`.
    spill_memory: usize,
}

impl Sinks {
    /// Open every output (a bad path fails before any input is read) and write each
    /// format's preamble.
    pub fn open(
        job: &Job,
        formats: &[RecordFormat],
        pool: &Arc<ThreadPool>,
        digests: bool,
    ) -> Result<Sinks> {
        let open = |target: OutputTarget, compression| {
            let name = target.display_name();
            create_output_on(target, compression, Some(pool), digests)
                .with_context(|| format!("cannot create output '{name}'"))
        };
        let mut dests = Vec::new();
        for format in formats {
            let dest = match (format, &job.fasta) {
                (
                    RecordFormat::Fasta(_),
                    OutputPlan::Single {
                        target,
                        compression,
                    },
                ) => Dest::Single(Box::new(open(target.clone(), *compression)?)),
                (RecordFormat::Fasta(_), OutputPlan::PerFile { paths }) => Dest::PerFile {
                    paths: paths.clone(),
                    open: BTreeMap::new(),
                    closed: BTreeMap::new(),
                },
                (RecordFormat::Fasta(_), OutputPlan::None) => {
                    return Err(anyhow!("internal error: a FASTA format without an output"));
                }
                (RecordFormat::Dataset(_), _) => {
                    let file = job
                        .dataset
                        .as_ref()
                        .context("a dataset format without a file")?;
                    let out = open(OutputTarget::Path(file.path.clone()), file.compression())
                        .with_context(|| {
                            format!("cannot create dataset '{}'", file.path.display())
                        })?;
                    match file.kind {
                        DatasetKind::Jsonl => Dest::Single(Box::new(out)),
                        DatasetKind::Parquet => Dest::Parquet(Box::new(
                            ParquetSink::new(out, job.config.tokens.is_some(), pool).with_context(
                                || format!("cannot create dataset '{}'", file.path.display()),
                            )?,
                        )),
                    }
                }
                (RecordFormat::Rates(_), _) => {
                    let table = job
                        .rates
                        .as_ref()
                        .context("a rates format without a table")?;
                    let path = &table.path;
                    let mut out = open(
                        OutputTarget::Path(path.clone()),
                        Compression::from_path(path),
                    )
                    .with_context(|| format!("cannot create rates table '{}'", path.display()))?;
                    out.write_all(&format.preamble())
                        .with_context(|| format!("cannot write '{}'", path.display()))?;
                    Dest::Single(Box::new(out))
                }
            };
            dests.push((format.role(), dest));
        }
        Ok(Sinks {
            dests,
            pool: Arc::clone(pool),
            digests,
            stats: Stats::default(),
            duplicates: Duplicates::default(),
            input_records: vec![0; job.inputs.len()],
            spill_memory: job.spill_memory,
        })
    }

    /// Write every block in order (later inputs' blocks as they come, aside); give each
    /// block's token back to its reader once it is handled. Returns at the end of the
    /// results, or at the first error in input order.
    pub fn write_in_order(
        &mut self,
        done: &Receiver<Done>,
        tokens: &[SyncSender<()>],
        shared: &BlockMasker,
        writing: &AtomicUsize,
    ) -> Result<()> {
        let inputs = self.input_records.len();
        let mut ahead: Vec<Ahead> = (0..inputs).map(|_| Ahead::default()).collect();
        let mut current = 0usize;
        for d in done.iter() {
            let file = d.file;
            ahead[file].pending.insert(d.block, d);
            // Handle what is now next in order within `file`: written if it is the
            // current input, else put aside. An error waits for its turn.
            loop {
                let a = &mut ahead[file];
                let next = a.next_block;
                let Some(d) = a.pending.remove(&next) else {
                    break;
                };
                if file != current && d.result.is_err() {
                    a.pending.insert(next, d);
                    break;
                }
                a.next_block += 1;
                a.complete = d.last;
                let reader = d.reader;
                if file == current {
                    self.write_block(d, shared)?;
                } else {
                    self.put_aside(d, &mut ahead[file], shared)?;
                }
                let _ = tokens[reader].send(());
            }
            // The current input is complete: move on, taking in what was put aside.
            while current < inputs && ahead[current].complete {
                self.finish_input(current)?;
                current += 1;
                writing.store(current, Ordering::Release);
                if current < inputs {
                    self.take_in(&mut ahead[current], tokens, shared)?;
                }
            }
        }
        let left: usize = ahead.iter().map(|a| a.pending.len()).sum();
        if current < inputs || left > 0 {
            return Err(anyhow!(
                "internal error: input {current} of {inputs} was never finished ({left} blocks left)"
            ));
        }
        Ok(())
    }

    /// Count a block of input `file` (in any order: the totals and the duplicate check do
    /// not depend on it).
    fn tally(&mut self, out: &mut BlockOutput, file: usize, shared: &BlockMasker) {
        self.stats.add(&out.stats);
        self.input_records[file] += out.input_records;
        self.duplicates.add(&out.ids, file, out.input_records);
        if let Some(block) = out.ids.take_pooled() {
            shared.inputs.give(block);
        }
        shared.id_limit.store(
            self.duplicates.limit(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Write one block of the current input to every output.
    fn write_block(&mut self, d: Done, shared: &BlockMasker) -> Result<()> {
        let mut out = d.result?;
        self.tally(&mut out, d.file, shared);
        let opener = (&self.pool, self.digests);
        for ((_, dest), (mut buf, pool)) in self
            .dests
            .iter_mut()
            .zip(out.bufs.into_iter().zip(&shared.outputs))
        {
            output_for(dest, opener, d.file)?
                .write_all(&buf)
                .with_context(|| format!("cannot write {}", dest_name(dest, d.file)))?;
            buf.clear();
            pool.give(buf);
        }
        Ok(())
    }

    /// A block of a later input: to its own output where it has one, else to its spill.
    fn put_aside(&mut self, d: Done, ahead: &mut Ahead, shared: &BlockMasker) -> Result<()> {
        let mut out = d.result?;
        self.tally(&mut out, d.file, shared);
        if ahead.spills.is_empty() {
            ahead.spills = self.dests.iter().map(|_| Spill::default()).collect();
        }
        let opener = (&self.pool, self.digests);
        for (i, ((_, dest), (mut buf, pool))) in self
            .dests
            .iter_mut()
            .zip(out.bufs.into_iter().zip(&shared.outputs))
            .enumerate()
        {
            match dest {
                Dest::PerFile { .. } => output_for(dest, opener, d.file)?
                    .write_all(&buf)
                    .with_context(|| format!("cannot write {}", dest_name(dest, d.file)))?,
                Dest::Single(_) | Dest::Parquet(_) => {
                    let spill = &mut ahead.spills[i];
                    if spill.file.is_none() && buf.len() <= self.spill_memory {
                        self.spill_memory -= buf.len();
                        spill.memory.push(buf);
                        continue;
                    } else {
                        let file = match &mut spill.file {
                            Some(f) => f,
                            slot => slot.insert(
                                tempfile::tempfile()
                                    .context("cannot create a temporary spill file")?,
                            ),
                        };
                        file.write_all(&buf)
                            .context("cannot write a temporary spill file")?;
                    }
                }
            }
            buf.clear();
            pool.give(buf);
        }
        Ok(())
    }

    /// The writer reaches an input: copy what was put aside into the outputs, then
    /// write its blocks that are already next in order.
    fn take_in(
        &mut self,
        ahead: &mut Ahead,
        tokens: &[SyncSender<()>],
        shared: &BlockMasker,
    ) -> Result<()> {
        for (i, spill) in std::mem::take(&mut ahead.spills).into_iter().enumerate() {
            let dest = &mut self.dests[i].1;
            let name = dest_name(dest, 0);
            let out: &mut dyn Write = match dest {
                Dest::Single(o) => o.as_mut(),
                Dest::Parquet(p) => p.as_mut(),
                Dest::PerFile { .. } => continue,
            };
            for mut buf in spill.memory {
                out.write_all(&buf)
                    .with_context(|| format!("cannot write {name}"))?;
                self.spill_memory += buf.len();
                buf.clear();
                shared.outputs[i].give(buf);
            }
            let Some(mut spill) = spill.file else {
                continue;
            };
            spill
                .rewind()
                .context("cannot read a temporary spill file")?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = spill
                    .read(&mut buf)
                    .context("cannot read a temporary spill file")?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])
                    .with_context(|| format!("cannot write {name}"))?;
            }
        }
        while let Some(d) = ahead.pending.remove(&ahead.next_block) {
            ahead.next_block += 1;
            ahead.complete = d.last;
            let reader = d.reader;
            self.write_block(d, shared)?;
            let _ = tokens[reader].send(());
        }
        Ok(())
    }

    /// After an input's last block: close its own outputs (published later).
    fn finish_input(&mut self, file: usize) -> Result<()> {
        for (_, dest) in &mut self.dests {
            if let Dest::PerFile { open, closed, .. } = dest
                && let Some(o) = open.remove(&file)
            {
                closed.insert(file, o.close()?);
            }
        }
        Ok(())
    }

    /// Everything was written: publish the outputs in format order (the FASTA first, the
    /// table last) and report them.
    pub fn publish(self, inputs: &[InputReport], replicates: u32) -> Result<Vec<OutputReport>> {
        let mut reports = Vec::new();
        for (role, dest) in self.dests {
            let (path, digest) = match dest {
                Dest::Single(o) => (o.name().to_string(), o.finish()?),
                Dest::Parquet(p) => (p.name().to_string(), p.finish()?),
                Dest::PerFile { closed, .. } => {
                    for (file, p) in closed {
                        reports.push(OutputReport {
                            role,
                            path: p.name().to_string(),
                            records: inputs[file].records * u64::from(replicates),
                            digest: p.digest.clone(),
                        });
                        p.commit()?;
                    }
                    continue;
                }
            };
            reports.push(OutputReport {
                role,
                path,
                records: self.stats.records,
                digest,
            });
        }
        Ok(reports)
    }
}

/// The output that input `file`'s blocks go to (its own, opened now if need be).
fn output_for<'d>(
    dest: &'d mut Dest,
    (pool, digests): (&Arc<ThreadPool>, bool),
    file: usize,
) -> Result<&'d mut dyn Write> {
    match dest {
        Dest::Single(o) => Ok(o.as_mut()),
        Dest::Parquet(p) => Ok(p.as_mut()),
        Dest::PerFile { paths, open, .. } => match open.entry(file) {
            std::collections::btree_map::Entry::Occupied(o) => Ok(o.into_mut()),
            std::collections::btree_map::Entry::Vacant(v) => {
                let path = &paths[file];
                let o = create_output_on(
                    OutputTarget::Path(path.clone()),
                    Compression::from_path(path),
                    Some(pool),
                    digests,
                )
                .with_context(|| format!("cannot create output '{}'", path.display()))?;
                Ok(v.insert(o))
            }
        },
    }
}

fn dest_name(dest: &Dest, file: usize) -> String {
    match dest {
        Dest::Single(o) => o.name().to_string(),
        Dest::Parquet(p) => p.name().to_string(),
        Dest::PerFile { paths, .. } => format!("'{}'", paths[file].display()),
    }
}
