//! `verify`: checking that a masked set is what it should be, as a library (the command
//! line and Python both call `run`). `fasta` streams ORIGINAL, MASKED and the rates table
//! in step; `dataset` reads a dataset's rows against ORIGINAL; `manifest` checks the files
//! against a manifest and regenerates its outputs. Memory does not grow with the files,
//! and the first disagreement is the error (`VerifyError`), naming the file and where.

mod dataset;
mod error;
mod fasta;
mod manifest;
mod options;
mod regenerate;
pub mod scan;
mod spool;

pub use crate::records::stream::ReadError;
pub use dataset::verify_dataset;
pub use error::{
    Digests, Field, Location, Number, Place, Recorded, TableDifference, TokenColumn, Unexpected,
    Unit, VerifyError,
};
pub use fasta::{verify, verify_within};
pub use regenerate::{Outcome, Rebuilt, Regeneration, recorded_options, regenerate};

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::Input;
use crate::io::InputSource;
use crate::mask::{Corruption, RandomPool};
use crate::presets::Preset;
use crate::provenance::Provenance;
use crate::regions::RegionsMode;
use crate::sink::{Format, Role};

/// What the masking was allowed to do.
#[derive(Clone, Debug)]
pub struct Expect {
    /// What a masked position shows; empty for D3PM, which has no mask token.
    pub token: Vec<u8>,
    pub corruption: Corruption,
    /// Eligible residues, if restricted (`--maskable`).
    pub maskable: Option<Vec<u8>>,
    /// The letters a replaced position may show (`--random-pool`: `RandomPool::letters`;
    /// for D3PM its 26 letters).
    pub replacements: &'static [u8],
    /// Replicates per record, when known (a manifest records them); else found from the
    /// first record's run of `<id>_r1`, `<id>_r2`, ...
    pub replicates: Option<u32>,
    /// `--max-length` and `--crop`, when recorded or given: a record longer than N must
    /// be its window (`crop=START-END` in the header, `crop_start` in a row), N long,
    /// inside the original, at the fixed offset of `start` and `center`. Without them a
    /// window is still checked against the original.
    pub cropping: Option<crate::crop::Cropping>,
    /// The split rule (`--split`), when recorded or given: every `split` of the rates
    /// table or the dataset must be the one it gives the record's ID.
    pub split: Option<std::sync::Arc<crate::split::SplitRule>>,
    /// MASKED is the FASTA of this split alone (`-O` with `--split`): the original's
    /// records of other splits are not in it.
    pub only_split: Option<usize>,
}

/// What a successful check saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verified {
    pub records: u64,
    pub replicates: u32,
    /// Positions that show as masked or replaced.
    pub changed: u64,
    /// Of `changed`, those that show a residue-letter token where the original has the
    /// same residue, with no listed positions to tell whether they were selected.
    pub uncertain: u64,
    /// Positions selected, as the `masked` column of the rates table or the dataset sums
    /// them (`None` without either). With `--corrupt` keeping some, more than `changed`.
    pub selected: Option<u64>,
    pub rows: u64,
}

/// What to verify, as plain values (`protmask verify`'s arguments). The masking options
/// left `None` are those MASKED's metadata or the manifest records, else the preset's,
/// else the defaults (`_`, `1,0,0`, every residue, `standard`, `only`); one given beside recorded
/// options must agree with them (`options`).
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The FASTA that was masked, as given (`-`: stdin).
    pub original: String,
    /// The masked FASTA or dataset, as given (`-`: stdin).
    pub masked: String,
    /// The rates table written with MASKED.
    pub rates: Option<PathBuf>,
    /// The manifest written with MASKED: checksums, then regeneration.
    pub manifest: Option<PathBuf>,
    /// The regions file used (`mask --regions`).
    pub regions: Option<String>,
    pub mask_token: Option<String>,
    pub corrupt: Option<Corruption>,
    pub maskable: Option<String>,
    pub random_pool: Option<RandomPool>,
    pub regions_mode: Option<RegionsMode>,
    /// `mask --max-length` and `--crop`: the windows are checked against them.
    pub max_length: Option<u32>,
    pub crop: Option<crate::crop::Crop>,
    /// `mask --split`, `--split-seed` and `--split-groups`: the split column is checked
    /// against them (the groups file is read where given).
    pub split: Option<crate::split::Splits>,
    pub split_seed: Option<u64>,
    pub split_groups: Option<String>,
    /// The preset used (`mask --preset`), resolved with the flags above as `mask` does.
    pub preset: Option<Preset>,
    /// MASKED is a scan (`protmask scan`) though nothing records it (a FASTA or JSON Lines
    /// without a manifest): rows `<id>_p<i>`, checked by `scan`.
    pub scan: bool,
}

/// What a successful `run` verified.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub verified: Verified,
    /// MASKED was read as a dataset (its rows are `verified.rows`).
    pub dataset: bool,
    /// With a manifest: how the regenerated outputs compare with the recorded ones.
    pub regenerated: Option<Regenerated>,
    /// How MASKED says it was made (a Parquet dataset's metadata), when its options were
    /// the ones checked by.
    pub metadata: Option<Provenance>,
    /// MASKED is a scan (`protmask scan`): `verified.rows` counts its rows.
    pub scan: bool,
}

/// How the regenerated outputs compare with the recorded ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Regenerated {
    /// Byte for byte.
    pub identical: usize,
    /// Compressed outputs whose uncompressed content is identical while the compressed
    /// bytes differ (another compressor or compressor version made them).
    pub same_content: usize,
    /// Files given that matched a recorded one by content, not byte for byte: one line
    /// each (`'x.fa' matched the recorded 'x.fa.gz' by content ...`).
    pub notes: Vec<String>,
}

/// Verify what `request` names: MASKED is a masking of ORIGINAL; with a rates table, the
/// table agrees; with a manifest, every checksum matches and the recorded job, run again,
/// reproduces the recorded outputs.
pub fn run(request: &Request) -> Result<Report, VerifyError> {
    let manifest = request
        .manifest
        .as_deref()
        .map(manifest::read)
        .transpose()?;
    let original = InputSource::parse(&request.original);
    let masked = InputSource::parse(&request.masked);
    if original == InputSource::Stdin && masked == InputSource::Stdin {
        return Err(VerifyError::BothStdin);
    }
    // MASKED from a pipe is copied once: its first bytes tell its format, and Parquet is
    // read from its end. With a manifest every input is read more than once.
    let spool = (manifest.is_some() || !regular(&masked))
        .then(spool::Spool::new)
        .transpose()?;
    let for_original = spool.as_ref().filter(|_| manifest.is_some());
    let original = spool::spooled(original, &request.original, for_original, "original")?;
    let masked = spool::spooled(masked, &request.masked, spool.as_ref(), "masked")?;
    let dataset = masked_dataset(request, &masked)?;
    let metadata = match &dataset {
        Some((path, Format::Parquet)) => {
            Provenance::of_dataset(path).map_err(|message| VerifyError::Unreadable {
                file: masked.name.clone(),
                message: format!("{}: {message}", masked.name),
            })?
        }
        _ => None,
    };
    // The file's own record first (the manifest, if given, records the same options: its
    // regeneration checks the file byte for byte).
    let recorded = match (&metadata, &manifest, &request.manifest) {
        (Some(p), _, _) => Some((&p.options, format!("the metadata of '{}'", masked.name))),
        (None, Some(m), Some(path)) => Some((&m.options, format!("manifest '{}'", path.display()))),
        _ => None,
    };
    let mut expect = options::expectations(
        request,
        recorded.as_ref().map(|(o, place)| (*o, place.as_str())),
    )?;
    let recorded_options = recorded.as_ref().map(|(o, _)| (*o).clone());
    // The inputs' checksums first (comparing against the wrong original misleads), then
    // the masking itself (its message names the first bad position), then the outputs'
    // checksums, then the regeneration.
    let recorded_inputs = match (&manifest, &request.manifest) {
        (Some(m), Some(path)) => Some(manifest::check_inputs(m, path, &original)?),
        _ => None,
    };
    let manifest::RegionsChecked {
        mut regions,
        mut manifest,
        mut notes,
    } = manifest::regions_to_check(request, manifest)?;
    let split = manifest::split_to_check(
        request,
        recorded_options.as_ref(),
        manifest.as_mut(),
        &mut notes,
    )?;
    if let Some(rule) = split {
        let dataset = masked_dataset(request, &masked)?;
        if dataset.is_none() {
            expect.only_split = manifest::split_of_fasta(
                &rule,
                recorded_options.as_ref(),
                manifest.as_ref(),
                &masked,
            )?;
        }
        expect.split = Some(std::sync::Arc::new(rule));
    }
    // Without a manifest, the regions a dataset's metadata records (their intervals, or a
    // file too large to record, read where it was given).
    let described = metadata.as_ref().and_then(|p| p.options.regions.as_ref());
    if let (None, None, Some(option)) = (&regions, &manifest, described) {
        regions = Some(option.load().map_err(|e| VerifyError::Unreadable {
            file: masked.name.clone(),
            message: format!(
                "the regions recorded in the metadata of '{}': {e:#}",
                masked.name
            ),
        })?);
    }
    let dataset = masked_dataset(request, &masked)?;
    let scan_options = match &recorded_options {
        Some(o) => o.scan.clone(),
        None => request.scan.then(crate::scan::ScanConfig::default),
    };
    let scan_set = scan_options.is_some();
    let verified = match (&dataset, scan_options) {
        (_, Some(sc)) => {
            let tokens = recorded_options.as_ref().and_then(|o| o.tokens);
            let se = scan::ScanExpect {
                token: expect.token.clone(),
                window: (expect.cropping.map(|c| c.max_length as usize))
                    .or(request.max_length.map(|n| n as usize)),
                maskable: expect.maskable.clone(),
                variants: sc.variants.is_some(),
                vocab: tokens,
            };
            match &dataset {
                Some((path, format)) => scan::verify_dataset(
                    &original,
                    (path, *format),
                    &masked.name,
                    &se,
                    regions.as_ref(),
                )?,
                None => scan::verify_fasta(
                    &original,
                    &masked,
                    request.rates.as_deref(),
                    &se,
                    regions.as_ref(),
                )?,
            }
        }
        (Some((path, format)), None) => verify_dataset(
            &original,
            (path, *format),
            &masked.name,
            &expect,
            regions.as_ref(),
        )?,
        (None, None) => verify_within(
            &original,
            &masked,
            request.rates.as_deref(),
            &expect,
            regions.as_ref(),
        )?,
    };
    let mut regenerated = None;
    if let (Some(m), Some(path), Some((inputs, input_notes)), Some(spool)) =
        (&manifest, &request.manifest, recorded_inputs, &spool)
    {
        notes.splice(0..0, input_notes);
        let role = if dataset.is_some() {
            Role::Dataset
        } else {
            Role::Fasta
        };
        let rates = request.rates.as_deref();
        let dir = spool.path();
        let mut r = manifest::check_against(m, path, inputs, &masked, role, rates, dir)?;
        r.notes.splice(0..0, notes);
        regenerated = Some(r);
    }
    Ok(Report {
        verified,
        dataset: dataset.is_some(),
        regenerated,
        metadata,
        scan: scan_set,
    })
}

/// Whether `source` is a regular file or a folder (a dataset folder), not stdin, a pipe or
/// a device.
fn regular(source: &InputSource) -> bool {
    (source.path())
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_file() || m.is_dir())
}

/// MASKED as a dataset (`mask --dataset`), if its bytes say it is one (`sniff`); a
/// dataset is checked against ORIGINAL alone.
fn masked_dataset(
    request: &Request,
    masked: &Input,
) -> Result<Option<(PathBuf, Format)>, VerifyError> {
    let format = sniff(masked, &request.masked)?;
    if format == Format::Fasta {
        return Ok(None);
    }
    if request.rates.is_some() || request.regions.is_some() {
        return Err(VerifyError::Usage(
            crate::UsageError::DatasetWithFastaOptions,
        ));
    }
    // A spooled pipe is read from its copy.
    let path = masked
        .source
        .path()
        .map_or_else(|| PathBuf::from(&request.masked), Path::to_path_buf);
    Ok(Some((path, format)))
}

/// What MASKED holds, whatever its name or compression: Parquet by its magic number
/// (`PAR1`), JSON Lines by its first byte once decompressed (`{`), else FASTA. An empty
/// file goes by its name (`given`), as `mask` named it.
fn sniff(masked: &Input, given: &str) -> Result<Format, VerifyError> {
    let head = |reader: &mut dyn Read, n: usize| -> std::io::Result<Vec<u8>> {
        let mut head = Vec::with_capacity(n);
        reader.take(n as u64).read_to_end(&mut head)?;
        Ok(head)
    };
    let unreadable = |e: std::io::Error| VerifyError::Unreadable {
        file: masked.name.clone(),
        message: format!("{}: {e}", masked.name),
    };
    if let Some(path) = masked.source.path() {
        // A dataset folder (`mask --dataset DIR/`) holds Parquet shards.
        if path.is_dir() {
            return Ok(Format::Parquet);
        }
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        if head(&mut file, 4).map_err(unreadable)? == b"PAR1" {
            return Ok(Format::Parquet);
        }
    }
    let mut reader = fasta::open_named(masked)?;
    Ok(match head(&mut reader, 1).map_err(unreadable)?.first() {
        Some(b'{') => Format::Jsonl,
        Some(_) => Format::Fasta,
        None => Format::for_file(Role::Dataset, Path::new(given)).map_or(Format::Fasta, |f| f.0),
    })
}
