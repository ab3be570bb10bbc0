//! The dataset (`--dataset PATH`): one row per emitted record, in output order, with
//! everything an evaluation or training script needs, so that no join of FASTA and table is
//! written by hand (docs/reference.md, "Dataset").
//!
//! Columns, in order: `file id replicate length t rate masked description sequence
//! masked_sequence positions`, and with `--tokens esm` `input_ids labels`. Two formats, by
//! the file name: Parquet (`parquet.rs`) and JSON Lines (`jsonl.rs`). What both take from
//! an emitted record is made here (`Fields`), as are the ESM token ids and the reading of
//! rows back for `verify`.

use std::io;
use std::path::Path;

use arrow_array::RecordBatch;

use super::fasta::FastaFormat;
use super::parquet::ROW_GROUP_ROWS;
use super::{Emitted, Format};
use crate::choice::choices;
use crate::config::MaskConfig;
use crate::mask::mark;

choices! {
    /// A token vocabulary for `input_ids` and `labels` (`--tokens`).
    pub enum Vocab {
        /// The 33-token ESM alphabet (fair-esm `Alphabet.from_architecture("ESM-1b")`; ESM-2,
        /// ESM-1b, DPLM, and ESM3's sequence track).
        Esm = "esm",
    }
}

/// ESM ids: `<cls>` 0, `<pad>` 1, `<eos>` 2, `<unk>` 3, residues 4..=30, `<mask>` 32.
pub mod esm {
    pub const CLS: i32 = 0;
    pub const EOS: i32 = 2;
    pub const UNK: i32 = 3;
    pub const MASK: i32 = 32;
    /// Residues in id order from 4.
    pub const RESIDUES: &[u8; 27] = b"LAGVSERTIDPKQNFYMHWCXBUZO.-";
    /// The label of a position that is not selected.
    pub const IGNORE: i32 = -100;

    /// The id of a residue: a lowercase letter takes its uppercase letter's id; any other
    /// byte is `<unk>` (one id per residue, always).
    pub fn id(residue: u8) -> i32 {
        static TABLE: std::sync::OnceLock<[i32; 256]> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = [UNK; 256];
            for (i, &r) in RESIDUES.iter().enumerate() {
                t[usize::from(r)] = 4 + i as i32;
                if r.is_ascii_uppercase() {
                    t[usize::from(r.to_ascii_lowercase())] = 4 + i as i32;
                }
            }
            t
        })[usize::from(residue)]
    }
}

/// What a dataset row takes from an emitted record, beside its scalar fields.
#[derive(Clone, Debug)]
pub(super) struct Fields {
    /// Each input's `file` value.
    pub files: Vec<String>,
    tokens: Option<Vocab>,
    /// The masked sequence, unwrapped (the FASTA writer with no line width).
    residues: FastaFormat,
}

impl Fields {
    pub fn new(config: &MaskConfig, files: &[String]) -> Fields {
        let mut unwrapped = config.clone();
        unwrapped.line_width = 0;
        Fields {
            files: files.to_vec(),
            tokens: config.tokens,
            residues: FastaFormat::new(&unwrapped),
        }
    }

    pub fn has_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// The header after the ID and the whitespace that follows it.
    pub fn description<'a>(&self, e: &Emitted<'a>) -> &'a str {
        std::str::from_utf8(e.record.description()).unwrap_or("")
    }

    /// The output residues, unwrapped, with the mask token.
    pub fn masked_sequence(&self, out: &mut Vec<u8>, e: &Emitted) {
        self.residues.write_residues(out, e);
    }

    /// `input_ids` and `labels`, with a vocabulary.
    pub fn tokens(&self, e: &Emitted, ids: &mut Vec<i32>, labels: &mut Vec<i32>) {
        if let Some(Vocab::Esm) = self.tokens {
            esm_ids(e.record.seq, &e.marks.by_position, ids, labels);
        }
    }
}

/// `input_ids` and `labels` of one record in the ESM alphabet, from its original residues
/// and its marks: `<cls>` … `<eos>`; a masked position is `<mask>` (32) whatever the token;
/// a replaced or kept one is its residue's id; labels carry the original's id at every
/// selected position and -100 elsewhere.
pub fn esm_ids(seq: &[u8], marks: &[u8], ids: &mut Vec<i32>, labels: &mut Vec<i32>) {
    ids.push(esm::CLS);
    labels.push(esm::IGNORE);
    for (&r, &m) in seq.iter().zip(marks) {
        let (id, label) = match m {
            mark::NONE => (esm::id(r), esm::IGNORE),
            mark::TOKEN => (esm::MASK, esm::id(r)),
            mark::KEPT => (esm::id(r), esm::id(r)),
            replaced => (esm::id(replaced), esm::id(r)),
        };
        ids.push(id);
        labels.push(label);
    }
    ids.push(esm::EOS);
    labels.push(esm::IGNORE);
}

/// One row read back (by `verify`), from either format.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct DatasetRow {
    pub file: String,
    pub id: String,
    pub replicate: i64,
    pub length: i64,
    pub t: f64,
    pub rate: f64,
    pub masked: i64,
    pub description: String,
    pub sequence: String,
    pub masked_sequence: String,
    pub positions: Vec<i64>,
    #[serde(default)]
    pub input_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub labels: Option<Vec<i64>>,
}

/// The rows of a dataset file in `format` (JSON Lines or Parquet), in order; errors
/// name the file and the row.
pub fn read_rows(
    path: &Path,
    format: Format,
) -> io::Result<Box<dyn Iterator<Item = Result<DatasetRow, String>>>> {
    let name = path.display().to_string();
    match format {
        Format::Jsonl => {
            let (_, raw) = crate::io::open_input(&crate::io::InputSource::Path(path.into()))?;
            let lines = io::BufRead::lines(io::BufReader::new(raw));
            Ok(Box::new(lines.enumerate().map(move |(i, line)| {
                let line = line.map_err(|e| format!("{name}: line {}: {e}", i + 1))?;
                serde_json::from_str(&line).map_err(|e| format!("{name}: line {}: {e}", i + 1))
            })))
        }
        Format::Parquet => {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let f = std::fs::File::open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(f)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?
                .with_batch_size(ROW_GROUP_ROWS)
                .build()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?;
            let mut row = 0usize;
            Ok(Box::new(reader.flat_map(move |batch| {
                let rows = match batch {
                    Ok(b) => rows_of(&b, row).map_err(|e| format!("{name}: {e}")),
                    Err(e) => Err(format!("{name}: {e}")),
                };
                match rows {
                    Ok(rows) => {
                        row += rows.len();
                        rows.into_iter().map(Ok).collect::<Vec<_>>()
                    }
                    Err(e) => vec![Err(e)],
                }
            })))
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name}: {other:?} is not a dataset format"),
        )),
    }
}

/// The rows of one record batch (`first` = the number of rows before it, for messages).
fn rows_of(b: &RecordBatch, first: usize) -> Result<Vec<DatasetRow>, String> {
    use arrow_array::ListArray;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type};
    let col = |name: &str| {
        b.column_by_name(name)
            .ok_or_else(|| format!("no column '{name}' (row {})", first + 1))
    };
    let strings = |name: &str| -> Result<_, String> {
        col(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| format!("column '{name}' is not a string column"))
    };
    let ints = |name: &str| -> Result<_, String> {
        col(name)?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| format!("column '{name}' is not an int32 column"))
    };
    let floats = |name: &str| -> Result<_, String> {
        col(name)?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| format!("column '{name}' is not a float64 column"))
    };
    let lists = |name: &str| -> Result<Option<&ListArray>, String> {
        match b.column_by_name(name) {
            None => Ok(None),
            Some(c) => c
                .as_list_opt::<i32>()
                .map(Some)
                .ok_or_else(|| format!("column '{name}' is not a list column")),
        }
    };
    let list_at = |l: &ListArray, i: usize| -> Result<Vec<i64>, String> {
        let v = l.value(i);
        let v = v
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| "a list column does not hold int32".to_string())?;
        Ok(v.values().iter().map(|&x| i64::from(x)).collect())
    };
    let (file, id, desc, seq, mseq) = (
        strings("file")?,
        strings("id")?,
        strings("description")?,
        strings("sequence")?,
        strings("masked_sequence")?,
    );
    let (rep, len, masked) = (ints("replicate")?, ints("length")?, ints("masked")?);
    let (t, rate) = (floats("t")?, floats("rate")?);
    let positions = lists("positions")?.ok_or_else(|| "no column 'positions'".to_string())?;
    let (ids, labels) = (lists("input_ids")?, lists("labels")?);
    (0..b.num_rows())
        .map(|i| {
            Ok(DatasetRow {
                file: file.value(i).to_string(),
                id: id.value(i).to_string(),
                replicate: i64::from(rep.value(i)),
                length: i64::from(len.value(i)),
                t: t.value(i),
                rate: rate.value(i),
                masked: i64::from(masked.value(i)),
                description: desc.value(i).to_string(),
                sequence: seq.value(i).to_string(),
                masked_sequence: mseq.value(i).to_string(),
                positions: list_at(positions, i)?,
                input_ids: ids.map(|l| list_at(l, i)).transpose()?,
                labels: labels.map(|l| list_at(l, i)).transpose()?,
            })
        })
        .collect()
}
