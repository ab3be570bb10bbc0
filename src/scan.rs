//! `protmask scan`: the evaluation sets whose masks are fixed, not drawn. A scan emits, for
//! every record, one *row* per eligible position with exactly that position masked
//! (pseudo-perplexity: ESM-2, DPLM), or, from a deep mutational scan (`variants`), one row
//! per mutated position of the reference (masked marginals: ESM-1v, ProteinGym) or per set
//! of positions a mutant changes (`--variants-mode joint`).
//!
//! A row is one more kind of masked record: the engine hands it to the same outputs as
//! `mask` (FASTA with the ID `<id>_p<i>`, rates table, dataset, tokens), with the marks
//! of its positions and, with `--max-length N`, the window of the record it holds. So no
//! second writer exists, and `verify` and `regenerate` read a scan as they read a mask.
//! Nothing is drawn: a row is a function of the record, the eligible positions and the
//! variants alone (the seed is not an option of `scan`; docs/evaluation-kits.md).
//!
//! This module holds what decides the rows: which positions are eligible, the window rule
//! (`optimal_window`, ProteinGym's `get_optimal_window`), the rows of a record in order,
//! each row's marks and table fields (`Row::mark`), and how a block of records is cut into
//! *parts* of bounded output (`parts`): a record of L residues makes L rows of up to L
//! residues, so a block of input is written as several parts, each its own unit of work
//! and of the writer's order, and memory stays bounded whatever the records' lengths.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use anyhow::bail;

use crate::config::MaskConfig;
use crate::engine::Input;
use crate::mask::{Marks, Outcome, mark};
use crate::regions::Within;
use crate::sink::Vocab;
use crate::variants::{Plan, VariantsOption, read_reference};

/// What makes a run a scan, as a manifest's `options.scan` records it (absent for `mask`).
/// The window is `options.max_length` and the positions file `options.regions` (mode
/// `only`), so the outputs' columns and the regions machinery are `mask`'s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanConfig {
    /// Always false: a scan draws nothing (the recorded `seed` is the default, unused).
    /// Recorded so that a reader of the manifest sees it.
    pub random: bool,
    /// `--variants`: the rows come from a deep mutational scan of one reference record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<VariantsOption>,
}

/// The window of `n` residues a row masking position `pos` of a sequence of `len`
/// residues sees: ProteinGym's `get_optimal_window(pos, len, n)`, in residue coordinates
/// (`proteingym/utils/scoring_utils.py`). With `half = n / 2`: the whole sequence when
/// `len <= n`; `[0, n)` when `pos < half`; `[len - n, len)` when `pos >= len - half`; else
/// `[pos - half, pos + half)`, which is `n - 1` residues long when `n` is odd (the rule's
/// own arithmetic, kept). `n >= 2` (with `n = 1` the last case is empty).
pub fn optimal_window(pos: usize, len: usize, n: usize) -> Range<usize> {
    let half = n / 2;
    if len <= n {
        0..len
    } else if pos < half {
        0..n
    } else if pos >= len - half {
        len - n..len
    } else {
        pos.saturating_sub(half)..(pos + half).min(len)
    }
}

/// The window of a row masking `positions` (ascending, at least one): the rule at their
/// midpoint `(first + last) / 2`; `None` when they do not all fit in it (a joint row whose
/// positions lie more than about `n` apart).
pub fn row_window(positions: &[u32], len: usize, n: usize) -> Option<Range<usize>> {
    let (first, last) = (*positions.first()? as usize, *positions.last()? as usize);
    let w = optimal_window((first + last) / 2, len, n);
    (w.start <= first && last < w.end).then_some(w)
}

/// The smallest `--max-length` a scan takes: ProteinGym's rule leaves no room for the
/// position in a window of 1.
pub const MIN_WINDOW: u32 = 2;

/// A scan, resolved for a run: the window and, with `--variants`, the rows of the
/// reference record.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// `--max-length N`: each row holds its window of the record (`optimal_window`).
    pub window: Option<usize>,
    /// `--variants`: the reference record's rows; no other record has any.
    pub plan: Option<Arc<Plan>>,
}

/// One row of a record: the positions it masks (0-based, in the record, ascending) and
/// the part of the record it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub positions: Vec<u32>,
    pub window: Range<usize>,
    /// Eligible positions inside the window (the table's `length`).
    pub length: usize,
}

impl Row {
    /// The row's marks (one `TOKEN` per position, in the window's coordinates, with the
    /// drawn list the FASTA writer patches from) and its table fields: `masked` = k, the
    /// positions; `length` = L; `rate` = k / L and `t` = 1 - k / L, the fraction masked
    /// as `mask` reports it (nothing is drawn).
    pub fn mark(&self, marks: &mut Marks) -> Outcome {
        let len = self.window.len();
        marks.by_position.clear();
        marks.by_position.resize(len, mark::NONE);
        marks.drawn.clear();
        for &p in &self.positions {
            let at = p as usize - self.window.start;
            marks.by_position[at] = mark::TOKEN;
            marks.drawn.push(at as u32);
        }
        marks.drawn_selected = true;
        marks.drawn_complete = true;
        let k = self.positions.len();
        let rate = if self.length == 0 {
            0.0
        } else {
            k as f64 / self.length as f64
        };
        Outcome {
            t: 1.0 - rate,
            rate,
            length: self.length,
            masked: k,
            drawn: k,
        }
    }

    /// The suffix of the row's FASTA ID: `_p<i>` (0-based), `_p<i>_<j>...` for a joint row.
    pub fn suffix(&self, out: &mut Vec<u8>) {
        out.clear();
        for (n, p) in self.positions.iter().enumerate() {
            out.extend_from_slice(if n == 0 { b"_p" } else { b"_" });
            out.extend_from_slice(p.to_string().as_bytes());
        }
    }
}

impl Scan {
    /// The scan a job's options describe (`None` for `mask`). With `--variants` the
    /// variants file is read and checked against the reference (the job's one input)
    /// here, before any output exists, so a bad file leaves nothing behind.
    pub fn of_job(config: &MaskConfig, inputs: &[Input]) -> anyhow::Result<Option<Scan>> {
        let Some(sc) = &config.scan else {
            return Ok(None);
        };
        let window = config.max_length.map(|n| n as usize);
        let plan = match &sc.variants {
            None => None,
            Some(v) => {
                let [input] = inputs else {
                    bail!(
                        "a variants scan reads one reference, not {} inputs",
                        inputs.len()
                    );
                };
                let (id, seq) =
                    read_reference(&input.source, &input.name, v.reference_id.as_deref())?;
                let at = v.found_at.as_deref().unwrap_or(&v.path);
                let vocab = config.tokens.unwrap_or(Vocab::Esm);
                let plan = Plan::read(std::path::Path::new(at), &v.path, &id, &seq, v.mode, vocab)?;
                if let Some(n) = window {
                    plan.check_windows(n, &v.path)?;
                }
                Some(Arc::new(plan))
            }
        };
        Ok(Some(Scan { window, plan }))
    }

    /// The window of a row masking `positions` in a record of `len` residues (the whole
    /// record without `--max-length`); `None` for a joint row that no window holds.
    pub fn window_of(&self, positions: &[u32], len: usize) -> Option<Range<usize>> {
        match self.window {
            None => Some(0..len),
            Some(n) => row_window(positions, len, n),
        }
    }

    /// The rows of one record whose first position lies in `keys`, in order, each handed
    /// to `each`: every eligible position (`maskable` and `within` allowing it) in
    /// ascending order, or with `--variants` the plan's rows for the reference record
    /// (none for any other record). `Err` names a row no window holds.
    pub fn rows(
        &self,
        id: &str,
        seq: &[u8],
        maskable: Option<&[bool; 256]>,
        within: Option<&Within>,
        keys: Range<usize>,
        mut each: impl FnMut(&Row),
    ) -> Result<(), String> {
        let len = seq.len();
        if let Some(plan) = &self.plan {
            if id != plan.reference_id {
                return Ok(());
            }
            for positions in &plan.rows {
                let first = positions[0] as usize;
                if !keys.contains(&first) {
                    continue;
                }
                if positions.iter().any(|&p| p as usize >= len) {
                    return Err(format!(
                        "the reference record has {len} residues, fewer than the variants \
                         need (it changed since the variants were checked?)"
                    ));
                }
                let window = self.window_of(positions, len).ok_or_else(|| {
                    format!("no window of --max-length holds positions {positions:?} together")
                })?;
                let length = window.len();
                each(&Row {
                    positions: positions.clone(),
                    window,
                    length,
                });
            }
            return Ok(());
        }
        let eligible = eligible(seq, maskable, within);
        let mut row = Row {
            positions: vec![0],
            window: 0..0,
            length: 0,
        };
        let from = eligible.partition_point(|&p| (p as usize) < keys.start);
        for &p in &eligible[from..] {
            if p as usize >= keys.end {
                break;
            }
            row.positions[0] = p;
            row.window = self.window_of(&row.positions, len).unwrap_or(0..len);
            row.length = match self.window {
                None => eligible.len(),
                Some(_) => {
                    let lo = eligible.partition_point(|&q| (q as usize) < row.window.start);
                    let hi = eligible.partition_point(|&q| (q as usize) < row.window.end);
                    hi - lo
                }
            };
            each(&row);
        }
        Ok(())
    }
}

/// The eligible positions of a record, ascending: those `maskable` allows (every residue
/// without it) and its regions allow (`--positions`; every position without them).
pub fn eligible(seq: &[u8], maskable: Option<&[bool; 256]>, within: Option<&Within>) -> Vec<u32> {
    match within {
        Some(w) => crate::mask::eligible_within(seq, maskable, w),
        None => (0..seq.len() as u32)
            .filter(|&p| maskable.is_none_or(|t| t[usize::from(seq[p as usize])]))
            .collect(),
    }
}

/// A place in a block's rows: record `record` (0-based, in the block), rows whose first
/// position is `pos` or later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub record: usize,
    pub pos: usize,
}

/// The rows of a block from `start` up to `end` (exclusive): one unit of work and of the
/// writer's order. The part whose range holds `(r, 0)` owns record r (counts it, checks
/// its ID); a part may hold rows of several records or some of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub start: Cursor,
    pub end: Cursor,
}

impl Part {
    /// The records the part has rows of, or owns: `start.record..` up to `end.record`, and
    /// that one too when the part holds some of its rows.
    pub fn records(&self, count: usize) -> Range<usize> {
        let end = self.end.record + usize::from(self.end.pos > 0);
        self.start.record.min(count)..end.min(count)
    }

    /// Whether the part owns record `r`.
    pub fn owns(&self, r: usize) -> bool {
        let at = Cursor { record: r, pos: 0 };
        self.start <= at && at < self.end
    }

    /// The first positions of record `r`'s rows that the part holds.
    pub fn keys(&self, r: usize) -> Range<usize> {
        let lo = if r == self.start.record {
            self.start.pos
        } else {
            0
        };
        let hi = if r == self.end.record {
            self.end.pos
        } else {
            usize::MAX
        };
        lo..hi
    }
}

/// Output bytes a part aims at (estimated before its records are parsed).
pub const PART_BYTES: usize = 4 << 20;

/// What one row costs in output, as estimated from its length: `per_row` bytes and
/// `per_residue` bytes for each residue of its window.
#[derive(Clone, Copy, Debug)]
pub struct RowCost {
    pub per_row: usize,
    pub per_residue: usize,
    /// `--max-length`.
    pub window: Option<usize>,
}

impl RowCost {
    /// A row's cost in the outputs `formats` of a run with `config`: the FASTA's residues
    /// and line ends, a dataset's two strings a residue (and two ids with `--tokens`);
    /// a header, a table row and a dataset row's fixed fields a row.
    pub fn of(formats: &[crate::sink::Format], config: &MaskConfig) -> RowCost {
        use crate::sink::Format;
        let tokens = if config.tokens.is_some() { 8 } else { 0 };
        let per_residue = (formats.iter())
            .map(|f| match f {
                Format::Fasta => 1,
                Format::Parquet | Format::Jsonl => 2 + tokens,
                _ => 0,
            })
            .sum::<usize>()
            .max(1);
        RowCost {
            per_row: 64 * formats.len().max(1),
            per_residue,
            window: config.max_length.map(|n| n as usize),
        }
    }
}

/// Cut a block's rows into parts of about `budget` bytes of output each, estimating each
/// record's rows from its bytes alone (`headers`: the offsets of its header lines in
/// `data`): a record of S sequence bytes (line ends included, so at least its residues)
/// is taken to make S rows of `min(S, window)` residues. Parts cut at row boundaries; a
/// row larger than the budget is a part alone. Always at least one part, the last ending
/// after the last record.
pub fn parts(data: &[u8], headers: &[usize], cost: RowCost, budget: usize) -> Vec<Part> {
    let mut out = Vec::new();
    let mut start = Cursor { record: 0, pos: 0 };
    let mut acc = 0usize;
    for (r, &h) in headers.iter().enumerate() {
        let end = headers.get(r + 1).copied().unwrap_or(data.len());
        let line = memchr::memchr(b'\n', &data[h..end]).map_or(end - h, |i| i + 1);
        let rows = end - h - line;
        let per = cost.per_row + cost.per_residue * cost.window.map_or(rows, |n| rows.min(n));
        let mut pos = 0;
        while pos < rows {
            let room = budget.saturating_sub(acc) / per.max(1);
            if room == 0 && acc > 0 {
                let here = Cursor { record: r, pos };
                out.push(Part { start, end: here });
                start = here;
                acc = 0;
                continue;
            }
            let take = room.max(1).min(rows - pos);
            pos += take;
            acc += take * per;
        }
        acc += line;
    }
    out.push(Part {
        start,
        end: Cursor {
            record: headers.len(),
            pos: 0,
        },
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ProteinGym's `get_optimal_window`, transcribed apart from `optimal_window`'s code
    /// (signed arithmetic, as Python computes it).
    fn proteingym(pos: i64, len: i64, window: i64) -> (i64, i64) {
        let half = window / 2;
        if len <= window {
            (0, len)
        } else if pos < half {
            (0, window)
        } else if pos >= len - half {
            (len - window, len)
        } else {
            ((pos - half).max(0), (pos + half).min(len))
        }
    }

    #[test]
    fn windows_are_proteingyms_around_n_and_at_both_ends() {
        let mut checked = 0;
        for n in [2usize, 3, 4, 7, 10, 1022, 1023] {
            for len in [1, n - 1, n, n + 1, n + 2, 3 * n, 3 * n + 1] {
                let mut positions: Vec<usize> = (0..len.min(12)).collect();
                positions.extend(len.saturating_sub(12)..len);
                positions.extend([len / 2, n / 2, len.saturating_sub(n / 2)]);
                for pos in positions.into_iter().filter(|&p| p < len) {
                    let w = optimal_window(pos, len, n);
                    let (a, b) = proteingym(pos as i64, len as i64, n as i64);
                    assert_eq!((w.start as i64, w.end as i64), (a, b), "{pos} {len} {n}");
                    assert!(w.contains(&pos), "{pos} outside {w:?} ({len}, {n})");
                    assert!(w.len() == len.min(n) || (n % 2 == 1 && w.len() == n - 1));
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn a_joint_row_is_windowed_at_its_midpoint_or_refused() {
        assert_eq!(row_window(&[3, 9], 100, 10), Some(1..11));
        assert_eq!(row_window(&[3, 13], 100, 10), None);
        assert_eq!(row_window(&[95, 99], 100, 10), Some(90..100));
        assert_eq!(row_window(&[0, 99], 100, 100), Some(0..100));
    }

    #[test]
    fn rows_mark_exactly_their_positions() {
        let scan = Scan {
            window: Some(4),
            plan: None,
        };
        let seq = b"ACDEFGHIK";
        let mut rows = Vec::new();
        scan.rows("x", seq, None, None, 0..usize::MAX, |r| {
            rows.push(r.clone())
        })
        .unwrap();
        assert_eq!(rows.len(), 9);
        let mut marks = Marks::default();
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.positions, [i as u32]);
            let o = row.mark(&mut marks);
            assert_eq!((o.masked, o.length), (1, row.window.len()));
            let marked: Vec<usize> = marks.selected().collect();
            assert_eq!(marked, [i - row.window.start]);
        }
        let mut name = Vec::new();
        rows[7].suffix(&mut name);
        assert_eq!(name, b"_p7");
    }

    #[test]
    fn parts_cover_every_row_once_in_order() {
        let data = b">a\nACDEFGHIK\nLMN\n>b\n\n>c desc\nAAAAAAAAAAAAAAAAAAAA\n".to_vec();
        let headers = crate::records::header_starts(&data);
        for budget in [1, 5, 30, 64, 1 << 20] {
            let cost = RowCost {
                per_row: 3,
                per_residue: 1,
                window: Some(6),
            };
            let parts = parts(&data, &headers, cost, budget);
            assert_eq!(parts[0].start, Cursor { record: 0, pos: 0 });
            assert_eq!(parts.last().unwrap().end.record, 3);
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert!(w[0].start < w[0].end);
            }
            // Each record owned once, each (record, position) in one part.
            for r in 0..3 {
                assert_eq!(parts.iter().filter(|p| p.owns(r)).count(), 1, "{budget}");
                for pos in 0..30 {
                    let n = parts
                        .iter()
                        .filter(|p| p.records(3).contains(&r) && p.keys(r).contains(&pos))
                        .count();
                    assert_eq!(n, 1, "record {r} position {pos} budget {budget}");
                }
            }
        }
        let empty = parts(
            b"",
            &[],
            RowCost {
                per_row: 1,
                per_residue: 1,
                window: None,
            },
            10,
        );
        assert_eq!(empty.len(), 1);
    }
}
