//! `protmask verify`: the arguments become a `check::Request`, the library verifies
//! (`check::run`), and the closing line says what was verified. A request that cannot
//! work is a usage error (exit 2), as clap's own are.

use anyhow::Result;

use crate::cli::VerifyArgs;
use protmask::check::{self, Report, Request};
use protmask::counted;
use protmask::provenance::Provenance;

pub fn execute(args: Box<VerifyArgs>) -> Result<()> {
    let args = *args;
    let request = Request {
        original: args.original,
        masked: args.masked,
        rates: args.rates,
        manifest: args.manifest,
        regions: args.regions,
        mask_token: args.mask_token,
        corrupt: args.corrupt,
        maskable: args.maskable,
        random_pool: args.random_pool,
        regions_mode: args.regions_mode,
        max_length: args.max_length,
        crop: args.crop,
        split: args.split,
        split_seed: args.split_seed,
        split_groups: args.split_groups,
        preset: args.preset,
        scan: args.scan,
    };
    let report = match check::run(&request) {
        Ok(report) => report,
        // main() exits 2 for a usage error.
        Err(check::VerifyError::Usage(usage)) => return Err(usage.into()),
        Err(e) => return Err(e.into()),
    };
    if !args.quiet {
        if let Some(p) = &report.metadata {
            eprintln!("{}", metadata_line(p, &request.masked));
        }
        for note in report.regenerated.iter().flat_map(|r| &r.notes) {
            eprintln!("protmask: {note}");
        }
        eprintln!("{}", summary_line(&report, request.rates.is_some()));
    }
    Ok(())
}

/// The line that says the options checked by came from MASKED's own metadata, and which.
fn metadata_line(p: &Provenance, masked: &str) -> String {
    let o = &p.options;
    if o.mode.d3pm().is_some() {
        return format!(
            "protmask: options from the metadata of '{masked}' (protmask {}): preset {}, mode \
             {} (no mask token), maskable {}, replicates {}",
            p.version,
            o.preset,
            o.mode,
            o.maskable.as_deref().unwrap_or("all"),
            o.replicates
        );
    }
    // The pool only where it is not the standard one (the line is as before otherwise).
    let pool = match o.random_pool {
        protmask::mask::RandomPool::Standard => String::new(),
        pool => format!(", random pool {pool}"),
    };
    format!(
        "protmask: options from the metadata of '{masked}' (protmask {}): preset {}, mask \
         token '{}', corrupt {}, maskable {}{pool}, replicates {}",
        p.version,
        o.preset,
        o.mask_token,
        o.corrupt,
        o.maskable.as_deref().unwrap_or("all"),
        o.replicates
    )
}

/// The closing line: what was verified (`rates`: a rates table was given), and what the
/// manifest confirmed. Positions are counted twice where a rates table or a dataset lists
/// them: selected (its `masked` column) and changed (showing the token or a replacement;
/// fewer when `--corrupt` keeps some).
fn summary_line(report: &Report, rates: bool) -> String {
    let seen = &report.verified;
    let changed = match seen.uncertain {
        0 => seen.changed.to_string(),
        // A residue-letter token over the same residue: masked or not, it reads
        // the same, and no listed positions tell.
        u => format!("{} to {}", seen.changed - u, seen.changed),
    };
    let positions = match seen.selected {
        Some(selected) => format!(
            "{} ({changed} changed)",
            counted(selected, "selected position", "selected positions")
        ),
        None if seen.changed == 1 && seen.uncertain == 0 => "1 changed position".into(),
        None => format!("{changed} changed positions"),
    };
    let mut line = if report.scan {
        // A scan: its rows, of how many records, and the positions they mask.
        let mut line = format!(
            "protmask: verified {} of {}, {}",
            counted(seen.rows, "row", "rows"),
            counted(seen.records, "record", "records"),
            counted(seen.changed, "masked position", "masked positions")
        );
        if rates {
            line.push_str(&format!(
                ", {}",
                counted(seen.rows, "rates row", "rates rows")
            ));
        }
        line
    } else {
        let mut line = format!(
            "protmask: verified {}{}, {positions}",
            counted(seen.records, "record", "records"),
            if seen.replicates > 1 {
                format!(" x {} replicates", seen.replicates)
            } else {
                String::new()
            },
        );
        if rates {
            line.push_str(&format!(
                ", {}",
                counted(seen.rows, "rates row", "rates rows")
            ));
        }
        line
    };
    if let Some(regenerated) = &report.regenerated {
        line.push_str(&format!(
            "; manifest checksums match and {} byte-identical",
            match regenerated.identical {
                1 => "1 output regenerates".to_string(),
                n => format!("{n} outputs regenerate"),
            }
        ));
        if regenerated.same_content > 0 {
            line.push_str(&format!(
                ", {} more with identical content once uncompressed (compressed by \
                 another compressor version)",
                regenerated.same_content
            ));
        }
    }
    line
}
