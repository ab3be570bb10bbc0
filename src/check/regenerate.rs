//! `protmask regenerate`: rebuild a published set from its manifest alone, wherever its
//! inputs now are. Each recorded input (and a recorded regions file, when the manifest
//! does not hold the intervals, and a split groups file) is found among the paths given, by its recorded file name
//! or by its digest (as stored, or of its decompressed content: a renamed or recompressed
//! copy is the same input), else as recorded or beside the manifest. The recorded job then
//! writes every recorded output into a folder, and each output is compared with the
//! recorded digests: a set is rebuilt in one command, in a fresh folder.

use std::path::{Path, PathBuf};

use super::VerifyError;
use super::error::Recorded;
use super::manifest::{cannot_read, content_digest, digest_file};
use crate::engine::run;
use crate::io::{FileDigest, InputSource, open_input};
use crate::manifest::{FileEntry, Matched};
use crate::regions::RegionsSource;

/// How one regenerated output compares with its record.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Byte for byte.
    Identical,
    /// Not byte for byte, but its decompressed content is the recorded content (another
    /// compressor version made the compressed bytes).
    SameContent,
    /// Differs: the recorded and the regenerated digests, and the first differing line
    /// of the content, when the recorded output was at hand to compare.
    Differs {
        recorded: FileDigest,
        regenerated: FileDigest,
        first_difference: Option<String>,
    },
}

/// One regenerated output.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebuilt {
    /// As the manifest records it.
    pub recorded_path: String,
    /// Where it was written.
    pub path: PathBuf,
    pub outcome: Outcome,
}

/// What `regenerate` found and wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Regeneration {
    /// For each recorded input: the file used, and a note when it was found by its digest
    /// rather than its name, or matched by content.
    pub inputs: Vec<(PathBuf, Option<String>)>,
    pub outputs: Vec<Rebuilt>,
}

impl Regeneration {
    /// Every output is the recorded one (byte for byte or by content).
    pub fn all_reproduced(&self) -> bool {
        self.outputs
            .iter()
            .all(|o| !matches!(o.outcome, Outcome::Differs { .. }))
    }
}

/// Rebuild the set `manifest` records into `outdir` (created), finding its inputs among
/// `search` (files, or folders whose files are candidates).
pub fn regenerate(
    manifest: &Path,
    search: &[PathBuf],
    outdir: &Path,
) -> Result<Regeneration, VerifyError> {
    let mname = manifest.display().to_string();
    let mut m = super::manifest::read(manifest)?;
    let candidates = Candidates::new(search, &m.working_directory)?;
    let mut result = Regeneration::default();
    let mut sources = Vec::new();
    for entry in &m.inputs {
        let (path, note) =
            candidates
                .find(entry, manifest)?
                .ok_or_else(|| VerifyError::Missing {
                    manifest: mname.clone(),
                    what: Recorded::Input,
                    path: entry.path.clone(),
                })?;
        sources.push(InputSource::Path(path.clone()));
        result.inputs.push((path, note));
    }
    if let (Some(entry), Some(option)) = (m.regions.clone(), m.options.regions.as_mut())
        && matches!(option.source, RegionsSource::Path(_))
    {
        let (path, _) = candidates
            .find(&entry, manifest)?
            .ok_or_else(|| VerifyError::Missing {
                manifest: mname.clone(),
                what: Recorded::RegionsFile,
                path: entry.path.clone(),
            })?;
        option.found_at = Some(path.display().to_string());
    }
    if let (Some(entry), Some(groups)) = (m.split_groups.clone(), m.options.split_groups.as_mut()) {
        let (path, _) = candidates
            .find(&entry, manifest)?
            .ok_or_else(|| VerifyError::Missing {
                manifest: mname.clone(),
                what: Recorded::SplitGroups,
                path: entry.path.clone(),
            })?;
        groups.found_at = Some(path.display().to_string());
    }
    let variants = (m.options.scan.as_mut()).and_then(|s| s.variants.as_mut());
    if let (Some(entry), Some(v)) = (m.variants.clone(), variants) {
        let (path, _) = candidates
            .find(&entry, manifest)?
            .ok_or_else(|| VerifyError::Missing {
                manifest: mname.clone(),
                what: Recorded::VariantsFile,
                path: entry.path.clone(),
            })?;
        v.found_at = Some(path.display().to_string());
    }
    std::fs::create_dir_all(outdir).map_err(|e| VerifyError::Other {
        file: Some(outdir.display().to_string()),
        message: format!("cannot create '{}': {e}", outdir.display()),
    })?;
    let mut job = m.job(sources, outdir).map_err(|e| VerifyError::Other {
        file: Some(mname.clone()),
        message: format!("{e:#}"),
    })?;
    let name = manifest.file_name().unwrap_or("manifest.json".as_ref());
    job.manifest = Some(outdir.join(name));
    let summary = run(job).map_err(|e| VerifyError::RegenerationFailed {
        manifest: mname.clone(),
        message: format!("{e:#}"),
    })?;
    // A dataset folder's shards are counted only as they are written.
    if summary.outputs.len() != m.outputs.len() {
        return Err(VerifyError::OutputCount {
            manifest: mname,
            found: summary.outputs.len(),
            expected: m.outputs.len(),
        });
    }
    for (got, want) in summary.outputs.iter().zip(&m.outputs) {
        let path = PathBuf::from(&got.path);
        let d = got.digest.clone().ok_or_else(|| VerifyError::Other {
            file: None,
            message: "internal error: no digest of a regenerated output".into(),
        })?;
        let content = d.content.clone().unwrap_or_else(|| d.stored.clone());
        let outcome = match want.matches(&d.stored, Some(&content)) {
            Some(Matched::Stored) => Outcome::Identical,
            Some(Matched::Content) => Outcome::SameContent,
            None => Outcome::Differs {
                recorded: want.stored(),
                regenerated: d.stored,
                first_difference: first_difference(want, manifest, &path),
            },
        };
        result.outputs.push(Rebuilt {
            recorded_path: want.path.clone(),
            path,
            outcome,
        });
    }
    Ok(result)
}

/// The options a published set was made with, to mask more records the same way (Python's
/// `Masker.from_manifest`): from its manifest (JSON), or from a Parquet dataset (a file
/// or a folder of shards) that records them (`protmask.options`). A regions file the
/// manifest records by path is found as `regenerate` finds it (as recorded, beside the
/// manifest, from the recorded working directory; its digest checked); a Parquet file's
/// as recorded, else beside the file (no digest is recorded there). The split options are dropped: a split is not part of
/// a record's mask.
pub fn recorded_options(path: &Path) -> Result<crate::config::MaskConfig, VerifyError> {
    let name = path.display().to_string();
    let parquet = path.is_dir()
        || std::fs::File::open(path)
            .and_then(|mut f| {
                let mut magic = [0u8; 4];
                std::io::Read::read_exact(&mut f, &mut magic).map(|_| &magic == b"PAR1")
            })
            .unwrap_or(false);
    let mut options = if parquet {
        let mut options = crate::provenance::Provenance::of_dataset(path)
            .map_err(|message| VerifyError::Unreadable {
                file: name.clone(),
                message,
            })?
            .ok_or_else(|| VerifyError::Unreadable {
                file: name.clone(),
                message: format!(
                    "it records no options (no {} in its metadata: made by protmask \
                     before 0.3?); use the set's manifest",
                    crate::provenance::OPTIONS
                ),
            })?
            .options;
        // A regions file recorded by path: as recorded, else beside the dataset.
        if let Some(option) = options.regions.as_mut()
            && let RegionsSource::Path(recorded) = &option.source
            && !Path::new(recorded).is_file()
        {
            let beside = path.parent().map(|d| d.join(recorded));
            if let Some(found) = beside.filter(|p| p.is_file()) {
                option.found_at = Some(found.display().to_string());
            }
        }
        options
    } else {
        let mut m = super::manifest::read(path)?;
        if let (Some(entry), Some(option)) = (m.regions.clone(), m.options.regions.as_mut())
            && matches!(option.source, RegionsSource::Path(_))
        {
            let (found, _) = Candidates::new(&[], &m.working_directory)?
                .find(&entry, path)?
                .ok_or_else(|| VerifyError::Missing {
                    manifest: name.clone(),
                    what: Recorded::RegionsFile,
                    path: entry.path.clone(),
                })?;
            option.found_at = Some(found.display().to_string());
        }
        m.options
    };
    options.split = None;
    options.split_seed = None;
    options.split_groups = None;
    Ok(options)
}

/// The files a recorded one may be: those given, and the files in the folders given.
struct Candidates {
    files: Vec<PathBuf>,
    /// The manifest's `working_directory`: a relative recorded path is also looked for
    /// from there.
    working_directory: String,
}

impl Candidates {
    fn new(search: &[PathBuf], working_directory: &str) -> Result<Candidates, VerifyError> {
        let mut files = Vec::new();
        for p in search {
            if p.is_dir() {
                let entries = std::fs::read_dir(p).map_err(|e| cannot_read(p, e))?;
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect();
                found.sort();
                files.extend(found);
            } else if p.exists() {
                files.push(p.clone());
            } else {
                return Err(cannot_read(p, "No such file or directory"));
            }
        }
        Ok(Candidates {
            files,
            working_directory: working_directory.to_string(),
        })
    }

    /// The file that `entry` records: among the candidates, the one with its file name,
    /// else any with its digest (as stored, then by content); with no candidates, the
    /// recorded path, the same path beside the manifest or from the recorded working
    /// directory. Every file found must match the recorded digests.
    fn find(
        &self,
        entry: &FileEntry,
        manifest: &Path,
    ) -> Result<Option<(PathBuf, Option<String>)>, VerifyError> {
        let recorded_name = Path::new(&entry.path).file_name();
        let mut ordered: Vec<&PathBuf> = self
            .files
            .iter()
            .filter(|p| p.file_name() == recorded_name)
            .collect();
        ordered.extend(self.files.iter().filter(|p| p.file_name() != recorded_name));
        let beside = manifest.parent().map(|d| d.join(&entry.path));
        let fallback = [PathBuf::from(&entry.path)]
            .into_iter()
            .chain(beside)
            .chain([Path::new(&self.working_directory).join(&entry.path)])
            .filter(|p| p.is_file())
            .collect::<Vec<_>>();
        if self.files.is_empty() {
            ordered.extend(fallback.iter());
        }
        for path in ordered {
            let stored = digest_file(path)?;
            let content = match entry.content() {
                // A file that is no readable compressed stream has no content to match.
                Some(_) if !entry.stored_is(&stored) => content_digest(path).ok(),
                _ => None,
            };
            if let Some(how) = entry.matches(&stored, content.as_ref()) {
                let by_name = path.file_name() == recorded_name;
                let note = match (how, by_name) {
                    (Matched::Stored, true) => None,
                    (Matched::Stored, false) => Some(format!(
                        "input '{}' is '{}' (same bytes, another name)",
                        entry.path,
                        path.display()
                    )),
                    (Matched::Content, _) => Some(format!(
                        "input '{}' is '{}' (same content, compressed differently)",
                        entry.path,
                        path.display()
                    )),
                };
                return Ok(Some((path.clone(), note)));
            }
        }
        Ok(None)
    }
}

/// The first line where the recorded output (found as recorded or beside the manifest)
/// and the regenerated one differ, both decompressed.
fn first_difference(want: &FileEntry, manifest: &Path, regenerated: &Path) -> Option<String> {
    use std::io::BufRead;
    let recorded = [PathBuf::from(&want.path)]
        .into_iter()
        .chain(manifest.parent().map(|d| d.join(&want.path)))
        .find(|p| p.is_file() && p != regenerated)?;
    let lines = |p: &Path| -> Option<std::io::Lines<std::io::BufReader<_>>> {
        let (_, r) = open_input(&InputSource::Path(p.to_path_buf())).ok()?;
        Some(std::io::BufReader::new(r).lines())
    };
    let (mut a, mut b) = (lines(&recorded)?, lines(regenerated)?);
    for n in 1u64.. {
        match (a.next(), b.next()) {
            (None, None) => return Some("the contents are equal line by line".into()),
            (Some(_), None) => return Some(format!("the regenerated output ends at line {n}")),
            (None, Some(_)) => return Some(format!("the recorded output ends at line {n}")),
            (Some(x), Some(y)) => {
                let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
                if x != y {
                    let cut = |s: &str| s.chars().take(60).collect::<String>();
                    return Some(format!(
                        "line {n}: recorded '{}', regenerated '{}'",
                        cut(&x),
                        cut(&y)
                    ));
                }
            }
        }
    }
    None
}
