//! Choosing and corrupting the positions of one record: pure, no I/O.
//!
//! The draws happen in a fixed, documented order (docs/design.md): the timestep, the count
//! draw, the positions, then the corruption of each selected position in ascending order.
//! `Marks` records what becomes of every position, so formatting, the rates row and
//! `verify` all read one source of truth.

use crate::choice::choices;
use crate::regions::Within;
use crate::rng::{Draws, SeedKey};
use crate::schedule::Schedule;
use crate::spans::Span;

choices! {
    /// How many of the L eligible positions are selected.
    pub enum Mode {
        /// Each eligible position independently with probability r: k ~ Binomial(L, r).
        Bernoulli = "bernoulli",
        /// Exactly k = floor(r·L + U), U ~ U(0,1).
        Exact = "exact",
        /// Exactly k = floor(r·L), no draw (CARP's `int(0.15 * len(seq))`).
        Floor = "floor",
        /// EvoDiff's OADM count law (`OAMaskCollater`): k uniform on {2, ..., L} for L >= 2,
        /// k = L for L <= 1. The schedule is not used: the row has rate = k/L and t = 1 - k/L
        /// (so it lies on the linear curve).
        Oadm = "oadm",
        /// EvoDiff's D3PM with the uniform transition matrix: no selection and no mask;
        /// every eligible residue is redrawn from its row of Q̄[t] (`d3pm`). The schedule
        /// is not used: t is uniform on {1..499}.
        D3pmUniform = "d3pm-uniform",
        /// The same with EvoDiff's BLOSUM62 transition matrix.
        D3pmBlosum = "d3pm-blosum",
    }
}

impl Mode {
    /// The D3PM noise this mode applies, if it is one of the D3PM modes.
    pub fn d3pm(self) -> Option<crate::d3pm::Kind> {
        match self {
            Mode::D3pmUniform => Some(crate::d3pm::Kind::Uniform),
            Mode::D3pmBlosum => Some(crate::d3pm::Kind::Blosum),
            Mode::Bernoulli | Mode::Exact | Mode::Floor | Mode::Oadm => None,
        }
    }
}

choices! {
    /// How timesteps are drawn.
    pub enum Timesteps {
        /// t ~ U(0,1) from the record's own stream.
        Iid = "iid",
        /// A rotated van der Corput sequence over the records of an input, in order.
        Stratified = "stratified",
    }
}

/// The 20 standard amino acids a `random` corruption draws from, in this order.
pub const STANDARD_RESIDUES: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";

choices! {
    /// The letters a `random` corruption draws from (`--random-pool`).
    pub enum RandomPool {
        /// The 20 standard amino acids ACDEFGHIKLMNPQRSTVWY.
        Standard = "standard",
        /// All 26 letters ACDEFGHIKLMNPQRSTVWYBZXJOU (CARP's and EvoDiff's ALL_AAS).
        Extended = "extended",
    }
}

// `choices!` cannot take `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for RandomPool {
    fn default() -> Self {
        RandomPool::Standard
    }
}

impl RandomPool {
    /// The pool's letters, in the order a draw indexes them.
    pub fn letters(self) -> &'static [u8] {
        match self {
            RandomPool::Standard => STANDARD_RESIDUES,
            RandomPool::Extended => crate::d3pm::ALPHABET,
        }
    }
}

/// Fractions of the selected positions that are masked, replaced, kept. Always sums to 1.
/// In a manifest: `[mask, random, keep]`, checked again when read.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "[f64; 3]", try_from = "[f64; 3]")]
pub struct Corruption {
    mask: f64,
    random: f64,
}

impl Corruption {
    pub const MASK_ONLY: Corruption = Corruption {
        mask: 1.0,
        random: 0.0,
    };

    /// Fractions in [0,1] that sum to 1 (within 1e-9).
    pub fn new(mask: f64, random: f64, keep: f64) -> Result<Self, String> {
        for (name, v) in [("mask", mask), ("random", random), ("keep", keep)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} fraction {v} is outside [0,1]"));
            }
        }
        let sum = mask + random + keep;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(format!(
                "fractions {mask},{random},{keep} sum to {sum}, not 1"
            ));
        }
        Ok(Corruption { mask, random })
    }

    pub fn mask(&self) -> f64 {
        self.mask
    }
    pub fn random(&self) -> f64 {
        self.random
    }
    pub fn keep(&self) -> f64 {
        (1.0 - self.mask - self.random).max(0.0)
    }
    /// Every selected position becomes the token (no replacement, no keeping).
    pub fn is_mask_only(&self) -> bool {
        self.mask == 1.0
    }
}

impl From<Corruption> for [f64; 3] {
    fn from(c: Corruption) -> [f64; 3] {
        [c.mask(), c.random(), c.keep()]
    }
}

/// As `--corrupt` takes it: `0.8,0.1,0.1` (each fraction to nine decimals, so the kept
/// fraction, computed, does not show as `0.09999999999999998`).
impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [m, r, k] = <[f64; 3]>::from(*self).map(|v| (v * 1e9).round() / 1e9);
        write!(f, "{m},{r},{k}")
    }
}

impl TryFrom<[f64; 3]> for Corruption {
    type Error = String;
    fn try_from([m, r, k]: [f64; 3]) -> Result<Self, String> {
        Corruption::new(m, r, k)
    }
}

impl std::str::FromStr for Corruption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(format!(
                "expected three fractions M,R,K such as 0.8,0.1,0.1, got '{s}'"
            ));
        }
        let mut v = [0.0; 3];
        for (slot, p) in v.iter_mut().zip(&parts) {
            *slot = p
                .parse::<f64>()
                .map_err(|_| format!("'{p}' is not a number in '{s}'"))?;
        }
        Corruption::new(v[0], v[1], v[2])
    }
}

/// What becomes of each position of a sequence.
pub mod mark {
    /// Not selected: copied.
    pub const NONE: u8 = 0;
    /// Selected and replaced by the mask token.
    pub const TOKEN: u8 = 1;
    /// Selected and kept as it was.
    pub const KEPT: u8 = 2;
    // Any other value: selected and replaced by that residue byte (an uppercase letter).
}

/// What becomes of each position of one record; reused from record to record.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// One `mark` per sequence position: the authoritative answer.
    pub by_position: Vec<u8>,
    /// The sequence positions Floyd's algorithm drew, in draw order: the selected ones if
    /// `drawn_selected`, else the unselected ones. Lets formatting patch a copied line
    /// instead of looking at every position.
    pub drawn: Vec<u32>,
    pub drawn_selected: bool,
    /// `drawn` lists every drawn position. Not so for sequences longer than
    /// `DRAWN_LIMIT`, where the list (4 bytes a position) would cost more memory than the
    /// record: formatting then reads `by_position`.
    pub drawn_complete: bool,
    /// The random stream, kept to be restarted for the next record (cheaper than a new one).
    draws: Option<Draws>,
}

impl Marks {
    /// The selected positions, ascending. Skips unselected stretches 8 positions at a
    /// time (most of a record, at low rates).
    pub fn selected(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        let m = &self.by_position;
        m.chunks(8).enumerate().flat_map(move |(c, chunk)| {
            let any =
                chunk.len() == 8 && u64::from_ne_bytes(chunk.try_into().unwrap_or([1; 8])) == 0;
            let base = c * 8;
            chunk
                .iter()
                .enumerate()
                .filter(move |(_, b)| !any && **b != mark::NONE)
                .map(move |(i, _)| base + i)
        })
    }
}

impl Marks {
    /// Append the selected positions, ascending, as `selected()` gives them, without a
    /// branch a position (a mask is random, so a branch would be mispredicted often): 8
    /// marks at a time, the selected ones' offsets from a table by which of the 8 are
    /// selected; all 8 slots are written and the length advances past the selected ones.
    pub fn push_selected(&self, out: &mut Vec<i32>) {
        let marks = &self.by_position;
        out.reserve(marks.len() + 8);
        let words = marks.chunks_exact(8);
        let tail = words.remainder();
        for (c, w) in words.enumerate() {
            let selected = selected_of_8(u64::from_le_bytes(w.try_into().unwrap_or_default()));
            let base = (8 * c) as i32;
            let (offsets, count) = &SELECTED_OFFSETS[usize::from(selected)];
            let slots: [i32; 8] = std::array::from_fn(|j| base + offsets[j]);
            let len = out.len();
            out.extend_from_slice(&slots);
            out.truncate(len + *count as usize);
        }
        let base = marks.len() - tail.len();
        out.extend(
            (tail.iter().enumerate())
                .filter(|(_, m)| **m != mark::NONE)
                .map(|(i, _)| (base + i) as i32),
        );
    }
}

/// Bit j set where byte j (little-endian) of `word` is not 0: which of 8 marks are
/// selected.
fn selected_of_8(word: u64) -> u8 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte: set if the byte is not 0.
    let nonzero = (((word & LOW7) + LOW7) | word) & HIGH;
    // Gather bit 8j + 7 into bit 56 + j.
    (nonzero.wrapping_mul(0x0002_0408_1020_4081) >> 56) as u8
}

/// For each set of 8 selected flags, the offsets of the set ones, ascending (then 0s),
/// and their number (as i32s: no conversion, no population count in the loop; 9 KiB).
const SELECTED_OFFSETS: [([i32; 8], i32); 256] = {
    let mut table = [([0i32; 8], 0i32); 256];
    let mut bits = 0;
    while bits < 256 {
        let (mut j, mut n) = (0i32, 0usize);
        while j < 8 {
            if bits & (1 << j) != 0 {
                table[bits].0[n] = j;
                n += 1;
            }
            j += 1;
        }
        table[bits].1 = n as i32;
        bits += 1;
    }
    table
};

impl std::ops::Deref for Marks {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.by_position
    }
}

/// Everything the masker decides for one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub t: f64,
    pub rate: f64,
    /// L: the number of eligible positions.
    pub length: usize,
    /// The number of selected positions: k.
    pub masked: usize,
    /// k as drawn: `masked`, except for a record whose runs under `--span-max` could not
    /// hold k positions (it has fewer).
    pub drawn: usize,
}

/// A resolved masking configuration: everything that, with the record, decides its mask.
#[derive(Clone, Debug)]
pub struct Masker {
    pub schedule: Schedule,
    pub mode: Mode,
    pub corruption: Corruption,
    pub timesteps: Timesteps,
    /// `None`: every position is eligible.
    pub maskable: Option<Box<[bool; 256]>>,
    /// `--span-mean`: positions in runs (`spans`); `None`: one by one (Floyd's).
    pub span: Option<Span>,
    /// D3PM: each byte's index in its alphabet where `maskable` allows it, else `u8::MAX`.
    d3pm_letters: Box<[u8; 256]>,
    /// What a `random` corruption draws from (`--random-pool`).
    pub random_pool: RandomPool,
    /// A `random` corruption never draws the original letter (`--random-differs`).
    pub random_differs: bool,
    /// Fewer selected positions than this are raised to it, at most L (`--min-masked`).
    pub min_masked: u32,
    key: SeedKey,
    /// `stratified_shift(k)` of replicates 1..=len, computed once (`with_replicates`).
    shifts: Vec<f64>,
}

impl Masker {
    pub fn new(
        schedule: Schedule,
        mode: Mode,
        corruption: Corruption,
        timesteps: Timesteps,
        maskable: Option<&[u8]>,
        seed: u64,
    ) -> Self {
        let maskable = maskable.map(|chars| {
            let mut table = Box::new([false; 256]);
            for &c in chars {
                table[usize::from(c)] = true;
            }
            table
        });
        Masker {
            schedule,
            mode,
            corruption,
            timesteps,
            d3pm_letters: d3pm_letters(maskable.as_deref()),
            maskable,
            span: None,
            random_pool: RandomPool::Standard,
            random_differs: false,
            min_masked: 0,
            key: SeedKey::new(seed),
            shifts: Vec::new(),
        }
    }

    /// Build now the tables this masker would otherwise build on its first record (the
    /// ln-factorial table of the binomial draw, the D3PM tables). A table is built once
    /// per process behind a lock: a process forked while another thread was building one
    /// would wait on that lock forever, so the Python package builds them while it holds
    /// the interpreter lock (which `fork` needs too).
    pub fn prepare(&self) {
        ln_factorial(0);
        if let Some(kind) = self.mode.d3pm() {
            crate::d3pm::tables(kind);
        }
    }

    /// The seed's key (the crop stream is drawn with it).
    pub(crate) fn key(&self) -> &SeedKey {
        &self.key
    }

    /// Select positions in runs (`--span-mean`), or one by one (`None`).
    pub fn with_span(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    /// Draw `random` replacements from `pool` (`--random-pool`); with `differs`, never the
    /// original letter (`--random-differs`).
    pub fn with_random(mut self, pool: RandomPool, differs: bool) -> Self {
        self.random_pool = pool;
        self.random_differs = differs;
        self
    }

    /// Select at least `n` positions (at most L) in every record (`--min-masked`).
    pub fn with_min_masked(mut self, n: u32) -> Self {
        self.min_masked = n;
        self
    }

    /// Compute the stratification shifts of replicates 1..=n ahead, so that records do not
    /// each draw theirs (any other replicate still works, computing its shift per call).
    pub fn with_replicates(mut self, n: u32) -> Self {
        self.shifts = (1..=n).map(|k| self.stratified_shift(k)).collect();
        self
    }

    fn shift(&self, replicate: u32) -> f64 {
        match self.timesteps {
            Timesteps::Iid => 0.0,
            Timesteps::Stratified => match self.shifts.get(replicate as usize - 1) {
                Some(&s) => s,
                None => self.stratified_shift(replicate),
            },
        }
    }

    /// The rotation of the stratified sequence for one replicate: the first draw of the
    /// stream of the empty ID, which no record can have.
    pub fn stratified_shift(&self, replicate: u32) -> f64 {
        self.key.draws(replicate, b"").unit()
    }

    /// Draw 1 of every record: the timestep (the iid draw is always consumed, so later
    /// draws do not depend on the timestep mode) and the rate on the schedule's curve.
    fn timestep_and_rate(&self, draws: &mut Draws, index: u64, shift: f64) -> (f64, f64) {
        let iid_t = draws.unit();
        let t = match self.timesteps {
            Timesteps::Iid => iid_t,
            Timesteps::Stratified => stratified_t(index, shift),
        };
        (t, self.schedule.rate(t))
    }

    /// The (t, rate) that `mask_record` draws for a record `id` (replicate 1, the first
    /// record of its input): the sampler behind `protmask schedule --samples`.
    pub fn sample_rate(&self, id: &[u8]) -> (f64, f64) {
        self.timestep_and_rate(&mut self.key.draws(1, id), 0, self.shift(1))
    }

    /// Decide the mask of one record. `index` is the 0-based record number within its
    /// input (used only by stratified timesteps). `replicate` counts from 1. `marks` is
    /// cleared and filled with one `mark` per sequence position. `within`, the record's
    /// regions (`--regions`), restricts the eligible positions further (`None`: no
    /// restriction).
    pub fn mask_record(
        &self,
        id: &[u8],
        seq: &[u8],
        replicate: u32,
        index: u64,
        marks: &mut Marks,
        within: Option<&Within>,
    ) -> Outcome {
        let shift = self.shift(replicate);
        match marks.draws.as_mut() {
            Some(d) => self.key.restart(d, replicate, id),
            None => marks.draws = Some(self.key.draws(replicate, id)),
        }
        let draws = marks.draws.as_mut().expect("set just above");
        let (t, rate) = self.timestep_and_rate(draws, index, shift);
        if let Some(kind) = self.mode.d3pm() {
            // No drawn list: the FASTA writer reads every position's mark.
            marks.drawn.clear();
            marks.drawn_selected = true;
            marks.drawn_complete = false;
            return self.d3pm_record(kind, draws, seq, &mut marks.by_position, within);
        }

        let by_position = &mut marks.by_position;
        by_position.clear();
        by_position.resize(seq.len(), mark::NONE);
        let eligible: Option<Vec<u32>> = match within {
            None => self.maskable.as_ref().map(|table| {
                (0..seq.len() as u32)
                    .filter(|&i| table[usize::from(seq[i as usize])])
                    .collect()
            }),
            Some(w) => Some(eligible_within(seq, self.maskable.as_deref(), w)),
        };
        let length = eligible.as_ref().map_or(seq.len(), Vec::len);

        // Draw 2: what fixes k (a uniform; for OADM, an integer below L - 1).
        let (t, rate, k) = match self.mode {
            Mode::Bernoulli => (
                t,
                rate,
                binomial(length as u64, rate, draws.unit()) as usize,
            ),
            Mode::Exact => {
                let u = draws.unit();
                (
                    t,
                    rate,
                    ((rate * length as f64 + u).floor() as usize).min(length),
                )
            }
            Mode::Floor => (t, rate, floor_count(rate, length)),
            Mode::Oadm => oadm(length, draws),
            Mode::D3pmUniform | Mode::D3pmBlosum => unreachable!("D3PM returns above"),
        };
        // `--min-masked`: a uniform k-subset topped up by N - k positions drawn uniformly
        // among the rest is a uniform N-subset, so raising k before the positions are
        // drawn is the same law, with no draw of its own (CARP's rule for N = 1).
        let k = k.max((self.min_masked as usize).min(length));

        // Draws 3..: the positions, over the eligible index space. All k of them, except
        // where `--span-max` cannot fit them (`spans`).
        let mut selected = k;
        marks.drawn.clear();
        match &eligible {
            None if self.span.is_none() => {
                marks.drawn_selected = choose(draws, by_position, k, &mut marks.drawn);
                marks.drawn_complete = seq.len() <= DRAWN_LIMIT;
            }
            None => {
                selected = self.choose_spans(draws, by_position, k, None, &mut marks.drawn);
                marks.drawn_selected = true;
                marks.drawn_complete = seq.len() <= DRAWN_LIMIT;
            }
            Some(idx) => {
                let mut chosen = vec![mark::NONE; length];
                marks.drawn_selected = match self.span {
                    None => choose(draws, &mut chosen, k, &mut marks.drawn),
                    Some(_) => {
                        selected =
                            self.choose_spans(draws, &mut chosen, k, Some(idx), &mut marks.drawn);
                        true
                    }
                };
                marks.drawn_complete = length <= DRAWN_LIMIT;
                for (e, &c) in chosen.iter().enumerate() {
                    by_position[idx[e] as usize] = c;
                }
                for d in marks.drawn.iter_mut() {
                    *d = idx[*d as usize];
                }
            }
        }

        // Last draws: corruption of each selected position, ascending.
        if !self.corruption.is_mask_only() {
            let keep_from = self.corruption.mask + self.corruption.random;
            let selected =
                (marks.by_position.iter_mut().enumerate()).filter(|(_, m)| **m != mark::NONE);
            for (p, m) in selected {
                let u = draws.unit();
                *m = if u < self.corruption.mask {
                    mark::TOKEN
                } else if u < keep_from {
                    self.replacement(draws, seq[p])
                } else {
                    mark::KEPT
                };
            }
        }
        Outcome {
            t,
            rate,
            length,
            masked: selected,
            drawn: k,
        }
    }
}

impl Masker {
    /// A `random` corruption of `original`: a letter of the pool, drawn uniformly; with
    /// `random_differs` and `original` in the pool (n letters), one of the other n - 1
    /// (one draw below n - 1, the original's index skipped), as CARP's `MLMCollater`
    /// draws from `ALL_AAS` without the original.
    fn replacement(&self, draws: &mut Draws, original: u8) -> u8 {
        let pool = self.random_pool.letters();
        let n = pool.len() as u32;
        let skip = match self.random_differs {
            true => pool.iter().position(|&c| c == original),
            false => None,
        };
        match skip {
            Some(at) => {
                let j = draws.below_u16(n - 1) as usize;
                pool[if j >= at { j + 1 } else { j }]
            }
            None => pool[draws.below_u16(n) as usize],
        }
    }

    /// `--span-mean`: k positions in runs over the eligible index space `flags`; `idx`
    /// maps it to sequence positions (`None`: the identity). Returns how many were
    /// selected (fewer than k only when `--span-max` cannot fit them); the drawn list
    /// holds them.
    fn choose_spans(
        &self,
        draws: &mut Draws,
        flags: &mut [u8],
        k: usize,
        idx: Option<&[u32]>,
        drawn: &mut Vec<u32>,
    ) -> usize {
        let span = self.span.as_ref().expect("only called with a span");
        let joined = |e: usize| idx.is_none_or(|idx| idx[e + 1] == idx[e] + 1);
        crate::spans::choose_spans(draws, flags, k, span, joined, drawn, DRAWN_LIMIT)
    }
}

impl Masker {
    /// D3PM (`--mode d3pm-*`): draw 2 is t uniform on {1..T-1} (`1 + below(T - 1)`, as
    /// `np.random.randint(1, T)`); then each eligible residue in ascending order draws its
    /// new letter from row `x` of Q̄[t] (`Tables::draw`). Eligible: a letter of the D3PM
    /// alphabet, and `--maskable` and the regions allow it. A changed residue's mark is
    /// its new letter; `masked` counts them. The row's t is 1 − t/T; its rate the mean
    /// over eligible residues of 1 − Q̄[t][x][x] (summed per letter in alphabet order).
    /// (t is computed as (T − t)/T, one rounding.)
    fn d3pm_record(
        &self,
        kind: crate::d3pm::Kind,
        draws: &mut Draws,
        seq: &[u8],
        by_position: &mut Vec<u8>,
        within: Option<&Within>,
    ) -> Outcome {
        use crate::d3pm::{K, T};
        let tables = crate::d3pm::tables(kind);
        let step = 1 + draws.below_u64(T as u64 - 1) as usize;
        by_position.clear();
        by_position.resize(seq.len(), mark::NONE);
        let letters = &self.d3pm_letters;
        let rows = tables.at(step);
        let mut counts = [0u64; K];
        let mut changed = 0usize;
        // Written out twice rather than through a closure: this loop is the whole cost of
        // a D3PM run, one residue at a time.
        match within {
            None => {
                for (m, &b) in by_position.iter_mut().zip(seq) {
                    let x = usize::from(letters[usize::from(b)]);
                    if x >= K {
                        continue;
                    }
                    counts[x] += 1;
                    // The mark itself (`mark::NONE` = 0 if unchanged): whether a residue
                    // changes is a coin flip, so no branch on it.
                    *m = rows.draw_mark(x, draws);
                    changed += usize::from(*m != mark::NONE);
                }
            }
            Some(w) => {
                for p in eligible_within(seq, self.maskable.as_deref(), w) {
                    let p = p as usize;
                    let x = usize::from(letters[usize::from(seq[p])]);
                    if x >= K {
                        continue;
                    }
                    counts[x] += 1;
                    by_position[p] = rows.draw_mark(x, draws);
                    changed += usize::from(by_position[p] != mark::NONE);
                }
            }
        }
        let length: u64 = counts.iter().sum();
        let rate = if length == 0 {
            0.0
        } else {
            let mut expected = 0.0;
            for (x, &n) in counts.iter().enumerate() {
                expected += n as f64 * tables.change(step, x);
            }
            expected / length as f64
        };
        Outcome {
            t: (T - step) as f64 / T as f64,
            rate,
            length: length as usize,
            masked: changed,
            drawn: changed,
        }
    }
}

/// For D3PM: each byte's index in the D3PM alphabet if `--maskable` allows it, else
/// `u8::MAX`.
fn d3pm_letters(maskable: Option<&[bool; 256]>) -> Box<[u8; 256]> {
    let mut table = Box::new([u8::MAX; 256]);
    for (b, slot) in table.iter_mut().enumerate() {
        let allowed = maskable.is_none_or(|m| m[b]);
        if let (Some(x), true) = (crate::d3pm::index_of(b as u8), allowed) {
            *slot = x as u8;
        }
    }
    table
}

/// The eligible positions of `seq` under `--maskable` (`None`: all) and its regions.
pub(crate) fn eligible_within(
    seq: &[u8],
    maskable: Option<&[bool; 256]>,
    within: &Within,
) -> Vec<u32> {
    let ok = |p: usize| maskable.is_none_or(|t| t[usize::from(seq[p])]);
    match within.mode {
        crate::regions::RegionsMode::Only => within
            .intervals
            .iter()
            .flat_map(|iv| iv.start as usize..(iv.end as usize).min(seq.len()))
            .filter(|&p| ok(p))
            .map(|p| p as u32)
            .collect(),
        crate::regions::RegionsMode::Except => (0..seq.len())
            .filter(|&p| ok(p) && within.allows(p as u64))
            .map(|p| p as u32)
            .collect(),
    }
}

/// `--mode floor`: k = floor(r·L), computed as Python computes CARP's
/// `int(len(seq) * 0.15)` (one f64 product, truncated), so the two agree bit for bit.
pub(crate) fn floor_count(rate: f64, length: usize) -> usize {
    ((rate * length as f64).floor() as usize).min(length)
}

/// EvoDiff OADM: `t = np.random.randint(1, L)` (upper bound excluded) and
/// `num_mask = L - t + 1`, i.e. k uniform on {2, ..., L}; for L <= 1, k = L. Returns
/// (t, rate, k) with rate = k/L and t = 1 - rate (rate 0 and t 1 for an empty record).
fn oadm(length: usize, draws: &mut Draws) -> (f64, f64, usize) {
    let k = if length >= 2 {
        2 + draws.below_u64(length as u64 - 1) as usize
    } else {
        length
    };
    let rate = if length == 0 {
        0.0
    } else {
        k as f64 / length as f64
    };
    (1.0 - rate, rate, k)
}

/// The i-th point of the van der Corput sequence in base 2, rotated by `shift` (mod 1).
/// Any n consecutive points from the start leave no gap wider than 2/n on the circle.
pub fn stratified_t(index: u64, shift: f64) -> f64 {
    let vdc = index.reverse_bits() as f64 * (1.0 / 18_446_744_073_709_551_616.0);
    let t = vdc + shift;
    if t >= 1.0 { t - 1.0 } else { t }
}

/// Sequences (eligible index spaces) longer than this keep no list of drawn positions.
pub(crate) const DRAWN_LIMIT: usize = 1 << 20;

/// Select exactly `k` of `flags.len()` positions uniformly (all subsets equally likely),
/// setting them to `mark::TOKEN` (`flags` must come all `mark::NONE`). Floyd's algorithm; when more than half are selected it
/// draws the unselected ones instead. Draws are 16-bit when the length is at most 65536,
/// 64-bit otherwise. The drawn positions are appended to `drawn` (up to `DRAWN_LIMIT`
/// positions); returns whether they
/// are the selected ones.
fn choose(draws: &mut Draws, flags: &mut [u8], k: usize, drawn: &mut Vec<u32>) -> bool {
    let n = flags.len();
    let selected = k <= n - k;
    let (pick, fill, mark_picked) = if selected {
        (k, mark::NONE, mark::TOKEN)
    } else {
        (n - k, mark::TOKEN, mark::NONE)
    };
    debug_assert!(
        flags.iter().all(|&f| f == mark::NONE),
        "flags start unselected"
    );
    if fill != mark::NONE {
        flags.fill(fill);
    }
    // Branch-free update: whether r was already picked is a coin flip to the predictor.
    // (`extend` over a range knows its length: no capacity check per position.)
    if n <= 65536 {
        drawn.extend((n - pick..n).map(|j| {
            let r = draws.below_u16(j as u32 + 1) as usize;
            let at = if flags[r] == mark_picked { j } else { r };
            flags[at] = mark_picked;
            at as u32
        }));
    } else if n <= DRAWN_LIMIT {
        drawn.extend((n - pick..n).map(|j| {
            let r = draws.below_u64(j as u64 + 1) as usize;
            let at = if flags[r] == mark_picked { j } else { r };
            flags[at] = mark_picked;
            at as u32
        }));
    } else {
        // The same draws, without the list (see `Marks::drawn_complete`).
        for j in n - pick..n {
            let r = draws.below_u64(j as u64 + 1) as usize;
            let at = if flags[r] == mark_picked { j } else { r };
            flags[at] = mark_picked;
        }
    }
    selected
}

/// ln(k!) = lgamma(k + 1). Up to 65536 from a table of exactly those `libm::lgamma`
/// values, built once: the same numbers, without three lgamma calls per record.
fn ln_factorial(k: u64) -> f64 {
    const TABLED: u64 = 65536;
    static TABLE: std::sync::OnceLock<Box<[f64]>> = std::sync::OnceLock::new();
    if k <= TABLED {
        TABLE.get_or_init(|| (0..=TABLED).map(|i| libm::lgamma(i as f64 + 1.0)).collect())
            [k as usize]
    } else {
        libm::lgamma(k as f64 + 1.0)
    }
}

/// A Binomial(n, p) variate from one uniform `u` in [0,1): inversion that starts at the
/// mode and walks outwards, alternately down and up, so it costs O(sqrt(n p (1-p))).
/// Every outcome is visited in a fixed order, so P(k) is exactly its probability mass.
pub fn binomial(n: u64, p: f64, u: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let q = 1.0 - p;
    let nf = n as f64;
    let mode = (((nf + 1.0) * p).floor() as u64).min(n);
    let mf = mode as f64;
    let ln_pmf = ln_factorial(n) - ln_factorial(mode) - ln_factorial(n - mode)
        + mf * libm::log(p)
        + (nf - mf) * libm::log1p(-p);
    let pmode = libm::exp(ln_pmf);
    let mut u = u - pmode;
    if u < 0.0 {
        return mode;
    }
    let (odds_up, odds_down) = (p / q, q / p);
    let (mut lo, mut hi) = (mode, mode);
    let (mut plo, mut phi) = (pmode, pmode);
    loop {
        if lo > 0 {
            plo *= lo as f64 / (n - lo + 1) as f64 * odds_down;
            lo -= 1;
            u -= plo;
            if u < 0.0 {
                return lo;
            }
        }
        if hi < n {
            phi *= (n - hi) as f64 / (hi + 1) as f64 * odds_up;
            hi += 1;
            u -= phi;
            if u < 0.0 {
                return hi;
            }
        }
        // Both tails exhausted or negligible: the rounding leftover goes to the mode.
        if (lo == 0 || plo == 0.0) && (hi == n || phi == 0.0) {
            return mode;
        }
    }
}

#[cfg(test)]
mod bert_laws;

#[cfg(test)]
mod tests {
    use super::*;

    /// `push_selected` (8 marks a word, a table of offsets) gives `selected()`: every set
    /// of 8 flags, every mark value, lengths that leave a tail, after earlier positions.
    #[test]
    fn push_selected_is_selected() {
        for bits in 0..=255u8 {
            let word: Vec<u8> = (0..8)
                .map(|j| {
                    if bits & (1 << j) != 0 {
                        [1, 2, b'A', 255][j % 4]
                    } else {
                        0
                    }
                })
                .collect();
            let w = u64::from_le_bytes(word.clone().try_into().unwrap());
            assert_eq!(selected_of_8(w), bits, "{word:?}");
        }
        let mut state = 3u64;
        for len in (0..70).chain([1000, 4093]) {
            for density in [0, 1, 3, 8] {
                let marks = Marks {
                    by_position: (0..len)
                        .map(|_| {
                            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                            let r = (state >> 33) % 8;
                            if r < density {
                                [1, 2, b'K'][(r % 3) as usize]
                            } else {
                                0
                            }
                        })
                        .collect(),
                    ..Marks::default()
                };
                let mut out = vec![-7];
                marks.push_selected(&mut out);
                let want: Vec<i32> = std::iter::once(-7)
                    .chain(marks.selected().map(|p| p as i32))
                    .collect();
                assert_eq!(out, want, "len {len} density {density}");
            }
        }
    }

    fn masker(spec: &str, mode: Mode, corruption: Corruption) -> Masker {
        Masker::new(
            spec.parse().unwrap(),
            mode,
            corruption,
            Timesteps::Iid,
            None,
            42,
        )
    }

    fn ln_choose(n: u64, k: u64) -> f64 {
        libm::lgamma(n as f64 + 1.0)
            - libm::lgamma(k as f64 + 1.0)
            - libm::lgamma((n - k) as f64 + 1.0)
    }

    #[test]
    fn binomial_matches_its_pmf() {
        // Chi-square goodness of fit against the exact pmf, cells with expectation >= 5.
        for &(n, p) in &[
            (20u64, 0.3),
            (270, 0.3),
            (1000, 0.97),
            (5, 0.5),
            (3000, 0.01),
        ] {
            let draws_n = 40_000;
            let mut d = SeedKey::new(11).draws(1, b"binomial");
            let mut counts = vec![0u32; n as usize + 1];
            for _ in 0..draws_n {
                counts[binomial(n, p, d.unit()) as usize] += 1;
            }
            let (mut chi2, mut cells, mut pooled_obs, mut pooled_exp) = (0.0, 0, 0.0, 0.0);
            for k in 0..=n {
                let pmf =
                    (ln_choose(n, k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp();
                pooled_exp += pmf * draws_n as f64;
                pooled_obs += f64::from(counts[k as usize]);
                if pooled_exp >= 5.0 {
                    chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
                    cells += 1;
                    pooled_obs = 0.0;
                    pooled_exp = 0.0;
                }
            }
            // Generous: mean + 5 sd of a chi-square with `cells` degrees of freedom.
            let bound = cells as f64 + 5.0 * (2.0 * cells as f64).sqrt();
            assert!(chi2 < bound, "n={n} p={p}: chi2 {chi2} over {cells} cells");
        }
    }

    #[test]
    fn binomial_wrong_p_is_detected() {
        // Negative control for the test above: draws at p = 0.32 against p = 0.3 fail.
        let (n, p_true, p_claimed) = (270u64, 0.32, 0.3);
        let mut d = SeedKey::new(11).draws(1, b"binomial");
        let mean: f64 = (0..40_000)
            .map(|_| binomial(n, p_true, d.unit()) as f64)
            .sum::<f64>()
            / 40_000.0;
        let sd_of_mean = (n as f64 * p_claimed * (1.0 - p_claimed) / 40_000.0).sqrt();
        assert!((mean - n as f64 * p_claimed).abs() > 5.0 * sd_of_mean);
    }

    #[test]
    fn sample_rate_is_what_mask_record_draws() {
        let m = masker("betalinear30", Mode::Bernoulli, Corruption::MASK_ONLY);
        let mut marks = Marks::default();
        for i in 0..100 {
            let id = format!("sample{i}");
            let o = m.mask_record(id.as_bytes(), b"ACDEF", 1, 0, &mut marks, None);
            assert_eq!(m.sample_rate(id.as_bytes()), (o.t, o.rate));
        }
    }

    #[test]
    fn binomial_edges() {
        assert_eq!(binomial(0, 0.5, 0.3), 0);
        assert_eq!(binomial(10, 0.0, 0.99), 0);
        assert_eq!(binomial(10, 1.0, 0.0), 10);
        assert!(binomial(100_000_000, 0.5, 0.999_999_999) <= 100_000_000);
    }

    #[test]
    fn exact_mode_selects_floor_or_ceil_of_rl() {
        let m = masker("uniform", Mode::Exact, Corruption::MASK_ONLY);
        let seq = vec![b'A'; 137];
        let mut marks = Marks::default();
        for i in 0..2000 {
            let id = format!("r{i}");
            let o = m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
            let rl = o.rate * 137.0;
            assert!(o.masked == rl.floor() as usize || o.masked == rl.ceil() as usize);
            assert_eq!(marks.iter().filter(|&&x| x != mark::NONE).count(), o.masked);
        }
    }

    #[test]
    fn bernoulli_counts_follow_binomial_moments() {
        // With a fixed rate, k over many records has mean rL and variance rL(1-r).
        let m = masker("0.3", Mode::Bernoulli, Corruption::MASK_ONLY);
        let seq = vec![b'A'; 200];
        let mut marks = Marks::default();
        let ks: Vec<f64> = (0..20_000)
            .map(|i| {
                let id = format!("s{i}");
                let o = m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
                assert_eq!(marks.iter().filter(|&&x| x != mark::NONE).count(), o.masked);
                o.masked as f64
            })
            .collect();
        let mean = ks.iter().sum::<f64>() / ks.len() as f64;
        let var = ks.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / (ks.len() - 1) as f64;
        assert!((mean - 60.0).abs() < 0.15, "mean {mean}");
        assert!((var - 42.0).abs() < 2.5, "variance {var}");
    }

    #[test]
    fn every_position_is_equally_likely() {
        // Floyd's selection (and its complement branch) must not favour any position.
        for spec in ["0.2", "0.8"] {
            let m = masker(spec, Mode::Exact, Corruption::MASK_ONLY);
            let seq = vec![b'A'; 10];
            let mut marks = Marks::default();
            let mut hits = [0u32; 10];
            for i in 0..20_000 {
                let id = format!("p{i}");
                m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
                for (h, &x) in hits.iter_mut().zip(marks.iter()) {
                    *h += u32::from(x != mark::NONE);
                }
            }
            let expected = 20_000.0 * spec.parse::<f64>().unwrap();
            for h in hits {
                let sd = (expected * (1.0 - expected / 20_000.0)).sqrt();
                assert!(
                    (f64::from(h) - expected).abs() < 5.0 * sd,
                    "{spec}: {hits:?}"
                );
            }
        }
    }

    #[test]
    fn corruption_fractions_hold() {
        let c = Corruption::new(0.8, 0.1, 0.1).unwrap();
        let m = masker("0.5", Mode::Exact, c);
        let seq = vec![b'B'; 100]; // B is not a standard residue, so a replacement shows
        let mut marks = Marks::default();
        let (mut tok, mut rnd, mut kept) = (0u32, 0u32, 0u32);
        for i in 0..2000 {
            let id = format!("c{i}");
            m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
            for &x in marks.iter() {
                match x {
                    mark::NONE => {}
                    mark::TOKEN => tok += 1,
                    mark::KEPT => kept += 1,
                    r => {
                        assert!(STANDARD_RESIDUES.contains(&r));
                        rnd += 1
                    }
                }
            }
        }
        let total = f64::from(tok + rnd + kept);
        assert_eq!(total, 100_000.0);
        assert!((f64::from(tok) / total - 0.8).abs() < 0.006);
        assert!((f64::from(rnd) / total - 0.1).abs() < 0.006);
        assert!((f64::from(kept) / total - 0.1).abs() < 0.006);
    }

    #[test]
    fn maskable_restricts_selection_and_length() {
        let mut m = masker("1", Mode::Exact, Corruption::MASK_ONLY);
        m.maskable = Some({
            let mut t = Box::new([false; 256]);
            t[usize::from(b'K')] = true;
            t
        });
        let seq = b"AKAKKAAK";
        let mut marks = Marks::default();
        let o = m.mask_record(b"id", seq, 1, 0, &mut marks, None);
        assert_eq!(o.length, 4);
        assert_eq!(o.masked, 4);
        for (i, &c) in seq.iter().enumerate() {
            assert_eq!(marks[i] != mark::NONE, c == b'K');
        }
    }

    #[test]
    fn stratified_points_leave_no_wide_gap() {
        for n in [1usize, 2, 3, 7, 100, 1000, 1023, 1025] {
            let mut ts: Vec<f64> = (0..n as u64).map(|i| stratified_t(i, 0.37)).collect();
            ts.sort_by(f64::total_cmp);
            let mut gap = ts[0] + 1.0 - ts[n - 1];
            for w in ts.windows(2) {
                gap = gap.max(w[1] - w[0]);
            }
            assert!(gap <= 1.0 / (1u64 << (usize::BITS - 1 - n.leading_zeros())) as f64 + 1e-12);
            assert!(gap < 2.0 / n as f64 || n == 1, "n={n} gap {gap}");
        }
    }

    fn d3pm_masker(mode: Mode, maskable: Option<&[u8]>) -> Masker {
        Masker::new(
            "linear".parse().unwrap(),
            mode,
            Corruption::MASK_ONLY,
            Timesteps::Iid,
            maskable,
            42,
        )
    }

    /// A record of every D3PM letter, with lowercase letters and `*`, `-` between them.
    fn d3pm_record_seq(i: usize) -> Vec<u8> {
        let letters = crate::d3pm::ALPHABET;
        (0..40 + i % 60)
            .map(|j| match (i + j * 7) % 31 {
                26 => b'a',
                27 => b'*',
                28 => b'-',
                29 => b'k',
                c => letters[c % 26],
            })
            .collect()
    }

    /// The documented draws, replayed from the record's stream: draw 1 (the timestep
    /// uniform, unused), draw 2 t = 1 + below(499), then each eligible residue ascending
    /// through `Tables::draw`; the marks, t, rate and counts are what `mask_record` says.
    #[test]
    fn d3pm_record_is_the_documented_draws() {
        use crate::d3pm::{ALPHABET, Kind, T, index_of, tables};
        for (mode, kind) in [
            (Mode::D3pmUniform, Kind::Uniform),
            (Mode::D3pmBlosum, Kind::Blosum),
        ] {
            for maskable in [None, Some(&b"ACDEFGHIKLMNPQRSTVWYk*"[..])] {
                let m = d3pm_masker(mode, maskable);
                let mut marks = Marks::default();
                for i in 0..500 {
                    let id = format!("d{i}");
                    let seq = d3pm_record_seq(i);
                    let o = m.mask_record(id.as_bytes(), &seq, 1, 0, &mut marks, None);
                    let mut d = SeedKey::new(42).draws(1, id.as_bytes());
                    d.unit();
                    let step = 1 + d.below_u64(T as u64 - 1) as usize;
                    let (mut length, mut changed, mut expected) = (0usize, 0usize, 0.0);
                    for (p, &b) in seq.iter().enumerate() {
                        let allowed = maskable.is_none_or(|mk| mk.contains(&b));
                        let Some(x) = index_of(b).filter(|_| allowed) else {
                            assert_eq!(marks[p], mark::NONE, "{mode} {id} {p}: not eligible");
                            continue;
                        };
                        length += 1;
                        expected += tables(kind).change(step, x);
                        let to = tables(kind).draw(step, x, &mut d);
                        let want = if to == x { mark::NONE } else { ALPHABET[to] };
                        changed += usize::from(to != x);
                        assert_eq!(marks[p], want, "{mode} {id} {p}");
                    }
                    assert_eq!(o.t, (T - step) as f64 / T as f64);
                    assert_eq!((o.length, o.masked, o.drawn), (length, changed, changed));
                    let rate = if length == 0 {
                        0.0
                    } else {
                        expected / length as f64
                    };
                    assert!(
                        (o.rate - rate).abs() < 1e-12,
                        "{mode} {id}: {} {rate}",
                        o.rate
                    );
                }
            }
        }
    }

    /// t is uniform on {1, ..., 499}: chi-square over the 499 values for 100,000 records,
    /// and neither 0 nor 500 ever drawn. Negative controls: the same counts fail against
    /// a uniform law on {1..500} (where 500 would have shown ~200 times) and against a law
    /// that favours low t by 10%.
    #[test]
    fn d3pm_t_is_uniform_on_1_to_499() {
        use crate::d3pm::T;
        let m = d3pm_masker(Mode::D3pmUniform, None);
        let mut marks = Marks::default();
        let n = 100_000;
        let mut counts = vec![0u64; T + 1];
        for i in 0..n {
            let o = m.mask_record(format!("t{i}").as_bytes(), b"A", 1, 0, &mut marks, None);
            let step = (T as f64 * (1.0 - o.t)).round() as usize;
            assert_eq!((T - step) as f64 / T as f64, o.t);
            counts[step] += 1;
        }
        assert_eq!((counts[0], counts[T]), (0, 0), "t = 0 or 500 drawn");
        let chi2 = |p: &dyn Fn(usize) -> f64| -> f64 {
            (0..=T)
                .filter(|&s| p(s) > 0.0)
                .map(|s| {
                    let e = p(s) * n as f64;
                    (counts[s] as f64 - e).powi(2) / e
                })
                .sum()
        };
        let df: f64 = 498.0;
        let bound = df + 5.0 * (2.0 * df).sqrt();
        let uniform = |s: usize| {
            if (1..T).contains(&s) {
                1.0 / 499.0
            } else {
                0.0
            }
        };
        assert!(chi2(&uniform) < bound, "{}", chi2(&uniform));
        let to_500 = |s: usize| {
            if (1..=T).contains(&s) {
                1.0 / 500.0
            } else {
                0.0
            }
        };
        assert!(
            chi2(&to_500) > bound,
            "uniform on 1..500 passes: {}",
            chi2(&to_500)
        );
        let tilted = |s: usize| {
            if (1..T).contains(&s) {
                (if s < 250 { 1.1 } else { 0.9 }) / (249.0 * 1.1 + 250.0 * 0.9)
            } else {
                0.0
            }
        };
        assert!(
            chi2(&tilted) > bound,
            "a tilted law passes: {}",
            chi2(&tilted)
        );
    }

    #[test]
    fn corruption_parse_errors() {
        assert!("0.8,0.1".parse::<Corruption>().is_err());
        assert!("0.8,0.1,0.2".parse::<Corruption>().is_err());
        assert!("1.2,-0.1,-0.1".parse::<Corruption>().is_err());
        assert!("a,b,c".parse::<Corruption>().is_err());
        assert_eq!("0.8, 0.1, 0.1".parse::<Corruption>().unwrap().random(), 0.1);
    }
}
