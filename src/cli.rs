//! Command-line definitions only (clap derive). Values here are raw flags, checked by the
//! library's own checks (`config::check_token`, ...); `MaskArgs::config` hands them to the
//! library's one resolution (`config::MaskConfig::resolve`). Doc comments are the help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use protmask::config::{
    MaskConfig, MaskOptions, check_maskable, check_min_masked, check_seed, check_span_mean,
    check_token,
};
use protmask::io::{Compression, OutputTarget};
use protmask::mask::{Corruption, Mode, RandomPool, Timesteps};
use protmask::presets::Preset;
use protmask::regions::RegionsSource;
use protmask::schedule::Schedule;
use protmask::sink::{Format, OutputSpec, ParquetCompression, Role, Target, Vocab};

#[derive(Parser, Debug)]
#[command(
    name = "protmask",
    version,
    about = "Mask protein FASTA by the noise schedules of masked protein language models, reproducibly",
    long_about = "Mask protein FASTA by the noise schedules of masked protein language models \
(ESM3, ESM-2, DPLM, EvoDiff, MDLM), reproducibly: the same record always gets the same mask \
for the same seed, whatever the threads, the sharding or the machine.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Mask sequences: sample a timestep per record, map it to a mask rate, mask
    #[command(after_help = MASK_EXAMPLES)]
    Mask(Box<MaskArgs>),
    /// Show what noise schedules do: curve, density, mean and quantiles, as numbers or a plot
    #[command(after_help = SCHEDULE_EXAMPLES)]
    Schedule(ScheduleArgs),
    /// Evaluation sets: one row per position with exactly that position masked (pseudo-perplexity), or the mutated positions of a deep mutational scan (masked marginals)
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(Box<ScanArgs>),
    /// Check that MASKED is a masking of ORIGINAL (and its rates table and manifest agree)
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(Box<VerifyArgs>),
    /// Rebuild a published set from its manifest, finding the inputs by name or content
    #[command(after_help = REGENERATE_EXAMPLES)]
    Regenerate(RegenerateArgs),
    /// Print a shell completion script: protmask completions bash > /etc/bash_completion.d/protmask
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): protmask man > protmask.1
    Man,
}

const SCAN_EXAMPLES: &str = "Examples:
  protmask scan data/NC_000932.faa -o rows.fa -r rows.csv
  protmask scan --preset esm2 --max-length 1022 data/NC_000932.faa --dataset pppl.parquet --tokens esm
  protmask scan --positions cdr.bed data/okt3_vh.faa -o cdr_rows.fa
  protmask scan --variants DMS.csv --reference REF.fa --variants-table variants.csv --dataset mm.parquet --tokens esm
Row i of a record masks its 0-based position i alone; its FASTA ID is <id>_p<i>. Nothing is
drawn: there is no --seed. docs/evaluation-kits.md has both kits end to end.";

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// FASTA files (any compression); none or '-' reads stdin. With --variants, give --reference instead
    #[arg(
        value_name = "INPUT",
        help_heading = "INPUT",
        conflicts_with = "reference"
    )]
    pub inputs: Vec<String>,

    /// Rows as FASTA ('-' = stdout), IDs <id>_p<i>; compressed by extension
    #[arg(short, long, value_name = "PATH", help_heading = "OUTPUT")]
    pub output: Option<PathBuf>,

    /// One FASTA of rows per input, DIR/<input file name> (created if missing)
    #[arg(
        short = 'O',
        long,
        value_name = "DIR",
        conflicts_with = "output",
        help_heading = "OUTPUT"
    )]
    pub outdir: Option<PathBuf>,

    /// Per-row table file,id,replicate,length,t,rate,masked,positions (and crop_start,original_length with --max-length): .csv or .tsv, optionally compressed
    #[arg(short, long, value_name = "PATH", value_parser = parse_rates, help_heading = "OUTPUT")]
    pub rates: Option<OutputSpec>,

    /// One row per scan row for ML code, as mask --dataset: .parquet, .jsonl[.gz|.zst|...], '-' (JSON Lines on stdout) or DIR/ (a Hugging Face dataset folder). Alone, no FASTA goes to stdout
    #[arg(long, value_name = "PATH", value_parser = parse_dataset, help_heading = "OUTPUT")]
    pub dataset: Option<OutputSpec>,

    /// Rows per shard of a dataset folder (--dataset DIR/) [default: 100000; 25000 with --tokens]
    #[arg(long, value_name = "N", value_parser = parse_shard_rows, requires = "dataset", help_heading = "OUTPUT")]
    pub shard_rows: Option<u64>,

    /// Let --dataset DIR/ replace the dataset protmask wrote in DIR
    #[arg(long, requires = "dataset", help_heading = "OUTPUT")]
    pub force: bool,

    /// How a Parquet dataset's columns are compressed: snappy, zstd[:LEVEL], none [default: snappy]
    #[arg(long, value_name = "CODEC", value_parser = parse_parquet_compression, requires = "dataset", help_heading = "OUTPUT")]
    pub parquet_compression: Option<ParquetCompression>,

    /// Add input_ids and labels to the dataset (a label only at the masked position): esm or evodiff. Also the vocabulary of the variants table's wt_ids and mt_ids [default there: esm]
    #[arg(long, value_name = "VOCAB", value_enum, help_heading = "OUTPUT")]
    pub tokens: Option<Vocab>,

    /// Write a JSON provenance record to PATH, last (verify --manifest and regenerate read it)
    #[arg(long, value_name = "PATH", help_heading = "OUTPUT")]
    pub manifest: Option<PathBuf>,

    /// Residues per sequence line; 0 = one line per sequence
    #[arg(
        short = 'w',
        long,
        value_name = "N",
        default_value_t = 60,
        help_heading = "OUTPUT"
    )]
    pub line_width: usize,

    /// Compress stdout: gz (BGZF), bz2, xz, zst. Files are compressed by their extension
    #[arg(long, value_name = "FORMAT", help_heading = "OUTPUT")]
    pub compress: Option<Compression>,

    /// Model conventions: here only the mask token (and --max-length for bionemo-esm2); nothing is drawn
    #[arg(long, value_enum, default_value_t = Preset::Esm3, help_heading = "ROWS")]
    pub preset: Preset,

    /// What the masked position becomes [preset's; esm3: _]
    #[arg(long, value_name = "STR", value_parser = check_token, help_heading = "ROWS")]
    pub mask_token: Option<String>,

    /// Only residues among CHARS get a row (case-sensitive)
    #[arg(long, value_name = "CHARS", value_parser = check_maskable, help_heading = "ROWS")]
    pub maskable: Option<String>,

    /// Scan only these positions: BED-style 'id start end' (0-based, end exclusive), as mask --regions; a record without an interval has no row
    #[arg(long, value_name = "FILE", value_parser = protmask::regions::check_path, help_heading = "ROWS")]
    pub positions: Option<String>,

    /// Each row holds the window of N residues around its position, placed by ProteinGym's get_optimal_window (centred, clipped to the ends; docs/evaluation-kits.md); N >= 2 [preset's; esm3: none]
    #[arg(long, value_name = "N", value_parser = protmask::config::positive_u32, help_heading = "ROWS")]
    pub max_length: Option<u32>,

    /// A deep mutational scan in ProteinGym's format (CSV with a 'mutant' column: A23K, A23K:L45P; 1-based): rows of the mutated positions of --reference
    #[arg(long, value_name = "DMS.csv", requires_all = ["reference", "variants_table"], help_heading = "VARIANTS")]
    pub variants: Option<PathBuf>,

    /// The wild-type sequence the variants are of (FASTA; a file)
    #[arg(
        long,
        value_name = "REF.fa",
        requires = "variants",
        help_heading = "VARIANTS"
    )]
    pub reference: Option<String>,

    /// The reference record, when the reference holds several
    #[arg(
        long,
        value_name = "ID",
        requires = "variants",
        help_heading = "VARIANTS"
    )]
    pub reference_id: Option<String>,

    /// marginal: one row per mutated position (masked marginals); joint: one row per set of positions a mutant changes, all masked together [default: marginal]
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        requires = "variants",
        help_heading = "VARIANTS"
    )]
    pub variants_mode: Option<protmask::variants::VariantsMode>,

    /// One row per mutant: mutant, mutations, rows (its scan rows), wt_ids, mt_ids and the DMS file's other columns: .csv, .tsv (optionally compressed) or .parquet
    #[arg(long, value_name = "PATH", value_parser = parse_variants_table, requires = "variants", help_heading = "VARIANTS")]
    pub variants_table: Option<OutputSpec>,

    /// Worker threads [default: all cores]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "PERFORMANCE")]
    pub threads: Option<u32>,

    /// Bytes of input per work unit (tuning and tests; output never depends on it)
    #[arg(long, value_name = "BYTES", default_value_t = protmask::engine::DEFAULT_BLOCK_SIZE, value_parser = clap::value_parser!(u64).range(1..), hide = true, help_heading = "PERFORMANCE")]
    pub block_size: u64,

    /// No progress bar, no summary line
    #[arg(short, long, help_heading = "PERFORMANCE")]
    pub quiet: bool,
}

const VERIFY_EXAMPLES: &str = "Examples:
  protmask verify data/NC_000932.faa masked.fa
  protmask verify data/NC_000932.faa masked.fa --rates rates.csv
  protmask verify data/NC_000932.faa masked.fa --rates rates.csv --manifest manifest.json
  protmask verify data/NC_000932.faa masked.fa --preset esm2
  protmask verify data/NC_000932.faa dataset.parquet      (its metadata says how it was made)
Exit 0 when everything agrees; 1 with the first disagreement (file, record, position).";

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The FASTA that was masked (any compression)
    pub original: String,

    /// The masked FASTA or dataset (any compression; its format is told from its bytes)
    pub masked: String,

    /// The rates table written with MASKED: rows, counts and positions must agree with it
    #[arg(short, long, value_name = "PATH")]
    pub rates: Option<PathBuf>,

    /// The manifest written with MASKED: checks every checksum, then re-runs the recorded job and compares the outputs' SHA-256
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// The preset used: its mask token and corruption, as `mask --preset` resolves them with the flags below [default: what a Parquet MASKED or the manifest records]
    #[arg(long, value_enum, value_name = "PRESET")]
    pub preset: Option<Preset>,

    /// The mask token used [default: what a Parquet MASKED or the manifest records, else the preset's, else _]
    #[arg(long, value_name = "STR", value_parser = check_token)]
    pub mask_token: Option<String>,

    /// Fractions masked, replaced, kept that were used [default: what a Parquet MASKED or the manifest records, else the preset's, else 1,0,0]
    #[arg(long, value_name = "M,R,K", allow_hyphen_values = true)]
    pub corrupt: Option<Corruption>,

    /// Residues that were eligible [default: what a Parquet MASKED or the manifest records, else all]
    #[arg(long, value_name = "CHARS", value_parser = check_maskable)]
    pub maskable: Option<String>,

    /// The letters a replaced position may show: standard or extended (mask --random-pool) [default: what a Parquet MASKED or the manifest records, else the preset's, else standard]
    #[arg(long, value_enum, value_name = "POOL")]
    pub random_pool: Option<RandomPool>,

    /// The --max-length used (mask --max-length): a record longer must be its window of N, a shorter one whole [default: what a Parquet MASKED or the manifest records, else the preset's, else windows checked only against their original]
    #[arg(long, value_name = "N", value_parser = protmask::config::positive_u32)]
    pub max_length: Option<u32>,

    /// The --crop used: start and center windows must start at their exact offset [default: recorded, else random]
    #[arg(long, value_enum, value_name = "CROP")]
    pub crop: Option<protmask::crop::Crop>,

    /// The --split used (mask --split): every 'split' of the rates table or dataset must be the split its ID gets; a FASTA named <split>.fa holds that split's records alone [default: what a Parquet MASKED or the manifest records, else the split column is not checked]
    #[arg(long, value_name = "SPLITS", value_parser = parse_splits)]
    pub split: Option<protmask::split::Splits>,

    /// The --split-seed used [default: recorded, else 0]
    #[arg(long, value_name = "N", value_parser = check_seed)]
    pub split_seed: Option<u64>,

    /// The --split-groups file used, or where the recorded one is now [default: the recorded path]
    #[arg(long, value_name = "FILE", value_parser = protmask::split::check_groups_path)]
    pub split_groups: Option<String>,

    /// The regions file used (mask --regions): every selected position must be eligible by it [default: the manifest's]
    #[arg(long, value_name = "FILE", value_parser = protmask::regions::check_path)]
    pub regions: Option<String>,

    /// How the regions file was used [default: the manifest's, else only]
    #[arg(long, value_enum, value_name = "MODE", requires = "regions")]
    pub regions_mode: Option<protmask::regions::RegionsMode>,

    /// MASKED is a scan (protmask scan: rows <id>_p<i>), though no manifest or metadata says so; --max-length, --maskable and --regions (scan's --positions) say what it was made with
    #[arg(long)]
    pub scan: bool,

    /// No summary line on success
    #[arg(short, long)]
    pub quiet: bool,
}

const REGENERATE_EXAMPLES: &str = "Examples:
  protmask regenerate set/manifest.json -C rebuilt/
  protmask regenerate manifest.json --input ~/downloads/ --input uniref50.fa.gz -C rebuilt/
Each recorded input is found among the --input paths (files, or folders of files) by its
file name or by its digest (a renamed, gzipped or gunzipped copy is found too); without
--input, as recorded or beside the manifest. One line per output: identical, or the first
difference. Exit 0 when every output is reproduced; 1 otherwise.";

#[derive(Args, Debug)]
pub struct RegenerateArgs {
    /// The manifest of the set (mask --manifest)
    pub manifest: PathBuf,

    /// Where to look for the recorded inputs (and regions file): a file, or a folder whose
    /// files are all candidates; repeatable [default: as recorded, or beside the manifest]
    #[arg(long, value_name = "PATH")]
    pub input: Vec<PathBuf>,

    /// The folder to rebuild the outputs in (created); outputs keep their recorded file names
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "OUTDIR",
        default_value = "regenerated"
    )]
    pub outdir: PathBuf,

    /// Only the error, if any
    #[arg(short, long)]
    pub quiet: bool,
}

const SCHEDULE_EXAMPLES: &str = "Examples:
  protmask schedule cosine cubic sqrt
  protmask schedule betalinear30 --points 101 --format csv > betalinear30.csv
  protmask schedule betalinear30 beta30 --plot schedules.svg --samples 100000
  protmask schedule --list";

#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// Schedules, in the grammar of `mask --schedule` (quote mixtures)
    #[arg(value_name = "SPEC", required_unless_present = "list")]
    pub specs: Vec<Schedule>,

    /// Points per schedule, at t = k/(N-1), k = 0..N-1
    #[arg(long, value_name = "N", default_value_t = 11, value_parser = clap::value_parser!(u32).range(2..))]
    pub points: u32,

    /// table: aligned, with summary and a text histogram; csv, tsv: rows schedule,t,rate,density; json: everything (with --list: every schedule and preset, for programs)
    #[arg(long, value_enum, default_value_t = ScheduleFormat::Table)]
    pub format: ScheduleFormat,

    /// With csv or tsv: print the summary table (mean, quantiles, density ratio) instead of the points
    #[arg(long)]
    pub summary: bool,

    /// Draw the curves and the densities to FILE.svg or FILE.png
    #[arg(long, value_name = "FILE", value_parser = clap::builder::TypedValueParser::try_map(
        clap::builder::PathBufValueParser::new(), crate::plot::PlotFile::new))]
    pub plot: Option<crate::plot::PlotFile>,

    /// Plot size in pixels, WIDTHxHEIGHT
    #[arg(long, value_name = "WxH", default_value = "1200x500")]
    pub plot_size: crate::plot::PlotSize,

    /// Also draw N rates per schedule with the sampler `mask` uses and show their histogram
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub samples: u64,

    /// Seed for --samples (sample i is the rate `mask` draws for a record with ID sample<i>)
    #[arg(short, long, value_name = "N", default_value_t = protmask::rng::DEFAULT_SEED)]
    pub seed: u64,

    /// List every named schedule, distribution and preset with its formula and source (--format json: for programs)
    #[arg(long)]
    pub list: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleFormat {
    Table,
    Csv,
    Tsv,
    Json,
}

const MASK_EXAMPLES: &str = "Examples:
  protmask mask data/NC_000932.faa -o masked.fa -r rates.csv
  protmask mask --preset esm2 uniref50.fa.gz -o masked.fa.gz -r rates.tsv -j 8
  protmask mask --schedule 'cosine' --mode exact --seed 7 in.fa > masked.fa
  protmask mask --schedule '0.5*beta(2,5) + 0.5*uniform' --replicates 4 in.fa -O masked/";

#[derive(Args, Debug)]
pub struct MaskArgs {
    /// FASTA files (plain, gzip/BGZF, bzip2, xz or zstd, detected from the bytes); none or '-' reads stdin
    #[arg(value_name = "INPUT", help_heading = "INPUT")]
    pub inputs: Vec<String>,

    /// Read more input paths from FILE, one per line ('-' = stdin), after those given as arguments
    #[arg(long, value_name = "FILE", help_heading = "INPUT")]
    pub input_list: Option<String>,

    /// Masked FASTA ('-' = stdout); several inputs are concatenated in order. Compressed by extension (.gz is BGZF, .bz2, .xz, .zst)
    #[arg(short, long, value_name = "PATH", help_heading = "OUTPUT")]
    pub output: Option<PathBuf>,

    /// One masked file per input, DIR/<input file name> (created if missing); with --split, one per split, DIR/<split>.fa (compressed by --compress)
    #[arg(
        short = 'O',
        long,
        value_name = "DIR",
        conflicts_with = "output",
        help_heading = "OUTPUT"
    )]
    pub outdir: Option<PathBuf>,

    /// Per-sequence table file,id,replicate,length,t,rate,masked: .csv or .tsv, optionally .gz/.bz2/.xz/.zst
    #[arg(short, long, value_name = "PATH", value_parser = parse_rates, help_heading = "OUTPUT")]
    pub rates: Option<OutputSpec>,

    /// One row per emitted record for ML code (all columns, no join needed): .parquet, or .jsonl (.jsonl.gz, .jsonl.bz2, .jsonl.xz, .jsonl.zst); '-' = JSON Lines on stdout; DIR/ (trailing slash) = a Hugging Face dataset folder, DIR/data/train-00000-of-0000N.parquet shards and DIR/README.md. Alone, no FASTA goes to stdout
    #[arg(long, value_name = "PATH", value_parser = parse_dataset, help_heading = "OUTPUT")]
    pub dataset: Option<OutputSpec>,

    /// Rows per shard of a dataset folder (--dataset DIR/), in output order [default: 100000; 25000 with --tokens]
    #[arg(long, value_name = "N", value_parser = parse_shard_rows, requires = "dataset", help_heading = "OUTPUT")]
    pub shard_rows: Option<u64>,

    /// Let --dataset DIR/ replace the dataset protmask wrote in DIR (its README.md and data/ shards); other files there are still refused
    #[arg(long, requires = "dataset", help_heading = "OUTPUT")]
    pub force: bool,

    /// How a Parquet dataset's columns are compressed: snappy (all but the residue text), zstd or zstd:LEVEL (every column; LEVEL 1-22, default 1), none [default: snappy]
    #[arg(
        long,
        value_name = "CODEC",
        value_parser = parse_parquet_compression,
        requires = "dataset",
        help_heading = "OUTPUT"
    )]
    pub parquet_compression: Option<ParquetCompression>,

    /// Add input_ids and labels to the dataset in this vocabulary: esm (the 33-token ESM alphabet) or evodiff (EvoDiff's 31 symbols)
    #[arg(
        long,
        value_name = "VOCAB",
        value_enum,
        requires = "dataset",
        help_heading = "OUTPUT"
    )]
    pub tokens: Option<Vocab>,

    /// Write a JSON provenance record (options, RNG scheme, inputs' and outputs' sizes, record counts and SHA-256) to PATH, last
    #[arg(long, value_name = "PATH", help_heading = "OUTPUT")]
    pub manifest: Option<PathBuf>,

    /// Add a 'positions' column (0-based selected positions, ';'-separated) to the rates table
    #[arg(long, requires = "rates", help_heading = "OUTPUT")]
    pub positions: bool,

    /// Residues per sequence line; 0 = one line per sequence. A mask token counts as one
    #[arg(
        short = 'w',
        long,
        value_name = "N",
        default_value_t = 60,
        help_heading = "OUTPUT"
    )]
    pub line_width: usize,

    /// Compress stdout (the FASTA, or the dataset of --dataset -): gz (BGZF), bz2, xz, zst. Files are compressed by their extension
    #[arg(long, value_name = "FORMAT", help_heading = "OUTPUT")]
    pub compress: Option<Compression>,

    /// Noise schedule: cosine, linear, cubic, square, sqrt, beta(a,b), uniform(lo,hi), 0.15, discrete(n), betalinear30, beta30, or a mixture such as '0.8*beta(3,9) + 0.2*uniform' [preset's; esm3: betalinear30]
    #[arg(long, value_name = "SPEC", help_heading = "SCHEDULE")]
    pub schedule: Option<Schedule>,

    /// Model conventions: sets schedule, mode, token, corruption and timesteps; explicit flags override
    #[arg(long, value_enum, default_value_t = Preset::Esm3, help_heading = "SCHEDULE")]
    pub preset: Preset,

    /// Timesteps: iid t ~ U(0,1) per record, or stratified (low-discrepancy over each input's records, in order) [preset's; esm3: iid]
    #[arg(long, value_enum, help_heading = "SCHEDULE")]
    pub timesteps: Option<Timesteps>,

    /// bernoulli: each eligible position with probability r; exact: floor(r*L + U) positions; floor: floor(r*L) positions [preset's; esm3: bernoulli]
    #[arg(long, value_enum, help_heading = "MASKING")]
    pub mode: Option<Mode>,

    /// What a masked position becomes, one or more characters: _ (ESM3), <mask> (ESM-2, Hugging Face), # (EvoDiff) [preset's; esm3: _]
    #[arg(long, value_name = "STR", value_parser = check_token, help_heading = "MASKING")]
    pub mask_token: Option<String>,

    /// Of the selected positions, fractions masked, replaced by a random residue (see --random-pool), kept; sum 1 [preset's; esm3: 1,0,0]
    #[arg(
        long,
        value_name = "M,R,K",
        allow_hyphen_values = true,
        help_heading = "MASKING"
    )]
    pub corrupt: Option<Corruption>,

    /// What a replaced position is drawn from: standard (ACDEFGHIKLMNPQRSTVWY) or extended (those and BZXJOU) [preset's; esm3: standard]
    #[arg(long, value_enum, value_name = "POOL", help_heading = "MASKING")]
    pub random_pool: Option<RandomPool>,

    /// A replaced position never shows its original letter (one of the pool's other letters) [preset's; esm3: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = "MASKING"
    )]
    pub random_differs: Option<bool>,

    /// Select at least N positions of each record (all of a shorter one); the positions stay uniform [preset's; esm3: 0]
    #[arg(long, value_name = "N", value_parser = check_min_masked, help_heading = "MASKING")]
    pub min_masked: Option<u32>,

    /// Cut a record longer than N residues to a window of N before masking (see --crop); the window is what every output holds [preset's; esm3: none; bionemo-esm2: 1022]
    #[arg(long, value_name = "N", value_parser = protmask::config::positive_u32, help_heading = "MASKING")]
    pub max_length: Option<u32>,

    /// Where the window of a record longer than --max-length starts [default: random]
    #[arg(long, value_enum, value_name = "CROP", help_heading = "MASKING")]
    pub crop: Option<protmask::crop::Crop>,

    /// Only residues among CHARS are eligible (case-sensitive); L counts eligible positions
    #[arg(long, value_name = "CHARS", value_parser = check_maskable, help_heading = "MASKING")]
    pub maskable: Option<String>,

    /// Intervals per record, BED-style: tab-separated 'id start end' (0-based, end exclusive; more columns ignored; '#', 'track' and 'browser' lines skipped; compressed or not; not stdin). Only positions inside are eligible (see --regions-mode)
    #[arg(long, value_name = "FILE", value_parser = protmask::regions::check_path, help_heading = "MASKING")]
    pub regions: Option<String>,

    /// only: positions inside the intervals are eligible (a record without any has none); except: positions inside are never selected [default: only]
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        requires = "regions",
        help_heading = "MASKING"
    )]
    pub regions_mode: Option<protmask::regions::RegionsMode>,

    /// For a shard of a larger set: IDs in the regions file that no input has are counted on stderr, not an error
    #[arg(long, requires = "regions", help_heading = "MASKING")]
    pub regions_partial: bool,

    /// Select positions in contiguous runs of geometric length with mean M (M >= 1), cut at eligibility boundaries; the count stays the mode's
    #[arg(long, value_name = "M", value_parser = span_mean, help_heading = "MASKING")]
    pub span_mean: Option<f64>,

    /// Cap each drawn run at N positions (runs that touch can still merge)
    #[arg(long, value_name = "N", requires = "span_mean", value_parser = clap::value_parser!(u32).range(1..), help_heading = "MASKING")]
    pub span_max: Option<u32>,

    /// Put each record in one split, by a keyed hash of its ID (or of its cluster's representative, with --split-groups) and --split-seed: never of the mask seed, the order, the threads or the sharding. NAME=FRACTION,... (names of letters, digits, '_'; fractions sum to 1), e.g. train=0.98,validation=0.01,test=0.01. Adds a 'split' column to the rates table and the dataset; with -O, one FASTA per split, DIR/<split>.fa
    #[arg(long, value_name = "SPLITS", value_parser = parse_splits, help_heading = "SPLITS")]
    pub split: Option<protmask::split::Splits>,

    /// The split's own seed (independent of --seed: another mask seed keeps the splits) [default: 0]
    #[arg(long, value_name = "N", requires = "split", value_parser = check_seed, help_heading = "SPLITS")]
    pub split_seed: Option<u64>,

    /// Clusters that must stay in one split: TSV 'representative<TAB>member', one line per member (MMseqs2 easy-cluster's *_cluster.tsv); a record in no line is its own cluster
    #[arg(long, value_name = "FILE", value_parser = protmask::split::check_groups_path, requires = "split", help_heading = "SPLITS")]
    pub split_groups: Option<String>,

    /// 64-bit seed; the same seed gives the same masks
    #[arg(short, long, value_name = "N", default_value_t = protmask::rng::DEFAULT_SEED, value_parser = check_seed, help_heading = "REPRODUCIBILITY")]
    pub seed: u64,

    /// Emit every record N times; replicate k's ID becomes <id>_r<k> when N > 1
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = protmask::config::positive_u32, help_heading = "REPRODUCIBILITY")]
    pub replicates: u32,

    /// Worker threads [default: all cores]
    #[arg(short = 'j', long, value_name = "N", value_parser = protmask::config::positive_u32, help_heading = "PERFORMANCE")]
    pub threads: Option<u32>,

    /// Bytes of input per work unit (tuning and tests; output never depends on it)
    #[arg(long, value_name = "BYTES", default_value_t = protmask::engine::DEFAULT_BLOCK_SIZE, value_parser = clap::value_parser!(u64).range(1..), hide = true, help_heading = "PERFORMANCE")]
    pub block_size: u64,

    /// Bytes of later inputs' output held in memory before spilling to a temporary file (tuning and tests; output never depends on it)
    #[arg(long, value_name = "BYTES", default_value_t = protmask::engine::DEFAULT_SPILL_MEMORY, hide = true, help_heading = "PERFORMANCE")]
    pub spill_memory: u64,

    /// No progress bar, no summary line
    #[arg(short, long, help_heading = "PERFORMANCE")]
    pub quiet: bool,
}

/// A dataset file, `-` (JSON Lines on stdout, compressed by `--compress`), or a folder
/// named with a trailing slash (Parquet shards and a card; rows per shard and `--force`
/// are set by `commands::mask`). A folder named without the slash is refused, saying so.
fn parse_dataset(s: &str) -> Result<OutputSpec, String> {
    if s == "-" {
        return Ok(OutputSpec {
            role: Role::Dataset,
            format: Format::Jsonl,
            target: Target::One(OutputTarget::Stdout, Compression::None),
            split: None,
        });
    }
    if let Some(dir) = protmask::sink::shards::folder_of(s) {
        return OutputSpec::dataset_folder(&dir).map_err(|e| e.to_string());
    }
    if std::path::Path::new(s).is_dir() {
        return Err(format!(
            "'{s}' is a folder: write '{s}/' (with the trailing slash) for a dataset folder of Parquet shards, or name a .parquet or .jsonl file"
        ));
    }
    OutputSpec::file(Role::Dataset, std::path::Path::new(s)).map_err(|e| e.to_string())
}

/// At least one row a shard.
fn parse_shard_rows(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("a shard holds at least 1 row".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a number of rows")),
    }
}

fn parse_parquet_compression(s: &str) -> Result<ParquetCompression, String> {
    s.parse()
}

fn parse_rates(s: &str) -> Result<OutputSpec, String> {
    if s == "-" {
        return Err(
            "the rates table is written to a file, not stdout: name it .csv or .tsv".into(),
        );
    }
    OutputSpec::file(Role::Rates, std::path::Path::new(s)).map_err(|e| e.to_string())
}

fn parse_variants_table(s: &str) -> Result<OutputSpec, String> {
    if s == "-" {
        return Err(
            "the variants table is written to a file: name it .csv, .tsv or .parquet".into(),
        );
    }
    OutputSpec::file(Role::Variants, std::path::Path::new(s)).map_err(|e| e.to_string())
}

fn parse_splits(s: &str) -> Result<protmask::split::Splits, String> {
    s.parse()
}

fn span_mean(s: &str) -> Result<f64, String> {
    check_span_mean(s.parse().unwrap_or(f64::NAN), s)
}

impl MaskArgs {
    /// The masking options as given, for the library to resolve.
    pub fn options(&self) -> MaskOptions {
        MaskOptions {
            preset: self.preset,
            seed: Some(self.seed),
            schedule: self.schedule.clone(),
            mode: self.mode,
            mask_token: self.mask_token.clone(),
            corrupt: self.corrupt,
            maskable: self.maskable.clone(),
            timesteps: self.timesteps,
            tokens: self.tokens,
            regions: self.regions.clone().map(RegionsSource::Path),
            regions_mode: self.regions_mode,
            span_mean: self.span_mean,
            span_max: self.span_max,
            random_pool: self.random_pool,
            random_differs: self.random_differs,
            min_masked: self.min_masked,
            max_length: self.max_length,
            crop: self.crop,
            split: self.split.clone(),
            split_seed: self.split_seed,
            split_groups: self.split_groups.clone(),
        }
    }

    /// Rows per shard of a dataset folder (`--shard-rows` or its default by `--tokens`);
    /// `None` without one.
    pub fn shard_rows_resolved(&self) -> Option<u64> {
        self.dataset.as_ref()?.folder()?;
        Some(
            self.shard_rows.unwrap_or_else(|| {
                protmask::sink::shards::default_shard_rows(self.tokens.is_some())
            }),
        )
    }

    /// The resolved configuration: the options with the preset applied, and what only
    /// shapes the files written.
    pub fn config(&self) -> Result<MaskConfig, protmask::config::OptionError> {
        let mut c = MaskConfig::resolve(self.options())?;
        c.replicates = self.replicates;
        c.line_width = self.line_width;
        c.positions = self.positions;
        c.compress = self.compress;
        c.parquet_compression = self.parquet_compression.unwrap_or_default();
        c.shard_rows = self.shard_rows_resolved();
        c.outdir = self.outdir.is_some();
        if let Some(r) = &mut c.regions {
            r.partial = self.regions_partial;
        }
        Ok(c)
    }
}

impl ScanArgs {
    /// The inputs: the reference of a variants scan, else those given (none: stdin).
    pub fn input_names(&self) -> Vec<String> {
        match &self.reference {
            Some(r) => vec![r.clone()],
            None if self.inputs.is_empty() => vec!["-".into()],
            None => self.inputs.clone(),
        }
    }

    /// The same outputs as `mask` would write them: `mask`'s checks of the output flags
    /// (clashing paths, stdout, dataset folders) apply to a scan unchanged.
    pub fn as_mask_args(&self) -> MaskArgs {
        MaskArgs {
            inputs: self.input_names(),
            input_list: None,
            output: self.output.clone(),
            outdir: self.outdir.clone(),
            rates: self.rates.clone(),
            dataset: self.dataset.clone(),
            shard_rows: self.shard_rows,
            force: self.force,
            parquet_compression: self.parquet_compression,
            tokens: self.tokens,
            manifest: self.manifest.clone(),
            positions: self.rates.is_some(),
            line_width: self.line_width,
            compress: self.compress,
            schedule: None,
            preset: self.preset,
            timesteps: None,
            mode: None,
            mask_token: self.mask_token.clone(),
            corrupt: None,
            random_pool: None,
            random_differs: None,
            min_masked: None,
            max_length: self.max_length,
            crop: None,
            maskable: self.maskable.clone(),
            regions: self.positions.clone(),
            regions_mode: None,
            regions_partial: false,
            span_mean: None,
            span_max: None,
            split: None,
            split_seed: None,
            split_groups: None,
            seed: protmask::rng::DEFAULT_SEED,
            replicates: 1,
            threads: self.threads,
            block_size: self.block_size,
            spill_memory: protmask::engine::DEFAULT_SPILL_MEMORY,
            quiet: self.quiet,
        }
    }

    /// The resolved configuration of the scan: the preset's mask token (a D3PM preset's
    /// `#`), no corruption, the window as `max_length`, the positions file as `regions`,
    /// and `scan` saying what the rows are.
    pub fn config(&self) -> Result<MaskConfig, protmask::UsageError> {
        use protmask::UsageError;
        if self.variants.is_some() {
            for (given, flag) in [
                (self.maskable.is_some(), "--maskable"),
                (self.positions.is_some(), "--positions"),
            ] {
                if given {
                    return Err(UsageError::NotWithVariants(flag));
                }
            }
        }
        if self.tokens.is_some() && self.dataset.is_none() && self.variants.is_none() {
            return Err(UsageError::TokensWithoutDataset);
        }
        if let Some(n) = self.max_length.filter(|&n| n < protmask::scan::MIN_WINDOW) {
            return Err(UsageError::ScanWindow(n));
        }
        let mut options = self.as_mask_args().options();
        options.seed = None;
        // Nothing is drawn: a D3PM preset's mode (which has no mask) is not the scan's.
        if options.preset.facts().mode.d3pm().is_some() {
            options.mode = Some(Mode::Exact);
        }
        let mut c = MaskConfig::resolve(options)?;
        c.corrupt = Corruption::MASK_ONLY;
        c.crop = None;
        c.line_width = self.line_width;
        c.positions = self.rates.is_some();
        c.compress = self.compress;
        c.parquet_compression = self.parquet_compression.unwrap_or_default();
        c.shard_rows = self.as_mask_args().shard_rows_resolved();
        c.outdir = self.outdir.is_some();
        c.scan = Some(protmask::scan::ScanConfig {
            random: false,
            variants: self
                .variants
                .as_ref()
                .map(|p| protmask::variants::VariantsOption {
                    path: p.display().to_string(),
                    reference_id: self.reference_id.clone(),
                    mode: self.variants_mode.unwrap_or_default(),
                    found_at: None,
                }),
        });
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use protmask::config::MaskOption;

    /// Flags of `mask` that shape files or the run rather than a record's mask: the only
    /// ones that are not a `MaskOption` (docs/reference.md lists them).
    const FILE_AND_RUN_FLAGS: &[&str] = &[
        "inputs",
        "input_list",
        "output",
        "outdir",
        "rates",
        "dataset",
        "manifest",
        "positions",
        "line_width",
        "compress",
        "parquet_compression",
        "shard_rows",
        "force",
        "replicates",
        "threads",
        "block_size",
        "spill_memory",
        "quiet",
        "regions_partial",
    ];

    /// Every masking option is a flag, spelled in messages as clap spells it, and every
    /// other flag of `mask` is in the short list above: a flag added to `MaskArgs` alone
    /// (not to the library's options, so not to Python) fails here.
    #[test]
    fn mask_flags_are_the_library_options_and_the_file_flags() {
        let cli = Cli::command();
        let mask = cli.find_subcommand("mask").unwrap();
        let mut seen = Vec::new();
        for arg in mask.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            seen.push(id.to_string());
            match id.parse::<MaskOption>() {
                Ok(option) => {
                    let long = arg.get_long().unwrap();
                    let value = arg.get_value_names().unwrap()[0].as_str().to_string();
                    // A switch that may take a value (`--random-differs[=<BOOL>]`).
                    let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
                    let shown = match optional {
                        true => format!("--{long}[=<{value}>]"),
                        false => format!("--{long} <{value}>"),
                    };
                    assert_eq!(option.flag(), shown, "{id}");
                }
                Err(_) => assert!(FILE_AND_RUN_FLAGS.contains(&id), "--{id}: not an option"),
            }
        }
        for option in MaskOption::ALL {
            assert!(
                seen.iter().any(|s| s == option.name()),
                "{option} has no flag"
            );
        }
    }
}
