//! The dataset (`--dataset PATH`): one row per emitted record, in output order, with
//! everything an evaluation or training script needs, so that no join of FASTA and table is
//! written by hand (docs/reference.md, "Dataset").
//!
//! Columns, in order: `file id replicate length t rate masked description sequence
//! masked_sequence positions`, and with `--tokens` `input_ids labels`, with
//! `--max-length` `crop_start original_length`, with `--split` `split`. Two formats, by
//! the file name: Parquet (`parquet.rs`) and JSON Lines (`jsonl.rs`). What both take from
//! an emitted record is made here (`Fields`), as are the token ids of each vocabulary
//! (`Vocab::ids`, one table each, shared by the writers, `verify` and Python) and the
//! reading of rows back for `verify`.

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
        /// EvoDiff's 31 symbols (`sequence_models` `MSA_ALPHABET`,
        /// `ACDEFGHIKLMNPQRSTVWYBZXJOU-*#@!`; its OADM and D3PM models).
        Evodiff = "evodiff",
    }
}

/// The label of a position that is not selected, in every vocabulary (PyTorch's
/// `CrossEntropyLoss` `ignore_index`).
pub const IGNORE: i32 = -100;

/// One vocabulary's ids: a row is `start`, one id per residue, `stop`; a masked position
/// is `mask` whatever the mask token.
#[derive(Debug)]
pub struct TokenIds {
    pub start: i32,
    pub stop: i32,
    pub mask: i32,
    /// Each byte's id as a residue.
    table: [i32; 256],
    /// The `input_ids` and `labels` entries of a residue `r` with mark `m`, at index
    /// `m << 8 | r` (every id fits an i8: `tests`), so a position costs one lookup.
    pairs: Box<[[i8; 2]; 1 << 16]>,
}

impl TokenIds {
    /// The id of a residue (one id per residue, always).
    pub fn id(&self, residue: u8) -> i32 {
        self.table[usize::from(residue)]
    }

    /// `symbols[i]` takes id `first + i`, a lowercase letter its uppercase letter's id,
    /// any other byte `other`.
    fn new(start: i32, stop: i32, mask: i32, symbols: &[u8], first: i32, other: i32) -> Self {
        let mut table = [other; 256];
        for (i, &r) in symbols.iter().enumerate() {
            let id = first + i as i32;
            table[usize::from(r)] = id;
            if r.is_ascii_uppercase() {
                table[usize::from(r.to_ascii_lowercase())] = id;
            }
        }
        let mut pairs = Box::new([[0i8; 2]; 1 << 16]);
        for (i, pair) in pairs.iter_mut().enumerate() {
            let (m, r) = ((i >> 8) as u8, i & 0xFF);
            let (id, label) = match m {
                mark::NONE => (table[r], IGNORE),
                mark::TOKEN => (mask, table[r]),
                mark::KEPT => (table[r], table[r]),
                replaced => (table[usize::from(replaced)], table[r]),
            };
            *pair = [id as i8, label as i8];
        }
        TokenIds {
            start,
            stop,
            mask,
            table,
            pairs,
        }
    }
}

impl Vocab {
    /// This vocabulary's ids.
    pub fn ids(self) -> &'static TokenIds {
        use std::sync::OnceLock;
        static ESM: OnceLock<TokenIds> = OnceLock::new();
        static EVODIFF: OnceLock<TokenIds> = OnceLock::new();
        match self {
            Vocab::Esm => ESM.get_or_init(|| {
                TokenIds::new(esm::CLS, esm::EOS, esm::MASK, esm::RESIDUES, 4, esm::UNK)
            }),
            Vocab::Evodiff => EVODIFF.get_or_init(|| {
                use evodiff::*;
                TokenIds::new(START, STOP, MASK, ALPHABET, 0, X)
            }),
        }
    }
}

/// ESM ids: `<cls>` 0, `<pad>` 1, `<eos>` 2, `<unk>` 3, residues 4..=30, `<mask>` 32.
pub mod esm {
    pub const CLS: i32 = 0;
    pub const PAD: i32 = 1;
    pub const EOS: i32 = 2;
    pub const UNK: i32 = 3;
    pub const MASK: i32 = 32;
    /// Residues in id order from 4.
    pub const RESIDUES: &[u8; 27] = b"LAGVSERTIDPKQNFYMHWCXBUZO.-";
    /// The label of a position that is not selected.
    pub const IGNORE: i32 = super::IGNORE;

    /// The id of a residue: a lowercase letter takes its uppercase letter's id; any other
    /// byte is `<unk>` (one id per residue, always).
    pub fn id(residue: u8) -> i32 {
        super::Vocab::Esm.ids().id(residue)
    }
}

/// EvoDiff ids: the index in `ACDEFGHIKLMNPQRSTVWYBZXJOU-*#@!` (the 26 letters 0..=25,
/// gap `-` 26, stop `*` 27, mask `#` 28, start `@` 29, pad `!` 30). A row is `@` … `*`,
/// as ESM's is `<cls>` … `<eos>` (EvoDiff's `OAMaskCollater` adds neither).
pub mod evodiff {
    /// The 31 symbols in id order.
    pub const ALPHABET: &[u8; 31] = b"ACDEFGHIKLMNPQRSTVWYBZXJOU-*#@!";
    pub const GAP: i32 = 26;
    pub const STOP: i32 = 27;
    pub const MASK: i32 = 28;
    pub const START: i32 = 29;
    pub const PAD: i32 = 30;
    /// `X`, the id of any byte outside the alphabet (EvoDiff's tokenizer has no unknown
    /// symbol and raises `KeyError` there).
    pub const X: i32 = 22;
}

/// What a dataset row takes from an emitted record, beside its scalar fields.
#[derive(Clone, Debug)]
pub(super) struct Fields {
    /// Each input's `file` value.
    pub files: Vec<String>,
    tokens: Option<Vocab>,
    /// `--max-length` given: rows have `crop_start` and `original_length`.
    crop: bool,
    /// `--split` given: rows have `split`, one of these names.
    splits: Option<Vec<String>>,
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
            crop: config.max_length.is_some(),
            splits: config.split.as_ref().map(|s| s.names()),
            residues: FastaFormat::new(&unwrapped),
        }
    }

    pub fn has_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Rows have `crop_start` and `original_length`.
    pub fn crops(&self) -> bool {
        self.crop
    }

    /// Rows have `split`.
    pub fn splits(&self) -> bool {
        self.splits.is_some()
    }

    /// The `split` of a row (with `--split`).
    pub fn split<'s>(&'s self, e: &Emitted) -> Option<&'s str> {
        Some(self.splits.as_ref()?.get(e.split?)?.as_str())
    }

    /// `crop_start` and `original_length` of a row (0 and the length, not cropped).
    pub fn crop_fields(&self, e: &Emitted) -> (i64, i64) {
        match e.window {
            Some(w) => (w.start as i64, w.original_length as i64),
            None => (0, e.record.seq.len() as i64),
        }
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
    pub fn tokens<T: TokenId>(&self, e: &Emitted, ids: &mut Vec<T>, labels: &mut Vec<T>) {
        if let Some(vocab) = self.tokens {
            token_ids(vocab, e.record.seq, &e.marks.by_position, ids, labels);
        }
    }
}

/// `input_ids` and `labels` of one record in `vocab`, from its original residues and its
/// marks: start … stop; a masked position is the mask id whatever the token; a replaced
/// or kept one is its residue's id; labels carry the original's id at every selected
/// position and `IGNORE` (-100) elsewhere.
pub fn token_ids<T: TokenId>(
    vocab: Vocab,
    seq: &[u8],
    marks: &[u8],
    ids: &mut Vec<T>,
    labels: &mut Vec<T>,
) {
    let v = vocab.ids();
    let n = seq.len().min(marks.len());
    let (i0, l0) = (ids.len(), labels.len());
    ids.resize(i0 + n + 2, T::from_id(v.start));
    labels.resize(l0 + n + 2, T::from_id(IGNORE));
    ids[i0 + n + 1] = T::from_id(v.stop);
    // One lookup a position, without a branch on the mark (selected positions fall at
    // random, so a branch would be mispredicted often).
    let rows = (seq.iter().zip(marks))
        .zip(&mut ids[i0 + 1..i0 + n + 1])
        .zip(&mut labels[l0 + 1..l0 + n + 1]);
    for (((&r, &m), id), label) in rows {
        // A u16 index: no bounds check against the 65,536 entries.
        let [i, l] = v.pairs[usize::from(u16::from(m) << 8 | u16::from(r))];
        *id = T::from_id(i32::from(i));
        *label = T::from_id(i32::from(l));
    }
}

/// How a column holds a token id: int32 (JSON Lines, Python), or i8 (Parquet's rows on
/// their way to the encoder; every vocabulary's ids and `IGNORE` fit, `tests` check).
pub trait TokenId: Copy {
    fn from_id(id: i32) -> Self;
}

impl TokenId for i32 {
    fn from_id(id: i32) -> i32 {
        id
    }
}

impl TokenId for i8 {
    fn from_id(id: i32) -> i8 {
        id as i8
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
    /// With `--max-length`: the window's start in the original, and its length.
    #[serde(default)]
    pub crop_start: Option<i64>,
    #[serde(default)]
    pub original_length: Option<i64>,
    /// With `--split`: the row's split.
    #[serde(default)]
    pub split: Option<String>,
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
        // A dataset folder: its shards one after the other (one split), each opened when
        // the one before it is read (thousands of shards, one descriptor). A folder of
        // several splits is read a split at a time (`read_shards`, `check::dataset`).
        Format::Parquet if path.is_dir() => {
            let splits = super::shards::read_folder(path).map_err(io::Error::other)?;
            let [(_, shards)] = &splits[..] else {
                return Err(io::Error::other(format!(
                    "{name}: a dataset folder of several splits ({}) is read a split at a time",
                    splits
                        .iter()
                        .map(|s| s.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            Ok(read_shards(shards.clone()))
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

/// The rows of one split's shards of a dataset folder, in order, each shard opened when
/// the one before it is read.
pub fn read_shards(
    shards: Vec<std::path::PathBuf>,
) -> Box<dyn Iterator<Item = Result<DatasetRow, String>>> {
    Box::new(shards.into_iter().flat_map(|shard| {
        let rows: Box<dyn Iterator<Item = Result<DatasetRow, String>>> =
            match read_rows(&shard, Format::Parquet) {
                Ok(rows) => rows,
                Err(e) => Box::new(std::iter::once(Err(e.to_string()))),
            };
        rows
    }))
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
    let int64s = |name: &str| -> Result<_, String> {
        match b.column_by_name(name) {
            None => Ok(None),
            Some(c) => c
                .as_primitive_opt::<arrow_array::types::Int64Type>()
                .map(Some)
                .ok_or_else(|| format!("column '{name}' is not an int64 column")),
        }
    };
    let (crop_start, original_length) = (int64s("crop_start")?, int64s("original_length")?);
    let split = match b.column_by_name(super::SPLIT_COLUMN) {
        None => None,
        Some(_) => Some(strings(super::SPLIT_COLUMN)?),
    };
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
                crop_start: crop_start.map(|c| c.value(i)),
                original_length: original_length.map(|c| c.value(i)),
                split: split.map(|c| c.value(i).to_string()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parquet rows hold token ids as i8 (`TokenId for i8`): every id of every vocabulary,
    /// and `IGNORE`, must fit, or a dataset would hold wrong ids.
    #[test]
    fn every_token_id_fits_an_i8() {
        for vocab in [Vocab::Esm, Vocab::Evodiff] {
            let v = vocab.ids();
            let ids = (0..=255u8).map(|b| v.id(b));
            for id in ids.chain([v.start, v.stop, v.mask, IGNORE]) {
                assert_eq!(i32::from(i8::from_id(id)), id, "{vocab:?}: {id}");
            }
        }
        // The control: an id outside i8 does not survive.
        assert_ne!(i32::from(i8::from_id(200)), 200);
    }
}
