//! The Parquet dataset: rows held as columns from the worker that makes them to the
//! encoder that writes them.
//!
//! A worker appends each emitted record of its block to `Columns` (one growing buffer per
//! column, strings and lists as offsets + values, as Arrow holds them) and, at the end of
//! the block, writes them into the block's buffer as one *piece*: a row count and each
//! column's section, copied whole. The writer thread takes pieces in output order and
//! copies their row ranges into the row group being filled, a section at a time (never a
//! value at a time); a full row group goes to the worker pool, where its buffers become
//! Arrow arrays without a copy and each column chunk is encoded (the list columns by
//! `parquet_lists`, the same bytes as the crate's writer in a fraction of its time). The
//! chunks are appended to the file in row-group order.
//!
//! A row group is cut every `ROW_GROUP_ROWS` rows (`ROW_GROUP_ROWS_TOKENS` with token
//! ids), or earlier, at a row boundary, once
//! its rows hold `ROW_GROUP_BYTES` bytes of strings and lists, so the file's bytes depend
//! on the rows only, never on `-j` or the block size, and memory stays bounded whatever
//! the input: `GROUPS_IN_FLIGHT` groups encoding, one filling.
//!
//! A dataset folder's split (`Target::Shards`) is the same stream of rows cut into files of
//! a fixed number of rows: a full file's row groups are appended and the file is put aside,
//! closed but for its footer (which records the inputs' digests, known only at the end),
//! and the next file starts with a fresh row group, so each file's bytes depend on its
//! rows alone.
//!
//! Piece layout (little-endian): u64 length of the rest; u64 rows; u8 flags (1: tokens,
//! 2: crop columns); `replicate length t rate masked` as rows × u64 (`t` and `rate` as f64 bits); then
//! `file id description sequence masked_sequence`, each rows × u64 end offsets and the
//! bytes; then `positions`, rows × u64 end offsets and the values as i32, (and `input_ids
//! labels`, each rows × u64 end offsets and the values as i8: every vocabulary's ids and
//! -100 fit); then with the crop flag `crop_start original_length` as rows × u64;
//! then with the split flag (4) `split` as rows × u64 end offsets and the bytes.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, ListArray, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::add_encoded_arrow_schema_to_metadata;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions,
    compute_leaves,
};
use parquet::basic::{Compression as Codec, Encoding, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::dataset::Fields;
use super::parquet_lists::{self, Lists, Shape, ValueEncoding};
use super::{Emitted, Encoder, NextShard, Scratch, Sink};
use crate::config::MaskConfig;
use crate::io::{Output, PendingOutput};
use crate::provenance::Provenance;

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 8192;
/// Rows per row group of a dataset with token ids: its rows are about eight times larger
/// (an int32 id and label a residue), and groups of 8,192 held 365 MB on the 400 MB
/// benchmark input; groups of 2,048 hold about a quarter of that.
pub const ROW_GROUP_ROWS_TOKENS: usize = 2048;
/// A row group is also cut (at a row boundary) once its rows hold this many bytes of
/// strings and list values.
pub const ROW_GROUP_BYTES: usize = 128 << 20;
/// Rows of a row group handed to a column writer at once.
const ENCODE_SLICE_ROWS: usize = 1024;
/// Row groups encoded at once (a bound on the memory they hold).
const GROUPS_IN_FLIGHT: usize = 2;

/// The Arrow schema of a dataset: `input_ids` and `labels` with tokens, and with `crop` (`--max-length`) `crop_start` and `original_length`
/// (int64) last (tests).
#[cfg(test)]
pub fn schema_with(tokens: bool, crop: bool) -> SchemaRef {
    schema_of(tokens, crop, false)
}

/// `schema_with`, and with `split` (`--split`) the `split` column (a string) after all.
pub fn schema_of(tokens: bool, crop: bool, split: bool) -> SchemaRef {
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
        Field::new("positions", list_type(), false),
    ];
    if tokens {
        fields.push(Field::new("input_ids", list_type(), false));
        fields.push(Field::new("labels", list_type(), false));
    }
    if crop {
        for name in super::CROP_COLUMNS {
            fields.push(Field::new(name, DataType::Int64, false));
        }
    }
    if split {
        fields.push(Field::new(super::SPLIT_COLUMN, DataType::Utf8, false));
    }
    Arc::new(Schema::new(fields))
}

/// The Arrow schema of a dataset made with `config` (the one its files are written with).
pub(crate) fn schema_for(config: &MaskConfig) -> SchemaRef {
    schema_of(
        config.tokens.is_some(),
        config.max_length.is_some(),
        config.split.is_some(),
    )
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Int32, true))
}

fn list_type() -> DataType {
    DataType::List(item_field())
}

/// How a Parquet dataset's column chunks are compressed (`--parquet-compression`). It
/// shapes the file, not the rows: a reader decompresses every form to the same values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Snappy for every column but the residue text (`sequence`, `masked_sequence`),
    /// which is stored uncompressed: about 4.2 bits of entropy a letter and few repeats
    /// leave Snappy, which has no entropy coder, nothing to gain but time.
    #[default]
    Snappy,
    /// Zstandard at this level for every column, the residue text too (its entropy
    /// coder packs a letter into about half a byte).
    Zstd(ZstdLevel),
    /// Nothing compressed.
    None,
}

/// The level of a bare `zstd`: the parquet crate's (and Arrow's) default. On the 50 MB
/// benchmark input level 1 made a smaller file than level 3, and faster; level 9 saved
/// under 1% more at twice the time (docs/ml.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

impl ParquetCompression {
    /// The codec of every column, set on `props`.
    fn apply(self, props: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
        match self {
            ParquetCompression::Snappy => props
                .set_compression(Codec::SNAPPY)
                .set_column_compression(ColumnPath::from("sequence"), Codec::UNCOMPRESSED)
                .set_column_compression(ColumnPath::from("masked_sequence"), Codec::UNCOMPRESSED),
            ParquetCompression::Zstd(level) => props.set_compression(Codec::ZSTD(level)),
            ParquetCompression::None => props.set_compression(Codec::UNCOMPRESSED),
        }
    }
}

impl std::fmt::Display for ParquetCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParquetCompression::Snappy => f.write_str("snappy"),
            ParquetCompression::Zstd(level) => write!(f, "zstd:{}", level.compression_level()),
            ParquetCompression::None => f.write_str("none"),
        }
    }
}

impl std::str::FromStr for ParquetCompression {
    type Err = String;

    /// `snappy`, `zstd` (level 1), `zstd:LEVEL` (as the parquet crate takes it: 1 to 22,
    /// higher is slower and not always smaller; 0 and negative levels, down to -131072, are
    /// zstd's faster ones) or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected snappy, zstd, zstd:LEVEL (LEVEL 1 to 22; 0 or negative \
                        down to -131072 for zstd's fast levels) or none";
        let level = match s.split_once(':') {
            None => match s {
                "snappy" => return Ok(ParquetCompression::Snappy),
                "none" => return Ok(ParquetCompression::None),
                "zstd" => DEFAULT_ZSTD_LEVEL,
                _ => return Err(expected.into()),
            },
            Some(("zstd", level)) => level.parse::<i32>().map_err(|_| expected.to_string())?,
            Some(_) => return Err(expected.into()),
        };
        ZstdLevel::try_new(level)
            .map(ParquetCompression::Zstd)
            .map_err(|_| format!("zstd level {level} is out of range; {expected}"))
    }
}

impl serde::Serialize for ParquetCompression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ParquetCompression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Variable-length values: end offsets (the first value starts at 0) and the values.
#[derive(Debug, Default)]
struct Var<T> {
    ends: Vec<u64>,
    values: Vec<T>,
}

impl<T: Copy> Var<T> {
    fn clear(&mut self) {
        self.ends.clear();
        self.values.clear();
    }

    /// Room for as many rows and values as `other` holds, and an eighth more.
    fn reserve_like(&mut self, other: &Var<T>) {
        reserve_like(&mut self.ends, &other.ends);
        reserve_like(&mut self.values, &other.values);
    }

    fn push(&mut self, v: &[T]) {
        self.values.extend_from_slice(v);
        self.end_row();
    }

    /// Close the current row at the values pushed so far.
    fn end_row(&mut self) {
        self.ends.push(self.values.len() as u64);
    }

    fn lists(&self) -> Lists<'_, T> {
        Lists {
            ends: &self.ends,
            values: &self.values,
        }
    }
}

/// The rows of a block (on a worker) or of a row group (on the writer), column by column.
#[derive(Debug)]
pub struct Columns {
    rows: usize,
    replicate: Vec<u64>,
    length: Vec<u64>,
    t: Vec<f64>,
    rate: Vec<f64>,
    masked: Vec<u64>,
    file: Var<u8>,
    id: Var<u8>,
    description: Var<u8>,
    sequence: Var<u8>,
    masked_sequence: Var<u8>,
    positions: Var<i32>,
    /// `input_ids` and `labels`, as i8.
    tokens: Option<(Var<i8>, Var<i8>)>,
    /// `crop_start` and `original_length`, with `--max-length`.
    crop: Option<(Vec<u64>, Vec<u64>)>,
    /// `split`, with `--split`.
    split: Option<Var<u8>>,
    /// Bytes of strings and list values (for `ROW_GROUP_BYTES`), a token id counted as
    /// 4 bytes (the int32 it is in the file), as before ids were held as i8.
    bytes: usize,
}

/// One row's scalar fields.
pub struct Scalars<'a> {
    pub file: &'a [u8],
    pub id: &'a [u8],
    pub replicate: u32,
    pub length: usize,
    pub t: f64,
    pub rate: f64,
    pub masked: usize,
    pub description: &'a [u8],
    pub sequence: &'a [u8],
    /// `crop_start` and `original_length` (kept only by columns `with_crop`).
    pub crop: (u64, u64),
    /// `split` (kept only by columns `with_split`).
    pub split: &'a [u8],
}

impl Columns {
    pub fn new(tokens: bool) -> Columns {
        Columns {
            rows: 0,
            replicate: Vec::new(),
            length: Vec::new(),
            t: Vec::new(),
            rate: Vec::new(),
            masked: Vec::new(),
            file: Var::default(),
            id: Var::default(),
            description: Var::default(),
            sequence: Var::default(),
            masked_sequence: Var::default(),
            positions: Var::default(),
            tokens: tokens.then(Default::default),
            crop: None,
            split: None,
            bytes: 0,
        }
    }

    /// With `crop_start` and `original_length` columns.
    pub fn with_crop(mut self, crop: bool) -> Columns {
        self.crop = crop.then(Default::default);
        self
    }

    /// With a `split` column.
    pub fn with_split(mut self, split: bool) -> Columns {
        self.split = split.then(Default::default);
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// No rows; the buffers keep their capacity (a worker reuses them block after block).
    pub fn clear(&mut self) {
        self.rows = 0;
        self.bytes = 0;
        self.replicate.clear();
        self.length.clear();
        self.t.clear();
        self.rate.clear();
        self.masked.clear();
        if let Some((a, b)) = &mut self.crop {
            a.clear();
            b.clear();
        }
        if let Some(v) = &mut self.split {
            v.clear();
        }
        for v in self.strings_mut() {
            v.clear();
        }
        self.positions.clear();
        for v in self.tokens_mut() {
            v.clear();
        }
    }

    /// Empty columns with room for what `other` holds (a row group sized like the last
    /// one grows without copying itself over).
    fn sized_like(other: &Columns) -> Columns {
        let mut c = Columns::new(other.tokens.is_some())
            .with_crop(other.crop.is_some())
            .with_split(other.split.is_some());
        if let (Some(v), Some(o)) = (&mut c.split, &other.split) {
            v.reserve_like(o);
        }
        reserve_like(&mut c.replicate, &other.replicate);
        reserve_like(&mut c.length, &other.length);
        reserve_like(&mut c.t, &other.t);
        reserve_like(&mut c.rate, &other.rate);
        reserve_like(&mut c.masked, &other.masked);
        for (v, o) in c.strings_mut().into_iter().zip(other.strings()) {
            v.reserve_like(o);
        }
        c.positions.reserve_like(&other.positions);
        for (v, o) in c.tokens_mut().into_iter().zip(other.token_lists()) {
            v.reserve_like(o);
        }
        c
    }

    fn strings(&self) -> [&Var<u8>; 5] {
        [
            &self.file,
            &self.id,
            &self.description,
            &self.sequence,
            &self.masked_sequence,
        ]
    }

    fn strings_mut(&mut self) -> [&mut Var<u8>; 5] {
        [
            &mut self.file,
            &mut self.id,
            &mut self.description,
            &mut self.sequence,
            &mut self.masked_sequence,
        ]
    }

    /// `input_ids` and `labels` (none without tokens).
    fn token_lists(&self) -> Vec<&Var<i8>> {
        self.tokens.iter().flat_map(|(i, l)| [i, l]).collect()
    }

    fn tokens_mut(&mut self) -> Vec<&mut Var<i8>> {
        self.tokens.iter_mut().flat_map(|(i, l)| [i, l]).collect()
    }

    /// Start a row: its scalar and string fields. The caller then appends the masked
    /// residues to `masked_sequence()`, the positions to `positions()` and, with tokens,
    /// the ids and labels to `tokens()`, and ends the row with `end_row`.
    pub fn start_row(&mut self, s: &Scalars) {
        self.replicate.push(u64::from(s.replicate));
        self.length.push(s.length as u64);
        self.t.push(s.t);
        self.rate.push(s.rate);
        self.masked.push(s.masked as u64);
        self.file.push(s.file);
        self.id.push(s.id);
        self.description.push(s.description);
        self.sequence.push(s.sequence);
        if let Some((start, len)) = &mut self.crop {
            start.push(s.crop.0);
            len.push(s.crop.1);
        }
        if let Some(v) = &mut self.split {
            v.push(s.split);
        }
    }

    pub fn masked_sequence(&mut self) -> &mut Vec<u8> {
        &mut self.masked_sequence.values
    }

    pub fn positions(&mut self) -> &mut Vec<i32> {
        &mut self.positions.values
    }

    /// `input_ids` and `labels` (`None` without tokens).
    pub fn tokens(&mut self) -> Option<(&mut Vec<i8>, &mut Vec<i8>)> {
        self.tokens
            .as_mut()
            .map(|(i, l)| (&mut i.values, &mut l.values))
    }

    pub fn end_row(&mut self) {
        self.masked_sequence.end_row();
        self.positions.end_row();
        if let Some((i, l)) = &mut self.tokens {
            i.end_row();
            l.end_row();
        }
        self.rows += 1;
    }

    /// Append the rows as one piece (layout in the module doc) to `out`.
    pub fn write_piece(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        put_u64s(out, &[self.rows as u64]);
        out.push(
            u8::from(self.tokens.is_some())
                | (u8::from(self.crop.is_some()) << 1)
                | (u8::from(self.split.is_some()) << 2),
        );
        put_u64s(out, &self.replicate);
        put_u64s(out, &self.length);
        put_le(out, &self.t, f64::to_le_bytes);
        put_le(out, &self.rate, f64::to_le_bytes);
        put_u64s(out, &self.masked);
        for s in self.strings() {
            put_u64s(out, &s.ends);
            out.extend_from_slice(&s.values);
        }
        put_u64s(out, &self.positions.ends);
        put_le(out, &self.positions.values, i32::to_le_bytes);
        for l in self.token_lists() {
            put_u64s(out, &l.ends);
            out.extend(l.values.iter().map(|&v| v as u8));
        }
        if let Some((start, len)) = &self.crop {
            put_u64s(out, start);
            put_u64s(out, len);
        }
        if let Some(v) = &self.split {
            put_u64s(out, &v.ends);
            out.extend_from_slice(&v.values);
        }
        let len = (out.len() - start - 8) as u64;
        out[start..start + 8].copy_from_slice(&len.to_le_bytes());
    }

    /// Append rows `from..to` of `piece`.
    fn append(&mut self, p: &Piece, from: usize, to: usize) {
        let fixed = |dst: &mut Vec<u64>, src: &[u8]| {
            dst.extend(src[8 * from..8 * to].chunks_exact(8).map(le_u64));
        };
        fixed(&mut self.replicate, p.replicate);
        fixed(&mut self.length, p.length);
        let floats = |dst: &mut Vec<f64>, src: &[u8]| {
            dst.extend(
                src[8 * from..8 * to]
                    .chunks_exact(8)
                    .map(|c| f64::from_bits(le_u64(c))),
            );
        };
        floats(&mut self.t, p.t);
        floats(&mut self.rate, p.rate);
        fixed(&mut self.masked, p.masked);
        if let (Some((start, len)), Some((ps, pl))) = (&mut self.crop, p.crop) {
            fixed(start, ps);
            fixed(len, pl);
        }
        let mut bytes = 0;
        let mut strings = vec![
            (&mut self.file, &p.file),
            (&mut self.id, &p.id),
            (&mut self.description, &p.description),
            (&mut self.sequence, &p.sequence),
            (&mut self.masked_sequence, &p.masked_sequence),
        ];
        if let (Some(v), Some(pv)) = (&mut self.split, &p.split) {
            strings.push((v, pv));
        }
        for (dst, src) in strings {
            let (a, b) = src.range(from, to);
            append_ends(&mut dst.ends, src, from, to, dst.values.len() as u64);
            dst.values.extend_from_slice(&src.values[a..b]);
            bytes += b - a;
        }
        let (dst, src) = (&mut self.positions, &p.positions);
        let (a, b) = src.range(from, to);
        append_ends(&mut dst.ends, src, from, to, dst.values.len() as u64);
        dst.values.extend(
            src.values[4 * a..4 * b]
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))),
        );
        bytes += 4 * (b - a);
        if let (Some((i, l)), [pi, pl]) = (&mut self.tokens, &p.tokens[..]) {
            for (dst, src) in [(i, pi), (l, pl)] {
                let (a, b) = src.range(from, to);
                append_ends(&mut dst.ends, src, from, to, dst.values.len() as u64);
                dst.values.extend(src.values[a..b].iter().map(|&v| v as i8));
                bytes += 4 * (b - a);
            }
        }
        self.rows += to - from;
        self.bytes += bytes;
    }

    /// The rows as an Arrow record batch, the buffers moved, not copied (token ids
    /// widened to int32).
    #[cfg(test)]
    fn into_batch(self, schema: &SchemaRef) -> io::Result<arrow_array::RecordBatch> {
        let columns = (self.into_columns()?.into_iter())
            .map(Column::into_array)
            .collect::<io::Result<Vec<_>>>()?;
        arrow_array::RecordBatch::try_new(Arc::clone(schema), columns).map_err(invalid)
    }

    /// The columns in schema order: Arrow arrays (the buffers moved, not copied), and the
    /// list columns as they are held, for `parquet_lists`.
    fn into_columns(self) -> io::Result<Vec<Column>> {
        let ints = |v: Vec<u64>| -> io::Result<Column> {
            let v = v.into_iter().map(int32).collect::<io::Result<Vec<i32>>>()?;
            Ok(Column::Array(Arc::new(Int32Array::from(v))))
        };
        let strings = |s: Var<u8>| -> io::Result<Column> {
            let array = StringArray::try_new(offsets(&s.ends)?, Buffer::from_vec(s.values), None)
                .map_err(invalid)?;
            Ok(Column::Array(Arc::new(array)))
        };
        let floats = |v: Vec<f64>| Column::Array(Arc::new(Float64Array::from(v)));
        let mut columns = vec![
            strings(self.file)?,
            strings(self.id)?,
            ints(self.replicate)?,
            ints(self.length)?,
            floats(self.t),
            floats(self.rate),
            ints(self.masked)?,
            strings(self.description)?,
            strings(self.sequence)?,
            strings(self.masked_sequence)?,
            Column::Positions(self.positions),
        ];
        if let Some((i, l)) = self.tokens {
            columns.extend([Column::Tokens(i), Column::Tokens(l)]);
        }
        if let Some((start, len)) = self.crop {
            for v in [start, len] {
                let v: Vec<i64> = v.into_iter().map(|x| x as i64).collect();
                columns.push(Column::Array(Arc::new(Int64Array::from(v))));
            }
        }
        if let Some(v) = self.split {
            columns.push(strings(v)?);
        }
        Ok(columns)
    }
}

/// A row group's column, as its encoder takes it.
enum Column {
    Array(ArrayRef),
    /// `positions`.
    Positions(Var<i32>),
    /// `input_ids` or `labels`.
    Tokens(Var<i8>),
}

impl Column {
    /// The column as an Arrow array (list values as int32).
    fn into_array(self) -> io::Result<ArrayRef> {
        let list = |ends: &[u64], values: Vec<i32>| -> io::Result<ArrayRef> {
            let values = Arc::new(Int32Array::new(ScalarBuffer::from(values), None));
            let array =
                ListArray::try_new(item_field(), offsets(ends)?, values, None).map_err(invalid)?;
            Ok(Arc::new(array))
        };
        match self {
            Column::Array(a) => Ok(a),
            Column::Positions(l) => list(&l.ends, l.values),
            Column::Tokens(l) => list(&l.ends, l.values.iter().map(|&v| i32::from(v)).collect()),
        }
    }
}

fn reserve_like<T>(v: &mut Vec<T>, other: &[T]) {
    v.reserve(other.len() + other.len() / 8);
}

/// Append values as little-endian bytes (on a little-endian machine the loop compiles to
/// a copy).
fn put_le<const N: usize, T: Copy>(out: &mut Vec<u8>, v: &[T], bytes: impl Fn(T) -> [u8; N]) {
    let start = out.len();
    out.resize(start + N * v.len(), 0);
    for (dst, &x) in out[start..].chunks_exact_mut(N).zip(v) {
        dst.copy_from_slice(&bytes(x));
    }
}

fn put_u64s(out: &mut Vec<u8>, v: &[u64]) {
    put_le(out, v, u64::to_le_bytes);
}

fn le_u64(c: &[u8]) -> u64 {
    u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))
}

/// The end offsets of rows `from..to` of `src`, moved to start at `base`.
fn append_ends<T>(dst: &mut Vec<u64>, src: &VarView<T>, from: usize, to: usize, base: u64) {
    let first = src.start(from);
    dst.extend(
        src.ends[8 * from..8 * to]
            .chunks_exact(8)
            .map(|c| le_u64(c) - first + base),
    );
}

/// Arrow's offsets from end offsets: 0, then each end, as int32.
fn offsets(ends: &[u64]) -> io::Result<OffsetBuffer<i32>> {
    let mut v = Vec::with_capacity(ends.len() + 1);
    v.push(0);
    for &e in ends {
        v.push(int32(e)?);
    }
    // Ends ascend by construction; `new` checks it again.
    Ok(OffsetBuffer::new(ScalarBuffer::from(v)))
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

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("internal error: {e}"))
}

/// One variable-length column of a piece, borrowed.
struct VarView<'a, T> {
    /// rows × u64 end offsets.
    ends: &'a [u8],
    /// The values' bytes (`T` as its little-endian bytes).
    values: &'a [u8],
    kind: std::marker::PhantomData<T>,
}

impl<T> VarView<'_, T> {
    fn end(&self, row: usize) -> u64 {
        le_u64(&self.ends[8 * row..8 * row + 8])
    }

    fn start(&self, row: usize) -> u64 {
        if row == 0 { 0 } else { self.end(row - 1) }
    }

    /// The values of rows `from..to` (`from < to`), as indices into the values.
    fn range(&self, from: usize, to: usize) -> (usize, usize) {
        (self.start(from) as usize, self.end(to - 1) as usize)
    }
}

/// One piece, borrowed from the bytes the worker wrote.
struct Piece<'a> {
    rows: usize,
    replicate: &'a [u8],
    length: &'a [u8],
    t: &'a [u8],
    rate: &'a [u8],
    masked: &'a [u8],
    file: VarView<'a, u8>,
    id: VarView<'a, u8>,
    description: VarView<'a, u8>,
    sequence: VarView<'a, u8>,
    masked_sequence: VarView<'a, u8>,
    positions: VarView<'a, i32>,
    tokens: Vec<VarView<'a, i8>>,
    crop: Option<(&'a [u8], &'a [u8])>,
    split: Option<VarView<'a, u8>>,
}

impl<'a> Piece<'a> {
    /// The piece at the start of `buf` and the bytes after it, or `None` if `buf` does
    /// not hold a whole piece yet. A malformed piece is an internal error.
    fn split(buf: &'a [u8]) -> io::Result<Option<(Piece<'a>, &'a [u8])>> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = le_u64(&buf[..8]) as usize;
        if buf.len() - 8 < len {
            return Ok(None);
        }
        let (body, rest) = buf[8..].split_at(len);
        let bad = || invalid("a malformed dataset piece");
        let mut r = body;
        let mut take = |n: usize| -> io::Result<&'a [u8]> {
            if r.len() < n {
                return Err(bad());
            }
            let (head, tail) = r.split_at(n);
            r = tail;
            Ok(head)
        };
        let rows = le_u64(take(8)?) as usize;
        let flags = take(1)?[0];
        let (tokens, crop, split) = (flags & 1 == 1, flags & 2 == 2, flags & 4 == 4);
        let n = rows.checked_mul(8).ok_or_else(bad)?;
        let (replicate, length, t, rate, masked) =
            (take(n)?, take(n)?, take(n)?, take(n)?, take(n)?);
        let mut var = |width: usize| -> io::Result<VarView<'a, ()>> {
            let ends = take(n)?;
            let total = if rows == 0 {
                0
            } else {
                le_u64(&ends[n - 8..]) as usize
            };
            let values = take(total.checked_mul(width).ok_or_else(bad)?)?;
            Ok(VarView {
                ends,
                values,
                kind: std::marker::PhantomData,
            })
        };
        let (file, id, description, sequence, masked_sequence) =
            (var(1)?, var(1)?, var(1)?, var(1)?, var(1)?);
        let positions = var(4)?;
        let tokens = if tokens {
            vec![var(1)?.typed(), var(1)?.typed()]
        } else {
            Vec::new()
        };
        let crop = if crop {
            Some((take(n)?, take(n)?))
        } else {
            None
        };
        let split = if split {
            // As `var(1)` reads a column (which still borrows `take`).
            let ends = take(n)?;
            let total = match rows {
                0 => 0,
                _ => le_u64(&ends[n - 8..]) as usize,
            };
            Some(VarView {
                ends,
                values: take(total)?,
                kind: std::marker::PhantomData,
            })
        } else {
            None
        };
        if !r.is_empty() {
            return Err(bad());
        }
        let piece = Piece {
            rows,
            replicate,
            length,
            t,
            rate,
            masked,
            file: file.typed(),
            id: id.typed(),
            description: description.typed(),
            sequence: sequence.typed(),
            masked_sequence: masked_sequence.typed(),
            positions: positions.typed(),
            tokens,
            crop,
            split,
        };
        Ok(Some((piece, rest)))
    }

    /// Bytes of strings and list values in row `row`.
    fn row_bytes(&self, row: usize) -> usize {
        let var = |v: &VarView<u8>| (v.end(row) - v.start(row)) as usize;
        // Token ids count 4 bytes each, as the int32s they were (the cut must not move).
        let list = |v: &VarView<i32>| 4 * (v.end(row) - v.start(row)) as usize;
        let ids = |v: &VarView<i8>| 4 * (v.end(row) - v.start(row)) as usize;
        var(&self.file)
            + var(&self.id)
            + var(&self.description)
            + var(&self.sequence)
            + var(&self.masked_sequence)
            + list(&self.positions)
            + self.tokens.iter().map(ids).sum::<usize>()
            + self.split.as_ref().map_or(0, var)
    }
}

impl<'a> VarView<'a, ()> {
    fn typed<T>(self) -> VarView<'a, T> {
        VarView {
            ends: self.ends,
            values: self.values,
            kind: std::marker::PhantomData,
        }
    }
}

/// How Parquet rows are made: each emitted record into the block's columns (kept in the
/// worker's scratch), written as one piece at the end of the block.
pub(super) struct ParquetFormat {
    fields: Fields,
    compression: ParquetCompression,
}

impl ParquetFormat {
    pub fn new(config: &MaskConfig, files: &[String]) -> ParquetFormat {
        ParquetFormat {
            fields: Fields::new(config, files),
            compression: config.parquet_compression,
        }
    }

    fn columns<'s>(&self, scratch: &'s mut Scratch) -> Option<&'s mut Columns> {
        let (tokens, crop) = (self.fields.has_tokens(), self.fields.crops());
        let split = self.fields.splits();
        scratch
            .state
            .get_or_insert_with(|| Box::new(Columns::new(tokens).with_crop(crop).with_split(split)))
            .downcast_mut::<Columns>()
    }
}

impl Encoder for ParquetFormat {
    fn write(&self, _out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        let f = &self.fields;
        let Some(columns) = self.columns(scratch) else {
            return;
        };
        columns.start_row(&Scalars {
            file: f.files[e.file].as_bytes(),
            id: e.record.id.as_bytes(),
            replicate: e.replicate,
            length: e.outcome.length,
            t: e.outcome.t,
            rate: e.outcome.rate,
            masked: e.outcome.masked,
            description: f.description(e).as_bytes(),
            sequence: e.record.seq,
            crop: {
                let (start, len) = f.crop_fields(e);
                (start as u64, len as u64)
            },
            split: f.split(e).unwrap_or("").as_bytes(),
        });
        f.masked_sequence(columns.masked_sequence(), e);
        e.marks.push_selected(columns.positions());
        if let Some((ids, labels)) = columns.tokens() {
            f.tokens(e, ids, labels);
        }
        columns.end_row();
    }

    /// The block's rows, as one piece, to `out`.
    fn end_block(&self, out: &mut Vec<u8>, scratch: &mut Scratch) {
        if let Some(columns) = self.columns(scratch) {
            if columns.rows() > 0 {
                columns.write_piece(out);
            }
            columns.clear();
        }
    }

    fn open(&self, out: Output, pool: &Arc<rayon::ThreadPool>) -> io::Result<Box<dyn Sink>> {
        Ok(Box::new(ParquetSink::new(
            out,
            self.fields.has_tokens(),
            self.fields.crops(),
            self.fields.splits(),
            self.compression,
            pool,
        )?))
    }

    fn open_shards(
        &self,
        out: Output,
        rows: u64,
        next: NextShard,
        pool: &Arc<rayon::ThreadPool>,
    ) -> io::Result<Box<dyn Sink>> {
        let (tokens, crop, split) = (
            self.fields.has_tokens(),
            self.fields.crops(),
            self.fields.splits(),
        );
        let sink = ParquetSink::new(out, tokens, crop, split, self.compression, pool)?;
        Ok(Box::new(sink.sharded(rows, next)))
    }
}

/// The Parquet file: pieces in, row groups out. A full row group goes to the worker pool,
/// which makes its Arrow arrays and encodes its column chunks; the chunks are appended to
/// the file in row-group order (a chunk's bytes depend only on its rows, so the file is
/// the same whichever thread encoded it).
pub struct ParquetSink {
    writer: Option<SerializedFileWriter<Output>>,
    factory: ArrowRowGroupWriterFactory,
    pool: Arc<rayon::ThreadPool>,
    name: String,
    schema: SchemaRef,
    /// Rows per row group.
    group_rows: usize,
    /// The row group being filled.
    group: Columns,
    /// Each leaf column's shape where `parquet_lists` encodes it.
    shapes: Arc<[Option<Shape>]>,
    /// Row groups handed to the pool, oldest first.
    encoding: VecDeque<mpsc::Receiver<Result<Vec<Chunk>, String>>>,
    next_index: usize,
    /// Bytes of a piece not complete yet (a spilled input is copied in pieces).
    partial: Vec<u8>,
    /// The run's provenance as key-value pairs (`describe`), written with the footer.
    provenance: Vec<(&'static str, String)>,
    /// How every file is written (the next shard starts with them).
    props: WriterProperties,
    /// Rows in the current file (its row groups and the one filling).
    file_rows: u64,
    /// A dataset folder's split: cut into files of so many rows.
    shards: Option<Shards>,
}

/// A split cut into files (shards) of `rows` rows each.
struct Shards {
    rows: u64,
    /// Opens shard i.
    next: NextShard,
    /// The files before the current one, every row group appended, the footer to come;
    /// their file closed meanwhile (`Output::park`). With the rows of each.
    done: Vec<(SerializedFileWriter<Output>, u64)>,
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
        crop: bool,
        split: bool,
        compression: ParquetCompression,
        pool: &Arc<rayon::ThreadPool>,
    ) -> io::Result<ParquetSink> {
        Self::with_properties(out, tokens, crop, split, compression, pool, |p| p)
    }

    /// `new`, its writer properties passed through `adjust` (tests: small pages).
    fn with_properties(
        out: Output,
        tokens: bool,
        crop: bool,
        split: bool,
        compression: ParquetCompression,
        pool: &Arc<rayon::ThreadPool>,
        adjust: impl FnOnce(WriterPropertiesBuilder) -> WriterPropertiesBuilder,
    ) -> io::Result<ParquetSink> {
        let name = out.name().to_string();
        let schema = schema_of(tokens, crop, split);
        let group_rows = if tokens {
            ROW_GROUP_ROWS_TOKENS
        } else {
            ROW_GROUP_ROWS
        };
        let props = WriterProperties::builder()
            .set_created_by(format!("protmask {}", env!("CARGO_PKG_VERSION")))
            .set_max_row_group_row_count(Some(group_rows))
            // Dictionaries pay only where values repeat (the file name, and token ids, of
            // which there are 33); elsewhere they cost a failed try. Positions ascend:
            // their deltas pack into a few bits each.
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("file"), true)
            .set_column_dictionary_enabled(ColumnPath::from(super::SPLIT_COLUMN), true)
            .set_column_dictionary_enabled(list_item("input_ids"), true)
            .set_column_dictionary_enabled(list_item("labels"), true)
            .set_column_encoding(list_item("positions"), Encoding::DELTA_BINARY_PACKED);
        let props = adjust(compression.apply(props)).build();
        let (writer, factory) = start_file(out, &schema, &props)?;
        let shapes = (writer.schema_descr().columns().iter())
            .map(|leaf| Shape::of(leaf, writer.properties()))
            .collect();
        Ok(ParquetSink {
            writer: Some(writer),
            factory,
            shapes,
            pool: Arc::clone(pool),
            name,
            schema,
            group_rows,
            group: Columns::new(tokens).with_crop(crop).with_split(split),
            encoding: VecDeque::new(),
            next_index: 0,
            partial: Vec::new(),
            provenance: Vec::new(),
            props,
            file_rows: 0,
            shards: None,
        })
    }

    /// Cut into files of `rows` rows, the first being the one it was made with and the
    /// next ones opened by `next`.
    fn sharded(mut self, rows: u64, next: NextShard) -> ParquetSink {
        self.shards = Some(Shards {
            rows: rows.max(1),
            next,
            done: Vec::new(),
        });
        self
    }

    /// Rows the current file still takes (a shard's; any number otherwise); a full shard
    /// is put aside and the next one started first.
    fn file_room(&mut self) -> io::Result<u64> {
        let limit = self.shards.as_ref().map_or(u64::MAX, |s| s.rows);
        if self.file_rows < limit {
            return Ok(limit - self.file_rows);
        }
        self.next_file()?;
        Ok(limit)
    }

    /// Append the current shard's row groups, close its file until its footer is
    /// written (`end`), and start the next shard.
    fn next_file(&mut self) -> io::Result<()> {
        self.end_group()?;
        while !self.encoding.is_empty() {
            self.append_oldest()?;
        }
        let mut writer = self.writer.take().ok_or_else(closed)?;
        writer.flush()?;
        writer.inner_mut().park()?;
        let shards = self.shards.as_mut().ok_or_else(closed)?;
        shards
            .done
            .push((writer, std::mem::take(&mut self.file_rows)));
        let out = (shards.next)(shards.done.len())?;
        let (writer, factory) = start_file(out, &self.schema, &self.props)?;
        self.writer = Some(writer);
        self.factory = factory;
        self.next_index = 0;
        Ok(())
    }

    /// Hand the row group being filled to the pool.
    fn end_group(&mut self) -> io::Result<()> {
        if self.group.rows == 0 {
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
        let next = Columns::sized_like(&self.group);
        let group = std::mem::replace(&mut self.group, next);
        let schema = Arc::clone(&self.schema);
        let shapes = Arc::clone(&self.shapes);
        let (tx, rx) = mpsc::channel();
        self.pool.spawn(move || {
            let _ = tx.send(encode_group(group, &schema, &shapes, writers));
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
            match chunk {
                Chunk::Arrow(c) => c.append_to_row_group(&mut group),
                Chunk::Lists(bytes, close) => group.append_column(&bytes, close),
            }
            .map_err(io::Error::other)?;
        }
        group.close().map_err(io::Error::other)?;
        Ok(())
    }

    /// Take in every complete piece of `buf` (after what was left over).
    fn take_pieces(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.partial.is_empty() {
            let rest = self.pieces(buf)?;
            self.partial.extend_from_slice(rest);
        } else {
            let mut partial = std::mem::take(&mut self.partial);
            partial.extend_from_slice(buf);
            let rest = self.pieces(&partial)?.to_vec();
            self.partial = rest;
        }
        Ok(())
    }

    /// The complete pieces at the start of `buf`, taken in; the incomplete rest.
    fn pieces<'b>(&mut self, mut buf: &'b [u8]) -> io::Result<&'b [u8]> {
        while let Some((piece, rest)) = Piece::split(buf)? {
            self.take_piece(&piece)?;
            buf = rest;
        }
        Ok(buf)
    }

    /// Copy a piece's rows into row groups, cutting them where the rules say.
    fn take_piece(&mut self, piece: &Piece) -> io::Result<()> {
        let mut row = 0;
        while row < piece.rows {
            let room = self.file_room()?;
            let (from, mut rows, mut bytes) = (row, self.group.rows, self.group.bytes);
            let mut full = false;
            while row < piece.rows && !full {
                bytes += piece.row_bytes(row);
                rows += 1;
                row += 1;
                full = rows >= self.group_rows
                    || bytes >= ROW_GROUP_BYTES
                    || (row - from) as u64 >= room;
            }
            self.group.append(piece, from, row);
            self.file_rows += (row - from) as u64;
            if full {
                self.end_group()?;
            }
        }
        Ok(())
    }

    /// Write the last row group and every file's footer; the files wait to be published,
    /// each with its rows (one file unless sharded).
    fn end(mut self) -> io::Result<Vec<(PendingOutput, u64)>> {
        if !self.partial.is_empty() {
            return Err(io::Error::other("internal error: a dataset row was cut"));
        }
        self.end_group()?;
        while !self.encoding.is_empty() {
            self.append_oldest()?;
        }
        let writer = self.writer.take().ok_or_else(closed)?;
        let mut files = self.shards.take().map(|s| s.done).unwrap_or_default();
        files.push((writer, self.file_rows));
        files
            .into_iter()
            .map(|(w, rows)| Ok((self.footer(w)?, rows)))
            .collect()
    }

    /// Write a file's footer (the run's provenance in it); the file waits to be published.
    fn footer(&self, mut writer: SerializedFileWriter<Output>) -> io::Result<PendingOutput> {
        // The Arrow schema (as ArrowWriter would record it, with the provenance as its
        // metadata; keys in sorted order, so the bytes do not vary), then the provenance.
        let schema = Schema::new_with_metadata(
            self.schema.fields().clone(),
            self.provenance
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        );
        let mut props = WriterProperties::builder().build();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let arrow_schema = props.key_value_metadata().into_iter().flatten().cloned();
        let provenance =
            (self.provenance.iter()).map(|(k, v)| KeyValue::new(k.to_string(), v.clone()));
        for kv in arrow_schema.chain(provenance) {
            writer.append_key_value_metadata(kv);
        }
        let out = writer.into_inner().map_err(io::Error::other)?;
        out.close()
    }
}

impl Sink for ParquetSink {
    fn name(&self) -> &str {
        &self.name
    }

    /// The run's provenance, for the footer's key-value metadata (written by `end`).
    fn describe(&mut self, provenance: &Provenance) -> io::Result<()> {
        self.provenance = provenance.key_values().map_err(io::Error::other)?;
        Ok(())
    }

    fn close(self: Box<Self>) -> io::Result<PendingOutput> {
        let mut files = self.end()?;
        match (files.pop(), files.is_empty()) {
            (Some((file, _)), true) => Ok(file),
            _ => Err(io::Error::other(
                "internal error: a sharded dataset closed as one file",
            )),
        }
    }

    fn close_shards(self: Box<Self>) -> io::Result<Vec<(PendingOutput, u64)>> {
        self.end()
    }
}

/// A file writer on `out` and the factory of its row groups' column writers.
fn start_file(
    out: Output,
    schema: &SchemaRef,
    props: &WriterProperties,
) -> io::Result<(SerializedFileWriter<Output>, ArrowRowGroupWriterFactory)> {
    // ArrowWriter's lower-level parts take the row groups encoded elsewhere. The Arrow
    // schema is recorded at the end (`footer`), carrying the run's provenance as its
    // metadata too: readers that take the Arrow schema (pyarrow) show that, not the
    // footer's own key-value pairs.
    let options = ArrowWriterOptions::new()
        .with_properties(props.clone())
        .with_skip_arrow_metadata(true);
    ArrowWriter::try_new_with_options(out, Arc::clone(schema), options)
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(io::Error::other)
}

fn closed() -> io::Error {
    io::Error::other("internal error: the dataset is closed")
}

/// One column chunk, encoded.
enum Chunk {
    /// By the parquet crate's writer.
    Arrow(ArrowColumnChunk),
    /// By `parquet_lists`: the chunk's bytes and what closing a writer returns.
    Lists(Bytes, ColumnCloseResult),
}

/// One row group, on a pool thread: each column encoded, the list columns by
/// `parquet_lists` where `shapes` has their shape, the others by the crate's writers from
/// Arrow arrays.
fn encode_group(
    group: Columns,
    schema: &SchemaRef,
    shapes: &[Option<Shape>],
    writers: Vec<ArrowColumnWriter>,
) -> Result<Vec<Chunk>, String> {
    let columns = group.into_columns().map_err(|e| e.to_string())?;
    if columns.len() != writers.len() || columns.len() != shapes.len() {
        return Err("internal error: a column without a writer".to_string());
    }
    let mut chunks = Vec::with_capacity(writers.len());
    let parts = columns.into_iter().zip(schema.fields()).zip(shapes);
    for (((column, field), shape), w) in parts.zip(writers) {
        // A row group's list values must fit int32 offsets, as Arrow's do on the crate's
        // path (`offsets`): the same error either way.
        let fits = |ends: &[u64]| int32(ends.last().copied().unwrap_or(0)).map(|_| ());
        let own = match (&column, shape) {
            (Column::Positions(v), Some(shape)) if shape.encoding() == ValueEncoding::Delta => {
                fits(&v.ends).map_err(|e| e.to_string())?;
                Some(parquet_lists::encode(shape, v.lists(), ENCODE_SLICE_ROWS))
            }
            (Column::Tokens(v), Some(shape)) => {
                fits(&v.ends).map_err(|e| e.to_string())?;
                Some(parquet_lists::encode(shape, v.lists(), ENCODE_SLICE_ROWS))
            }
            _ => None,
        };
        let chunk = match own {
            Some(encoded) => {
                let (bytes, close) = encoded.map_err(|e| e.to_string())?;
                Chunk::Lists(bytes, close)
            }
            None => {
                let array = column.into_array().map_err(|e| e.to_string())?;
                Chunk::Arrow(encode_column(&array, field, w)?)
            }
        };
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// One column by the crate's writer. One column, one leaf (no column nests a struct): the
/// writer takes the rows a slice at a time, so the levels and value indices the parquet
/// crate builds for a slice stay small (with token ids, a whole group's were over 60 MB).
fn encode_column(
    array: &ArrayRef,
    field: &Field,
    mut w: ArrowColumnWriter,
) -> Result<ArrowColumnChunk, String> {
    let mut offset = 0;
    while offset < array.len() {
        let len = ENCODE_SLICE_ROWS.min(array.len() - offset);
        let slice = array.slice(offset, len);
        let leaves = compute_leaves(field, &slice).map_err(|e| e.to_string())?;
        let [leaf] = &leaves[..] else {
            return Err("internal error: a column of several leaves".to_string());
        };
        w.write(leaf).map_err(|e| e.to_string())?;
        offset += len;
    }
    w.close().map_err(|e| e.to_string())
}

impl Write for ParquetSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take_pieces(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{OutputTarget, create_output};

    /// Each form reads back as it is written (a bare `zstd` with its level), in a manifest
    /// too; every other text is refused naming the forms.
    #[test]
    fn issue22_parquet_compression_forms_round_trip() {
        for (given, shown) in [
            ("snappy", "snappy"),
            ("none", "none"),
            ("zstd", "zstd:1"),
            ("zstd:1", "zstd:1"),
            ("zstd:22", "zstd:22"),
            ("zstd:-5", "zstd:-5"),
        ] {
            let c: ParquetCompression = given.parse().unwrap();
            assert_eq!(c.to_string(), shown);
            assert_eq!(shown.parse::<ParquetCompression>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{shown}\""));
            assert_eq!(
                serde_json::from_str::<ParquetCompression>(&json).unwrap(),
                c
            );
        }
        assert_eq!(ParquetCompression::default().to_string(), "snappy");
        for bad in [
            "", "zstd:", "zstd:23", "zstd:1.5", "gzip", "Snappy", "snappy:1", "lz4",
        ] {
            let e = bad.parse::<ParquetCompression>().unwrap_err();
            assert!(
                e.contains("expected snappy, zstd, zstd:LEVEL"),
                "{bad}: {e}"
            );
        }
        assert!(serde_json::from_str::<ParquetCompression>("\"zstd:99\"").is_err());
    }

    /// Rows of every shape: an empty sequence, a multi-byte description, several
    /// positions, with tokens or without.
    fn columns(tokens: bool, rows: usize) -> Columns {
        columns_with(tokens, false, rows)
    }

    /// `columns`, with the crop columns when `crop`.
    fn columns_with(tokens: bool, crop: bool, rows: usize) -> Columns {
        columns_of(Columns::new(tokens).with_crop(crop), rows)
    }

    /// `rows` rows appended to empty columns `c`.
    fn columns_of(mut c: Columns, rows: usize) -> Columns {
        for r in 0..rows {
            let seq = "MKVLA".repeat(r % 4);
            c.start_row(&Scalars {
                file: b"in.fa",
                id: format!("r{r}").as_bytes(),
                replicate: 1 + r as u32 % 2,
                length: seq.len(),
                t: r as f64 / 7.0,
                rate: 1.0 - r as f64 / 9.0,
                masked: r % 3,
                description: "desc é".repeat(r % 2).as_bytes(),
                sequence: seq.as_bytes(),
                crop: (r as u64 % 5, 4 * r as u64),
                split: ["train", "test", ""][r % 3].as_bytes(),
            });
            c.masked_sequence()
                .extend_from_slice(seq.replace('K', "#").as_bytes());
            c.positions().extend((0..(r % 3) as i32).map(|p| 2 * p));
            if let Some((ids, labels)) = c.tokens() {
                ids.extend((0..seq.len() as i8 + 2).map(|i| i % 33));
                labels.extend((0..seq.len() as i8 + 2).map(|i| i - 100));
            }
            c.end_row();
        }
        c
    }

    #[test]
    fn a_piece_splits_only_when_whole_and_its_rows_append_in_any_ranges() {
        for (tokens, crop) in [(false, false), (true, false), (false, true), (true, true)] {
            let all = columns_with(tokens, crop, 7);
            let mut bytes = Vec::new();
            all.write_piece(&mut bytes);
            bytes.extend_from_slice(b"next");
            let whole = bytes.len() - 4;
            for cut in 0..whole {
                assert!(Piece::split(&bytes[..cut]).unwrap().is_none(), "cut {cut}");
            }
            let (piece, rest) = Piece::split(&bytes).unwrap().unwrap();
            assert_eq!((piece.rows, rest), (7, &b"next"[..]));
            let mut group = Columns::new(tokens).with_crop(crop);
            for (from, to) in [(0, 2), (2, 3), (3, 7)] {
                group.append(&piece, from, to);
            }
            let schema = schema_with(tokens, crop);
            let want = columns_with(tokens, crop, 7).into_batch(&schema).unwrap();
            assert_eq!(group.into_batch(&schema).unwrap(), want);
        }
    }

    /// The `split` column (issue 22) rides in the piece after the others, with or
    /// without tokens and crop columns, and its values reach the batch.
    #[test]
    fn the_split_column_rides_in_the_piece() {
        use arrow_array::cast::AsArray;
        for (tokens, crop) in [(false, false), (true, true)] {
            let make = || columns_of(Columns::new(tokens).with_crop(crop).with_split(true), 7);
            let mut bytes = Vec::new();
            make().write_piece(&mut bytes);
            let (piece, rest) = Piece::split(&bytes).unwrap().unwrap();
            assert!(rest.is_empty());
            let mut group = Columns::new(tokens).with_crop(crop).with_split(true);
            group.append(&piece, 0, 3);
            group.append(&piece, 3, 7);
            let schema = schema_of(tokens, crop, true);
            let batch = group.into_batch(&schema).unwrap();
            assert_eq!(batch, make().into_batch(&schema).unwrap());
            let split = batch.column_by_name("split").unwrap().as_string::<i32>();
            let got: Vec<&str> = (0..7).map(|i| split.value(i)).collect();
            assert_eq!(got, ["train", "test", "", "train", "test", "", "train"]);
            assert_eq!(schema.fields().last().unwrap().name(), "split");
        }
    }

    #[test]
    fn a_malformed_piece_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        columns(true, 3).write_piece(&mut bytes);
        // Claim one row more than the piece holds.
        bytes[8] += 1;
        assert!(Piece::split(&bytes).is_err());
    }

    /// The file is the same whether the pieces come whole or a few bytes at a time (as a
    /// spilled input is copied back).
    #[test]
    fn pieces_written_in_fragments_give_the_same_file() {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap(),
        );
        let mut stream = Vec::new();
        for _ in 0..3 {
            columns(true, 5000).write_piece(&mut stream);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, step) in [stream.len(), 7, 4096].into_iter().enumerate() {
            let path = dir.path().join(format!("{i}.parquet"));
            let out = create_output(
                OutputTarget::Path(path.clone()),
                crate::io::Compression::None,
            )
            .unwrap();
            let mut sink = ParquetSink::new(
                out,
                true,
                false,
                false,
                ParquetCompression::default(),
                &pool,
            )
            .unwrap();
            for chunk in stream.chunks(step) {
                sink.write_all(chunk).unwrap();
            }
            Box::new(sink).close().unwrap().commit().unwrap();
            files.push(std::fs::read(&path).unwrap());
        }
        assert_eq!(files[0], files[1]);
        assert_eq!(files[0], files[2]);
        // 15,000 rows with token ids: seven full row groups of 2,048 rows, then the rest.
        let file = std::fs::File::open(dir.path().join("0.parquet")).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        let mut want = vec![ROW_GROUP_ROWS_TOKENS as i64; 7];
        want.push(15000 - 7 * ROW_GROUP_ROWS_TOKENS as i64);
        assert_eq!(groups, want);
    }

    /// Rows of every shape the list columns meet: empty position lists, rows longer than
    /// a mini-batch and than a page, token ids of several vocabularies' ranges, a run of
    /// rows where nothing is selected (labels all -100: a dictionary of one entry, 0 bits),
    /// positions that jump (wide deltas) and fall (negative ones, wrapping as i32).
    fn varied_rows(tokens: bool, rows: usize, long: u64, seed: u64) -> Columns {
        let mut state = seed | 1;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n.max(1)
        };
        let mut c = Columns::new(tokens);
        for r in 0..rows {
            let len = match next(20) {
                0 => 0,
                1 => 1000 + next(3000) as usize,
                2 => 1000 + next(long) as usize,
                _ => next(400) as usize,
            };
            let quiet = (rows / 3..rows / 3 + 300).contains(&r);
            let seq = vec![b'A'; len];
            c.start_row(&Scalars {
                file: b"in.fa",
                id: format!("r{r}").as_bytes(),
                replicate: 1,
                length: len,
                t: 0.5,
                rate: 0.5,
                masked: 0,
                description: b"",
                sequence: &seq,
                crop: (0, len as u64),
                split: b"",
            });
            c.masked_sequence().extend_from_slice(&seq);
            let picks = if quiet {
                0
            } else {
                next(len as u64 + 1) as usize
            };
            let mut p = next(100) as i32;
            for _ in 0..picks {
                p = match next(50) {
                    0 => p.wrapping_add(next(1 << 31) as i32),
                    1 => p - next(1000) as i32,
                    _ => p + 1 + next(30) as i32,
                };
                c.positions().push(p);
            }
            if let Some((ids, labels)) = c.tokens() {
                let top = if r % 2 == 0 { 33 } else { 31 };
                ids.push(0);
                labels.push(-100);
                for _ in 0..len {
                    let id = 4 + next(top - 4) as i8;
                    ids.push(if next(7) == 0 && !quiet { 32 } else { id });
                    labels.push(if next(5) == 0 && !quiet { id } else { -100 });
                }
                ids.push(2);
                labels.push(-100);
            }
            c.end_row();
        }
        c
    }

    type Adjust = fn(WriterPropertiesBuilder) -> WriterPropertiesBuilder;

    /// A dataset file of `stream` (pieces), by `parquet_lists` or (`crate_only`) by the
    /// parquet crate's writers for every column.
    fn write_file(
        stream: &[u8],
        tokens: bool,
        compression: ParquetCompression,
        adjust: Adjust,
        crate_only: bool,
    ) -> (Vec<u8>, usize) {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let out = create_output(
            OutputTarget::Path(path.clone()),
            crate::io::Compression::None,
        )
        .unwrap();
        let mut sink =
            ParquetSink::with_properties(out, tokens, false, false, compression, &pool, adjust)
                .unwrap();
        if crate_only {
            sink.shapes = vec![None; sink.shapes.len()].into();
        }
        let ours = sink.shapes.iter().filter(|s| s.is_some()).count();
        sink.write_all(stream).unwrap();
        for (p, _) in sink.end().unwrap() {
            p.commit().unwrap();
        }
        (std::fs::read(&path).unwrap(), ours)
    }

    /// The most data pages of one list column chunk in a dataset file.
    fn most_data_pages(file: Vec<u8>) -> usize {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let mut most = 0;
        for g in 0..reader.num_row_groups() {
            let group = reader.get_row_group(g).unwrap();
            for (c, column) in group.metadata().columns().iter().enumerate() {
                if column.column_path().string().ends_with("list.item") {
                    let pages = group.get_column_page_reader(c).unwrap();
                    let data = pages.map(Result::unwrap).filter(|p| p.is_data_page());
                    most = most.max(data.count());
                }
            }
        }
        most
    }

    /// The list columns written by `parquet_lists` are the parquet crate's bytes: the same
    /// file, byte for byte, with and without tokens, under every codec, with the real
    /// page limits and with pages small enough to be cut inside rows' batches and by the
    /// row count; a setting `parquet_lists` does not reproduce leaves the columns to the
    /// crate. The control: one changed id gives another file.
    #[test]
    fn issue22_list_columns_are_the_parquet_crates_bytes() {
        fn real(p: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
            p
        }
        fn small_pages(p: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
            p.set_data_page_size_limit(700)
                .set_write_batch_size(40)
                .set_data_page_row_count_limit(9)
                .set_dictionary_page_size_limit(4096)
        }
        fn batch_of_100(p: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
            p.set_write_batch_size(100)
        }
        fn small_dictionary(p: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
            p.set_dictionary_page_size_limit(1000)
        }
        // With the real limits, rows up to 25,000 values cut pages by size; small pages
        // are cut all the time, so small rows do.
        // (name, writer settings, list columns written by `parquet_lists` with tokens,
        // codecs, the longest rows)
        type Case = (&'static str, Adjust, usize, &'static [&'static str], u64);
        let cases: [Case; 4] = [
            ("real", real, 3, &["snappy"], 24000),
            (
                "small pages",
                small_pages,
                3,
                &["snappy", "zstd", "none"],
                3000,
            ),
            ("batch of 100", batch_of_100, 3, &["zstd"], 3000),
            ("small dictionary", small_dictionary, 1, &["snappy"], 3000),
        ];
        for tokens in [false, true] {
            for (name, adjust, lists, codecs, long) in cases {
                let rows = match (tokens, long > 3000) {
                    (true, true) => 2500,
                    (false, true) => 9000,
                    (true, false) => 300,
                    (false, false) => 1000,
                };
                let mut stream = Vec::new();
                for (i, cut) in [(0, rows / 4), (1, rows / 2), (2, rows / 4)] {
                    varied_rows(tokens, cut, long, 11 + i).write_piece(&mut stream);
                }
                for compression in codecs {
                    let c: ParquetCompression = compression.parse().unwrap();
                    let (ours, n) = write_file(&stream, tokens, c, adjust, false);
                    let (theirs, _) = write_file(&stream, tokens, c, adjust, true);
                    let want = if tokens { lists } else { lists.min(1) };
                    assert_eq!(n, want, "{name} {compression} tokens={tokens}: columns");
                    assert!(
                        ours == theirs,
                        "{name} {compression} tokens={tokens}: the files differ"
                    );
                    // Pages were cut inside column chunks (by size with the real limits).
                    if ["real", "small pages"].contains(&name) {
                        assert!(most_data_pages(ours) > 1, "{name}: one page a chunk");
                    }
                }
            }
            let rows = 1000;
            let mut stream = Vec::new();
            for (i, cut) in [(0, rows / 4), (1, rows / 2), (2, rows / 4)] {
                varied_rows(tokens, cut, 3000, 11 + i).write_piece(&mut stream);
            }
            // The control: the comparison sees a single value.
            let mut changed = Vec::new();
            let mut first = varied_rows(tokens, rows / 4, 3000, 11);
            if let Some((ids, _)) = first.tokens() {
                ids[5] = if ids[5] == 7 { 8 } else { 7 };
            } else {
                first.positions()[3] += 1;
            }
            first.write_piece(&mut changed);
            varied_rows(tokens, rows / 2, 3000, 12).write_piece(&mut changed);
            varied_rows(tokens, rows / 4, 3000, 13).write_piece(&mut changed);
            let c = ParquetCompression::default();
            let (ours, _) = write_file(&changed, tokens, c, real, false);
            let (theirs, _) = write_file(&stream, tokens, c, real, true);
            assert!(
                ours != theirs,
                "tokens={tokens}: a changed value went unseen"
            );
        }
    }
}
