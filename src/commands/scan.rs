//! `protmask scan`: resolve the flags (`ScanArgs::config`), plan the outputs as `mask`
//! does (the same checks), add the variants table, run, summarise. The rows themselves are
//! the library's (`protmask::scan`, `protmask::variants`).

use std::io::IsTerminal;

use anyhow::{Result, bail};

use super::mask::{duplicates_warning, keep_freed_memory, plan_outputs, warn};
use crate::cli::ScanArgs;
use protmask::engine::{Input, Job, Summary, run};
use protmask::io::{InputSource, same_file_guard};
use protmask::records::is_residue_token;
use protmask::sink::Format;

pub fn execute(args: ScanArgs) -> Result<()> {
    let config = args.config()?;
    if args.reference.as_deref() == Some("-") {
        bail!(
            "the reference is read twice (its variants are checked first): give a file, not stdin"
        );
    }
    let inputs: Vec<InputSource> = args
        .input_names()
        .iter()
        .map(|n| InputSource::parse(n))
        .collect();
    let mask_args = args.as_mask_args();
    let (mut outputs, made) = plan_outputs(&mask_args, &inputs)?;
    if let Some(table) = &args.variants_table {
        let path = table.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let others = outputs
            .iter()
            .flat_map(|o| o.paths())
            .chain(args.manifest.clone());
        for other in others {
            if other == path {
                bail!(
                    "the variants table '{}' is also another output",
                    path.display()
                );
            }
        }
        let mut read = inputs.clone();
        read.extend(args.variants.iter().map(|p| InputSource::Path(p.clone())));
        same_file_guard(&read, std::slice::from_ref(&path))?;
        outputs.push(table.clone());
    }
    // The variants file is read like an input: no output may overwrite it.
    if let Some(dms) = &args.variants {
        let written: Vec<_> = outputs.iter().flat_map(|o| o.paths()).collect();
        same_file_guard(&[InputSource::Path(dms.clone())], &written)?;
    }
    if is_residue_token(config.mask_token.as_bytes()) {
        warn(&format!(
            "the mask token '{}' is also a residue: a masked position cannot be told from an \
             original '{}' by looking; the positions column (-r) and the row IDs say which it is",
            config.mask_token, config.mask_token
        ));
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
        spill_memory: protmask::engine::DEFAULT_SPILL_MEMORY as usize,
        progress,
        recorded_inputs: None,
    };
    let names: Vec<String> = job.inputs.iter().map(|i| i.name.clone()).collect();
    if job.outputs.iter().any(|o| o.format == Format::Parquet) {
        keep_freed_memory();
    }
    let summary = run(job)?;
    if let Some(made) = made {
        made.keep();
    }
    report(&summary, &names, args.quiet);
    Ok(())
}

/// The warnings about what the user got, and (unless `quiet`) the closing line.
fn report(summary: &Summary, names: &[String], quiet: bool) {
    if let Some(w) = duplicates_warning(&summary.duplicates, names) {
        // In a scan the same ID gives rows of the same names.
        warn(&w.replace(
            "a record's mask depends on its ID, so every copy gets the same mask; use \
             --replicates for several masks of a record, or make the IDs unique",
            "their rows have the same IDs (<id>_p<i>); make the IDs unique",
        ));
    }
    let variants = summary.variants.as_ref();
    if let Some((v, (line, mutant, earlier))) =
        variants.and_then(|v| Some((v, v.first_duplicate.as_ref()?)))
    {
        warn(&format!(
            "{} an earlier line in variants file '{}', the first '{mutant}' (line {line}, as \
             line {earlier}): both are kept, each its own row of the variants table",
            protmask::counted(v.duplicates, "mutant repeats", "mutants repeat"),
            v.path
        ));
    }
    let st = &summary.stats;
    if st.records == 0 && summary.inputs.iter().any(|i| i.records > 0) {
        warn("no row was written: no position of the records read was eligible");
    }
    if !quiet {
        let input_records: u64 = summary.inputs.iter().map(|i| i.records).sum();
        let of_variants = variants.map_or(String::new(), |v| {
            format!(
                ", {} of '{}' ({})",
                protmask::counted(v.mutants, "mutant", "mutants"),
                v.path,
                v.reference_id
            )
        });
        eprintln!(
            "protmask: {} of {}{of_variants}, {} residues written, {:.2} s",
            protmask::counted(st.records, "row", "rows"),
            protmask::counted(input_records, "record", "records"),
            st.residues,
            summary.elapsed.as_secs_f64()
        );
    }
}
