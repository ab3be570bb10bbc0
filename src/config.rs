//! Presets, and the one place raw flags become the resolved configuration of a run.
//!
//! `MaskConfig` is built once, from the flags and the preset (an explicit flag wins over
//! the preset), and everything after reads it: the masker, the output formats, and the
//! manifest, whose `options` are this struct serialised. Regeneration deserialises it, so
//! there is no second builder and no enum-to-string helper. A new masking option is a
//! clap field, a field here, and the code that uses it (docs/design.md, "Option flow").

use serde::{Deserialize, Serialize};

use crate::cli::{MaskArgs, PresetName};
use crate::io::Compression;
use crate::mask::{Corruption, Masker, Mode, Timesteps};
use crate::regions::{RegionsMode, RegionsOption};
use crate::schedule::Schedule;
use crate::sink::Vocab;
use crate::spans::Span;

/// The conventions of one model family (CONTRACT.md, "Presets").
#[derive(Clone, Debug)]
pub struct Preset {
    pub name: &'static str,
    pub schedule: &'static str,
    pub mode: Mode,
    pub token: &'static str,
    pub corruption: (f64, f64, f64),
    pub timesteps: Timesteps,
    /// Where the convention comes from.
    pub source: &'static str,
    /// The reference code it follows: repository, file, function (or the paper).
    pub reference: &'static str,
    /// What is reproduced exactly.
    pub exact: &'static str,
    /// What is not.
    pub differs: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "esm3",
        schedule: "betalinear30",
        mode: Mode::Bernoulli,
        token: "_",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Iid,
        source: "ESM3 paper, appendix A.2.2.1 (sequence track); '_' is ESM3's sequence mask",
        reference: "evolutionaryscale/esm, esm/utils/noise_schedules.py (the curves); ESM3 paper \
                    appendix A.2.2.1 (betalinear30 for the sequence track)",
        exact: "the rate law 0.8*Beta(3,9) + 0.2*U(0,1) per sequence; each residue masked \
                independently with that rate; '_' as the mask",
        differs: "ESM3's training code is not released: the per-residue draw follows the \
                  paper's text; structure and function tracks are not masked",
    },
    Preset {
        name: "esm2",
        schedule: "0.15",
        mode: Mode::Exact,
        token: "<mask>",
        corruption: (0.8, 0.1, 0.1),
        timesteps: Timesteps::Iid,
        source: "ESM-2/ESM-1b (fair-esm, fairseq): 15%, exact count floor(p*n + U), 80/10/10",
        reference: "facebookresearch/fairseq, fairseq/data/mask_tokens_dataset.py, \
                    MaskTokensDataset (ESM-1b era); ESM-2 paper (its training code is unreleased)",
        exact: "count int(0.15*L + U) positions without replacement; of those 80% '<mask>', \
                10% a random residue, 10% kept",
        differs: "random residues come from the 20 standard amino acids (fairseq: every \
                  non-special symbol; Hugging Face's collator: the whole vocabulary)",
    },
    Preset {
        name: "dplm",
        schedule: "discrete(500)",
        mode: Mode::Bernoulli,
        token: "<mask>",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Iid,
        source: "DPLM: t uniform on 1..500, each token masked with probability t/500",
        reference: "bytedance/dplm, src/byprot/models/dplm/dplm.py (q_sample)",
        exact: "t uniform on {1..500}, each residue masked independently with probability \
                t/500 (Bernoulli, not an exact count), '<mask>'",
        differs: "DPLM's special tokens (<cls>, <eos>) are not in FASTA; its draws come from \
                  torch's generator, protmask's from the per-record stream",
    },
    Preset {
        name: "evodiff",
        schedule: "linear",
        mode: Mode::Oadm,
        token: "#",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Iid,
        source: "EvoDiff OADM: k uniform on {2..L}, drawn without replacement, mask character '#'",
        reference: "microsoft/evodiff, evodiff/collaters.py, OAMaskCollater",
        exact: "t = randint(1, L) (L excluded), num_mask = L - t + 1: k uniform on {2..L} for \
                L >= 2, k = L for L <= 1; positions without replacement; '#'",
        differs: "the row's t is 1 - k/L (on the linear curve), not EvoDiff's integer t; \
                  EvoDiff draws from numpy's global generator",
    },
    Preset {
        name: "mdlm",
        schedule: "uniform(0.000999,0.999)",
        mode: Mode::Bernoulli,
        token: "<mask>",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Stratified,
        source: "MDLM: log-linear, mask probability (1-1e-3)t, t = (1-1e-3)u + 1e-3, u stratified",
        reference: "kuleshov-group/mdlm, diffusion.py (_sample_t, q_xt), \
                    noise_schedule.py (LogLinearNoise)",
        exact: "move chance (1-eps)*t with eps = 1e-3 and t in [eps, 1]: rates uniform on \
                [0.000999, 0.999]; each residue masked independently",
        differs: "MDLM stratifies u over a batch (antithetic, a random offset); protmask \
                  stratifies over an input in order (a rotated van der Corput sequence)",
    },
];

pub fn preset(name: PresetName) -> &'static Preset {
    let key = match name {
        PresetName::Esm3 => "esm3",
        PresetName::Esm2 => "esm2",
        PresetName::Dplm => "dplm",
        PresetName::Evodiff => "evodiff",
        PresetName::Mdlm => "mdlm",
    };
    PRESETS
        .iter()
        .find(|p| p.name == key)
        .expect("every PresetName has a preset")
}

/// Masking options as the strings given to the `mask` flags of the same names (`None`:
/// not given, so the default or the preset's); see `MaskConfig::from_options`.
#[derive(Clone, Debug, Default)]
pub struct MaskOptions {
    pub preset: Option<String>,
    pub seed: Option<String>,
    pub schedule: Option<String>,
    pub mode: Option<String>,
    pub mask_token: Option<String>,
    /// `M,R,K`.
    pub corrupt: Option<String>,
    pub maskable: Option<String>,
    pub timesteps: Option<String>,
    pub tokens: Option<String>,
}

/// Everything that decides the output bytes of a run, resolved (preset applied). Its JSON
/// form is a manifest's `options`; the field names are part of the manifest format.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MaskConfig {
    pub preset: String,
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
    /// Compression of stdout, when the FASTA went there.
    #[serde(with = "compression_name")]
    pub compress: Option<Compression>,
    /// One output per input (`--outdir`) rather than one output.
    pub outdir: bool,
    /// The dataset's token columns (`--tokens`); recorded only when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vocab>,
    /// `--regions`: the file as given, its mode and `--regions-partial` (absent from
    /// manifests of runs without it, and from those written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionsOption>,
    /// `--span-mean` and `--span-max` (absent likewise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

impl MaskConfig {
    /// The flags, with the preset filling in what was not given.
    pub fn resolve(args: &MaskArgs) -> MaskConfig {
        let p = preset(args.preset);
        let (m, r, k) = p.corruption;
        MaskConfig {
            preset: p.name.to_string(),
            schedule: args.schedule.clone().unwrap_or_else(|| {
                Schedule::parse(p.schedule).expect("preset schedules are valid")
            }),
            mode: args.mode.unwrap_or(p.mode),
            mask_token: args.mask_token.clone().unwrap_or_else(|| p.token.into()),
            corrupt: args
                .corrupt
                .unwrap_or_else(|| Corruption::new(m, r, k).expect("preset corruptions are valid")),
            maskable: args.maskable.clone(),
            timesteps: args.timesteps.unwrap_or(p.timesteps),
            seed: args.seed,
            replicates: args.replicates,
            line_width: args.line_width,
            positions: args.positions,
            compress: args.compress,
            outdir: args.outdir.is_some(),
            tokens: args.tokens,
            regions: args.regions.as_ref().map(|path| RegionsOption {
                path: path.clone(),
                mode: args.regions_mode.unwrap_or(RegionsMode::Only),
                partial: args.regions_partial,
            }),
            span: args.span_mean.map(|mean| Span {
                mean,
                max: args.span_max,
            }),
        }
    }

    /// The options of a caller other than the command line (the Python package), as the
    /// strings a user would give the flags: parsed by the `mask` subcommand's own clap
    /// definitions and resolved by `resolve`, so values, defaults and error messages are
    /// exactly the CLI's. The error is clap's message on one line, without `error: `.
    /// `--tokens` is accepted without `--dataset` here (there is no file to write).
    pub fn from_options(options: &MaskOptions) -> Result<MaskConfig, String> {
        use clap::{CommandFactory, FromArgMatches};
        let mask = crate::cli::Cli::command()
            .find_subcommand("mask")
            .expect("the CLI has a mask subcommand")
            .clone()
            .no_binary_name(true)
            .mut_arg("tokens", |a| {
                a.requires(clap::builder::Resettable::<clap::Id>::Reset)
            });
        let flags = [
            ("preset", &options.preset),
            ("seed", &options.seed),
            ("schedule", &options.schedule),
            ("mode", &options.mode),
            ("mask-token", &options.mask_token),
            ("corrupt", &options.corrupt),
            ("maskable", &options.maskable),
            ("timesteps", &options.timesteps),
            ("tokens", &options.tokens),
        ];
        let argv = flags
            .iter()
            .filter_map(|(flag, value)| value.as_ref().map(|v| format!("--{flag}={v}")));
        let one_line = |e: clap::Error| {
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let first = text.split("\n\n").next().unwrap_or_default();
            first.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let matches = mask.try_get_matches_from(argv).map_err(one_line)?;
        let args = crate::cli::MaskArgs::from_arg_matches(&matches).map_err(one_line)?;
        Ok(MaskConfig::resolve(&args))
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
    }
}

/// `compress` as its `--compress` name (`"gz"`, ...) or null.
mod compression_name {
    use crate::io::Compression;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &Option<Compression>, s: S) -> Result<S::Ok, S::Error> {
        match c {
            Some(c) => s.serialize_some(c.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Compression>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|n| n.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(flags: &[&str]) -> MaskConfig {
        let argv = ["protmask", "mask"].iter().chain(flags);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Mask(args) = cli.command else {
            panic!("not mask")
        };
        MaskConfig::resolve(&args)
    }

    #[test]
    fn every_preset_resolves_and_flags_override() {
        for p in PRESETS {
            let c = resolve(&["--preset", p.name]);
            assert_eq!(c.schedule.spec(), p.schedule);
            assert_eq!((c.mode, c.timesteps), (p.mode, p.timesteps));
            assert_eq!(c.mask_token, p.token);
        }
        let c = resolve(&[
            "--preset",
            "esm2",
            "--schedule",
            "cosine",
            "--mode",
            "bernoulli",
            "--mask-token",
            "X",
        ]);
        assert_eq!(
            (c.schedule.spec(), c.mode, c.mask_token.as_str()),
            ("cosine", Mode::Bernoulli, "X")
        );
        assert_eq!(c.corrupt.random(), 0.1);
    }

    /// The manifest's options are this struct as JSON: the field names and value forms of
    /// manifests written before it existed still read, and a round trip is lossless.
    #[test]
    fn json_round_trip_and_the_recorded_field_names() {
        let c = resolve(&["--preset", "mdlm", "--maskable", "ACD", "--compress", "zst"]);
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
}
