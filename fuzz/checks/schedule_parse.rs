//! Arbitrary text as a `--schedule` spec. Parsing may fail, but never panic; a schedule
//! that parses must give finite values in range at every point, be monotone, and its
//! canonical form must parse back to the same curve.

use protmask::schedule::Schedule;

const POINTS: [f64; 11] = [
    0.0,
    1e-300,
    1e-9,
    0.001,
    0.1,
    0.25,
    0.5,
    0.75,
    0.999,
    0.999_999_999,
    1.0,
];

/// One input: returns normally, or panics on a bug.
pub fn run(data: &[u8]) {
    // Longer specs only make the parser slower, not more interesting.
    if data.len() > 256 {
        return;
    }
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(s) = Schedule::parse(spec) else {
        return;
    };
    check(&s, spec);
    let canonical = s.canonical();
    let again = Schedule::parse(&canonical)
        .unwrap_or_else(|e| panic!("canonical form '{canonical}' of '{spec}' does not parse: {e}"));
    assert_eq!(
        again.canonical(),
        canonical,
        "canonical form of '{spec}' is not stable"
    );
    for &t in &POINTS {
        assert_eq!(
            s.rate(t).to_bits(),
            again.rate(t).to_bits(),
            "'{spec}' and its canonical '{canonical}' differ at t={t}"
        );
    }
}

/// Monotonicity is checked up to this much: the numerical inverses and incomplete beta
/// functions may wobble in the last bits (Beta(3,7)'s cdf is 1 at 0.999999 but
/// 0.9999999999999994 at 0.999999999), which is no bug worth a crash.
const WOBBLE: f64 = 1e-9;

fn check(s: &Schedule, spec: &str) {
    let in_unit = |v: f64| (0.0..=1.0).contains(&v);
    let mean = s.mean();
    assert!(in_unit(mean), "'{spec}': mean {mean}");
    let (mut last_rate, mut last_q, mut last_cdf) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &x in &POINTS {
        let r = s.rate(x);
        assert!(in_unit(r), "'{spec}': rate({x}) = {r}");
        assert!(
            r <= last_rate + WOBBLE,
            "'{spec}': rate rises at t={x}: {last_rate} -> {r}"
        );
        last_rate = r;
        let q = s.quantile(x);
        assert!(in_unit(q), "'{spec}': quantile({x}) = {q}");
        assert!(
            q >= last_q - WOBBLE,
            "'{spec}': quantile falls at u={x}: {last_q} -> {q}"
        );
        last_q = q;
        let c = s.cdf(x);
        assert!(in_unit(c), "'{spec}': cdf({x}) = {c}");
        assert!(
            c >= last_cdf - WOBBLE,
            "'{spec}': cdf falls at r={x}: {last_cdf} -> {c}"
        );
        last_cdf = c;
        let p = s.pdf(x);
        assert!(!p.is_nan() && p >= 0.0, "'{spec}': pdf({x}) = {p}");
    }
    // Out of range and NaN arguments: clamped, or NaN for NaN; never a panic.
    for x in [-1.0, 2.0, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(in_unit(s.rate(x)), "'{spec}': rate({x})");
        assert!(in_unit(s.quantile(x)), "'{spec}': quantile({x})");
        assert!(in_unit(s.cdf(x)), "'{spec}': cdf({x})");
        assert!(s.pdf(x) >= 0.0, "'{spec}': pdf({x})");
    }
    assert!(s.rate(f64::NAN).is_nan() && s.quantile(f64::NAN).is_nan());
    assert!(s.cdf(f64::NAN).is_nan() && s.pdf(f64::NAN).is_nan());
}
