//! The provenance record of a `mask` run (`--manifest`), and the way back from it to a job.
//!
//! A manifest holds everything that decides the output bytes (the resolved configuration,
//! serialised as it is, and the RNG scheme version) and what the run read and wrote
//! (path, size, records, SHA-256), so an evaluation set can be checked, and regenerated,
//! years later. It carries no timestamp: the same run writes the same manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::config::MaskConfig;
use crate::engine::{Input, Job, Summary};
use crate::io::{Compression, FileDigest, OutputTarget, PendingOutput, create_output};
use crate::rng::SCHEME_VERSION;
use crate::sink::{Format, OutputSpec, Role, Target};

pub(crate) const TOOL: &str = "protmask";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    pub rng_scheme: u32,
    /// The command line as typed (informative; regeneration uses `options`).
    pub command_line: Vec<String>,
    pub working_directory: String,
    /// Every option that decides the output bytes, resolved (preset applied).
    pub options: MaskConfig,
    pub inputs: Vec<FileEntry>,
    pub outputs: Vec<FileEntry>,
    /// The regions file (`--regions`): path as given, size, interval lines (`records`)
    /// and SHA-256. Absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<FileEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// For outputs: `fasta`, `rates` or `dataset`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<Role>,
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

impl FileEntry {
    /// Whether `d` is this file's stored bytes.
    pub fn stored_is(&self, d: &FileDigest) -> bool {
        self.sha256 == d.sha256 && self.bytes == d.bytes
    }

    /// The recorded digest of the uncompressed content, if the manifest has it.
    pub fn content(&self) -> Option<FileDigest> {
        Some(FileDigest {
            bytes: self.content_bytes?,
            sha256: self.content_sha256.clone()?,
        })
    }
}

impl Manifest {
    /// The manifest of a finished run (which computed every digest, having a manifest).
    pub fn of_run(job: &Job, summary: &Summary) -> Result<Manifest> {
        let missing = || anyhow::anyhow!("internal error: a digest was not computed");
        let mut inputs = Vec::new();
        for (input, report) in job.inputs.iter().zip(&summary.inputs) {
            let d = report.digest.clone().ok_or_else(missing)?;
            inputs.push(FileEntry {
                role: None,
                path: input.name.clone(),
                bytes: d.bytes,
                records: report.records,
                sha256: d.sha256,
                content_bytes: None,
                content_sha256: None,
            });
        }
        let mut outputs = Vec::new();
        for o in &summary.outputs {
            let d = o.digest.clone().ok_or_else(missing)?;
            outputs.push(FileEntry {
                role: Some(o.role),
                path: o.path.clone(),
                bytes: d.stored.bytes,
                records: o.records,
                sha256: d.stored.sha256,
                content_bytes: d.content.as_ref().map(|c| c.bytes),
                content_sha256: d.content.map(|c| c.sha256),
            });
        }
        Ok(Manifest {
            tool: TOOL.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            rng_scheme: SCHEME_VERSION,
            command_line: std::env::args().collect(),
            working_directory: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            options: job.config.clone(),
            inputs,
            outputs,
            regions: summary.regions.as_ref().map(|r| FileEntry {
                role: None,
                path: r.path.clone(),
                bytes: r.digest.bytes,
                records: r.intervals,
                sha256: r.digest.sha256.clone(),
                content_bytes: None,
                content_sha256: None,
            }),
        })
    }

    /// Write it beside `path`, complete but not yet renamed onto it (a run publishes its
    /// outputs and manifest together).
    pub fn prepare(&self, path: &Path) -> Result<PendingOutput> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        let mut out = create_output(OutputTarget::Path(path.to_path_buf()), Compression::None)
            .with_context(|| format!("cannot create manifest '{}'", path.display()))?;
        out.write_all(text.as_bytes())
            .with_context(|| format!("cannot write manifest '{}'", path.display()))?;
        Ok(out.close()?)
    }

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

    pub fn outputs_of(&self, role: Role) -> impl Iterator<Item = &FileEntry> {
        self.outputs.iter().filter(move |e| e.role == Some(role))
    }

    /// The recorded outputs, as a job writes them (one spec per role, in the recorded
    /// order), each under `outdir` with its recorded file name (stdout as `stdout`).
    fn output_specs(&self, outdir: &Path) -> Result<Vec<OutputSpec>> {
        let in_outdir = |p: &str| -> PathBuf {
            let name = Path::new(p)
                .file_name()
                .map_or_else(|| "stdout".into(), |n| n.to_owned());
            outdir.join(name)
        };
        let mut specs: Vec<OutputSpec> = Vec::new();
        for entry in &self.outputs {
            let Some(role) = entry.role else { continue };
            if specs.iter().any(|s| s.role == role) {
                continue;
            }
            let entries: Vec<&FileEntry> = self.outputs_of(role).collect();
            let spec = if role == Role::Fasta && self.options.outdir {
                let paths = entries.iter().map(|e| in_outdir(&e.path)).collect();
                OutputSpec {
                    role,
                    format: Format::Fasta,
                    target: Target::PerInput(paths),
                }
            } else {
                let [single] = entries.as_slice() else {
                    bail!(
                        "the manifest records {} {} outputs, expected one",
                        entries.len(),
                        role
                    );
                };
                let mut spec = OutputSpec::file(role, &in_outdir(&single.path))?;
                if single.path == "-" {
                    let compression = self.options.compress.unwrap_or(Compression::None);
                    if let Target::One(target, _) = spec.target {
                        spec.target = Target::One(target, compression);
                    }
                }
                spec
            };
            specs.push(spec);
        }
        Ok(specs)
    }

    /// The recorded job, reading `sources` (one per recorded input, in order; each named
    /// as recorded, so the rates table's `file` column is the recorded one wherever the
    /// inputs are now) and writing every recorded output under `outdir` with its recorded
    /// file name (stdout as `stdout`), with a manifest there too.
    pub fn job(&self, sources: Vec<crate::io::InputSource>, outdir: &Path) -> Result<Job> {
        let inputs = sources
            .into_iter()
            .zip(&self.inputs)
            .map(|(source, entry)| Input {
                source,
                name: entry.path.clone(),
            })
            .collect();
        Ok(Job {
            config: self.options.clone(),
            inputs,
            outputs: self.output_specs(outdir)?,
            manifest: Some(outdir.join(".manifest.json")),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            block_size: crate::engine::DEFAULT_BLOCK_SIZE as usize,
            spill_memory: crate::engine::DEFAULT_SPILL_MEMORY as usize,
            progress: None,
        })
    }
}
