//! `--span-mean M`: selected positions in contiguous runs, for span masking (SpanBERT,
//! fill-in-the-middle, AntiFold).
//!
//! Given the count k (drawn as the mode says), runs are placed until exactly k positions
//! are selected: each starts at a uniformly chosen *unselected* eligible position and
//! covers a geometric number of eligible positions (mean M), rightwards, stopping at an
//! eligibility boundary (an ineligible position, a region's edge, the sequence's end).
//! Without `--span-max`, positions already selected inside a run stay selected and count
//! towards its length (runs that touch merge); the run that reaches k is cut there.
//!
//! With `--span-max N`, no run of consecutive selected positions is longer than N: a
//! drawn length is capped at N, and runs are kept apart (a start next to a selected
//! position is drawn again; a run stops before it would touch one). When no position is
//! left that could start a run kept apart, single positions are added wherever the run
//! they join stays within N; when none is left either, the record has fewer than k
//! (`choose_spans` returns how many). A record whose runs never touch draws exactly as
//! without the cap. The draw order is an addition to RNG scheme 1 (docs/design.md,
//! "Spans").

use serde::{Deserialize, Serialize};

use crate::mask::mark;
use crate::rng::Draws;

/// The span options of a run (`options.span` in a manifest).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Mean length of a drawn run (geometric on 1, 2, ...), at least 1.
    pub mean: f64,
    /// Longest drawn run, if capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

impl Span {
    /// A drawn run length from one uniform `u` in [0, 1): geometric with success
    /// probability p = 1/M by inversion, 1 + ⌊ln(1−u) / ln(1−p)⌋, then capped.
    pub fn length(&self, u: f64) -> u64 {
        let len = if self.mean <= 1.0 {
            1
        } else {
            let x = libm::log1p(-u) / libm::log1p(-1.0 / self.mean);
            // `as` saturates: a huge draw becomes u64::MAX, cut by the segment anyway.
            (x.floor() as u64).saturating_add(1)
        };
        match self.max {
            Some(m) => len.min(u64::from(m.max(1))),
            None => len,
        }
    }
}

/// Counts of unselected positions (a Fenwick tree), to find the j-th unselected position
/// in O(log L).
struct Unselected {
    tree: Vec<u32>,
    top: usize,
}

impl Unselected {
    /// All of `n` positions unselected.
    fn new(n: usize) -> Unselected {
        // tree[i] (1-based) covers (i - lowbit(i), i]: all ones, so it holds lowbit(i).
        let tree = (0..=n).map(|i| (i & i.wrapping_neg()) as u32).collect();
        let top = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        Unselected { tree, top }
    }

    fn remove(&mut self, at: usize) {
        let mut i = at + 1;
        while i < self.tree.len() {
            self.tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
    }

    /// The 0-based index of the (j+1)-th unselected position (j < unselected count).
    fn nth(&self, j: u64) -> usize {
        let (mut pos, mut left, mut step) = (0usize, j as u32, self.top);
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] <= left {
                pos = next;
                left -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }
}

/// Select `k` of the `flags.len()` eligible positions in runs (`flags` come all
/// `mark::NONE`; selected become `mark::TOKEN`), and return how many were selected: `k`,
/// or fewer when `--span-max` cannot fit `k` (module docs). `joined(e)`: eligible position
/// e + 1 follows e in the sequence with nothing ineligible between (same segment).
/// Selected positions are appended to `drawn` (in selection order) while it stays within
/// `limit`.
///
/// Draws, per run: the start, `below(L - s)` (s = selected so far; 16-bit draws when
/// L <= 65536, else 64-bit, as Floyd's), then the length, `unit()`. With `--span-max`, a
/// start that cannot be used is drawn again (no length drawn for it).
pub(crate) fn choose_spans(
    draws: &mut Draws,
    flags: &mut [u8],
    k: usize,
    span: &Span,
    joined: impl Fn(usize) -> bool,
    drawn: &mut Vec<u32>,
    limit: usize,
) -> usize {
    let n = flags.len();
    debug_assert!(k <= n);
    if k == 0 {
        return 0;
    }
    let mut runs = Runs {
        flags,
        free: Unselected::new(n),
        selected: 0,
        drawn,
        keep_list: n <= limit,
    };
    match span.max {
        None => runs.merged(draws, k, span, &joined),
        Some(max) => runs.kept_apart(draws, k, span, max.max(1) as usize, &joined),
    }
    runs.selected
}

/// The selection being built: the flags, the unselected positions, the drawn list.
struct Runs<'a> {
    flags: &'a mut [u8],
    free: Unselected,
    selected: usize,
    drawn: &'a mut Vec<u32>,
    keep_list: bool,
}

impl Runs<'_> {
    fn select(&mut self, e: usize) {
        self.flags[e] = mark::TOKEN;
        self.free.remove(e);
        self.selected += 1;
        if self.keep_list {
            self.drawn.push(e as u32);
        }
    }

    /// The next start: the j-th unselected position, j uniform.
    fn draw_start(&self, draws: &mut Draws) -> usize {
        let (n, left) = (self.flags.len(), (self.flags.len() - self.selected) as u64);
        let j = if n <= 65536 {
            u64::from(draws.below_u16(left as u32))
        } else {
            draws.below_u64(left)
        };
        self.free.nth(j)
    }

    fn is_selected(&self, e: usize) -> bool {
        self.flags[e] != mark::NONE
    }

    /// Whether `e`'s neighbour before it (`back`) or after it is selected and joined to it.
    fn touches(&self, e: usize, joined: &impl Fn(usize) -> bool) -> bool {
        let before = e > 0 && joined(e - 1) && self.is_selected(e - 1);
        let after = e + 1 < self.flags.len() && joined(e) && self.is_selected(e + 1);
        before || after
    }

    /// Consecutive selected positions joined to `e`, before it and after it.
    fn run_beside(&self, e: usize, joined: &impl Fn(usize) -> bool) -> (usize, usize) {
        let mut before = 0;
        while e > before && joined(e - before - 1) && self.is_selected(e - before - 1) {
            before += 1;
        }
        let mut after = 0;
        while e + after + 1 < self.flags.len()
            && joined(e + after)
            && self.is_selected(e + after + 1)
        {
            after += 1;
        }
        (before, after)
    }

    /// No cap: runs cover already-selected positions, counting them (touching runs merge).
    fn merged(
        &mut self,
        draws: &mut Draws,
        k: usize,
        span: &Span,
        joined: &impl Fn(usize) -> bool,
    ) {
        let n = self.flags.len();
        while self.selected < k {
            let mut e = self.draw_start(draws);
            let len = span.length(draws.unit());
            let mut covered = 0u64;
            loop {
                if !self.is_selected(e) {
                    self.select(e);
                    if self.selected == k {
                        break;
                    }
                }
                covered += 1;
                if covered == len || e + 1 == n || !joined(e) {
                    break;
                }
                e += 1;
            }
        }
    }

    /// `--span-max max`: runs kept apart, then single positions where the run they join
    /// stays within `max`, then nothing (fewer than k).
    fn kept_apart(
        &mut self,
        draws: &mut Draws,
        k: usize,
        span: &Span,
        max: usize,
        joined: &impl Fn(usize) -> bool,
    ) {
        let n = self.flags.len();
        // Unselected positions that could start a run kept apart (no selected neighbour):
        // a selection only ever takes this from itself and its two neighbours.
        let mut starts = n;
        let take = |runs: &Runs, e: usize, starts: &mut usize| {
            let neighbours = [
                (e > 0 && joined(e - 1)).then(|| e - 1),
                (e + 1 < n && joined(e)).then_some(e + 1),
            ];
            for q in std::iter::once(Some(e)).chain(neighbours).flatten() {
                if !runs.is_selected(q) && !runs.touches(q, joined) {
                    *starts -= 1;
                }
            }
        };
        while self.selected < k && starts > 0 {
            let mut e = self.draw_start(draws);
            if self.touches(e, joined) {
                continue;
            }
            let len = span.length(draws.unit());
            let mut covered = 1u64;
            take(self, e, &mut starts);
            self.select(e);
            // Stop at the length, the segment's end, k, or before touching a run.
            while covered < len
                && self.selected < k
                && e + 1 < n
                && joined(e)
                && !(e + 2 < n && joined(e + 1) && self.is_selected(e + 2))
            {
                e += 1;
                take(self, e, &mut starts);
                self.select(e);
                covered += 1;
            }
        }
        if self.selected == k {
            return;
        }
        // Jammed: every unselected position touches a run. Single positions now, where
        // the run they join (with the ones on both sides) stays within max.
        let fits = |runs: &Runs, e: usize| {
            let (before, after) = runs.run_beside(e, joined);
            before + 1 + after <= max
        };
        let mut fitting = (0..n)
            .filter(|&e| !self.is_selected(e) && fits(self, e))
            .count();
        while self.selected < k && fitting > 0 {
            let e = self.draw_start(draws);
            if !fits(self, e) {
                continue;
            }
            // Only e and the unselected ends of the run it joins can change.
            let (before, after) = self.run_beside(e, joined);
            let ends = [
                (e > before && joined(e - before - 1)).then(|| e - before - 1),
                (e + after + 1 < n && joined(e + after)).then(|| e + after + 1),
            ];
            let was: usize = ends.iter().flatten().filter(|&&q| fits(self, q)).count();
            self.select(e);
            let now: usize = ends.iter().flatten().filter(|&&q| fits(self, q)).count();
            fitting -= 1 + was - now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeedKey;

    #[test]
    fn unselected_finds_the_nth_free_position() {
        let mut u = Unselected::new(13);
        for at in [0, 4, 5, 12] {
            u.remove(at);
        }
        let free: Vec<usize> = (0..9).map(|j| u.nth(j)).collect();
        assert_eq!(free, vec![1, 2, 3, 6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn geometric_lengths_have_mean_m_and_respect_the_cap() {
        let mut d = SeedKey::new(3).draws(1, b"span");
        let span = Span {
            mean: 5.0,
            max: None,
        };
        let n = 200_000;
        let mean = (0..n).map(|_| span.length(d.unit()) as f64).sum::<f64>() / n as f64;
        // sd of a geometric with p = 0.2 is sqrt(20) ~ 4.5; of the mean, 0.01.
        assert!((mean - 5.0).abs() < 0.05, "mean {mean}");
        // Negative control: a mean of 4 is told apart.
        let four = Span {
            mean: 4.0,
            max: None,
        };
        let mean4 = (0..n).map(|_| four.length(d.unit()) as f64).sum::<f64>() / n as f64;
        assert!((mean4 - 5.0).abs() > 0.5);
        let capped = Span {
            mean: 5.0,
            max: Some(3),
        };
        assert!((0..10_000).all(|_| capped.length(d.unit()) <= 3));
        assert_eq!(
            Span {
                mean: 1.0,
                max: None
            }
            .length(0.999),
            1
        );
    }

    #[test]
    fn exactly_k_selected_in_runs_that_stop_at_segment_ends() {
        let span = Span {
            mean: 8.0,
            max: None,
        };
        // Segments of 10: position 9, 19, ... are not joined to the next.
        for k in [0usize, 1, 7, 33, 59, 60] {
            let mut d = SeedKey::new(9).draws(1, format!("k{k}").as_bytes());
            let mut flags = vec![mark::NONE; 60];
            let mut drawn = Vec::new();
            choose_spans(
                &mut d,
                &mut flags,
                k,
                &span,
                |e| e % 10 != 9,
                &mut drawn,
                1 << 20,
            );
            assert_eq!(flags.iter().filter(|&&f| f == mark::TOKEN).count(), k);
            assert_eq!(drawn.len(), k);
        }
    }

    /// Runs of consecutive selected positions (joined ones), longest first.
    fn longest_run(flags: &[u8], joined: &impl Fn(usize) -> bool) -> usize {
        let (mut longest, mut run) = (0, 0);
        for e in 0..flags.len() {
            run = match flags[e] {
                mark::NONE => 0,
                _ if e > 0 && joined(e - 1) && flags[e - 1] != mark::NONE => run + 1,
                _ => 1,
            };
            longest = longest.max(run);
        }
        longest
    }

    /// The uncapped placement with capped lengths (0.2's `--span-max`), and whether any
    /// run touched another (began or ended next to one, or covered one).
    fn merged_touching(
        d: &mut Draws,
        flags: &mut [u8],
        k: usize,
        span: &Span,
        joined: &impl Fn(usize) -> bool,
    ) -> bool {
        let n = flags.len();
        let mut runs = Runs {
            flags,
            free: Unselected::new(n),
            selected: 0,
            drawn: &mut Vec::new(),
            keep_list: false,
        };
        let mut touched = false;
        while runs.selected < k {
            let start = runs.draw_start(d);
            touched |= runs.touches(start, joined);
            let len = span.length(d.unit());
            let (mut e, mut covered) = (start, 0u64);
            loop {
                if runs.is_selected(e) {
                    touched = true;
                } else {
                    runs.select(e);
                    if runs.selected == k {
                        break;
                    }
                }
                covered += 1;
                if covered == len || e + 1 == n || !joined(e) {
                    break;
                }
                e += 1;
            }
            touched |= e + 1 < n && joined(e) && runs.is_selected(e + 1);
        }
        touched
    }

    /// `--span-max`: no run of consecutive selected positions is longer than the cap;
    /// fewer than k only when no unselected position fits any more; a record whose runs
    /// never touched (without the cap) draws exactly as it did.
    #[test]
    fn span_max_is_a_hard_cap_and_untouched_records_draw_as_before() {
        let (mut untouched, mut short) = (0, 0);
        for case in 0..3000u32 {
            let mut d = SeedKey::new(u64::from(case)).draws(1, b"cap");
            let n = 1 + d.below_u16(300) as usize;
            let k = d.below_u16(n as u32 + 1) as usize;
            let max = 1 + d.below_u16(6);
            let mean = 1.0 + f64::from(d.below_u16(8));
            let segment = 2 + d.below_u16(40) as usize;
            let joined = |e: usize| e % segment != segment - 1;
            let span = Span {
                mean,
                max: Some(max),
            };
            let (mut flags, mut drawn) = (vec![mark::NONE; n], Vec::new());
            let mut capped = d.clone();
            let got = choose_spans(
                &mut capped,
                &mut flags,
                k,
                &span,
                joined,
                &mut drawn,
                1 << 20,
            );
            let selected = flags.iter().filter(|&&f| f == mark::TOKEN).count();
            assert_eq!(got, selected, "case {case}");
            assert_eq!(drawn.len(), selected, "case {case}");
            assert!(got <= k);
            let longest = longest_run(&flags, &joined);
            assert!(
                longest <= max as usize,
                "case {case}: run of {longest} > {max}"
            );
            if got < k {
                short += 1;
                let runs = Runs {
                    flags: &mut flags,
                    free: Unselected::new(0),
                    selected: got,
                    drawn: &mut Vec::new(),
                    keep_list: false,
                };
                let fits = (0..n).any(|e| {
                    let (before, after) = runs.run_beside(e, &joined);
                    !runs.is_selected(e) && before + 1 + after <= max as usize
                });
                assert!(
                    !fits,
                    "case {case}: stopped short with a position that fits"
                );
            }
            let mut before = vec![mark::NONE; n];
            if !merged_touching(&mut d, &mut before, k, &span, &joined) {
                untouched += 1;
                assert_eq!(
                    before, flags,
                    "case {case}: drew otherwise without touching"
                );
                assert_eq!(capped.unit(), d.unit(), "case {case}: the stream moved on");
            }
        }
        assert!(
            untouched > 300 && short > 30,
            "{untouched} untouched, {short} short"
        );
    }
}
