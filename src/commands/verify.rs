//! `protmask verify`: MASKED is a masking of ORIGINAL; with `--rates`, the table agrees;
//! with `--manifest`, every checksum matches and the recorded job, run again, reproduces
//! the recorded outputs byte for byte.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::VerifyArgs;
use protmask::check::{Expect, Verified, verify_within};
use protmask::config::MaskConfig;
use protmask::engine::Input;
use protmask::engine::run;
use protmask::io::{FileDigest, InputSource};
use protmask::manifest::{FileEntry, Manifest};
use protmask::mask::Corruption;
use protmask::regions::{Regions, RegionsMode, RegionsSource};
use protmask::sink::{Format, Role};

pub fn execute(args: VerifyArgs) -> Result<()> {
    let manifest = args.manifest.as_deref().map(Manifest::read).transpose()?;
    let expect = expectations(&args, manifest.as_ref().map(|m| &m.options));
    let original = InputSource::parse(&args.original);
    let masked = InputSource::parse(&args.masked);
    if original == InputSource::Stdin && masked == InputSource::Stdin {
        bail!("ORIGINAL and MASKED cannot both be stdin");
    }
    // With a manifest a file is read more than once (its checksum, its records, and the
    // inputs again to regenerate): stdin or a pipe is first copied to a temporary file,
    // so that it is read once (a pipe cannot be read twice, nor opened again).
    let spool = match &manifest {
        Some(_) => Some(
            tempfile::Builder::new()
                .prefix(".protmask-verify-")
                .tempdir()
                .context("cannot create a temporary directory")?,
        ),
        None => None,
    };
    let _registered = spool
        .as_ref()
        .map(|d| protmask::cleanup::Registered::new(d.path()));
    let spool_dir = spool.as_ref().map(|d| d.path());
    let original = spooled(original, &args.original, spool_dir, "original")?;
    let masked = spooled(masked, &args.masked, spool_dir, "masked")?;
    // The inputs' checksums first (comparing against the wrong original misleads), then
    // the masking itself (its message names the first bad position), then the outputs'
    // checksums, then the regeneration.
    let recorded_inputs = match (&manifest, &args.manifest) {
        (Some(m), Some(path)) => Some(check_inputs(m, path, &original)?),
        _ => None,
    };
    let (regions, manifest) = regions_to_check(&args, manifest)?;
    let dataset = masked_dataset(&args, &masked)?;
    let seen = match &dataset {
        Some(d) => {
            let d = (d.0.as_path(), d.1);
            protmask::check::verify_dataset(&original, d, &masked.name, &expect, regions.as_ref())?
        }
        None => verify_within(
            &original,
            &masked,
            args.rates.as_deref(),
            &expect,
            regions.as_ref(),
        )?,
    };
    let mut regenerated = Regenerated::default();
    if let (Some(m), Some(path), Some(inputs), Some(dir)) =
        (&manifest, &args.manifest, recorded_inputs, spool_dir)
    {
        let role = if dataset.is_some() {
            Role::Dataset
        } else {
            Role::Fasta
        };
        regenerated = check_against(m, path, inputs, &masked, role, args.rates.as_deref(), dir)?;
    }
    if !args.quiet {
        eprintln!(
            "{}",
            summary_line(&seen, &regenerated, &args, manifest.is_some())
        );
    }
    Ok(())
}

/// What the masking must look like: the flags given, else the manifest's options, else
/// the defaults.
fn expectations(args: &VerifyArgs, recorded: Option<&MaskConfig>) -> Expect {
    let corruption = match (args.corrupt, recorded) {
        (Some(c), _) => c,
        (None, Some(o)) => o.corrupt,
        (None, None) => Corruption::MASK_ONLY,
    };
    Expect {
        token: args
            .mask_token
            .clone()
            .or_else(|| recorded.map(|o| o.mask_token.clone()))
            .unwrap_or_else(|| "_".into())
            .into_bytes(),
        corruption,
        maskable: args
            .maskable
            .clone()
            .or_else(|| recorded.and_then(|o| o.maskable.clone()))
            .map(String::into_bytes),
        replicates: recorded.map(|o| o.replicates),
    }
}

/// MASKED as a dataset (`mask --dataset`), if its name says it is one; a dataset is
/// checked against ORIGINAL alone.
fn masked_dataset(args: &VerifyArgs, masked: &Input) -> Result<Option<(PathBuf, Format)>> {
    let Ok((format, _)) = Format::for_file(Role::Dataset, Path::new(&args.masked)) else {
        return Ok(None);
    };
    if args.rates.is_some() || args.regions.is_some() {
        return Err(protmask::UsageError::DatasetWithFastaOptions.into());
    }
    // A spooled pipe is read from its copy.
    let path = masked
        .source
        .path()
        .map_or_else(|| PathBuf::from(&args.masked), Path::to_path_buf);
    Ok(Some((path, format)))
}

/// The outputs given against the manifest's checksums, then every recorded output
/// regenerated into `dir` and compared.
fn check_against(
    m: &Manifest,
    path: &Path,
    inputs: Vec<InputSource>,
    masked: &Input,
    role: Role,
    rates: Option<&Path>,
    dir: &Path,
) -> Result<Regenerated> {
    // The outputs given here match their recorded checksums: they can stand in for a
    // content digest that an older manifest lacks.
    let checked = check_outputs(m, path, masked, role, rates)?;
    let regen_dir = dir.join("regenerated");
    let regenerated = regenerate(m, path, inputs, &checked.on_hand, &regen_dir)?;
    if let Some(table) = checked.unrecorded_table {
        let fresh = m
            .outputs_of(Role::Rates)
            .next()
            .map(|e| regen_dir.join(Path::new(&e.path).file_name().unwrap_or_default()))
            .context("the manifest records no rates table")?;
        bail!(
            "'{}' is not the rates table recorded in manifest '{}': {}",
            table.display(),
            path.display(),
            first_table_difference(&table, &fresh)?
        );
    }
    Ok(regenerated)
}

/// The closing line: what was verified, and what the manifest confirmed.
fn summary_line(
    seen: &Verified,
    regenerated: &Regenerated,
    args: &VerifyArgs,
    manifest: bool,
) -> String {
    let mut line = format!(
        "protmask: verified {} records{}, {} masked positions",
        seen.records,
        if seen.replicates > 1 {
            format!(" x {} replicates", seen.replicates)
        } else {
            String::new()
        },
        match seen.uncertain {
            0 => seen.changed.to_string(),
            // A residue-letter token over the same residue: masked or not, it reads
            // the same, and no listed positions tell.
            u => format!("{} to {}", seen.changed - u, seen.changed),
        }
    );
    if args.rates.is_some() {
        line.push_str(&format!(", {} rates rows", seen.rows));
    }
    if manifest {
        line.push_str(&format!(
            "; manifest checksums match and {} outputs regenerate byte-identical",
            regenerated.identical
        ));
        if regenerated.same_content > 0 {
            line.push_str(&format!(
                ", {} more with identical content once uncompressed (compressed by \
                 another compressor version)",
                regenerated.same_content
            ));
        }
    }
    line
}

/// The regions to check eligibility by: `--regions`, else the manifest's (found as
/// given, else beside the manifest, and required to be the recorded file). The manifest
/// comes back pointing at the file found, so that regeneration reads it.
fn regions_to_check(
    args: &VerifyArgs,
    manifest: Option<Manifest>,
) -> Result<(Option<Regions>, Option<Manifest>)> {
    let recorded = manifest.as_ref().and_then(|m| m.options.regions.clone());
    if let Some(path) = &args.regions {
        let mode = args
            .regions_mode
            .or(recorded.as_ref().map(|r| r.mode))
            .unwrap_or(RegionsMode::Only);
        let regions = Regions::read(Path::new(path), path, mode)?;
        return Ok((Some(regions), manifest));
    }
    let (Some(option), Some(mpath)) = (recorded, args.manifest.as_deref()) else {
        return Ok((None, manifest));
    };
    let Some(mut m) = manifest else {
        return Ok((None, None));
    };
    let mname = mpath.display();
    let Some(recorded_path) = option.path() else {
        // Intervals recorded in the manifest itself.
        return Ok((Some(option.load()?), Some(m)));
    };
    let found = locate(recorded_path, mpath).with_context(|| {
        format!("manifest '{mname}': regions file '{recorded_path}' is missing")
    })?;
    let regions = Regions::read(&found, recorded_path, option.mode)?;
    if let Some(entry) = &m.regions
        && !same(entry, &regions.digest)
    {
        bail!(
            "regions file '{}' is not the one manifest '{mname}' records: SHA-256 {} ({} \
             bytes) recorded, {} ({} bytes) found",
            found.display(),
            entry.sha256,
            entry.bytes,
            regions.digest.sha256,
            regions.digest.bytes
        );
    }
    if let Some(r) = m.options.regions.as_mut() {
        r.source = RegionsSource::Path(found.display().to_string());
    }
    Ok((Some(regions), Some(m)))
}

/// Size and SHA-256 of a file's bytes as stored (compressed or not).
fn digest_file(path: &Path) -> Result<FileDigest> {
    FileDigest::of_file(path).with_context(|| format!("cannot read '{}'", path.display()))
}

/// Size and SHA-256 of a file's content once decompressed (as `mask` would read it).
fn content_digest(path: &Path) -> Result<FileDigest> {
    let read = || -> std::io::Result<FileDigest> {
        let (_, reader) = protmask::io::open_input(&InputSource::Path(path.to_path_buf()))?;
        FileDigest::of_reader(reader)
    };
    read().with_context(|| format!("cannot read '{}'", path.display()))
}

fn same(entry: &FileEntry, d: &FileDigest) -> bool {
    entry.stored_is(d)
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

/// The inputs are the ones the manifest records (ORIGINAL stands for a single input;
/// several are found by their recorded paths); returns them.
fn check_inputs(m: &Manifest, manifest_path: &Path, original: &Input) -> Result<Vec<InputSource>> {
    let mname = manifest_path.display();
    // The inputs: ORIGINAL stands for a single recorded input; several are found by path.
    let mut inputs = Vec::new();
    for entry in &m.inputs {
        let path = match (m.inputs.len(), &original.source) {
            (1, InputSource::Path(p)) => p.clone(),
            _ => locate(&entry.path, manifest_path).with_context(|| {
                format!("manifest '{mname}': input '{}' is missing", entry.path)
            })?,
        };
        let d = digest_file(&path)?;
        if !same(entry, &d) {
            let shown = match m.inputs.len() {
                1 => original.name.clone(),
                _ => path.display().to_string(),
            };
            bail!(
                "input '{shown}' is not the one manifest '{mname}' records for '{}': SHA-256 {} \
                 ({} bytes) recorded, {} ({} bytes) found",
                entry.path,
                entry.sha256,
                entry.bytes,
                d.sha256,
                d.bytes
            );
        }
        inputs.push(InputSource::Path(path));
    }
    Ok(inputs)
}

/// What `check_outputs` found.
struct CheckedOutputs {
    /// Given files that are recorded outputs, with their digests.
    on_hand: Vec<(PathBuf, FileDigest)>,
    /// A rates table given that is not the recorded one: its first difference from the
    /// regenerated table is the error, once regenerated.
    unrecorded_table: Option<PathBuf>,
}

/// MASKED is a FASTA output the manifest records (else an error); the rates table is
/// checked the same way, but a table that is not the recorded one is reported after the
/// regeneration, by its first differing row and column.
fn check_outputs(
    m: &Manifest,
    manifest_path: &Path,
    masked: &Input,
    role: Role,
    rates: Option<&Path>,
) -> Result<CheckedOutputs> {
    let mname = manifest_path.display();
    let mut checked = CheckedOutputs {
        on_hand: Vec::new(),
        unrecorded_table: None,
    };
    if let Some(p) = masked.source.path() {
        let d = digest_file(p)?;
        if !m.outputs_of(role).any(|e| same(e, &d)) {
            let what = if role == Role::Dataset {
                "the dataset"
            } else {
                "a FASTA output"
            };
            bail!(
                "'{}' is not {what} recorded in manifest '{mname}' (SHA-256 {})",
                masked.name,
                d.sha256
            );
        }
        checked.on_hand.push((p.to_path_buf(), d));
    }
    if let Some(r) = rates {
        let d = digest_file(r)?;
        if m.outputs_of(Role::Rates).any(|e| same(e, &d)) {
            checked.on_hand.push((r.to_path_buf(), d));
        } else {
            checked.unrecorded_table = Some(r.to_path_buf());
        }
    }
    Ok(checked)
}

/// The first row and column where two rates tables differ, both values shown.
fn first_table_difference(given: &Path, fresh: &Path) -> Result<String> {
    let open = |p: &Path| -> Result<csv::Reader<Box<dyn Read + Send>>> {
        let (_, raw) = protmask::io::open_input(&InputSource::Path(p.to_path_buf()))
            .with_context(|| format!("cannot read '{}'", p.display()))?;
        let (format, _) = Format::for_file(Role::Rates, p)?;
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
            (true, false) => {
                return Ok(format!(
                    "row {row} is extra (the regenerated table has {row} rows)"
                ));
            }
            (false, true) => {
                return Ok(format!(
                    "it ends after {row} rows, the regenerated table has more"
                ));
            }
            (true, true) => {}
        }
        let columns = ra.len().max(rb.len());
        if let Some(c) = (0..columns).find(|&c| ra.get(c) != rb.get(c)) {
            let name = header.get(c).unwrap_or("?");
            if row == 0 {
                return Ok(format!(
                    "the header differs in column {} ('{}' here, '{name}' regenerated)",
                    c + 1,
                    ra.get(c).unwrap_or("")
                ));
            }
            return Ok(format!(
                "row {row} ({}, replicate {}): {name} is '{}' here, '{}' when regenerated",
                rb.get(1).unwrap_or("?"),
                rb.get(2).unwrap_or("?"),
                ra.get(c).unwrap_or(""),
                rb.get(c).unwrap_or("")
            ));
        }
    }
    Ok("the bytes differ but every field is equal (quoting or line endings)".into())
}

/// An input as given, or, if it is stdin or not a regular file and `spool` is set, a copy
/// in `spool` read once from it; either way named as the user gave it.
fn spooled(src: InputSource, given: &str, spool: Option<&Path>, what: &str) -> Result<Input> {
    let regular = src
        .path()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_file());
    let name = if src == InputSource::Stdin {
        "-".to_string()
    } else {
        given.to_string()
    };
    let Some(dir) = spool.filter(|_| !regular) else {
        return Ok(Input { source: src, name });
    };
    let copy = dir.join(what);
    let mut reader: Box<dyn Read> = match &src {
        InputSource::Stdin => Box::new(std::io::stdin()),
        InputSource::Path(p) => {
            Box::new(std::fs::File::open(p).with_context(|| format!("cannot read '{given}'"))?)
        }
    };
    let mut out = std::fs::File::create(&copy)
        .with_context(|| format!("cannot create '{}'", copy.display()))?;
    std::io::copy(&mut reader, &mut out).with_context(|| format!("cannot read '{given}'"))?;
    Ok(Input {
        source: InputSource::Path(copy),
        name,
    })
}

/// How the regenerated outputs compare with the recorded ones.
#[derive(Default)]
struct Regenerated {
    /// Byte for byte.
    identical: usize,
    /// Compressed outputs whose uncompressed content is identical while the compressed
    /// bytes differ (another compressor or compressor version made them).
    same_content: usize,
}

/// Run the recorded job again and compare every output.
fn regenerate(
    m: &Manifest,
    manifest_path: &Path,
    inputs: Vec<InputSource>,
    on_hand: &[(PathBuf, FileDigest)],
    dir: &Path,
) -> Result<Regenerated> {
    let mname = manifest_path.display();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    let summary = run(m.job(inputs, dir)?)
        .with_context(|| format!("regenerating from manifest '{mname}'"))?;
    if summary.outputs.len() != m.outputs.len() {
        bail!(
            "regenerating from manifest '{mname}' gave {} outputs, it records {}",
            summary.outputs.len(),
            m.outputs.len()
        );
    }
    let mut result = Regenerated::default();
    for (got, want) in summary.outputs.iter().zip(&m.outputs) {
        let d = got
            .digest
            .as_ref()
            .context("internal error: no digest of a regenerated output")?;
        let records_agree = got.records == want.records;
        if same(want, &d.stored) && records_agree {
            result.identical += 1;
            continue;
        }
        let recorded_content = match want.content() {
            Some(c) => Some(c),
            // A manifest from before content digests: the recorded file itself, if given.
            None => match on_hand.iter().find(|(_, d)| same(want, d)) {
                Some((p, _)) => Some(content_digest(p)?),
                None => None,
            },
        };
        let content_agrees = matches!(
            (&d.content, &recorded_content),
            (Some(c), Some(r)) if c == r
        );
        if content_agrees && records_agree {
            result.same_content += 1;
            continue;
        }
        let content = match (&d.content, &recorded_content) {
            (Some(c), Some(r)) => format!(
                "; uncompressed, SHA-256 {} recorded, {} regenerated",
                r.sha256, c.sha256
            ),
            _ => String::new(),
        };
        bail!(
            "regenerating from manifest '{mname}' does not reproduce {} output '{}': SHA-256 \
             {} ({} records) recorded, {} ({} records) regenerated{content}",
            want.role.map_or("an", Role::name),
            want.path,
            want.sha256,
            want.records,
            d.stored.sha256,
            got.records
        );
    }
    Ok(result)
}
