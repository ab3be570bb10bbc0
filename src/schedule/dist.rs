//! The rate laws: ESM3 curves, simple distributions and mixtures of them, with their CDF,
//! density, mean, support and (where one exists) closed-form quantile.

use core::f64::consts::{FRAC_2_PI, FRAC_PI_2};

use super::special;

/// An ESM3 noise curve `r(t)` (esm/utils/noise_schedules.py), decreasing from 1 to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    Linear,
    Cosine,
    Cubic,
    Square,
    Sqrt,
}

impl Curve {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Curve::Linear => "linear",
            Curve::Cosine => "cosine",
            Curve::Cubic => "cubic",
            Curve::Square => "square",
            Curve::Sqrt => "sqrt",
        }
    }

    /// The curve itself, `g(t)` for `t` in [0,1].
    pub(crate) fn rate(self, t: f64) -> f64 {
        match self {
            Curve::Linear => 1.0 - t,
            // cos(pi t / 2) near t = 0, sin(pi (1-t) / 2) near t = 1 (exact 0 at t = 1).
            Curve::Cosine if t <= 0.5 => libm::cos(FRAC_PI_2 * t),
            Curve::Cosine => libm::sin(FRAC_PI_2 * (1.0 - t)),
            Curve::Cubic => 1.0 - t * t * t,
            Curve::Square => 1.0 - t * t,
            Curve::Sqrt => 1.0 - t.sqrt(),
        }
    }

    /// `Q(u) = g(1-u)`, written in `u` to keep the precision of small `u`.
    fn quantile(self, u: f64) -> f64 {
        let s = 1.0 - u;
        match self {
            Curve::Linear => u,
            Curve::Cosine if u <= 0.5 => libm::sin(FRAC_PI_2 * u),
            Curve::Cosine => libm::cos(FRAC_PI_2 * s),
            Curve::Cubic => 1.0 - s * s * s,
            Curve::Square => 1.0 - s * s,
            Curve::Sqrt => 1.0 - s.sqrt(),
        }
    }

    /// `F(r) = 1 - g^-1(r)` for `r` in (0,1).
    fn cdf(self, r: f64) -> f64 {
        match self {
            Curve::Linear => r,
            Curve::Cosine => FRAC_2_PI * libm::asin(r),
            Curve::Cubic => 1.0 - libm::cbrt(1.0 - r),
            Curve::Square => 1.0 - (1.0 - r).sqrt(),
            Curve::Sqrt => r * (2.0 - r),
        }
    }

    /// `f(r) = 1 / |g'(g^-1(r))|` for `r` in [0,1]; infinite at r = 1 for cosine, cubic, square.
    fn density(self, r: f64) -> f64 {
        match self {
            Curve::Linear => 1.0,
            Curve::Cosine => FRAC_2_PI / ((1.0 - r) * (1.0 + r)).sqrt(),
            Curve::Cubic => {
                let c = libm::cbrt(1.0 - r);
                1.0 / (3.0 * c * c)
            }
            Curve::Square => 0.5 / (1.0 - r).sqrt(),
            Curve::Sqrt => 2.0 * (1.0 - r),
        }
    }

    fn mean(self) -> f64 {
        match self {
            Curve::Linear => 0.5,
            Curve::Cosine => FRAC_2_PI,
            Curve::Cubic => 0.75,
            Curve::Square => 2.0 / 3.0,
            Curve::Sqrt => 1.0 / 3.0,
        }
    }
}

/// Beta(a, b) with its normalizing constant, and the exact binomial form for integer a, b.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Beta {
    a: f64,
    b: f64,
    ln_b: f64,
    binomial: Option<Binomial>,
}

/// Integer a, b: `I_x(a,b) = sum_{j=a}^{n} C(n,j) x^j (1-x)^(n-j)`, `n = a+b-1`.
#[derive(Debug, Clone, PartialEq)]
struct Binomial {
    a: u32,
    /// `C(n, a+i)` for `i = 0..b`, the coefficients of `x^a * sum_i c_i x^i y^(b-1-i)`.
    coef: Vec<f64>,
    /// `1 / B(a,b) = n C(n-1, a-1)`.
    inv_b: f64,
}

impl Beta {
    /// Caller guarantees `a, b` finite and > 0.
    pub(crate) fn new(a: f64, b: f64) -> Beta {
        let is_int = |v: f64| v.fract() == 0.0;
        let small = a + b - 1.0 <= f64::from(special::MAX_BINOMIAL_N);
        let binomial = (is_int(a) && is_int(b) && small).then(|| Binomial::new(a as u32, b as u32));
        Beta {
            a,
            b,
            ln_b: special::ln_beta(a, b),
            binomial,
        }
    }

    /// CDF and density at `x` in [0,1].
    fn cdf_density(&self, x: f64) -> (f64, f64) {
        match &self.binomial {
            Some(bin) => bin.cdf_density(x),
            None => (
                special::inc_beta(self.a, self.b, self.ln_b, x),
                libm::exp(
                    special::xlogx(self.a - 1.0, x) + special::xlog1px(self.b - 1.0, -x)
                        - self.ln_b,
                ),
            ),
        }
    }
}

impl Binomial {
    fn new(a: u32, b: u32) -> Binomial {
        let n = a + b - 1;
        let lower = a as usize - 1;
        Binomial {
            a,
            coef: special::pascal_row(n)[lower + 1..].to_vec(),
            inv_b: f64::from(n) * special::pascal_row(n - 1)[lower],
        }
    }

    /// `x^a P(x, y)` with `P(x, y) = sum_{i<b} c_i x^i y^(b-1-i)` by a homogeneous Horner
    /// scheme, and the density `x^(a-1) y^(b-1) / B(a,b)`, sharing the powers.
    fn cdf_density(&self, x: f64) -> (f64, f64) {
        let y = 1.0 - x;
        let (last, rest) = self.coef.split_last().unwrap_or((&0.0, &[]));
        let (mut poly, mut y_pow) = (*last, 1.0);
        for &c in rest.iter().rev() {
            y_pow *= y;
            poly = poly * x + c * y_pow;
        }
        let mut x_pow = 1.0; // x^(a-1)
        for _ in 1..self.a {
            x_pow *= x;
        }
        let cdf = (x_pow * x * poly).min(1.0);
        (cdf, self.inv_b * x_pow * y_pow)
    }
}

/// One rate distribution that is not a mixture.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dist {
    Curve(Curve),
    Beta(Beta),
    /// `0 <= lo < hi <= 1`.
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// A point mass, `0 <= r <= 1`.
    Fixed(f64),
    /// Uniform on `1/n, 2/n, ..., 1`, `n >= 1`.
    Discrete(u32),
}

impl Dist {
    /// Smallest and largest point of the support.
    pub(crate) fn support(&self) -> (f64, f64) {
        match *self {
            Dist::Curve(_) | Dist::Beta(_) => (0.0, 1.0),
            Dist::Uniform { lo, hi } => (lo, hi),
            Dist::Fixed(r) => (r, r),
            Dist::Discrete(n) => (atom(1, n), 1.0),
        }
    }

    /// CDF and the density of the continuous part (atoms contribute 0), for Newton steps.
    pub(crate) fn cdf_density(&self, r: f64) -> (f64, f64) {
        let (lo, hi) = self.support();
        if r < lo {
            return (0.0, 0.0);
        }
        if r > hi {
            return (1.0, 0.0);
        }
        match self {
            Dist::Curve(c) if r >= 1.0 => (1.0, c.density(1.0)),
            Dist::Curve(c) => (c.cdf(r), c.density(r)),
            Dist::Beta(beta) => beta.cdf_density(r),
            Dist::Uniform { lo, hi } if r == *hi => (1.0, 1.0 / (hi - lo)),
            Dist::Uniform { lo, hi } => ((r - lo) / (hi - lo), 1.0 / (hi - lo)),
            Dist::Fixed(_) => (1.0, 0.0),
            Dist::Discrete(n) => (atom(atoms_below(r, *n), *n), 0.0),
        }
    }

    /// Whether `[lo, hi]` holds a point where the CDF is not smooth (an atom or the end of a
    /// uniform; conservative for discrete). Curves and Beta are smooth inside (0,1).
    pub(crate) fn has_kink_in(&self, lo: f64, hi: f64) -> bool {
        let inside = |r: f64| lo <= r && r <= hi;
        match *self {
            Dist::Curve(_) | Dist::Beta(_) => false,
            Dist::Uniform { lo: a, hi: b } => inside(a) || inside(b),
            Dist::Fixed(c) => inside(c),
            Dist::Discrete(n) => (hi * f64::from(n)).floor() + 1.0 >= (lo * f64::from(n)).ceil(),
        }
    }

    /// Density of the rate: infinite at an atom of a point-mass law.
    pub(crate) fn pdf(&self, r: f64) -> f64 {
        match *self {
            Dist::Fixed(c) if r == c => f64::INFINITY,
            Dist::Discrete(n) if is_atom(r, n) => f64::INFINITY,
            _ => self.cdf_density(r).1,
        }
    }

    pub(crate) fn mean(&self) -> f64 {
        match *self {
            Dist::Curve(c) => c.mean(),
            Dist::Beta(Beta { a, b, .. }) => a / (a + b),
            Dist::Uniform { lo, hi } => 0.5 * (lo + hi),
            Dist::Fixed(r) => r,
            Dist::Discrete(n) => (f64::from(n) + 1.0) / (2.0 * f64::from(n)),
        }
    }

    /// `Q(u)` in closed form, for `u` in [0,1]; `None` for Beta (numeric inversion).
    pub(crate) fn closed_quantile(&self, u: f64) -> Option<f64> {
        Some(match *self {
            Dist::Curve(c) => c.quantile(u),
            Dist::Beta(_) => return None,
            Dist::Uniform { hi, .. } if u >= 1.0 => hi,
            Dist::Uniform { lo, hi } => (lo + u * (hi - lo)).min(hi),
            Dist::Fixed(r) => r,
            Dist::Discrete(n) => atom(discrete_quantile_index(u, n), n),
        })
    }

    /// Canonical spelling, which parses back to an identical `Dist`.
    pub(crate) fn canonical(&self) -> String {
        match self {
            Dist::Curve(c) => c.name().to_string(),
            Dist::Beta(beta) => format!("beta({},{})", beta.a, beta.b),
            Dist::Uniform { lo, hi } => format!("uniform({lo},{hi})"),
            Dist::Fixed(r) => format!("fixed({r})"),
            Dist::Discrete(n) => format!("discrete({n})"),
        }
    }
}

/// The k-th atom `k/n` of `discrete(n)`, as the correctly rounded quotient.
fn atom(k: u32, n: u32) -> f64 {
    f64::from(k) / f64::from(n)
}

/// Number of atoms `k/n <= r`, for `r` within [1/n, 1].
fn atoms_below(r: f64, n: u32) -> u32 {
    let mut k = ((r * f64::from(n)).floor() as u32).clamp(1, n);
    while k < n && atom(k + 1, n) <= r {
        k += 1;
    }
    while k > 1 && atom(k, n) > r {
        k -= 1;
    }
    k
}

/// Smallest `k >= 1` with `k/n >= u`: `ceil(u n)`, and `1` for `u = 0`.
fn discrete_quantile_index(u: f64, n: u32) -> u32 {
    let mut k = ((u * f64::from(n)).ceil() as u32).clamp(1, n);
    while k > 1 && atom(k - 1, n) >= u {
        k -= 1;
    }
    while k < n && atom(k, n) < u {
        k += 1;
    }
    k
}

fn is_atom(r: f64, n: u32) -> bool {
    let k = (r * f64::from(n)).round();
    k >= 1.0 && k <= f64::from(n) && atom(k as u32, n) == r
}

/// One weighted part of a mixture.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Component {
    /// The weight as written, or as normalised by the parser (kept for the canonical form).
    pub(crate) weight: f64,
    /// The weight divided by the sum of the weights (used in all computations).
    pub(crate) share: f64,
    pub(crate) dist: Dist,
}

/// At least two weighted components, with the support of their union.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mixture {
    parts: Vec<Component>,
    support: (f64, f64),
}

impl Mixture {
    /// CDF (exactly 0 below and 1 at the top of the support) and continuous density.
    fn cdf_density(&self, r: f64) -> (f64, f64) {
        let (lo, hi) = self.support;
        if r < lo {
            return (0.0, 0.0);
        }
        let (mut cdf, mut density) = (0.0, 0.0);
        for c in &self.parts {
            let (f, d) = c.dist.cdf_density(r);
            cdf += c.share * f;
            density += c.share * d;
        }
        (if r >= hi { 1.0 } else { cdf.min(1.0) }, density)
    }
}

/// A complete rate law: one distribution, or a mixture.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Law {
    Single(Dist),
    Mixture(Mixture),
}

impl Law {
    /// A mixture from `(weight, dist)` pairs; weights are validated by the parser.
    pub(crate) fn mixture(parts: Vec<(f64, Dist)>) -> Law {
        let total: f64 = parts.iter().map(|(w, _)| w).sum();
        let support = parts
            .iter()
            .map(|(_, d)| d.support())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (l, h)| {
                (lo.min(l), hi.max(h))
            });
        let parts = parts
            .into_iter()
            .map(|(weight, dist)| Component {
                weight,
                share: weight / total,
                dist,
            })
            .collect();
        Law::Mixture(Mixture { parts, support })
    }

    pub(crate) fn support(&self) -> (f64, f64) {
        match self {
            Law::Single(d) => d.support(),
            Law::Mixture(m) => m.support,
        }
    }

    /// CDF and continuous density (atoms contribute to the CDF only).
    pub(crate) fn cdf_density(&self, r: f64) -> (f64, f64) {
        match self {
            Law::Single(d) => d.cdf_density(r),
            Law::Mixture(m) => m.cdf_density(r),
        }
    }

    pub(crate) fn has_kink_in(&self, lo: f64, hi: f64) -> bool {
        match self {
            Law::Single(d) => d.has_kink_in(lo, hi),
            Law::Mixture(m) => m.parts.iter().any(|c| c.dist.has_kink_in(lo, hi)),
        }
    }

    pub(crate) fn pdf(&self, r: f64) -> f64 {
        match self {
            Law::Single(d) => d.pdf(r),
            Law::Mixture(m) => m.parts.iter().map(|c| c.share * c.dist.pdf(r)).sum(),
        }
    }

    pub(crate) fn mean(&self) -> f64 {
        match self {
            Law::Single(d) => d.mean(),
            Law::Mixture(m) => m.parts.iter().map(|c| c.share * c.dist.mean()).sum(),
        }
    }

    /// `Q(u)` in closed form where there is one (every non-Beta single law).
    pub(crate) fn closed_quantile(&self, u: f64) -> Option<f64> {
        match self {
            Law::Single(d) => d.closed_quantile(u),
            Law::Mixture(_) => None,
        }
    }

    pub(crate) fn canonical(&self) -> String {
        match self {
            Law::Single(d) => d.canonical(),
            Law::Mixture(m) => m
                .parts
                .iter()
                .map(|c| format!("{}*{}", c.weight, c.dist.canonical()))
                .collect::<Vec<_>>()
                .join("+"),
        }
    }
}
