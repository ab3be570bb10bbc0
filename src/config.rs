//! Presets, and the one place raw flags become a resolved configuration.
//!
//! A preset fills in schedule, mode, token, corruption and timesteps; any of those given
//! explicitly wins. Everything after this point sees only resolved, validated values.

use crate::cli::{ModeArg, PresetName, TimestepsArg};
use crate::mask::{Corruption, Mode, Timesteps};
use crate::schedule::Schedule;

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
    },
    Preset {
        name: "esm2",
        schedule: "0.15",
        mode: Mode::Exact,
        token: "<mask>",
        corruption: (0.8, 0.1, 0.1),
        timesteps: Timesteps::Iid,
        source: "ESM-2/ESM-1b (fair-esm, fairseq): 15%, exact count floor(p*n + U), 80/10/10",
    },
    Preset {
        name: "dplm",
        schedule: "discrete(500)",
        mode: Mode::Bernoulli,
        token: "<mask>",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Iid,
        source: "DPLM: t uniform on 1..500, each token masked with probability t/500",
    },
    Preset {
        name: "evodiff",
        schedule: "uniform",
        mode: Mode::Exact,
        token: "#",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Iid,
        source: "EvoDiff OADM: an exact count drawn without replacement, mask character '#'",
    },
    Preset {
        name: "mdlm",
        schedule: "uniform(0.000999,0.999)",
        mode: Mode::Bernoulli,
        token: "<mask>",
        corruption: (1.0, 0.0, 0.0),
        timesteps: Timesteps::Stratified,
        source: "MDLM: log-linear, mask probability (1-1e-3)t, t = (1-1e-3)u + 1e-3, u stratified",
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

/// The masking choices after the preset and explicit flags are combined.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub preset: &'static str,
    pub schedule: Schedule,
    pub mode: Mode,
    pub token: String,
    pub corruption: Corruption,
    pub timesteps: Timesteps,
}

pub fn resolve(
    preset_name: PresetName,
    schedule: Option<Schedule>,
    mode: Option<ModeArg>,
    token: Option<String>,
    corruption: Option<Corruption>,
    timesteps: Option<TimestepsArg>,
) -> Resolved {
    let p = preset(preset_name);
    let (m, r, k) = p.corruption;
    Resolved {
        preset: p.name,
        schedule: schedule
            .unwrap_or_else(|| Schedule::parse(p.schedule).expect("preset schedules are valid")),
        mode: match mode {
            Some(ModeArg::Bernoulli) => Mode::Bernoulli,
            Some(ModeArg::Exact) => Mode::Exact,
            None => p.mode,
        },
        token: token.unwrap_or_else(|| p.token.to_string()),
        corruption: corruption
            .unwrap_or_else(|| Corruption::new(m, r, k).expect("preset corruptions are valid")),
        timesteps: match timesteps {
            Some(TimestepsArg::Iid) => Timesteps::Iid,
            Some(TimestepsArg::Stratified) => Timesteps::Stratified,
            None => p.timesteps,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_resolves_and_flags_override() {
        for name in [
            PresetName::Esm3,
            PresetName::Esm2,
            PresetName::Dplm,
            PresetName::Evodiff,
            PresetName::Mdlm,
        ] {
            let r = resolve(name, None, None, None, None, None);
            assert_eq!(r.schedule.spec(), preset(name).schedule);
        }
        let r = resolve(
            PresetName::Esm2,
            Some("cosine".parse().unwrap()),
            Some(ModeArg::Bernoulli),
            Some("X".into()),
            None,
            None,
        );
        assert_eq!(
            (r.schedule.spec(), r.mode, r.token.as_str()),
            ("cosine", Mode::Bernoulli, "X")
        );
        assert_eq!(r.corruption.random(), 0.1);
    }
}
