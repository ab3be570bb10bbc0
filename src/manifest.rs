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
use crate::engine::{Input, InputReport, Job, Summary};
use crate::io::{Compression, FileDigest, OutputTarget, PendingOutput, create_output};
use crate::regions::RegionsSource;
use crate::rng::SCHEME_VERSION;
use crate::sink::{Format, OutputSpec, Role, Target, shards};

/// `MAJOR.MINOR.PATCH` (a pre-release suffix ignored).
pub(crate) fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

pub(crate) const TOOL: &str = "protmask";

/// The manifest format this protmask writes. 1 (absent): before 0.3.0. 2: content digests
/// of every file, a canonical `command_line`, small regions recorded as intervals.
pub const MANIFEST_VERSION: u32 = 2;

/// The first protmask version that wrote manifest version 2.
const VERSION_2_SINCE: (u64, u64, u64) = (0, 3, 0);

/// Regions whose file is at most this large (1 MiB, some 30,000 interval lines) are
/// recorded in the manifest as intervals, so the set needs no regions file to be checked
/// or rebuilt; a larger file is recorded by its digests and must be at hand. A regions
/// file that cannot be read again (a pipe, `/dev/fd/N`) is recorded as intervals whatever
/// its size.
pub const REGIONS_RECORDED_MAX: u64 = 1 << 20;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    /// The manifest format (`MANIFEST_VERSION`); 1 when absent.
    #[serde(default = "version_1")]
    pub manifest_version: u32,
    pub version: String,
    pub rng_scheme: u32,
    /// Version 2: the command that makes this set, generated from `options`, the inputs
    /// and the outputs (`canonical_command_line`), so it re-runs the recorded job and
    /// cannot disagree with `options`. Version 1: the command line as typed.
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
    /// The split groups file (`--split-groups`): path as given, size, lines (`records`)
    /// and SHA-256. Absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_groups: Option<FileEntry>,
    /// The variants file of a variants scan (`scan --variants`): path as given, size,
    /// mutants (`records`) and SHA-256. Absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<FileEntry>,
}

fn version_1() -> u32 {
    1
}

/// How a file given for a recorded one matched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matched {
    /// Byte for byte, as stored.
    Stored,
    /// By its decompressed content: the file was compressed, decompressed or recompressed.
    Content,
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
    /// The entry of a file with digests `stored` and (if compressed) `content`.
    fn of(path: String, records: u64, stored: FileDigest, content: Option<FileDigest>) -> Self {
        let content = content.unwrap_or_else(|| stored.clone());
        FileEntry {
            role: None,
            path,
            bytes: stored.bytes,
            records,
            sha256: stored.sha256,
            content_bytes: Some(content.bytes),
            content_sha256: Some(content.sha256),
        }
    }

    /// Whether a file with digests `stored` and (when known) `content` is this one, and
    /// how.
    pub fn matches(&self, stored: &FileDigest, content: Option<&FileDigest>) -> Option<Matched> {
        if self.stored_is(stored) {
            return Some(Matched::Stored);
        }
        let recorded = self.content()?;
        let content = content.unwrap_or(stored);
        (recorded == *content).then_some(Matched::Content)
    }

    /// The recorded digest of the file as stored.
    pub fn stored(&self) -> FileDigest {
        FileDigest {
            bytes: self.bytes,
            sha256: self.sha256.clone(),
        }
    }

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

/// The inputs of a finished run as a manifest records them (the run computed their
/// digests); a Parquet dataset's `protmask.inputs` is the same list.
pub(crate) fn input_entries(inputs: &[Input], reports: &[InputReport]) -> Result<Vec<FileEntry>> {
    let missing = || anyhow::anyhow!("internal error: a digest was not computed");
    let mut entries = Vec::new();
    for (input, report) in inputs.iter().zip(reports) {
        let d = report.digest.clone().ok_or_else(missing)?;
        let entry = FileEntry::of(
            input.name.clone(),
            report.records,
            d,
            report.content.clone(),
        );
        entries.push(entry);
    }
    Ok(entries)
}

/// The options of a finished run as a manifest records them: small regions (or regions
/// that cannot be read again) as their intervals; a Parquet dataset's `protmask.options`
/// is the same.
pub(crate) fn recorded_options(config: &MaskConfig, summary: &Summary) -> MaskConfig {
    let mut options = config.clone();
    if let Some(r) = &summary.regions {
        let small = r.digest.bytes <= REGIONS_RECORDED_MAX || !r.regular;
        if let (true, Some(map), Some(o)) = (small, &r.map, options.regions.as_mut()) {
            o.source = RegionsSource::Intervals(map.clone());
        }
    }
    options
}

impl Manifest {
    /// Why this manifest's outputs may not regenerate here though nothing was changed:
    /// it was made by a protmask whose masks differ for its options (0.2.x with
    /// `--span-max`, whose runs could touch; 0.3.0 keeps them apart).
    pub fn older_law(&self) -> Option<String> {
        let made_by = parse_version(&self.version)?;
        let span_max = self.options.span.is_some_and(|s| s.max.is_some());
        (made_by < (0, 3, 0) && span_max).then(|| {
            format!(
                "the set was made by protmask {}, whose --span-max let runs touch (0.3.0 \
                 keeps them apart): regenerate it with protmask {}",
                self.version, self.version
            )
        })
    }

    /// The manifest of a finished run (which computed every digest, having a manifest).
    pub fn of_run(job: &Job, summary: &Summary) -> Result<Manifest> {
        let missing = || anyhow::anyhow!("internal error: a digest was not computed");
        let inputs = input_entries(&job.inputs, &summary.inputs)?;
        let mut outputs = Vec::new();
        for o in &summary.outputs {
            let d = o.digest.clone().ok_or_else(missing)?;
            let mut entry = FileEntry::of(o.path.clone(), o.records, d.stored, d.content);
            entry.role = Some(o.role);
            outputs.push(entry);
        }
        let options = recorded_options(&job.config, summary);
        let regions = (summary.regions.as_ref()).map(|r| {
            let content = Some(r.content.clone());
            FileEntry::of(r.path.clone(), r.intervals, r.digest.clone(), content)
        });
        let groups = summary.split.as_ref().and_then(|s| s.groups.as_ref());
        let split_groups = groups.map(|g| {
            let content = Some(g.content.clone());
            FileEntry::of(g.path.clone(), g.lines, g.digest.clone(), content)
        });
        let variants = summary.variants.as_ref().map(|v| {
            let content = Some(v.content.clone());
            FileEntry::of(v.path.clone(), v.mutants, v.digest.clone(), content)
        });
        let mut m = Manifest {
            tool: TOOL.into(),
            manifest_version: MANIFEST_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
            rng_scheme: SCHEME_VERSION,
            command_line: Vec::new(),
            working_directory: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            options,
            inputs,
            outputs,
            regions,
            split_groups,
            variants,
        };
        let manifest = job.manifest.as_ref().map(|p| p.display().to_string());
        m.command_line = m.canonical_command_line(manifest.as_deref());
        Ok(m)
    }

    /// The command that makes this set: `protmask mask`, the options that differ from
    /// the preset's (`MaskConfig::flags`), the outputs (`--output`/`--outdir`,
    /// `--rates`, `--dataset`, `--manifest`), `--` and the inputs. Every value is one
    /// `--flag=value` token, so a value that starts with `-` reads back as itself.
    /// A scan's is `protmask scan`, its flags (`MaskConfig::scan_flags`), its outputs and
    /// the variants table, and the inputs (a variants scan's reference as `--reference=`).
    pub fn canonical_command_line(&self, manifest: Option<&str>) -> Vec<String> {
        let regions_path = self.regions.as_ref().map(|r| r.path.as_str());
        let scan = self.options.scan.as_ref();
        let command = if scan.is_some() { "scan" } else { "mask" };
        let mut line = vec![TOOL.to_string(), command.to_string()];
        match scan {
            Some(_) => line.extend(self.options.scan_flags(regions_path)),
            None => line.extend(self.options.flags(regions_path)),
        }
        for role in [Role::Fasta, Role::Rates, Role::Dataset, Role::Variants] {
            let Some(first) = self.outputs_of(role).next() else {
                continue;
            };
            match role {
                Role::Fasta if self.options.outdir => {
                    let dir = Path::new(&first.path)
                        .parent()
                        .map_or_else(String::new, |d| d.display().to_string());
                    line.push(format!("--outdir={dir}"));
                }
                Role::Fasta if first.path == "-" => {}
                // A dataset folder: its shards' folder, with the trailing slash.
                Role::Dataset if self.options.shard_rows.is_some() => {
                    let dir =
                        shards::folder_of_shard(Path::new(&first.path)).unwrap_or(Path::new("."));
                    line.push(format!("--dataset={}", shards::shown(dir)));
                }
                _ => line.push(format!("--{}={}", role.flag(), first.path)),
            }
        }
        if let Some(m) = manifest {
            line.push(format!("--manifest={m}"));
        }
        if let (Some(_), [reference]) = (scan.and_then(|s| s.variants.as_ref()), &self.inputs[..]) {
            line.push(format!("--reference={}", reference.path));
            return line;
        }
        line.push("--".into());
        line.extend(self.inputs.iter().map(|e| e.path.clone()));
        line
    }

    /// The `--manifest=` path of a version-2 command line.
    fn manifest_path_in(line: &[String]) -> Option<&str> {
        line.iter().find_map(|t| t.strip_prefix("--manifest="))
    }

    /// A version-2 manifest's `command_line` and `version` agree with its options and
    /// format (an edit to either is refused; an edit elsewhere changes what a digest is
    /// checked against).
    pub fn check_integrity(&self) -> std::result::Result<(), String> {
        if self.manifest_version < 2 {
            return Ok(());
        }
        let version = parse_version(&self.version)
            .ok_or_else(|| format!("its version '{}' is not a protmask version", self.version))?;
        if version < VERSION_2_SINCE {
            return Err(format!(
                "its version {} is older than the manifest format (version {}) it uses: \
                 the manifest was edited",
                self.version, self.manifest_version
            ));
        }
        // A file whose content is as large as the file is stored uncompressed: its two
        // digests are one.
        let entries = (self.inputs.iter().chain(&self.outputs))
            .chain(&self.regions)
            .chain(&self.split_groups)
            .chain(&self.variants);
        for e in entries {
            if e.content_bytes == Some(e.bytes) && e.content_sha256.as_ref() != Some(&e.sha256) {
                return Err(format!(
                    "the digests recorded for '{}' disagree (an uncompressed file with two \
                     SHA-256s): the manifest was edited",
                    e.path
                ));
            }
        }
        let expected = self.canonical_command_line(Self::manifest_path_in(&self.command_line));
        if self.command_line != expected {
            return Err(format!(
                "its command_line does not match its options (the manifest was edited): \
                 the options say `{}`",
                expected.join(" ")
            ));
        }
        Ok(())
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
        out.close()
            .with_context(|| format!("cannot write manifest '{}'", path.display()))
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
        let this = env!("CARGO_PKG_VERSION");
        let newer = match (parse_version(&m.version), parse_version(this)) {
            (Some(theirs), Some(ours)) => theirs > ours,
            _ => false,
        };
        if newer || m.manifest_version > MANIFEST_VERSION {
            bail!(
                "manifest '{}' was written by protmask {} (manifest format {}), newer than \
                 this protmask ({this}, format {MANIFEST_VERSION}): use protmask {} or later",
                path.display(),
                m.version,
                m.manifest_version,
                m.version
            );
        }
        if let Err(e) = m.check_integrity() {
            bail!("manifest '{}' cannot be trusted: {e}", path.display());
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
    /// order; a dataset folder's, one per split), each under `outdir` with its recorded
    /// file name (stdout as `stdout`; a dataset folder by its own name, its card made with
    /// its shards).
    fn output_specs(&self, outdir: &Path) -> Result<Vec<OutputSpec>> {
        let in_outdir = |p: &str| -> PathBuf {
            let name = match Path::new(p).file_name() {
                Some(n) if p != "-" => n.to_owned(),
                _ => "stdout".into(),
            };
            outdir.join(name)
        };
        let mut specs: Vec<OutputSpec> = Vec::new();
        for entry in &self.outputs {
            let Some(role) = entry.role else { continue };
            if role == Role::Card {
                continue;
            }
            if let (Role::Dataset, Some(rows)) = (role, self.options.shard_rows) {
                specs.extend(self.folder_split(entry, rows, outdir, &specs)?);
                continue;
            }
            if specs.iter().any(|s| s.role == role) {
                continue;
            }
            let entries: Vec<&FileEntry> = self.outputs_of(role).collect();
            let per_split = (self.options.split.as_ref()).filter(|_| role == Role::Fasta);
            if let (true, Some(splits)) = (self.options.outdir, per_split) {
                // `-O` with `--split`: one FASTA per split, in the splits' order.
                if entries.len() != splits.len() {
                    bail!(
                        "the manifest records {} FASTA outputs for {} splits",
                        entries.len(),
                        splits.len()
                    );
                }
                let names = splits.names();
                let paths: Vec<PathBuf> = entries.iter().map(|e| in_outdir(&e.path)).collect();
                specs.extend(OutputSpec::per_split(
                    role,
                    Format::Fasta,
                    &names,
                    |i, _| {
                        let compression = Compression::from_path(&paths[i]);
                        Target::One(OutputTarget::Path(paths[i].clone()), compression)
                    },
                ));
                continue;
            }
            let spec = if role == Role::Fasta && self.options.outdir {
                let paths = entries.iter().map(|e| in_outdir(&e.path)).collect();
                OutputSpec {
                    role,
                    format: Format::Fasta,
                    target: Target::PerInput(paths),
                    split: None,
                }
            } else {
                let [single] = entries.as_slice() else {
                    bail!(
                        "the manifest records {} {} outputs, expected one",
                        entries.len(),
                        role
                    );
                };
                if single.path == "-" {
                    // Stdout (the FASTA, or a JSON Lines dataset: `--dataset -`), compressed
                    // by `--compress`.
                    let compression = self.options.compress.unwrap_or(Compression::None);
                    let format = match role {
                        Role::Dataset => Format::Jsonl,
                        _ => Format::for_file(role, Path::new("-"))?.0,
                    };
                    let target = OutputTarget::Path(in_outdir(&single.path));
                    OutputSpec {
                        role,
                        format,
                        target: Target::One(target, compression),
                        split: None,
                    }
                } else {
                    OutputSpec::file(role, &in_outdir(&single.path))?
                }
            };
            specs.push(spec);
        }
        Ok(specs)
    }

    /// The split of a recorded dataset-folder shard, rebuilt under `outdir` in a folder of
    /// the recorded one's name (`None` once its split has a spec among `specs`).
    fn folder_split(
        &self,
        shard: &FileEntry,
        rows: u64,
        outdir: &Path,
        specs: &[OutputSpec],
    ) -> Result<Option<OutputSpec>> {
        let path = Path::new(&shard.path);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let (Some(dir), Some((split, _, _))) = (
            shards::folder_of_shard(path),
            name.as_deref().and_then(shards::parse_shard_name),
        ) else {
            bail!(
                "the manifest records '{}' as a shard of a dataset folder, which is not a \
                 shard's name",
                shard.path
            );
        };
        let dir = outdir.join(shards::folder_name(dir));
        let seen = specs.iter().any(|s| {
            matches!(&s.target, Target::Shards { dir: d, split: sp, .. } if *d == dir && sp == split)
        });
        if seen {
            return Ok(None);
        }
        let mut spec = OutputSpec::dataset_folder(&dir)?;
        if let Target::Shards {
            split: sp,
            rows: r,
            force,
            ..
        } = &mut spec.target
        {
            *sp = split.to_string();
            *r = rows;
            // A regeneration replaces its own earlier rebuild, as it does single files.
            *force = true;
        }
        // With `--split`, each split's shards hold that split's records alone.
        if let Some(splits) = &self.options.split {
            let i = (splits.names().iter().position(|n| n == split)).with_context(|| {
                format!(
                    "the manifest records the shard '{}' of a split '{split}' that its split \
                     rule ({splits}) does not name",
                    shard.path
                )
            })?;
            spec.split = Some(i);
        }
        Ok(Some(spec))
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
            recorded_inputs: Some(self.inputs.clone()),
        })
    }
}
