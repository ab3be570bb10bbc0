//! `protmask mask`: resolve the flags into a `Job`, check the paths, run, summarise.
//!
//! Every check that can fail without reading input happens here, first: unknown or
//! clashing paths, an output that is an input, a rates table that is neither CSV nor TSV.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::MaskArgs;
use crate::config::resolve;
use crate::engine::{Job, OutputPlan, Summary, run};
use crate::fasta::FormatOptions;
use crate::io::{Compression, InputSource, OutputTarget, create_output, same_file_guard};
use crate::manifest::{FileEntry, Manifest, Options, mode_name, timesteps_name};
use crate::mask::Masker;
use std::io::Write as _;

pub fn execute(args: MaskArgs) -> Result<()> {
    let inputs = gather_inputs(&args)?;
    let output = output_plan(&args, &inputs)?;
    let rates_delimiter = match &args.rates {
        Some(p) => Some(rates_delimiter(p)?),
        None => None,
    };
    let mut written: Vec<PathBuf> = match &output {
        OutputPlan::Single {
            target: OutputTarget::Path(p),
            ..
        } => vec![p.clone()],
        OutputPlan::Single { .. } => vec![],
        OutputPlan::PerFile { paths } => paths.clone(),
    };
    for (what, path) in [("rates table", &args.rates), ("manifest", &args.manifest)] {
        if let Some(p) = path {
            if written.iter().any(|w| w == p) {
                bail!("the {what} '{}' is also another output", p.display());
            }
            written.push(p.clone());
        }
    }
    same_file_guard(&inputs, &written).map_err(anyhow::Error::msg)?;

    let resolved = resolve(
        args.preset,
        args.schedule,
        args.mode,
        args.mask_token,
        args.corrupt,
        args.timesteps,
    );
    let manifest_options = args.manifest.as_ref().map(|_| Options {
        preset: resolved.preset.to_string(),
        schedule: resolved.schedule.spec().to_string(),
        schedule_resolved: resolved.schedule.canonical(),
        mode: mode_name(resolved.mode).into(),
        mask_token: resolved.token.clone(),
        corrupt: [
            resolved.corruption.mask(),
            resolved.corruption.random(),
            resolved.corruption.keep(),
        ],
        maskable: args.maskable.clone(),
        timesteps: timesteps_name(resolved.timesteps).into(),
        seed: args.seed,
        replicates: args.replicates,
        line_width: args.line_width,
        positions: args.positions,
        compress: args.compress.map(|c| c.name().to_string()),
        outdir: args.outdir.is_some(),
    });
    let masker = Masker::new(
        resolved.schedule,
        resolved.mode,
        resolved.corruption,
        resolved.timesteps,
        args.maskable.as_deref().map(str::as_bytes),
        args.seed,
    );
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let job = Job {
        inputs,
        output,
        rates: args.rates.clone(),
        format: FormatOptions {
            line_width: args.line_width,
            token: resolved.token.into_bytes(),
            replicates: args.replicates,
            rates_delimiter,
            positions: args.positions,
        },
        masker,
        threads,
        block_size: usize::try_from(args.block_size).unwrap_or(usize::MAX),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        digests: args.manifest.is_some(),
    };
    let input_names: Vec<String> = job.inputs.iter().map(InputSource::display_name).collect();
    let summary = run(job)?;
    if let (Some(path), Some(options)) = (&args.manifest, manifest_options) {
        write_manifest(path, options, &input_names, &summary)?;
    }
    if !args.quiet {
        eprintln!("{}", summary_line(&summary));
    }
    Ok(())
}

/// The manifest of a finished run, written atomically, last.
fn write_manifest(
    path: &Path,
    options: Options,
    input_names: &[String],
    summary: &Summary,
) -> Result<()> {
    let missing = || anyhow::anyhow!("internal error: a digest was not computed");
    let mut inputs = Vec::new();
    for (i, name) in input_names.iter().enumerate() {
        let d = summary.input_digests[i].clone().ok_or_else(missing)?;
        inputs.push(FileEntry {
            role: None,
            path: name.clone(),
            bytes: d.bytes,
            records: summary.input_records[i],
            sha256: d.sha256,
            content_bytes: None,
            content_sha256: None,
        });
    }
    let mut outputs = Vec::new();
    for o in &summary.outputs {
        let d = o.digest.clone().ok_or_else(missing)?;
        outputs.push(FileEntry {
            role: Some(o.role.to_string()),
            path: o.path.clone(),
            bytes: d.stored.bytes,
            records: o.records,
            sha256: d.stored.sha256,
            content_bytes: d.content.as_ref().map(|c| c.bytes),
            content_sha256: d.content.map(|c| c.sha256),
        });
    }
    let manifest = Manifest {
        tool: crate::manifest::TOOL.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        rng_scheme: crate::rng::SCHEME_VERSION,
        command_line: std::env::args().collect(),
        working_directory: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        options,
        inputs,
        outputs,
    };
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    let mut out = create_output(OutputTarget::Path(path.to_path_buf()), Compression::None)
        .with_context(|| format!("cannot create manifest '{}'", path.display()))?;
    out.write_all(text.as_bytes())
        .with_context(|| format!("cannot write manifest '{}'", path.display()))?;
    out.finish()?;
    Ok(())
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

fn output_plan(args: &MaskArgs, inputs: &[InputSource]) -> Result<OutputPlan> {
    if let Some(dir) = &args.outdir {
        if args.compress.is_some() {
            bail!(
                "--compress applies to stdout; with --outdir each file is compressed by its input's name"
            );
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory '{}'", dir.display()))?;
        let mut seen = HashSet::new();
        let mut paths = Vec::with_capacity(inputs.len());
        for input in inputs {
            let InputSource::Path(p) = input else {
                bail!("--outdir names each output after its input, and stdin has no name: use -o");
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
        return Ok(OutputPlan::PerFile { paths });
    }
    let target = match &args.output {
        Some(p) if p.as_os_str() != "-" => OutputTarget::Path(p.clone()),
        _ => OutputTarget::Stdout,
    };
    let compression = match (&target, args.compress) {
        (OutputTarget::Path(p), None) => Compression::from_path(p),
        (OutputTarget::Path(p), Some(_)) => bail!(
            "--compress applies to stdout; '{}' is compressed by its extension (.gz, .bz2, .xz, .zst)",
            p.display()
        ),
        (OutputTarget::Stdout, c) => c.unwrap_or(Compression::None),
    };
    Ok(OutputPlan::Single {
        target,
        compression,
    })
}

/// ',' for `.csv`, tab for `.tsv`, after any compression extension.
pub fn rates_delimiter(path: &Path) -> Result<u8> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let base = [".gz", ".bgz", ".bz2", ".xz", ".zst", ".zstd"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    if base.ends_with(".csv") {
        Ok(b',')
    } else if base.ends_with(".tsv") {
        Ok(b'\t')
    } else {
        bail!(
            "rates table '{}': name it .csv or .tsv (optionally compressed, e.g. rates.tsv.gz)",
            path.display()
        )
    }
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
    format!(
        "protmask: {} records, {} residues, {} masked ({frac:.1}%), mean rate {mean:.4}, {:.2} s",
        st.records,
        st.residues,
        st.masked,
        s.elapsed.as_secs_f64()
    )
}
