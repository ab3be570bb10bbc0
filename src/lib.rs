//! protmask: mask protein FASTA by the noise schedules of masked protein language models.
//!
//! The data flows one way: open input (`io`) -> cut into blocks and parse (`records`)
//! -> per-record RNG (`rng`) -> draw t, schedule gives r (`schedule`) -> choose and
//! corrupt positions (`mask`) -> format each output (`sink`: FASTA, rates table) ->
//! write in order (`engine`). `config` resolves the options once (`presets` are the
//! model families' defaults); `manifest` records a run and `check` verifies one.
//!
//! The library needs no command line: the binary (`src/main.rs` and its modules `cli`,
//! `commands`, `plot`, `progress`) holds clap, the progress bars, the plots and the
//! signal handler, behind the `cli` feature; the Python package uses the library without
//! it. Nothing here imports from the binary.

pub mod check;
mod choice;
pub use choice::UnknownChoice;
pub mod cleanup;
pub mod collate;
pub mod config;
pub mod crop;
pub mod d3pm;
pub mod engine;
pub mod io;
pub mod manifest;
pub mod mask;
pub mod online;
pub mod presets;
pub mod provenance;
pub mod records;
pub mod regions;
pub mod rng;
pub mod scan;
pub mod schedule;
pub mod sink;
pub mod spans;
pub mod split;
pub mod variants;

/// A usage error found after parsing (options that cannot work together): exit 2, as
/// clap's own usage errors do.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// `--compress` with `--outdir`, whose files are compressed by their names.
    #[error(
        "--compress applies to stdout, and to the split files of --outdir with --split; with --outdir alone each file is compressed by its input's name"
    )]
    CompressWithOutdir,
    /// `--compress` with no FASTA on stdout (a dataset alone).
    #[error("--compress applies to the FASTA on stdout; with --dataset alone none is written")]
    CompressWithoutFasta,
    /// `--compress` with a FASTA file, compressed by its extension.
    #[error(
        "--compress applies to stdout; '{0}' is compressed by its extension (.gz, .bz2, .xz, .zst)"
    )]
    CompressWithFile(String),
    /// `--dataset -` and `-o -`: two outputs on stdout.
    #[error(
        "the dataset and the FASTA cannot both go to stdout: give the FASTA a file (-o FILE), or leave -o out to write the dataset alone"
    )]
    TwoOnStdout,
    /// `--parquet-compression` with a JSON Lines dataset.
    #[error(
        "--parquet-compression applies to a .parquet dataset; '{0}' is JSON Lines, compressed by its extension (.jsonl.gz, .jsonl.zst, ...) or, on stdout, by --compress"
    )]
    ParquetCompressionWithJsonl(String),
    /// `--outdir` with stdin, which has no name to give its output.
    #[error("--outdir names each output after its input, and stdin has no name: use -o")]
    OutdirFromStdin,
    /// `verify` of a dataset with `--rates` or `--regions`, which go with a FASTA.
    #[error("a dataset is checked against ORIGINAL alone: give --rates and --regions with a FASTA")]
    DatasetWithFastaOptions,
    /// A `verify` flag that disagrees with the options recorded with the set (MASKED's
    /// metadata, the manifest), in `place`.
    #[error(
        "{flag} '{given}' disagrees with {place}, which records '{recorded}': leave the flag out or give the recorded value"
    )]
    Disagrees {
        flag: &'static str,
        given: String,
        recorded: String,
        place: String,
    },
    /// `--dataset DIR/` where a file is.
    #[error(
        "dataset folder '{0}' is a file: name a folder, or leave out the trailing slash to write a file"
    )]
    FolderIsAFile(String),
    /// `--dataset DIR/` whose folder holds files, without `--force`.
    #[error(
        "dataset folder '{dir}' is not empty ({files}): name a new or empty folder, or add --force to replace the dataset protmask wrote there"
    )]
    FolderNotEmpty { dir: String, files: String },
    /// `--dataset DIR/ --force` whose folder holds files that are not an earlier dataset's.
    #[error(
        "dataset folder '{dir}' holds files protmask did not write there ({files}): --force replaces only an earlier dataset's README.md and data/ shards, so move them or name a new folder"
    )]
    FolderHasOtherFiles { dir: String, files: String },
    /// `--shard-rows` without a dataset folder.
    #[error("--shard-rows applies to a dataset folder: --dataset DIR/ (with the trailing slash)")]
    ShardRowsWithoutFolder,
    /// `--force` without a dataset folder.
    #[error(
        "--force applies to a dataset folder (--dataset DIR/): it replaces the dataset protmask wrote there"
    )]
    ForceWithoutFolder,
    /// `scan --variants` with a reference of several records and no `--reference-id`.
    #[error(
        "reference '{file}' holds {records} records ({ids}): choose the one the variants are of with --reference-id"
    )]
    ReferenceChoice {
        file: String,
        records: u64,
        ids: String,
    },
    /// `scan --variants` with an option that only a scan of every position takes.
    #[error(
        "{0} cannot be used with --variants: the variants file says which positions are masked"
    )]
    NotWithVariants(&'static str),
    /// `scan --tokens` with neither a dataset nor a variants table to hold the ids.
    #[error("--tokens applies to a dataset (--dataset) and to a variants table (--variants-table)")]
    TokensWithoutDataset,
    /// `scan --max-length` below the smallest window the rule can place a position in.
    #[error(
        "scan --max-length {0}: a window must hold at least 2 residues (ProteinGym's rule centres the position in it)"
    )]
    ScanWindow(u32),
    /// A masking option that cannot be used.
    #[error(transparent)]
    Option(#[from] config::OptionError),
}

/// True when the error comes from writing to a closed pipe (`protmask mask x | head`),
/// which is a normal way for a reader to stop, not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, as every protmask error is reported.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}

/// `n` and its noun, singular for 1 (`1 output`, `2 outputs`): every count in a message.
pub fn counted(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    match n.into() {
        1 => format!("1 {singular}"),
        n => format!("{n} {plural}"),
    }
}
