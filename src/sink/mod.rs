//! Output formats: how one emitted record becomes bytes in a block's buffer.
//!
//! A worker masks a record once and hands the result to every format the run writes
//! (`RecordFormat`); the engine's writer appends each format's block buffers to its own
//! output in block order. Each format lives in one module with everything about it (for
//! the rates table: its header, delimiter, rows and positions). A new format is a new
//! module and one arm in each `match` below.

pub mod dataset;
pub mod fasta;
pub mod parquet;
pub mod rates;

pub use dataset::{DatasetFile, DatasetFormat, DatasetKind, Vocab};
pub use fasta::FastaFormat;
pub use parquet::ParquetSink;
pub use rates::{RatesFormat, RatesTable};

use crate::mask::{Marks, Outcome};
use crate::records::Record;

/// One emitted record (a record × a replicate), as every format sees it.
pub struct Emitted<'a> {
    /// Index of the record's input in the job's inputs.
    pub file: usize,
    pub record: &'a Record<'a>,
    /// 1-based.
    pub replicate: u32,
    pub outcome: &'a Outcome,
    pub marks: &'a Marks,
}

/// What a worker keeps for one format across the records of a block.
#[derive(Debug, Default)]
pub struct Scratch {
    /// A buffer reused from record to record.
    pub bytes: Vec<u8>,
    /// The block's Parquet rows, column by column (the dataset in Parquet).
    pub rows: Option<parquet::Columns>,
}

/// A per-record output format.
#[derive(Clone, Debug)]
pub enum RecordFormat {
    Fasta(FastaFormat),
    Rates(RatesFormat),
    Dataset(DatasetFormat),
}

impl RecordFormat {
    /// The role recorded in a manifest.
    pub fn role(&self) -> &'static str {
        match self {
            RecordFormat::Fasta(_) => "fasta",
            RecordFormat::Rates(_) => "rates",
            RecordFormat::Dataset(_) => "dataset",
        }
    }

    /// What comes before the first record (a header row), if anything.
    pub fn preamble(&self) -> Vec<u8> {
        match self {
            RecordFormat::Fasta(_) | RecordFormat::Dataset(_) => Vec::new(),
            RecordFormat::Rates(r) => r.header(),
        }
    }

    /// Append one emitted record. `scratch` is the caller's, kept across a block's
    /// records.
    pub fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        match self {
            RecordFormat::Fasta(f) => f.write(out, e, &mut scratch.bytes),
            RecordFormat::Rates(r) => r.write(out, e),
            RecordFormat::Dataset(d) => d.write(out, e, scratch),
        }
    }

    /// After a block's last record: whatever the format kept aside for the block.
    pub fn end_block(&self, out: &mut Vec<u8>, scratch: &mut Scratch) {
        match self {
            RecordFormat::Fasta(_) | RecordFormat::Rates(_) => {}
            RecordFormat::Dataset(d) => d.end_block(out, scratch),
        }
    }
}
