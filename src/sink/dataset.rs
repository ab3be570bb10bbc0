//! The dataset (`--dataset PATH`): one row per emitted record, in output order, with
//! everything an evaluation or training script needs, so that no join of FASTA and table is
//! written by hand (CONTRACT.md, "Datasets for ML code").
//!
//! Columns, in order: `file id replicate length t rate masked description sequence
//! masked_sequence positions`, and with `--tokens esm` `input_ids labels`. Two formats, by
//! the file name: Parquet (`.parquet`, written with the Apache Arrow project's `arrow` and
//! `parquet` crates, Snappy-compressed, row groups of `ROW_GROUP_ROWS` rows) and JSON
//! Lines (`.jsonl`, optionally `.jsonl.gz` or `.jsonl.zst`, compressed like every output).
//!
//! Rows are made on the worker pool beside the FASTA: a JSONL row is its final text; a
//! Parquet row goes into the block's columns (`parquet.rs`), which the writer thread cuts
//! into row groups of a fixed number of rows.

use std::io;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use super::fasta::FastaFormat;
use super::parquet::{Columns, ROW_GROUP_ROWS, Scalars};
use super::{Emitted, Scratch};
use crate::choice::choices;
use crate::config::MaskConfig;
use crate::io::Compression;
use crate::mask::mark;

/// A dataset's on-disk format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    Parquet,
    /// JSON Lines, compressed as the name says (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`).
    Jsonl,
}

/// A dataset file: its path and the format its name calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetFile {
    pub path: PathBuf,
    pub kind: DatasetKind,
}

/// A dataset name that is none of `.parquet`, `.jsonl`, `.jsonl.gz`, `.jsonl.zst`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("dataset '{0}': name it .parquet, .jsonl, .jsonl.gz or .jsonl.zst")]
pub struct DatasetNameError(pub String);

impl DatasetFile {
    pub fn new(path: &Path) -> Result<DatasetFile, DatasetNameError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let kind = if name.ends_with(".parquet") && name.len() > ".parquet".len() {
            DatasetKind::Parquet
        } else if [".jsonl", ".jsonl.gz", ".jsonl.zst"]
            .iter()
            .any(|ext| name.ends_with(ext) && name.len() > ext.len())
        {
            DatasetKind::Jsonl
        } else {
            return Err(DatasetNameError(path.display().to_string()));
        };
        Ok(DatasetFile {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// How the bytes written to it are compressed (JSONL by extension; Parquet compresses
    /// inside the file).
    pub fn compression(&self) -> Compression {
        match self.kind {
            DatasetKind::Parquet => Compression::None,
            DatasetKind::Jsonl => Compression::from_path(&self.path),
        }
    }
}

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

/// How dataset rows are made.
#[derive(Clone, Debug)]
pub struct DatasetFormat {
    kind: DatasetKind,
    tokens: Option<Vocab>,
    /// Each input's `file` value.
    files: Vec<String>,
    /// The masked sequence, unwrapped (the FASTA writer with no line width).
    residues: FastaFormat,
}

impl DatasetFormat {
    pub fn new(
        kind: DatasetKind,
        tokens: Option<Vocab>,
        config: &MaskConfig,
        files: &[String],
    ) -> Self {
        let mut unwrapped = config.clone();
        unwrapped.line_width = 0;
        DatasetFormat {
            kind,
            tokens,
            files: files.to_vec(),
            residues: FastaFormat::new(&unwrapped),
        }
    }

    /// Append the row of one emitted record: a JSON line to `out`, or a Parquet row to
    /// the block's columns in `scratch` (written to `out` by `end_block`).
    pub fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        let description = std::str::from_utf8(e.record.description()).unwrap_or("");
        match self.kind {
            DatasetKind::Jsonl => {
                let bytes = &mut scratch.bytes;
                bytes.clear();
                self.residues.write_residues(bytes, e);
                let mut positions = Vec::new();
                e.marks.push_selected(&mut positions);
                let mut row = Row {
                    file: &self.files[e.file],
                    id: e.record.id,
                    replicate: e.replicate,
                    length: e.outcome.length,
                    t: e.outcome.t,
                    rate: e.outcome.rate,
                    masked: e.outcome.masked,
                    description,
                    sequence: std::str::from_utf8(e.record.seq).unwrap_or(""),
                    masked_sequence: std::str::from_utf8(bytes).unwrap_or(""),
                    positions,
                    input_ids: None,
                    labels: None,
                };
                if self.tokens.is_some() {
                    let (mut ids, mut labels) = (Vec::new(), Vec::new());
                    esm_ids(e.record.seq, &e.marks.by_position, &mut ids, &mut labels);
                    row.input_ids = Some(ids);
                    row.labels = Some(labels);
                }
                row.json(out);
            }
            DatasetKind::Parquet => {
                let columns = scratch
                    .rows
                    .get_or_insert_with(|| Columns::new(self.tokens.is_some()));
                columns.start_row(&Scalars {
                    file: self.files[e.file].as_bytes(),
                    id: e.record.id.as_bytes(),
                    replicate: e.replicate,
                    length: e.outcome.length,
                    t: e.outcome.t,
                    rate: e.outcome.rate,
                    masked: e.outcome.masked,
                    description: description.as_bytes(),
                    sequence: e.record.seq,
                });
                self.residues.write_residues(columns.masked_sequence(), e);
                e.marks.push_selected(columns.positions());
                if let Some((ids, labels)) = columns.tokens() {
                    esm_ids(e.record.seq, &e.marks.by_position, ids, labels);
                }
                columns.end_row();
            }
        }
    }

    /// At the end of a block: its Parquet rows, as one piece, to `out`.
    pub fn end_block(&self, out: &mut Vec<u8>, scratch: &mut Scratch) {
        if let Some(columns) = &mut scratch.rows {
            if columns.rows() > 0 {
                columns.write_piece(out);
            }
            columns.clear();
        }
    }
}

/// One row, borrowed from the record (the positions and token ids computed).
#[derive(serde::Serialize)]
struct Row<'a> {
    file: &'a str,
    id: &'a str,
    replicate: u32,
    length: usize,
    t: f64,
    rate: f64,
    masked: usize,
    description: &'a str,
    sequence: &'a str,
    masked_sequence: &'a str,
    positions: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_ids: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<i32>>,
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

impl Row<'_> {
    /// One JSON object and a newline.
    fn json(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail, and every field is plain data.
        let _ = serde_json::to_writer(&mut *out, self);
        out.push(b'\n');
    }
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

/// The rows of a dataset file, in order; errors name the file and the row.
pub fn read_rows(
    file: &DatasetFile,
) -> io::Result<Box<dyn Iterator<Item = Result<DatasetRow, String>>>> {
    let name = file.path.display().to_string();
    match file.kind {
        DatasetKind::Jsonl => {
            let (_, raw) = crate::io::open_input(&crate::io::InputSource::Path(file.path.clone()))?;
            let lines = io::BufRead::lines(io::BufReader::new(raw));
            Ok(Box::new(lines.enumerate().map(move |(i, line)| {
                let line = line.map_err(|e| format!("{name}: line {}: {e}", i + 1))?;
                serde_json::from_str(&line).map_err(|e| format!("{name}: line {}: {e}", i + 1))
            })))
        }
        DatasetKind::Parquet => {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let f = std::fs::File::open(&file.path)
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
