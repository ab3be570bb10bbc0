//! `protmask mask`: resolve the flags into a `Job`, check the paths, run, summarise.
//!
//! Every check that can fail without reading input happens here, first: unknown or
//! clashing paths, an output that is an input.
//!
//! Warnings (one line each, `protmask: warning: ...` on stderr) are about what the user
//! gets, not about progress, so `-q` does not silence them, as it does not silence errors.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cli::MaskArgs;
use protmask::UsageError;
use protmask::cleanup::MadeDirs;
use protmask::engine::{DuplicateReport, Input, Job, Summary, run};
use protmask::io::{Compression, InputSource, OutputTarget, same_file_guard};
use protmask::records::is_residue_token;
use protmask::regions::RegionsMode;
use protmask::sink::{Format, OutputSpec, Role, Target, split_fasta_name};

pub fn execute(args: MaskArgs) -> Result<()> {
    let inputs = gather_inputs(&args)?;
    let (outputs, made) = plan_outputs(&args, &inputs)?;
    let config = args.config().map_err(UsageError::from)?;
    if is_residue_token(config.mask_token.as_bytes()) {
        warn(&format!(
            "the mask token '{}' is also a residue: a masked position cannot be told from an \
             original '{}' by looking, so keep the selected positions (-r with --positions) \
             or a manifest (--manifest); verify checks such a set by them",
            config.mask_token, config.mask_token
        ));
    }
    let shown_nowhere = args.rates.is_none() && args.dataset.is_none() && args.outdir.is_none();
    if config.split.is_some() && shown_nowhere {
        warn(
            "--split with one FASTA and neither --rates nor --dataset: no file says which split \
             a record is in (the split is a column of the rates table and the dataset; -O \
             writes one FASTA per split)",
        );
    }
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        crate::progress::Bars::new(&inputs) as std::sync::Arc<dyn protmask::engine::Progress>
    });
    let job = Job {
        config,
        inputs: inputs.into_iter().map(Input::new).collect(),
        outputs,
        manifest: args.manifest.clone(),
        threads: args.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |n| n as usize,
        ),
        block_size: usize::try_from(args.block_size).unwrap_or(usize::MAX),
        spill_memory: usize::try_from(args.spill_memory).unwrap_or(usize::MAX),
        progress,
        recorded_inputs: None,
    };
    let names: Vec<String> = job.inputs.iter().map(|i| i.name.clone()).collect();
    let maskable = job.config.maskable.clone();
    if job.outputs.iter().any(|o| o.format == Format::Parquet) {
        keep_freed_memory();
    }
    let summary = run(job)?;
    // Finished: a directory made for --outdir stays (on an error it goes, if empty).
    if let Some(made) = made {
        made.keep();
    }
    report(&summary, &names, maskable.as_deref(), args.quiet);
    Ok(())
}

/// The outputs, in the order they are published (FASTA, rates table, dataset), checked
/// before anything is read: no two at one path, none an input or the regions file; the
/// `--outdir` directory made (and removed again, if empty, unless the run finishes).
pub(crate) fn plan_outputs(
    args: &MaskArgs,
    inputs: &[InputSource],
) -> Result<(Vec<OutputSpec>, Option<MadeDirs>)> {
    let mut outputs = fasta_output(args, inputs)?;
    outputs.extend(args.rates.clone());
    outputs.extend(dataset_output(args)?);
    let mut written: Vec<PathBuf> = Vec::new();
    // The splits of one dataset folder share its card: named once.
    let first_of_folder = |i: usize, o: &OutputSpec| {
        (o.folder()).is_none_or(|d| !outputs[..i].iter().any(|p| p.folder() == Some(d)))
    };
    let named = (outputs.iter().enumerate())
        .filter(|&(i, o)| first_of_folder(i, o))
        .flat_map(|(_, o)| o.paths().into_iter().map(|p| (o.role.noun(), p)));
    for (what, p) in named.chain(args.manifest.iter().map(|p| ("manifest", p.clone()))) {
        if written.contains(&p) {
            bail!("the {what} '{}' is also another output", p.display());
        }
        written.push(p);
    }
    same_file_guard(inputs, &written)?;
    // The manifest is written last: whether it can be, is known now (in a dataset folder
    // the run makes, once the run has made it).
    let in_new_folder = |p: &std::path::Path| {
        let parent = p.parent();
        outputs
            .iter()
            .filter_map(OutputSpec::folder)
            .any(|dir| parent == Some(dir) && !dir.exists())
    };
    if let Some(m) = args.manifest.as_ref().filter(|m| !in_new_folder(m)) {
        protmask::io::check_writable(m)
            .with_context(|| format!("cannot create manifest '{}'", m.display()))?;
    }
    // The regions and groups files are read like inputs: no output may overwrite them.
    for read in args.regions.iter().chain(&args.split_groups) {
        same_file_guard(&[InputSource::parse(read)], &written)?;
    }
    // A dataset folder's data/ holds its shards alone (`data/train-*` would take in a
    // rates table named train-x.csv).
    if let Some(dir) = outputs.iter().find_map(OutputSpec::folder) {
        let data = dir.join(protmask::sink::shards::DATA);
        if let Some(p) = written.iter().find(|p| p.starts_with(&data)) {
            bail!(
                "'{}' is inside '{}', which holds the dataset's shards alone: write it elsewhere",
                p.display(),
                protmask::sink::shards::shown(&data)
            );
        }
    }
    let made = match &args.outdir {
        Some(dir) => Some(
            MadeDirs::create(dir)
                .with_context(|| format!("cannot create output directory '{}'", dir.display()))?,
        ),
        None => None,
    };
    Ok((outputs, made))
}

/// The warnings about what the user got, and (unless `quiet`) the closing lines.
fn report(summary: &Summary, names: &[String], maskable: Option<&str>, quiet: bool) {
    if let Some(w) = duplicates_warning(&summary.duplicates, names) {
        warn(&w);
    }
    let st = &summary.stats;
    if st.residues > 0 && st.eligible == 0 {
        warn(&format!(
            "no position of the {} residues read was eligible, so nothing was masked{}",
            st.residues,
            match maskable {
                Some(m) =>
                    format!(" (--maskable '{m}' matches none of them; it is case-sensitive)"),
                None => String::new(),
            }
        ));
    }
    if st.short > 0 {
        warn(&format!(
            "{} fewer selected positions than drawn: runs of at most --span-max positions, \
             kept apart, could not hold them all (the masked column has each record's count)",
            protmask::counted(st.short, "record has", "records have"),
        ));
    }
    let without = summary
        .regions
        .as_ref()
        .filter(|r| r.mode == RegionsMode::Only && r.without_intervals > 0);
    if let Some(r) = without {
        warn(&format!(
            "{} no interval in regions file '{}', so nothing in {} was masked \
             (--regions-mode only)",
            protmask::counted(r.without_intervals, "record has", "records have"),
            r.path,
            if r.without_intervals == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    let groups = summary.split.as_ref().and_then(|s| s.groups.as_ref());
    if let Some(g) = groups.filter(|g| g.ungrouped > 0) {
        warn(&format!(
            "{} in no line of split groups file '{}': each is a group of its own",
            protmask::counted(g.ungrouped, "input record is", "input records are"),
            g.path
        ));
    }
    if !quiet {
        if let Some(s) = &summary.split {
            let parts: Vec<String> = (s.names.iter().zip(&s.records))
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            eprintln!(
                "protmask: records per split: {} (replicates counted)",
                parts.join(", ")
            );
        }
        if let Some(r) = summary.regions.as_ref().filter(|r| r.unmatched > 0) {
            eprintln!(
                "protmask: {} in regions file '{}' {} no input record (--regions-partial)",
                protmask::counted(r.unmatched, "ID", "IDs"),
                r.path,
                if r.unmatched == 1 { "matches" } else { "match" }
            );
        }
        eprintln!("{}", summary_line(summary));
    }
}

/// Ask glibc to keep freed memory for reuse (before any thread starts).
///
/// Encoding a Parquet row group allocates and frees buffers of a few MB for every column
/// (the parquet crate's level and page buffers, the row group's own columns). With
/// glibc's defaults, memory freed at the top of a thread's heap goes back to the kernel
/// and is faulted in again page by page for the next group: on the 400 MB input that was
/// 0.5-0.9 s of kernel time out of 1.4 s. Allocations under 32 MB now stay on the heap
/// and up to 64 MB of freed memory is kept: 0.25 s of kernel time, about 10 MB more peak
/// RSS. The FASTA path gains nothing from it (and would hold 11 MB more), so only a
/// Parquet dataset sets it. docs/performance.md has the measurements.
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; it takes the arena lock
    // itself, and no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// One warning line on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("protmask: warning: {message}");
}

/// IDs that occur more than once get the same mask: say how many, and the first.
pub(crate) fn duplicates_warning(d: &DuplicateReport, names: &[String]) -> Option<String> {
    let (id, file, number) = d.first.as_ref()?;
    let how_many = match d.repeated {
        1 => "1 ID occurs".to_string(),
        n => format!("{n} IDs occur"),
    };
    let sampled = match d.sample {
        1 => String::new(),
        s => format!(
            " (in a sample of 1 in {s} of the IDs of {} records, chosen by hash to bound \
             memory)",
            d.records
        ),
    };
    let file = names.get(*file).map_or("?", String::as_str);
    Some(format!(
        "{how_many} more than once{sampled}, the first '{id}' (record {number} of {file}): a \
         record's mask depends on its ID, so every copy gets the same mask; use --replicates \
         for several masks of a record, or make the IDs unique"
    ))
}

/// Inputs on the command line, then those listed in `--input-list`; none means stdin.
fn gather_inputs(args: &MaskArgs) -> Result<Vec<InputSource>> {
    let mut names = args.inputs.clone();
    if let Some(list) = &args.input_list {
        let text = if list == "-" {
            std::io::read_to_string(std::io::stdin())
                .context("cannot read the input list from stdin")?
        } else {
            std::fs::read_to_string(list)
                .with_context(|| format!("cannot read input list '{list}'"))?
        };
        names.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
        if list == "-" && names.iter().any(|n| n == "-") {
            bail!("stdin cannot be both the input list and an input");
        }
    } else if names.is_empty() {
        names.push("-".into());
    }
    if names.is_empty() {
        bail!("the input list names no files");
    }
    Ok(names.iter().map(|n| InputSource::parse(n)).collect())
}

/// The masked FASTA: one file (or stdout), one file per input, one per split (`-O` with
/// `--split`), or none (a dataset alone).
fn fasta_output(args: &MaskArgs, inputs: &[InputSource]) -> Result<Vec<OutputSpec>> {
    let spec = |target| OutputSpec {
        role: Role::Fasta,
        format: Format::Fasta,
        target,
        split: None,
    };
    // With the dataset on stdout (`--dataset -`), `--compress` is the dataset's.
    let dataset_on_stdout = args.dataset.as_ref().is_some_and(on_stdout);
    let compress = args.compress.filter(|_| !dataset_on_stdout);
    if let (Some(dir), Some(splits)) = (&args.outdir, &args.split) {
        // DIR/<split>.fa, compressed by --compress (there is no input name to follow).
        let compression = compress.unwrap_or(Compression::None);
        let target = |_, name: &str| {
            let path = dir.join(split_fasta_name(name, compression));
            Target::One(OutputTarget::Path(path), compression)
        };
        return Ok(OutputSpec::per_split(
            Role::Fasta,
            Format::Fasta,
            &splits.names(),
            target,
        ));
    }
    if let Some(dir) = &args.outdir {
        if compress.is_some() {
            return Err(UsageError::CompressWithOutdir.into());
        }
        let mut seen = HashSet::new();
        let mut paths = Vec::with_capacity(inputs.len());
        for input in inputs {
            let InputSource::Path(p) = input else {
                return Err(UsageError::OutdirFromStdin.into());
            };
            let name = p
                .file_name()
                .with_context(|| format!("input '{}' has no file name", p.display()))?;
            if !seen.insert(name.to_owned()) {
                bail!(
                    "two inputs are named '{}': their outputs would collide in '{}'",
                    name.to_string_lossy(),
                    dir.display()
                );
            }
            paths.push(dir.join(name));
        }
        return Ok(vec![spec(Target::PerInput(paths))]);
    }
    // A dataset alone writes no FASTA (no `-o /dev/null` needed).
    if args.dataset.is_some() && args.output.is_none() {
        if compress.is_some() {
            return Err(UsageError::CompressWithoutFasta.into());
        }
        return Ok(Vec::new());
    }
    let target = match &args.output {
        Some(p) if p.as_os_str() != "-" => OutputTarget::Path(p.clone()),
        _ => OutputTarget::Stdout,
    };
    let compression = match (&target, compress) {
        (OutputTarget::Path(p), None) => Compression::from_path(p),
        (OutputTarget::Path(p), Some(_)) => {
            return Err(UsageError::CompressWithFile(p.display().to_string()).into());
        }
        (OutputTarget::Stdout, c) => c.unwrap_or(Compression::None),
    };
    Ok(vec![spec(Target::One(target, compression))])
}

/// The dataset (`--dataset`), checked against the other flags: on stdout (`-`), JSON
/// Lines compressed by `--compress`, and the FASTA must go to a file or nowhere;
/// `--parquet-compression` only with Parquet; a folder (`DIR/`) takes its rows per shard
/// and `--force`, which no other dataset takes.
fn dataset_output(args: &MaskArgs) -> Result<Vec<OutputSpec>> {
    let Some(mut dataset) = args.dataset.clone() else {
        return Ok(Vec::new());
    };
    match (&mut dataset.target, args.shard_rows_resolved()) {
        (Target::Shards { rows, force, .. }, Some(n)) => {
            *rows = n;
            *force = args.force;
        }
        _ if args.shard_rows.is_some() => return Err(UsageError::ShardRowsWithoutFolder.into()),
        _ if args.force => return Err(UsageError::ForceWithoutFolder.into()),
        _ => {}
    }
    if on_stdout(&dataset) {
        if args.output.as_ref().is_some_and(|p| p.as_os_str() == "-") {
            return Err(UsageError::TwoOnStdout.into());
        }
        dataset.target = Target::One(
            OutputTarget::Stdout,
            args.compress.unwrap_or(Compression::None),
        );
    }
    if args.parquet_compression.is_some() && dataset.format != Format::Parquet {
        let name = dataset
            .path()
            .map_or("-".into(), |p| p.display().to_string());
        return Err(UsageError::ParquetCompressionWithJsonl(name).into());
    }
    // A folder with --split: each split's shards, DIR/data/<split>-*.
    if let (
        Target::Shards {
            dir, rows, force, ..
        },
        Some(splits),
    ) = (&dataset.target, &args.split)
    {
        let target = |_, name: &str| Target::Shards {
            dir: dir.clone(),
            split: name.to_string(),
            rows: *rows,
            force: *force,
        };
        return Ok(OutputSpec::per_split(
            Role::Dataset,
            Format::Parquet,
            &splits.names(),
            target,
        ));
    }
    Ok(vec![dataset])
}

fn on_stdout(spec: &OutputSpec) -> bool {
    matches!(spec.target, Target::One(OutputTarget::Stdout, _))
}

fn summary_line(s: &Summary) -> String {
    let st = &s.stats;
    let mean = if st.records > 0 {
        st.rate_sum / st.records as f64
    } else {
        0.0
    };
    let frac = if st.eligible > 0 {
        100.0 * st.masked as f64 / st.eligible as f64
    } else {
        0.0
    };
    // Records an `only` regions file left without an interval (warned about above).
    let without = match &s.regions {
        Some(r) if r.mode == RegionsMode::Only && r.without_intervals > 0 => {
            format!(
                ", {} without an interval",
                protmask::counted(r.without_intervals, "input record", "input records")
            )
        }
        _ => String::new(),
    };
    format!(
        "protmask: {}, {} residues, {} masked ({frac:.1}%){without}, mean rate {mean:.4}, {:.2} s",
        protmask::counted(st.records, "record", "records"),
        st.residues,
        st.masked,
        s.elapsed.as_secs_f64()
    )
}
