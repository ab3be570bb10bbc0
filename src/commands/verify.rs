//! `protmask verify`: MASKED is a masking of ORIGINAL; with `--rates`, the table agrees;
//! with `--manifest`, every checksum matches and the recorded job, run again, reproduces
//! the recorded outputs byte for byte.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::check::{Expect, verify};
use crate::cli::VerifyArgs;
use crate::engine::run;
use crate::io::{FileDigest, InputSource};
use crate::manifest::{FileEntry, Manifest};
use crate::mask::Corruption;

pub fn execute(args: VerifyArgs) -> Result<()> {
    let manifest = args.manifest.as_deref().map(Manifest::read).transpose()?;
    let recorded = manifest.as_ref().map(|m| &m.options);
    let corruption = match (args.corrupt, recorded) {
        (Some(c), _) => c,
        (None, Some(o)) => o.corrupt,
        (None, None) => Corruption::MASK_ONLY,
    };
    let expect = Expect {
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
    };
    let original = InputSource::parse(&args.original);
    let masked = InputSource::parse(&args.masked);
    if original == InputSource::Stdin && masked == InputSource::Stdin {
        bail!("ORIGINAL and MASKED cannot both be stdin");
    }
    // The inputs' checksums first (comparing against the wrong original misleads), then
    // the masking itself (its message names the first bad position), then the outputs'
    // checksums, then the regeneration.
    let recorded_inputs = match (&manifest, &args.manifest) {
        (Some(m), Some(path)) => Some(check_inputs(m, path, &original)?),
        _ => None,
    };
    let seen = verify(&original, &masked, args.rates.as_deref(), &expect)?;
    let mut regenerated = Regenerated::default();
    if let (Some(m), Some(path), Some(inputs)) = (&manifest, &args.manifest, recorded_inputs) {
        // The outputs given here match their recorded checksums: they can stand in for a
        // content digest that an older manifest lacks.
        let on_hand = check_outputs(m, path, &masked, args.rates.as_deref())?;
        regenerated = regenerate(m, path, inputs, &on_hand)?;
    }
    if !args.quiet {
        let mut line = format!(
            "protmask: verified {} records{}, {} masked positions",
            seen.records,
            if seen.replicates > 1 {
                format!(" x {} replicates", seen.replicates)
            } else {
                String::new()
            },
            seen.changed
        );
        if args.rates.is_some() {
            line.push_str(&format!(", {} rates rows", seen.rows));
        }
        if manifest.is_some() {
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
        eprintln!("{line}");
    }
    Ok(())
}

/// Size and SHA-256 of a file's bytes as stored (compressed or not).
fn digest_file(path: &Path) -> Result<FileDigest> {
    let f =
        std::fs::File::open(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    digest_reader(f, path)
}

/// Size and SHA-256 of a file's content once decompressed (as `mask` would read it).
fn content_digest(path: &Path) -> Result<FileDigest> {
    let (_, reader) = crate::io::open_input(&InputSource::Path(path.to_path_buf()))
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    digest_reader(reader, path)
}

fn digest_reader(mut reader: impl Read, path: &Path) -> Result<FileDigest> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("cannot read '{}'", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileDigest {
        bytes,
        sha256: hex::encode(h.finalize()),
    })
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
fn check_inputs(
    m: &Manifest,
    manifest_path: &Path,
    original: &InputSource,
) -> Result<Vec<InputSource>> {
    let mname = manifest_path.display();
    // The inputs: ORIGINAL stands for a single recorded input; several are found by path.
    let mut inputs = Vec::new();
    for entry in &m.inputs {
        let path = match (m.inputs.len(), original) {
            (1, InputSource::Path(p)) => p.clone(),
            _ => locate(&entry.path, manifest_path).with_context(|| {
                format!("manifest '{mname}': input '{}' is missing", entry.path)
            })?,
        };
        let d = digest_file(&path)?;
        if !same(entry, &d) {
            bail!(
                "input '{}' is not the one manifest '{mname}' records for '{}': SHA-256 {} \
                 ({} bytes) recorded, {} ({} bytes) found",
                path.display(),
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

/// MASKED and the rates table are files the manifest records; returns them (the files,
/// not stdin) with their digests.
fn check_outputs(
    m: &Manifest,
    manifest_path: &Path,
    masked: &InputSource,
    rates: Option<&Path>,
) -> Result<Vec<(PathBuf, FileDigest)>> {
    let mname = manifest_path.display();
    let given = [
        ("fasta", "a FASTA output", masked.path()),
        ("rates", "the rates table", rates),
    ];
    let mut checked = Vec::new();
    for (role, what, path) in given {
        let Some(p) = path else { continue };
        let d = digest_file(p)?;
        if !m.outputs_of(role).any(|e| same(e, &d)) {
            bail!(
                "'{}' is not {what} recorded in manifest '{mname}' (SHA-256 {})",
                p.display(),
                d.sha256
            );
        }
        checked.push((p.to_path_buf(), d));
    }
    Ok(checked)
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
) -> Result<Regenerated> {
    let mname = manifest_path.display();
    let dir = tempfile::Builder::new()
        .prefix(".protmask-verify-")
        .tempdir()
        .context("cannot create a temporary directory to regenerate into")?;
    let _registered = crate::cleanup::Registered::new(dir.path());
    let summary = run(m.job(inputs, dir.path())?)
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
            want.role.as_deref().unwrap_or("an"),
            want.path,
            want.sha256,
            want.records,
            d.stored.sha256,
            got.records
        );
    }
    Ok(result)
}
