//! `protmask regenerate`: the library finds the inputs and rebuilds the set
//! (`check::regenerate`); this prints one line per input found another way than by its
//! name and one per output (identical, or the first difference), and exits 1 when an
//! output is not reproduced.

use anyhow::{Result, bail};

use crate::cli::RegenerateArgs;
use protmask::check::{self, Outcome};

pub fn execute(args: RegenerateArgs) -> Result<()> {
    let result = check::regenerate(&args.manifest, &args.input, &args.outdir)?;
    if !args.quiet {
        for note in result.inputs.iter().filter_map(|(_, note)| note.as_ref()) {
            eprintln!("protmask: {note}");
        }
    }
    for o in &result.outputs {
        let path = o.path.display();
        match &o.outcome {
            Outcome::Identical if !args.quiet => println!("identical: {path}"),
            Outcome::SameContent if !args.quiet => println!(
                "identical content: {path} (the compressed bytes differ: another compressor \
                 version)"
            ),
            Outcome::Differs {
                recorded,
                regenerated,
                first_difference,
            } => println!(
                "differs: {path}: SHA-256 {} recorded for '{}', {} regenerated{}",
                recorded.sha256,
                o.recorded_path,
                regenerated.sha256,
                first_difference
                    .as_ref()
                    .map_or_else(String::new, |d| format!("; {d}"))
            ),
            _ => {}
        }
    }
    if !result.all_reproduced() {
        let n = result
            .outputs
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Differs { .. }))
            .count();
        bail!(
            "{n} of {} outputs of '{}' not reproduced",
            result.outputs.len(),
            args.manifest.display()
        );
    }
    Ok(())
}
