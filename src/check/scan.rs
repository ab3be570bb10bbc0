//! `verify` of a scan set (`protmask scan`): every row of MASKED is a record of ORIGINAL
//! with exactly the positions its name (`<id>_p<i>`) or its `positions` say masked, and
//! nothing else; with `--max-length` it holds the window the rule places (`scan::
//! row_window`); without `--variants`, each record's rows are its eligible positions, each
//! once, in order. A rates table or a dataset must agree row by row. ORIGINAL, MASKED and
//! the table are streamed in step, as `fasta` does for a mask.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use super::error::Location;
use super::fasta::{Rec, Records, crop_suffix};
use super::{Verified, VerifyError};
use crate::engine::Input;
use crate::io::{InputSource, open_input};
use crate::regions::Regions;
use crate::sink::{Format, IGNORE, Role, Vocab, read_rows};

/// What a scan set must look like.
#[derive(Clone, Debug)]
pub struct ScanExpect {
    /// What the masked position shows.
    pub token: Vec<u8>,
    /// `--max-length`, when recorded or given: each row's window by the rule; without it a
    /// row's stated window is checked against its original only.
    pub window: Option<usize>,
    /// Eligible residues (`--maskable`).
    pub maskable: Option<Vec<u8>>,
    /// The rows come from a variants file: which positions have rows is not checked here
    /// (a manifest's regeneration checks it), only each row against its name.
    pub variants: bool,
    /// The dataset's token vocabulary, when it has token columns.
    pub vocab: Option<Vocab>,
}

/// The positions of a row named `name` of the record `id`: `<id>_p<i>` or `<id>_p<i>_<j>...`
/// (ascending); `None` for a name of another form.
pub fn row_positions(name: &str, id: &str) -> Option<Vec<usize>> {
    let rest = name.strip_prefix(id)?.strip_prefix("_p")?;
    let mut out = Vec::new();
    for part in rest.split('_') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push(part.parse().ok()?);
    }
    out.windows(2).all(|w| w[0] < w[1]).then_some(out)
}

/// The record's eligible positions (`None`: not checked, a variants scan).
fn eligible(
    o: &Rec,
    expect: &ScanExpect,
    regions: Option<&Regions>,
    at: &Location,
) -> Result<Option<Vec<usize>>, VerifyError> {
    if expect.variants {
        return Ok(None);
    }
    let within = match regions {
        None => None,
        Some(r) => r
            .within(&o.id, o.seq.len())
            .map_err(|message| VerifyError::Regions {
                at: at.clone(),
                message,
            })?,
    };
    let table = expect.maskable.as_ref().map(|chars| {
        let mut t = [false; 256];
        for &c in chars {
            t[usize::from(c)] = true;
        }
        t
    });
    let e = crate::scan::eligible(&o.seq, table.as_ref(), within.as_ref());
    Ok(Some(e.into_iter().map(|p| p as usize).collect()))
}

/// The window a row masking `positions` of `o` must hold (the rule, with the window
/// known), checked against the one it states (`stated`, from its header or `crop_start`).
fn window(
    o: &Rec,
    positions: &[usize],
    stated: Option<Range<usize>>,
    expect: &ScanExpect,
    at: &Location,
) -> Result<Range<usize>, VerifyError> {
    let len = o.seq.len();
    let fail = |message: String| VerifyError::Window {
        at: at.clone(),
        message,
    };
    if let Some(&p) = positions.iter().find(|&&p| p >= len) {
        return Err(fail(format!(
            "it masks position {p}, past the original's {len} residues"
        )));
    }
    let want =
        match expect.window {
            Some(n) => {
                let p: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
                Some(crate::scan::row_window(&p, len, n).ok_or_else(|| {
                    fail(format!("no window of {n} holds positions {positions:?}"))
                })?)
            }
            None => None,
        };
    let whole = 0..len;
    match (stated, want) {
        (None, None) => Ok(whole),
        (None, Some(w)) if w == whole => Ok(whole),
        (None, Some(w)) => Err(fail(format!(
            "not cropped, but its original has {len} residues, more than --max-length {}: \
             its window is {}-{}",
            expect.window.unwrap_or(0),
            w.start,
            w.end
        ))),
        (Some(s), Some(w)) if s != w => Err(fail(format!(
            "window {}-{}, but the rule places a row masking {positions:?} of {len} \
             residues at {}-{}",
            s.start, s.end, w.start, w.end
        ))),
        (Some(s), _) => {
            if s.start >= s.end || s.end > len {
                return Err(fail(format!(
                    "window {}-{} is not a window of the original's {len} residues",
                    s.start, s.end
                )));
            }
            if positions.iter().any(|p| !s.contains(p)) {
                return Err(fail(format!(
                    "window {}-{} does not hold its positions {positions:?}",
                    s.start, s.end
                )));
            }
            Ok(s)
        }
    }
}

/// The row's residues `shown` are `o`'s window with the token at exactly `positions`.
fn residues(
    o: &Rec,
    w: &Range<usize>,
    positions: &[usize],
    shown: &[u8],
    token: &[u8],
    at: &Location,
) -> Result<(), VerifyError> {
    let fail = |message: String| VerifyError::Scan {
        at: at.clone(),
        message,
    };
    let mut cursor = 0usize;
    for j in w.clone() {
        let here = &shown[cursor.min(shown.len())..];
        if positions.contains(&j) {
            if !here.starts_with(token) {
                return Err(fail(format!(
                    "position {j} is not masked, but the row masks {positions:?}"
                )));
            }
            cursor += token.len();
        } else if here.first() == Some(&o.seq[j]) {
            cursor += 1;
        } else if here.starts_with(token) {
            return Err(fail(format!(
                "position {j} is masked, but the row masks only {positions:?}"
            )));
        } else if here.is_empty() {
            return Err(VerifyError::SequenceEnds {
                at: at.clone(),
                position: j - w.start,
                residues: w.len(),
            });
        } else {
            return Err(VerifyError::SequenceDiffers {
                at: at.clone(),
                position: j - w.start,
            });
        }
    }
    if cursor < shown.len() {
        return Err(VerifyError::SequenceLonger {
            at: at.clone(),
            extra: shown.len() - cursor,
            residues: w.len(),
        });
    }
    Ok(())
}

/// Which rows a record must have, and which it has had.
struct Expected {
    /// The eligible positions not yet seen (`None`: any, a variants scan).
    left: Option<std::collections::VecDeque<usize>>,
    /// The last row's positions (rows ascend).
    last: Option<Vec<usize>>,
}

impl Expected {
    /// Row `positions` may come next.
    fn take(&mut self, o: &Rec, positions: &[usize], at: &Location) -> Result<(), VerifyError> {
        let fail = |message: String| VerifyError::Scan {
            at: at.clone(),
            message,
        };
        if self.last.as_deref().is_some_and(|l| l >= positions) {
            return Err(fail(format!(
                "rows of {} are not in ascending order of their positions",
                o.id
            )));
        }
        self.last = Some(positions.to_vec());
        let Some(left) = &mut self.left else {
            return Ok(());
        };
        match (left.front(), positions) {
            (Some(&e), [p]) if e == *p => {
                left.pop_front();
                Ok(())
            }
            (Some(&e), _) => Err(fail(format!(
                "expected the row {}_p{e} (its next eligible position), found one masking \
                 {positions:?}",
                o.id
            ))),
            (None, _) => Err(fail(format!(
                "a row masking {positions:?}, but {} has no eligible position left",
                o.id
            ))),
        }
    }

    /// Every row the record must have was seen (`next`: where its rows end).
    fn done(&self, o: &Rec, next: Location) -> Result<(), VerifyError> {
        match self.left.as_ref().and_then(|l| l.front()) {
            Some(e) => Err(VerifyError::Scan {
                at: next,
                message: format!(
                    "the row {}_p{e} is missing (rows of {} end before it)",
                    o.id, o.id
                ),
            }),
            None => Ok(()),
        }
    }
}

/// A scan's rates table, row by row.
struct Table {
    name: String,
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// Column indices of id, positions, masked, length, crop_start.
    columns: [Option<usize>; 5],
    row: csv::StringRecord,
    number: u64,
}

impl Table {
    fn open(path: &Path) -> Result<Table, VerifyError> {
        let name = path.display().to_string();
        let unreadable = |message: String| VerifyError::Unreadable {
            file: name.clone(),
            message,
        };
        let (_, raw) = open_input(&InputSource::Path(path.to_path_buf()))
            .map_err(|e| unreadable(format!("{name}: {e}")))?;
        let (format, _) =
            Format::for_file(Role::Rates, path).map_err(|e| unreadable(e.to_string()))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(format.delimiter().unwrap_or(b','))
            .from_reader(raw);
        let header = reader
            .headers()
            .map_err(|e| unreadable(format!("{name}: {e}")))?
            .clone();
        let col = |c: &str| header.iter().position(|h| h == c);
        let columns = [
            col("id"),
            col("positions"),
            col("masked"),
            col("length"),
            col("crop_start"),
        ];
        if columns[..4].iter().any(Option::is_none) {
            return Err(VerifyError::Columns {
                file: name,
                found: header.iter().collect::<Vec<_>>().join(","),
                expected: "file,id,replicate,length,t,rate,masked,positions".into(),
            });
        }
        Ok(Table {
            name,
            reader,
            columns,
            row: csv::StringRecord::new(),
            number: 0,
        })
    }

    fn field(&self, c: usize) -> &str {
        self.columns[c].and_then(|i| self.row.get(i)).unwrap_or("")
    }

    /// The next row agrees with masked row `m` of `o` (positions `p`, window `w`,
    /// `length` eligible positions in it).
    fn check(
        &mut self,
        o: &Rec,
        m: &Rec,
        p: &[usize],
        w: &Range<usize>,
        length: Option<usize>,
        masked_name: &str,
    ) -> Result<(), VerifyError> {
        let more = self
            .reader
            .read_record(&mut self.row)
            .map_err(|e| VerifyError::Unreadable {
                file: self.name.clone(),
                message: format!("{}: {e}", self.name),
            })?;
        if !more {
            return Err(VerifyError::TableEndsEarly {
                file: self.name.clone(),
                after: self.number,
                masked: masked_name.to_string(),
                number: m.number,
                id: m.id.clone(),
            });
        }
        self.number += 1;
        let at = Location::row(&self.name, self.number, &m.id, 1);
        let fail = |message: String| VerifyError::Scan {
            at: at.clone(),
            message,
        };
        if self.field(0) != o.id {
            return Err(fail(format!(
                "id '{}', the row is of '{}'",
                self.field(0),
                o.id
            )));
        }
        let start: usize = self.field(4).parse().unwrap_or(0);
        let listed: Vec<usize> = (self.field(1).split(';'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().map(|v| v + start))
            .collect::<Result<_, _>>()
            .map_err(|_| fail(format!("positions '{}' are not numbers", self.field(1))))?;
        if listed != p || start != w.start {
            return Err(fail(format!(
                "positions {:?} (from {}), but the row masks {p:?}",
                listed, start
            )));
        }
        if self.field(2) != p.len().to_string() {
            return Err(fail(format!(
                "masked {}, the row masks {}",
                self.field(2),
                p.len()
            )));
        }
        if let Some(l) = length.filter(|l| self.field(3) != l.to_string()) {
            return Err(fail(format!(
                "length {}, but the row's window has {l} eligible positions",
                self.field(3)
            )));
        }
        Ok(())
    }

    /// No row is left.
    fn end(&mut self) -> Result<(), VerifyError> {
        if self.reader.read_record(&mut self.row).unwrap_or(false) {
            return Err(VerifyError::ExtraRow {
                at: Location::row_number(&self.name, self.number + 1),
            });
        }
        Ok(())
    }
}

/// The eligible positions of `e` inside `w`.
fn in_window(e: Option<&Vec<usize>>, w: &Range<usize>) -> Option<usize> {
    e.map(|e| e.iter().filter(|p| w.contains(p)).count())
}

/// Verify a scan's FASTA (and its rates table) against ORIGINAL.
pub fn verify_fasta(
    original: &Input,
    masked: &Input,
    rates: Option<&Path>,
    expect: &ScanExpect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let mut orig = Records::open(original, b"")?;
    let printable: Vec<u8> = (0x21..0x7f).collect();
    let mut rows = Records::open(masked, &printable)?;
    let mut table = rates.map(Table::open).transpose()?;
    let mut seen = Verified {
        selected: rates.map(|_| 0),
        replicates: 1,
        ..Verified::default()
    };
    let mut held: Option<Rec> = None;
    while let Some(o) = orig.next()? {
        seen.records += 1;
        let e = eligible(&o, expect, regions, &orig.at(&o))?;
        let mut expected = Expected {
            left: e.clone().map(Into::into),
            last: None,
        };
        loop {
            let m = match held.take() {
                Some(m) => m,
                None => match rows.next()? {
                    Some(m) => m,
                    None => break,
                },
            };
            let Some(p) = row_positions(&m.id, &o.id) else {
                held = Some(m);
                break;
            };
            let at = rows.at(&m);
            expected.take(&o, &p, &at)?;
            // The header after the row's ID: the original's, then ` crop=A-B` if cropped.
            let after = &m.header[m.id.len()..];
            let base = &o.header[o.id.len()..];
            let (stated, rest) = match crop_suffix(after) {
                Some((suffix, a, b)) if after != base => {
                    (Some(a..b), &after[..after.len() - suffix.len()])
                }
                _ => (None, after),
            };
            if rest != base {
                return Err(VerifyError::DescriptionDiffers {
                    at,
                    found: String::from_utf8_lossy(rest).trim().to_string(),
                    expected: String::from_utf8_lossy(base).trim().to_string(),
                });
            }
            let w = window(&o, &p, stated, expect, &at)?;
            residues(&o, &w, &p, &m.seq, &expect.token, &at)?;
            if let Some(t) = table.as_mut() {
                t.check(&o, &m, &p, &w, in_window(e.as_ref(), &w), rows.name())?;
                seen.selected = seen.selected.map(|s| s + p.len() as u64);
            }
            seen.rows += 1;
            seen.changed += p.len() as u64;
        }
        let next = match &held {
            Some(m) => rows.at(m),
            None => Location::record(rows.name(), rows.number() + 1, "end of file"),
        };
        expected.done(&o, next)?;
    }
    if let Some(m) = held.take().or(rows.next()?) {
        return Err(VerifyError::ExtraRecord {
            at: rows.at(&m),
            original: orig.name().to_string(),
            records: orig.number(),
        });
    }
    if let Some(t) = table.as_mut() {
        t.end()?;
    }
    Ok(seen)
}

/// Verify a scan's dataset (Parquet or JSON Lines) against ORIGINAL.
pub fn verify_dataset(
    original: &Input,
    (path, format): (&Path, Format),
    name: &str,
    expect: &ScanExpect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let mut orig = Records::open(original, b"")?;
    let unreadable = |message: String| VerifyError::Unreadable {
        file: name.to_string(),
        message,
    };
    let mut reader = read_rows(path, format).map_err(|e| unreadable(format!("{name}: {e}")))?;
    let mut seen = Verified {
        selected: Some(0),
        replicates: 1,
        ..Verified::default()
    };
    let mut held = None;
    let mut number = 0u64;
    while let Some(o) = orig.next()? {
        seen.records += 1;
        let e = eligible(&o, expect, regions, &orig.at(&o))?;
        let mut expected = Expected {
            left: e.clone().map(Into::into),
            last: None,
        };
        loop {
            let row = match held.take() {
                Some(r) => r,
                None => match reader.next() {
                    Some(r) => {
                        number += 1;
                        r.map_err(unreadable)?
                    }
                    None => break,
                },
            };
            if row.id != o.id {
                held = Some(row);
                break;
            }
            let at = Location::row(name, number, &o.id, row.replicate);
            let start = row.crop_start.unwrap_or(0).max(0) as usize;
            let p: Vec<usize> = row
                .positions
                .iter()
                .map(|&q| q.max(0) as usize + start)
                .collect();
            if p.is_empty() || !p.windows(2).all(|w| w[0] < w[1]) {
                return Err(VerifyError::Scan {
                    at,
                    message: format!(
                        "positions {:?}: a row masks one or more, ascending",
                        row.positions
                    ),
                });
            }
            expected.take(&o, &p, &at)?;
            let stated = row
                .crop_start
                .map(|s| s.max(0) as usize..s.max(0) as usize + row.sequence.len());
            let w = window(&o, &p, stated, expect, &at)?;
            if row.sequence.as_bytes() != &o.seq[w.clone()] {
                return Err(VerifyError::Scan {
                    at,
                    message: "its sequence is not the original's window".into(),
                });
            }
            residues(
                &o,
                &w,
                &p,
                row.masked_sequence.as_bytes(),
                &expect.token,
                &at,
            )?;
            if row.masked != p.len() as i64
                || in_window(e.as_ref(), &w).is_some_and(|l| row.length != l as i64)
            {
                return Err(VerifyError::Scan {
                    at,
                    message: format!(
                        "masked {} and length {} do not fit the row ({} positions)",
                        row.masked,
                        row.length,
                        p.len()
                    ),
                });
            }
            if let (Some(vocab), Some(ids), Some(labels)) =
                (expect.vocab, &row.input_ids, &row.labels)
            {
                let t = vocab.ids();
                let inner = &o.seq[w.clone()];
                let want_ids: Vec<i64> = std::iter::once(t.start)
                    .chain(inner.iter().enumerate().map(|(i, &r)| {
                        if p.contains(&(i + w.start)) {
                            t.mask
                        } else {
                            t.id(r)
                        }
                    }))
                    .chain([t.stop])
                    .map(i64::from)
                    .collect();
                let want_labels: Vec<i64> = std::iter::once(IGNORE)
                    .chain(inner.iter().enumerate().map(|(i, &r)| {
                        if p.contains(&(i + w.start)) {
                            t.id(r)
                        } else {
                            IGNORE
                        }
                    }))
                    .chain([IGNORE])
                    .map(i64::from)
                    .collect();
                if *ids != want_ids || *labels != want_labels {
                    return Err(VerifyError::Scan {
                        at,
                        message: format!(
                            "input_ids or labels are not those of a row masking {p:?} (a label only at the masked position)"
                        ),
                    });
                }
            }
            seen.rows += 1;
            seen.changed += p.len() as u64;
            seen.selected = seen.selected.map(|s| s + p.len() as u64);
        }
        let next = Location::row_number(name, number + u64::from(held.is_none()));
        expected.done(&o, next)?;
    }
    if let Some(row) = held.or_else(|| reader.next().and_then(Result::ok)) {
        return Err(VerifyError::ExtraRecord {
            at: Location::row(name, number + 1, &row.id, row.replicate),
            original: orig.name().to_string(),
            records: orig.number(),
        });
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_names_parse_to_their_positions() {
        assert_eq!(row_positions("a_p5", "a"), Some(vec![5]));
        assert_eq!(row_positions("a_p5_9", "a"), Some(vec![5, 9]));
        assert_eq!(row_positions("a_p9_5", "a"), None);
        assert_eq!(row_positions("a_p", "a"), None);
        assert_eq!(row_positions("ab_p1", "a"), None);
        assert_eq!(row_positions("a_r1", "a"), None);
    }
}
