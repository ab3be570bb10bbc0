//! The presets: each model family's masking conventions, with the reference code they
//! follow.
//!
//! One table the compiler checks: `Preset` names the presets once (`choices!`), and
//! `Preset::facts` is an exhaustive match, so a preset without its facts does not
//! compile. Everything that lists presets (`schedule --list`, the Python package, the
//! tests, the pipelines) reads `Preset::ALL`, or its JSON form in `schedule --list
//! --format json`. Adding a preset is a variant and its arm here.

use serde::Serialize;

use crate::choice::choices;
use crate::mask::{Corruption, Mode, RandomPool, Timesteps};

choices! {
    /// A model family's conventions (`--preset`): schedule, mode, token, corruption and
    /// timesteps; explicit options override each of them.
    pub enum Preset {
        Esm3 = "esm3",
        Esm2 = "esm2",
        Dplm = "dplm",
        Evodiff = "evodiff",
        Mdlm = "mdlm",
        EvodiffD3pmUniform = "evodiff-d3pm-uniform",
        EvodiffD3pmBlosum = "evodiff-d3pm-blosum",
        Carp = "carp",
        BionemoEsm2 = "bionemo-esm2",
    }
}

// `choices!` cannot take `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for Preset {
    fn default() -> Self {
        Preset::Esm3
    }
}

/// What a preset sets, and where it comes from.
#[derive(Clone, Debug, Serialize)]
pub struct PresetFacts {
    /// A spec in the schedule grammar.
    pub schedule: &'static str,
    pub mode: Mode,
    #[serde(rename = "mask_token")]
    pub token: &'static str,
    /// Fractions masked, replaced, kept.
    #[serde(rename = "corrupt")]
    pub corruption: [f64; 3],
    pub timesteps: Timesteps,
    /// What a `random` corruption draws from.
    pub random_pool: RandomPool,
    /// A `random` corruption never draws the original letter.
    pub random_differs: bool,
    /// The least number of positions selected (at most L).
    pub min_masked: u32,
    /// Records longer than this are cropped to a random window of it (`--max-length`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Where the convention comes from.
    pub source: &'static str,
    /// The reference code it follows: repository, file, function (or the paper).
    pub reference: &'static str,
    /// What is reproduced exactly.
    pub exact: &'static str,
    /// What is not.
    pub differs: &'static str,
}

impl Preset {
    pub fn facts(self) -> PresetFacts {
        match self {
            Preset::Esm3 => PresetFacts {
                schedule: "betalinear30",
                mode: Mode::Bernoulli,
                token: "_",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "ESM3 paper, appendix A.2.2.1 (sequence track); '_' is ESM3's sequence mask",
                reference: "evolutionaryscale/esm, esm/utils/noise_schedules.py (the curves); ESM3 paper \
                            appendix A.2.2.1 (betalinear30 for the sequence track)",
                exact: "the rate law 0.8*Beta(3,9) + 0.2*U(0,1) per sequence; each residue masked \
                        independently with that rate; '_' as the mask",
                differs: "ESM3's training code is not released: the per-residue draw follows the \
                          paper's text; structure and function tracks are not masked",
            },
            Preset::Esm2 => PresetFacts {
                schedule: "0.15",
                mode: Mode::Exact,
                token: "<mask>",
                corruption: [0.8, 0.1, 0.1],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "ESM-2/ESM-1b (fair-esm, fairseq): 15%, exact count floor(p*n + U), 80/10/10",
                reference: "facebookresearch/fairseq, fairseq/data/mask_tokens_dataset.py, \
                            MaskTokensDataset (ESM-1b era); ESM-2 paper (its training code is unreleased)",
                exact: "count int(0.15*L + U) positions without replacement; of those 80% '<mask>', \
                        10% a random residue, 10% kept",
                differs: "random residues come from the 20 standard amino acids (fairseq: every \
                          non-special symbol; Hugging Face's collator: the whole vocabulary)",
            },
            Preset::Dplm => PresetFacts {
                schedule: "discrete(500)",
                mode: Mode::Bernoulli,
                token: "<mask>",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "DPLM: t uniform on 1..500, each token masked with probability t/500",
                reference: "bytedance/dplm, src/byprot/models/dplm/dplm.py (q_sample)",
                exact: "t uniform on {1..500}, each residue masked independently with probability \
                        t/500 (Bernoulli, not an exact count), '<mask>'",
                differs: "DPLM's special tokens (<cls>, <eos>) are not in FASTA; its draws come from \
                          torch's generator, protmask's from the per-record stream",
            },
            Preset::Evodiff => PresetFacts {
                schedule: "linear",
                mode: Mode::Oadm,
                token: "#",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "EvoDiff OADM: k uniform on {2..L}, drawn without replacement, mask character '#'",
                reference: "microsoft/evodiff, evodiff/collaters.py, OAMaskCollater",
                exact: "t = randint(1, L) (L excluded), num_mask = L - t + 1: k uniform on {2..L} for \
                        L >= 2, k = L for L <= 1; positions without replacement; '#'",
                differs: "the row's t is 1 - k/L (on the linear curve), not EvoDiff's integer t; \
                          EvoDiff draws from numpy's global generator",
            },
            Preset::Mdlm => PresetFacts {
                schedule: "uniform(0.000999,0.999)",
                mode: Mode::Bernoulli,
                token: "<mask>",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Stratified,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "MDLM: log-linear, mask probability (1-1e-3)t, t = (1-1e-3)u + 1e-3, u stratified",
                reference: "kuleshov-group/mdlm, diffusion.py (_sample_t, q_xt), \
                            noise_schedule.py (LogLinearNoise)",
                exact: "move chance (1-eps)*t with eps = 1e-3 and t in [eps, 1]: rates uniform on \
                        [0.000999, 0.999]; each residue masked independently",
                differs: "MDLM stratifies u over a batch (antithetic, a random offset); protmask \
                          stratifies over an input in order (a rotated van der Corput sequence)",
            },
            Preset::EvodiffD3pmUniform => PresetFacts {
                schedule: "linear",
                mode: Mode::D3pmUniform,
                token: "#",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "EvoDiff D3PM, uniform noise (D3PM_UNIFORM_38M/640M): t uniform on 1..499 of \
                         T = 500, each residue redrawn from its row of Q̄[t]",
                reference: "microsoft/evodiff, evodiff/collaters.py (D3PMCollater, \
                            sample_transition_matrix), evodiff/utils.py (q_random_schedule, \
                            _beta_schedule 'sohl-dickstein', cumprod_matrix)",
                exact: "t = randint(1, 500); Q̄[t] = Q_0···Q_t with Q_k = (1 - β_k) I + β_k/26 11ᵀ, \
                        β_k = 1/(T - k + 1) in float32; each of the 26 letters redrawn from its row \
                        (no mask token: '#' is never written)",
                differs: "the row's t is 1 - t/500 and its rate the expected fraction changed; \
                          residues outside ACDEFGHIKLMNPQRSTVWYBZXJOU are copied (EvoDiff's \
                          tokenizer refuses them); draws come from the per-record stream, not torch",
            },
            Preset::EvodiffD3pmBlosum => PresetFacts {
                schedule: "linear",
                mode: Mode::D3pmBlosum,
                token: "#",
                corruption: [1.0, 0.0, 0.0],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: None,
                source: "EvoDiff D3PM, BLOSUM62 noise (D3PM_BLOSUM_38M/640M): t uniform on 1..499 of \
                         T = 500, each residue redrawn from its row of Q̄[t]",
                reference: "microsoft/evodiff, evodiff/collaters.py (D3PMCollater, \
                            sample_transition_matrix), evodiff/utils.py (Tokenizer.q_blosum, \
                            q_blosum_schedule, _beta_schedule 'exp', double_stochastic, \
                            cumprod_matrix), data/blosum62-special-MSA.mat",
                exact: "t = randint(1, 500); q = Sinkhorn of exp(half-bit BLOSUM62) as EvoDiff \
                        builds it, β from the 'exp' schedule (max 6) in float32, Q_k = β_k q + \
                        diag(1 - β_k colsum(q)), Q̄[t] = Q_0···Q_t; each letter redrawn from its row \
                        normalised (as torch.multinomial does)",
                differs: "the row's t is 1 - t/500 and its rate the expected fraction changed; \
                          residues outside ACDEFGHIKLMNPQRSTVWYBZXJOU are copied; draws come from \
                          the per-record stream, not torch",
            },
            Preset::Carp => PresetFacts {
                schedule: "0.15",
                mode: Mode::Floor,
                token: "#",
                corruption: [0.8, 0.1, 0.1],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Extended,
                random_differs: true,
                min_masked: 1,
                max_length: None,
                source: "CARP (protein-sequence-models): int(0.15*L) positions, at least one; 10% kept, \
                         10% a random letter other than the original, 80% '#'",
                reference: "microsoft/protein-sequence-models, sequence_models/collaters.py, \
                            MLMCollater._prep (ALL_AAS and MASK in sequence_models/constants.py)",
                exact: "k = int(0.15*L) positions without replacement (random.sample), one chosen \
                        uniformly when that is 0; of those 80% '#', 10% a random letter of ALL_AAS \
                        (ACDEFGHIKLMNPQRSTVWYBZXJOU) other than the original (any of the 26 when the \
                        original is none of them), 10% kept",
                differs: "CARP draws from Python's random and numpy's global generators, protmask \
                          from the per-record stream; CARP drops empty sequences, protmask writes \
                          them unmasked; CARP orders the split kept, random, mask on one uniform, \
                          protmask mask, random, kept (the same fractions)",
            },
            Preset::BionemoEsm2 => PresetFacts {
                schedule: "0.15",
                mode: Mode::Bernoulli,
                token: "<mask>",
                corruption: [0.8, 0.1, 0.1],
                timesteps: Timesteps::Iid,
                random_pool: RandomPool::Standard,
                random_differs: false,
                min_masked: 0,
                max_length: Some(1022),
                source: "BioNeMo ESM-2 pretraining: each token selected with probability 0.15; 80% \
                         <mask>, 10% a random standard residue, 10% kept",
                reference: "NVIDIA/bionemo-framework, sub-packages/bionemo-llm/src/bionemo/llm/data/\
                            masking.py, apply_bert_pretraining_mask (called by sub-packages/\
                            bionemo-esm2/src/bionemo/esm2/data/dataset.py, ESMMaskedResidueDataset)",
                exact: "one uniform u per residue: u < 0.12 '<mask>', 0.12 <= u < 0.135 a random \
                        residue, 0.135 <= u < 0.15 kept, which in law is mode bernoulli at 0.15 with \
                        corrupt 0.8,0.1,0.1 (k ~ Binomial(L, 0.15), a uniform k-subset, a split per \
                        position: the same independent choice per residue); random residues from \
                        the 20 standard amino acids (random_tokens range(4, 24), ESM ids L..C), \
                        possibly the original",
                differs: "BioNeMo crops a sequence longer than 1,024 tokens with <cls> and <eos> \
                          (L > 1,022) to a random window of 1,024 tokens; protmask crops it to a \
                          random window of 1,022 residues (--max-length 1022, uniform start), \
                          drawn from the record's crop stream rather than numpy's \
                          default_rng([seed, idx]); its masking draws come from the per-record \
                          stream, not torch's generator; restore_hf_masking_strategy (random ids \
                          from all 33) is not reproduced",
            },
        }
    }

    /// The corruption fractions, as a checked `Corruption`.
    pub fn corruption(self) -> Result<Corruption, String> {
        Corruption::try_from(self.facts().corruption)
    }
}

/// One preset as `schedule --list --format json` lists it: its name and facts.
#[derive(Serialize)]
pub struct Listed {
    pub name: &'static str,
    #[serde(flatten)]
    pub facts: PresetFacts,
}

/// Every preset with its facts, in order.
pub fn list() -> Vec<Listed> {
    Preset::ALL
        .iter()
        .map(|&p| Listed {
            name: p.name(),
            facts: p.facts(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    #[test]
    fn every_preset_has_valid_facts() {
        for &p in Preset::ALL {
            let f = p.facts();
            Schedule::parse(f.schedule).unwrap_or_else(|e| panic!("{p}: {e}"));
            p.corruption().unwrap_or_else(|e| panic!("{p}: {e}"));
            assert!(!f.token.is_empty() && !f.reference.is_empty(), "{p}");
        }
        assert_eq!(Preset::default(), Preset::Esm3);
    }

    #[test]
    fn the_json_list_names_every_preset_with_its_facts() {
        let json = serde_json::to_value(list()).unwrap();
        let names: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, Preset::NAMES);
        assert_eq!(json[1]["mask_token"], "<mask>");
        assert_eq!(json[1]["corrupt"], serde_json::json!([0.8, 0.1, 0.1]));
        assert_eq!(json[4]["timesteps"], "stratified");
        assert_eq!(json[3]["mode"], "oadm");
    }
}
