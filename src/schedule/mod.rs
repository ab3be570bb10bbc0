//! Noise schedules: a distribution of the mask rate r in [0,1] and its curve r(t) = Q(1-t)
//! (t = 0 fully masked, t = 1 clean), parsed from the `--schedule` grammar.
//! Invariant: `rate`, `quantile`, `cdf` and `pdf` are bit-for-bit identical on every platform,
//! because their values are printed in full precision and pinned by golden tests. Hence they
//! use only IEEE + - * / and sqrt (correctly rounded) and the pure-Rust `libm` crate.
//
// REPRODUCIBILITY RULES for everything reachable from rate/quantile/cdf/pdf:
// - never call std's f64::exp/ln/powf/powi/cos/sin/... (platform libm or LLVM intrinsics,
//   which may differ by an ulp across platforms); use `libm::*` and `special::powi`;
// - never use mul_add (FMA) and never depend on HashMap iteration order;
// - every iteration count and stopping rule is a deterministic function of the inputs.

mod dist;
mod grammar;
mod invert;
mod special;
#[cfg(test)]
mod tests;

use dist::Law;
use invert::Table;

/// `(name, formula, source)` of every named schedule, curve and distribution form.
pub const NAMES: &[(&str, &str, &str)] = &[
    (
        "linear",
        "r(t) = 1 - t",
        "ESM3 esm/utils/noise_schedules.py",
    ),
    (
        "cosine",
        "r(t) = cos(pi t / 2)",
        "ESM3 noise_schedules.py; structure tokens (ESM3 Table S6)",
    ),
    (
        "cubic",
        "r(t) = 1 - t^3",
        "ESM3 noise_schedules.py; coordinates (ESM3 Table S6)",
    ),
    (
        "square",
        "r(t) = 1 - t^2",
        "ESM3 esm/utils/noise_schedules.py",
    ),
    (
        "sqrt",
        "r(t) = 1 - sqrt(t)",
        "ESM3 noise_schedules.py (square_root_schedule); SS8, SASA, function",
    ),
    ("square_root", "same as sqrt", "alias"),
    (
        "square_root_schedule",
        "same as sqrt",
        "alias (the ESM3 function name)",
    ),
    (
        "betalinear30",
        "0.8*beta(3,9) + 0.2*uniform (mean rate 0.30)",
        "ESM3 paper, appendix A.2.2.1 (sequence track)",
    ),
    (
        "beta30",
        "beta(3,7) (mean rate 0.30)",
        "ESM3 paper, comparison schedule",
    ),
    ("beta(a,b)", "r ~ Beta(a, b), a, b > 0", "distribution"),
    ("uniform", "r ~ U(0, 1)", "distribution; EvoDiff OADM"),
    (
        "uniform(lo,hi)",
        "r ~ U(lo, hi), 0 <= lo < hi <= 1",
        "distribution; MDLM uses uniform(0.000999,0.999)",
    ),
    (
        "fixed(r)",
        "r constant, 0 <= r <= 1; a bare number such as 0.15 is the same",
        "BERT / ESM-2 (0.15)",
    ),
    (
        "discrete(n)",
        "r uniform on 1/n, 2/n, ..., 1",
        "DPLM (n = 500)",
    ),
    (
        "w1*S1 + w2*S2 + ...",
        "mixture: weights > 0, decimals or fractions a/b, summing to 1 (within 1e-6, then normalised), components not mixtures",
        "distribution",
    ),
];

/// The names and forms listed in an "unknown schedule" message.
fn known_forms() -> String {
    let forms: Vec<&str> = NAMES
        .iter()
        .map(|n| n.0)
        .filter(|n| !n.contains('*'))
        .collect();
    format!("{}, or a number", forms.join(", "))
}

/// A parse error that names the bad token and its 1-based character column in the spec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid schedule '{spec}': {message} at position {position}")]
pub struct ScheduleError {
    pub spec: String,
    pub token: String,
    pub position: usize,
    pub message: String,
}

/// A validated noise schedule.
#[derive(Clone)]
pub struct Schedule {
    /// The spec as the user gave it.
    spec: String,
    law: Law,
    /// Quantile table; present exactly when `law` has no closed-form quantile.
    table: Option<Table>,
}

impl Schedule {
    /// Parse and validate a spec; builds the quantile table of numeric laws (~1-20 ms).
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        let law = grammar::parse(spec)?;
        let table = law
            .closed_quantile(0.5)
            .is_none()
            .then(|| Table::build(&law));
        Ok(Schedule {
            spec: spec.to_string(),
            law,
            table,
        })
    }

    /// The spec as the user gave it.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Fully resolved spec (named schedules expanded); parses back to an identical schedule.
    pub fn canonical(&self) -> String {
        self.law.canonical()
    }

    /// The curve r(t) = Q(1-t); `t` is clamped to [0,1], NaN gives NaN. Hot path.
    pub fn rate(&self, t: f64) -> f64 {
        if t.is_nan() {
            return f64::NAN;
        }
        let t = t.clamp(0.0, 1.0);
        match &self.law {
            Law::Single(dist::Dist::Curve(c)) => c.rate(t),
            _ => self.quantile(1.0 - t),
        }
    }

    /// Q(u) = inf{r : F(r) >= u} for `u` in (0,1]; Q(0) is the bottom of the support.
    /// `u` is clamped to [0,1], NaN gives NaN.
    pub fn quantile(&self, u: f64) -> f64 {
        if u.is_nan() {
            return f64::NAN;
        }
        let u = u.clamp(0.0, 1.0);
        match &self.table {
            Some(table) => table.quantile(&self.law, u),
            None => self.law.closed_quantile(u).unwrap_or_else(|| {
                let (lo, hi) = self.law.support();
                invert::bisect(&self.law, u, lo, hi)
            }),
        }
    }

    /// P(rate <= r).
    pub fn cdf(&self, r: f64) -> f64 {
        if r.is_nan() {
            return f64::NAN;
        }
        self.law.cdf_density(r).0
    }

    /// Density of the rate at `r`: `INFINITY` where unbounded and at the atom of a point
    /// mass, 0 outside the support.
    pub fn pdf(&self, r: f64) -> f64 {
        if r.is_nan() {
            return f64::NAN;
        }
        self.law.pdf(r)
    }

    /// Mean rate, in closed form.
    pub fn mean(&self) -> f64 {
        self.law.mean()
    }
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule")
            .field("spec", &self.spec)
            .field("canonical", &self.canonical())
            .finish()
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(spec: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(spec)
    }
}

impl Schedule {
    /// The same schedule labelled with another spec: a manifest regenerates from the
    /// resolved form while still reporting the spec its user typed.
    pub fn relabelled(mut self, spec: &str) -> Schedule {
        self.spec = spec.to_string();
        self
    }
}

/// In a manifest a schedule is two fields: the spec as given and its resolved form, from
/// which it is rebuilt (named schedules could change meaning; the resolved form cannot).
#[derive(serde::Serialize, serde::Deserialize)]
struct ScheduleFields {
    schedule: String,
    schedule_resolved: String,
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ScheduleFields {
            schedule: self.spec.clone(),
            schedule_resolved: self.canonical(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Schedule, D::Error> {
        let f = ScheduleFields::deserialize(d)?;
        Schedule::parse(&f.schedule_resolved)
            .map(|s| s.relabelled(&f.schedule))
            .map_err(serde::de::Error::custom)
    }
}
