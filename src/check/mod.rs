//! `verify`: checking that a masked set is what it should be, as a library (the command
//! line and Python both call `run`). `fasta` streams ORIGINAL, MASKED and the rates table
//! in step; `dataset` reads a dataset's rows against ORIGINAL; `manifest` checks the files
//! against a manifest and regenerates its outputs. Memory does not grow with the files,
//! and the first disagreement is the error (`VerifyError`), naming the file and where.

mod dataset;
mod error;
mod fasta;
mod manifest;
mod spool;

pub use crate::records::stream::ReadError;
pub use dataset::verify_dataset;
pub use error::{
    Digests, Field, Location, Number, Place, Recorded, TableDifference, TokenColumn, Unexpected,
    Unit, VerifyError,
};
pub use fasta::{verify, verify_within};

use std::path::{Path, PathBuf};

use crate::config::MaskConfig;
use crate::engine::Input;
use crate::io::InputSource;
use crate::mask::Corruption;
use crate::regions::RegionsMode;
use crate::sink::{Format, Role};

/// What the masking was allowed to do.
#[derive(Clone, Debug)]
pub struct Expect {
    pub token: Vec<u8>,
    pub corruption: Corruption,
    /// Eligible residues, if restricted (`--maskable`).
    pub maskable: Option<Vec<u8>>,
    /// Replicates per record, when known (a manifest records them); else found from the
    /// first record's run of `<id>_r1`, `<id>_r2`, ...
    pub replicates: Option<u32>,
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
/// left `None` are the manifest's, else the defaults (`_`, `1,0,0`, every residue, `only`).
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
    pub regions_mode: Option<RegionsMode>,
}

/// What a successful `run` verified.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub verified: Verified,
    /// MASKED was read as a dataset (its rows are `verified.rows`).
    pub dataset: bool,
    /// With a manifest: how the regenerated outputs compare with the recorded ones.
    pub regenerated: Option<Regenerated>,
}

/// How the regenerated outputs compare with the recorded ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Regenerated {
    /// Byte for byte.
    pub identical: usize,
    /// Compressed outputs whose uncompressed content is identical while the compressed
    /// bytes differ (another compressor or compressor version made them).
    pub same_content: usize,
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
    let expect = expectations(request, manifest.as_ref().map(|m| &m.options));
    let original = InputSource::parse(&request.original);
    let masked = InputSource::parse(&request.masked);
    if original == InputSource::Stdin && masked == InputSource::Stdin {
        return Err(VerifyError::BothStdin);
    }
    let spool = manifest.as_ref().map(|_| spool::Spool::new()).transpose()?;
    let original = spool::spooled(original, &request.original, spool.as_ref(), "original")?;
    let masked = spool::spooled(masked, &request.masked, spool.as_ref(), "masked")?;
    // The inputs' checksums first (comparing against the wrong original misleads), then
    // the masking itself (its message names the first bad position), then the outputs'
    // checksums, then the regeneration.
    let recorded_inputs = match (&manifest, &request.manifest) {
        (Some(m), Some(path)) => Some(manifest::check_inputs(m, path, &original)?),
        _ => None,
    };
    let (regions, manifest) = manifest::regions_to_check(request, manifest)?;
    let dataset = masked_dataset(request, &masked)?;
    let verified = match &dataset {
        Some((path, format)) => verify_dataset(
            &original,
            (path, *format),
            &masked.name,
            &expect,
            regions.as_ref(),
        )?,
        None => verify_within(
            &original,
            &masked,
            request.rates.as_deref(),
            &expect,
            regions.as_ref(),
        )?,
    };
    let mut regenerated = None;
    if let (Some(m), Some(path), Some(inputs), Some(spool)) =
        (&manifest, &request.manifest, recorded_inputs, &spool)
    {
        let role = if dataset.is_some() {
            Role::Dataset
        } else {
            Role::Fasta
        };
        let rates = request.rates.as_deref();
        let dir = spool.path();
        regenerated = Some(manifest::check_against(
            m, path, inputs, &masked, role, rates, dir,
        )?);
    }
    Ok(Report {
        verified,
        dataset: dataset.is_some(),
        regenerated,
    })
}

/// What the masking must look like: the request's options, else the manifest's, else
/// the defaults.
fn expectations(request: &Request, recorded: Option<&MaskConfig>) -> Expect {
    let corruption = match (request.corrupt, recorded) {
        (Some(c), _) => c,
        (None, Some(o)) => o.corrupt,
        (None, None) => Corruption::MASK_ONLY,
    };
    Expect {
        token: request
            .mask_token
            .clone()
            .or_else(|| recorded.map(|o| o.mask_token.clone()))
            .unwrap_or_else(|| "_".into())
            .into_bytes(),
        corruption,
        maskable: request
            .maskable
            .clone()
            .or_else(|| recorded.and_then(|o| o.maskable.clone()))
            .map(String::into_bytes),
        replicates: recorded.map(|o| o.replicates),
    }
}

/// MASKED as a dataset (`mask --dataset`), if its name says it is one; a dataset is
/// checked against ORIGINAL alone.
fn masked_dataset(
    request: &Request,
    masked: &Input,
) -> Result<Option<(PathBuf, Format)>, VerifyError> {
    let Ok((format, _)) = Format::for_file(Role::Dataset, Path::new(&request.masked)) else {
        return Ok(None);
    };
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
