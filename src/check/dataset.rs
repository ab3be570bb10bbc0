//! Checking a dataset (`mask --dataset`, JSONL or Parquet) given as MASKED: each row is
//! read as the FASTA record and rates row it stands for, so the rules are `fasta`'s, and
//! the `input_ids`/`labels`, where present, must be exactly what the row's residues give
//! in the dataset's vocabulary.

use super::error::{Field, Location, TokenColumn, Unit};
use super::fasta::{Rec, Records, ReplicateCount, compare, eligible_positions};
use super::{Expect, Verified, VerifyError};
use crate::engine::Input;
use crate::regions::Regions;
use crate::sink::{DatasetRow, Format, IGNORE, Vocab, read_rows, read_shards, shards};
use crate::split::SplitRule;

/// Check a dataset given as MASKED against `original`: the rows follow the records, each
/// with replicates 1..R and R the same for every record (the recorded R, else the first
/// record's), `sequence` and `description` are the original's,
/// `masked_sequence` is a masking of it whose changed positions agree with `positions`
/// and `masked`, `length` counts the eligible positions, and `input_ids`/`labels`, where
/// present, are exactly the ids of the masked and original residues in the dataset's
/// vocabulary (told by the first id). `shown` names
/// the dataset in messages.
pub fn verify_dataset(
    original: &Input,
    dataset: (&std::path::Path, Format),
    shown: &str,
    expect: &Expect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let unreadable = |message: String| VerifyError::Unreadable {
        file: shown.to_string(),
        message,
    };
    // A folder of several splits: each split's shards hold the rows of the original's
    // records of that split, in order, so each is checked against the original with the
    // other splits' records passed over (one pass over the original per split).
    if dataset.1 == Format::Parquet && dataset.0.is_dir() {
        let found = shards::read_folder(dataset.0).map_err(&unreadable)?;
        if let (Some(rule), true) = (&expect.split, found.len() > 1 || expect.split.is_some()) {
            let names = rule.splits.names();
            if let Some((stray, _)) = found.iter().find(|(n, _)| !names.contains(n)) {
                return Err(unreadable(format!(
                    "holds a split '{stray}' that the split rule ({}) does not name",
                    rule.splits
                )));
            }
            let mut all = Verified {
                selected: Some(0),
                ..Verified::default()
            };
            for (i, name) in names.iter().enumerate() {
                let shards = (found.iter().find(|(n, _)| n == name))
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                let shown = format!("{shown} (split {name})");
                let v = check_rows(
                    original,
                    read_shards(shards),
                    &shown,
                    expect,
                    regions,
                    Some(i),
                )?;
                all.records += v.records;
                all.changed += v.changed;
                all.uncertain += v.uncertain;
                all.rows += v.rows;
                all.selected = Some(all.selected.unwrap_or(0) + v.selected.unwrap_or(0));
                all.replicates = all.replicates.max(v.replicates);
            }
            return Ok(all);
        }
        if found.len() > 1 {
            return Err(unreadable(format!(
                "holds the splits {}: verify needs the split rule to check them (recorded \
                 in the shards' metadata and the manifest, or --split)",
                found
                    .iter()
                    .map(|s| s.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let rows = read_rows(dataset.0, dataset.1).map_err(|e| unreadable(e.to_string()))?;
    check_rows(original, rows, shown, expect, regions, None)
}

/// The rows of a dataset (or of one split of it: `only`, whose original records alone are
/// read) against the original.
fn check_rows(
    original: &Input,
    rows: Box<dyn Iterator<Item = Result<DatasetRow, String>>>,
    shown: &str,
    expect: &Expect,
    regions: Option<&Regions>,
    only: Option<usize>,
) -> Result<Verified, VerifyError> {
    let unreadable = |message: String| VerifyError::Unreadable {
        file: shown.to_string(),
        message,
    };
    let mut records = Records::open(original, b"")?;
    let rule = expect.split.as_deref();
    let mut orig = OnlySplit {
        records: &mut records,
        only: only.zip(rule),
    };
    let mut seen = Verified {
        selected: Some(0),
        ..Verified::default()
    };
    let mut current: Option<Rec> = None;
    let mut replicate = 0i64;
    let mut count = ReplicateCount::new(expect.replicates);
    for (i, row) in rows.enumerate() {
        let row = row.map_err(unreadable)?;
        let at = Location::row(shown, i as u64 + 1, &row.id, row.replicate);
        if row.replicate == 1 {
            if let Some(o) = &current {
                count.end_run(shown, o, replicate)?;
            }
            current = orig.next()?;
            seen.records += 1;
        } else if row.replicate != replicate + 1 {
            return Err(VerifyError::ReplicateOrder {
                at,
                expected: replicate + 1,
            });
        }
        replicate = row.replicate;
        let Some(o) = &current else {
            return Err(VerifyError::ExtraRecord {
                at,
                original: orig.name().to_string(),
                records: orig.number(),
            });
        };
        if count.exceeded(replicate) {
            return Err(count.differs(shown, o, replicate));
        }
        seen.changed += check_dataset_row(o, &row, &at, expect, regions)?;
        if let Some(rule) = &expect.split {
            let expected = rule.name_of(o.id.as_bytes());
            match &row.split {
                None => {
                    return Err(VerifyError::NoSplitColumn {
                        file: shown.to_string(),
                        splits: rule.splits.to_string(),
                    });
                }
                Some(found) if found != expected => {
                    return Err(VerifyError::Split {
                        at,
                        found: found.clone(),
                        expected: expected.to_string(),
                    });
                }
                Some(_) => {}
            }
        }
        // Checked against the listed positions just above.
        *seen.selected.get_or_insert(0) += u64::try_from(row.masked).unwrap_or(0);
        seen.rows += 1;
    }
    // The last record's replicates are all there, and no record is missing after it.
    if let Some(o) = &current {
        count.end_run(shown, o, replicate)?;
    }
    if let Some(o) = orig.next()? {
        return Err(VerifyError::EndsEarly {
            file: shown.to_string(),
            after: seen.rows,
            unit: Unit::Rows,
            original: orig.name().to_string(),
            number: o.number,
            id: o.id,
        });
    }
    seen.replicates = count.expected().unwrap_or(1);
    Ok(seen)
}

/// The original's records, or those of one split alone.
struct OnlySplit<'a> {
    records: &'a mut Records,
    only: Option<(usize, &'a SplitRule)>,
}

impl OnlySplit<'_> {
    fn next(&mut self) -> Result<Option<Rec>, VerifyError> {
        loop {
            match self.records.next()? {
                Some(o)
                    if self
                        .only
                        .is_some_and(|(s, r)| r.index_of(o.id.as_bytes()) != s) => {}
                found => return Ok(found),
            }
        }
    }

    fn name(&self) -> &str {
        self.records.name()
    }

    fn number(&self) -> u64 {
        self.records.number()
    }
}

/// One dataset row (`at`) against its original record: ID, description, sequence,
/// positions and counts, the masked sequence read by the positions, and the token ids;
/// the number of changed positions.
fn check_dataset_row(
    o: &Rec,
    row: &DatasetRow,
    at: &Location,
    expect: &Expect,
    regions: Option<&Regions>,
) -> Result<u64, VerifyError> {
    // A cropped row is the window `crop_start`, `sequence`'s length long: checked as the
    // FASTA checks `crop=START-END`, then the row against the original as that window.
    let window = row_window(o, row, at, expect)?;
    let within = match regions {
        None => None,
        Some(r) => r
            .within(&o.id, o.seq.len())
            .map_err(|message| VerifyError::Regions {
                at: at.clone(),
                message,
            })?,
    };
    // Regions are in the original's coordinates: a window sees them shifted.
    let mut intervals = Vec::new();
    let (o, within) = match (&window, within) {
        (Some((w, win)), Some(r)) => (
            w,
            Some(r.window(win.start as u64, win.end() as u64, &mut intervals)),
        ),
        (Some((w, _)), None) => (w, None),
        (None, within) => (o, within),
    };
    check_copied(o, row, at)?;
    let within = within.as_ref();
    let positions = listed(o, row, at)?;
    // The masked sequence against the original, read by the listed positions (as a
    // FASTA record with its table's positions would be).
    let m = Rec {
        number: o.number,
        id: o.id.clone(),
        header: o.header.clone(),
        seq: row.masked_sequence.clone().into_bytes(),
    };
    let changed = compare(o, &m, 1, 1, expect, within, &at.file, Some(&positions))
        .map_err(|error| VerifyError::InRow {
            at: at.clone(),
            error: Box::new(error),
        })?
        .changed;
    let eligible = eligible_positions(o, expect, within);
    if row.length != eligible {
        return Err(VerifyError::Length {
            at: at.clone(),
            found: row.length.into(),
            expected: eligible.into(),
        });
    }
    for (field, value) in [(Field::T, row.t), (Field::Rate, row.rate)] {
        if !(0.0..=1.0).contains(&value) {
            return Err(VerifyError::OutOfRange {
                at: at.clone(),
                field,
                value,
            });
        }
    }
    if expect.corruption.keep() == 0.0 && positions.len() != changed.len() {
        let p = positions.iter().find(|p| changed.binary_search(p).is_err());
        return Err(VerifyError::NotMasked {
            at: at.clone(),
            position: p.copied().unwrap_or(0),
            in_fasta: false,
        });
    }
    if let (Some(ids), Some(labels)) = (&row.input_ids, &row.labels) {
        check_tokens(o, &m.seq, &positions, expect, ids, labels, at)?;
    }
    Ok(changed.len() as u64)
}

/// The row's ID, description and sequence are the original record's.
/// The window a row says it is, checked against its original `o` (`None`: not cropped).
fn row_window(
    o: &Rec,
    row: &DatasetRow,
    at: &Location,
    expect: &Expect,
) -> Result<Option<(Rec, crate::crop::Window)>, VerifyError> {
    let mut header = o.header.clone();
    if let (Some(start), Some(len)) = (row.crop_start, row.original_length) {
        if len != o.seq.len() as i64 || start < 0 {
            return Err(VerifyError::Window {
                at: at.clone(),
                message: format!(
                    "crop_start {start}, original_length {len}: the original has {} residues",
                    o.seq.len()
                ),
            });
        }
        let end = start as usize + row.sequence.len();
        if (start as usize, end) != (0, o.seq.len()) {
            header.extend_from_slice(format!(" crop={start}-{end}").as_bytes());
        }
    }
    let m = Rec {
        number: o.number,
        id: o.id.clone(),
        header,
        seq: Vec::new(),
    };
    let window = super::fasta::window_of(o, &m, expect, &at.file).map_err(|e| match e {
        VerifyError::Window { message, .. } => VerifyError::Window {
            at: at.clone(),
            message,
        },
        e => e,
    })?;
    Ok(window.map(|(mut w, at)| {
        w.header = o.header.clone();
        (w, at)
    }))
}

fn check_copied(o: &Rec, row: &DatasetRow, at: &Location) -> Result<(), VerifyError> {
    if row.id != o.id {
        return Err(VerifyError::IdMismatch {
            at: at.clone(),
            found: row.id.clone(),
            expected: o.id.clone(),
            original: o.number,
        });
    }
    if row.description.as_bytes() != o.description() {
        return Err(VerifyError::DescriptionDiffers {
            at: at.clone(),
            found: row.description.clone(),
            expected: String::from_utf8_lossy(o.description()).into_owned(),
        });
    }
    let (found, expected) = (row.sequence.as_bytes(), o.seq.as_slice());
    if found != expected {
        let position = (found.iter().zip(expected))
            .position(|(a, b)| a != b)
            .unwrap_or(found.len().min(expected.len()));
        return Err(VerifyError::SequenceDiffers {
            at: at.clone(),
            position,
        });
    }
    Ok(())
}

/// The row's positions: inside the sequence, as many as `masked` says, ascending.
fn listed(o: &Rec, row: &DatasetRow, at: &Location) -> Result<Vec<usize>, VerifyError> {
    let mut positions = Vec::with_capacity(row.positions.len());
    for &p in &row.positions {
        match usize::try_from(p).ok().filter(|&p| p < o.seq.len()) {
            Some(p) => positions.push(p),
            None => {
                return Err(VerifyError::PositionOutside {
                    at: at.clone(),
                    position: p,
                    residues: o.seq.len(),
                });
            }
        }
    }
    if positions.len() as i64 != row.masked {
        return Err(VerifyError::ListedCount {
            at: at.clone(),
            masked: row.masked.into(),
            listed: positions.len(),
        });
    }
    if !positions.windows(2).all(|w| w[0] < w[1]) {
        return Err(VerifyError::NotAscending { at: at.clone() });
    }
    Ok(positions)
}

/// `input_ids` and `labels` against what the original and the masked sequence give.
fn check_tokens(
    o: &Rec,
    masked: &[u8],
    positions: &[usize],
    expect: &Expect,
    ids: &[i64],
    labels: &[i64],
    at: &Location,
) -> Result<(), VerifyError> {
    // Each vocabulary's start id is its own (ESM `<cls>` 0, EvoDiff `@` 29): the first id
    // tells which; any other is checked as ESM and fails at index 0.
    let first = ids.first().copied();
    let vocab = (Vocab::ALL.iter().copied())
        .find(|v| first == Some(i64::from(v.ids().start)))
        .unwrap_or(Vocab::Esm);
    let (want_ids, want_labels) = expected_ids(vocab, o, masked, positions, expect);
    for (column, got, want) in [
        (TokenColumn::InputIds, ids, want_ids),
        (TokenColumn::Labels, labels, want_labels),
    ] {
        let want: Vec<i64> = want.into_iter().map(i64::from).collect();
        if let Some(j) = (0..want.len().max(got.len())).find(|&j| got.get(j) != want.get(j)) {
            return Err(VerifyError::Tokens {
                at: at.clone(),
                column,
                index: j,
                found: got.get(j).copied(),
                expected: want.get(j).copied(),
            });
        }
    }
    Ok(())
}

/// The ids and labels a row must carry in `vocab`: the masked residues read position by
/// position (a position showing the token is the mask id), the original's at selected
/// positions.
fn expected_ids(
    vocab: Vocab,
    o: &Rec,
    masked: &[u8],
    positions: &[usize],
    expect: &Expect,
) -> (Vec<i32>, Vec<i32>) {
    let v = vocab.ids();
    let token = &expect.token[..];
    let (mut ids, mut labels) = (vec![v.start], vec![IGNORE]);
    let mut cur = 0usize;
    for (p, &c) in o.seq.iter().enumerate() {
        let selected = positions.binary_search(&p).is_ok();
        let rest = &masked[cur.min(masked.len())..];
        let (id, step) = if selected && !token.is_empty() && rest.starts_with(token) {
            (v.mask, token.len())
        } else {
            (v.id(rest.first().copied().unwrap_or(c)), 1)
        };
        cur += step;
        ids.push(id);
        labels.push(if selected { v.id(c) } else { IGNORE });
    }
    ids.push(v.stop);
    labels.push(IGNORE);
    (ids, labels)
}
