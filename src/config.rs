//! The options of a masking job, defined once.
//!
//! `MaskOptions` holds them as given: the command line fills it from clap's values, the
//! Python package keyword by keyword (`MaskOptions::set`), with the same checks and the
//! same messages. `MaskConfig::resolve` applies the preset to what was not given: the
//! result is the one resolved configuration that the engine runs, the Python package
//! masks with, and a manifest records as its `options` (its field names are part of the
//! manifest format). Adding an option: a `MaskOption` name (and its flag), a field here
//! and in `MaskConfig`, an arm in `set` and a line in `resolve`; docs/design.md walks
//! through it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::choice::{UnknownChoice, choices};
use crate::crop::{Crop, Cropping};
use crate::io::Compression;
use crate::mask::{Corruption, Masker, Mode, RandomPool, Timesteps};
use crate::presets::Preset;
use crate::regions::{RegionsMode, RegionsOption, RegionsSource};
use crate::schedule::Schedule;
use crate::sink::{ParquetCompression, Vocab};
use crate::spans::Span;
use crate::split::{GroupsFile, SplitRule, Splits, check_groups_path};

choices! {
    /// The masking options, by the name Python's keywords and a manifest's `options`
    /// use (the command line's flag is the name with `-` for `_`).
    pub enum MaskOption {
        Preset = "preset",
        Seed = "seed",
        Schedule = "schedule",
        Mode = "mode",
        MaskToken = "mask_token",
        Corrupt = "corrupt",
        Maskable = "maskable",
        Timesteps = "timesteps",
        Tokens = "tokens",
        Regions = "regions",
        RegionsMode = "regions_mode",
        SpanMean = "span_mean",
        SpanMax = "span_max",
        RandomPool = "random_pool",
        RandomDiffers = "random_differs",
        MinMasked = "min_masked",
        MaxLength = "max_length",
        Crop = "crop",
        Split = "split",
        SplitSeed = "split_seed",
        SplitGroups = "split_groups",
    }
}

impl MaskOption {
    /// The flag and its value as the command line's messages show them
    /// (`--mask-token <STR>`); a test holds them to the clap definitions.
    pub fn flag(self) -> &'static str {
        match self {
            MaskOption::Preset => "--preset <PRESET>",
            MaskOption::Seed => "--seed <N>",
            MaskOption::Schedule => "--schedule <SPEC>",
            MaskOption::Mode => "--mode <MODE>",
            MaskOption::MaskToken => "--mask-token <STR>",
            MaskOption::Corrupt => "--corrupt <M,R,K>",
            MaskOption::Maskable => "--maskable <CHARS>",
            MaskOption::Timesteps => "--timesteps <TIMESTEPS>",
            MaskOption::Tokens => "--tokens <VOCAB>",
            MaskOption::Regions => "--regions <FILE>",
            MaskOption::RegionsMode => "--regions-mode <MODE>",
            MaskOption::SpanMean => "--span-mean <M>",
            MaskOption::SpanMax => "--span-max <N>",
            MaskOption::RandomPool => "--random-pool <POOL>",
            MaskOption::RandomDiffers => "--random-differs[=<BOOL>]",
            MaskOption::MinMasked => "--min-masked <N>",
            MaskOption::MaxLength => "--max-length <N>",
            MaskOption::Crop => "--crop <CROP>",
            MaskOption::Split => "--split <SPLITS>",
            MaskOption::SplitSeed => "--split-seed <N>",
            MaskOption::SplitGroups => "--split-groups <FILE>",
        }
    }
}

/// A masking option that cannot be used, worded as the command line words it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// A value the option does not take.
    #[error("invalid value '{value}' for '{}': {reason}", option.flag())]
    Invalid {
        option: MaskOption,
        value: String,
        reason: String,
    },
    /// A value that is none of the option's choices.
    #[error("invalid value '{value}' for '{}' [possible values: {}]", option.flag(), names.join(", "))]
    NotAChoice {
        option: MaskOption,
        value: String,
        names: &'static [&'static str],
    },
    /// An option given without another that it needs.
    #[error("the following required arguments were not provided: {}", needs.flag())]
    Requires {
        option: MaskOption,
        needs: MaskOption,
    },
    /// A value of the wrong kind (a string where a number goes).
    #[error("{} takes {expected}, not {got}", option.name())]
    WrongType {
        option: MaskOption,
        expected: &'static str,
        got: &'static str,
    },
    /// An option that the D3PM modes do not use, given with one of them.
    #[error(
        "the argument '{}' cannot be used with '--mode {mode}': D3PM redraws every eligible \
         residue from its transition row (no schedule, selection, mask token or corruption; \
         t is uniform on 1..499)",
        option.flag()
    )]
    NotWithD3pm { option: MaskOption, mode: Mode },
    /// No masking option has this name.
    #[error("'{0}' is not an option of protmask mask")]
    Unknown(String),
}

impl OptionError {
    fn invalid(option: MaskOption, value: impl ToString, reason: impl ToString) -> Self {
        OptionError::Invalid {
            option,
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    fn choice(option: MaskOption, e: UnknownChoice) -> Self {
        OptionError::NotAChoice {
            option,
            value: e.value,
            names: e.names,
        }
    }
}

/// An option's value from a caller other than the command line (Python), by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    Text(String),
    /// A whole number, in decimal (any size: the option's range decides).
    Int(String),
    Float(f64),
    Floats(Vec<f64>),
    /// Per ID, `(start, end)` pairs (`regions`).
    Intervals(BTreeMap<String, Vec<(i64, i64)>>),
    /// A switch (`random_differs`).
    Bool(bool),
}

impl OptionValue {
    fn kind(&self) -> &'static str {
        match self {
            OptionValue::Text(_) => "a string",
            OptionValue::Int(_) => "an int",
            OptionValue::Float(_) => "a float",
            OptionValue::Floats(_) => "a sequence of numbers",
            OptionValue::Intervals(_) => "a mapping",
            OptionValue::Bool(_) => "a bool",
        }
    }
}

/// The masking options as given; `None` takes the preset's value (or the default).
#[derive(Clone, Debug, Default)]
pub struct MaskOptions {
    pub preset: Preset,
    /// `None`: `rng::DEFAULT_SEED`.
    pub seed: Option<u64>,
    pub schedule: Option<Schedule>,
    pub mode: Option<Mode>,
    pub mask_token: Option<String>,
    pub corrupt: Option<Corruption>,
    pub maskable: Option<String>,
    pub timesteps: Option<Timesteps>,
    pub tokens: Option<Vocab>,
    pub regions: Option<RegionsSource>,
    /// With `regions`; `None`: `only`.
    pub regions_mode: Option<RegionsMode>,
    pub span_mean: Option<f64>,
    /// With `span_mean`.
    pub span_max: Option<u32>,
    pub random_pool: Option<RandomPool>,
    pub random_differs: Option<bool>,
    pub min_masked: Option<u32>,
    /// Records longer than this are cropped (`None`: the preset's, usually none).
    pub max_length: Option<u32>,
    /// With `max_length`; `None`: `random`.
    pub crop: Option<Crop>,
    /// The splits a record may go to (`None`: no split column).
    pub split: Option<Splits>,
    /// With `split`; `None`: 0.
    pub split_seed: Option<u64>,
    /// With `split`: the groups file's path.
    pub split_groups: Option<String>,
}

impl MaskOptions {
    /// Set option `name` (a `MaskOption` name) from a value of a caller other than the
    /// command line, checked as the command line checks it.
    pub fn set(&mut self, name: &str, value: OptionValue) -> Result<(), OptionError> {
        let option: MaskOption = name
            .parse()
            .map_err(|_| OptionError::Unknown(name.to_string()))?;
        let v = Given { option, value };
        match option {
            MaskOption::Preset => self.preset = v.choice()?,
            MaskOption::Seed => self.seed = Some(v.int(check_seed)?),
            MaskOption::Schedule => self.schedule = Some(v.text(Schedule::parse)?),
            MaskOption::Mode => self.mode = Some(v.choice()?),
            MaskOption::MaskToken => self.mask_token = Some(v.text(check_token)?),
            MaskOption::Corrupt => self.corrupt = Some(v.corruption()?),
            MaskOption::Maskable => self.maskable = Some(v.text(check_maskable)?),
            MaskOption::Timesteps => self.timesteps = Some(v.choice()?),
            MaskOption::Tokens => self.tokens = Some(v.choice()?),
            MaskOption::Regions => self.regions = Some(v.regions()?),
            MaskOption::RegionsMode => self.regions_mode = Some(v.choice()?),
            MaskOption::SpanMean => self.span_mean = Some(v.number(check_span_mean)?),
            MaskOption::SpanMax => self.span_max = Some(v.int(positive_u32)?),
            MaskOption::RandomPool => self.random_pool = Some(v.choice()?),
            MaskOption::RandomDiffers => self.random_differs = Some(v.boolean()?),
            MaskOption::MinMasked => self.min_masked = Some(v.int(check_min_masked)?),
            MaskOption::MaxLength => self.max_length = Some(v.int(positive_u32)?),
            MaskOption::Crop => self.crop = Some(v.choice()?),
            MaskOption::Split => self.split = Some(v.text(str::parse::<Splits>)?),
            MaskOption::SplitSeed => self.split_seed = Some(v.int(check_seed)?),
            MaskOption::SplitGroups => self.split_groups = Some(v.text(check_groups_path)?),
        }
        Ok(())
    }
}

/// A value given for an option: read as the option's kind and checked by the check its
/// flag uses, an error worded as the command line words it.
struct Given {
    option: MaskOption,
    value: OptionValue,
}

impl Given {
    fn wrong(&self, expected: &'static str) -> OptionError {
        OptionError::WrongType {
            option: self.option,
            expected,
            got: self.value.kind(),
        }
    }

    fn invalid(&self, shown: &str, reason: impl ToString) -> OptionError {
        OptionError::invalid(self.option, shown, reason)
    }

    /// A string, checked by `check`.
    fn text<T, E: ToString>(
        &self,
        check: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, OptionError> {
        match &self.value {
            OptionValue::Text(s) => check(s).map_err(|e| self.invalid(s, e)),
            _ => Err(self.wrong("a string")),
        }
    }

    /// One of a choice's names.
    fn choice<T: std::str::FromStr<Err = UnknownChoice>>(&self) -> Result<T, OptionError> {
        match &self.value {
            OptionValue::Text(s) => s.parse().map_err(|e| OptionError::choice(self.option, e)),
            _ => Err(self.wrong("a string")),
        }
    }

    /// A whole number (its decimal digits), checked by `check`.
    fn int<T, E: ToString>(
        &self,
        check: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, OptionError> {
        match &self.value {
            OptionValue::Int(n) => check(n).map_err(|e| self.invalid(n, e)),
            _ => Err(self.wrong("an int")),
        }
    }

    /// True or false.
    fn boolean(&self) -> Result<bool, OptionError> {
        match &self.value {
            OptionValue::Bool(b) => Ok(*b),
            _ => Err(self.wrong("a bool")),
        }
    }

    /// A number, checked by `check` (which is given the value as shown in messages).
    fn number<T>(
        &self,
        check: impl FnOnce(f64, &str) -> Result<T, String>,
    ) -> Result<T, OptionError> {
        let (m, shown) = match &self.value {
            OptionValue::Float(f) => (*f, f.to_string()),
            OptionValue::Int(n) => (n.parse::<f64>().unwrap_or(f64::NAN), n.clone()),
            _ => return Err(self.wrong("a number")),
        };
        check(m, &shown).map_err(|e| self.invalid(&shown, e))
    }

    /// Three fractions, or the flag's text `M,R,K`.
    fn corruption(&self) -> Result<Corruption, OptionError> {
        let OptionValue::Floats(v) = &self.value else {
            return match &self.value {
                OptionValue::Text(_) => self.text(str::parse::<Corruption>),
                _ => Err(self.wrong("three fractions")),
            };
        };
        let shown = v.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        match v.as_slice() {
            &[m, r, k] => Corruption::new(m, r, k),
            _ => Err(format!(
                "expected three fractions M,R,K such as 0.8,0.1,0.1, got '{shown}'"
            )),
        }
        .map_err(|e| self.invalid(&shown, e))
    }

    /// A regions file's path, or intervals by ID.
    fn regions(&self) -> Result<RegionsSource, OptionError> {
        match &self.value {
            OptionValue::Text(path) => crate::regions::check_path(path)
                .map(RegionsSource::Path)
                .map_err(|e| self.invalid(path, e)),
            OptionValue::Intervals(map) => Ok(RegionsSource::Intervals(map.clone())),
            _ => Err(self.wrong("a path or a mapping of ID to (start, end) pairs")),
        }
    }
}

/// A token must stay one readable piece of a FASTA sequence line, and of the table's
/// `;`-joined positions: printable ASCII, no whitespace, no leading `>`, no `;`.
pub fn check_token(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the mask token must not be empty".into());
    }
    let shown = s.escape_debug();
    if s.starts_with('>') || s.chars().any(char::is_whitespace) {
        return Err(format!(
            "'{shown}' cannot be a mask token: it must not start with '>' or contain whitespace"
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "'{shown}' cannot be a mask token: it must be printable ASCII (no control or non-ASCII characters)"
        ));
    }
    if s.contains(';') {
        return Err(format!(
            "'{shown}' cannot be a mask token: ';' separates positions in the rates table"
        ));
    }
    Ok(s.to_string())
}

/// Eligible residues: at least one, ASCII.
pub fn check_maskable(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("--maskable needs at least one character".into());
    }
    if !s.is_ascii() {
        return Err(format!("'{s}': --maskable takes ASCII residue letters"));
    }
    Ok(s.to_string())
}

/// A mean span length: a finite number of positions, at least 1 (`shown`: the value as
/// given, for the message; NaN stands for a text that is no number).
pub fn check_span_mean(m: f64, shown: &str) -> Result<f64, String> {
    if m.is_finite() && m >= 1.0 {
        Ok(m)
    } else {
        Err(format!(
            "'{shown}': the mean span length is a number of positions, at least 1"
        ))
    }
}

/// A count given on the command line or in a manifest (a span cap, `--max-length`,
/// `--threads`, `--replicates`): a whole number from 1 to `u32::MAX`, as clap's range for
/// such flags says it.
pub fn positive_u32(n: &str) -> Result<u32, String> {
    check_count(n, 1)
}

/// A whole number from `min` to `u32::MAX`, refused in clap's range wording
/// (`-1 is not in 1..=4294967295`): the counts above, `--min-masked`, and Python's
/// `threads`, `replicate` and `epoch`, which take any integer type.
pub fn check_count(n: &str, min: u32) -> Result<u32, String> {
    let v: i128 = n
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    u32::try_from(v)
        .ok()
        .filter(|&v| v >= min)
        .ok_or_else(|| format!("{v} is not in {min}..={}", u32::MAX))
}

/// A seed (`--seed`, `--split-seed`): 0 to 2^64 - 1, refused in clap's range wording.
pub fn check_seed(n: &str) -> Result<u64, String> {
    let v: i128 = n
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    u64::try_from(v).map_err(|_| format!("{v} is not in 0..={}", u64::MAX))
}

/// A minimum count: a whole number of positions, 0 to `u32::MAX`.
pub fn check_min_masked(n: &str) -> Result<u32, String> {
    check_count(n, 0)
}

/// Everything that decides the output bytes of a run, resolved (preset applied). Its JSON
/// form is a manifest's `options`; the field names are part of the manifest format.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MaskConfig {
    pub preset: Preset,
    /// Serialised as `schedule` (as given) and `schedule_resolved` (what regenerates it).
    #[serde(flatten)]
    pub schedule: Schedule,
    pub mode: Mode,
    pub mask_token: String,
    /// Fractions masked, replaced, kept.
    pub corrupt: Corruption,
    /// Eligible residues; `None` = all.
    pub maskable: Option<String>,
    pub timesteps: Timesteps,
    pub seed: u64,
    pub replicates: u32,
    /// Residues per FASTA line; 0 = unwrapped.
    pub line_width: usize,
    /// The rates table has a `positions` column.
    pub positions: bool,
    /// Compression of stdout, when the FASTA (or a JSON Lines dataset) went there.
    pub compress: Option<Compression>,
    /// How a Parquet dataset's columns are compressed (`--parquet-compression`); recorded
    /// only when not the default, so the options of runs without it read as before.
    #[serde(default, skip_serializing_if = "is_default")]
    pub parquet_compression: ParquetCompression,
    /// Rows per shard of a dataset folder (`--dataset DIR/`, `--shard-rows`, its default
    /// applied); absent for a dataset file and for runs without a dataset, so their
    /// options read as before. It says where the dataset went (a folder) as `outdir` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_rows: Option<u64>,
    /// One output per input (`--outdir`) rather than one output.
    pub outdir: bool,
    /// The dataset's token columns (`--tokens`); recorded only when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vocab>,
    /// `--regions`: the file as given (or the intervals), its mode and `--regions-partial`
    /// (absent from manifests of runs without it, and from those written before it
    /// existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionsOption>,
    /// `--span-mean` and `--span-max` (absent likewise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// `--random-pool`, `--random-differs`, `--min-masked`: recorded only when not the
    /// default (`standard`, false, 0), so the options of runs that do not use them read
    /// as before.
    #[serde(default, skip_serializing_if = "is_default")]
    pub random_pool: RandomPool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub random_differs: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub min_masked: u32,
    /// `--max-length` and `--crop` (the crop is `Some` exactly when the length is);
    /// recorded only when given (by the flags or the preset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<Crop>,
    /// `--split`, `--split-seed` and `--split-groups` (the seed is `Some` exactly when the
    /// splits are, the groups file may be); recorded only when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Splits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_groups: Option<GroupsFile>,
    /// `protmask scan` (absent for `mask`): rows of fixed masks, no draw. Its window is
    /// `max_length` (with `crop` absent: the window follows each row's position) and its
    /// positions file `regions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::scan::ScanConfig>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Defaults of the options that only shape the files written; the command line sets
/// them after `resolve`.
pub(crate) const DEFAULT_LINE_WIDTH: usize = 60;

impl MaskConfig {
    /// The options, with the preset filling in what was not given.
    pub fn resolve(o: MaskOptions) -> Result<MaskConfig, OptionError> {
        if o.span_max.is_some() && o.span_mean.is_none() {
            return Err(OptionError::Requires {
                option: MaskOption::SpanMax,
                needs: MaskOption::SpanMean,
            });
        }
        if o.regions_mode.is_some() && o.regions.is_none() {
            return Err(OptionError::Requires {
                option: MaskOption::RegionsMode,
                needs: MaskOption::Regions,
            });
        }
        let max_length = o.max_length.or(o.preset.facts().max_length);
        if o.crop.is_some() && max_length.is_none() {
            return Err(OptionError::Requires {
                option: MaskOption::Crop,
                needs: MaskOption::MaxLength,
            });
        }
        for (given, option) in [
            (o.split_seed.is_some(), MaskOption::SplitSeed),
            (o.split_groups.is_some(), MaskOption::SplitGroups),
        ] {
            if given && o.split.is_none() {
                return Err(OptionError::Requires {
                    option,
                    needs: MaskOption::Split,
                });
            }
        }
        let mode = o.mode.unwrap_or(o.preset.facts().mode);
        if mode.d3pm().is_some() {
            let given = [
                (MaskOption::Schedule, o.schedule.is_some()),
                (MaskOption::MaskToken, o.mask_token.is_some()),
                (MaskOption::Corrupt, o.corrupt.is_some()),
                (MaskOption::Timesteps, o.timesteps.is_some()),
                (MaskOption::SpanMean, o.span_mean.is_some()),
                (MaskOption::RandomPool, o.random_pool.is_some()),
                (MaskOption::RandomDiffers, o.random_differs.is_some()),
                (MaskOption::MinMasked, o.min_masked.is_some()),
            ];
            if let Some(&(option, _)) = given.iter().find(|(_, given)| *given) {
                return Err(OptionError::NotWithD3pm { option, mode });
            }
        }
        let p = o.preset.facts();
        let preset_error = |e: String| OptionError::invalid(MaskOption::Preset, o.preset, e);
        let schedule = match o.schedule {
            Some(s) => s,
            None => Schedule::parse(p.schedule).map_err(|e| preset_error(e.to_string()))?,
        };
        let corrupt = match o.corrupt {
            Some(c) => c,
            None => o.preset.corruption().map_err(preset_error)?,
        };
        Ok(MaskConfig {
            preset: o.preset,
            schedule,
            mode,
            mask_token: o.mask_token.unwrap_or_else(|| p.token.into()),
            corrupt,
            maskable: o.maskable,
            timesteps: o.timesteps.unwrap_or(p.timesteps),
            seed: o.seed.unwrap_or(crate::rng::DEFAULT_SEED),
            replicates: 1,
            line_width: DEFAULT_LINE_WIDTH,
            positions: false,
            compress: None,
            parquet_compression: ParquetCompression::default(),
            shard_rows: None,
            outdir: false,
            tokens: o.tokens,
            regions: o.regions.map(|source| RegionsOption {
                source,
                mode: o.regions_mode.unwrap_or_default(),
                partial: false,
                found_at: None,
            }),
            span: o.span_mean.map(|mean| Span {
                mean,
                max: o.span_max,
            }),
            random_pool: o.random_pool.unwrap_or(p.random_pool),
            random_differs: o.random_differs.unwrap_or(p.random_differs),
            min_masked: o.min_masked.unwrap_or(p.min_masked),
            max_length,
            crop: max_length.map(|_| o.crop.unwrap_or(Crop::Random)),
            split_seed: o.split.as_ref().map(|_| o.split_seed.unwrap_or(0)),
            split: o.split,
            split_groups: o.split_groups.map(GroupsFile::new),
            scan: None,
        })
    }

    /// The flags of `protmask mask` that give these options, each one `--flag=value` or
    /// `--flag` token: the preset and the seed always, every other option where it
    /// differs from the preset's value or the default (parsed and resolved, they give
    /// these options back). `regions_path`: the regions file to name (the manifest's;
    /// intervals recorded in the options are given as that file).
    pub fn flags(&self, regions_path: Option<&str>) -> Vec<String> {
        let p = self.preset.facts();
        let mut out = Vec::new();
        let mut flag = |option: MaskOption, value: &dyn std::fmt::Display| {
            out.push(format!("--{}={value}", option.name().replace('_', "-")));
        };
        flag(MaskOption::Preset, &self.preset);
        flag(MaskOption::Seed, &self.seed);
        if self.schedule.spec() != p.schedule {
            flag(MaskOption::Schedule, &self.schedule.spec());
        }
        if self.mode != p.mode {
            flag(MaskOption::Mode, &self.mode);
        }
        if self.mask_token != p.token {
            flag(MaskOption::MaskToken, &self.mask_token);
        }
        if self.preset.corruption().ok() != Some(self.corrupt) {
            let [m, r, k] = <[f64; 3]>::from(self.corrupt);
            flag(MaskOption::Corrupt, &format!("{m},{r},{k}"));
        }
        if let Some(chars) = &self.maskable {
            flag(MaskOption::Maskable, chars);
        }
        if self.timesteps != p.timesteps {
            flag(MaskOption::Timesteps, &self.timesteps);
        }
        if let Some(vocab) = self.tokens {
            flag(MaskOption::Tokens, &vocab);
        }
        if let Some(r) = &self.regions {
            let path = regions_path.or(r.path()).unwrap_or("REGIONS");
            flag(MaskOption::Regions, &path);
            if r.mode != RegionsMode::default() {
                flag(MaskOption::RegionsMode, &r.mode);
            }
        }
        if let Some(span) = self.span {
            flag(MaskOption::SpanMean, &span.mean);
            if let Some(max) = span.max {
                flag(MaskOption::SpanMax, &max);
            }
        }
        if self.random_pool != p.random_pool {
            flag(MaskOption::RandomPool, &self.random_pool);
        }
        if self.random_differs != p.random_differs {
            flag(MaskOption::RandomDiffers, &self.random_differs);
        }
        if self.min_masked != p.min_masked {
            flag(MaskOption::MinMasked, &self.min_masked);
        }
        if let Some(n) = self.max_length.filter(|&n| Some(n) != p.max_length) {
            flag(MaskOption::MaxLength, &n);
        }
        if let Some(crop) = self.crop.filter(|&c| c != Crop::Random) {
            flag(MaskOption::Crop, &crop);
        }
        if let Some(splits) = &self.split {
            flag(MaskOption::Split, splits);
            if let Some(seed) = self.split_seed.filter(|&s| s != 0) {
                flag(MaskOption::SplitSeed, &seed);
            }
            if let Some(groups) = &self.split_groups {
                flag(MaskOption::SplitGroups, &groups.path);
            }
        }
        // The options of the command line alone (they shape the files, not the masks).
        if self.regions.as_ref().is_some_and(|r| r.partial) {
            out.push("--regions-partial".into());
        }
        if self.replicates != 1 {
            out.push(format!("--replicates={}", self.replicates));
        }
        self.file_flags(&mut out, self.positions);
        out
    }

    /// The flags of `protmask scan` that give these options (a scan's): the preset
    /// always, the mask token, `--maskable`, `--tokens`, `--positions` (the regions file,
    /// `regions_path` as for `flags`), `--max-length` where they differ from the preset's,
    /// the variants file and its options, then the options that shape the files.
    pub fn scan_flags(&self, regions_path: Option<&str>) -> Vec<String> {
        let p = self.preset.facts();
        let mut out = vec![format!("--preset={}", self.preset)];
        if self.mask_token != p.token {
            out.push(format!("--mask-token={}", self.mask_token));
        }
        if let Some(chars) = &self.maskable {
            out.push(format!("--maskable={chars}"));
        }
        if let Some(vocab) = self.tokens {
            out.push(format!("--tokens={vocab}"));
        }
        if let Some(r) = &self.regions {
            out.push(format!(
                "--positions={}",
                regions_path.or(r.path()).unwrap_or("POSITIONS")
            ));
        }
        if let Some(n) = self.max_length.filter(|&n| Some(n) != p.max_length) {
            out.push(format!("--max-length={n}"));
        }
        if let Some(v) = self.scan.as_ref().and_then(|s| s.variants.as_ref()) {
            out.push(format!("--variants={}", v.path));
            if let Some(id) = &v.reference_id {
                out.push(format!("--reference-id={id}"));
            }
            if v.mode != crate::variants::VariantsMode::default() {
                out.push(format!("--variants-mode={}", v.mode));
            }
        }
        // A scan's table always has its positions: no flag.
        self.file_flags(&mut out, false);
        out
    }

    /// The flags that shape the files written, shared by `mask` and `scan` (`positions`:
    /// `mask --positions`), in the order manifests have always written them.
    fn file_flags(&self, out: &mut Vec<String>, positions: bool) {
        if self.line_width != DEFAULT_LINE_WIDTH {
            out.push(format!("--line-width={}", self.line_width));
        }
        if positions {
            out.push("--positions".into());
        }
        if let Some(c) = self.compress {
            out.push(format!("--compress={c}"));
        }
        let default_rows = crate::sink::shards::default_shard_rows(self.tokens.is_some());
        if let Some(rows) = self.shard_rows.filter(|&r| r != default_rows) {
            out.push(format!("--shard-rows={rows}"));
        }
        if self.parquet_compression != ParquetCompression::default() {
            out.push(format!(
                "--parquet-compression={}",
                self.parquet_compression
            ));
        }
    }

    /// `--max-length` and `--crop` together, when given.
    pub fn cropping(&self) -> Option<Cropping> {
        Some(Cropping {
            max_length: self.max_length?,
            crop: self.crop.unwrap_or(Crop::Random),
        })
    }

    /// The split rule (`--split`), its groups file read now (an error names the file and
    /// line); `None` without `--split`.
    pub fn split_rule(&self) -> anyhow::Result<Option<SplitRule>> {
        let Some(splits) = &self.split else {
            return Ok(None);
        };
        let seed = self.split_seed.unwrap_or(0);
        let groups = match &self.split_groups {
            Some(g) => Some(g.load(seed)?),
            None => None,
        };
        Ok(Some(SplitRule {
            splits: splits.clone(),
            seed,
            groups,
        }))
    }

    /// The masker these options describe, with the shifts of every replicate computed.
    pub fn masker(&self) -> Masker {
        Masker::new(
            self.schedule.clone(),
            self.mode,
            self.corrupt,
            self.timesteps,
            self.maskable.as_deref().map(str::as_bytes),
            self.seed,
        )
        .with_replicates(self.replicates)
        .with_span(self.span)
        .with_random(self.random_pool, self.random_differs)
        .with_min_masked(self.min_masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(given: &[(&str, OptionValue)]) -> MaskConfig {
        let mut o = MaskOptions::default();
        for (name, value) in given {
            o.set(name, value.clone()).unwrap();
        }
        MaskConfig::resolve(o).unwrap()
    }

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }

    #[test]
    fn every_preset_resolves_and_options_override() {
        for &p in Preset::ALL {
            let c = resolve(&[("preset", text(p.name()))]);
            let f = p.facts();
            assert_eq!(c.schedule.spec(), f.schedule);
            assert_eq!((c.mode, c.timesteps), (f.mode, f.timesteps));
            assert_eq!(c.mask_token, f.token);
            let [m, r, _] = f.corruption;
            assert_eq!((c.corrupt.mask(), c.corrupt.random()), (m, r));
        }
        let c = resolve(&[
            ("preset", text("esm2")),
            ("schedule", text("cosine")),
            ("mode", text("bernoulli")),
            ("mask_token", text("X")),
        ]);
        assert_eq!(
            (c.schedule.spec(), c.mode, c.mask_token.as_str()),
            ("cosine", Mode::Bernoulli, "X")
        );
        assert_eq!(c.corrupt.random(), 0.1);
    }

    #[test]
    fn every_option_can_be_set_by_name() {
        // An option without an arm in `set` would not compile; this checks each arm
        // reaches its field.
        let mut intervals = BTreeMap::new();
        intervals.insert("a".to_string(), vec![(0, 3)]);
        let c = resolve(&[
            ("preset", text("dplm")),
            ("seed", OptionValue::Int("7".into())),
            ("schedule", text("0.3")),
            ("mode", text("exact")),
            ("mask_token", text("#")),
            ("corrupt", OptionValue::Floats(vec![0.5, 0.25, 0.25])),
            ("maskable", text("ACD")),
            ("timesteps", text("stratified")),
            ("tokens", text("esm")),
            ("regions", OptionValue::Intervals(intervals.clone())),
            ("regions_mode", text("except")),
            ("span_mean", OptionValue::Int("3".into())),
            ("span_max", OptionValue::Int("5".into())),
            ("random_pool", text("extended")),
            ("random_differs", OptionValue::Bool(true)),
            ("min_masked", OptionValue::Int("3".into())),
        ]);
        let cropped = resolve(&[
            ("max_length", OptionValue::Int("9".into())),
            ("crop", text("center")),
        ]);
        assert_eq!(
            (cropped.max_length, cropped.crop),
            (Some(9), Some(Crop::Center))
        );
        assert_eq!(c.preset, Preset::Dplm);
        assert_eq!(c.seed, 7);
        assert_eq!(c.schedule.spec(), "0.3");
        assert_eq!(c.mode, Mode::Exact);
        assert_eq!(c.mask_token, "#");
        assert_eq!(<[f64; 3]>::from(c.corrupt), [0.5, 0.25, 0.25]);
        assert_eq!(c.maskable.as_deref(), Some("ACD"));
        assert_eq!(c.timesteps, Timesteps::Stratified);
        assert_eq!(c.tokens, Some(Vocab::Esm));
        let r = c.regions.unwrap();
        assert_eq!(
            (r.source, r.mode),
            (RegionsSource::Intervals(intervals), RegionsMode::Except)
        );
        assert_eq!(
            c.span,
            Some(Span {
                mean: 3.0,
                max: Some(5)
            })
        );
        assert_eq!(
            (c.random_pool, c.random_differs, c.min_masked),
            (RandomPool::Extended, true, 3)
        );
        let split = resolve(&[
            ("split", text("train=0.9,test=0.1")),
            ("split_seed", OptionValue::Int("5".into())),
            ("split_groups", text("clu_cluster.tsv")),
        ]);
        assert_eq!(
            split.split.as_ref().map(|s| s.to_string()).as_deref(),
            Some("train=0.9,test=0.1")
        );
        assert_eq!(split.split_seed, Some(5));
        assert_eq!(
            split.split_groups.map(|g| g.path).as_deref(),
            Some("clu_cluster.tsv")
        );
        assert_eq!(MaskOption::ALL.len(), 21, "a new option needs a line above");
    }

    #[test]
    fn bad_values_read_as_the_command_line_reads_them() {
        let set = |name: &str, v: OptionValue| MaskOptions::default().set(name, v).unwrap_err();
        let e = set("seed", OptionValue::Int("-1".into()));
        assert_eq!(
            e.to_string(),
            "invalid value '-1' for '--seed <N>': -1 is not in 0..=18446744073709551615"
        );
        let e = set("mode", text("random"));
        assert_eq!(
            e.to_string(),
            "invalid value 'random' for '--mode <MODE>' [possible values: bernoulli, exact, floor, oadm, d3pm-uniform, d3pm-blosum]"
        );
        let e = set("corrupt", OptionValue::Floats(vec![1.0, 0.0]));
        assert_eq!(
            e.to_string(),
            "invalid value '1,0' for '--corrupt <M,R,K>': expected three fractions M,R,K such \
             as 0.8,0.1,0.1, got '1,0'"
        );
        let e = set("span_max", OptionValue::Int("0".into()));
        assert_eq!(
            e.to_string(),
            "invalid value '0' for '--span-max <N>': 0 is not in 1..=4294967295"
        );
        assert!(matches!(
            set("seed", text("42")),
            OptionError::WrongType { .. }
        ));
        assert_eq!(
            set("colour", text("red")),
            OptionError::Unknown("colour".into())
        );
        let mut o = MaskOptions::default();
        o.set("span_max", OptionValue::Int("3".into())).unwrap();
        assert_eq!(
            MaskConfig::resolve(o).unwrap_err().to_string(),
            "the following required arguments were not provided: --span-mean <M>"
        );
    }

    /// The manifest's options are this struct as JSON: the field names and value forms of
    /// manifests written before it existed still read, and a round trip is lossless.
    #[test]
    fn json_round_trip_and_the_recorded_field_names() {
        let mut c = resolve(&[("preset", text("mdlm")), ("maskable", text("ACD"))]);
        c.compress = Some(Compression::Zstd);
        let json = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "preset",
            "schedule",
            "schedule_resolved",
            "mode",
            "mask_token",
            "corrupt",
            "maskable",
            "timesteps",
            "seed",
            "replicates",
            "line_width",
            "positions",
            "compress",
            "outdir",
        ];
        let mut got = keys.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(json["preset"], "mdlm");
        assert_eq!(json["mode"], "bernoulli");
        assert_eq!(json["timesteps"], "stratified");
        assert_eq!(json["compress"], "zst");
        assert_eq!(json["corrupt"], serde_json::json!([1.0, 0.0, 0.0]));
        let back: MaskConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        // A resolved schedule rebuilds the curve even if the given name were unknown.
        let mut renamed = json.clone();
        renamed["schedule"] = "some-future-name".into();
        let back: MaskConfig = serde_json::from_value(renamed).unwrap();
        assert_eq!(back.schedule.spec(), "some-future-name");
        assert_eq!(back.schedule.rate(0.3), c.schedule.rate(0.3));
        // A corruption that does not sum to 1 is refused on the way in.
        let mut bad = json;
        bad["corrupt"] = serde_json::json!([0.5, 0.1, 0.1]);
        assert!(serde_json::from_value::<MaskConfig>(bad).is_err());
    }

    /// Issue 21: the new options are recorded only when not the default (so the options of
    /// the presets without them serialise as before), read back as given, and the command
    /// line names each only where it differs from the preset's.
    #[test]
    fn issue21_random_pool_differs_and_min_masked_are_recorded_and_flagged() {
        let c = resolve(&[("preset", text("esm2"))]);
        let json = serde_json::to_value(&c).unwrap();
        for key in ["random_pool", "random_differs", "min_masked"] {
            assert!(json.get(key).is_none(), "{key} recorded at its default");
        }
        let back: MaskConfig = serde_json::from_value(json).unwrap();
        assert_eq!(
            (back.random_pool, back.random_differs, back.min_masked),
            (RandomPool::Standard, false, 0)
        );
        assert_eq!(c.flags(None), ["--preset=esm2", "--seed=42"]);

        let carp = resolve(&[("preset", text("carp"))]);
        let json = serde_json::to_value(&carp).unwrap();
        assert_eq!(
            (
                &json["random_pool"],
                &json["random_differs"],
                &json["min_masked"]
            ),
            (&"extended".into(), &true.into(), &1.into())
        );
        assert_eq!(carp.mode, Mode::Floor);
        assert_eq!(carp.flags(None), ["--preset=carp", "--seed=42"]);

        // Against the preset's values: each named, and parsed back to the same options.
        let off = resolve(&[
            ("preset", text("carp")),
            ("random_pool", text("standard")),
            ("random_differs", OptionValue::Bool(false)),
            ("min_masked", OptionValue::Int("0".into())),
        ]);
        assert_eq!(
            off.flags(None),
            [
                "--preset=carp",
                "--seed=42",
                "--random-pool=standard",
                "--random-differs=false",
                "--min-masked=0"
            ]
        );
        let json = serde_json::to_value(&off).unwrap();
        assert!(json.get("random_pool").is_none() && json.get("min_masked").is_none());
        let back: MaskConfig = serde_json::from_value(json).unwrap();
        assert_eq!(
            (back.random_pool, back.random_differs, back.min_masked),
            (RandomPool::Standard, false, 0)
        );

        let set = |name: &str, v: OptionValue| MaskOptions::default().set(name, v).unwrap_err();
        assert_eq!(
            set("random_differs", text("yes")).to_string(),
            "random_differs takes a bool, not a string"
        );
        assert_eq!(
            set("seed", OptionValue::Bool(true)).to_string(),
            "seed takes an int, not a bool"
        );
        assert_eq!(
            set("min_masked", OptionValue::Int("-1".into())).to_string(),
            "invalid value '-1' for '--min-masked <N>': -1 is not in 0..=4294967295"
        );
        assert_eq!(
            set("random_pool", text("all")).to_string(),
            "invalid value 'all' for '--random-pool <POOL>' [possible values: standard, extended]"
        );
    }

    /// Issue 22: the split options are recorded only with `--split` (the seed always with
    /// it), read back as given, and flagged where they differ from the defaults; the seed
    /// or the groups without `--split` are the usage error the command line gives.
    #[test]
    fn issue22_split_options_are_recorded_and_flagged() {
        let plain = serde_json::to_value(resolve(&[])).unwrap();
        for key in ["split", "split_seed", "split_groups"] {
            assert!(plain.get(key).is_none(), "{key} recorded without --split");
        }
        let c = resolve(&[("split", text("train=0.98,validation=0.01,test=0.01"))]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["split"], "train=0.98,validation=0.01,test=0.01");
        assert_eq!(json["split_seed"], 0);
        assert!(json.get("split_groups").is_none());
        assert_eq!(
            c.flags(None),
            [
                "--preset=esm3",
                "--seed=42",
                "--split=train=0.98,validation=0.01,test=0.01"
            ]
        );
        let c = resolve(&[
            ("split", text("a=0.5,b=0.5")),
            ("split_seed", OptionValue::Int("9".into())),
            ("split_groups", text("c.tsv")),
        ]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            (&json["split_seed"], &json["split_groups"]),
            (&9.into(), &"c.tsv".into())
        );
        let back: MaskConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        assert_eq!(
            c.flags(None)[2..],
            [
                "--split=a=0.5,b=0.5",
                "--split-seed=9",
                "--split-groups=c.tsv"
            ]
        );
        for (name, value) in [
            ("split_seed", OptionValue::Int("1".into())),
            ("split_groups", text("c.tsv")),
        ] {
            let mut o = MaskOptions::default();
            o.set(name, value).unwrap();
            assert_eq!(
                MaskConfig::resolve(o).unwrap_err().to_string(),
                "the following required arguments were not provided: --split <SPLITS>"
            );
        }
        let e = MaskOptions::default()
            .set("split", text("a=0.5"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value 'a=0.5' for '--split <SPLITS>': ")
        );
    }

    #[test]
    fn regions_are_recorded_by_path_or_by_intervals() {
        let c = resolve(&[("regions", text("cdr.bed"))]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["regions"],
            serde_json::json!({"path": "cdr.bed", "mode": "only", "partial": false})
        );
        let back: MaskConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.regions.unwrap().path(), Some("cdr.bed"));
        let mut map = BTreeMap::new();
        map.insert("P1".to_string(), vec![(2, 5), (7, 9)]);
        let c = resolve(&[("regions", OptionValue::Intervals(map))]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["regions"],
            serde_json::json!({"intervals": {"P1": [[2, 5], [7, 9]]}, "mode": "only", "partial": false})
        );
        let back: MaskConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.regions, c.regions);
    }
}
