//! Issue 21: the `carp` and `bionemo-esm2` presets against their reference code's laws
//! (CARP's `MLMCollater._prep`, BioNeMo's `apply_bert_pretraining_mask`), and the knobs
//! behind them (`--mode floor`, `--min-masked`, `--random-pool`, `--random-differs`).
//! Fixed seeds, many records, bounds that the wrong law fails; each test runs its
//! statistic on a wrong law too (the negative control) and requires that to fail.

use super::*;
use crate::config::{MaskConfig, MaskOptions};
use crate::presets::Preset;

/// The masker `--preset preset` resolves to, with `edit` applied to the options first.
fn preset_masker(preset: Preset, edit: impl FnOnce(&mut MaskOptions)) -> Masker {
    let mut o = MaskOptions {
        preset,
        ..MaskOptions::default()
    };
    edit(&mut o);
    MaskConfig::resolve(o).unwrap().masker()
}

/// A sequence of `len` letters cycling through `letters` from `offset`.
fn cycle(letters: &[u8], len: usize, offset: usize) -> Vec<u8> {
    (0..len)
        .map(|j| letters[(j + offset) % letters.len()])
        .collect()
}

/// Pearson's chi-square of `observed` against `expected` (same cells).
fn chi_square(observed: &[f64], expected: &[f64]) -> f64 {
    (observed.iter().zip(expected))
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum()
}

/// Chi-square critical values at p = 0.001 for 1..=5 degrees of freedom.
const CHI2_P001: [f64; 5] = [10.83, 13.82, 16.27, 18.47, 20.52];

/// A generous bound for many degrees of freedom: the mean plus 5 standard deviations.
fn chi2_bound(df: usize) -> f64 {
    df as f64 + 5.0 * (2.0 * df as f64).sqrt()
}

/// What `records` records of `seq` (IDs `{tag}{i}`) become under `m`: per record, the
/// outcome and the marks.
fn masks(m: &Masker, seq: &[u8], records: usize, tag: &str) -> Vec<(Outcome, Vec<u8>)> {
    let mut marks = Marks::default();
    (0..records)
        .map(|i| {
            let id = format!("{tag}{i}");
            let o = m.mask_record(id.as_bytes(), seq, 1, 0, &mut marks, None);
            (o, marks.by_position.clone())
        })
        .collect()
}

/// `--mode floor` is CARP's `int(len(seq) * 0.15)` bit for bit: the digest of Python's
/// values for L = 0..=100000 (`','.join(str(int(L * 0.15)) for L in range(100001))`,
/// computed with CPython 3).
#[test]
fn issue21_floor_is_pythons_int_of_l_times_0_15() {
    use sha2::{Digest, Sha256};
    let joined = (0..=100_000usize)
        .map(|l| floor_count(0.15, l).to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        hex::encode(Sha256::digest(joined.as_bytes())),
        "f33da5dbaecd0fb9996962bf63457794a3fdba32f6952d98fa8e2129320c650f"
    );
    // Negative control: rounding instead of truncating is another list.
    let rounded = (0..=100_000usize)
        .map(|l| ((0.15 * l as f64).round() as usize).to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_ne!(
        hex::encode(Sha256::digest(rounded.as_bytes())),
        "f33da5dbaecd0fb9996962bf63457794a3fdba32f6952d98fa8e2129320c650f"
    );
}

/// CARP selects exactly int(0.15 L) positions (at least one), whatever the record: no
/// draw decides the count.
#[test]
fn issue21_carp_count_is_int_0_15_l_and_at_least_one() {
    let m = preset_masker(Preset::Carp, |_| {});
    let mut marks = Marks::default();
    let lengths = (0..=400).chain([997, 1000, 1022, 4096, 70_000]);
    for l in lengths {
        let seq = cycle(crate::d3pm::ALPHABET, l, l);
        for r in 0..3 {
            let id = format!("n{l}_{r}");
            let o = m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
            let want = if l == 0 { 0 } else { (l * 15 / 100).max(1) };
            assert_eq!((o.masked, o.drawn), (want, want), "L = {l}");
            assert_eq!(marks.iter().filter(|&&x| x != mark::NONE).count(), want);
        }
    }
    // Negative control: without the floor of one, short records select nothing.
    let bare = preset_masker(Preset::Carp, |o| o.min_masked = Some(0));
    let o = bare.mask_record(b"n5", b"ACDEF", 1, 0, &mut marks, None);
    assert_eq!(o.masked, 0);
}

/// CARP's at-least-one rule: records of 1..=6 residues (int(0.15 L) = 0) have exactly one
/// position selected, uniform over the L positions (chi-square, p = 0.001).
#[test]
fn issue21_carp_short_records_select_one_uniform_position() {
    let m = preset_masker(Preset::Carp, |_| {});
    let records = 12_000;
    for l in 1..=6usize {
        let seq = cycle(STANDARD_RESIDUES, l, 0);
        let mut hits = vec![0.0; l];
        for (o, marks) in masks(&m, &seq, records, &format!("short{l}_")) {
            assert_eq!(o.masked, 1, "L = {l}");
            let selected: Vec<usize> = (0..l).filter(|&p| marks[p] != mark::NONE).collect();
            assert_eq!(selected.len(), 1, "L = {l}");
            hits[selected[0]] += 1.0;
        }
        if l > 1 {
            let expected = vec![records as f64 / l as f64; l];
            let chi2 = chi_square(&hits, &expected);
            assert!(
                chi2 < CHI2_P001[l - 2],
                "L = {l}: chi-square {chi2:.1} {hits:?}"
            );
            // Negative control: a law that never picks the last position fails the bound.
            let mut biased = hits.clone();
            let last = biased.pop().unwrap();
            biased[0] += last;
            biased.push(0.0);
            assert!(chi_square(&biased, &expected) > CHI2_P001[l - 2], "L = {l}");
        }
    }
}

/// Counts of (mask token, kept, replaced) among the selected positions of `masks`.
fn split(masks: &[(Outcome, Vec<u8>)]) -> [f64; 3] {
    let mut n = [0.0; 3];
    for (_, marks) in masks {
        for &x in marks {
            match x {
                mark::NONE => {}
                mark::TOKEN => n[0] += 1.0,
                mark::KEPT => n[1] += 1.0,
                _ => n[2] += 1.0,
            }
        }
    }
    n
}

/// The chi-square of a (token, kept, replaced) split against 80/10/10.
fn chi2_80_10_10(n: [f64; 3]) -> f64 {
    let total: f64 = n.iter().sum();
    chi_square(&n, &[0.8 * total, 0.1 * total, 0.1 * total])
}

/// CARP's split of the selected positions: 80% '#', 10% kept, 10% replaced (chi-square
/// with 2 degrees of freedom, p = 0.001, over ~90,000 selected positions).
#[test]
fn issue21_carp_split_is_80_10_10() {
    let m = preset_masker(Preset::Carp, |_| {});
    let seq = cycle(crate::d3pm::ALPHABET, 300, 0);
    let n = split(&masks(&m, &seq, 2000, "split"));
    assert_eq!(n.iter().sum::<f64>(), 2000.0 * 45.0);
    let chi2 = chi2_80_10_10(n);
    assert!(chi2 < CHI2_P001[1], "chi-square {chi2:.1} for {n:?}");
    // Negative control: 78/11/11 fails the same bound.
    let wrong = preset_masker(Preset::Carp, |o| {
        o.corrupt = Some(Corruption::new(0.78, 0.11, 0.11).unwrap())
    });
    let n = split(&masks(&wrong, &seq, 2000, "split"));
    eprintln!(
        "carp split: chi-square {chi2:.1}, 78/11/11 control {:.1}, bound {}",
        chi2_80_10_10(n),
        CHI2_P001[1]
    );
    assert!(chi2_80_10_10(n) > CHI2_P001[1], "{n:?}");
}

/// Per original letter, how often each letter replaced it; and how many replacements
/// equalled their original.
fn replacements(m: &Masker, seq: &[u8], records: usize) -> (Vec<[f64; 256]>, usize) {
    let mut by = vec![[0.0; 256]; 256];
    let mut same = 0;
    for (_, marks) in masks(m, seq, records, "random") {
        for (p, &x) in marks.iter().enumerate() {
            if x > mark::KEPT {
                by[usize::from(seq[p])][usize::from(x)] += 1.0;
                same += usize::from(x == seq[p]);
            }
        }
    }
    (by, same)
}

/// The chi-square of the replacements of every letter of `originals` against the uniform
/// law on the pool without that letter (when `differs`) or the whole pool, and its degrees
/// of freedom.
fn chi2_replacements(
    by: &[[f64; 256]],
    originals: &[u8],
    pool: &[u8],
    differs: bool,
) -> (f64, usize) {
    let (mut chi2, mut df) = (0.0, 0);
    for &o in originals {
        let cells: Vec<u8> = (pool.iter().copied())
            .filter(|&c| !differs || c != o)
            .collect();
        let observed: Vec<f64> = cells
            .iter()
            .map(|&c| by[usize::from(o)][usize::from(c)])
            .collect();
        let total: f64 = by[usize::from(o)].iter().sum();
        let expected = vec![total / cells.len() as f64; cells.len()];
        chi2 += chi_square(&observed, &expected);
        df += cells.len() - 1;
    }
    (chi2, df)
}

/// CARP's replacement: a letter of ALL_AAS (26) that is never the original, uniform over
/// the other 25 (chi-square over 26 originals x 25 letters); an original outside ALL_AAS
/// (a lowercase letter) is replaced by any of the 26.
#[test]
fn issue21_carp_random_letters_differ_and_are_uniform_over_the_other_25() {
    let pool = crate::d3pm::ALPHABET;
    // Every selected position replaced: the letter's law given a replacement is CARP's.
    let m = preset_masker(Preset::Carp, |o| {
        o.corrupt = Some(Corruption::new(0.0, 1.0, 0.0).unwrap());
        o.schedule = Some(Schedule::parse("0.5").unwrap());
        o.mode = Some(Mode::Exact);
    });
    let seq = cycle(pool, 26 * 8, 0);
    let (by, same) = replacements(&m, &seq, 1000);
    assert_eq!(same, 0, "a replacement equal to its original");
    let total: f64 = by.iter().flatten().sum();
    assert_eq!(total, 1000.0 * 104.0);
    let (chi2, df) = chi2_replacements(&by, pool, pool, true);
    assert_eq!(df, 26 * 24);
    assert!(chi2 < chi2_bound(df), "chi-square {chi2:.1} over {df}");

    // Negative controls: drawing from the whole pool shows the original; drawing from the
    // 20 standard residues fails the chi-square.
    let whole = preset_masker(Preset::Carp, |o| {
        o.corrupt = Some(Corruption::new(0.0, 1.0, 0.0).unwrap());
        o.schedule = Some(Schedule::parse("0.5").unwrap());
        o.mode = Some(Mode::Exact);
        o.random_differs = Some(false);
    });
    let (_, same) = replacements(&whole, &seq, 1000);
    assert!(same > 3000, "{same} equal letters");
    let standard = preset_masker(Preset::Carp, |o| {
        o.corrupt = Some(Corruption::new(0.0, 1.0, 0.0).unwrap());
        o.schedule = Some(Schedule::parse("0.5").unwrap());
        o.mode = Some(Mode::Exact);
        o.random_pool = Some(RandomPool::Standard);
    });
    let (by_standard, _) = replacements(&standard, &seq, 1000);
    let control = chi2_replacements(&by_standard, pool, pool, true).0;
    eprintln!(
        "carp replacements: chi-square {chi2:.1} over {df} (bound {:.1}); controls: \
         whole pool {same} letters equal to the original, standard pool chi-square {control:.1}",
        chi2_bound(df)
    );
    assert!(control > chi2_bound(df));

    // An original that is not a pool letter: any of the 26.
    let lower = vec![b'a'; 100];
    let (by, _) = replacements(&m, &lower, 500);
    let (chi2, df) = chi2_replacements(&by, b"a", pool, true);
    assert_eq!(df, 25);
    assert!(chi2 < chi2_bound(df), "chi-square {chi2:.1}");
}

/// BioNeMo ESM-2's count: each residue selected with probability 0.15 independently, so
/// k ~ Binomial(L, 0.15) (chi-square at L = 200 over 20,000 records, cells with
/// expectation >= 5); `--mode exact` (int(0.15 L + U)) fails the same bound.
#[test]
fn issue21_bionemo_esm2_count_is_binomial() {
    let (l, p, records) = (200usize, 0.15f64, 20_000);
    let seq = cycle(STANDARD_RESIDUES, l, 0);
    let chi2_binomial = |m: &Masker| -> (f64, usize) {
        let mut counts = vec![0.0; l + 1];
        for (o, _) in masks(m, &seq, records, "count") {
            counts[o.masked] += 1.0;
        }
        let ln_choose = |k: usize| {
            libm::lgamma(l as f64 + 1.0)
                - libm::lgamma(k as f64 + 1.0)
                - libm::lgamma((l - k) as f64 + 1.0)
        };
        let (mut chi2, mut cells) = (0.0, 0);
        let (mut obs, mut exp) = (0.0, 0.0);
        for (k, &c) in counts.iter().enumerate() {
            let pmf = (ln_choose(k) + k as f64 * p.ln() + (l - k) as f64 * (1.0 - p).ln()).exp();
            exp += pmf * records as f64;
            obs += c;
            if exp >= 5.0 {
                chi2 += (obs - exp).powi(2) / exp;
                cells += 1;
                (obs, exp) = (0.0, 0.0);
            }
        }
        (chi2, cells - 1)
    };
    let m = preset_masker(Preset::BionemoEsm2, |_| {});
    let (chi2, df) = chi2_binomial(&m);
    assert!(chi2 < chi2_bound(df), "chi-square {chi2:.1} over {df}");
    let exact = preset_masker(Preset::BionemoEsm2, |o| o.mode = Some(Mode::Exact));
    let (wrong, _) = chi2_binomial(&exact);
    eprintln!(
        "bionemo-esm2 count: chi-square {chi2:.1} over {df} (bound {:.1}); --mode exact control {wrong:.1}",
        chi2_bound(df)
    );
    assert!(wrong > chi2_bound(df), "exact: chi-square {wrong:.1}");
}

/// BioNeMo ESM-2's split: of the selected, 80% `<mask>`, 10% a random standard residue
/// (possibly the original), 10% kept.
#[test]
fn issue21_bionemo_esm2_split_is_80_10_10_from_the_standard_residues() {
    let m = preset_masker(Preset::BionemoEsm2, |_| {});
    let seq = cycle(crate::d3pm::ALPHABET, 300, 0);
    let all = masks(&m, &seq, 2000, "split");
    let n = split(&all);
    assert!(n.iter().sum::<f64>() > 80_000.0);
    let chi2 = chi2_80_10_10(n);
    assert!(chi2 < CHI2_P001[1], "chi-square {chi2:.1} for {n:?}");
    for (_, marks) in &all {
        for &x in marks.iter().filter(|&&x| x > mark::KEPT) {
            assert!(STANDARD_RESIDUES.contains(&x), "{}", x as char);
        }
    }
    // The replacement may be the original (the 20 ids 4..24, no exclusion): uniform over
    // all 20 for a standard original.
    let all_random = preset_masker(Preset::BionemoEsm2, |o| {
        o.corrupt = Some(Corruption::new(0.0, 1.0, 0.0).unwrap());
        o.schedule = Some(Schedule::parse("0.5").unwrap());
    });
    let (by, same) = replacements(&all_random, &cycle(STANDARD_RESIDUES, 200, 0), 1000);
    assert!(same > 0);
    let (chi2, df) = chi2_replacements(&by, STANDARD_RESIDUES, STANDARD_RESIDUES, false);
    assert!(chi2 < chi2_bound(df), "chi-square {chi2:.1} over {df}");
    // Negative control: a 90/5/5 split fails the 80/10/10 bound.
    let wrong = preset_masker(Preset::BionemoEsm2, |o| {
        o.corrupt = Some(Corruption::new(0.9, 0.05, 0.05).unwrap())
    });
    let control = chi2_80_10_10(split(&masks(&wrong, &seq, 2000, "split")));
    eprintln!(
        "bionemo-esm2 split: chi-square {:.1}, 90/5/5 control {control:.1}, bound {}",
        chi2_80_10_10(n),
        CHI2_P001[1]
    );
    assert!(control > CHI2_P001[1]);
}

/// `--min-masked N` raises k to min(N, L) after the count draw and nothing else: the same
/// draws (t, rate) and, where k was already at least N, the same marks.
#[test]
fn issue21_min_masked_raises_the_count_only() {
    let plain = preset_masker(Preset::Esm2, |_| {});
    let raised = preset_masker(Preset::Esm2, |o| o.min_masked = Some(20));
    let mut a = Marks::default();
    let mut b = Marks::default();
    let mut seen_raised = 0;
    for i in 0..2000 {
        let id = format!("min{i}");
        let seq = cycle(STANDARD_RESIDUES, 5 + i % 200, i);
        let o = plain.mask_record(id.as_bytes(), &seq, 1, 0, &mut a, None);
        let r = raised.mask_record(id.as_bytes(), &seq, 1, 0, &mut b, None);
        assert_eq!((o.t, o.rate, o.length), (r.t, r.rate, r.length));
        assert_eq!(r.masked, o.masked.max(20.min(seq.len())), "{id}");
        if o.masked >= 20 {
            assert_eq!(a.by_position, b.by_position, "{id}");
        } else {
            seen_raised += 1;
        }
    }
    assert!(seen_raised > 100);
}
