//! Checking that a masked FASTA is a masking of an original, streaming both (and the rates
//! table) in step, so memory does not grow with the files.
//!
//! What "a masking" means: the same records in the same order (each repeated R times, IDs
//! renamed `<id>_r<k>` when R > 1), the same descriptions, and at every position either
//! the original residue, the mask token, or (when the corruption allows it) a letter of
//! the random pool (`Expect::replacements`). With the rates table, its rows must match the records and its counts and
//! positions must agree with what the FASTA shows. The first disagreement is the error.
//!
//! A mask token made of residue letters (`X`) cannot be told from an original `X` by
//! looking. With a `positions` column, such a set is checked by the listed positions (each
//! listed position shows the token or a permitted corruption, every other position the
//! original residue); without one, a masked count is checked as a range.

use std::collections::VecDeque;
use std::io::Read;

use super::error::{Field, Location, Number, Unexpected, Unit};
use super::{Expect, Verified, VerifyError};
use crate::crop::Window;
use crate::engine::Input;
use crate::io::{InputSource, open_input};
use crate::records::stream::OwnedRecord;
use crate::records::{RecordStream, is_residue_token};
use crate::regions::{Regions, Within};
use crate::sink::{CROP_COLUMNS, Format, Role, SPLIT_COLUMN, rates_header};

/// A FASTA input read record by record through the record layer (`mask`'s rules).
pub(super) struct Records {
    stream: RecordStream<Box<dyn Read + Send>>,
}

impl Records {
    /// `also`: the bytes the file may hold besides residues.
    pub(super) fn open(input: &Input, also: &[u8]) -> Result<Records, VerifyError> {
        let raw = open_named(input)?;
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
        Ok(self.stream.next_record()?)
    }

    /// Where record `r` of this file is, for messages.
    pub(super) fn at(&self, r: &Rec) -> Location {
        Location::record(self.name(), r.number, &r.id)
    }
}

pub(super) type Rec = OwnedRecord;

/// An input opened and decompressed (`mask`'s sniffing), its errors naming the file as
/// the user gave it (a piped input was spooled elsewhere).
pub(super) fn open_named(input: &Input) -> Result<Box<dyn Read + Send>, VerifyError> {
    let (_, raw) = open_input(&input.source).map_err(|e| {
        let e = e.to_string();
        let message = match e.strip_prefix(&input.source.display_name()) {
            Some(rest) => format!("{}{rest}", input.name),
            None => e,
        };
        VerifyError::Unreadable {
            file: input.name.clone(),
            message,
        }
    })?;
    Ok(raw)
}

/// The header after the ID, as written (what masking copies unchanged).
fn after_id(r: &Rec) -> &[u8] {
    &r.header[r.id.len()..]
}

/// The window masked record `m` says it is (` crop=START-END` at the end of its header, not
/// of the original's), checked against original `o` and the cropping expected: the
/// original as that window (its header with the same ending), and where it lies. `None`:
/// not cropped, which a record longer than `--max-length` must be.
pub(super) fn window_of(
    o: &Rec,
    m: &Rec,
    expect: &Expect,
    masked_name: &str,
) -> Result<Option<(Rec, Window)>, VerifyError> {
    let at = || Location::record(masked_name, m.number, &m.id);
    let fail = |message: String| VerifyError::Window { at: at(), message };
    let len = o.seq.len();
    let said = crop_suffix(&m.header).filter(|(suffix, _, _)| !o.header.ends_with(suffix));
    let Some((suffix, start, end)) = said else {
        return match expect.cropping {
            Some(c) if len > c.max_length as usize => Err(fail(format!(
                "not cropped (no crop=START-END in its header), but its original has {len} \
                 residues, more than --max-length {}",
                c.max_length
            ))),
            _ => Ok(None),
        };
    };
    if start >= end || end > len {
        return Err(fail(format!(
            "crop={start}-{end} is not a window of the original's {len} residues"
        )));
    }
    if let Some(c) = expect.cropping {
        let n = c.max_length as usize;
        if len <= n {
            return Err(fail(format!(
                "crop={start}-{end}, but its original has {len} residues, not more than \
                 --max-length {n}"
            )));
        }
        if end - start != n {
            return Err(fail(format!(
                "crop={start}-{end} is {} residues, not --max-length {n}",
                end - start
            )));
        }
        if let Some(want) = c.fixed_start(len).filter(|&w| w != start) {
            return Err(fail(format!(
                "crop={start}-{end}, but --crop {} of {len} residues starts at {want}",
                c.crop
            )));
        }
    }
    let mut header = o.header.clone();
    header.extend_from_slice(suffix);
    let window = Rec {
        number: o.number,
        id: o.id.clone(),
        header,
        seq: o.seq[start..end].to_vec(),
    };
    Ok(Some((
        window,
        Window {
            start,
            len: end - start,
            original_length: len,
        },
    )))
}

/// ` crop=START-END` at the end of a header: the suffix, START and END.
pub(super) fn crop_suffix(header: &[u8]) -> Option<(&[u8], usize, usize)> {
    let at = header.windows(6).rposition(|w| w == b" crop=")?;
    let suffix = &header[at..];
    let text = std::str::from_utf8(&suffix[6..]).ok()?;
    let (a, b) = text.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some((suffix, a.parse().ok()?, b.parse().ok()?))
}

/// The rates table, row by row.
struct Rows {
    name: String,
    reader: csv::Reader<Box<dyn Read + Send>>,
    positions: bool,
    /// `crop_start` and `original_length` follow.
    crop: bool,
    /// `split` comes last.
    split: bool,
    row: csv::StringRecord,
    /// `row` was read ahead and is the next row (`skip_record`).
    held: bool,
    number: u64,
}

impl Rows {
    fn open(path: &std::path::Path) -> Result<Rows, VerifyError> {
        let src = InputSource::Path(path.to_path_buf());
        let name = src.display_name();
        let unreadable = |message: String| VerifyError::Unreadable {
            file: name.clone(),
            message,
        };
        let (_, raw) = open_input(&src).map_err(|e| unreadable(e.to_string()))?;
        let (format, _) =
            Format::for_file(Role::Rates, path).map_err(|e| unreadable(e.to_string()))?;
        let delimiter = format.delimiter().unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(raw);
        let header = reader
            .headers()
            .map_err(|e| unreadable(format!("{name}: {e}")))?
            .clone();
        let mut cols: Vec<&str> = header.iter().collect();
        let split = cols.last() == Some(&SPLIT_COLUMN);
        if split {
            cols.pop();
        }
        let crop = cols.ends_with(&CROP_COLUMNS);
        if crop {
            cols.truncate(cols.len() - CROP_COLUMNS.len());
        }
        let positions = if cols == rates_header(true) {
            true
        } else if cols == rates_header(false) {
            false
        } else {
            return Err(VerifyError::Columns {
                file: name,
                found: cols.join(","),
                expected: rates_header(false).join(","),
            });
        };
        Ok(Rows {
            name,
            reader,
            positions,
            crop,
            split,
            row: csv::StringRecord::new(),
            held: false,
            number: 0,
        })
    }

    fn next(&mut self) -> Result<bool, VerifyError> {
        if self.held {
            self.held = false;
            return Ok(true);
        }
        let more = self
            .reader
            .read_record(&mut self.row)
            .map_err(|e| VerifyError::Unreadable {
                file: self.name.clone(),
                message: format!("{}: {e}", self.name),
            })?;
        if more {
            self.number += 1;
        }
        Ok(more)
    }

    /// Pass over the rows of original record `o`, which MASKED does not hold (a split's
    /// own FASTA): each row's split must still be the rule's.
    fn skip_record(&mut self, o: &Rec, expect: &Expect) -> Result<(), VerifyError> {
        while self.next()? {
            if self.field(1) != o.id {
                self.held = true;
                break;
            }
            self.check_split(o, expect)?;
        }
        Ok(())
    }

    /// The current row's `split` is the one the rule (if known) gives record `o`.
    fn check_split(&self, o: &Rec, expect: &Expect) -> Result<(), VerifyError> {
        let (true, Some(rule)) = (self.split, &expect.split) else {
            return Ok(());
        };
        let column = 7 + usize::from(self.positions) + 2 * usize::from(self.crop);
        let expected = rule.name_of(o.id.as_bytes());
        if self.field(column) == expected {
            return Ok(());
        }
        let replicate = self.field(2).parse().unwrap_or(0);
        Err(VerifyError::Split {
            at: Location::row(&self.name, self.number, &o.id, replicate),
            found: self.field(column).to_string(),
            expected: expected.to_string(),
        })
    }

    fn field(&self, i: usize) -> &str {
        self.row.get(i).unwrap_or("")
    }

    /// The current row, as the row of record `o`, replicate `k`.
    fn at(&self, o: &Rec, k: u32) -> Location {
        Location::row(&self.name, self.number, &o.id, i64::from(k))
    }

    /// The `positions` column of the current row (`at`), 0-based.
    fn listed(&self, at: &Location) -> Result<Vec<usize>, VerifyError> {
        let field = self.field(7);
        if field.is_empty() {
            return Ok(Vec::new());
        }
        let listed: Vec<usize> = field
            .split(';')
            .map(|p| p.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| VerifyError::NotANumber {
                at: at.clone(),
                field: Field::Positions,
                value: field.to_string(),
                number: Number::List,
            })?;
        if !listed.windows(2).all(|w| w[0] < w[1]) {
            return Err(VerifyError::NotAscending { at: at.clone() });
        }
        Ok(listed)
    }

    /// Column `i` (`field`) of the current row, a whole number.
    fn int(&self, i: usize, field: Field) -> Result<u64, VerifyError> {
        self.field(i).parse().map_err(|_| VerifyError::NotANumber {
            at: Location::row_number(&self.name, self.number),
            field,
            value: self.field(i).to_string(),
            number: Number::Whole,
        })
    }

    /// Column `i` (`field`) of the current row (`at`), a number in [0,1].
    fn fraction(&self, i: usize, field: Field, at: &Location) -> Result<f64, VerifyError> {
        let v: f64 = self.field(i).parse().map_err(|_| VerifyError::NotANumber {
            at: at.clone(),
            field,
            value: self.field(i).to_string(),
            number: Number::Real,
        })?;
        if !(0.0..=1.0).contains(&v) {
            return Err(VerifyError::OutOfRange {
                at: at.clone(),
                field,
                value: v,
            });
        }
        Ok(v)
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
    let mut mask = Masked {
        records: Records::open(masked, &printable)?,
        pending: VecDeque::new(),
    };
    let mut rows = rates.map(Rows::open).transpose()?;
    if let (Some(rows), Some(rule)) = (&rows, &expect.split)
        && !rows.split
    {
        return Err(VerifyError::NoSplitColumn {
            file: rows.name.clone(),
            splits: rule.splits.to_string(),
        });
    }
    let mut seen = Verified {
        selected: rates.map(|_| 0),
        ..Verified::default()
    };
    let mut count = ReplicateCount::new(expect.replicates);
    // A residue-letter token is read by the table's positions, so its row comes first.
    let by_positions =
        is_residue_token(&expect.token) && rows.as_ref().is_some_and(|rows| rows.positions);

    while let Some(o) = orig.next()? {
        // A split's own FASTA (`-O` with `--split`) holds none of the other splits'.
        if let (Some(only), Some(rule)) = (expect.only_split, &expect.split)
            && rule.index_of(o.id.as_bytes()) != only
        {
            if let Some(rows) = rows.as_mut() {
                rows.skip_record(&o, expect)?;
            }
            continue;
        }
        // How many replicates: recorded, or found at the first record; then required of
        // every one.
        let r = match count.expected() {
            Some(r) => r,
            None => {
                let r = mask.count_replicates(&o)?;
                count.end_run(mask.records.name(), &o, i64::from(r))?;
                r
            }
        };
        let within = match regions {
            None => None,
            Some(regions) => {
                regions
                    .within(&o.id, o.seq.len())
                    .map_err(|message| VerifyError::Regions {
                        at: orig.at(&o),
                        message,
                    })?
            }
        };
        let within = within.as_ref();
        for k in 1..=r {
            let m = mask.next_for(&o, k, &orig, &count)?;
            let mask_name = mask.records.name();
            let window = window_of(&o, &m, expect, mask_name)?;
            let mut intervals = Vec::new();
            let (o, within) = match (&window, within) {
                (Some((w, at)), Some(r)) => (
                    w,
                    Some(r.window(at.start as u64, at.end() as u64, &mut intervals)),
                ),
                (Some((w, _)), None) => (w, None),
                (None, within) => (&o, within.copied()),
            };
            let within = within.as_ref();
            let listed = match rows.as_mut() {
                Some(rows) if by_positions => {
                    next_row(rows, o, &m, k, mask_name)?;
                    Some(rows.listed(&rows.at(o, k))?)
                }
                _ => None,
            };
            let shown = compare(o, &m, k, r, expect, within, mask_name, listed.as_deref())?;
            seen.changed += shown.changed.len() as u64;
            seen.uncertain += shown.uncertain as u64;
            if let Some(rows) = rows.as_mut() {
                if !by_positions {
                    next_row(rows, o, &m, k, mask_name)?;
                }
                let masked = check_row(rows, o, k, &shown, expect, within)?;
                if rows.crop {
                    let (start, len) = match &window {
                        Some((_, at)) => (at.start as u64, at.original_length as u64),
                        None => (0, o.seq.len() as u64),
                    };
                    let at = rows.at(o, k);
                    let first = 7 + usize::from(rows.positions);
                    let found = (
                        rows.int(first, Field::Length)?,
                        rows.int(first + 1, Field::Length)?,
                    );
                    if found != (start, len) {
                        return Err(VerifyError::Window {
                            at,
                            message: format!(
                                "crop_start {}, original_length {}: the FASTA's window gives \
                                 {start} and {len}",
                                found.0, found.1
                            ),
                        });
                    }
                }
                rows.check_split(o, expect)?;
                *seen.selected.get_or_insert(0) += masked;
                seen.rows += 1;
            }
        }
        // A replicate more than R (told by its ID only when IDs are renamed, R > 1).
        if r > 1
            && let Some(m) = mask.peek()?
            && m.id == format!("{}_r{}", o.id, r + 1)
        {
            return Err(count.differs(mask.records.name(), &o, i64::from(r) + 1));
        }
        seen.records += 1;
    }
    if let Some(m) = mask.next()? {
        return Err(VerifyError::ExtraRecord {
            at: mask.records.at(&m),
            original: orig.name().to_string(),
            records: orig.number(),
        });
    }
    if let Some(rows) = rows.as_mut()
        && rows.next()?
    {
        return Err(VerifyError::ExtraRow {
            at: Location::row_number(&rows.name, rows.number),
        });
    }
    seen.replicates = count.expected().unwrap_or(1);
    Ok(seen)
}

/// MASKED, with the records read ahead while counting the first record's replicates.
struct Masked {
    records: Records,
    pending: VecDeque<Rec>,
}

impl Masked {
    fn next(&mut self) -> Result<Option<Rec>, VerifyError> {
        match self.pending.pop_front() {
            Some(m) => Ok(Some(m)),
            None => self.records.next(),
        }
    }

    /// The next record, without taking it.
    fn peek(&mut self) -> Result<Option<&Rec>, VerifyError> {
        if self.pending.is_empty()
            && let Some(m) = self.records.next()?
        {
            self.pending.push_back(m);
        }
        Ok(self.pending.front())
    }

    /// The next record, which must be there for replicate `k` of original record `o`. A
    /// run of replicates that ends early (the file ends, or the next record's `_r1`
    /// comes) is a record with fewer replicates than `count` expects.
    fn next_for(
        &mut self,
        o: &Rec,
        k: u32,
        orig: &Records,
        count: &ReplicateCount,
    ) -> Result<Rec, VerifyError> {
        let run = format!("{}_r", o.id);
        let m = self.next()?;
        let ended = m
            .as_ref()
            .is_none_or(|m| !m.id.starts_with(&run) && m.id.ends_with("_r1"));
        if k > 1 && ended {
            return Err(count.differs(self.records.name(), o, i64::from(k) - 1));
        }
        m.ok_or_else(|| VerifyError::EndsEarly {
            file: self.records.name().to_string(),
            after: self.records.number(),
            unit: Unit::Records,
            original: orig.name().to_string(),
            number: o.number,
            id: o.id.clone(),
        })
    }

    /// Replicates of the first record `o`: 1 if the masked ID is the original's, else the
    /// length of the run `<id>_r1`, `<id>_r2`, ... Every record read stays queued.
    fn count_replicates(&mut self, o: &Rec) -> Result<u32, VerifyError> {
        let (mask, pending) = (&mut self.records, &mut self.pending);
        let Some(first) = mask.next()? else {
            return Err(VerifyError::NoRecords {
                file: mask.name().to_string(),
                id: o.id.clone(),
            });
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
                return Err(VerifyError::MissingReplicate {
                    at: mask.at(&m),
                    id: o.id.clone(),
                    replicate: n as u32 + 1,
                });
            }
            pending.push_back(m);
            return Ok(n as u32);
        }
        Ok(pending.len() as u32)
    }
}

/// How many replicates every record must have: the recorded number (a manifest, a
/// dataset's metadata), else the first record's.
pub(super) struct ReplicateCount {
    expected: Option<u32>,
    /// The first record's ID, when its run set the number.
    first: Option<String>,
}

impl ReplicateCount {
    pub(super) fn new(recorded: Option<u32>) -> ReplicateCount {
        ReplicateCount {
            expected: recorded,
            first: None,
        }
    }

    pub(super) fn expected(&self) -> Option<u32> {
        self.expected
    }

    /// The run of original record `o` in `file` ended after `found` replicates: the first
    /// run sets the number (unless recorded), every later one must have it.
    pub(super) fn end_run(&mut self, file: &str, o: &Rec, found: i64) -> Result<(), VerifyError> {
        match self.expected {
            None => {
                self.expected = Some(u32::try_from(found).unwrap_or(u32::MAX));
                self.first = Some(o.id.clone());
                Ok(())
            }
            Some(r) if i64::from(r) == found => Ok(()),
            Some(_) => Err(self.differs(file, o, found)),
        }
    }

    /// Whether replicate `k` is more than every record has.
    pub(super) fn exceeded(&self, k: i64) -> bool {
        self.expected.is_some_and(|r| k > i64::from(r))
    }

    /// Record `o` in `file` has `found` replicates (at least), not the expected number.
    pub(super) fn differs(&self, file: &str, o: &Rec, found: i64) -> VerifyError {
        let at = Location::record(file, o.number, &o.id);
        let expected = self.expected.unwrap_or(1);
        match &self.first {
            Some(first) => VerifyError::ReplicatesDiffer {
                at,
                found,
                expected,
                first: first.clone(),
            },
            None => VerifyError::Replicates {
                at,
                found,
                expected,
            },
        }
    }
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
    let at = || Location::record(masked_name, m.number, &m.id);
    same_header(o, m, k, r, &at)?;
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
            return Err(VerifyError::SequenceEnds {
                at: at(),
                position: p,
                residues: o.seq.len(),
            });
        }
        let selectable = match next_listed.as_mut() {
            Some(l) => l.next_if_eq(&&p).is_some() && eligible,
            None => eligible,
        };
        if !token.is_empty() && rest.starts_with(token) && selectable {
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
        } else if may_replace && selectable && eligible && expect.replacements.contains(&f) {
            shown.changed.push(p);
            cur += 1;
        } else {
            let why = if !maskable {
                Unexpected::NotMaskable
            } else if !in_regions {
                Unexpected::OutsideRegions
            } else if !selectable {
                Unexpected::NotListed
            } else if token.is_empty() {
                Unexpected::NotD3pmLetter
            } else {
                Unexpected::NotToken {
                    token: String::from_utf8_lossy(token).into_owned(),
                }
            };
            return Err(VerifyError::Residue {
                at: at(),
                position: p,
                found: f,
                expected: c,
                why,
            });
        }
    }
    if cur != m.seq.len() {
        return Err(VerifyError::SequenceLonger {
            at: at(),
            extra: m.seq.len() - cur,
            residues: o.seq.len(),
        });
    }
    Ok(shown)
}

/// Masked record `m` is replicate `k` of `r` of `o` (its ID, renamed when `r` > 1) and
/// keeps its header; `at` names it.
fn same_header(
    o: &Rec,
    m: &Rec,
    k: u32,
    r: u32,
    at: &impl Fn() -> Location,
) -> Result<(), VerifyError> {
    let want_id = if r > 1 {
        format!("{}_r{k}", o.id)
    } else {
        o.id.clone()
    };
    if m.id != want_id {
        return Err(VerifyError::IdMismatch {
            at: at(),
            found: m.id.clone(),
            expected: want_id,
            original: o.number,
        });
    }
    if after_id(m) != after_id(o) {
        return Err(VerifyError::HeaderDiffers {
            at: at(),
            found: String::from_utf8_lossy(after_id(m)).trim().to_string(),
            expected: String::from_utf8_lossy(after_id(o)).trim().to_string(),
        });
    }
    Ok(())
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
        return Err(VerifyError::TableEndsEarly {
            file: rows.name.clone(),
            after: rows.number,
            masked: masked_name.to_string(),
            number: m.number,
            id: m.id.clone(),
        });
    }
    if rows.field(1) != o.id || rows.field(2) != k.to_string() {
        return Err(VerifyError::WrongRow {
            at: rows.at(o, k),
            found_id: rows.field(1).to_string(),
            found_replicate: rows.field(2).to_string(),
        });
    }
    Ok(())
}

/// How many positions of `o` `--maskable` and the regions leave eligible (L).
pub(super) fn eligible_positions(o: &Rec, expect: &Expect, within: Option<&Within>) -> i64 {
    let eligible = o.seq.iter().enumerate().filter(|&(p, c)| {
        expect.maskable.as_ref().is_none_or(|mk| mk.contains(c))
            && within.is_none_or(|w| w.allows(p as u64))
    });
    eligible.count() as i64
}

/// The current row's values against what the masked record shows; its `masked` count.
fn check_row(
    rows: &mut Rows,
    o: &Rec,
    k: u32,
    shown: &Shown,
    expect: &Expect,
    within: Option<&Within>,
) -> Result<u64, VerifyError> {
    let at = rows.at(o, k);
    let length = rows.int(3, Field::Length)?;
    let eligible = eligible_positions(o, expect, within);
    if i128::from(length) != i128::from(eligible) {
        return Err(VerifyError::Length {
            at,
            found: length.into(),
            expected: eligible.into(),
        });
    }
    rows.fraction(4, Field::T, &at)?;
    rows.fraction(5, Field::Rate, &at)?;
    let masked = rows.int(6, Field::Masked)?;
    let changed = &shown.changed;
    let visible = changed.len() as u64;
    // Positions that certainly show as selected; the uncertain ones may or may not be.
    let certain = visible - shown.uncertain as u64;
    let hidden_allowed = expect.corruption.keep() > 0.0;
    if certain > masked || (!hidden_allowed && visible < masked) {
        return Err(VerifyError::ShownCount {
            at,
            masked,
            shown: visible,
            uncertain: shown.uncertain as u64,
            token: String::from_utf8_lossy(&expect.token).into_owned(),
        });
    }
    if rows.positions {
        let listed = rows.listed(&at)?;
        if listed.len() as u64 != masked {
            return Err(VerifyError::ListedCount {
                at,
                masked: masked.into(),
                listed: listed.len(),
            });
        }
        if let Some(&position) = changed.iter().find(|p| listed.binary_search(p).is_err()) {
            return Err(VerifyError::NotListed { at, position });
        }
        if !hidden_allowed && listed.len() != changed.len() {
            let p = listed.iter().find(|p| changed.binary_search(p).is_err());
            return Err(VerifyError::NotMasked {
                at,
                position: p.copied().unwrap_or(0),
                in_fasta: true,
            });
        }
    }
    Ok(masked)
}
