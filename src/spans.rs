//! `--span-mean M`: selected positions in contiguous runs, for span masking (SpanBERT,
//! fill-in-the-middle, AntiFold).
//!
//! Given the count k (drawn as the mode says), runs are placed until exactly k positions
//! are selected: each starts at a uniformly chosen *unselected* eligible position and
//! covers a geometric number of eligible positions (mean M, capped by `--span-max`),
//! rightwards, stopping at an eligibility boundary (an ineligible position, a region's
//! edge, the sequence's end). Positions already selected inside a run stay selected and
//! count towards its length (runs that touch merge); the run that reaches k is cut there.
//! Every run selects at least its start, so at most k runs are drawn. The draw order is
//! an addition to RNG scheme 1 (docs/design.md, "Spans").

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

/// Select exactly `k` of the `flags.len()` eligible positions in runs (`flags` come all
/// `mark::NONE`; selected become `mark::TOKEN`). `joined(e)`: eligible position e + 1
/// follows e in the sequence with nothing ineligible between (same segment). Selected
/// positions are appended to `drawn` (in selection order) while it stays within `limit`.
///
/// Draws, per run: the start, `below(L - s)` (s = selected so far; 16-bit draws when
/// L <= 65536, else 64-bit, as Floyd's), then the length, `unit()`.
pub(crate) fn choose_spans(
    draws: &mut Draws,
    flags: &mut [u8],
    k: usize,
    span: &Span,
    joined: impl Fn(usize) -> bool,
    drawn: &mut Vec<u32>,
    limit: usize,
) {
    let n = flags.len();
    debug_assert!(k <= n);
    if k == 0 {
        return;
    }
    let keep_list = n <= limit;
    let mut free = Unselected::new(n);
    let mut selected = 0usize;
    while selected < k {
        let left = (n - selected) as u64;
        let j = if n <= 65536 {
            u64::from(draws.below_u16(left as u32))
        } else {
            draws.below_u64(left)
        };
        let len = span.length(draws.unit());
        let mut e = free.nth(j);
        let mut covered = 0u64;
        loop {
            if flags[e] == mark::NONE {
                flags[e] = mark::TOKEN;
                free.remove(e);
                selected += 1;
                if keep_list {
                    drawn.push(e as u32);
                }
                if selected == k {
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
}
