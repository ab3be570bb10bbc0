//! Checking a dataset (`mask --dataset`, JSONL or Parquet) given as MASKED: each row is
//! read as the FASTA record and rates row it stands for, so the rules are `fasta`'s, and
//! the ESM `input_ids`/`labels`, where present, must be exactly what the row's residues
//! give.

use super::fasta::{Rec, Records, compare};
use super::{Expect, Verified, VerifyError, err};
use crate::engine::Input;
use crate::regions::{Regions, Within};
use crate::sink::dataset::DatasetRow;

/// Check a dataset given as MASKED against `original`: the rows follow the records (each
/// repeated with replicates 1..R), `sequence` and `description` are the original's,
/// `masked_sequence` is a masking of it whose changed positions agree with `positions`
/// and `masked`, `length` counts the eligible positions, and `input_ids`/`labels`, where
/// present, are exactly the ESM ids of the masked and original residues.
pub fn verify_dataset(
    original: &Input,
    dataset: &crate::sink::DatasetFile,
    shown: &str,
    expect: &Expect,
    regions: Option<&Regions>,
) -> Result<Verified, VerifyError> {
    let mut orig = Records::open(original, b"")?;
    let rows = crate::sink::dataset::read_rows(dataset).map_err(|e| err(e.to_string()))?;
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
    use crate::sink::dataset::esm;
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
