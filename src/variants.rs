//! `protmask scan --variants DMS.csv --reference REF.fa`: a deep mutational scan in
//! ProteinGym's format, checked against its reference, turned into scan rows (`Plan`) and
//! a variants table (one row per mutant).
//!
//! The format (ProteinGym's DMS files, `proteingym/utils/scoring_utils.py`): a CSV with a
//! `mutant` column whose values are mutations such as `A23K` (wild-type letter, 1-based
//! position, mutant letter) joined by `:` for a multi-mutant; every other column (e.g.
//! `DMS_score`) is carried into the table as it is. Every wild-type letter is checked
//! against the reference (case-insensitively: ProteinGym upper-cases the sequence): the
//! most common error in this field is an off-by-one, and it is an error here, naming the
//! line, the mutant and the reference's letter, before anything is written.
//!
//! Rows: `marginal` (masked marginals, ESM-1v and ProteinGym's default) masks one position
//! a row, one row per distinct mutated position, ascending; `joint` masks all of a
//! mutant's positions in one row, one row per distinct set of positions (mutants that
//! change the same positions share a row: the model sees the same input), in ascending
//! order of the sets. The table gives each mutant its mutations, the row of each, and the
//! wild-type and mutant token ids in the run's vocabulary (`--tokens`, else ESM's), so a
//! model's score is a sum over the mutant's mutations of
//! `logp[row][mt] - logp[row][wt]` at the mutated position (docs/evaluation-kits.md).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::choice::choices;
use crate::io::{FileDigest, InputSource, open_input};
use crate::records::RecordStream;
use crate::sink::Vocab;

choices! {
    /// How a multi-mutant's positions are masked (`--variants-mode`).
    pub enum VariantsMode {
        /// One position a row (masked marginals: ESM-1v, ProteinGym): a multi-mutant's
        /// score is the sum over its positions, each scored in its own row.
        Marginal = "marginal",
        /// All of a mutant's positions in one row, scored together.
        Joint = "joint",
    }
}

// `choices!` cannot take `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for VariantsMode {
    fn default() -> Self {
        VariantsMode::Marginal
    }
}

/// `--variants`, `--reference-id` and `--variants-mode` as a manifest records them
/// (`options.scan.variants`). The reference is the run's one input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantsOption {
    /// The DMS file as given.
    pub path: String,
    /// The reference record's ID, when given (needed when the reference has several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    pub mode: VariantsMode,
    /// Where a regeneration found the DMS file, when not at its recorded path. Never
    /// written.
    #[serde(skip)]
    pub found_at: Option<String>,
}

/// The column every DMS file has.
pub const MUTANT: &str = "mutant";

/// The variants table's own columns, before the DMS file's other columns.
pub const TABLE_COLUMNS: [&str; 5] = ["mutant", "mutations", "rows", "wt_ids", "mt_ids"];

/// One substitution: `wt` at `position` (0-based) becomes `mt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mutation {
    pub wt: u8,
    pub position: u32,
    pub mt: u8,
}

impl std::fmt::Display for Mutation {
    /// As the DMS file writes it: 1-based.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.wt as char,
            self.position + 1,
            self.mt as char
        )
    }
}

/// One line of the DMS file.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutant {
    /// 1-based line of the file.
    pub line: u64,
    /// The `mutant` field as written.
    pub text: String,
    pub mutations: Vec<Mutation>,
    /// The scan row (0-based) of each mutation.
    pub rows: Vec<usize>,
    /// The other columns' fields, in the file's order.
    pub carried: Vec<String>,
}

/// A DMS file checked against its reference: the rows to scan and the table to write.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The reference record's ID (the only record with rows).
    pub reference_id: String,
    pub reference_length: usize,
    /// Each row's positions (0-based, ascending), rows in ascending order.
    pub rows: Vec<Vec<u32>>,
    pub mutants: Vec<Mutant>,
    /// The DMS file's columns other than `mutant`, in order.
    pub carried: Vec<String>,
    pub vocab: Vocab,
    /// Mutants whose `mutant` field an earlier line already had: how many, and the first
    /// (its line and text). Kept, each its own table row.
    pub duplicates: u64,
    /// The first repeated mutant: its line, its text and the line that had it first.
    pub first_duplicate: Option<(u64, String, u64)>,
    /// The file as given, its digest as stored and of its content (decompressed), for
    /// the manifest.
    pub name: String,
    pub digest: FileDigest,
    pub content: FileDigest,
}

/// A mutation's text (`A23K`) read: wild-type letter, 1-based position, mutant letter.
fn parse_mutation(text: &str) -> Result<(u8, u64, u8), String> {
    let b = text.as_bytes();
    let letter = |c: u8| c.is_ascii_uppercase();
    let shape = "a mutation is a wild-type letter, a 1-based position and a mutant letter, \
                 e.g. A23K";
    if b.len() < 3 || !letter(b[0]) || !letter(b[b.len() - 1]) {
        return Err(format!("'{text}' is not a mutation: {shape}"));
    }
    let digits = &text[1..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{text}' is not a mutation: {shape}"));
    }
    let position: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}': position {digits} is too large"))?;
    if position == 0 {
        return Err(format!("'{text}': position 0, but positions are 1-based"));
    }
    Ok((b[0], position, b[b.len() - 1]))
}

/// The reference record: the one named `id`, or the only one.
pub fn read_reference(
    source: &InputSource,
    name: &str,
    id: Option<&str>,
) -> Result<(String, Vec<u8>)> {
    let (_, raw) = open_input(source).with_context(|| format!("cannot read reference '{name}'"))?;
    let mut stream = RecordStream::new(name.to_string(), raw);
    let mut found: Option<(String, Vec<u8>)> = None;
    let mut ids: Vec<String> = Vec::new();
    let mut count = 0u64;
    while let Some(r) = stream.next_record()? {
        count += 1;
        if ids.len() < 4 {
            ids.push(r.id.clone());
        }
        match id {
            Some(want) if r.id == want => {
                if found.is_some() {
                    bail!(
                        "{name}: record {} ({want}): a second record with the ID given to \
                         --reference-id",
                        r.number
                    );
                }
                found = Some((r.id, r.seq));
            }
            Some(_) => {}
            None if found.is_none() => found = Some((r.id, r.seq)),
            None => {}
        }
    }
    let shown = || {
        let more = if count > ids.len() as u64 {
            ", ..."
        } else {
            ""
        };
        format!("{}{more}", ids.join(", "))
    };
    match (found, id) {
        (_, None) if count > 1 => Err(crate::UsageError::ReferenceChoice {
            file: name.to_string(),
            records: count,
            ids: shown(),
        }
        .into()),
        (Some(f), _) => Ok(f),
        (None, Some(want)) => bail!(
            "{name}: no record has the ID '{want}' of --reference-id (its records: {})",
            shown()
        ),
        (None, None) => bail!("{name}: the reference holds no record"),
    }
}

impl Plan {
    /// Read the DMS file `dms` (as `name`) and check it against the reference record
    /// `reference_id` of sequence `seq`.
    pub fn read(
        dms: &Path,
        name: &str,
        reference_id: &str,
        seq: &[u8],
        mode: VariantsMode,
        vocab: Vocab,
    ) -> Result<Plan> {
        let cannot = || format!("cannot read variants file '{name}'");
        let digest = FileDigest::of_file(dms).with_context(cannot)?;
        let (_, mut raw) =
            open_input(&InputSource::Path(dms.to_path_buf())).with_context(cannot)?;
        let mut text = Vec::new();
        raw.read_to_end(&mut text).with_context(cannot)?;
        let mut plan = Plan::parse(&text[..], name, reference_id, seq, mode, vocab)?;
        plan.content = FileDigest::of(&text);
        plan.digest = digest;
        Ok(plan)
    }

    /// `read`, from any reader.
    pub fn parse(
        raw: impl Read,
        name: &str,
        reference_id: &str,
        seq: &[u8],
        mode: VariantsMode,
        vocab: Vocab,
    ) -> Result<Plan> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(raw);
        let header = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => bail!("{name}: line 1: {}", csv_error(&e)),
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            bail!(
                "{name}: the file is empty: a DMS file has a header line with a '{MUTANT}' column, then one line per mutant"
            );
        }
        let columns: Vec<&str> = header.iter().collect();
        let Some(at) = columns
            .iter()
            .position(|c| c.trim_start_matches('\u{feff}') == MUTANT)
        else {
            bail!(
                "{name}: line 1: no '{MUTANT}' column (the columns are {}): a DMS file in \
                 ProteinGym's format names its mutations in a column '{MUTANT}'",
                columns
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let carried: Vec<String> = (columns.iter().enumerate())
            .filter(|&(i, _)| i != at)
            .map(|(_, c)| c.to_string())
            .collect();
        let mut mutants = Vec::new();
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        let (mut duplicates, mut first_duplicate) = (0u64, None);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    bail!("{name}: line {line}: {}", csv_error(&e));
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            let text = record.get(at).unwrap_or("").to_string();
            let fail = |why: String| anyhow::anyhow!("{name}: line {line}: mutant '{text}': {why}");
            if text.is_empty() {
                return Err(fail("no mutation (the field is empty)".into()));
            }
            let mut mutations: Vec<Mutation> = Vec::new();
            for part in text.split(':') {
                let (wt, position, mt) = parse_mutation(part).map_err(&fail)?;
                if position > seq.len() as u64 {
                    return Err(fail(format!(
                        "position {position} is past the end of the reference '{reference_id}' \
                         ({} residues)",
                        seq.len()
                    )));
                }
                let p = (position - 1) as u32;
                let have = seq[p as usize].to_ascii_uppercase();
                if have != wt {
                    return Err(fail(format!(
                        "the reference '{reference_id}' has '{}' at position {position}, not \
                         '{}' (positions are 1-based: an offset between the file and the \
                         reference?)",
                        have as char, wt as char
                    )));
                }
                if mutations.iter().any(|m| m.position == p) {
                    return Err(fail(format!("position {position} is mutated twice")));
                }
                mutations.push(Mutation {
                    wt,
                    position: p,
                    mt,
                });
            }
            if let Some(&earlier) = seen.get(&text) {
                duplicates += 1;
                if first_duplicate.is_none() {
                    first_duplicate = Some((line, text.clone(), earlier));
                }
            } else {
                seen.insert(text.clone(), line);
            }
            let carried = (record.iter().enumerate())
                .filter(|&(i, _)| i != at)
                .map(|(_, f)| f.to_string())
                .collect();
            mutants.push(Mutant {
                line,
                text,
                mutations,
                rows: Vec::new(),
                carried,
            });
        }
        if mutants.is_empty() {
            bail!("{name}: no mutants (a header line and no line after it)");
        }
        // The rows: distinct positions (marginal) or distinct sorted position sets (joint).
        let sets: BTreeSet<Vec<u32>> = match mode {
            VariantsMode::Marginal => (mutants.iter())
                .flat_map(|m| m.mutations.iter().map(|x| vec![x.position]))
                .collect(),
            VariantsMode::Joint => (mutants.iter())
                .map(|m| {
                    let mut s: Vec<u32> = m.mutations.iter().map(|x| x.position).collect();
                    s.sort_unstable();
                    s
                })
                .collect(),
        };
        let rows: Vec<Vec<u32>> = sets.into_iter().collect();
        let index: BTreeMap<&[u32], usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_slice(), i))
            .collect();
        for m in &mut mutants {
            m.rows = match mode {
                VariantsMode::Marginal => (m.mutations.iter())
                    .map(|x| index[&[x.position][..]])
                    .collect(),
                VariantsMode::Joint => {
                    let mut s: Vec<u32> = m.mutations.iter().map(|x| x.position).collect();
                    s.sort_unstable();
                    vec![index[s.as_slice()]; m.mutations.len()]
                }
            };
        }
        Ok(Plan {
            reference_id: reference_id.to_string(),
            reference_length: seq.len(),
            rows,
            mutants,
            carried,
            vocab,
            duplicates,
            first_duplicate,
            name: name.to_string(),
            digest: FileDigest::of(b""),
            content: FileDigest::of(b""),
        })
    }

    /// Check that every row fits a window of `n` residues (a joint row whose positions lie
    /// too far apart does not): the first that does not, named by a mutant of it.
    pub fn check_windows(&self, n: usize, name: &str) -> Result<()> {
        for (i, row) in self.rows.iter().enumerate() {
            if crate::scan::row_window(row, self.reference_length, n).is_none() {
                let m = self.mutants.iter().find(|m| m.rows.contains(&i));
                let (line, text) = m.map_or((0, ""), |m| (m.line, m.text.as_str()));
                bail!(
                    "{name}: line {line}: mutant '{text}': its positions span {} residues, \
                     more than one window of --max-length {n} holds (--variants-mode \
                     marginal scores each position in its own window)",
                    row[row.len() - 1] - row[0] + 1
                );
            }
        }
        Ok(())
    }

    /// The table's fields of mutant `m`, each list joined by `;` (CSV, TSV).
    fn fields(&self, m: &Mutant) -> [String; 5] {
        let ids = self.vocab.ids();
        let join = |v: Vec<String>| v.join(";");
        [
            m.text.clone(),
            join(m.mutations.iter().map(|x| x.to_string()).collect()),
            join(m.rows.iter().map(|r| r.to_string()).collect()),
            join(
                m.mutations
                    .iter()
                    .map(|x| ids.id(x.wt).to_string())
                    .collect(),
            ),
            join(
                m.mutations
                    .iter()
                    .map(|x| ids.id(x.mt).to_string())
                    .collect(),
            ),
        ]
    }

    /// The table as CSV (`delimiter` `,`) or TSV (`\t`): the header, then one line per
    /// mutant in the file's order; lists joined by `;`; the carried fields as written.
    pub fn table_text(&self, delimiter: u8) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        let header = TABLE_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(self.carried.iter().cloned());
        // Writing into a Vec cannot fail.
        let _ = w.write_record(header);
        for m in &self.mutants {
            let _ = w.write_record(self.fields(m).into_iter().chain(m.carried.iter().cloned()));
        }
        w.into_inner().unwrap_or_default()
    }

    /// The table as Parquet: `mutant` a string, `mutations` a list of strings, `rows`,
    /// `wt_ids` and `mt_ids` lists of int32; a carried column int64 if every field is an
    /// integer, float64 if every field is a number (an empty field null), else a string.
    pub fn table_parquet(&self) -> Result<Vec<u8>> {
        use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
        use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        let ids = self.vocab.ids();
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let strings = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        fields.push(Field::new("mutant", DataType::Utf8, false));
        columns.push(strings(
            self.mutants.iter().map(|m| m.text.as_str()).collect(),
        ));
        let mut mutations = ListBuilder::new(StringBuilder::new());
        for m in &self.mutants {
            for x in &m.mutations {
                mutations.values().append_value(x.to_string());
            }
            mutations.append(true);
        }
        let mutations = mutations.finish();
        fields.push(Field::new("mutations", mutations.data_type().clone(), true));
        columns.push(Arc::new(mutations));
        let list = |of: &dyn Fn(&Mutant) -> Vec<i32>| {
            let mut b = ListBuilder::new(Int32Builder::new());
            for m in &self.mutants {
                b.values().append_slice(&of(m));
                b.append(true);
            }
            b.finish()
        };
        let rows = list(&|m| m.rows.iter().map(|&r| r as i32).collect());
        let wt = list(&|m| m.mutations.iter().map(|x| ids.id(x.wt)).collect());
        let mt = list(&|m| m.mutations.iter().map(|x| ids.id(x.mt)).collect());
        for (name, array) in [("rows", rows), ("wt_ids", wt), ("mt_ids", mt)] {
            fields.push(Field::new(name, array.data_type().clone(), true));
            columns.push(Arc::new(array));
        }
        for (c, name) in self.carried.iter().enumerate() {
            let values: Vec<&str> = self.mutants.iter().map(|m| m.carried[c].as_str()).collect();
            let (field, array): (Field, ArrayRef) =
                if values.iter().all(|v| v.parse::<i64>().is_ok()) {
                    let v: Vec<i64> = values.iter().map(|v| v.parse().unwrap_or(0)).collect();
                    (
                        Field::new(name, DataType::Int64, false),
                        Arc::new(Int64Array::from(v)),
                    )
                } else if values
                    .iter()
                    .all(|v| v.is_empty() || v.parse::<f64>().is_ok())
                {
                    let v: Vec<Option<f64>> = values.iter().map(|v| v.parse().ok()).collect();
                    (
                        Field::new(name, DataType::Float64, true),
                        Arc::new(Float64Array::from(v)),
                    )
                } else {
                    (Field::new(name, DataType::Utf8, false), strings(values))
                };
            fields.push(field);
            columns.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_created_by(format!("protmask {}", env!("CARGO_PKG_VERSION")))
            .build();
        let mut bytes = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(bytes)
    }
}

/// A csv crate error as one clause (without its own position, which the caller names).
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(csv: &str, seq: &[u8], mode: VariantsMode) -> Result<Plan> {
        Plan::parse(csv.as_bytes(), "d.csv", "P1", seq, mode, Vocab::Esm)
    }

    #[test]
    fn mutations_parse_as_proteingym_writes_them() {
        assert_eq!(parse_mutation("A23K"), Ok((b'A', 23, b'K')));
        for bad in [
            "A23", "23K", "A23KK", "a23K", "A2x3K", "AK", "", "A-1K", "A+1K",
        ] {
            assert!(parse_mutation(bad).is_err(), "{bad}");
        }
        assert!(parse_mutation("A0K").unwrap_err().contains("1-based"));
    }

    #[test]
    fn marginal_rows_are_distinct_positions_and_joint_rows_distinct_sets() {
        let csv = "mutant,DMS_score\nC2K,0.5\nA1G:E4K,-1\nE4R:A1W,2\nC2K,3\n";
        let p = plan(csv, b"ACDEF", VariantsMode::Marginal).unwrap();
        assert_eq!(p.rows, vec![vec![0], vec![1], vec![3]]);
        let rows: Vec<&[usize]> = p.mutants.iter().map(|m| m.rows.as_slice()).collect();
        assert_eq!(rows, [&[1][..], &[0, 2], &[2, 0], &[1]]);
        assert_eq!(p.duplicates, 1);
        let j = plan(csv, b"ACDEF", VariantsMode::Joint).unwrap();
        assert_eq!(j.rows, vec![vec![0, 3], vec![1]]);
        let rows: Vec<&[usize]> = j.mutants.iter().map(|m| m.rows.as_slice()).collect();
        assert_eq!(rows, [&[1][..], &[0, 0], &[0, 0], &[1]]);
        let text = String::from_utf8(p.table_text(b',')).unwrap();
        assert_eq!(
            text.lines().take(3).collect::<Vec<_>>(),
            [
                "mutant,mutations,rows,wt_ids,mt_ids,DMS_score",
                "C2K,C2K,1,23,15,0.5",
                "A1G:E4K,A1G;E4K,0;2,5;9,6;15,-1"
            ]
        );
    }

    #[test]
    fn bad_files_are_named_by_line_and_mutant() {
        let seq = b"ACDEF";
        let err = |csv: &str| {
            plan(csv, seq, VariantsMode::Marginal)
                .unwrap_err()
                .to_string()
        };
        assert!(err("score\n1\n").contains("line 1: no 'mutant' column"));
        assert!(err("").contains("empty"));
        assert!(err("mutant,s\n").contains("no mutants"));
        assert!(err("mutant\nA1G\nA9G\n").contains("line 3: mutant 'A9G': position 9 is past"));
        let e = err("mutant\nA1G\nC3K\n");
        assert!(
            e.contains("line 3: mutant 'C3K': the reference 'P1' has 'D' at position 3"),
            "{e}"
        );
        assert!(err("mutant\nA1G:A1K\n").contains("mutated twice"));
        assert!(err("mutant,s\nA1G\n").contains("line 2: 1 fields where the header has 2"));
        assert!(err("mutant\nA0K\n").contains("line 2: mutant 'A0K': 'A0K': position 0"));
    }
}
