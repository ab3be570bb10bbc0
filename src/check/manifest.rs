//! `verify --manifest`: the files given are the ones a manifest records (inputs, outputs,
//! regions file, by size and SHA-256; a recorded file is found as recorded or beside the
//! manifest, so a set can be moved), and the recorded job, run again into a temporary
//! directory, writes the recorded outputs byte for byte, or, for a compressed output made
//! by another compressor, the same uncompressed content.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{Digests, Recorded, TableDifference};
use super::{Regenerated, Request, VerifyError};
use crate::config::{MaskConfig, MaskOption, OptionError};
use crate::engine::{Input, run};
use crate::io::{Compression, FileDigest, InputSource, open_input};
use crate::manifest::{FileEntry, Manifest, Matched};
use crate::regions::{Regions, RegionsMode, RegionsSource};
use crate::sink::{Format, Role, shards, split_fasta_name};
use crate::split::{Groups, GroupsFile, SplitRule};

/// The manifest at `path`, or why it cannot be used.
pub(super) fn read(path: &Path) -> Result<Manifest, VerifyError> {
    Manifest::read(path).map_err(|e| VerifyError::Unreadable {
        file: path.display().to_string(),
        message: format!("{e:#}"),
    })
}

/// Size and SHA-256 of a file's bytes as stored (compressed or not).
pub(super) fn digest_file(path: &Path) -> Result<FileDigest, VerifyError> {
    FileDigest::of_file(path).map_err(|e| cannot_read(path, e))
}

/// Size and SHA-256 of a file's content once decompressed (as `mask` would read it).
pub(super) fn content_digest(path: &Path) -> Result<FileDigest, VerifyError> {
    let read = || -> std::io::Result<FileDigest> {
        let (_, reader) = open_input(&InputSource::Path(path.to_path_buf()))?;
        FileDigest::of_reader(reader)
    };
    read().map_err(|e| cannot_read(path, e))
}

pub(super) fn cannot_read(path: &Path, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Unreadable {
        file: path.display().to_string(),
        message: format!("cannot read '{}': {e}", path.display()),
    }
}

/// A recorded path: as given if it exists from here, else beside the manifest.
fn locate(recorded: &str, manifest: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(recorded);
    if p.exists() {
        return Some(p);
    }
    let beside = manifest.parent()?.join(&p);
    beside.exists().then_some(beside)
}

/// The file at `path` is the one `entry` records (`what`, in manifest `manifest`): by its
/// bytes as stored, else (when the manifest has content digests) by its decompressed
/// content, with a note for the report; else the error names both digests.
fn identify(
    entry: &FileEntry,
    path: &Path,
    shown: &str,
    what: Recorded,
    manifest: &str,
) -> Result<Option<String>, VerifyError> {
    let stored = digest_file(path)?;
    if entry.stored_is(&stored) {
        return Ok(None);
    }
    if entry.content().is_some() {
        let content = content_digest(path)?;
        if entry.matches(&stored, Some(&content)) == Some(Matched::Content) {
            return Ok(Some(format!(
                "'{shown}' matched the recorded '{}' by content (it was compressed, \
                 decompressed or recompressed)",
                entry.path
            )));
        }
    }
    Err(VerifyError::DigestMismatch {
        manifest: manifest.to_string(),
        what,
        path: shown.to_string(),
        recorded_path: entry.path.clone(),
        digests: Box::new(Digests {
            recorded: recorded_digest(entry),
            found: stored,
        }),
    })
}

/// The inputs are the ones the manifest records (ORIGINAL stands for a single input;
/// several are found by their recorded paths), by their bytes or their content; returns
/// them, and a note for each that matched by content.
pub(super) fn check_inputs(
    m: &Manifest,
    manifest_path: &Path,
    original: &Input,
) -> Result<(Vec<InputSource>, Vec<String>), VerifyError> {
    let mname = manifest_path.display().to_string();
    let mut inputs = Vec::new();
    let mut notes = Vec::new();
    for entry in &m.inputs {
        let path = match (m.inputs.len(), &original.source) {
            (1, InputSource::Path(p)) => p.clone(),
            _ => locate(&entry.path, manifest_path).ok_or_else(|| VerifyError::Missing {
                manifest: mname.clone(),
                what: Recorded::Input,
                path: entry.path.clone(),
            })?,
        };
        let shown = match m.inputs.len() {
            1 => original.name.clone(),
            _ => path.display().to_string(),
        };
        notes.extend(identify(entry, &path, &shown, Recorded::Input, &mname)?);
        inputs.push(InputSource::Path(path));
    }
    Ok((inputs, notes))
}

fn recorded_digest(entry: &FileEntry) -> FileDigest {
    FileDigest {
        bytes: entry.bytes,
        sha256: entry.sha256.clone(),
    }
}

/// The regions to check eligibility by, and the manifest to regenerate from. With
/// `--regions`: the file given; with a manifest too, it must be the recorded regions (the
/// same intervals, when the manifest records them; else the recorded file by bytes or
/// content), and regeneration reads it. Without: the manifest's intervals, or its file
/// (found as given, else beside the manifest, and required to be the recorded one).
/// What `regions_to_check` found: the regions, the manifest to regenerate from (pointing
/// at the regions file to read), and a note when the file matched by content.
pub(super) struct RegionsChecked {
    pub regions: Option<Regions>,
    pub manifest: Option<Manifest>,
    pub notes: Vec<String>,
}

fn checked(
    regions: Option<Regions>,
    manifest: Option<Manifest>,
    notes: Vec<String>,
) -> RegionsChecked {
    RegionsChecked {
        regions,
        manifest,
        notes,
    }
}

pub(super) fn regions_to_check(
    request: &Request,
    manifest: Option<Manifest>,
) -> Result<RegionsChecked, VerifyError> {
    let mut notes = Vec::new();
    let recorded = manifest.as_ref().and_then(|m| m.options.regions.clone());
    let mname = request
        .manifest
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Some(path) = &request.regions {
        let mode = request
            .regions_mode
            .or(recorded.as_ref().map(|r| r.mode))
            .unwrap_or(RegionsMode::Only);
        let regions = read_regions(Path::new(path), path, mode)?;
        let (Some(option), Some(mut m)) = (recorded, manifest) else {
            return Ok(checked(Some(regions), None, notes));
        };
        match &option.source {
            RegionsSource::Intervals(map) => {
                if regions.to_map().as_ref() != Some(map) {
                    return Err(VerifyError::Other {
                        file: Some(path.clone()),
                        message: format!(
                            "regions file '{path}' does not have the intervals recorded in \
                             manifest '{mname}'"
                        ),
                    });
                }
            }
            RegionsSource::Path(_) => {
                if let Some(entry) = &m.regions {
                    notes.extend(identify(
                        entry,
                        Path::new(path),
                        path,
                        Recorded::RegionsFile,
                        &mname,
                    )?);
                }
                // Regeneration reads the file given, not the recorded name.
                if let Some(r) = m.options.regions.as_mut() {
                    r.found_at = Some(path.clone());
                }
            }
        }
        return Ok(checked(Some(regions), Some(m), notes));
    }
    let (Some(option), Some(mpath)) = (recorded, request.manifest.as_deref()) else {
        return Ok(checked(None, manifest, notes));
    };
    let Some(mut m) = manifest else {
        return Ok(checked(None, None, notes));
    };
    let Some(recorded_path) = option.path() else {
        // Intervals recorded in the manifest itself.
        let regions = option.load().map_err(|e| VerifyError::Unreadable {
            file: mname,
            message: format!("{e:#}"),
        })?;
        return Ok(checked(Some(regions), Some(m), notes));
    };
    let found = locate(recorded_path, mpath).ok_or_else(|| VerifyError::Missing {
        manifest: mname.clone(),
        what: Recorded::RegionsFile,
        path: recorded_path.to_string(),
    })?;
    let shown = found.display().to_string();
    if let Some(entry) = &m.regions {
        notes.extend(identify(
            entry,
            &found,
            &shown,
            Recorded::RegionsFile,
            &mname,
        )?);
    }
    let regions = read_regions(&found, recorded_path, option.mode)?;
    if let Some(r) = m.options.regions.as_mut() {
        r.found_at = Some(shown);
    }
    Ok(checked(Some(regions), Some(m), notes))
}

/// The split rule to check the `split` column by: the one recorded (`recorded`, MASKED's
/// metadata or the manifest), else the one the flags give (`--split`, `--split-seed`,
/// `--split-groups`), else none. Its groups file is read where `--split-groups` says,
/// else as recorded (with a manifest: as recorded or beside it, and it must be the file
/// the manifest records, by bytes or content); the manifest's regeneration then reads it
/// from there.
pub(super) fn split_to_check(
    request: &Request,
    recorded: Option<&MaskConfig>,
    manifest: Option<&mut Manifest>,
    notes: &mut Vec<String>,
) -> Result<Option<SplitRule>, VerifyError> {
    let recorded = recorded.filter(|o| o.split.is_some());
    let (splits, seed, groups) = match recorded {
        Some(o) => (
            o.split.clone(),
            o.split_seed.unwrap_or(0),
            o.split_groups.as_ref().map(|g| g.path.clone()),
        ),
        None => (
            request.split.clone(),
            request.split_seed.unwrap_or(0),
            request.split_groups.clone(),
        ),
    };
    let Some(splits) = splits else {
        let without = [
            (request.split_seed.is_some(), MaskOption::SplitSeed),
            (request.split_groups.is_some(), MaskOption::SplitGroups),
        ];
        if let Some(&(_, option)) = without.iter().find(|(given, _)| *given) {
            return Err(VerifyError::Usage(
                OptionError::Requires {
                    option,
                    needs: MaskOption::Split,
                }
                .into(),
            ));
        }
        return Ok(None);
    };
    let groups = match groups {
        None => None,
        Some(recorded_path) => {
            let mname = request
                .manifest
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let found = match (&request.split_groups, request.manifest.as_deref()) {
                (Some(given), _) => PathBuf::from(given),
                (None, Some(mpath)) if recorded.is_some() => locate(&recorded_path, mpath)
                    .ok_or_else(|| VerifyError::Missing {
                        manifest: mname.clone(),
                        what: Recorded::SplitGroups,
                        path: recorded_path.clone(),
                    })?,
                _ => PathBuf::from(&recorded_path),
            };
            let shown = found.display().to_string();
            if let Some(m) = manifest {
                if let Some(entry) = &m.split_groups {
                    notes.extend(identify(
                        entry,
                        &found,
                        &shown,
                        Recorded::SplitGroups,
                        &mname,
                    )?);
                }
                if let Some(g) = m.options.split_groups.as_mut() {
                    g.found_at = Some(shown.clone());
                }
            }
            let file = GroupsFile {
                path: recorded_path,
                found_at: Some(shown),
            };
            Some(read_groups(&file, seed)?)
        }
    };
    Ok(Some(SplitRule {
        splits,
        seed,
        groups,
    }))
}

fn read_groups(file: &GroupsFile, seed: u64) -> Result<Groups, VerifyError> {
    file.load(seed).map_err(|e| VerifyError::Unreadable {
        file: file.path.clone(),
        message: format!("{e:#}"),
    })
}

/// The split whose records alone a FASTA MASKED holds (`-O` with `--split`, which the
/// options recorded in the manifest say): the recorded FASTA output MASKED is, by its
/// bytes, else its file name (`<split>.fa`, compressed or not). Without recorded
/// options, MASKED named so is taken for that split's FASTA. `None`: MASKED holds every
/// record.
pub(super) fn split_of_fasta(
    rule: &SplitRule,
    recorded: Option<&MaskConfig>,
    manifest: Option<&Manifest>,
    masked: &Input,
) -> Result<Option<usize>, VerifyError> {
    if recorded.is_some_and(|o| !o.outdir) {
        return Ok(None);
    }
    let Some(path) = masked.source.path() else {
        return Ok(None);
    };
    if let Some(m) = manifest.filter(|m| m.options.outdir) {
        let stored = digest_file(path)?;
        let fasta: Vec<&FileEntry> = m.outputs_of(Role::Fasta).collect();
        if fasta.len() == rule.splits.len()
            && let Some(i) = fasta.iter().position(|e| e.stored_is(&stored))
        {
            return Ok(Some(i));
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let compressions = [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ];
    Ok((0..rule.splits.len()).find(|&i| {
        compressions
            .iter()
            .any(|&c| split_fasta_name(rule.splits.name(i), c) == name)
    }))
}

fn read_regions(path: &Path, name: &str, mode: RegionsMode) -> Result<Regions, VerifyError> {
    Regions::read(path, name, mode).map_err(|e| VerifyError::Unreadable {
        file: name.to_string(),
        message: format!("{e:#}"),
    })
}

/// The outputs given (`masked`, of `role`, and `rates`) against the manifest's checksums,
/// then every recorded output regenerated into `dir` and compared.
pub(super) fn check_against(
    m: &Manifest,
    path: &Path,
    inputs: Vec<InputSource>,
    masked: &Input,
    role: Role,
    rates: Option<&Path>,
    dir: &Path,
) -> Result<Regenerated, VerifyError> {
    // The outputs given here match their recorded checksums: they can stand in for a
    // content digest that an older manifest lacks.
    let checked = check_outputs(m, path, masked, role, rates)?;
    let regen_dir = dir.join("regenerated");
    let mut regenerated = regenerate(m, path, inputs, &checked.on_hand, &regen_dir)?;
    regenerated.notes.extend(checked.notes);
    if let Some(table) = checked.unrecorded_table {
        let fresh = m
            .outputs_of(Role::Rates)
            .next()
            .map(|e| regen_dir.join(Path::new(&e.path).file_name().unwrap_or_default()))
            .ok_or_else(|| VerifyError::Other {
                file: Some(path.display().to_string()),
                message: "the manifest records no rates table".into(),
            })?;
        return Err(VerifyError::TableNotRecorded {
            manifest: path.display().to_string(),
            path: table.display().to_string(),
            difference: Box::new(first_table_difference(&table, &fresh)?),
        });
    }
    Ok(regenerated)
}

/// What `check_outputs` found.
struct CheckedOutputs {
    /// Given files that are recorded outputs, with their digests.
    on_hand: Vec<(PathBuf, FileDigest)>,
    /// A rates table given that is not the recorded one: its first difference from the
    /// regenerated table is the error, once regenerated.
    unrecorded_table: Option<PathBuf>,
    /// Given files that matched a recorded output by content.
    notes: Vec<String>,
}

/// A file given for a recorded output.
enum OutputMatch {
    /// It is one: its stored digest, and a note if it matched by content.
    Recorded(FileDigest, Option<String>),
    /// It is none: its stored digest.
    Not(FileDigest),
}

/// The recorded output of `role` that the file at `path` is (by bytes, else by content):
/// its stored digest and a note if by content; else the file's stored digest.
fn recorded_output(
    m: &Manifest,
    role: Role,
    path: &Path,
    shown: &str,
) -> Result<OutputMatch, VerifyError> {
    let stored = digest_file(path)?;
    if m.outputs_of(role).any(|e| e.stored_is(&stored)) {
        return Ok(OutputMatch::Recorded(stored, None));
    }
    if m.outputs_of(role).any(|e| e.content().is_some()) {
        let content = content_digest(path)?;
        if let Some(e) = m
            .outputs_of(role)
            .find(|e| e.matches(&stored, Some(&content)).is_some())
        {
            let note = format!(
                "'{shown}' matched the recorded output '{}' by content (it was compressed, \
                 decompressed or recompressed)",
                e.path
            );
            return Ok(OutputMatch::Recorded(stored, Some(note)));
        }
    }
    Ok(OutputMatch::Not(stored))
}

/// MASKED is an output of `role` the manifest records (else an error); the rates table is
/// checked the same way, but a table that is not the recorded one is reported after the
/// regeneration, by its first differing row and column.
fn check_outputs(
    m: &Manifest,
    manifest_path: &Path,
    masked: &Input,
    role: Role,
    rates: Option<&Path>,
) -> Result<CheckedOutputs, VerifyError> {
    let mut checked = CheckedOutputs {
        on_hand: Vec::new(),
        unrecorded_table: None,
        notes: Vec::new(),
    };
    // MASKED, or each shard and the card of a dataset folder.
    let given: Vec<(PathBuf, String, Role)> = match masked.source.path() {
        Some(dir) if dir.is_dir() => folder_files(dir)?,
        Some(p) => vec![(p.to_path_buf(), masked.name.clone(), role)],
        None => Vec::new(),
    };
    for (p, shown, role) in given {
        match recorded_output(m, role, &p, &shown)? {
            OutputMatch::Recorded(d, note) => {
                checked.notes.extend(note);
                checked.on_hand.push((p, d));
            }
            OutputMatch::Not(found) => {
                return Err(VerifyError::NotAnOutput {
                    manifest: manifest_path.display().to_string(),
                    path: shown,
                    role,
                    found,
                });
            }
        }
    }
    if let Some(r) = rates {
        match recorded_output(m, Role::Rates, r, &r.display().to_string())? {
            OutputMatch::Recorded(d, note) => {
                checked.notes.extend(note);
                checked.on_hand.push((r.to_path_buf(), d));
            }
            OutputMatch::Not(_) => checked.unrecorded_table = Some(r.to_path_buf()),
        }
    }
    Ok(checked)
}

/// A dataset folder's files: every shard, then its card if it has one.
fn folder_files(dir: &Path) -> Result<Vec<(PathBuf, String, Role)>, VerifyError> {
    let splits = shards::read_folder(dir).map_err(|message| VerifyError::Unreadable {
        file: dir.display().to_string(),
        message,
    })?;
    let mut files: Vec<(PathBuf, String, Role)> = (splits.into_iter())
        .flat_map(|(_, files)| files)
        .map(|p| (p.clone(), p.display().to_string(), Role::Dataset))
        .collect();
    let card = dir.join(shards::CARD);
    if card.is_file() {
        files.push((card.clone(), card.display().to_string(), Role::Card));
    }
    Ok(files)
}

/// The first row and column where two rates tables differ, both values shown.
fn first_table_difference(given: &Path, fresh: &Path) -> Result<TableDifference, VerifyError> {
    let open = |p: &Path| -> Result<csv::Reader<Box<dyn Read + Send>>, VerifyError> {
        let (_, raw) =
            open_input(&InputSource::Path(p.to_path_buf())).map_err(|e| cannot_read(p, e))?;
        let (format, _) =
            Format::for_file(Role::Rates, p).map_err(|e| VerifyError::Unreadable {
                file: p.display().to_string(),
                message: e.to_string(),
            })?;
        let delimiter = format.delimiter().unwrap_or(b',');
        Ok(csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(raw))
    };
    let (mut a, mut b) = (open(given)?, open(fresh)?);
    let (mut ra, mut rb) = (csv::StringRecord::new(), csv::StringRecord::new());
    let mut header = csv::StringRecord::new();
    for row in 0u64.. {
        let more_a = a.read_record(&mut ra).unwrap_or(false);
        let more_b = b.read_record(&mut rb).unwrap_or(false);
        if row == 0 {
            header = rb.clone();
        }
        match (more_a, more_b) {
            (false, false) => break,
            (true, false) => return Ok(TableDifference::ExtraRow { row }),
            (false, true) => return Ok(TableDifference::EndsEarly { rows: row }),
            (true, true) => {}
        }
        let columns = ra.len().max(rb.len());
        if let Some(c) = (0..columns).find(|&c| ra.get(c) != rb.get(c)) {
            let found = ra.get(c).unwrap_or("").to_string();
            let expected = rb.get(c).unwrap_or("").to_string();
            if row == 0 {
                return Ok(TableDifference::Header {
                    column: c + 1,
                    found,
                    expected: header.get(c).unwrap_or("?").to_string(),
                });
            }
            return Ok(TableDifference::Field {
                row,
                id: rb.get(1).unwrap_or("?").to_string(),
                replicate: rb.get(2).unwrap_or("?").to_string(),
                column: header.get(c).unwrap_or("?").to_string(),
                found,
                expected,
            });
        }
    }
    Ok(TableDifference::Formatting)
}

/// Run the recorded job again into `dir` and compare every output.
fn regenerate(
    m: &Manifest,
    manifest_path: &Path,
    inputs: Vec<InputSource>,
    on_hand: &[(PathBuf, FileDigest)],
    dir: &Path,
) -> Result<Regenerated, VerifyError> {
    let mname = manifest_path.display().to_string();
    std::fs::create_dir_all(dir).map_err(|e| VerifyError::Other {
        file: Some(dir.display().to_string()),
        message: format!("cannot create '{}': {e}", dir.display()),
    })?;
    // A variants scan reads its variants file again: as recorded or beside the manifest,
    // with the recorded bytes (or content).
    let mut m = m.clone();
    let variants = (m.options.scan.as_mut()).and_then(|s| s.variants.as_mut());
    if let (Some(entry), Some(v)) = (m.variants.clone(), variants) {
        let path = locate(&entry.path, manifest_path).ok_or_else(|| VerifyError::Missing {
            manifest: mname.clone(),
            what: Recorded::VariantsFile,
            path: entry.path.clone(),
        })?;
        identify(&entry, &path, &entry.path, Recorded::VariantsFile, &mname)?;
        v.found_at = Some(path.display().to_string());
    }
    let m = &m;
    let job = m.job(inputs, dir).map_err(|e| VerifyError::Other {
        file: Some(mname.clone()),
        message: format!("{e:#}"),
    })?;
    let summary = run(job).map_err(|e| VerifyError::RegenerationFailed {
        manifest: mname.clone(),
        message: format!("{e:#}"),
    })?;
    if summary.outputs.len() != m.outputs.len() {
        return Err(VerifyError::OutputCount {
            manifest: mname,
            found: summary.outputs.len(),
            expected: m.outputs.len(),
        });
    }
    let mut result = Regenerated::default();
    for (got, want) in summary.outputs.iter().zip(&m.outputs) {
        let d = got.digest.as_ref().ok_or_else(|| VerifyError::Other {
            file: None,
            message: "internal error: no digest of a regenerated output".into(),
        })?;
        let records_agree = got.records == want.records;
        if want.stored_is(&d.stored) && records_agree {
            result.identical += 1;
            continue;
        }
        let recorded_content = match want.content() {
            Some(c) => Some(c),
            // A manifest from before content digests: the recorded file itself, if given.
            None => match on_hand.iter().find(|(_, d)| want.stored_is(d)) {
                Some((p, _)) => Some(content_digest(p)?),
                None => None,
            },
        };
        let found_content = d.content.as_ref().unwrap_or(&d.stored);
        let content = recorded_content.map(|r| Digests {
            recorded: r,
            found: found_content.clone(),
        });
        if content.as_ref().is_some_and(|c| c.recorded == c.found) && records_agree {
            result.same_content += 1;
            continue;
        }
        if let Some(why) = m.older_law() {
            return Err(VerifyError::RegenerationFailed {
                manifest: mname,
                message: format!("{} does not reproduce: {why}", want.path),
            });
        }
        return Err(VerifyError::NotReproduced {
            manifest: mname,
            role: want.role,
            path: want.path.clone(),
            stored: Box::new(Digests {
                recorded: recorded_digest(want),
                found: d.stored.clone(),
            }),
            recorded_records: want.records,
            regenerated_records: got.records,
            content: content.map(Box::new),
        });
    }
    Ok(result)
}
