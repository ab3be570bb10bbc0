//! The provenance record of a `mask` run (`--manifest`), and the way back from it to a job.
//!
//! A manifest holds everything that decides the output bytes (every resolved option, the
//! RNG scheme version) and what the run read and wrote (path, size, records, SHA-256), so
//! an evaluation set can be checked, and regenerated, years later. It carries no
//! timestamp: the same run writes the same manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::engine::{Job, OutputPlan};
use crate::fasta::FormatOptions;
use crate::io::{Compression, InputSource, OutputTarget};
use crate::mask::{Corruption, Masker, Mode, Timesteps};
use crate::rng::SCHEME_VERSION;
use crate::schedule::Schedule;

pub const TOOL: &str = "protmask";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    pub rng_scheme: u32,
    /// The command line as typed (informative; regeneration uses `options`).
    pub command_line: Vec<String>,
    pub working_directory: String,
    pub options: Options,
    pub inputs: Vec<FileEntry>,
    pub outputs: Vec<FileEntry>,
}

/// Every option that decides the output bytes, resolved (preset applied).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Options {
    pub preset: String,
    /// The schedule as given, and its fully resolved form.
    pub schedule: String,
    pub schedule_resolved: String,
    pub mode: String,
    pub mask_token: String,
    /// Fractions masked, replaced, kept.
    pub corrupt: [f64; 3],
    pub maskable: Option<String>,
    pub timesteps: String,
    pub seed: u64,
    pub replicates: u32,
    pub line_width: usize,
    pub positions: bool,
    /// Compression of stdout, when the FASTA went there.
    pub compress: Option<String>,
    /// One output per input (`--outdir`) rather than one output.
    pub outdir: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// For outputs: `fasta` or `rates`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<String>,
    /// As given on the command line (`-` for stdin or stdout).
    pub path: String,
    pub bytes: u64,
    /// FASTA records (replicates counted for outputs) or table rows.
    pub records: u64,
    pub sha256: String,
    /// For a compressed output: size and SHA-256 of its uncompressed content, which stays
    /// the same when only the compressor changes (absent from older manifests).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_sha256: Option<String>,
}

impl Options {
    pub fn mode(&self) -> Result<Mode> {
        match self.mode.as_str() {
            "bernoulli" => Ok(Mode::Bernoulli),
            "exact" => Ok(Mode::Exact),
            other => bail!("unknown mode '{other}'"),
        }
    }

    pub fn timesteps(&self) -> Result<Timesteps> {
        match self.timesteps.as_str() {
            "iid" => Ok(Timesteps::Iid),
            "stratified" => Ok(Timesteps::Stratified),
            other => bail!("unknown timesteps '{other}'"),
        }
    }

    pub fn corruption(&self) -> Result<Corruption> {
        let [m, r, k] = self.corrupt;
        Corruption::new(m, r, k).map_err(anyhow::Error::msg)
    }

    pub fn masker(&self) -> Result<Masker> {
        let schedule = Schedule::parse(&self.schedule_resolved)?;
        Ok(Masker::new(
            schedule,
            self.mode()?,
            self.corruption()?,
            self.timesteps()?,
            self.maskable.as_deref().map(str::as_bytes),
            self.seed,
        ))
    }
}

pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Bernoulli => "bernoulli",
        Mode::Exact => "exact",
    }
}

pub fn timesteps_name(t: Timesteps) -> &'static str {
    match t {
        Timesteps::Iid => "iid",
        Timesteps::Stratified => "stratified",
    }
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest '{}'", path.display()))?;
        let m: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("manifest '{}' is not a protmask manifest", path.display()))?;
        if m.tool != TOOL {
            bail!(
                "manifest '{}' was written by '{}', not {TOOL}",
                path.display(),
                m.tool
            );
        }
        if m.rng_scheme > SCHEME_VERSION {
            bail!(
                "manifest '{}' uses RNG scheme {}, newer than this protmask's ({SCHEME_VERSION}): \
                 regenerate it with protmask {} or later",
                path.display(),
                m.rng_scheme,
                m.version
            );
        }
        if m.rng_scheme < SCHEME_VERSION {
            bail!(
                "manifest '{}' uses RNG scheme {}, which this protmask ({}) no longer \
                 implements: use protmask {} to regenerate it",
                path.display(),
                m.rng_scheme,
                env!("CARGO_PKG_VERSION"),
                m.version
            );
        }
        Ok(m)
    }

    /// The recorded job, reading `inputs` (in the recorded order) and writing every
    /// recorded output under `outdir` with its recorded file name (stdout as `stdout`).
    pub fn job(&self, inputs: Vec<InputSource>, outdir: &Path) -> Result<Job> {
        let o = &self.options;
        let in_outdir = |p: &str| -> PathBuf {
            let name = Path::new(p)
                .file_name()
                .map_or_else(|| "stdout".into(), |n| n.to_owned());
            outdir.join(name)
        };
        let fasta: Vec<&FileEntry> = self
            .outputs
            .iter()
            .filter(|e| e.role.as_deref() == Some("fasta"))
            .collect();
        let rates = self
            .outputs
            .iter()
            .find(|e| e.role.as_deref() == Some("rates"));
        let output = if o.outdir {
            OutputPlan::PerFile {
                paths: fasta.iter().map(|e| in_outdir(&e.path)).collect(),
            }
        } else {
            let [single] = fasta.as_slice() else {
                bail!(
                    "the manifest records {} FASTA outputs, expected one",
                    fasta.len()
                );
            };
            let compression = match (&o.compress, single.path.as_str()) {
                (Some(c), "-") => c.parse().map_err(anyhow::Error::msg)?,
                (None, "-") => Compression::None,
                (_, path) => Compression::from_path(Path::new(path)),
            };
            OutputPlan::Single {
                target: OutputTarget::Path(in_outdir(&single.path)),
                compression,
            }
        };
        let rates_path = rates.map(|r| in_outdir(&r.path));
        let rates_delimiter = match &rates_path {
            Some(p) => Some(crate::commands::mask::rates_delimiter(p)?),
            None => None,
        };
        Ok(Job {
            inputs,
            output,
            rates: rates_path,
            format: FormatOptions {
                line_width: o.line_width,
                token: o.mask_token.as_bytes().to_vec(),
                replicates: o.replicates,
                rates_delimiter,
                positions: o.positions,
            },
            masker: o.masker()?,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            block_size: crate::engine::DEFAULT_BLOCK_SIZE as usize,
            progress: false,
            digests: true,
        })
    }
}
