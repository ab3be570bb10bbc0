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
//!
//! A dataset folder's split (`Target::Shards`) is written like one output; its folder is
//! checked and made when it is opened (`Folder::prepare`), before any input is read, and
//! its shards get their final names when it is closed.

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
use super::{BlockMasker, BlockOutput, InputReport, Job, OutputReport};
use crate::io::{Compression, OutputTarget, PendingOutput, create_output_on};
use crate::provenance::Provenance;
use crate::sink::card::CardSplit;
use crate::sink::shards::{Folder, ShardNames, shown};
use crate::sink::{Encoder, Role, Sink, Target};

/// Where one output's bytes go.
enum Dest {
    /// Every input into one output.
    Single(Box<dyn Sink>),
    /// One output per input, each opened when its first block arrives.
    PerFile {
        paths: Vec<PathBuf>,
        open: BTreeMap<usize, Box<dyn Sink>>,
        closed: BTreeMap<usize, PendingOutput>,
    },
    /// One split of a dataset folder (`folder`, an index into `Sinks::folders`), written
    /// as one output cut into shards.
    Shards {
        sink: Box<dyn Sink>,
        names: ShardNames,
        folder: usize,
    },
}

/// A dataset folder of the run and what its card says: each split's shards and rows.
pub(super) struct FolderParts {
    pub folder: Folder,
    pub splits: Vec<CardSplit>,
    pub shard_rows: u64,
}

/// Every output closed: reports and files in the job's order, and the dataset folders.
pub(super) struct Closed {
    pub reports: Vec<OutputReport>,
    pub pending: Vec<PendingOutput>,
    pub folders: Vec<FolderParts>,
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

/// The outputs of a run, in the job's order.
pub(super) struct Sinks {
    /// Each output's role, the split it holds alone (`--split` per split) and its bytes'
    /// destination.
    dests: Vec<(Role, Option<usize>, Dest)>,
    /// Dataset folders, after the outputs in them (dropped after their temp files, so a
    /// folder the failed run made is empty again and goes).
    folders: Vec<FolderParts>,
    opener: Opener,
    pub stats: Stats,
    pub duplicates: Duplicates,
    /// Records read per input (replicates not counted).
    pub input_records: Vec<u64>,
    /// Records emitted per split (replicates counted), with `--split`.
    pub split_records: Vec<u64>,
    /// What is left of the job's `spill_memory`.
    spill_memory: usize,
}

/// What opening an output takes: the pool (compression, Parquet's row groups) and
/// whether to digest it.
struct Opener {
    pool: Arc<ThreadPool>,
    digests: bool,
}

impl Opener {
    /// Open an output of `role` in `format`'s file at `target` and write its preamble.
    fn open(
        &self,
        role: Role,
        encoder: &dyn Encoder,
        target: OutputTarget,
        compression: Compression,
    ) -> Result<Box<dyn Sink>> {
        let name = target.display_name();
        let context = || format!("cannot create {} '{name}'", role.noun());
        let out = create_output_on(target, compression, Some(&self.pool), self.digests)
            .with_context(context)?;
        let mut sink = encoder.open(out, &self.pool).with_context(context)?;
        sink.write_all(&encoder.preamble())
            .with_context(|| format!("cannot write '{name}'"))?;
        Ok(sink)
    }

    /// Open a dataset folder's split, its shards of `rows` rows named by `names`.
    fn open_shards(
        &self,
        encoder: &dyn Encoder,
        names: &ShardNames,
        rows: u64,
    ) -> Result<Box<dyn Sink>> {
        let (pool, digests) = (Arc::clone(&self.pool), self.digests);
        let shard = move |names: &ShardNames, i: usize| {
            let target = OutputTarget::Path(names.provisional(i));
            create_output_on(target, Compression::None, Some(&pool), digests)
        };
        let first = shard(names, 0).with_context(|| {
            format!("cannot create dataset '{}'", names.provisional(0).display())
        })?;
        let owned = names.clone();
        let next = Box::new(move |i: usize| shard(&owned, i));
        let context = || format!("cannot create dataset '{}'", names.provisional(0).display());
        encoder
            .open_shards(first, rows, next, &self.pool)
            .with_context(context)
    }
}

impl Sinks {
    /// Open every output (a bad path fails before any input is read) and write each
    /// format's preamble; one output per input is opened when its first block comes.
    pub fn open(
        job: &Job,
        shared: &BlockMasker,
        pool: &Arc<ThreadPool>,
        digests: bool,
    ) -> Result<Sinks> {
        let opener = Opener {
            pool: Arc::clone(pool),
            digests,
        };
        let mut dests = Vec::new();
        let mut folders: Vec<FolderParts> = Vec::new();
        // The run's other files may lie in a dataset folder (a manifest beside the card).
        let ours: Vec<PathBuf> = (job.outputs.iter())
            .filter(|o| o.folder().is_none())
            .flat_map(|o| o.paths())
            .chain(job.manifest.clone())
            .collect();
        // Dataset folders first: the run's other outputs may be written in them.
        for spec in &job.outputs {
            if let Target::Shards {
                dir, rows, force, ..
            } = &spec.target
                && !folders.iter().any(|f| f.folder.dir == *dir)
            {
                folders.push(FolderParts {
                    folder: Folder::prepare(dir, *force, &ours)?,
                    splits: Vec::new(),
                    shard_rows: *rows,
                });
            }
        }
        for (spec, encoder) in job.outputs.iter().zip(&shared.formats) {
            let dest = match &spec.target {
                Target::Shards {
                    dir, split, rows, ..
                } => {
                    let folder = (folders.iter().position(|f| f.folder.dir == *dir))
                        .context("internal error: a dataset folder not prepared")?;
                    let names = ShardNames {
                        dir: dir.clone(),
                        split: split.clone(),
                    };
                    let sink = opener.open_shards(encoder.as_ref(), &names, *rows)?;
                    Dest::Shards {
                        sink,
                        names,
                        folder,
                    }
                }
                Target::One(target, compression) => Dest::Single(opener.open(
                    spec.role,
                    encoder.as_ref(),
                    target.clone(),
                    *compression,
                )?),
                Target::PerInput(paths) => Dest::PerFile {
                    paths: paths.clone(),
                    open: BTreeMap::new(),
                    closed: BTreeMap::new(),
                },
            };
            dests.push((spec.role, spec.split, dest));
        }
        Ok(Sinks {
            dests,
            folders,
            opener,
            stats: Stats::default(),
            duplicates: Duplicates::default(),
            input_records: vec![0; job.inputs.len()],
            split_records: vec![0; job.config.split.as_ref().map_or(0, |s| s.len())],
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
        for (total, n) in self.split_records.iter_mut().zip(&out.split_records) {
            *total += n;
        }
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
        let outputs = out.bufs.into_iter().zip(&shared.outputs);
        for (((role, _, dest), (mut buf, pool)), encoder) in
            self.dests.iter_mut().zip(outputs).zip(&shared.formats)
        {
            output_for(dest, *role, encoder.as_ref(), &self.opener, d.file)?
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
        let outputs = out.bufs.into_iter().zip(&shared.outputs);
        for (i, (((role, _, dest), (mut buf, pool)), encoder)) in self
            .dests
            .iter_mut()
            .zip(outputs)
            .zip(&shared.formats)
            .enumerate()
        {
            match dest {
                Dest::PerFile { .. } => {
                    output_for(dest, *role, encoder.as_ref(), &self.opener, d.file)?
                        .write_all(&buf)
                        .with_context(|| format!("cannot write {}", dest_name(dest, d.file)))?
                }
                Dest::Single(_) | Dest::Shards { .. } => {
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
            let dest = &mut self.dests[i].2;
            let name = dest_name(dest, 0);
            let out: &mut dyn Write = match dest {
                Dest::Single(o) | Dest::Shards { sink: o, .. } => o.as_mut(),
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
        for (_, _, dest) in &mut self.dests {
            if let Dest::PerFile { open, closed, .. } = dest
                && let Some(o) = open.remove(&file)
            {
                closed.insert(file, o.close()?);
            }
        }
        Ok(())
    }

    /// Everything was written: end every output (complete, not yet published) and
    /// report them, in the job's order; the caller publishes them together.
    /// `provenance`: how the run was made, for the outputs that record it.
    pub fn close(
        self,
        inputs: &[InputReport],
        replicates: u32,
        provenance: Option<&Provenance>,
    ) -> Result<Closed> {
        let mut reports = Vec::new();
        let mut pending = Vec::new();
        let mut folders = self.folders;
        for (role, split, dest) in self.dests {
            let closed = match dest {
                Dest::Single(mut o) => {
                    if let Some(p) = provenance {
                        o.describe(p)
                            .with_context(|| format!("cannot write {}", o.name()))?;
                    }
                    let records = match split {
                        Some(i) => self.split_records.get(i).copied().unwrap_or(0),
                        None => self.stats.records,
                    };
                    vec![(records, o.close()?)]
                }
                Dest::PerFile { closed, .. } => closed
                    .into_iter()
                    .map(|(file, p)| (inputs[file].records * u64::from(replicates), p))
                    .collect(),
                Dest::Shards {
                    mut sink,
                    names,
                    folder,
                } => {
                    let dataset = || format!("cannot write dataset '{}'", names.dir.display());
                    if let Some(p) = provenance {
                        sink.describe(p).with_context(dataset)?;
                    }
                    let shards = sink.close_shards().with_context(dataset)?;
                    let n = shards.len();
                    let rows: u64 = shards.iter().map(|(_, r)| r).sum();
                    // A split (`--split`) no record fell in has no shard and no place in
                    // the card: `load_dataset` refuses a split without data. Its empty
                    // shard's temp file goes with it.
                    if split.is_some() && rows == 0 {
                        continue;
                    }
                    folders[folder].splits.push(CardSplit {
                        name: names.split.clone(),
                        shards: n,
                        rows,
                    });
                    let named = |(i, (p, rows)): (usize, (PendingOutput, u64))| {
                        let path = names.path(i, n);
                        let name = path.display().to_string();
                        (rows, p.retarget(path, name))
                    };
                    shards.into_iter().enumerate().map(named).collect()
                }
            };
            for (records, p) in closed {
                reports.push(OutputReport {
                    role,
                    path: p.name().to_string(),
                    records,
                    digest: p.digest.clone(),
                });
                pending.push(p);
            }
        }
        Ok(Closed {
            reports,
            pending,
            folders,
        })
    }
}

/// The output that input `file`'s blocks go to (its own, opened now if need be).
fn output_for<'d>(
    dest: &'d mut Dest,
    role: Role,
    encoder: &dyn Encoder,
    opener: &Opener,
    file: usize,
) -> Result<&'d mut dyn Write> {
    match dest {
        Dest::Single(o) | Dest::Shards { sink: o, .. } => Ok(o.as_mut()),
        Dest::PerFile { paths, open, .. } => match open.entry(file) {
            std::collections::btree_map::Entry::Occupied(o) => Ok(o.into_mut().as_mut()),
            std::collections::btree_map::Entry::Vacant(v) => {
                let path = &paths[file];
                let target = OutputTarget::Path(path.clone());
                let sink = opener.open(role, encoder, target, Compression::from_path(path))?;
                Ok(v.insert(sink).as_mut())
            }
        },
    }
}

fn dest_name(dest: &Dest, file: usize) -> String {
    match dest {
        Dest::Single(o) => o.name().to_string(),
        Dest::Shards { names, .. } => format!("dataset '{}'", shown(&names.dir)),
        Dest::PerFile { paths, .. } => format!("'{}'", paths[file].display()),
    }
}
