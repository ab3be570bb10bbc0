//! Issue 13: every preset's realised count law against its reference code's law (the
//! table in docs/guide.md and `protmask schedule --list`). Fixed seeds, many records, and
//! bounds that the wrong law fails: each test keeps such a law as its negative control.

mod common;

use common::*;

/// `n` records of length `len` (cycling the 20 standard residues, distinct IDs).
fn records(n: usize, len: usize) -> String {
    let residues = b"ACDEFGHIKLMNPQRSTVWY";
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(">r{i}\n"));
        s.extend((0..len).map(|j| residues[(i + j) % 20] as char));
        s.push('\n');
    }
    s
}

/// (length, rate, masked) of every row of `protmask mask FLAGS` on `fasta`.
fn rows(fasta: &str, flags: &[&str]) -> Vec<(usize, f64, usize)> {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.fa", fasta);
    let rates = dir.path().join("r.csv");
    protmask()
        .arg("mask")
        .arg(&input)
        .args(["-q", "-o", "/dev/null", "-r"])
        .arg(&rates)
        .args(flags)
        .assert()
        .success();
    parse_rates(&std::fs::read_to_string(rates).unwrap(), b',')
        .iter()
        .map(|r| {
            (
                r["length"].parse().unwrap(),
                r["rate"].parse().unwrap(),
                r["masked"].parse().unwrap(),
            )
        })
        .collect()
}

/// Pearson's chi-square of the counts of `ks` against the uniform law on `lo..=hi`, and
/// how many fell outside it.
fn chi_square_uniform(ks: &[usize], lo: usize, hi: usize) -> (f64, usize) {
    let cells = hi - lo + 1;
    let mut counts = vec![0usize; cells];
    let mut outside = 0;
    for &k in ks {
        if (lo..=hi).contains(&k) {
            counts[k - lo] += 1;
        } else {
            outside += 1;
        }
    }
    let n = (ks.len() - outside) as f64;
    let e = n / cells as f64;
    let chi2 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
    (chi2, outside)
}

/// Chi-square critical value for 48 degrees of freedom at p = 0.001.
const CHI2_48_P001: f64 = 84.04;

#[test]
fn evodiff_counts_are_uniform_on_2_to_l() {
    let fasta = records(20_000, 50);
    let ks: Vec<usize> = rows(&fasta, &["--preset", "evodiff"])
        .iter()
        .map(|r| r.2)
        .collect();
    let (chi2, outside) = chi_square_uniform(&ks, 2, 50);
    assert_eq!(outside, 0, "counts outside 2..=50");
    assert!(
        chi2 < CHI2_48_P001,
        "chi-square {chi2:.1} against uniform 2..=50"
    );
    // Every row: rate = k/L and t = 1 - k/L.
    for (l, rate, k) in rows(&records(200, 50), &["--preset", "evodiff"]) {
        assert_eq!(rate, k as f64 / l as f64);
    }

    // Negative control: the law of protmask 0.1 (exact count floor(r*L + U), r ~ U(0,1))
    // puts records at 0 and 1 and half weight on 50; the same test rejects it both ways.
    let old: Vec<usize> = rows(
        &fasta,
        &[
            "--preset",
            "evodiff",
            "--mode",
            "exact",
            "--schedule",
            "uniform",
        ],
    )
    .iter()
    .map(|r| r.2)
    .collect();
    let (chi2, outside) = chi_square_uniform(&old, 2, 50);
    assert!(outside > 300, "old law: {outside} records outside 2..=50");
    assert!(chi2 > CHI2_48_P001, "old law: chi-square {chi2:.1} passed");
}

#[test]
fn evodiff_short_records_follow_the_reference() {
    // L = 1: randint(1, 1) is not drawn, t = 1, num_mask = 1. L = 2: k = 2 always.
    let one = rows(&records(300, 1), &["--preset", "evodiff"]);
    assert!(
        one.iter()
            .all(|&(l, rate, k)| (l, k) == (1, 1) && rate == 1.0)
    );
    let two = rows(&records(300, 2), &["--preset", "evodiff"]);
    assert!(two.iter().all(|&(l, _, k)| (l, k) == (2, 2)));
    let empty = rows(&records(3, 0), &["--preset", "evodiff"]);
    assert!(
        empty
            .iter()
            .all(|&(l, rate, k)| (l, k) == (0, 0) && rate == 0.0)
    );
}

/// Sum of (k - rL) over sqrt(sum L r (1 - r)), and the ratio of the squared deviations to
/// that variance: about N(0,1) and about 1 for Bernoulli selection.
fn binomial_z_and_variance_ratio(rows: &[(usize, f64, usize)]) -> (f64, f64) {
    let (mut dev, mut sq, mut var) = (0.0, 0.0, 0.0);
    for &(l, r, k) in rows {
        let d = k as f64 - r * l as f64;
        dev += d;
        sq += d * d;
        var += l as f64 * r * (1.0 - r);
    }
    (dev / var.sqrt(), sq / var)
}

#[test]
fn dplm_rates_are_on_the_500_grid_and_counts_binomial() {
    let fasta = records(20_000, 50);
    let got = rows(&fasta, &["--preset", "dplm"]);
    for &(_, r, _) in &got {
        let t = r * 500.0;
        assert!(
            (t - t.round()).abs() < 1e-9 && (1.0..=500.0).contains(&t.round()),
            "{r}"
        );
    }
    let (z, ratio) = binomial_z_and_variance_ratio(&got);
    assert!(z.abs() < 4.0, "z = {z:.2}");
    assert!((0.95..1.05).contains(&ratio), "variance ratio {ratio:.3}");
    // Negative control: an exact count at the same rates has far too little variance.
    let exact = rows(&fasta, &["--preset", "dplm", "--mode", "exact"]);
    let (_, ratio) = binomial_z_and_variance_ratio(&exact);
    assert!(
        ratio < 0.5,
        "exact mode passed as binomial: ratio {ratio:.3}"
    );
}

#[test]
fn esm2_counts_are_floor_or_floor_plus_one_and_unbiased() {
    // L = 47: 0.15 L = 7.05, so k is 7 or 8, and 8 with probability 0.05.
    let fasta = records(20_000, 47);
    let got = rows(&fasta, &["--preset", "esm2"]);
    let n = got.len() as f64;
    let eights = got.iter().filter(|r| r.2 == 8).count() as f64;
    assert!(got.iter().all(|r| r.2 == 7 || r.2 == 8));
    let p = 0.15 * 47.0 - 7.0;
    let z = (eights - n * p) / (n * p * (1.0 - p)).sqrt();
    assert!(z.abs() < 4.0, "z = {z:.2} ({eights} eights)");
    // Negative control: Bernoulli selection at 15% leaves {7, 8} often.
    let bern = rows(&fasta, &["--preset", "esm2", "--mode", "bernoulli"]);
    assert!(bern.iter().filter(|r| r.2 != 7 && r.2 != 8).count() > 5000);
}

#[test]
fn mdlm_rates_stay_in_its_range() {
    let fasta = records(20_000, 50);
    let range = 0.000999..=0.999;
    let got = rows(&fasta, &["--preset", "mdlm"]);
    assert!(got.iter().all(|r| range.contains(&r.1)));
    // Stratified: the rates of the input cover the range evenly (every 1/100 bin used).
    let mut bins = [0usize; 100];
    for r in &got {
        bins[((r.1 - 0.000999) / (0.999 - 0.000999) * 100.0).min(99.0) as usize] += 1;
    }
    assert!(bins.iter().all(|&b| (180..=220).contains(&b)), "{bins:?}");
    // Negative control: plain uniform rates leave the range.
    let wide = rows(&fasta, &["--preset", "mdlm", "--schedule", "uniform"]);
    assert!(wide.iter().any(|r| !range.contains(&r.1)));
}
