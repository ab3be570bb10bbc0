//! Outputs: what a job writes, described once as values, and the formats that write them.
//!
//! An output is an `OutputSpec`: its `Role` (what a manifest records), its `Format` (found
//! from the file name by one rule, `Format::for_file`) and its `Target` (a file or stdout,
//! one file per input, or a split's shards in a dataset folder, `shards`). The engine, its writer and the manifest all iterate the job's
//! list of them. A format is one module with an `Encoder`: on the workers it appends each
//! emitted record to a block's buffer; on the writer thread it may wrap its file (Parquet
//! turns the blocks' rows into row groups). Adding a format is a module and its arm in
//! `Format::encoder` (and a line in `NAMES`): docs/design.md walks through it.

pub(crate) mod card;
mod dataset;
mod fasta;
mod jsonl;
mod parquet;
mod parquet_lists;
mod rates;
pub mod shards;
mod split;

use std::any::Any;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::ThreadPool;

use crate::choice::choices;
use crate::config::MaskConfig;
use crate::crop::Window;
use crate::io::{Compression, Output, OutputTarget, PendingOutput};
use crate::mask::{Marks, Outcome};
use crate::provenance::Provenance;
use crate::records::Record;

pub use self::parquet::{DEFAULT_ZSTD_LEVEL, ParquetCompression};
pub(crate) use dataset::{DatasetRow, read_rows, read_shards, token_ids};
pub use dataset::{IGNORE, TokenIds, Vocab, esm, evodiff};
pub(crate) use fasta::FastaFormat;
pub use rates::RatesFormat;
pub(crate) use rates::{CROP_COLUMNS, SPLIT_COLUMN, rates_header};
pub(crate) use split::OnlySplit;
pub use split::split_fasta_name;

choices! {
    /// What an output holds, as a manifest's `role` records it.
    pub enum Role {
        /// The masked FASTA (`-o`, `-O`).
        Fasta = "fasta",
        /// The per-record table (`-r`).
        Rates = "rates",
        /// One row per record for ML code (`--dataset`): a file, or each shard of a
        /// dataset folder.
        Dataset = "dataset",
        /// A dataset folder's README.md (`--dataset DIR/`): its splits and column types.
        Card = "card",
    }
}

impl Role {
    /// How messages name an output of this role.
    pub fn noun(self) -> &'static str {
        match self {
            Role::Fasta => "output",
            Role::Rates => "rates table",
            Role::Dataset => "dataset",
            Role::Card => "dataset card",
        }
    }

    /// The long flag of `protmask mask` that names an output of this role (a manifest's
    /// command line).
    pub fn flag(self) -> &'static str {
        match self {
            Role::Fasta => "output",
            Role::Rates => "rates",
            Role::Dataset | Role::Card => "dataset",
        }
    }
}

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Fasta,
    /// The rates table, comma-separated.
    Csv,
    /// The rates table, tab-separated.
    Tsv,
    /// The dataset as JSON Lines.
    Jsonl,
    /// The dataset as Apache Parquet (compressed inside the file).
    Parquet,
}

/// The file-name rule: after any compression suffix (`Compression::split_name`), the name
/// of a rates table or a dataset ends with its format's extension. A FASTA may be named
/// anything.
const NAMES: &[(Role, &str, Format)] = &[
    (Role::Rates, ".csv", Format::Csv),
    (Role::Rates, ".tsv", Format::Tsv),
    (Role::Dataset, ".parquet", Format::Parquet),
    (Role::Dataset, ".jsonl", Format::Jsonl),
];

/// A file name that the rule does not give a format for its role.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", name_error(*role, path))]
pub struct NameError {
    pub role: Role,
    pub path: String,
}

fn name_error(role: Role, path: &str) -> String {
    match role {
        Role::Rates => format!(
            "rates table '{path}': name it .csv or .tsv (optionally compressed, e.g. \
             rates.tsv.gz)"
        ),
        _ if path.ends_with('/') => format!(
            "dataset folder '{path}': a folder holds Parquet shards; for JSON Lines name a \
             file (x.jsonl, optionally compressed)"
        ),
        _ => format!(
            "dataset '{path}': name it .parquet, or .jsonl (optionally compressed: \
             .jsonl.gz, .jsonl.bz2, .jsonl.xz, .jsonl.zst), or DIR/ for a dataset folder"
        ),
    }
}

impl Format {
    /// The format and compression of a file of `role` named `path` (case-insensitive).
    pub fn for_file(role: Role, path: &Path) -> Result<(Format, Compression), NameError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (base, compression) = Compression::split_name(&name);
        if role == Role::Fasta {
            return Ok((Format::Fasta, compression));
        }
        let found = NAMES
            .iter()
            .find(|&&(r, ext, _)| r == role && base.ends_with(ext) && base.len() > ext.len());
        match found {
            Some(&(_, _, format)) if compression == Compression::None || format.compressible() => {
                Ok((format, compression))
            }
            _ => Err(NameError {
                role,
                path: path.display().to_string(),
            }),
        }
    }

    /// Whether the file takes a compression suffix (a Parquet file compresses itself).
    pub fn compressible(self) -> bool {
        self != Format::Parquet
    }

    /// Whether the file records how the run was made (the options, the inputs' digests:
    /// `provenance`), so the run must digest its inputs.
    pub fn describes_run(self) -> bool {
        self == Format::Parquet
    }

    /// The field delimiter of a rates table.
    pub fn delimiter(self) -> Option<u8> {
        match self {
            Format::Csv => Some(b','),
            Format::Tsv => Some(b'\t'),
            _ => None,
        }
    }

    /// How records are written in this format, for a job with `config` whose inputs are
    /// named `names` (the `file` column).
    pub(crate) fn encoder(self, config: &MaskConfig, names: &[String]) -> Box<dyn Encoder> {
        match self {
            Format::Fasta => Box::new(FastaFormat::new(config)),
            Format::Csv | Format::Tsv => Box::new(
                RatesFormat::new(self.delimiter().unwrap_or(b','), config.positions, names)
                    .with_crop(config.max_length.is_some())
                    .with_split(config.split.as_ref().map(|s| s.names())),
            ),
            Format::Jsonl => Box::new(jsonl::JsonlFormat::new(config, names)),
            Format::Parquet => Box::new(parquet::ParquetFormat::new(config, names)),
        }
    }
}

/// Where an output's bytes go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every input into one output: a file, or stdout, with its compression.
    One(OutputTarget, Compression),
    /// One file per input, in input order (`--outdir`), each compressed by its name.
    PerInput(Vec<PathBuf>),
    /// One split's rows as shards of `rows` rows in the dataset folder `dir`
    /// (`--dataset DIR/`): `dir/data/{split}-{i:05}-of-{n:05}.parquet`, and the folder's
    /// card once for all its splits (`shards`). `force`: an earlier dataset in the folder
    /// may be replaced.
    Shards {
        dir: PathBuf,
        split: String,
        rows: u64,
        force: bool,
    },
}

/// One output of a job: what it holds, its format, where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub role: Role,
    pub format: Format,
    pub target: Target,
    /// Only the records of this split (an index into `--split`'s splits); `None`: every
    /// record. `OutputSpec::per_split` makes one output per split.
    pub split: Option<usize>,
}

impl OutputSpec {
    /// An output of `role` in the file at `path`: format and compression by its name.
    pub fn file(role: Role, path: &Path) -> Result<OutputSpec, NameError> {
        let (format, compression) = Format::for_file(role, path)?;
        Ok(OutputSpec {
            role,
            format,
            target: Target::One(OutputTarget::Path(path.to_path_buf()), compression),
            split: None,
        })
    }

    /// A dataset folder `dir` (`--dataset DIR/`) with every row in the default split,
    /// [`shards::DEFAULT_SPLIT`], and the default rows per shard (without token ids); the
    /// caller sets `rows` and `force`. A folder is Parquet: one named like a JSON Lines
    /// file (`x.jsonl/`) is refused, as it would not be JSON Lines.
    pub fn dataset_folder(dir: &Path) -> Result<OutputSpec, NameError> {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_lowercase());
        let (base, _) = Compression::split_name(name.as_deref().unwrap_or(""));
        if base.ends_with(".jsonl") {
            return Err(NameError {
                role: Role::Dataset,
                path: shards::shown(dir),
            });
        }
        Ok(OutputSpec {
            role: Role::Dataset,
            format: Format::Parquet,
            target: Target::Shards {
                dir: dir.to_path_buf(),
                split: shards::DEFAULT_SPLIT.to_string(),
                rows: shards::DEFAULT_SHARD_ROWS,
                force: false,
            },
            split: None,
        })
    }

    /// The file, if the output is one file.
    pub fn path(&self) -> Option<&Path> {
        match &self.target {
            Target::One(OutputTarget::Path(p), _) => Some(p),
            _ => None,
        }
    }

    /// Every file it writes that is known before the run (none for stdout; a dataset
    /// folder's card, its shards being named at the end).
    pub fn paths(&self) -> Vec<PathBuf> {
        match &self.target {
            Target::One(OutputTarget::Path(p), _) => vec![p.clone()],
            Target::One(OutputTarget::Stdout, _) => Vec::new(),
            Target::PerInput(paths) => paths.clone(),
            Target::Shards { dir, .. } => vec![dir.join(shards::CARD)],
        }
    }

    /// The dataset folder it writes into, if any.
    pub fn folder(&self) -> Option<&Path> {
        match &self.target {
            Target::Shards { dir, .. } => Some(dir),
            _ => None,
        }
    }
}

/// One emitted record (a record × a replicate), as every format sees it.
pub(crate) struct Emitted<'a> {
    /// Index of the record's input in the job's inputs.
    pub file: usize,
    pub record: &'a Record<'a>,
    /// 1-based.
    pub replicate: u32,
    pub outcome: &'a Outcome,
    pub marks: &'a Marks,
    /// The window `record` is, when the original was cropped (`--max-length`).
    pub window: Option<Window>,
    /// The record's split (an index into `--split`'s splits), with `--split`.
    pub split: Option<usize>,
}

/// What a worker keeps for one format across the records of a block.
#[derive(Default)]
pub(crate) struct Scratch {
    /// A buffer reused from record to record.
    pub bytes: Vec<u8>,
    /// A format's own state (the Parquet encoder's columns).
    pub state: Option<Box<dyn Any + Send>>,
}

/// How one format writes emitted records (on the workers) and its file (on the writer).
pub(crate) trait Encoder: Send + Sync {
    /// What comes before the first record (a header row), if anything.
    fn preamble(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Append one emitted record to a block's buffer. `scratch` is the caller's, kept
    /// across a block's records.
    fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch);

    /// After a block's last record: whatever the format kept aside for the block.
    fn end_block(&self, _out: &mut Vec<u8>, _scratch: &mut Scratch) {}

    /// The file that takes the blocks' buffers in order: the (compressed, atomic) output
    /// itself, or what the format makes of them on the way (Parquet's row groups).
    fn open(&self, out: Output, _pool: &Arc<ThreadPool>) -> io::Result<Box<dyn Sink>> {
        Ok(Box::new(out))
    }

    /// A folder's shards (`Target::Shards`): `out` the first file, `next` opening shard i
    /// when shard i − 1 holds `rows` rows. Only Parquet is written as shards.
    fn open_shards(
        &self,
        _out: Output,
        _rows: u64,
        _next: NextShard,
        _pool: &Arc<ThreadPool>,
    ) -> io::Result<Box<dyn Sink>> {
        Err(io::Error::other(
            "internal error: only a Parquet dataset is written as shards",
        ))
    }
}

/// Opens shard i (0-based) of a dataset folder's split.
pub(crate) type NextShard = Box<dyn FnMut(usize) -> io::Result<Output> + Send>;

/// An output being written: blocks' buffers in, in order; `close` ends it (complete, but
/// not yet renamed into place: see `PendingOutput`).
pub(crate) trait Sink: Write + Send {
    /// As given (`-` for stdout).
    fn name(&self) -> &str;
    /// Record how the run was made, in a format whose file carries it (`describes_run`):
    /// called once every input is read, before `close`.
    fn describe(&mut self, _provenance: &Provenance) -> io::Result<()> {
        Ok(())
    }
    fn close(self: Box<Self>) -> io::Result<PendingOutput>;
    /// A sharded output's files (`Encoder::open_shards`), each complete with its rows, in
    /// order.
    fn close_shards(self: Box<Self>) -> io::Result<Vec<(PendingOutput, u64)>> {
        Err(io::Error::other(
            "internal error: a single output closed as shards",
        ))
    }
}

impl Sink for Output {
    fn name(&self) -> &str {
        Output::name(self)
    }

    fn close(self: Box<Self>) -> io::Result<PendingOutput> {
        Output::close(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every compression suffix an output takes is taken by a table and a JSONL dataset
    /// too, and the two share the rule.
    #[test]
    fn one_name_rule_for_tables_and_datasets() {
        for ext in [
            "", ".gz", ".bgz", ".bgzf", ".bz2", ".xz", ".zst", ".zstd", ".GZ",
        ] {
            for (base, role, format) in [
                ("r.csv", Role::Rates, Format::Csv),
                ("r.tsv", Role::Rates, Format::Tsv),
                ("R.CSV", Role::Rates, Format::Csv),
                ("d.jsonl", Role::Dataset, Format::Jsonl),
                ("D.JSONL", Role::Dataset, Format::Jsonl),
            ] {
                let p = format!("{base}{ext}");
                let got = Format::for_file(role, Path::new(&p)).map(|(f, _)| f);
                assert_eq!(got, Ok(format), "{p}");
            }
        }
        assert_eq!(
            Format::for_file(Role::Dataset, Path::new("x.parquet")),
            Ok((Format::Parquet, Compression::None))
        );
        assert_eq!(
            Format::for_file(Role::Fasta, Path::new("a.fa.zst")),
            Ok((Format::Fasta, Compression::Zstd))
        );
        for bad in ["r.txt", "r.csv.txt", "r", "-", "r.gz", "csv", ".csv"] {
            assert!(
                Format::for_file(Role::Rates, Path::new(bad)).is_err(),
                "{bad}"
            );
        }
        for bad in ["x.parquet.gz", "x.json", ".parquet", "x.csv", "x"] {
            let e = Format::for_file(Role::Dataset, Path::new(bad)).unwrap_err();
            assert!(e.to_string().contains("name it .parquet"), "{bad}: {e}");
        }
        let e = Format::for_file(Role::Rates, Path::new("r.txt")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rates table 'r.txt': name it .csv or .tsv (optionally compressed, e.g. rates.tsv.gz)"
        );
    }
}
