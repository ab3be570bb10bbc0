//! The ordered writer: block results arrive in any order and are written strictly in
//! (input, block) order, each format's buffer to its own output; then the outputs are
//! published (renamed into place), the rates table last.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use anyhow::{Context, Result, anyhow};
use rayon::ThreadPool;

use super::read::Done;
use super::work::Stats;
use super::{BlockMasker, InputReport, Job, OutputPlan, OutputReport};
use crate::io::{Compression, Output, OutputTarget, PendingOutput, create_output_on};
use crate::sink::RecordFormat;

/// Where one format's bytes go.
enum Dest {
    /// Every input into one output.
    Single(Output),
    /// One output per input, each opened when its first block is written.
    PerFile {
        paths: Vec<std::path::PathBuf>,
        open: Option<(usize, Output)>,
        closed: Vec<PendingOutput>,
    },
}

/// The outputs of a run, one per format.
pub(super) struct Sinks {
    dests: Vec<(&'static str, Dest)>,
    pool: Arc<ThreadPool>,
    digests: bool,
    pub stats: Stats,
    /// Records read per input (replicates not counted).
    pub input_records: Vec<u64>,
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
                ) => Dest::Single(open(target.clone(), *compression)?),
                (RecordFormat::Fasta(_), OutputPlan::PerFile { paths }) => Dest::PerFile {
                    paths: paths.clone(),
                    open: None,
                    closed: Vec::new(),
                },
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
                    Dest::Single(out)
                }
            };
            dests.push((format.role(), dest));
        }
        Ok(Sinks {
            dests,
            pool: Arc::clone(pool),
            digests,
            stats: Stats::default(),
            input_records: vec![0; job.inputs.len()],
        })
    }

    /// Write every block as it becomes next in order; give its token back to its reader.
    /// Returns at the end of the results, or at the first error in order.
    pub fn write_in_order(
        &mut self,
        done: &Receiver<Done>,
        tokens: &[SyncSender<()>],
        shared: &BlockMasker,
    ) -> Result<()> {
        let mut pending: BTreeMap<(usize, u64), Done> = BTreeMap::new();
        let mut next = (0usize, 0u64);
        for d in done.iter() {
            pending.insert((d.file, d.block), d);
            while let Some(d) = pending.remove(&next) {
                let out = d.result?;
                self.stats.add(&out.stats);
                self.input_records[d.file] += out.input_records;
                let opener = (&self.pool, self.digests);
                for ((_, dest), (buf, pool)) in self
                    .dests
                    .iter_mut()
                    .zip(out.bufs.into_iter().zip(&shared.outputs))
                {
                    write(dest, opener, d.file, &buf)?;
                    finish_file(dest, d.last)?;
                    let mut buf = buf;
                    buf.clear();
                    pool.give(buf);
                }
                let _ = tokens[d.reader].send(());
                next = if d.last {
                    (d.file + 1, 0)
                } else {
                    (d.file, d.block + 1)
                };
            }
        }
        if !pending.is_empty() {
            return Err(anyhow!(
                "internal error: {} blocks were never written",
                pending.len()
            ));
        }
        Ok(())
    }
}

/// Append a block's buffer to `dest` (opening input `file`'s own output if it has one).
fn write(
    dest: &mut Dest,
    (pool, digests): (&Arc<ThreadPool>, bool),
    file: usize,
    buf: &[u8],
) -> Result<()> {
    let out = match dest {
        Dest::Single(o) => o,
        Dest::PerFile { paths, open, .. } => {
            if open.as_ref().is_none_or(|(f, _)| *f != file) {
                let path = &paths[file];
                let o = create_output_on(
                    OutputTarget::Path(path.clone()),
                    Compression::from_path(path),
                    Some(pool),
                    digests,
                )
                .with_context(|| format!("cannot create output '{}'", path.display()))?;
                *open = Some((file, o));
            }
            match open {
                Some((_, o)) => o,
                None => return Err(anyhow!("internal error: no output open")),
            }
        }
    };
    out.write_all(buf)
        .with_context(|| format!("cannot write {}", out.name()))
}

/// After an input's last block: close its own output (published later).
fn finish_file(dest: &mut Dest, last: bool) -> Result<()> {
    if let (Dest::PerFile { open, closed, .. }, true) = (dest, last)
        && let Some((_, o)) = open.take()
    {
        closed.push(o.close()?);
    }
    Ok(())
}

impl Sinks {
    /// Everything was written: publish the outputs in format order (the FASTA first, the
    /// table last) and report them.
    pub fn publish(self, inputs: &[InputReport], replicates: u32) -> Result<Vec<OutputReport>> {
        let mut reports = Vec::new();
        for (role, dest) in self.dests {
            match dest {
                Dest::Single(o) => {
                    let path = o.name().to_string();
                    let digest = o.finish()?;
                    reports.push(OutputReport {
                        role,
                        path,
                        records: self.stats.records,
                        digest,
                    });
                }
                Dest::PerFile { closed, .. } => {
                    for (file, p) in closed.into_iter().enumerate() {
                        reports.push(OutputReport {
                            role,
                            path: p.name().to_string(),
                            records: inputs[file].records * u64::from(replicates),
                            digest: p.digest.clone(),
                        });
                        p.commit()?;
                    }
                }
            }
        }
        Ok(reports)
    }
}
