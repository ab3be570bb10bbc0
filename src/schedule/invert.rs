//! Numeric quantile `Q(u) = inf{r : F(r) >= u}` for laws without a closed form (Beta,
//! mixtures): a table of exact knots built once, then cubic Hermite interpolation and
//! safeguarded Newton steps per query. Every step is deterministic IEEE arithmetic.

use super::dist::Law;

/// log2 of the number of table intervals.
const LOG2_INTERVALS: u32 = 10;
const INTERVALS: usize = 1 << LOG2_INTERVALS;
/// Newton steps before falling back to bisection.
const MAX_NEWTON: usize = 8;
/// Stop when a Newton step is below this many ulps of the root's uncertainty.
const STEP_TOL: f64 = 4.0 * f64::EPSILON;

/// How a Newton iteration on a cell may stop.
#[derive(Clone, Copy, PartialEq)]
enum Finish {
    /// Smooth CDF with positive finite density: a step below the threshold leaves an error
    /// under an ulp (quadratic convergence), and so does a step within the CDF's rounding.
    Quadratic(f64),
    /// A kink or atom inside: a step within the CDF's rounding (`eps (x + u / f)`).
    Rounding,
    /// Density 0 or unbounded at the cell's edge, where a linearization can be far off: a
    /// step below `4 eps x` only (else bisection decides).
    Strict,
}

/// Interval `k` of the table: `u` in `[k/K, (k+1)/K]` maps into `[q0, q1]`.
#[derive(Clone, PartialEq)]
struct Cell {
    /// `Q(k/K)` and `Q((k+1)/K)`.
    q0: f64,
    q1: f64,
    /// `dQ/du / K` at both ends, `1 / (K f(q))`; NaN where the density vanishes.
    m0: f64,
    m1: f64,
    /// When a Newton step is small enough to stop.
    finish: Finish,
}

/// The quantile on a grid of `K + 1` knots `u_k = k/K`, built once per schedule.
#[derive(Clone, PartialEq)]
pub(crate) struct Table {
    cells: Vec<Cell>,
}

impl Table {
    pub(crate) fn build(law: &Law) -> Table {
        let (bottom, top) = law.support();
        let k_max = INTERVALS as f64;
        let mut q = Vec::with_capacity(INTERVALS + 1);
        q.push(bottom);
        for k in 1..INTERVALS {
            let prev = q[k - 1];
            q.push(bisect(law, k as f64 / k_max, prev, top));
        }
        q.push(top);
        let slope: Vec<f64> = q
            .iter()
            .map(|&r| {
                let density = law.cdf_density(r).1;
                if density > 0.0 {
                    1.0 / (k_max * density)
                } else {
                    f64::NAN
                }
            })
            .collect();
        let cells = (0..INTERVALS)
            .map(|k| Cell {
                q0: q[k],
                q1: q[k + 1],
                m0: slope[k],
                m1: slope[k + 1],
                finish: finish_rule(law, q[k], q[k + 1]),
            })
            .collect();
        Table { cells }
    }

    /// `Q(u)` for `u` in [0,1] (NaN is taken as 0).
    pub(crate) fn quantile(&self, law: &Law, u: f64) -> f64 {
        if u.is_nan() || u <= 0.0 {
            return self.cells[0].q0;
        }
        if u >= 1.0 {
            return self.cells[INTERVALS - 1].q1;
        }
        let pos = u * INTERVALS as f64; // exact: a power-of-two scaling
        let k = (pos as usize).min(INTERVALS - 1);
        let s = pos - k as f64;
        let cell = &self.cells[k];
        if s == 0.0 || cell.q0 == cell.q1 {
            return cell.q0;
        }
        let guess = cell.hermite(s);
        let x = if guess >= cell.q0 && guess <= cell.q1 {
            guess
        } else {
            0.5 * (cell.q0 + cell.q1)
        };
        newton(law, u, cell, x)
    }
}

impl Cell {
    /// Cubic Hermite interpolation of `Q` at fraction `s` of the cell (linear where a slope
    /// is unknown).
    fn hermite(&self, s: f64) -> f64 {
        let (q0, q1, m0, m1) = (self.q0, self.q1, self.m0, self.m1);
        if m0.is_nan() || m1.is_nan() {
            return q0 + s * (q1 - q0);
        }
        let t = 1.0 - s;
        let ss = s * s;
        q0 * ((1.0 + 2.0 * s) * t * t) + m0 * (s * t * t) + q1 * (ss * (3.0 - 2.0 * s))
            - m1 * (ss * t)
    }
}

/// The stopping rule of a cell. For `Quadratic`, the threshold keeps the post-step error
/// `|f'/(2f)| step^2` below `eps * lo / 16`, bounding `|f'/f|` by 8 times its largest
/// secant estimate from five samples of `ln f`.
fn finish_rule(law: &Law, lo: f64, hi: f64) -> Finish {
    const SAMPLES: u32 = 4;
    const SAFETY: f64 = 8.0;
    if lo >= hi {
        return Finish::Strict;
    }
    let mut slope_bound: f64 = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    for i in 0..=SAMPLES {
        let x = lo + (hi - lo) * f64::from(i) / f64::from(SAMPLES);
        let density = law.cdf_density(x).1;
        if !(density > 0.0 && density.is_finite()) {
            return Finish::Strict;
        }
        let ln_f = libm::log(density);
        if let Some((px, p_ln_f)) = prev {
            slope_bound = slope_bound.max((ln_f - p_ln_f).abs() / (x - px));
        }
        prev = Some((x, ln_f));
    }
    if law.has_kink_in(lo, hi) {
        return Finish::Rounding;
    }
    let curvature = 0.5 * SAFETY * slope_bound; // bounds |f'/(2f)|
    let cap = lo * (1.0 / (1u64 << 20) as f64);
    Finish::Quadratic(if curvature == 0.0 {
        cap
    } else {
        (f64::EPSILON * lo / (16.0 * curvature)).sqrt().min(cap)
    })
}

/// Newton's method from `x` on `F(r) = u`, knowing `Q(u)` lies in the cell `[q0, q1]` and
/// `F(q1) >= u`. Falls back to bisection when a step leaves the bracket or stalls.
fn newton(law: &Law, u: f64, cell: &Cell, mut x: f64) -> f64 {
    let (mut lo, mut hi) = (cell.q0, cell.q1);
    for _ in 0..MAX_NEWTON {
        let (cdf, density) = law.cdf_density(x);
        if cdf >= u {
            hi = x;
        } else {
            lo = x;
        }
        if !(density > 0.0 && density.is_finite()) {
            break;
        }
        let step = (cdf - u) / density;
        let next = x - step;
        // The root is known to about eps * u / density (the CDF's rounding), or to eps * x.
        let tol = match cell.finish {
            Finish::Quadratic(threshold) => threshold.max(STEP_TOL * (x + u / density)),
            Finish::Rounding => STEP_TOL * (x + u / density),
            Finish::Strict => STEP_TOL * x,
        };
        if step.abs() <= tol {
            return next.clamp(lo, hi) + 0.0;
        }
        if !(next > lo && next < hi) {
            break;
        }
        x = next;
    }
    bisect(law, u, lo, hi)
}

/// The smallest double `r` in `[lo, hi]` with `F(r) >= u`, assuming `F(hi) >= u`, by
/// bisection on the bit patterns (at most 64 steps; all values are >= 0).
pub(crate) fn bisect(law: &Law, u: f64, lo: f64, hi: f64) -> f64 {
    // `+ 0.0` turns a -0.0 into +0.0, so that bit order is value order.
    let (lo, hi) = (lo + 0.0, hi + 0.0);
    if law.cdf_density(lo).0 >= u {
        return lo;
    }
    // Invariant: F(lo) < u <= F(hi).
    let (mut lo_bits, mut hi_bits) = (lo.to_bits(), hi.to_bits());
    while hi_bits > lo_bits + 1 {
        let mid_bits = lo_bits + (hi_bits - lo_bits) / 2;
        if law.cdf_density(f64::from_bits(mid_bits)).0 >= u {
            hi_bits = mid_bits;
        } else {
            lo_bits = mid_bits;
        }
    }
    f64::from_bits(hi_bits)
}
