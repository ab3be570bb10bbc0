//! Special functions for the Beta law, built from IEEE basic operations and `libm` only
//! (see the reproducibility note in `mod.rs`).

/// Largest `a + b - 1` for which the Beta CDF uses the exact binomial sum. Pascal's triangle
/// is exact in f64 up to row 56, so the coefficients below are exact integers.
pub(crate) const MAX_BINOMIAL_N: u32 = 50;

/// Row `n` of Pascal's triangle, `C(n, j)` for `j = 0..=n`, by exact additions.
pub(crate) fn pascal_row(n: u32) -> Vec<f64> {
    let mut row = vec![1.0];
    for _ in 0..n {
        let mut next = Vec::with_capacity(row.len() + 1);
        next.push(1.0);
        next.extend(row.windows(2).map(|w| w[0] + w[1]));
        next.push(1.0);
        row = next;
    }
    row
}

/// `ln B(a, b)`.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// `k * ln(x)`, taken as 0 when `k == 0` (so that `0 * ln 0` is 0, not NaN).
pub(crate) fn xlogx(k: f64, x: f64) -> f64 {
    if k == 0.0 { 0.0 } else { k * libm::log(x) }
}

/// `k * ln(1 + x)`, taken as 0 when `k == 0`.
pub(crate) fn xlog1px(k: f64, x: f64) -> f64 {
    if k == 0.0 { 0.0 } else { k * libm::log1p(x) }
}

/// Regularized incomplete beta `I_x(a, b)` by the continued fraction (modified Lentz),
/// using the symmetry `I_x(a,b) = 1 - I_{1-x}(b,a)` where the fraction converges slowly.
pub(crate) fn inc_beta(a: f64, b: f64, ln_b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = libm::exp(a * libm::log(x) + b * libm::log1p(-x) - ln_b);
    if x < (a + 1.0) / (a + b + 2.0) {
        (front * beta_cf(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - front * beta_cf(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

/// Continued fraction of the incomplete beta (Numerical Recipes `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const MAX_ITER: u32 = 20_000;
    const EPS: f64 = 4.0 * f64::EPSILON;
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_ITER {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal() {
        assert_eq!(pascal_row(4), vec![1.0, 4.0, 6.0, 4.0, 1.0]);
        // C(50, 25) = 126410606437752, exact.
        assert_eq!(pascal_row(50)[25], 126_410_606_437_752.0);
    }

    #[test]
    fn continued_fraction_matches_known_values() {
        // I_x(a,1) = x^a, I_x(1,b) = 1 - (1-x)^b, I_{1/2}(a,a) = 1/2.
        for &(a, b, x, want) in &[
            (2.5, 1.0, 0.3, libm::pow(0.3, 2.5)),
            (1.0, 3.5, 0.6, 1.0 - libm::pow(0.4, 3.5)),
            (0.7, 0.7, 0.5, 0.5),
            (7.25, 7.25, 0.5, 0.5),
            // arcsine law: I_x(1/2,1/2) = (2/pi) asin(sqrt x)
            (
                0.5,
                0.5,
                0.2,
                core::f64::consts::FRAC_2_PI * libm::asin(libm::sqrt(0.2)),
            ),
        ] {
            let got = inc_beta(a, b, ln_beta(a, b), x);
            assert!(
                (got - want).abs() < 1e-14,
                "I_{x}({a},{b}) = {got}, want {want}"
            );
        }
    }
}
