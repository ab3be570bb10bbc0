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

use crate::engine::Input;
use crate::io::{InputSource, open_input};
use crate::mask::{Corruption, STANDARD_RESIDUES};
use crate::records::stream::OwnedRecord;
use crate::records::{RecordStream, is_residue_token};
use crate::regions::{Regions, Within};
use crate::sink::{DatasetRow, Format, Role, rates_header};

/// What the masking was allowed to do.
#[derive(Clone, Debug)]
pub struct Expect {
    pub token: Vec<u8>,
    pub corruption: Corruption,
    /// Eligible residues, if restricted (`--maskable`).
    pub maskable: Option<Vec<u8>>,
    /// Replicates per record, when known (a manifest records them); else found from the
    /// first record's run of `<id>_r1`, `<id>_r2`, ...
    pub replicates: Option<u32>,
}

/// What a successful check saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verified {
    pub records: u64,
    pub replicates: u32,
    /// Positions that show as masked or replaced.
    pub changed: u64,
    /// Of `changed`, those that show a residue-letter token where the original has the
    /// same residue, with no listed positions to tell whether they were selected.
    pub uncertain: u64,
    pub rows: u64,
}

/// A disagreement, or a file that cannot be read: one line, naming file and record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(pub String);

fn err(msg: impl Into<String>) -> VerifyError {
    VerifyError(msg.into())
}

/// A FASTA input read record by record through the record layer (`mask`'s rules).
struct Records {
    stream: RecordStream<Box<dyn Read + Send>>,
}

impl Records {
    /// `also`: the bytes the file may hold besides residues.
    fn open(input: &Input, also: &[u8]) -> Result<Records, VerifyError> {
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

    fn name(&self) -> &str {
        self.stream.name()
    }

    /// Records read so far.
    fn number(&self) -> u64 {
        self.stream.count()
    }

    /// The next record, or `None` at the end.
    fn next(&mut self) -> Result<Option<Rec>, VerifyError> {
        self.stream.next_record().map_err(|e| err(e.to_string()))
    }
}

type Rec = OwnedRecord;

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
        let (format, _) = Format::for_file(Role::Rates, path).map_err(|e| err(e.to_string()))?;
        let delimiter = format.delimiter().unwrap_or(b',');
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
    verify_named(&original, &masked, rates, expect)
}

/// `verify`, naming each file in messages as `Input::name` says.
pub fn verify_named(
    original: &Input,
    masked: &Input,
    rates: Option<&std::path::Path>,
    expect: &Expect,
) -> Result<Verified, VerifyError> {
    verify_within(original, masked, rates, expect, None)
}

/// `verify_named` where `regions` (`--regions`) restricted the eligible positions too:
/// every selected position must be eligible by them, and L counts only those.
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
struct Shown {
    /// 0-based positions that show as selected (token or replacement), ascending.
    changed: Vec<usize>,
    /// Of those, how many show a token that the original also has there (a residue-letter
    /// token read without listed positions): selected or not, the bytes are the same.
    uncertain: usize,
}

/// Compare one masked record with its original. With `listed` (the table's positions),
/// only a listed position may show the token or a replacement, and every other one must
/// show the original residue; without it, the token is recognised wherever it appears.
#[allow(clippy::too_many_arguments)] // the record, its copy, and what each is checked by
fn compare(
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

/// Check a dataset given as MASKED against `original`: the rows follow the records (each
/// repeated with replicates 1..R), `sequence` and `description` are the original's,
/// `masked_sequence` is a masking of it whose changed positions agree with `positions`
/// and `masked`, `length` counts the eligible positions, and `input_ids`/`labels`, where
/// present, are exactly the ESM ids of the masked and original residues.
pub fn verify_dataset(
    original: &Input,
    dataset: (&std::path::Path, Format),
    shown: &str,
    expect: &Expect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let mut orig = Records::open(original, b"")?;
    let rows = crate::sink::read_rows(dataset.0, dataset.1).map_err(|e| err(e.to_string()))?;
    let mut seen = Verified::default();
    let mut current: Option<Rec> = None;
    let mut replicate = 0i64;
    let mut max_replicate = 0i64;
    for (i, row) in rows.enumerate() {
        let row = row.map_err(err)?;
        let n = i + 1;
        let at = |msg: String| {
            err(format!(
                "{shown}: row {n} ({}, replicate {}): {msg}",
                row.id, row.replicate
            ))
        };
        if row.replicate == 1 {
            if let Some(o) = &current
                && let Some(r) = expect.replicates
                && replicate != i64::from(r)
            {
                return Err(err(format!(
                    "{shown}: record {} ({}) has {replicate} replicates, expected {r}",
                    o.number, o.id
                )));
            }
            current = orig.next()?;
            seen.records += 1;
        } else if row.replicate != replicate + 1 {
            return Err(at(format!("expected replicate {}", replicate + 1)));
        }
        replicate = row.replicate;
        max_replicate = max_replicate.max(replicate);
        let Some(o) = &current else {
            return Err(at(format!(
                "has no record: {} ends after {} records",
                orig.name(),
                orig.number()
            )));
        };
        seen.changed += check_dataset_row(o, &row, expect, regions, shown).map_err(at)?;
        seen.rows += 1;
    }
    if let Some(o) = orig.next()? {
        return Err(err(format!(
            "{shown}: ends after {} rows, but {} has more (record {} ({}))",
            seen.rows,
            orig.name(),
            o.number,
            o.id
        )));
    }
    seen.replicates = u32::try_from(max_replicate.max(1)).unwrap_or(u32::MAX);
    Ok(seen)
}

/// One dataset row against its original record: ID, description, sequence, positions and
/// counts, the masked sequence read by the positions, and the token ids; the number of
/// changed positions, or what is wrong.
fn check_dataset_row(
    o: &Rec,
    row: &DatasetRow,
    expect: &Expect,
    regions: Option<&Regions>,
    shown: &str,
) -> Result<u64, String> {
    if row.id != o.id {
        return Err(format!(
            "expected ID '{}' (original record {}): rows removed, added or reordered?",
            o.id, o.number
        ));
    }
    if row.description.as_bytes() != o.description() {
        return Err(format!(
            "description '{}', the original's is '{}'",
            row.description,
            String::from_utf8_lossy(o.description())
        ));
    }
    if row.sequence.as_bytes() != o.seq.as_slice() {
        return Err("sequence differs from the original's".into());
    }
    let within = match regions {
        None => None,
        Some(r) => r.within(&o.id, o.seq.len())?,
    };
    let within = within.as_ref();
    let positions: Vec<usize> = row
        .positions
        .iter()
        .map(|&p| usize::try_from(p).ok().filter(|&p| p < o.seq.len()))
        .collect::<Option<_>>()
        .ok_or_else(|| "a position is outside the sequence".to_string())?;
    if positions.len() as i64 != row.masked {
        return Err(format!(
            "masked {}, but {} positions are listed",
            row.masked,
            positions.len()
        ));
    }
    if !positions.windows(2).all(|w| w[0] < w[1]) {
        return Err("positions are not ascending".into());
    }
    // The masked sequence against the original, read by the listed positions (as a
    // FASTA record with its table's positions would be).
    let m = Rec {
        number: o.number,
        id: o.id.clone(),
        header: o.header.clone(),
        seq: row.masked_sequence.clone().into_bytes(),
    };
    let changed = compare(o, &m, 1, 1, expect, within, shown, Some(&positions))
        .map_err(|e| e.0)?
        .changed;
    let eligible = eligible_positions(o, expect, within);
    if row.length != eligible {
        return Err(format!(
            "length {}, but the record has {eligible} eligible positions",
            row.length
        ));
    }
    for (what, v) in [("t", row.t), ("rate", row.rate)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{what} {v} is outside [0,1]"));
        }
    }
    if expect.corruption.keep() == 0.0 && positions.len() != changed.len() {
        let p = positions.iter().find(|p| changed.binary_search(p).is_err());
        return Err(format!(
            "position {} is listed but not masked",
            p.copied().unwrap_or(0)
        ));
    }
    if let (Some(ids), Some(labels)) = (&row.input_ids, &row.labels) {
        check_tokens(o, &m.seq, &positions, expect, ids, labels)?;
    }
    Ok(changed.len() as u64)
}

/// How many positions of the original `--maskable` and the regions leave eligible.
fn eligible_positions(o: &Rec, expect: &Expect, within: Option<&Within>) -> i64 {
    let eligible = o.seq.iter().enumerate().filter(|&(p, c)| {
        expect.maskable.as_ref().is_none_or(|mk| mk.contains(c))
            && within.is_none_or(|w| w.allows(p as u64))
    });
    eligible.count() as i64
}

/// `input_ids` and `labels` against what the original and the masked sequence give.
fn check_tokens(
    o: &Rec,
    masked: &[u8],
    positions: &[usize],
    expect: &Expect,
    ids: &[i64],
    labels: &[i64],
) -> Result<(), String> {
    let (want_ids, want_labels) = esm_expected(o, masked, positions, expect);
    for (name, got, want) in [
        ("input_ids", ids, want_ids),
        ("labels", labels, want_labels),
    ] {
        let want: Vec<i64> = want.into_iter().map(i64::from).collect();
        if let Some(j) = (0..want.len().max(got.len())).find(|&j| got.get(j) != want.get(j)) {
            return Err(format!(
                "{name}[{j}] is {:?}, expected {:?}",
                got.get(j),
                want.get(j)
            ));
        }
    }
    Ok(())
}

/// The ESM ids and labels a row must carry: the masked residues read position by position
/// (a position showing the token is `<mask>`), the original's at selected positions.
fn esm_expected(
    o: &Rec,
    masked: &[u8],
    positions: &[usize],
    expect: &Expect,
) -> (Vec<i32>, Vec<i32>) {
    use crate::sink::esm;
    let token = &expect.token[..];
    let (mut ids, mut labels) = (vec![esm::CLS], vec![esm::IGNORE]);
    let mut cur = 0usize;
    for (p, &c) in o.seq.iter().enumerate() {
        let selected = positions.binary_search(&p).is_ok();
        let rest = &masked[cur.min(masked.len())..];
        let (id, step) = if selected && rest.starts_with(token) {
            (esm::MASK, token.len())
        } else {
            (esm::id(rest.first().copied().unwrap_or(c)), 1)
        };
        cur += step;
        ids.push(id);
        labels.push(if selected { esm::id(c) } else { esm::IGNORE });
    }
    ids.push(esm::EOS);
    labels.push(esm::IGNORE);
    (ids, labels)
}
