//! Checking that a masked FASTA is a masking of an original, streaming both (and the rates
//! table) in step, so memory does not grow with the files.
//!
//! What "a masking" means: the same records in the same order (each repeated R times, IDs
//! renamed `<id>_r<k>` when R > 1), the same descriptions, and at every position either
//! the original residue, the mask token, or (when the corruption allows it) a standard
//! residue. With the rates table, its rows must match the records and its counts and
//! positions must agree with what the FASTA shows. The first disagreement is the error.
//!
//! A mask token made of residue letters (`X`) cannot be told from an original `X` by
//! looking. With a `positions` column, such a set is checked by the listed positions (each
//! listed position shows the token or a permitted corruption, every other position the
//! original residue); without one, a masked count is checked as a range.

use std::collections::VecDeque;
use std::io::Read;

use super::{Expect, Verified, VerifyError, err};
use crate::engine::Input;
use crate::io::{InputSource, open_input};
use crate::mask::STANDARD_RESIDUES;
use crate::records::stream::OwnedRecord;
use crate::records::{RecordStream, is_residue_token};
use crate::regions::{Regions, Within};
use crate::sink::rates::{RatesTable, rates_header};

/// A FASTA input read record by record through the record layer (`mask`'s rules).
pub(super) struct Records {
    stream: RecordStream<Box<dyn Read + Send>>,
}

impl Records {
    /// `also`: the bytes the file may hold besides residues.
    pub(super) fn open(input: &Input, also: &[u8]) -> Result<Records, VerifyError> {
        let (_, raw) = open_input(&input.source).map_err(|e| {
            let e = e.to_string();
            // Name the file as the user gave it (a piped input was spooled elsewhere).
            err(match e.strip_prefix(&input.source.display_name()) {
                Some(rest) => format!("{}{rest}", input.name),
                None => e,
            })
        })?;
        Ok(Records {
            stream: RecordStream::new(input.name.clone(), raw).allowing(also),
        })
    }

    pub(super) fn name(&self) -> &str {
        self.stream.name()
    }

    /// Records read so far.
    pub(super) fn number(&self) -> u64 {
        self.stream.count()
    }

    /// The next record, or `None` at the end.
    pub(super) fn next(&mut self) -> Result<Option<Rec>, VerifyError> {
        self.stream.next_record().map_err(|e| err(e.to_string()))
    }
}

pub(super) type Rec = OwnedRecord;

/// The header after the ID, as written (what masking copies unchanged).
fn after_id(r: &Rec) -> &[u8] {
    &r.header[r.id.len()..]
}

/// The rates table, row by row.
struct Rows {
    name: String,
    reader: csv::Reader<Box<dyn Read + Send>>,
    positions: bool,
    row: csv::StringRecord,
    number: u64,
}

impl Rows {
    fn open(path: &std::path::Path) -> Result<Rows, VerifyError> {
        let src = InputSource::Path(path.to_path_buf());
        let name = src.display_name();
        let (_, raw) = open_input(&src).map_err(|e| err(e.to_string()))?;
        let delimiter = RatesTable::new(path)
            .map_err(|e| err(e.to_string()))?
            .delimiter;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(raw);
        let header = reader
            .headers()
            .map_err(|e| err(format!("{name}: {e}")))?
            .clone();
        let cols: Vec<&str> = header.iter().collect();
        let positions = if cols == rates_header(true) {
            true
        } else if cols == rates_header(false) {
            false
        } else {
            return Err(err(format!(
                "{name}: columns are '{}', expected '{}' (optionally with ',positions')",
                cols.join(","),
                rates_header(false).join(",")
            )));
        };
        Ok(Rows {
            name,
            reader,
            positions,
            row: csv::StringRecord::new(),
            number: 0,
        })
    }

    fn next(&mut self) -> Result<bool, VerifyError> {
        let more = self
            .reader
            .read_record(&mut self.row)
            .map_err(|e| err(format!("{}: {e}", self.name)))?;
        if more {
            self.number += 1;
        }
        Ok(more)
    }

    fn field(&self, i: usize) -> &str {
        self.row.get(i).unwrap_or("")
    }

    /// The `positions` column of the current row, 0-based; `at` names the row in errors.
    fn listed(&self, at: impl Fn(String) -> VerifyError) -> Result<Vec<usize>, VerifyError> {
        let field = self.field(7);
        if field.is_empty() {
            return Ok(Vec::new());
        }
        let listed: Vec<usize> = field
            .split(';')
            .map(|p| p.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| at(format!("positions '{field}' are not numbers")))?;
        if !listed.windows(2).all(|w| w[0] < w[1]) {
            return Err(at("positions are not ascending".into()));
        }
        Ok(listed)
    }

    fn int(&self, i: usize, what: &str) -> Result<u64, VerifyError> {
        self.field(i).parse().map_err(|_| {
            err(format!(
                "{}: row {}: {what} '{}' is not a whole number",
                self.name,
                self.number,
                self.field(i)
            ))
        })
    }
}

/// Check `masked` (and `rates`) against `original`.
pub fn verify(
    original: &InputSource,
    masked: &InputSource,
    rates: Option<&std::path::Path>,
    expect: &Expect,
) -> Result<Verified, VerifyError> {
    let (original, masked) = (Input::new(original.clone()), Input::new(masked.clone()));
    verify_within(&original, &masked, rates, expect, None)
}

/// `verify` naming each file in messages as `Input::name` says, where `regions`
/// (`--regions`) restricted the eligible positions too: every selected position must be
/// eligible by them, and L counts only those.
pub fn verify_within(
    original: &Input,
    masked: &Input,
    rates: Option<&std::path::Path>,
    expect: &Expect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let mut orig = Records::open(original, b"")?;
    // MASKED may hold any token: every printable character passes the record layer, and
    // `compare` then names a wrong one against the original, position by position.
    let printable: Vec<u8> = (0x21..0x7f).collect();
    let mut mask = Records::open(masked, &printable)?;
    let mut rows = rates.map(Rows::open).transpose()?;
    let mut seen = Verified::default();
    let mut replicates: Option<u32> = expect.replicates;
    let mut pending: VecDeque<Rec> = VecDeque::new();
    // A residue-letter token is read by the table's positions, so its row comes first.
    let by_positions =
        is_residue_token(&expect.token) && rows.as_ref().is_some_and(|rows| rows.positions);

    while let Some(o) = orig.next()? {
        // How many replicates: found at the first record, then required of every one.
        let r = match replicates {
            Some(r) => r,
            None => {
                let r = count_replicates(&o, &mut mask, &mut pending)?;
                replicates = Some(r);
                r
            }
        };
        let within = match regions {
            None => None,
            Some(regions) => regions.within(&o.id, o.seq.len()).map_err(|e| {
                err(format!(
                    "{}: record {} ({}): {e}",
                    orig.name(),
                    o.number,
                    o.id
                ))
            })?,
        };
        let within = within.as_ref();
        for k in 1..=r {
            let m = match pending.pop_front() {
                Some(m) => m,
                None => match mask.next()? {
                    Some(m) => m,
                    None => {
                        return Err(err(format!(
                            "{}: ends after {} records, but {} has more (record {} ({}))",
                            mask.name(),
                            mask.number(),
                            orig.name(),
                            o.number,
                            o.id
                        )));
                    }
                },
            };
            let listed = match rows.as_mut() {
                Some(rows) if by_positions => {
                    next_row(rows, &o, &m, k, mask.name())?;
                    Some(rows.listed(row_error(rows, &o, k))?)
                }
                _ => None,
            };
            let shown = compare(&o, &m, k, r, expect, within, mask.name(), listed.as_deref())?;
            seen.changed += shown.changed.len() as u64;
            seen.uncertain += shown.uncertain as u64;
            if let Some(rows) = rows.as_mut() {
                if !by_positions {
                    next_row(rows, &o, &m, k, mask.name())?;
                }
                check_row(rows, &o, k, &shown, expect, within)?;
                seen.rows += 1;
            }
        }
        seen.records += 1;
    }
    let extra = match pending.pop_front() {
        Some(m) => Some((m.number, m.id)),
        None => mask.next()?.map(|r| (r.number, r.id)),
    };
    if let Some((number, id)) = extra {
        return Err(err(format!(
            "{}: record {number} ({id}) has no counterpart: {} ends after {} records",
            mask.name(),
            orig.name(),
            orig.number()
        )));
    }
    if let Some(rows) = rows.as_mut()
        && rows.next()?
    {
        return Err(err(format!(
            "{}: row {} has no record: the FASTA ends before it",
            rows.name, rows.number
        )));
    }
    seen.replicates = replicates.unwrap_or(1);
    Ok(seen)
}

/// Replicates of the first record: 1 if the masked ID is the original's, else the length
/// of the run `<id>_r1`, `<id>_r2`, ... Every record read stays queued in `pending`.
fn count_replicates(
    o: &Rec,
    mask: &mut Records,
    pending: &mut VecDeque<Rec>,
) -> Result<u32, VerifyError> {
    let Some(first) = mask.next()? else {
        return Err(err(format!(
            "{}: has no records, but the original has record 1 ({})",
            mask.name(),
            o.id
        )));
    };
    pending.push_back(first);
    if pending[0].id != format!("{}_r1", o.id) || pending[0].id == o.id {
        // One copy (or a mismatch, which `compare` reports).
        return Ok(1);
    }
    while let Some(m) = mask.next()? {
        let n = pending.len();
        if m.id == format!("{}_r{}", o.id, n + 1) {
            pending.push_back(m);
            continue;
        }
        // The run stops; a later replicate of the same record means one is missing.
        let later =
            m.id.strip_prefix(&format!("{}_r", o.id))
                .and_then(|k| k.parse::<u32>().ok())
                .is_some_and(|k| k as usize > n + 1);
        if later {
            return Err(err(format!(
                "{}: record {} ({}): replicate {}_r{} is missing (the run {}_r1..{}_r{n} \
                 comes before it)",
                mask.name(),
                m.number,
                m.id,
                o.id,
                n + 1,
                o.id,
                o.id
            )));
        }
        pending.push_back(m);
        return Ok(n as u32);
    }
    Ok(pending.len() as u32)
}

/// What one masked record shows.
pub(super) struct Shown {
    /// 0-based positions that show as selected (token or replacement), ascending.
    pub(super) changed: Vec<usize>,
    /// Of those, how many show a token that the original also has there (a residue-letter
    /// token read without listed positions): selected or not, the bytes are the same.
    uncertain: usize,
}

/// Compare one masked record with its original. With `listed` (the table's positions),
/// only a listed position may show the token or a replacement, and every other one must
/// show the original residue; without it, the token is recognised wherever it appears.
#[allow(clippy::too_many_arguments)] // the record, its copy, and what each is checked by
pub(super) fn compare(
    o: &Rec,
    m: &Rec,
    k: u32,
    r: u32,
    expect: &Expect,
    within: Option<&Within>,
    masked_name: &str,
    listed: Option<&[usize]>,
) -> Result<Shown, VerifyError> {
    let at = |msg: String| {
        err(format!(
            "{masked_name}: record {} ({}): {msg}",
            m.number, m.id
        ))
    };
    let want_id = if r > 1 {
        format!("{}_r{k}", o.id)
    } else {
        o.id.clone()
    };
    if m.id != want_id {
        return Err(at(format!(
            "expected ID '{want_id}' (original record {}), found '{}': records removed, added or reordered?",
            o.number, m.id
        )));
    }
    if after_id(m) != after_id(o) {
        return Err(at(format!(
            "header differs from the original's: '{}' vs '{}'",
            String::from_utf8_lossy(after_id(m)).trim(),
            String::from_utf8_lossy(after_id(o)).trim()
        )));
    }
    let token = &expect.token[..];
    let may_replace = expect.corruption.random() > 0.0;
    let mut shown = Shown {
        changed: Vec::new(),
        uncertain: 0,
    };
    let mut cur = 0usize;
    let mut next_listed = listed.map(|l| l.iter().peekable());
    for (p, &c) in o.seq.iter().enumerate() {
        let maskable = expect.maskable.as_ref().is_none_or(|mk| mk.contains(&c));
        let in_regions = within.is_none_or(|w| w.allows(p as u64));
        let eligible = maskable && in_regions;
        let rest = &m.seq[cur.min(m.seq.len())..];
        if rest.is_empty() {
            return Err(at(format!(
                "sequence ends at position {p}, the original has {} residues",
                o.seq.len()
            )));
        }
        let selectable = match next_listed.as_mut() {
            Some(l) => l.next_if_eq(&&p).is_some() && eligible,
            None => eligible,
        };
        if rest.starts_with(token) && selectable {
            if listed.is_none() && o.seq[p..].starts_with(token) {
                shown.uncertain += 1;
            }
            shown.changed.push(p);
            cur += token.len();
            continue;
        }
        let f = rest[0];
        if f == c {
            cur += 1;
        } else if may_replace && selectable && eligible && STANDARD_RESIDUES.contains(&f) {
            shown.changed.push(p);
            cur += 1;
        } else {
            return Err(at(format!(
                "position {p}: found '{}' where the original has '{}'{}",
                f.escape_ascii(),
                c.escape_ascii(),
                if !maskable {
                    " (not maskable)".to_string()
                } else if !in_regions {
                    " (not eligible by the regions file)".to_string()
                } else if !selectable {
                    " (the position is not listed in the rates table)".to_string()
                } else {
                    format!(
                        " (neither it nor the mask token '{}'; wrong --mask-token?)",
                        String::from_utf8_lossy(token)
                    )
                }
            )));
        }
    }
    if cur != m.seq.len() {
        return Err(at(format!(
            "{} characters more than the original's {} residues",
            m.seq.len() - cur,
            o.seq.len()
        )));
    }
    Ok(shown)
}

/// Errors about the current row of record `o`, replicate `k`.
fn row_error(rows: &Rows, o: &Rec, k: u32) -> impl Fn(String) -> VerifyError {
    let (name, n, id) = (rows.name.clone(), rows.number, o.id.clone());
    move |msg| err(format!("{name}: row {n} ({id}, replicate {k}): {msg}"))
}

/// Move to the row of masked record `m` (replicate `k` of `o`): it must be there and be
/// that record's.
fn next_row(
    rows: &mut Rows,
    o: &Rec,
    m: &Rec,
    k: u32,
    masked_name: &str,
) -> Result<(), VerifyError> {
    if !rows.next()? {
        return Err(err(format!(
            "{}: ends after {} rows, but {masked_name} has record {} ({})",
            rows.name, rows.number, m.number, m.id
        )));
    }
    let at = row_error(rows, o, k);
    if rows.field(1) != o.id || rows.field(2) != k.to_string() {
        return Err(at(format!(
            "is for '{}' replicate {}, expected '{}' replicate {k}",
            rows.field(1),
            rows.field(2),
            o.id
        )));
    }
    Ok(())
}

/// The current row's values against what the masked record shows.
fn check_row(
    rows: &mut Rows,
    o: &Rec,
    k: u32,
    shown: &Shown,
    expect: &Expect,
    within: Option<&Within>,
) -> Result<(), VerifyError> {
    let at = row_error(rows, o, k);
    let length = rows.int(3, "length")?;
    let eligible = match (&expect.maskable, within) {
        (None, None) => o.seq.len(),
        (Some(mk), None) => o.seq.iter().filter(|c| mk.contains(c)).count(),
        (mk, Some(w)) => (o.seq.iter().enumerate())
            .filter(|&(p, c)| mk.as_ref().is_none_or(|mk| mk.contains(c)) && w.allows(p as u64))
            .count(),
    } as u64;
    if length != eligible {
        return Err(at(format!(
            "length {length}, but the record has {eligible} eligible positions"
        )));
    }
    for (i, what) in [(4, "t"), (5, "rate")] {
        let v: f64 = rows
            .field(i)
            .parse()
            .map_err(|_| at(format!("{what} '{}' is not a number", rows.field(i))))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(at(format!("{what} {v} is outside [0,1]")));
        }
    }
    let masked = rows.int(6, "masked")?;
    let changed = &shown.changed;
    let visible = changed.len() as u64;
    // Positions that certainly show as selected; the uncertain ones may or may not be.
    let certain = visible - shown.uncertain as u64;
    let hidden_allowed = expect.corruption.keep() > 0.0;
    if certain > masked || (!hidden_allowed && visible < masked) {
        let shows = match shown.uncertain {
            0 => format!("{visible}"),
            _ => format!(
                "{certain} to {visible} (the mask token '{}' is also a residue of the \
                 original)",
                String::from_utf8_lossy(&expect.token)
            ),
        };
        return Err(at(format!(
            "masked {masked}, but the FASTA shows {shows} selected positions"
        )));
    }
    if rows.positions {
        let listed = rows.listed(&at)?;
        if listed.len() as u64 != masked {
            return Err(at(format!(
                "masked {masked}, but {} positions are listed",
                listed.len()
            )));
        }
        if let Some(p) = changed.iter().find(|p| listed.binary_search(p).is_err()) {
            return Err(at(format!(
                "position {p} is masked in the FASTA but not listed"
            )));
        }
        if !hidden_allowed && listed.len() != changed.len() {
            let p = listed.iter().find(|p| changed.binary_search(p).is_err());
            return Err(at(format!(
                "position {} is listed but not masked in the FASTA",
                p.copied().unwrap_or(0)
            )));
        }
    }
    Ok(())
}
