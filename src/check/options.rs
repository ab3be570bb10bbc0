//! The options `verify` checks by (the mask token, the corruption, the eligible residues,
//! the letters a replacement may show, the replicates): what MASKED's metadata or the manifest records, else the flags, with
//! `--preset` resolved as `mask --preset` resolves it (`MaskConfig::resolve`), else the
//! defaults. Beside recorded options a flag only restates them: one that disagrees is a
//! usage error naming both values, never silently preferred to the record.

use super::{Expect, Request, VerifyError};
use crate::UsageError;
use crate::config::{MaskConfig, MaskOption, MaskOptions, OptionError};
use crate::crop::{Crop, Cropping};
use crate::d3pm::ALPHABET;
use crate::mask::Corruption;

/// What the masking must look like. `recorded`: the options recorded with the set and
/// where they are recorded (for messages: `the metadata of 'x.parquet'`).
pub(super) fn expectations(
    request: &Request,
    recorded: Option<(&MaskConfig, &str)>,
) -> Result<Expect, VerifyError> {
    if let Some((options, place)) = recorded {
        agrees(request, options, place)?;
    }
    let preset = match request.preset {
        Some(preset) => Some(
            MaskConfig::resolve(MaskOptions {
                preset,
                mask_token: request.mask_token.clone(),
                corrupt: request.corrupt,
                maskable: request.maskable.clone(),
                random_pool: request.random_pool,
                ..MaskOptions::default()
            })
            .map_err(|e| VerifyError::Usage(e.into()))?,
        ),
        None => None,
    };
    let options = recorded.map(|(o, _)| o).or(preset.as_ref());
    let cropping = match recorded {
        Some((o, _)) => o.cropping(),
        None => {
            let n = request
                .max_length
                .or(preset.as_ref().and_then(|p| p.max_length));
            if request.crop.is_some() && n.is_none() {
                return Err(VerifyError::Usage(
                    OptionError::Requires {
                        option: MaskOption::Crop,
                        needs: MaskOption::MaxLength,
                    }
                    .into(),
                ));
            }
            n.map(|max_length| Cropping {
                max_length,
                crop: request.crop.unwrap_or(Crop::Random),
            })
        }
    };
    if let Some(o) = options
        && o.mode.d3pm().is_some()
    {
        let mut expect = d3pm_expectations(request, o, recorded.map(|(o, _)| o.replicates));
        expect.cropping = cropping;
        // `split` and `only_split` are the caller's (`split_to_check`).
        return Ok(expect);
    }
    Ok(Expect {
        token: (request.mask_token.clone())
            .or_else(|| options.map(|o| o.mask_token.clone()))
            .unwrap_or_else(|| "_".into())
            .into_bytes(),
        corruption: (request.corrupt)
            .or(options.map(|o| o.corrupt))
            .unwrap_or(Corruption::MASK_ONLY),
        maskable: (request.maskable.clone())
            .or_else(|| options.and_then(|o| o.maskable.clone()))
            .map(String::into_bytes),
        replacements: (request.random_pool)
            .or(options.map(|o| o.random_pool))
            .unwrap_or_default()
            .letters(),
        replicates: recorded.map(|(o, _)| o.replicates),
        cropping,
        split: None,
        only_split: None,
    })
}

/// A D3PM set: no token; a changed position shows another of the 26 letters (every
/// changed position is "replaced", none kept, so the table's count is exactly what
/// shows); eligible are the letters of the alphabet that `--maskable` allows.
fn d3pm_expectations(request: &Request, o: &MaskConfig, replicates: Option<u32>) -> Expect {
    let maskable = request.maskable.as_ref().or(o.maskable.as_ref());
    let letters = ALPHABET
        .iter()
        .copied()
        .filter(|b| maskable.is_none_or(|m| m.as_bytes().contains(b)))
        .collect();
    Expect {
        token: Vec::new(),
        corruption: Corruption::new(0.0, 1.0, 0.0).expect("fractions sum to 1"),
        maskable: Some(letters),
        replicates,
        cropping: None,
        replacements: ALPHABET,
        split: None,
        only_split: None,
    }
}

/// Every flag given says what `recorded` (recorded in `place`) says.
fn agrees(request: &Request, recorded: &MaskConfig, place: &str) -> Result<(), VerifyError> {
    let differs = |option: MaskOption, given: &str, recorded: &str| {
        Err(VerifyError::Usage(UsageError::Disagrees {
            flag: option.flag().split(' ').next().unwrap_or_default(),
            given: given.to_string(),
            recorded: recorded.to_string(),
            place: place.to_string(),
        }))
    };
    let o = recorded;
    if let Some(p) = request.preset
        && p != o.preset
    {
        return differs(MaskOption::Preset, p.name(), o.preset.name());
    }
    if let Some(t) = &request.mask_token
        && *t != o.mask_token
    {
        return differs(MaskOption::MaskToken, t, &o.mask_token);
    }
    if let Some(c) = request.corrupt
        && c != o.corrupt
    {
        return differs(MaskOption::Corrupt, &c.to_string(), &o.corrupt.to_string());
    }
    if let Some(m) = &request.maskable
        && Some(m) != o.maskable.as_ref()
    {
        let every = "every residue".to_string();
        return differs(
            MaskOption::Maskable,
            m,
            o.maskable.as_ref().unwrap_or(&every),
        );
    }
    if let Some(pool) = request.random_pool
        && pool != o.random_pool
    {
        return differs(MaskOption::RandomPool, pool.name(), o.random_pool.name());
    }
    let none = "none".to_string();
    if let Some(n) = request.max_length
        && Some(n) != o.max_length
    {
        let recorded = o.max_length.map_or(none.clone(), |n| n.to_string());
        return differs(MaskOption::MaxLength, &n.to_string(), &recorded);
    }
    if let Some(c) = request.crop
        && Some(c) != o.crop
    {
        let recorded = o.crop.map_or(none, |c| c.name().to_string());
        return differs(MaskOption::Crop, c.name(), &recorded);
    }
    if let Some(s) = &request.split
        && Some(s) != o.split.as_ref()
    {
        let recorded = o.split.as_ref().map_or(none.clone(), |s| s.to_string());
        return differs(MaskOption::Split, &s.to_string(), &recorded);
    }
    if let Some(seed) = request.split_seed
        && Some(seed) != o.split_seed
    {
        let recorded = o.split_seed.map_or(none.clone(), |s| s.to_string());
        return differs(MaskOption::SplitSeed, &seed.to_string(), &recorded);
    }
    if let (Some(mode), Some(r)) = (request.regions_mode, &o.regions)
        && mode != r.mode
    {
        return differs(MaskOption::RegionsMode, mode.name(), r.mode.name());
    }
    Ok(())
}
