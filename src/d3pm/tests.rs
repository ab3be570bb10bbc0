use super::*;
use sha2::{Digest as _, Sha256};

fn both() -> [&'static Tables; 2] {
    [uniform_tables(), blosum_tables()]
}

#[test]
fn d3pm_entries_are_probabilities_and_cdfs_end_at_one() {
    for tables in both() {
        for t in 0..T {
            for from in 0..K {
                let row = tables.row(t, from);
                let cdf = tables.cdf(t, from);
                assert!(row.iter().all(|p| (0.0..=1.0).contains(p)), "{t} {from}");
                assert!(cdf.windows(2).all(|w| w[0] <= w[1]), "{t} {from}");
                assert_eq!(cdf[K - 1], 1.0, "{:?} t {t} from {from}", tables.kind());
                let total: f64 = row.iter().sum();
                let recovered = cdf[0] * total;
                assert!((recovered - row[0]).abs() <= 1e-15, "{t} {from}");
            }
        }
    }
}

#[test]
fn d3pm_uniform_rows_sum_to_one() {
    let tables = uniform_tables();
    for t in 0..T {
        for from in 0..K {
            let total: f64 = tables.row(t, from).iter().sum();
            assert!((total - 1.0).abs() <= 1e-12, "t {t} from {from}: {total}");
        }
    }
}

/// The reference's BLOSUM rows do not sum to 1 (the Sinkhorn loop stops at `isclose` and
/// the gap is dropped without renormalising); this pins how far off they are, so that a
/// change in the construction shows, and the normalised rows sum to 1.
#[test]
fn d3pm_blosum_rows_sum_to_one_within_the_references_slack() {
    let tables = blosum_tables();
    let mut worst: f64 = 0.0;
    for t in 0..T {
        for from in 0..K {
            let row = tables.row(t, from);
            let total: f64 = row.iter().sum();
            worst = worst.max((total - 1.0).abs());
            let normalised: f64 = row.iter().map(|p| p / total).sum();
            assert!((normalised - 1.0).abs() <= 1e-12, "t {t} from {from}");
        }
    }
    assert!(
        worst > 1e-4 && worst < 1e-3,
        "largest |row sum - 1| {worst}"
    );
}

#[test]
fn d3pm_uniform_product_is_the_closed_form() {
    let tables = uniform_tables();
    let betas = uniform_betas();
    let mut alpha_bar = 1.0;
    let mut worst_exact: f64 = 0.0;
    for (t, &beta) in betas.iter().enumerate() {
        alpha_bar *= 1.0 - f64::from(beta);
        let exact = (T - t) as f64 / (T + 1) as f64;
        for (alpha, tolerance) in [(alpha_bar, 1e-12), (exact, 1e-8)] {
            let q = tables.q_bar(t);
            for i in 0..K {
                for j in 0..K {
                    let closed = (1.0 - alpha) / K as f64 + if i == j { alpha } else { 0.0 };
                    let diff = (q[i * K + j] - closed).abs();
                    assert!(diff <= tolerance, "t {t} ({i}, {j}): {diff}");
                    if alpha == exact {
                        worst_exact = worst_exact.max(diff);
                    }
                }
            }
        }
    }
    // float32 β makes (T - t)/(T + 1) exact only to float32's precision over 500 steps.
    assert!(worst_exact > 1e-12, "{worst_exact}");
}

/// Readable landmarks of the BLOSUM tables (the digest below pins every bit): mean
/// P(unchanged) of the 20 canonical residues at t = 100, 300, 499, W's at t = 499, and
/// the mass A sends to BZXJOU at t = 499. tests/python/test_d3pm.py's numpy computation
/// from the reference code gives the same.
#[test]
fn d3pm_blosum_landmarks() {
    let tables = blosum_tables();
    let unchanged = |t: usize| (0..20).map(|a| tables.row(t, a)[a]).sum::<f64>() / 20.0;
    for (t, expected) in [(100, 0.8947), (300, 0.4472), (499, 0.1249)] {
        assert!(
            (unchanged(t) - expected).abs() < 1e-4,
            "t {t}: {}",
            unchanged(t)
        );
    }
    let w = ALPHABET.iter().position(|&a| a == b'W').unwrap();
    assert!((tables.row(499, w)[w] - 0.7845).abs() < 1e-4);
    let to_rare: f64 = tables.row(499, 0)[20..].iter().sum();
    assert!((to_rare - 0.2462).abs() < 1e-4, "{to_rare}");
}

fn digest(tables: &Tables) -> String {
    hex::encode(Sha256::digest(tables.to_le_bytes()))
}

/// Any change to any bit of either table fails here: the tables are part of what a seed
/// produces once a sampler draws from them.
#[test]
fn d3pm_tables_digests_are_pinned() {
    assert_eq!(
        digest(uniform_tables()),
        "9f43a160d4cd2fed6a6072ee7d43535840494a80e080661a77cf3edaa53e785a"
    );
    assert_eq!(
        digest(blosum_tables()),
        "2a81a74a4e114a7d23d465a5bbf69f8ce11de60e03c98b694ee9f4737ba61e25"
    );
}

/// With PROTMASK_D3PM_DUMP=DIR, writes DIR/uniform.f64 and DIR/blosum.f64 (the bytes of
/// [`Tables::to_le_bytes`]) for tests/python/test_d3pm.py, which recomputes them with
/// numpy; without it, does nothing.
#[test]
fn d3pm_tables_dump_for_the_numpy_check() {
    let Some(dir) = std::env::var_os("PROTMASK_D3PM_DUMP") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, tables) in [("uniform", uniform_tables()), ("blosum", blosum_tables())] {
        std::fs::write(dir.join(format!("{name}.f64")), tables.to_le_bytes()).unwrap();
    }
}

/// Time and memory of building both tables once (run with --ignored --nocapture).
#[test]
#[ignore]
fn d3pm_build_time() {
    let start = std::time::Instant::now();
    let u = Tables::from_steps(Kind::Uniform, &uniform_steps());
    let mid = start.elapsed();
    let b = Tables::from_steps(Kind::Blosum, &blosum_steps());
    let end = start.elapsed();
    let bytes = |t: &Tables| (t.q_bar.len() + t.cdf.len()) * 8;
    println!(
        "uniform {:?}, blosum {:?}; {} + {} bytes",
        mid,
        end - mid,
        bytes(&u),
        bytes(&b)
    );
}

/// The exact inversion of a full uniform u: the number of the row's first K − 1 running
/// sums at or below u.
fn invert(tables: &Tables, t: usize, from: usize, u: f64) -> usize {
    tables.cdf(t, from)[..K - 1]
        .iter()
        .filter(|&&c| c <= u)
        .count()
}

/// `draw` decides from a prefix of u only where every u with that prefix gives the same
/// letter: for every top byte it decides by, and every 16-bit prefix it decides by after
/// an ambiguous byte, the letter at both ends of the prefix's interval is the one it
/// returns (the exact inversion of a full u).
#[test]
fn d3pm_draw_prefixes_agree_with_the_exact_inversion() {
    let ulp = 1.0 / (1u64 << 53) as f64;
    let (mut ambiguous, mut ties) = (0usize, 0usize);
    for tables in both() {
        for t in [0, 1, 2, 100, 250, 498, 499] {
            for from in 0..K {
                let row = t * K + from;
                let exact = |u: f64| invert(tables, t, from, u);
                for top in 0..256u32 {
                    let letter = tables.buckets[row][top as usize];
                    if letter < AMBIGUOUS {
                        let letter = match letter {
                            0 => from,
                            b => index_of(b).unwrap(),
                        };
                        let (lo, hi) = (f64::from(top) / 256.0, f64::from(top + 1) / 256.0 - ulp);
                        assert_eq!(letter, exact(lo), "t {t} from {from} {top}");
                        assert_eq!(letter, exact(hi), "t {t} from {from} {top}");
                        continue;
                    }
                    ambiguous += 1;
                    let coarse = &tables.coarse[row];
                    for v in top << 8..(top + 1) << 8 {
                        if coarse.contains(&v) {
                            ties += 1;
                            continue;
                        }
                        // What `draw_refined` returns for this second byte, its stream
                        // being that byte alone (a tie would read further and panic).
                        let mut bytes = crate::rng::Draws::from_bytes(&[v as u8]);
                        let fast = tables.draw_refined(row, top as u8, letter, &mut bytes);
                        assert_eq!(fast, coarse.iter().filter(|&&c| c < v).count());
                        let (lo, hi) = (f64::from(v) / 65536.0, f64::from(v + 1) / 65536.0 - ulp);
                        assert_eq!(fast, exact(lo), "t {t} from {from} v {v}");
                        assert_eq!(fast, exact(hi), "t {t} from {from} v {v}");
                    }
                }
            }
        }
    }
    // An ambiguous byte holds a running sum, so at most K − 1 of 256 per row; a tie is a
    // running sum's floor, at most K − 1 of 65,536.
    let rows = 2 * 7 * K;
    assert!(
        ambiguous <= rows * (K - 1) && ties <= rows * (K - 1),
        "{ambiguous} {ties}"
    );
    eprintln!("{ambiguous} ambiguous bytes of {}; {ties} ties", rows * 256);
}

/// Per-row counts of `draw` at step `t`: `n` draws from each of the K letters.
fn counts(tables: &Tables, t: usize, n: usize, seed: u64) -> Vec<[u64; K]> {
    let mut d = crate::rng::SeedKey::new(seed).draws(1, format!("d3pm{t}").as_bytes());
    (0..K)
        .map(|from| {
            let mut c = [0u64; K];
            for _ in 0..n {
                c[tables.draw(t, from, &mut d)] += 1;
            }
            c
        })
        .collect()
}

/// Pearson's chi-square of `observed` rows against `expected` tables' rows at step `t`
/// (each row normalised), pooling cells with expectation below 5 into one per row; the
/// statistic and its degrees of freedom.
fn chi_square(observed: &[[u64; K]], expected: &Tables, t: usize) -> (f64, usize) {
    let (mut chi2, mut df) = (0.0, 0usize);
    for (from, obs) in observed.iter().enumerate() {
        let n: u64 = obs.iter().sum();
        let row = expected.row(t, from);
        let total: f64 = row.iter().sum();
        let (mut po, mut pe, mut cells) = (0.0, 0.0, 0usize);
        for (o, p) in obs.iter().zip(row) {
            let e = p / total * n as f64;
            if e < 5.0 {
                po += *o as f64;
                pe += e;
                continue;
            }
            chi2 += (*o as f64 - e).powi(2) / e;
            cells += 1;
        }
        if pe > 0.0 {
            chi2 += (po - pe).powi(2) / pe.max(1e-300);
            cells += 1;
        }
        df += cells - 1;
    }
    (chi2, df)
}

/// Generous: the mean plus 5 standard deviations of a chi-square with `df` degrees.
fn bound(df: usize) -> f64 {
    df as f64 + 5.0 * (2.0 * df as f64).sqrt()
}

/// The draws follow the rows of Q̄[t] (chi-square per kind and t); negative controls: the
/// same counts fail against the other kind's rows and against Q̄[t ± 1] (the classic
/// off-by-one: t step matrices instead of t + 1). Low t needs few draws to tell (a step
/// changes the change probabilities by half or more); t = 100 and 250 need 800,000 draws
/// a row. At t = 499 the BLOSUM rows are near their limit (Q̄[498] and Q̄[499] differ by
/// too little for a test of this size), so only the other kind is the control there.
#[test]
fn d3pm_draws_follow_the_rows_and_reject_the_wrong_ones() {
    for (k, tables) in both().into_iter().enumerate() {
        let other = both()[1 - k];
        for (t, n) in [
            (1, 40_000),
            (2, 40_000),
            (100, 800_000),
            (250, 800_000),
            (499, 200_000),
        ] {
            let obs = counts(tables, t, n, 7);
            let (chi2, df) = chi_square(&obs, tables, t);
            let kind = tables.kind();
            eprintln!(
                "{kind:?} t {t}: chi2 {chi2:.1} df {df} bound {:.1}",
                bound(df)
            );
            assert!(chi2 < bound(df), "{kind:?} t {t}: {chi2} over {df}");
            let (wrong, wdf) = chi_square(&obs, other, t);
            eprintln!(
                "  other kind: {wrong:.1} (df {wdf}, bound {:.1})",
                bound(wdf)
            );
            assert!(wrong > bound(wdf), "{kind:?} t {t}: the other kind passes");
            for shifted in [t - 1, t + 1].into_iter().filter(|_| t < T - 1) {
                let (wrong, wdf) = chi_square(&obs, tables, shifted);
                eprintln!(
                    "  t {shifted}: {wrong:.1} (df {wdf}, bound {:.1})",
                    bound(wdf)
                );
                assert!(wrong > bound(wdf), "{kind:?}: t {shifted} passes for t {t}");
            }
        }
    }
}
