//! The dataset's list columns (`positions`, `input_ids`, `labels`) encoded straight from
//! a row group's buffers into column chunks, byte for byte as the parquet crate's
//! `ArrowColumnWriter` encodes them.
//!
//! Why: the crate's general path does per value what these columns never need: levels
//! built into vectors, values gathered by index, a hash lookup per dictionary value, level
//! runs found value by value. With token ids that was three quarters of a dataset's time.
//! The three columns have one shape (a list that is never null of int32 items that are
//! never null), so the same pages take a few operations a value: token ids are i8 and their
//! dictionary keys come from a 256-entry table, level runs are a row's length, positions'
//! deltas are packed 32 at a time. What the bytes depend on is reproduced exactly: the
//! crate's mini-batches (a write of `ENCODE_SLICE_ROWS` rows cut at `write_batch_size`
//! levels, at a row boundary) and its page cuts after each, its RLE/bit-packing hybrid run
//! choices (`Rle`, a port of `RleEncoder`), DELTA_BINARY_PACKED blocks (`Delta`), first-seen
//! dictionary order, statistics, level histograms, the column and offset index. Page
//! headers and metadata are made by the crate's own public types (`SerializedPageWriter`,
//! `ColumnChunkMetaData`, `ColumnIndexBuilder`, `OffsetIndexBuilder`).
//!
//! A column whose writer settings this module does not reproduce (`Shape::of`) goes
//! through the crate's writer as before. The tests (`sink::parquet::tests`) write the same
//! rows both ways and compare whole files: row shapes, page cuts, codecs, dictionaries of
//! one entry. The port follows parquet 60.1 (Cargo.lock): after an upgrade of the crate,
//! that test says whether its writer still makes these bytes.

use std::collections::BTreeSet;

use bytes::Bytes;
use parquet::basic::{
    BoundaryOrder, Compression as Codec, Encoding, EncodingMask, PageType, SortOrder,
    Type as PhysicalType,
};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// How a list column's values are encoded (set by `ParquetSink::new`'s properties).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ValueEncoding {
    /// RLE_DICTIONARY data pages and a PLAIN dictionary page (token ids).
    Dictionary,
    /// DELTA_BINARY_PACKED (positions).
    Delta,
}

/// A list column this module can write, with the settings its bytes depend on.
#[derive(Clone, Debug)]
pub(super) struct Shape {
    descr: ColumnDescPtr,
    encoding: ValueEncoding,
    codec: Codec,
    batch_levels: usize,
    page_bytes: usize,
    page_rows: usize,
    dictionary_page_encoding: Encoding,
}

impl Shape {
    /// The shape of leaf `descr` under `props`, or `None` where the crate's writer must be
    /// used: any setting but those `ParquetSink` makes (format 1 pages, page statistics
    /// not in page headers, an offset index, no bloom filter, no content-defined chunks, no
    /// encryption: the crate is built without it),
    /// a column that is not a non-null list of nullable int32 items with signed order, or
    /// a codec other than Snappy, Zstandard or none.
    pub fn of(descr: &ColumnDescPtr, props: &WriterProperties) -> Option<Shape> {
        let col = descr.path();
        let typed = descr.physical_type() == PhysicalType::INT32
            && descr.max_rep_level() == 1
            && descr.max_def_level() == 2
            && descr.sort_order() == SortOrder::SIGNED;
        let settings = props.writer_version() == WriterVersion::PARQUET_1_0
            && props.statistics_enabled(col) == EnabledStatistics::Page
            && !props.write_page_header_statistics(col)
            && props.bloom_filter_properties(col).is_none()
            && !props.offset_index_disabled()
            && props.content_defined_chunking().is_none()
            && !props.write_row_group_number_distinct_values();
        let encoding = match (props.dictionary_enabled(col), props.encoding(col)) {
            (true, _) => ValueEncoding::Dictionary,
            (false, Some(Encoding::DELTA_BINARY_PACKED)) => ValueEncoding::Delta,
            _ => return None,
        };
        let codec = props.compression(col);
        let known_codec = matches!(codec, Codec::UNCOMPRESSED | Codec::SNAPPY | Codec::ZSTD(_));
        let batch_levels = props.write_batch_size();
        let (page_bytes, dict_bytes) = (
            props.column_data_page_size_limit(col),
            props.column_dictionary_page_size_limit(col),
        );
        // The crate splits a mini-batch by a byte budget unless 4 bytes a level fit the
        // page it fills (the dictionary page while a dictionary is used); and a dictionary
        // of i8 values (at most 256 entries of 4 bytes) must never reach the size where the
        // crate falls back to plain pages.
        let fits = match encoding {
            ValueEncoding::Dictionary => 4 * batch_levels <= dict_bytes && dict_bytes > 4 * 256,
            ValueEncoding::Delta => 4 * batch_levels <= page_bytes,
        };
        (typed && settings && known_codec && batch_levels > 0 && fits).then(|| Shape {
            descr: descr.clone(),
            encoding,
            codec,
            batch_levels,
            page_bytes,
            page_rows: props.column_data_page_row_count_limit(col),
            dictionary_page_encoding: props.dictionary_page_encoding(),
        })
    }

    pub fn encoding(&self) -> ValueEncoding {
        self.encoding
    }
}

/// A list column's rows: `ends[r]` is where row `r`'s values end (the first starts at 0).
pub(super) struct Lists<'a, T> {
    pub ends: &'a [u64],
    pub values: &'a [T],
}

/// One column chunk of `lists` as the crate writes it when handed the rows
/// `slice_rows` at a time: its bytes (the dictionary page first) and what closing the
/// crate's writer returns, for `SerializedRowGroupWriter::append_column`.
pub(super) fn encode<T: ListValue>(
    shape: &Shape,
    lists: Lists<T>,
    slice_rows: usize,
) -> Result<(Bytes, ColumnCloseResult)> {
    let mut chunk = Chunk::new(shape, T::values(shape.encoding))?;
    let rows = lists.ends.len();
    let end = |r: usize| lists.ends[r] as usize;
    let start = |r: usize| if r == 0 { 0 } else { end(r - 1) };
    let mut slice = 0;
    while slice < rows {
        let slice_end = rows.min(slice + slice_rows);
        // The crate's mini-batches: `batch_levels` levels from a row start, then on to
        // the next row start (an empty list is one level).
        let mut r = slice;
        while r < slice_end {
            let mut levels = 0;
            let mut r1 = r;
            while r1 < slice_end && levels < shape.batch_levels {
                levels += (end(r1) - start(r1)).max(1);
                r1 += 1;
            }
            chunk.mini_batch(&lists, r, r1, start(r), end(r1 - 1))?;
            r = r1;
        }
        slice = slice_end;
    }
    chunk.close(&lists)
}

/// A list item type: token ids (i8, dictionary-encoded) or positions (i32, delta).
pub(super) trait ListValue: Copy {
    /// The value as Parquet's int32.
    fn int32(self) -> i32;
    /// The smallest and largest of `v` (not empty), as int32.
    fn min_max(v: &[Self]) -> (i32, i32);
    /// The value encoder for `encoding`.
    fn values(encoding: ValueEncoding) -> Result<Box<dyn Values<Self>>>;
}

impl ListValue for i8 {
    fn int32(self) -> i32 {
        i32::from(self)
    }

    fn min_max(v: &[i8]) -> (i32, i32) {
        // As unsigned bytes with the sign bit flipped (the same order), which vectorise.
        let biased = |x: &i8| (*x as u8) ^ 0x80;
        let min = v.iter().map(biased).min().unwrap_or(0x80);
        let max = v.iter().map(biased).max().unwrap_or(0x80);
        (i32::from((min ^ 0x80) as i8), i32::from((max ^ 0x80) as i8))
    }

    fn values(encoding: ValueEncoding) -> Result<Box<dyn Values<i8>>> {
        match encoding {
            ValueEncoding::Dictionary => Ok(Box::new(Dictionary::new())),
            ValueEncoding::Delta => Ok(Box::new(Delta::new())),
        }
    }
}

impl ListValue for i32 {
    fn int32(self) -> i32 {
        self
    }

    fn min_max(v: &[i32]) -> (i32, i32) {
        let min = v.iter().copied().min().unwrap_or(0);
        let max = v.iter().copied().max().unwrap_or(0);
        (min, max)
    }

    fn values(encoding: ValueEncoding) -> Result<Box<dyn Values<i32>>> {
        match encoding {
            ValueEncoding::Delta => Ok(Box::new(Delta::new())),
            ValueEncoding::Dictionary => Err(ParquetError::General(
                "internal error: int32 list values are not dictionary-encoded here".into(),
            )),
        }
    }
}

/// A data page's values, encoded as the crate's `ColumnValueEncoder` for that encoding.
pub(super) trait Values<T> {
    /// Take the values of one mini-batch.
    fn put(&mut self, values: &[T]);
    /// The crate's estimate of the data page's encoded size (when to cut a page).
    fn estimated_size(&self) -> usize;
    /// The page's encoded values (`page`: every value put since the last page), appended
    /// to `out`; the encoder starts a new page.
    fn flush_page(&mut self, page: &[T], out: &mut Vec<u8>) -> Encoding;
    /// The dictionary page's values (PLAIN), and their number, if any.
    fn dictionary(&self) -> Option<(Vec<u8>, usize)>;
}

/// A page's metrics, as the crate's `PageMetrics` counts them.
#[derive(Default)]
struct PageCounts {
    levels: u32,
    rows: u32,
    /// Empty lists (their one level is below the maximum definition level).
    nulls: u64,
    rep: [i64; 2],
    def: [i64; 3],
    min_max: Option<(i32, i32)>,
}

/// One column chunk being encoded.
struct Chunk<'s, T> {
    shape: &'s Shape,
    values: Box<dyn Values<T>>,
    compressor: Compressor,
    rep: Rle,
    def: Rle,
    page: PageCounts,
    /// Where the page's values start in the column's values.
    page_start: usize,
    pages: Vec<CompressedPage>,
    rows_written: u64,
    nulls: u64,
    rep_hist: [i64; 2],
    def_hist: [i64; 3],
    min_max: Option<(i32, i32)>,
    column_index: ColumnIndexBuilder,
    offset_index: OffsetIndexBuilder,
    ascending: bool,
    descending: bool,
    last_min_max: Option<(i32, i32)>,
}

impl<'s, T: ListValue> Chunk<'s, T> {
    fn new(shape: &'s Shape, values: Result<Box<dyn Values<T>>>) -> Result<Self> {
        Ok(Chunk {
            shape,
            values: values?,
            compressor: Compressor::new(shape.codec)?,
            rep: Rle::levels(1),
            def: Rle::levels(2),
            page: PageCounts::default(),
            page_start: 0,
            pages: Vec::new(),
            rows_written: 0,
            nulls: 0,
            rep_hist: [0; 2],
            def_hist: [0; 3],
            min_max: None,
            column_index: ColumnIndexBuilder::new(PhysicalType::INT32),
            offset_index: OffsetIndexBuilder::new(),
            ascending: true,
            descending: true,
            last_min_max: None,
        })
    }

    /// Rows `from..to` (values `a..b`) as one of the crate's mini-batches
    /// (`GenericColumnWriter::write_mini_batch`), then a page cut if the crate makes one.
    fn mini_batch(
        &mut self,
        lists: &Lists<T>,
        from: usize,
        to: usize,
        a: usize,
        b: usize,
    ) -> Result<()> {
        let mut prev = a;
        let mut empties = 0u64;
        for &e in &lists.ends[from..to] {
            let n = e as usize - prev;
            prev = e as usize;
            self.rep.put(0);
            if n == 0 {
                self.def.put(0);
                empties += 1;
            } else {
                self.def.put_run(2, n);
                self.rep.put_run(1, n - 1);
            }
        }
        let rows = (to - from) as u64;
        let values = (b - a) as u64;
        let levels = values + empties;
        let p = &mut self.page;
        p.nulls += empties;
        p.def[0] += empties as i64;
        p.def[2] += values as i64;
        p.rep[0] += rows as i64;
        p.rep[1] += (levels - rows) as i64;
        p.rows += rows as u32;
        if b > a {
            let v = &lists.values[a..b];
            let (lo, hi) = T::min_max(v);
            p.min_max = Some(match p.min_max {
                Some((l, h)) => (l.min(lo), h.max(hi)),
                None => (lo, hi),
            });
            self.values.put(v);
        }
        p.levels += levels as u32;
        if p.levels > 0
            && (p.rows as usize >= self.shape.page_rows
                || self.values.estimated_size() >= self.shape.page_bytes)
        {
            self.add_page(&lists.values[self.page_start..b])?;
            self.page_start = b;
        }
        Ok(())
    }

    /// The crate's `add_data_page` (format 1, no page-header statistics) for the page
    /// holding `values`.
    fn add_page(&mut self, values: &[T]) -> Result<()> {
        let mut buf = Vec::new();
        self.rep.flush_levels(&mut buf);
        self.def.flush_levels(&mut buf);
        let encoding = self.values.flush_page(values, &mut buf);
        let page = std::mem::take(&mut self.page);
        self.nulls += page.nulls;
        if let Some((lo, hi)) = page.min_max {
            self.min_max = Some(match self.min_max {
                Some((l, h)) => (l.min(lo), h.max(hi)),
                None => (lo, hi),
            });
        }
        if self.column_index.valid() {
            self.index_page(&page);
        }
        let (rep, def) = (histogram(&page.rep), histogram(&page.def));
        self.column_index.append_histograms(&rep, &def);
        self.offset_index.append_row_count(i64::from(page.rows));
        self.offset_index
            .append_unencoded_byte_array_data_bytes(None);
        for (c, p) in self.rep_hist.iter_mut().zip(page.rep) {
            *c += p;
        }
        for (c, p) in self.def_hist.iter_mut().zip(page.def) {
            *c += p;
        }
        let uncompressed = buf.len();
        let buf = self.compressor.compress(buf)?;
        self.pages.push(CompressedPage::new(
            Page::DataPage {
                buf: buf.into(),
                num_values: page.levels,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            },
            uncompressed,
        ));
        self.rows_written += u64::from(page.rows);
        Ok(())
    }

    /// The page's entry in the column index (`update_column_offset_index`): a page of
    /// empty lists only is a null page; the boundary order is checked page by page.
    fn index_page(&mut self, page: &PageCounts) {
        let null_page = u64::from(page.rows) == page.nulls;
        match page.min_max {
            _ if null_page => {
                self.column_index
                    .append(true, vec![], vec![], page.nulls as i64, None);
            }
            Some((lo, hi)) => {
                if let Some((last_lo, last_hi)) = self.last_min_max {
                    if self.ascending && (last_lo > lo || last_hi > hi) {
                        self.ascending = false;
                    }
                    if self.descending && (lo > last_lo || hi > last_hi) {
                        self.descending = false;
                    }
                }
                self.last_min_max = Some((lo, hi));
                self.column_index.append(
                    false,
                    lo.to_le_bytes().to_vec(),
                    hi.to_le_bytes().to_vec(),
                    page.nulls as i64,
                    None,
                );
            }
            None => self.column_index.to_invalid(),
        }
    }

    /// The crate's `GenericColumnWriter::close`: the last page, the dictionary page first
    /// then the data pages (as `ArrowColumnChunk` lays them out), the metadata.
    fn close(mut self, lists: &Lists<T>) -> Result<(Bytes, ColumnCloseResult)> {
        if self.page.levels > 0 {
            self.add_page(&lists.values[self.page_start..])?;
        }
        let mut encodings = BTreeSet::from([Encoding::RLE]);
        let mut stats: Vec<PageEncodingStats> = Vec::new();
        let mut sink = TrackedWrite::new(Vec::new());
        let (mut compressed, mut uncompressed, mut bytes_written, mut num_values) =
            (0i64, 0i64, 0u64, 0i64);
        let mut dictionary_offset = None;
        let mut data_offset = None;
        {
            let mut writer = SerializedPageWriter::new(&mut sink);
            let mut pages = Vec::with_capacity(self.pages.len() + 1);
            if let Some((buf, entries)) = self.values.dictionary() {
                let uncompressed_size = buf.len();
                let buf = self.compressor.compress(buf)?;
                let page = Page::DictionaryPage {
                    buf: buf.into(),
                    num_values: entries as u32,
                    encoding: self.shape.dictionary_page_encoding,
                    is_sorted: false,
                };
                pages.push(CompressedPage::new(page, uncompressed_size));
            }
            pages.append(&mut self.pages);
            for page in pages {
                let page_type = page.page_type();
                encodings.insert(page.encoding());
                match stats.last_mut() {
                    Some(s) if s.page_type == page_type && s.encoding == page.encoding() => {
                        s.count += 1;
                    }
                    _ => stats.push(PageEncodingStats {
                        page_type,
                        encoding: page.encoding(),
                        count: 1,
                    }),
                }
                let spec = writer.write_page(page)?;
                uncompressed += spec.uncompressed_size as i64;
                compressed += spec.compressed_size as i64;
                bytes_written += spec.bytes_written;
                if page_type == PageType::DICTIONARY_PAGE {
                    dictionary_offset = Some(spec.offset as i64);
                } else {
                    num_values += i64::from(spec.num_values);
                    data_offset.get_or_insert(spec.offset as i64);
                    self.offset_index
                        .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
                }
            }
            writer.close()?;
        }
        let (min, max) = match self.min_max {
            Some((lo, hi)) => (Some(lo), Some(hi)),
            None => (None, None),
        };
        let statistics: Statistics =
            ValueStatistics::<i32>::new(min, max, None, Some(self.nulls), false)
                .with_nan_count(None)
                .with_backwards_compatible_min_max(true)
                .into();
        let metadata = ColumnChunkMetaData::builder(self.shape.descr.clone())
            .set_compression(self.shape.codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(stats)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_num_values(num_values)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset)
            .set_statistics(statistics)
            .set_unencoded_byte_array_data_bytes(None)
            .set_repetition_level_histogram(histogram(&self.rep_hist))
            .set_definition_level_histogram(histogram(&self.def_hist))
            .build()?;
        self.column_index
            .set_boundary_order(match (self.ascending, self.descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
        let column_index = match self.column_index.valid() {
            true => Some(self.column_index.build()?),
            false => None,
        };
        let bytes = Bytes::from(sink.into_inner()?);
        let close = ColumnCloseResult {
            bytes_written,
            rows_written: self.rows_written,
            metadata,
            bloom_filter: None,
            column_index,
            offset_index: Some(self.offset_index.build()),
        };
        Ok((bytes, close))
    }
}

fn histogram<const N: usize>(counts: &[i64; N]) -> Option<LevelHistogram> {
    let mut h = LevelHistogram::try_new(N as i16 - 1)?;
    for (level, &n) in counts.iter().enumerate() {
        h.increment_by(level as i16, n);
    }
    Some(h)
}

/// The page codec, as the crate's `Codec` for it compresses.
enum Compressor {
    None,
    /// The encoder, and room for its output (reused, so not zeroed page after page).
    Snappy(Box<snap::raw::Encoder>, Vec<u8>),
    Zstd(zstd::bulk::Compressor<'static>),
}

impl Compressor {
    fn new(codec: Codec) -> Result<Compressor> {
        Ok(match codec {
            Codec::UNCOMPRESSED => Compressor::None,
            Codec::SNAPPY => Compressor::Snappy(Box::new(snap::raw::Encoder::new()), Vec::new()),
            Codec::ZSTD(level) => Compressor::Zstd(
                zstd::bulk::Compressor::new(level.compression_level())
                    .map_err(|e| ParquetError::External(Box::new(e)))?,
            ),
            other => {
                return Err(ParquetError::General(format!(
                    "internal error: codec {other} is not written here"
                )));
            }
        })
    }

    fn compress(&mut self, buf: Vec<u8>) -> Result<Vec<u8>> {
        match self {
            Compressor::None => Ok(buf),
            Compressor::Snappy(encoder, room) => {
                let need = snap::raw::max_compress_len(buf.len());
                if room.len() < need {
                    room.resize(need, 0);
                }
                let n = encoder
                    .compress(&buf, room)
                    .map_err(|e| ParquetError::External(Box::new(e)))?;
                Ok(room[..n].to_vec())
            }
            Compressor::Zstd(compressor) => {
                let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(buf.len()));
                compressor
                    .compress_to_buffer(&buf, &mut out)
                    .map_err(|e| ParquetError::External(Box::new(e)))?;
                Ok(out)
            }
        }
    }
}

/// `num_required_bits`: the bits of `x`'s highest set bit.
fn bits(x: u64) -> u8 {
    64 - x.leading_zeros() as u8
}

/// The crate's `RleEncoder` (the RLE / bit-packing hybrid) for values of at most 8 bits,
/// its run decisions step for step: a run of 8 or more equal values becomes an RLE run,
/// anything else groups of 8 bit-packed, at most 63 groups a run.
struct Rle {
    bit_width: u8,
    buf: Vec<u8>,
    pending: Vec<u8>,
    current: u8,
    repeat: usize,
    /// Levels: the buffer starts with 4 bytes for the run's length (format 1 pages).
    prefix: bool,
}

const GROUP: usize = 8;
const MAX_GROUPS: usize = 64;

impl Rle {
    fn new(bit_width: u8, buf: Vec<u8>) -> Rle {
        Rle {
            bit_width,
            buf,
            pending: Vec::with_capacity(MAX_GROUPS * GROUP),
            current: 0,
            repeat: 0,
            prefix: false,
        }
    }

    /// A level encoder (`LevelEncoder::v1_streaming`) for levels up to `max_level`.
    fn levels(max_level: u64) -> Rle {
        let mut rle = Rle::new(bits(max_level), vec![0; 4]);
        rle.prefix = true;
        rle
    }

    fn put(&mut self, value: u8) {
        if self.current == value {
            self.repeat += 1;
            if self.repeat > GROUP {
                return;
            }
        } else {
            if self.repeat >= GROUP {
                self.flush_rle_run();
            }
            self.repeat = 1;
            self.current = value;
        }
        self.pending.push(value);
        if self.pending.len().is_multiple_of(GROUP) {
            self.commit_group();
        }
    }

    /// `value` `n` times (as `put_n_with_observer`: the same as `n` puts).
    fn put_run(&mut self, value: u8, mut n: usize) {
        while n > 0 && !(self.repeat >= GROUP && self.current == value) {
            self.put(value);
            n -= 1;
        }
        self.repeat += n;
    }

    /// `RleEncoder::put_batch`.
    fn put_batch(&mut self, values: &[u8]) {
        let mut i = 0;
        while i < values.len() {
            if self.repeat >= GROUP && values[i] == self.current {
                let run = values[i..]
                    .iter()
                    .take_while(|&&v| v == self.current)
                    .count();
                self.repeat += run;
                i += run;
                continue;
            }
            if self.repeat < GROUP
                && self.pending.len().is_multiple_of(GROUP)
                && values.len() - i >= GROUP
            {
                let group = &values[i..i + GROUP];
                i += GROUP;
                let word = u64::from_le_bytes(group.try_into().unwrap_or_default());
                if word == u64::from(group[0]) * 0x0101_0101_0101_0101 {
                    if !self.pending.is_empty() {
                        self.close_bit_packed_run();
                    }
                    self.current = group[0];
                    self.repeat = GROUP;
                } else {
                    self.pending.extend_from_slice(group);
                    self.current = group[GROUP - 1];
                    if self.pending.len() / GROUP + 1 >= MAX_GROUPS {
                        self.close_bit_packed_run();
                    }
                }
                continue;
            }
            self.put(values[i]);
            i += 1;
        }
    }

    /// `RleEncoder::flush`: the pending values as the last run.
    fn flush(&mut self) {
        if !self.pending.is_empty() || self.repeat > 0 {
            let tail = self.pending.len() % GROUP;
            let all_repeat = self.pending.len() == tail && (self.repeat == tail || tail == 0);
            if self.repeat > 0 && all_repeat {
                self.flush_rle_run();
            } else {
                if tail > 0 {
                    self.pending.resize(self.pending.len() + GROUP - tail, 0);
                }
                if !self.pending.is_empty() {
                    self.close_bit_packed_run();
                }
                self.repeat = 0;
            }
        }
    }

    fn flush_rle_run(&mut self) {
        put_vlq(&mut self.buf, (self.repeat as u64) << 1);
        if self.bit_width > 0 {
            self.buf.push(self.current);
        }
        self.pending.clear();
        self.repeat = 0;
    }

    fn commit_group(&mut self) {
        if self.repeat >= GROUP {
            self.pending.truncate(self.pending.len() - GROUP);
            if !self.pending.is_empty() {
                self.close_bit_packed_run();
            }
            return;
        }
        if self.pending.len() / GROUP + 1 >= MAX_GROUPS {
            self.close_bit_packed_run();
        }
        self.repeat = 0;
    }

    fn close_bit_packed_run(&mut self) {
        let groups = self.pending.len() / GROUP;
        self.buf.push(((groups << 1) | 1) as u8);
        match self.bit_width {
            1 => pack_groups::<1>(&self.pending, &mut self.buf),
            2 => pack_groups::<2>(&self.pending, &mut self.buf),
            3 => pack_groups::<3>(&self.pending, &mut self.buf),
            4 => pack_groups::<4>(&self.pending, &mut self.buf),
            5 => pack_groups::<5>(&self.pending, &mut self.buf),
            6 => pack_groups::<6>(&self.pending, &mut self.buf),
            7 => pack_groups::<7>(&self.pending, &mut self.buf),
            8 => self.buf.extend_from_slice(&self.pending),
            _ => {}
        }
        self.pending.clear();
    }

    /// `LevelEncoder::flush_to` (format 1): the levels with their 4-byte length, appended
    /// to `out`; the encoder starts again.
    fn flush_levels(&mut self, out: &mut Vec<u8>) {
        self.flush();
        let len = (self.buf.len() - 4) as i32;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.buf);
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        self.pending.clear();
        self.current = 0;
        self.repeat = 0;
    }

    /// The encoded bytes (after `flush`).
    fn finish(mut self) -> Vec<u8> {
        self.flush();
        self.buf
    }
}

/// Groups of 8 values below 2^`W` (`W` < 8) bit-packed LSB first: `W` bytes a group.
fn pack_groups<const W: usize>(values: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let groups = values.len() / GROUP;
    // Each group is written as a whole word and the next one overwrites its tail.
    out.resize(start + groups * W + 8, 0);
    for (k, g) in values.chunks_exact(GROUP).enumerate() {
        // The 8 bytes of a word merged pairwise: bytes into 2W-bit halves of 16-bit
        // lanes, those into 32-bit lanes, those into the word (value j at bit j·W).
        let x = u64::from_le_bytes(g.try_into().unwrap_or_default());
        let x = (x & 0x00FF_00FF_00FF_00FF) | ((x >> 8) & 0x00FF_00FF_00FF_00FF) << W;
        let x = (x & 0x0000_FFFF_0000_FFFF) | ((x >> 16) & 0x0000_FFFF_0000_FFFF) << (2 * W);
        let x = (x & 0xFFFF_FFFF) | (x >> 32) << (4 * W);
        out[start + k * W..start + k * W + 8].copy_from_slice(&x.to_le_bytes());
    }
    out.truncate(start + groups * W);
}

fn put_vlq(out: &mut Vec<u8>, mut v: u64) {
    while v & !0x7F != 0 {
        out.push(((v & 0x7F) | 0x80) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag_vlq(out: &mut Vec<u8>, v: i64) {
    put_vlq(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// `RleEncoder::max_buffer_size`: the crate's estimate of `n` values' RLE size.
fn rle_max_size(bit_width: u8, n: usize) -> usize {
    let runs = n.div_ceil(GROUP);
    let bit_packed = runs + runs * usize::from(bit_width);
    let rle = runs * (1 + usize::from(bit_width).div_ceil(8));
    bit_packed.max(rle)
}

/// Dictionary encoding of i8 values (`DictEncoder`): keys in first-seen order over the
/// chunk, from a table instead of a hash. A mini-batch's values are only checked for new
/// ones (the page size estimate needs the key count); a page's keys are looked up when it
/// is written.
struct Dictionary {
    /// Each value's key (as `v as u8`), `NONE` until seen.
    keys: [u16; 256],
    /// The same keys as bytes, for the lookup of a page.
    key_bytes: [u8; 256],
    /// 1 for a value not seen yet, else 0.
    unseen: [u8; 256],
    uniques: Vec<i8>,
    /// Values in the page so far.
    page_len: usize,
    /// A page's keys.
    scratch: Vec<u8>,
}

const NONE: u16 = u16::MAX;

impl Dictionary {
    fn new() -> Dictionary {
        Dictionary {
            keys: [NONE; 256],
            key_bytes: [0; 256],
            unseen: [1; 256],
            uniques: Vec::new(),
            page_len: 0,
            scratch: Vec::new(),
        }
    }

    fn bit_width(&self) -> u8 {
        bits(self.uniques.len().saturating_sub(1) as u64)
    }

    /// The next key, for a value not seen before in the chunk.
    #[cold]
    fn add(&mut self, v: i8) {
        let key = self.uniques.len();
        self.uniques.push(v);
        self.keys[usize::from(v as u8)] = key as u16;
        self.key_bytes[usize::from(v as u8)] = key as u8;
        self.unseen[usize::from(v as u8)] = 0;
    }
}

impl Values<i8> for Dictionary {
    fn put(&mut self, values: &[i8]) {
        // New values are rare after a chunk's first rows: 64 values are checked at once,
        // and only a block holding a new one is taken value by value.
        for block in values.chunks(64) {
            let unseen = (block.iter()).fold(0, |a, &v| a | self.unseen[usize::from(v as u8)]);
            if unseen != 0 {
                for &v in block {
                    if self.keys[usize::from(v as u8)] == NONE {
                        self.add(v);
                    }
                }
            }
        }
        self.page_len += values.len();
    }

    fn estimated_size(&self) -> usize {
        rle_max_size(self.bit_width(), self.page_len)
    }

    fn flush_page(&mut self, page: &[i8], out: &mut Vec<u8>) -> Encoding {
        let keys = &self.key_bytes;
        self.scratch.clear();
        self.scratch
            .extend(page.iter().map(|&v| keys[usize::from(v as u8)]));
        let w = self.bit_width();
        let mut buf = Vec::with_capacity(self.estimated_size() + 8);
        buf.push(w);
        let mut rle = Rle::new(w, buf);
        rle.put_batch(&self.scratch);
        self.page_len = 0;
        out.extend_from_slice(&rle.finish());
        Encoding::RLE_DICTIONARY
    }

    fn dictionary(&self) -> Option<(Vec<u8>, usize)> {
        let plain = self
            .uniques
            .iter()
            .flat_map(|&v| i32::from(v).to_le_bytes())
            .collect();
        Some((plain, self.uniques.len()))
    }
}

/// DELTA_BINARY_PACKED (`DeltaBitPackEncoder` for int32): blocks of 128 deltas in 4
/// miniblocks of 32, each packed at the width of its largest delta from the block's
/// smallest; a page header of block size, miniblocks, value count and first value.
struct Delta {
    bits: Vec<u8>,
    total: usize,
    first: i64,
    current: i32,
    /// The block's deltas, wrapped to i32 as the crate wraps them (so min and max are
    /// those of its i64 copies).
    deltas: [i32; BLOCK],
    in_block: usize,
}

const BLOCK: usize = 128;
const MINIBLOCKS: usize = 4;
const MINI: usize = BLOCK / MINIBLOCKS;

impl Delta {
    fn new() -> Delta {
        Delta {
            bits: Vec::new(),
            total: 0,
            first: 0,
            current: 0,
            deltas: [0; BLOCK],
            in_block: 0,
        }
    }

    fn flush_block(&mut self) {
        if self.in_block == 0 {
            return;
        }
        let n_all = self.in_block;
        let min = self.deltas[..n_all].iter().copied().min().unwrap_or(0);
        put_zigzag_vlq(&mut self.bits, i64::from(min));
        let widths = self.bits.len();
        self.bits.extend_from_slice(&[0; MINIBLOCKS]);
        for i in 0..MINIBLOCKS {
            let n = MINI.min(self.in_block);
            if n == 0 {
                // The widths of unused miniblocks stay 0.
                break;
            }
            let block = &self.deltas[i * MINI..i * MINI + n];
            let max = block.iter().copied().max().unwrap_or(0);
            let w = bits(u64::from(max.wrapping_sub(min) as u32));
            self.bits[widths + i] = w;
            // 32 values (the missing ones 0) at `w` bits: `4 * w` bytes, LSB first.
            let mut values = [0u64; MINI];
            for (v, &d) in values.iter_mut().zip(block) {
                *v = u64::from(d.wrapping_sub(min) as u32);
            }
            pack(&values, w, &mut self.bits);
            self.in_block -= n;
        }
    }
}

/// `values`, each below 2^`w` (`w` at most 32), packed LSB first into `out`: every 8
/// values are `w` whole bytes. One copy of the loop per width, so its shifts are constants.
fn pack(values: &[u64; MINI], w: u8, out: &mut Vec<u8>) {
    macro_rules! widths {
        ($($w:literal)*) => {
            match w {
                0 => {}
                $($w => pack_width::<$w>(values, out),)*
                _ => pack_width::<32>(values, out),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

fn pack_width<const W: usize>(values: &[u64; MINI], out: &mut Vec<u8>) {
    // Value j at bit j·W: written out for each j, so that with W a constant every word
    // index and shift below is one too (a loop was not unrolled).
    let mut words = [0u64; MINI / 2 + 1];
    macro_rules! put {
        ($($j:literal)*) => {$({
            let (k, off) = ($j * W / 64, $j * W % 64);
            words[k] |= values[$j] << off;
            if off + W > 64 {
                words[k + 1] |= values[$j] >> (64 - off);
            }
        })*};
    }
    put!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    // 32 values of W bits: 4·W bytes.
    let bytes = 4 * W;
    for w in &words[..bytes / 8] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&words[bytes / 8].to_le_bytes()[..bytes % 8]);
}

impl<T: ListValue> Values<T> for Delta {
    fn put(&mut self, values: &[T]) {
        let mut rest = values;
        if self.total == 0
            && let Some((&v, tail)) = rest.split_first()
        {
            self.first = i64::from(v.int32());
            self.current = v.int32();
            rest = tail;
        }
        self.total += values.len();
        for &v in rest {
            let v = v.int32();
            self.deltas[self.in_block] = v.wrapping_sub(self.current);
            self.current = v;
            self.in_block += 1;
            if self.in_block == BLOCK {
                self.flush_block();
            }
        }
    }

    fn estimated_size(&self) -> usize {
        self.bits.len()
    }

    fn flush_page(&mut self, _page: &[T], out: &mut Vec<u8>) -> Encoding {
        self.flush_block();
        put_vlq(out, BLOCK as u64);
        put_vlq(out, MINIBLOCKS as u64);
        put_vlq(out, self.total as u64);
        put_zigzag_vlq(out, self.first);
        out.extend_from_slice(&self.bits);
        self.bits.clear();
        self.total = 0;
        self.first = 0;
        self.current = 0;
        self.in_block = 0;
        Encoding::DELTA_BINARY_PACKED
    }

    fn dictionary(&self) -> Option<(Vec<u8>, usize)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crate's RLE hybrid as a reader decodes it: each encoded stream reads back.
    fn decode(bit_width: u8, mut b: &[u8], n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < n {
            let mut header = 0u64;
            let mut shift = 0;
            loop {
                let byte = b[0];
                b = &b[1..];
                header |= u64::from(byte & 0x7F) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            if header & 1 == 0 {
                let v = if bit_width > 0 { b[0] } else { 0 };
                if bit_width > 0 {
                    b = &b[1..];
                }
                out.extend(std::iter::repeat_n(v, (header >> 1) as usize));
            } else {
                let groups = (header >> 1) as usize;
                let w = usize::from(bit_width);
                for _ in 0..groups {
                    let mut acc = 0u64;
                    for (k, &byte) in b[..w].iter().enumerate() {
                        acc |= u64::from(byte) << (8 * k);
                    }
                    b = &b[w..];
                    for j in 0..GROUP {
                        out.push(((acc >> (j * w)) & ((1 << w) - 1)) as u8);
                    }
                }
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn rle_streams_read_back_for_every_put_style() {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..300 {
            let w = (case % 9) as u8;
            let max = if w == 0 { 0 } else { (1u16 << w) - 1 };
            let mut values = Vec::new();
            while values.len() < (case * 37) % 2000 {
                let v = (next() % (u64::from(max) + 1)) as u8;
                let run = if next() % 3 == 0 { 1 + next() % 40 } else { 1 };
                values.extend(std::iter::repeat_n(v, run as usize));
            }
            let mut batch = Rle::new(w, Vec::new());
            batch.put_batch(&values);
            let mut single = Rle::new(w, Vec::new());
            for &v in &values {
                single.put(v);
            }
            let mut runs = Rle::new(w, Vec::new());
            for chunk in values.chunk_by(|a, b| a == b) {
                runs.put_run(chunk[0], chunk.len());
            }
            let (b, s, r) = (batch.finish(), single.finish(), runs.finish());
            assert_eq!(decode(w, &b, values.len()), values, "case {case}");
            assert_eq!(s, r, "case {case}: put_run is not n puts");
            assert_eq!(decode(w, &s, values.len()), values, "case {case}");
        }
    }

    #[test]
    fn a_page_writer_writes_headers_before_data() {
        let mut sink = TrackedWrite::new(Vec::new());
        {
            let mut w = SerializedPageWriter::new(&mut sink);
            let page = Page::DictionaryPage {
                buf: Bytes::from_static(&[1, 0, 0, 0]),
                num_values: 1,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = w.write_page(CompressedPage::new(page, 4)).unwrap();
            assert_eq!(spec.offset, 0);
            assert!(spec.compressed_size > 4);
        }
        let bytes = sink.into_inner().unwrap();
        assert_eq!(&bytes[bytes.len() - 4..], &[1, 0, 0, 0]);
    }
}
