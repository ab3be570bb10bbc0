//! EvoDiff's D3PM transition tables (Austin et al. 2021, as microsoft/evodiff trains them):
//! Q̄[t] = Q_0 · Q_1 · … · Q_t for the uniform and the BLOSUM noise, computed by protmask
//! itself so that a noised set needs neither torch nor EvoDiff to be made or checked.
//!
//! Why this shape: a masked set is reproduced bit for bit from its seed, so the tables a
//! sampler inverts must be the same bits on every machine. Every number here comes from a
//! fixed, serial order of operations (left-to-right sums, no `mul_add`, no parallel
//! reductions, `libm` for `exp`), is built once on first use (`OnceLock`) and shared.
//! The tests pin a SHA-256 of each table and tests/python/test_d3pm.py recomputes them
//! with numpy from the reference code.
//!
//! Indexing follows the reference's `Q_prod` list: `q_bar(t)` for t in 0..T is the product
//! of the t + 1 step matrices Q_0 … Q_t. EvoDiff draws t from 1..T (`randint(1, T)`), so
//! index 0 is kept for completeness and is never drawn. Rows are the original residue,
//! columns the new one, both in [`ALPHABET`] order.
//!
//! Where protmask follows the reference's code rather than the formulas:
//! - β is float32, as torch makes it (its `linspace`, then the schedule's arithmetic in
//!   float32); everything after β is float64. `exp` of the 'exp' schedule is taken in
//!   float64 and rounded to float32 (the correctly rounded `expf`, the same on every
//!   machine; torch's vectorised `expf` may differ from it in the last bit).
//! - Uniform: the reference builds β_k/K in float32 (`torch.ones` defaults to float32),
//!   so its step rows sum to 1 only within ~1e-7; protmask builds the step matrices in
//!   float64 from the float32 β, so its rows sum to 1 within 1e-12. Because β is float32,
//!   the product is the closed form ᾱ I + (1 − ᾱ)/K · 11ᵀ with ᾱ = ∏(1 − β_k) (to 1e-12),
//!   which is (T − t)/(T + 1) only to ~1e-9.
//! - BLOSUM: the Sinkhorn loop stops when the smallest column sum is within `isclose` of 1
//!   and the gap row and column are then dropped without renormalising, so a BLOSUM step
//!   row sums to 1 + β_k (rowsum(q) − colsum(q)), which is off by up to ~1e-5, and a
//!   row of Q̄ by up to 7e-4. The table keeps the reference's values; the cumulative
//!   sums are normalised by the row's total, as `torch.multinomial` normalises the row.

use std::sync::OnceLock;

/// The D3PM sequence alphabet: EvoDiff's `MSA_AAS` without the gap (`Tokenizer(sequences=
/// True)`), i.e. the 20 canonical residues, the ambiguous `BZX` and the rare `JOU`.
pub const ALPHABET: &[u8; K] = b"ACDEFGHIKLMNPQRSTVWYBZXJOU";
/// The number of letters a noised residue may become (no mask token in D3PM).
pub const K: usize = 26;
/// The number of diffusion steps (EvoDiff's `diffusion_timesteps`).
pub const T: usize = 500;

/// Each byte's index in [`ALPHABET`], or `None` for a byte outside it (lowercase too:
/// EvoDiff's tokenizer has no lowercase letters).
pub const fn index_of(b: u8) -> Option<usize> {
    let mut i = 0;
    while i < K {
        if ALPHABET[i] == b {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Which noise the tables describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `q_random_schedule`: β_k = 1/(T − k + 1), Q_k = (1 − β_k) I + β_k/K · 11ᵀ.
    Uniform,
    /// `q_blosum_schedule(500, 'exp', max=6)`: Q_k = β_k q + diag(1 − β_k colsum(q)).
    Blosum,
}

/// Q̄[t] for t in 0..T of one kind, with each row's cumulative sums for a sampler.
pub struct Tables {
    kind: Kind,
    /// T matrices of K × K, row-major: `q_bar[(t * K + from) * K + to]`.
    q_bar: Vec<f64>,
    /// The same layout: each row's running sums divided by the row's total (the last is
    /// exactly 1).
    cdf: Vec<f64>,
    /// Per row (`t * K + from`), for each top byte b of u: if every u in [b/256,
    /// (b+1)/256) gives the same letter (no running sum strictly inside), its mark (0 for
    /// `from` itself, else the new letter's byte); otherwise `AMBIGUOUS` plus the number of
    /// sums at or below b/256 (where the sums inside start).
    buckets: Vec<[u8; 256]>,
    /// Per row, `floor(cdf[j] · 2¹⁶)` of its first K − 1 running sums: what a 16-bit
    /// prefix of u is compared with when its top byte is ambiguous.
    coarse: Vec<[u32; K - 1]>,
}

/// The rows of one step t of a [`Tables`]: [`Tables::draw`] without finding them again for
/// every residue.
pub struct Step<'a> {
    tables: &'a Tables,
    t: usize,
    buckets: &'a [[u8; 256]; K],
}

impl Step<'_> {
    /// [`Tables::draw`] at this step, as a mark: 0 if residue `from` stays, else the
    /// byte of its new letter (what `mask::Marks` records of a replaced residue).
    #[inline(always)]
    pub fn draw_mark(&self, from: usize, draws: &mut crate::rng::Draws) -> u8 {
        let top = draws.next_u8();
        match self.buckets[from][usize::from(top)] {
            mark if mark < AMBIGUOUS => mark,
            first => {
                let row = self.t * K + from;
                match self.tables.draw_refined(row, top, first, draws) {
                    to if to == from => 0,
                    to => ALPHABET[to],
                }
            }
        }
    }

    /// [`Tables::draw`] at this step.
    #[inline]
    pub fn draw(&self, from: usize, draws: &mut crate::rng::Draws) -> usize {
        match self.draw_mark(from, draws) {
            0 => from,
            letter => index_of(letter).expect("a mark is a letter of the alphabet"),
        }
    }
}

/// A bucket that holds a running sum: more bits of u decide (the flag, on the index of the
/// first sum inside).
const AMBIGUOUS: u8 = 0x80;

impl Tables {
    /// Which noise these are.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Q̄[t] (t in 0..T), K × K row-major.
    pub fn q_bar(&self, t: usize) -> &[f64] {
        &self.q_bar[t * K * K..(t + 1) * K * K]
    }

    /// Row `from` of Q̄[t]: the probabilities (as the reference computes them, before
    /// normalisation) that residue `from` becomes each letter after t + 1 steps.
    pub fn row(&self, t: usize, from: usize) -> &[f64] {
        let at = (t * K + from) * K;
        &self.q_bar[at..at + K]
    }

    /// The running sums of [`Tables::row`] divided by the row's total, non-decreasing and
    /// ending at exactly 1: the new letter is the first j with u < `cdf(t, from)[j]`.
    pub fn cdf(&self, t: usize, from: usize) -> &[f64] {
        let at = (t * K + from) * K;
        &self.cdf[at..at + K]
    }

    /// The new letter (its index in [`ALPHABET`]) of residue `from` after `t` + 1 steps,
    /// drawn by inverting the row's cumulative sums with a uniform u in [0, 1): the first
    /// j with u < `cdf(t, from)[j]`, i.e. the number of running sums at or below u.
    ///
    /// u is a 53-bit uniform whose bits are drawn lazily, most significant first, only as
    /// far as they are needed to decide the letter: its top 8 bits (one byte), which
    /// decide it unless a running sum falls strictly inside their 1/256-wide bucket; then
    /// 8 more (one byte), which decide it unless the 16-bit bucket holds a running sum's
    /// floor; then the last 37 (the top 37 bits of a 64-bit draw), compared in full. The
    /// letter is exactly the one a full 53-bit u gives, for about one byte of the stream
    /// per residue instead of eight.
    #[inline]
    pub fn draw(&self, t: usize, from: usize, draws: &mut crate::rng::Draws) -> usize {
        self.at(t).draw(from, draws)
    }

    /// The rows of step `t`, for drawing many residues at one t.
    #[inline]
    pub fn at(&self, t: usize) -> Step<'_> {
        let buckets = self.buckets[t * K..(t + 1) * K]
            .try_into()
            .expect("K rows a step");
        Step {
            tables: self,
            t,
            buckets,
        }
    }

    /// `draw` past an ambiguous top byte (`first`: `AMBIGUOUS` plus the index of the first
    /// running sum inside its bucket): the next byte, compared with the sums inside only,
    /// then if needed the last 37 bits.
    #[inline(never)]
    fn draw_refined(&self, row: usize, top: u8, first: u8, draws: &mut crate::rng::Draws) -> usize {
        let v = u32::from(top) << 8 | u32::from(draws.next_u8());
        let first = usize::from(first - AMBIGUOUS);
        let inside = self.coarse[row][first..]
            .iter()
            .take_while(|&&c| c >> 8 == u32::from(top));
        let mut letter = first;
        for &c in inside {
            if c == v {
                let low = draws.next_u64() >> 27;
                let u = ((u64::from(v) << 37) | low) as f64 * (1.0 / (1u64 << 53) as f64);
                let cdf = &self.cdf[row * K..row * K + K - 1];
                return cdf.iter().filter(|&&c| c <= u).count();
            }
            // v > floor(c·2¹⁶) means u > c; v < floor(c·2¹⁶) means u < c.
            letter += usize::from(c < v);
        }
        letter
    }

    /// 1 − Q̄[t][from][from]: the chance that residue `from` changes after t + 1 steps, as
    /// the reference's table gives it.
    #[inline]
    pub fn change(&self, t: usize, from: usize) -> f64 {
        1.0 - self.q_bar[(t * K + from) * K + from]
    }

    /// Every Q̄[t] then every cumulative row, as little-endian f64: the bytes the tests
    /// digest and the Python check reads.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.q_bar
            .iter()
            .chain(&self.cdf)
            .flat_map(|x| x.to_le_bytes())
            .collect()
    }

    fn from_steps(kind: Kind, steps: &[[[f64; K]; K]]) -> Self {
        let mut q_bar = Vec::with_capacity(T * K * K);
        let mut acc = steps[0];
        for (k, step) in steps.iter().enumerate() {
            if k > 0 {
                acc = matmul(&acc, step);
            }
            q_bar.extend(acc.iter().flatten());
        }
        let mut cdf = Vec::with_capacity(q_bar.len());
        for row in q_bar.chunks_exact(K) {
            let mut sums = [0.0; K];
            let mut s = 0.0;
            for (sum, &p) in sums.iter_mut().zip(row) {
                s += p;
                *sum = s;
            }
            cdf.extend(sums.iter().map(|&x| x / s));
        }
        let coarse = cdf
            .chunks_exact(K)
            .map(|row| {
                let mut lanes = [0u32; K - 1];
                for (lane, &c) in lanes.iter_mut().zip(&row[..K - 1]) {
                    let c: f64 = c;
                    // Exact: scaling by a power of two, then the floor of a value in [0, 1]
                    // (truncation: it is not negative).
                    *lane = (c * 65536.0) as u32;
                }
                lanes
            })
            .collect();
        let buckets = cdf
            .chunks_exact(K)
            .enumerate()
            .map(|(row, sums)| buckets(&sums[..K - 1], row % K))
            .collect();
        Tables {
            kind,
            q_bar,
            cdf,
            buckets,
            coarse,
        }
    }
}

/// For the first K − 1 running sums of a row (non-decreasing): each top byte's letter, or
/// `AMBIGUOUS` where a sum lies strictly inside its bucket; a letter as a mark of residue
/// `from` (see `Tables::buckets`). One pass over buckets and sums.
fn buckets(sums: &[f64], from: usize) -> [u8; 256] {
    let mut out = [0; 256];
    let mut at_or_below = 0; // sums <= the bucket's low end
    for (b, slot) in out.iter_mut().enumerate() {
        let (lo, hi) = (b as f64 / 256.0, (b + 1) as f64 / 256.0);
        while at_or_below < sums.len() && sums[at_or_below] <= lo {
            at_or_below += 1;
        }
        let inside = at_or_below < sums.len() && sums[at_or_below] < hi;
        *slot = match (inside, at_or_below) {
            (true, first) => AMBIGUOUS + first as u8,
            (false, letter) if letter == from => 0,
            (false, letter) => ALPHABET[letter],
        };
    }
    out
}

/// The uniform tables, built on first use.
pub fn uniform_tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables::from_steps(Kind::Uniform, &uniform_steps()))
}

/// The BLOSUM tables, built on first use.
pub fn blosum_tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables::from_steps(Kind::Blosum, &blosum_steps()))
}

/// The tables of one kind.
pub fn tables(kind: Kind) -> &'static Tables {
    match kind {
        Kind::Uniform => uniform_tables(),
        Kind::Blosum => blosum_tables(),
    }
}

type Matrix = [[f64; K]; K];

/// A · B with each entry summed left to right.
fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
    let mut c = [[0.0; K]; K];
    for i in 0..K {
        for j in 0..K {
            let mut s = 0.0;
            for m in 0..K {
                s += a[i][m] * b[m][j];
            }
            c[i][j] = s;
        }
    }
    c
}

/// Q_k = diag(1 − colsum(β_k q)) + β_k q, the reference's construction for both kinds
/// (q = 11ᵀ/K for the uniform noise).
fn step(q: &Matrix, beta: f32) -> Matrix {
    let beta = f64::from(beta);
    let mut r = [[0.0; K]; K];
    for i in 0..K {
        for j in 0..K {
            r[i][j] = q[i][j] * beta;
        }
    }
    for j in 0..K {
        let mut col = 0.0;
        for row in &r {
            col += row[j];
        }
        r[j][j] += 1.0 - col;
    }
    r
}

/// torch's CPU `linspace` in float32: the first half counts up from `start`, the second
/// down from `end`, each value one float32 multiply and one add.
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    let step = (end - start) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps)
        .map(|i| {
            if i < half {
                start + step * i as f32
            } else {
                end - step * (steps - 1 - i) as f32
            }
        })
        .collect()
}

/// `_beta_schedule(T, 'sohl-dickstein')`: β_k = 1/(T − k + 1), float32.
fn uniform_betas() -> Vec<f32> {
    linspace_f32(0.0, (T - 1) as f32, T)
        .into_iter()
        .map(|k| 1.0 / (T as f32 - k + 1.0))
        .collect()
}

/// `_beta_schedule(T, 'exp', max=6)` (exp(linspace(0, 6, T)) · (0.999 − 1e-5) + 1e-5),
/// then `betas / betas.max() + 1/T`, all float32 as torch computes it.
fn blosum_betas() -> Vec<f32> {
    let (start, end) = (1e-5_f64, 0.999_f64);
    let scale = (end - start) as f32;
    let raw: Vec<f32> = linspace_f32(0.0, 6.0, T)
        .into_iter()
        .map(|x| (libm::exp(f64::from(x)) as f32) * scale + start as f32)
        .collect();
    let max = raw.iter().copied().fold(f32::MIN, f32::max);
    let offset = (1.0 / T as f64) as f32;
    raw.into_iter().map(|b| b / max + offset).collect()
}

fn uniform_steps() -> Vec<Matrix> {
    let q = [[1.0 / K as f64; K]; K];
    uniform_betas().into_iter().map(|b| step(&q, b)).collect()
}

fn blosum_steps() -> Vec<Matrix> {
    let q = blosum_q();
    blosum_betas().into_iter().map(|b| step(&q, b)).collect()
}

/// The order of the rows and columns of [`BLOSUM62_SPECIAL`] (the file's header).
const BLOSUM_LABELS: &[u8; 27] = b"ARNDCQEGHILKMFPSTWYVBZXJOU-";

/// EvoDiff's `data/blosum62-special-MSA.mat` (microsoft/evodiff, MIT licence): NCBI's
/// BLOSUM62 in half-bit units ("Matrix made by matblas from blosum62.iij", cluster
/// percentage >= 62) with rows and columns for J, O, U and the gap added by EvoDiff.
/// Rows and columns in [`BLOSUM_LABELS`] order.
#[rustfmt::skip]
const BLOSUM62_SPECIAL: [[i8; 27]; 27] = [
    [ 4, -1, -2, -2,  0, -1, -1,  0, -2, -1, -1, -1, -1, -2, -1,  1,  0, -3, -2,  0, -2, -1,  0, -1, -1, -1, -1],
    [-1,  5,  0, -2, -3,  1,  0, -2,  0, -3, -2,  2, -1, -3, -2, -1, -1, -3, -2, -3, -1,  0, -1, -1, -1, -1, -1],
    [-2,  0,  6,  1, -3,  0,  0,  0,  1, -3, -3,  0, -2, -3, -2,  1,  0, -4, -2, -3,  3,  0, -1, -1, -1, -1, -1],
    [-2, -2,  1,  6, -3,  0,  2, -1, -1, -3, -4, -1, -3, -3, -1,  0, -1, -4, -3, -3,  4,  1, -1, -1, -1, -1, -1],
    [ 0, -3, -3, -3,  9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1, -3, -3, -2, -1, -1, -1, -1],
    [-1,  1,  0,  0, -3,  5,  2, -2,  0, -3, -2,  1,  0, -3, -1,  0, -1, -2, -1, -2,  0,  3, -1, -1, -1, -1, -1],
    [-1,  0,  0,  2, -4,  2,  5, -2,  0, -3, -3,  1, -2, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1, -1, -1, -1, -1],
    [ 0, -2,  0, -1, -3, -2, -2,  6, -2, -4, -4, -2, -3, -3, -2,  0, -2, -2, -3, -3, -1, -2, -1, -1, -1, -1, -1],
    [-2,  0,  1, -1, -3,  0,  0, -2,  8, -3, -3, -1, -2, -1, -2, -1, -2, -2,  2, -3,  0,  0, -1, -1, -1, -1, -1],
    [-1, -3, -3, -3, -1, -3, -3, -4, -3,  4,  2, -3,  1,  0, -3, -2, -1, -3, -1,  3, -3, -3, -1, -1, -1, -1, -1],
    [-1, -2, -3, -4, -1, -2, -3, -4, -3,  2,  4, -2,  2,  0, -3, -2, -1, -2, -1,  1, -4, -3, -1, -1, -1, -1, -1],
    [-1,  2,  0, -1, -3,  1,  1, -2, -1, -3, -2,  5, -1, -3, -1,  0, -1, -3, -2, -2,  0,  1, -1, -1, -1, -1, -1],
    [-1, -1, -2, -3, -1,  0, -2, -3, -2,  1,  2, -1,  5,  0, -2, -1, -1, -1, -1,  1, -3, -1, -1, -1, -1, -1, -1],
    [-2, -3, -3, -3, -2, -3, -3, -3, -1,  0,  0, -3,  0,  6, -4, -2, -2,  1,  3, -1, -3, -3, -1, -1, -1, -1, -1],
    [-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4,  7, -1, -1, -4, -3, -2, -2, -1, -2, -1, -1, -1, -1],
    [ 1, -1,  1,  0, -1,  0,  0,  0, -1, -2, -2,  0, -1, -2, -1,  4,  1, -3, -2, -2,  0,  0,  0, -1, -1, -1, -1],
    [ 0, -1,  0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1,  1,  5, -2, -2,  0, -1, -1,  0, -1, -1, -1, -1],
    [-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1,  1, -4, -3, -2, 11,  2, -3, -4, -3, -2, -1, -1, -1, -1],
    [-2, -2, -2, -3, -2, -1, -2, -3,  2, -1, -1, -2, -1,  3, -3, -2, -2,  2,  7, -1, -3, -2, -1, -1, -1, -1, -1],
    [ 0, -3, -3, -3, -1, -2, -2, -3, -3,  3,  1, -2,  1, -1, -2, -2,  0, -3, -1,  4, -3, -2, -1, -1, -1, -1, -1],
    [-2, -1,  3,  4, -3,  0,  1, -1,  0, -3, -4,  0, -3, -3, -2,  0, -1, -4, -3, -3,  4,  1, -1, -1, -1, -1, -1],
    [-1,  0,  0,  1, -3,  3,  4, -2,  0, -3, -3,  1, -1, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1, -1, -1, -1, -1],
    [ 0, -1, -1, -1, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2,  0,  0, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  4, -1, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  4, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  4, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  4],
];

type Matrix27 = [[f64; 27]; 27];

/// Divides each row by its sum (sklearn's `normalize(axis=1, norm='l1')`; every entry is
/// positive).
fn normalise_rows(q: &mut Matrix27) {
    for row in q.iter_mut() {
        let mut s = 0.0;
        for &x in row.iter() {
            s += x;
        }
        for x in row.iter_mut() {
            *x /= s;
        }
    }
}

/// Divides each column by its sum (`normalize(axis=0, norm='l1')`, numpy's `softmax`).
fn normalise_columns(q: &mut Matrix27) {
    for j in 0..27 {
        let mut s = 0.0;
        for row in q.iter() {
            s += row[j];
        }
        for row in q.iter_mut() {
            row[j] /= s;
        }
    }
}

/// `Tokenizer.q_blosum` for sequences: exp of the scores normalised over each column,
/// made doubly stochastic (rows, then columns and rows until the smallest column sum is
/// `isclose` to 1), reordered into [`ALPHABET`] order, the gap dropped.
fn blosum_q() -> Matrix {
    let mut q: Matrix27 = [[0.0; 27]; 27];
    for (row, scores) in q.iter_mut().zip(&BLOSUM62_SPECIAL) {
        for (x, &s) in row.iter_mut().zip(scores) {
            *x = libm::exp(f64::from(s));
        }
    }
    normalise_columns(&mut q);
    normalise_rows(&mut q);
    // numpy's isclose(a, 1): |a - 1| <= atol + rtol * 1.
    let min_column_sum = |q: &Matrix27| {
        (0..27)
            .map(|j| {
                let mut s = 0.0;
                for row in q {
                    s += row[j];
                }
                s
            })
            .fold(f64::INFINITY, f64::min)
    };
    while (min_column_sum(&q) - 1.0).abs() > 1e-8 + 1e-5 {
        normalise_columns(&mut q);
        normalise_rows(&mut q);
    }
    let index = |label: u8| {
        ALPHABET
            .iter()
            .position(|&a| a == label)
            .expect("every BLOSUM label but the gap is in the alphabet")
    };
    let mut out = [[0.0; K]; K];
    for (a, &ra) in BLOSUM_LABELS.iter().enumerate() {
        if ra == b'-' {
            continue;
        }
        for (b, &rb) in BLOSUM_LABELS.iter().enumerate() {
            if rb != b'-' {
                out[index(ra)][index(rb)] = q[a][b];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
