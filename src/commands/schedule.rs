//! `protmask schedule`: what a schedule does, in numbers and in plots.
//!
//! Every number comes from the same `Schedule` object that `mask` samples from, and the
//! `--samples` histogram is drawn by `Masker::sample_rate`, the very code path of `mask`,
//! so what this command shows is what masking does.
//! A `--plot` file is opened (a temp file beside it) before anything is printed, so a path
//! that cannot be written fails at once, and it appears only once complete.

use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{ScheduleArgs, ScheduleFormat};
use crate::plot::{PlotFile, PlotSize, Series, bin_counts, render};
use protmask::io::{Compression, Output, OutputTarget, create_output};
use protmask::mask::{Corruption, Masker, Mode, Timesteps};
use protmask::presets;
use protmask::schedule::{NAMES, Schedule};

/// Quantile levels reported in the summary.
pub const LEVELS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];
/// Bins over [0,1] of the table's text histogram of the exact law (the sample histogram
/// has `crate::plot::BINS`).
const TABLE_BINS: usize = 20;

#[derive(Serialize)]
struct Report {
    schedule: String,
    canonical: String,
    mean: f64,
    quantiles: Vec<(f64, f64)>,
    /// density(0.25) / density(0.75); `null` when undefined.
    density_ratio_25_75: Option<f64>,
    points: Vec<Point>,
    #[serde(skip_serializing_if = "Option::is_none")]
    samples: Option<Samples>,
}

#[derive(Serialize)]
struct Point {
    t: f64,
    rate: f64,
    /// A number, or the string "inf" where the density is unbounded.
    density: Density,
}

#[derive(Clone, Copy)]
struct Density(f64);

impl Serialize for Density {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(&fmt_density(self.0))
        }
    }
}

#[derive(Serialize)]
struct Samples {
    n: u64,
    seed: u64,
    mean: f64,
    /// Counts of sampled rates in 40 equal bins over [0,1] (bin i = [i/40, (i+1)/40), 1 in
    /// the last), as `crate::plot::bin_counts` counts them.
    histogram: Vec<u64>,
    #[serde(skip)]
    rates: Vec<f64>,
}

pub fn execute(args: ScheduleArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.list {
        match args.format {
            ScheduleFormat::Json => write_list_json(&mut out)?,
            _ => write_list(&mut out)?,
        }
        return Ok(out.flush()?);
    }
    // Open the plot first: a path that cannot be written is an error before any output.
    let plot = match &args.plot {
        Some(file) => Some(open_plot(file)?),
        None => None,
    };
    let reports: Vec<Report> = args
        .specs
        .iter()
        .map(|s| report(s, args.points, args.samples, args.seed))
        .collect();
    match args.format {
        ScheduleFormat::Table => write_table(&mut out, &args.specs, &reports)?,
        ScheduleFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &reports)?;
            writeln!(out)?;
        }
        ScheduleFormat::Csv | ScheduleFormat::Tsv => {
            let delimiter = if args.format == ScheduleFormat::Csv {
                b','
            } else {
                b'\t'
            };
            write_delimited(&mut out, &reports, delimiter, args.summary)?;
        }
    }
    out.flush()?;
    if let (Some(file), Some(output)) = (&args.plot, plot) {
        write_plot(file, output, &args.specs, &reports, args.plot_size)?;
    }
    Ok(())
}

fn report(s: &Schedule, points: u32, samples: u64, seed: u64) -> Report {
    let n = points as usize;
    let points = (0..n)
        .map(|k| {
            let t = k as f64 / (n - 1) as f64;
            let rate = s.rate(t);
            Point {
                t,
                rate,
                density: Density(s.pdf(rate)),
            }
        })
        .collect();
    let ratio = s.pdf(0.25) / s.pdf(0.75);
    Report {
        schedule: s.spec().to_string(),
        canonical: s.canonical(),
        mean: s.mean(),
        quantiles: LEVELS.iter().map(|&q| (q, s.quantile(q))).collect(),
        density_ratio_25_75: (!ratio.is_nan()).then_some(ratio),
        points,
        samples: (samples > 0).then(|| draw_samples(s, samples, seed)),
    }
}

/// `n` rates drawn exactly as `mask --schedule S --seed seed` draws them for records with
/// IDs `sample0`, `sample1`, ... (bernoulli or exact does not matter: the rate comes first).
fn draw_samples(s: &Schedule, n: u64, seed: u64) -> Samples {
    let masker = Masker::new(
        s.clone(),
        Mode::Bernoulli,
        Corruption::MASK_ONLY,
        Timesteps::Iid,
        None,
        seed,
    );
    let rates: Vec<f64> = (0..n)
        .map(|i| masker.sample_rate(format!("sample{i}").as_bytes()).1)
        .collect();
    Samples {
        n,
        seed,
        mean: rates.iter().sum::<f64>() / n as f64,
        histogram: bin_counts(&rates).0.to_vec(),
        rates,
    }
}

fn fmt_density(d: f64) -> String {
    if d.is_infinite() {
        "inf".into()
    } else {
        format!("{d}")
    }
}

fn write_delimited(out: &mut impl Write, reports: &[Report], d: u8, summary: bool) -> Result<()> {
    let mut w = csv::WriterBuilder::new().delimiter(d).from_writer(out);
    if summary {
        w.write_record([
            "schedule",
            "mean",
            "q05",
            "q25",
            "q50",
            "q75",
            "q95",
            "density_ratio_25_75",
        ])?;
        for r in reports {
            let mut row = vec![r.schedule.clone(), r.mean.to_string()];
            row.extend(r.quantiles.iter().map(|(_, v)| v.to_string()));
            row.push(r.density_ratio_25_75.map_or("nan".into(), fmt_density));
            w.write_record(&row)?;
        }
    } else {
        w.write_record(["schedule", "t", "rate", "density"])?;
        for r in reports {
            for p in &r.points {
                w.write_record([
                    r.schedule.as_str(),
                    &p.t.to_string(),
                    &p.rate.to_string(),
                    &fmt_density(p.density.0),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

fn write_table(out: &mut impl Write, specs: &[Schedule], reports: &[Report]) -> Result<()> {
    for (s, r) in specs.iter().zip(reports) {
        writeln!(out, "schedule {}", r.schedule)?;
        if r.canonical != r.schedule {
            writeln!(out, "  = {}", r.canonical)?;
        }
        let q: Vec<String> = r
            .quantiles
            .iter()
            .map(|(l, v)| format!("q{:02.0} {v:.4}", l * 100.0))
            .collect();
        writeln!(out, "  mean rate {:.4}   {}", r.mean, q.join("  "))?;
        if let Some(ratio) = r.density_ratio_25_75 {
            writeln!(out, "  density(0.25) / density(0.75) = {ratio:.4}")?;
        }
        if let Some(smp) = &r.samples {
            writeln!(
                out,
                "  {} samples (seed {}): mean rate {:.4}",
                smp.n, smp.seed, smp.mean
            )?;
        }
        writeln!(out, "  {:>8}  {:>10}  {:>10}", "t", "rate", "density")?;
        for p in &r.points {
            writeln!(
                out,
                "  {:>8.4}  {:>10.6}  {:>10}",
                p.t,
                p.rate,
                if p.density.0.is_finite() {
                    format!("{:.4}", p.density.0)
                } else {
                    fmt_density(p.density.0)
                }
            )?;
        }
        writeln!(out, "  probability of the rate, by bins of width 0.05:")?;
        let masses: Vec<f64> = (0..TABLE_BINS)
            .map(|i| {
                let lo = i as f64 / TABLE_BINS as f64;
                let hi = (i + 1) as f64 / TABLE_BINS as f64;
                // The first bin includes an atom at 0.
                let below = if i == 0 { 0.0 } else { s.cdf(lo) };
                (s.cdf(hi) - below).max(0.0)
            })
            .collect();
        let top = masses
            .iter()
            .cloned()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        for (i, m) in masses.iter().enumerate() {
            let bar = "#".repeat((m / top * 40.0).round() as usize);
            writeln!(
                out,
                "  [{:.2}, {:.2}{} {:>6.4} {bar}",
                i as f64 / TABLE_BINS as f64,
                (i + 1) as f64 / TABLE_BINS as f64,
                if i + 1 == TABLE_BINS { ']' } else { ')' },
                m
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_list(out: &mut impl Write) -> Result<()> {
    writeln!(out, "Schedules (r(t): t = 0 fully masked, t = 1 clean):")?;
    let w = NAMES.iter().map(|n| n.0.len()).max().unwrap_or(0);
    for (name, formula, source) in NAMES {
        writeln!(out, "  {name:<w$}  {formula}")?;
        writeln!(out, "  {:<w$}    source: {source}", "")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Presets (mask --preset), each with the reference code it follows:"
    )?;
    let list = presets::list();
    let w = list.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in list {
        let f = &p.facts;
        let [m, r, k] = f.corruption;
        if f.mode.d3pm().is_some() {
            // No schedule, selection, token or corruption: each residue is redrawn.
            writeln!(
                out,
                "  {:<w$} mode {}: t uniform on 1..499 of T = 500, every residue redrawn from \
                 its row of Q̄[t] (no schedule, token or corruption), timesteps {}",
                p.name, f.mode, f.timesteps
            )?;
        } else {
            writeln!(
                out,
                "  {:<w$} schedule {}, mode {}, token {}, corrupt {m},{r},{k}, timesteps {}, \
             random-pool {}, random-differs {}, min-masked {}",
                p.name,
                f.schedule,
                f.mode,
                f.token,
                f.timesteps,
                f.random_pool,
                f.random_differs,
                f.min_masked
            )?;
        }
        writeln!(out, "  {:<w$}   source: {}", "", f.source)?;
        writeln!(out, "  {:<w$}   reference: {}", "", f.reference)?;
        writeln!(out, "  {:<w$}   reproduced exactly: {}", "", f.exact)?;
        writeln!(out, "  {:<w$}   not reproduced: {}", "", f.differs)?;
    }
    Ok(())
}

/// `--list --format json`: the same list for programs (the tests, the pipelines).
fn write_list_json(out: &mut impl Write) -> Result<()> {
    #[derive(Serialize)]
    struct Named {
        name: &'static str,
        formula: &'static str,
        source: &'static str,
    }
    #[derive(Serialize)]
    struct List {
        schedules: Vec<Named>,
        presets: Vec<presets::Listed>,
        /// What `mask` uses without `--preset`.
        default_preset: &'static str,
    }
    let list = List {
        schedules: NAMES
            .iter()
            .map(|&(name, formula, source)| Named {
                name,
                formula,
                source,
            })
            .collect(),
        presets: presets::list(),
        default_preset: presets::Preset::default().name(),
    };
    serde_json::to_writer_pretty(&mut *out, &list)?;
    writeln!(out)?;
    Ok(())
}

/// The plot's output: a temp file beside the target, renamed onto it by `finish`; dropped
/// (an error, a signal), it leaves nothing at the path.
fn open_plot(file: &PlotFile) -> Result<Output> {
    create_output(OutputTarget::Path(file.path.clone()), Compression::None)
        .with_context(|| format!("cannot write plot '{}'", file.path.display()))
}

fn write_plot(
    file: &PlotFile,
    mut output: Output,
    specs: &[Schedule],
    reports: &[Report],
    size: PlotSize,
) -> Result<()> {
    let curves: Vec<Box<dyn Fn(f64) -> f64 + '_>> = specs
        .iter()
        .map(|s| Box::new(move |t| s.rate(t)) as Box<dyn Fn(f64) -> f64>)
        .collect();
    let densities: Vec<Box<dyn Fn(f64) -> f64 + '_>> = specs
        .iter()
        .map(|s| Box::new(move |r| s.pdf(r)) as Box<dyn Fn(f64) -> f64>)
        .collect();
    let series: Vec<Series> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            label: &r.schedule,
            curve: &*curves[i],
            density: &*densities[i],
            samples: r.samples.as_ref().map(|s| s.rates.as_slice()),
        })
        .collect();
    let context = || format!("cannot write plot '{}'", file.path.display());
    let bytes = render(&series, file.format, size)
        .map_err(anyhow::Error::msg)
        .with_context(context)?;
    output.write_all(&bytes).with_context(context)?;
    output.finish().with_context(context)?;
    Ok(())
}
