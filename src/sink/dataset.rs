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
//! Parquet row is a length-framed binary record, which the writer thread appends to Arrow
//! builders and writes one row group at a time. A row group is cut every
//! `ROW_GROUP_ROWS` rows (or earlier, at a row boundary, when its text grows past
//! `ROW_GROUP_BYTES`), so the file's bytes depend on the rows only, never on `-j` or the
//! block size, and memory stays bounded whatever the input.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression as ParquetCompression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::sync::mpsc;

use super::Emitted;
use super::fasta::FastaFormat;
use crate::config::MaskConfig;
use crate::io::{Compression, Output, OutputDigest};
use crate::mask::mark;

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 8192;
/// A row group is also cut (at a row boundary) once its rows hold this many bytes.
pub const ROW_GROUP_BYTES: usize = 128 << 20;

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

/// A token vocabulary for `input_ids` and `labels` (`--tokens`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Vocab {
    /// The 33-token ESM alphabet (fair-esm `Alphabet.from_architecture("ESM-1b")`; ESM-2,
    /// ESM-1b, DPLM, and ESM3's sequence track).
    Esm,
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

    /// Append the row of one emitted record.
    pub fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Vec<u8>) {
        scratch.clear();
        self.residues.write_residues(scratch, e);
        let mut row = Row {
            file: &self.files[e.file],
            id: e.record.id,
            replicate: e.replicate,
            length: e.outcome.length,
            t: e.outcome.t,
            rate: e.outcome.rate,
            masked: e.outcome.masked,
            description: std::str::from_utf8(e.record.description()).unwrap_or(""),
            sequence: std::str::from_utf8(e.record.seq).unwrap_or(""),
            masked_sequence: std::str::from_utf8(scratch).unwrap_or(""),
            positions: e.marks.selected().map(|p| p as i32).collect(),
            input_ids: None,
            labels: None,
        };
        if self.tokens.is_some() {
            let (mut ids, mut labels) = (Vec::new(), Vec::new());
            esm_ids(e.record.seq, &e.marks.by_position, &mut ids, &mut labels);
            row.input_ids = Some(ids);
            row.labels = Some(labels);
        }
        match self.kind {
            DatasetKind::Jsonl => row.json(out),
            DatasetKind::Parquet => row.framed(out),
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

    /// The row as a frame for the Parquet writer: u32 length of the rest, then the fields
    /// (strings as u32 length + bytes, lists as u32 count + i32 values, little-endian).
    fn framed(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        let str_ = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        str_(out, self.file);
        str_(out, self.id);
        out.extend_from_slice(&self.replicate.to_le_bytes());
        out.extend_from_slice(&(self.length as u64).to_le_bytes());
        out.extend_from_slice(&self.t.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&(self.masked as u64).to_le_bytes());
        str_(out, self.description);
        str_(out, self.sequence);
        str_(out, self.masked_sequence);
        let list = |out: &mut Vec<u8>, values: &[i32]| {
            out.extend_from_slice(&(values.len() as u32).to_le_bytes());
            out.reserve(4 * values.len());
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        };
        list(out, &self.positions);
        match (&self.input_ids, &self.labels) {
            (Some(ids), Some(labels)) => {
                out.push(1);
                list(out, ids);
                list(out, labels);
            }
            _ => out.push(0),
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// The Parquet file: framed rows in, row groups out. A full row group's frames go to the
/// worker pool, which builds its Arrow arrays and encodes its column chunks; the chunks
/// are appended to the file in row-group order (a chunk's bytes depend only on its rows,
/// so the file is the same whichever thread encoded it).
pub struct ParquetSink {
    writer: Option<SerializedFileWriter<Output>>,
    factory: ArrowRowGroupWriterFactory,
    pool: Arc<rayon::ThreadPool>,
    name: String,
    schema: SchemaRef,
    tokens: bool,
    /// The frames of the row group being filled, and its rows and text bytes.
    group: Vec<u8>,
    rows: usize,
    /// Row groups handed to the pool, oldest first.
    encoding: std::collections::VecDeque<mpsc::Receiver<Result<Vec<ArrowColumnChunk>, String>>>,
    next_index: usize,
    /// Bytes of a frame not complete yet (a spilled input is copied in pieces).
    partial: Vec<u8>,
}

/// Row groups encoded at once (a bound on the memory they hold).
const GROUPS_IN_FLIGHT: usize = 2;

/// The builders of one row group.
struct Columns {
    file: StringBuilder,
    id: StringBuilder,
    replicate: Int32Builder,
    length: Int32Builder,
    t: Float64Builder,
    rate: Float64Builder,
    masked: Int32Builder,
    description: StringBuilder,
    sequence: StringBuilder,
    masked_sequence: StringBuilder,
    positions: ListBuilder<Int32Builder>,
    input_ids: Option<ListBuilder<Int32Builder>>,
    labels: Option<ListBuilder<Int32Builder>>,
    rows: usize,
    bytes: usize,
}

fn list_builder() -> ListBuilder<Int32Builder> {
    ListBuilder::new(Int32Builder::new()).with_field(Field::new("item", DataType::Int32, true))
}

/// The Arrow schema of a dataset, `input_ids` and `labels` with tokens.
pub fn schema(tokens: bool) -> SchemaRef {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
    let mut fields = vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("replicate", DataType::Int32, false),
        Field::new("length", DataType::Int32, false),
        Field::new("t", DataType::Float64, false),
        Field::new("rate", DataType::Float64, false),
        Field::new("masked", DataType::Int32, false),
        Field::new("description", DataType::Utf8, false),
        Field::new("sequence", DataType::Utf8, false),
        Field::new("masked_sequence", DataType::Utf8, false),
        Field::new("positions", list.clone(), false),
    ];
    if tokens {
        fields.push(Field::new("input_ids", list.clone(), false));
        fields.push(Field::new("labels", list, false));
    }
    Arc::new(Schema::new(fields))
}

impl Columns {
    fn new(tokens: bool) -> Columns {
        Columns {
            file: StringBuilder::new(),
            id: StringBuilder::new(),
            replicate: Int32Builder::new(),
            length: Int32Builder::new(),
            t: Float64Builder::new(),
            rate: Float64Builder::new(),
            masked: Int32Builder::new(),
            description: StringBuilder::new(),
            sequence: StringBuilder::new(),
            masked_sequence: StringBuilder::new(),
            positions: list_builder(),
            input_ids: tokens.then(list_builder),
            labels: tokens.then(list_builder),
            rows: 0,
            bytes: 0,
        }
    }

    /// Append one frame (without its length prefix).
    fn push(&mut self, frame: &[u8]) -> io::Result<()> {
        let mut r = Reader(frame);
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "internal error: bad row");
        self.file.append_value(r.str().ok_or_else(invalid)?);
        self.id.append_value(r.str().ok_or_else(invalid)?);
        self.replicate
            .append_value(int32(u64::from(r.u32().ok_or_else(invalid)?))?);
        self.length
            .append_value(int32(r.u64().ok_or_else(invalid)?)?);
        self.t
            .append_value(f64::from_bits(r.u64().ok_or_else(invalid)?));
        self.rate
            .append_value(f64::from_bits(r.u64().ok_or_else(invalid)?));
        self.masked
            .append_value(int32(r.u64().ok_or_else(invalid)?)?);
        self.description.append_value(r.str().ok_or_else(invalid)?);
        self.sequence.append_value(r.str().ok_or_else(invalid)?);
        self.masked_sequence
            .append_value(r.str().ok_or_else(invalid)?);
        r.list(&mut self.positions).ok_or_else(invalid)?;
        if r.byte().ok_or_else(invalid)? == 1 {
            let (ids, labels) = match (&mut self.input_ids, &mut self.labels) {
                (Some(i), Some(l)) => (i, l),
                _ => return Err(invalid()),
            };
            r.list(ids).ok_or_else(invalid)?;
            r.list(labels).ok_or_else(invalid)?;
        }
        self.rows += 1;
        self.bytes += frame.len();
        Ok(())
    }

    /// The row group so far, as a batch; the builders start again empty.
    fn batch(&mut self, schema: &SchemaRef) -> io::Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.replicate.finish()),
            Arc::new(self.length.finish()),
            Arc::new(self.t.finish()),
            Arc::new(self.rate.finish()),
            Arc::new(self.masked.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.sequence.finish()),
            Arc::new(self.masked_sequence.finish()),
            Arc::new(self.positions.finish()),
        ];
        if let (Some(i), Some(l)) = (&mut self.input_ids, &mut self.labels) {
            columns.push(Arc::new(i.finish()));
            columns.push(Arc::new(l.finish()));
        }
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(Arc::clone(schema), columns).map_err(io::Error::other)
    }
}

/// A number as Parquet's int32, or an error (a record of 2^31 residues or more).
fn int32(v: u64) -> io::Result<i32> {
    i32::try_from(v).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{v} does not fit the dataset's int32 columns (a record of 2^31 residues?)"),
        )
    })
}

/// Reads a frame's fields in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn list(&mut self, b: &mut ListBuilder<Int32Builder>) -> Option<()> {
        let n = self.u32()? as usize;
        let values = self.take(4 * n)?;
        let v = b.values();
        for c in values.chunks_exact(4) {
            v.append_value(i32::from_le_bytes(c.try_into().ok()?));
        }
        b.append(true);
        Some(())
    }
}

/// The Parquet path of a list column's values.
fn list_item(column: &str) -> ColumnPath {
    ColumnPath::new(vec![column.into(), "list".into(), "item".into()])
}

impl ParquetSink {
    /// A Parquet writer on `out` (an atomic output: nothing is left at the path unless the
    /// file is finished), encoding on `pool`.
    pub fn new(
        out: Output,
        tokens: bool,
        pool: &Arc<rayon::ThreadPool>,
    ) -> io::Result<ParquetSink> {
        let name = out.name().to_string();
        let schema = schema(tokens);
        let props = WriterProperties::builder()
            .set_compression(ParquetCompression::SNAPPY)
            .set_created_by(format!("protmask {}", env!("CARGO_PKG_VERSION")))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            // Dictionaries pay only where values repeat (the file name, and token ids, of
            // which there are 33); elsewhere they cost a failed try. Positions ascend:
            // their deltas pack into a few bits each.
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("file"), true)
            .set_column_dictionary_enabled(list_item("input_ids"), true)
            .set_column_dictionary_enabled(list_item("labels"), true)
            .set_column_encoding(list_item("positions"), Encoding::DELTA_BINARY_PACKED)
            // Residue text is nearly incompressible for Snappy (about 4.2 bits of entropy
            // a letter, few repeats): compressing it only costs time.
            .set_column_compression(
                ColumnPath::from("sequence"),
                ParquetCompression::UNCOMPRESSED,
            )
            .set_column_compression(
                ColumnPath::from("masked_sequence"),
                ParquetCompression::UNCOMPRESSED,
            )
            .build();
        // ArrowWriter records the Arrow schema in the file's metadata; its lower-level
        // parts then take the row groups encoded elsewhere.
        let (writer, factory) = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(io::Error::other)?;
        Ok(ParquetSink {
            writer: Some(writer),
            factory,
            pool: Arc::clone(pool),
            name,
            schema,
            tokens,
            group: Vec::new(),
            rows: 0,
            encoding: std::collections::VecDeque::new(),
            next_index: 0,
            partial: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hand the row group being filled to the pool.
    fn end_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        while self.encoding.len() >= GROUPS_IN_FLIGHT {
            self.append_oldest()?;
        }
        let writers = self
            .factory
            .create_column_writers(self.next_index)
            .map_err(io::Error::other)?;
        self.next_index += 1;
        let frames = std::mem::take(&mut self.group);
        self.rows = 0;
        let (schema, tokens) = (Arc::clone(&self.schema), self.tokens);
        let (tx, rx) = mpsc::channel();
        self.pool.spawn(move || {
            let _ = tx.send(encode_group(&frames, tokens, &schema, writers));
        });
        self.encoding.push_back(rx);
        Ok(())
    }

    /// Wait for the oldest row group handed out and append it to the file.
    fn append_oldest(&mut self) -> io::Result<()> {
        let Some(rx) = self.encoding.pop_front() else {
            return Ok(());
        };
        let chunks = rx
            .recv()
            .map_err(|_| io::Error::other("internal error: a row group was lost"))?
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("internal error: the dataset is closed"))?;
        let mut group = writer.next_row_group().map_err(io::Error::other)?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut group)
                .map_err(io::Error::other)?;
        }
        group.close().map_err(io::Error::other)?;
        Ok(())
    }

    /// Take in every complete frame of `buf` (after what was left over).
    fn take_frames(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.partial.is_empty() {
            let rest = self.frames(buf)?;
            self.partial.extend_from_slice(rest);
        } else {
            let mut partial = std::mem::take(&mut self.partial);
            partial.extend_from_slice(buf);
            let rest = self.frames(&partial)?.to_vec();
            self.partial = rest;
        }
        Ok(())
    }

    /// The complete frames at the start of `buf`, taken in; the incomplete rest.
    fn frames<'b>(&mut self, mut buf: &'b [u8]) -> io::Result<&'b [u8]> {
        while buf.len() >= 4 {
            let n = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + n {
                break;
            }
            self.group.extend_from_slice(&buf[..4 + n]);
            self.rows += 1;
            buf = &buf[4 + n..];
            if self.rows >= ROW_GROUP_ROWS || self.group.len() >= ROW_GROUP_BYTES {
                self.end_group()?;
            }
        }
        Ok(buf)
    }

    /// Write the last row group and the footer, then publish the file.
    pub fn finish(mut self) -> io::Result<Option<OutputDigest>> {
        if !self.partial.is_empty() {
            return Err(io::Error::other("internal error: a dataset row was cut"));
        }
        self.end_group()?;
        while !self.encoding.is_empty() {
            self.append_oldest()?;
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("internal error: the dataset is closed"))?;
        let out = writer.into_inner().map_err(io::Error::other)?;
        out.finish()
    }
}

/// One row group, on a pool thread: the frames into Arrow arrays, each column encoded.
fn encode_group(
    frames: &[u8],
    tokens: bool,
    schema: &SchemaRef,
    writers: Vec<ArrowColumnWriter>,
) -> Result<Vec<ArrowColumnChunk>, String> {
    let mut columns = Columns::new(tokens);
    let mut buf = frames;
    while buf.len() >= 4 {
        let n = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        columns.push(&buf[4..4 + n]).map_err(|e| e.to_string())?;
        buf = &buf[4 + n..];
    }
    let batch = columns.batch(schema).map_err(|e| e.to_string())?;
    let mut chunks = Vec::with_capacity(writers.len());
    let mut writers = writers.into_iter();
    for (array, field) in batch.columns().iter().zip(schema.fields()) {
        for leaf in compute_leaves(field, array).map_err(|e| e.to_string())? {
            let mut w = writers
                .next()
                .ok_or_else(|| "internal error: a column without a writer".to_string())?;
            w.write(&leaf).map_err(|e| e.to_string())?;
            chunks.push(w.close().map_err(|e| e.to_string())?);
        }
    }
    Ok(chunks)
}

impl Write for ParquetSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take_frames(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
