//! Draws `protmask schedule --plot`: schedule curves r(t) (left panel) and the density of the
//! mask rate r (right panel, optionally with a histogram of sampled rates), as SVG or PNG.
//! The PNG rasteriser needs a font, so DejaVu Sans is compiled into the binary and registered
//! with plotters' `ab_glyph` backend: no system font lookup (fontconfig) ever happens, and PNG
//! output works on machines without any fonts installed.
//! Drawing is pure: [`render`] returns the file's bytes, and the caller writes them (the
//! command through the atomic output of `protmask::io`). The histogram bins of sampled rates
//! and the bounds of the image size are defined here, once.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
const FONT_FAMILY: &str = "sans-serif";

/// Points on the grid the curves and densities are evaluated at (`i / GRID`, so any atom
/// with at most three decimals, e.g. `fixed(0.15)`, is hit exactly and drawn as a spike).
const GRID: usize = 2000;
/// Histogram bins over [0, 1] of sampled rates, in the plot and in `schedule`'s report.
pub const BINS: usize = 40;
/// Smallest and largest accepted image side, in pixels.
pub const MIN_SIDE: u32 = 320;
pub const MAX_SIDE: u32 = 16_384;
/// The density axis never goes above this (the 98th percentile decides below it).
const DENSITY_CAP: f64 = 100.0;

/// Tableau 10; series beyond ten reuse the colours in order.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One schedule to draw.
pub struct Series<'a> {
    /// The spec as the user typed it (shown verbatim in the legend).
    pub label: &'a str,
    /// r(t) for t in [0, 1].
    pub curve: &'a dyn Fn(f64) -> f64,
    /// Probability density of the mask rate; may return `f64::INFINITY` or NaN.
    pub density: &'a dyn Fn(f64) -> f64,
    /// Rates drawn by the real sampler, shown as a normalised histogram.
    pub samples: Option<&'a [f64]>,
}

/// Output format, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// `.svg` or `.png` (any case); anything else is an error naming the path.
    pub fn from_path(p: &Path) -> Result<PlotFormat, String> {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(format!(
                "cannot plot to '{}': the file name must end in .svg or .png",
                p.display()
            )),
        }
    }
}

/// A plot file: its path, and the format its extension names (so a path that names no
/// format cannot be held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFile {
    pub path: PathBuf,
    pub format: PlotFormat,
}

impl PlotFile {
    /// The path, if it ends in `.svg` or `.png` (else [`PlotFormat::from_path`]'s error).
    pub fn new(path: PathBuf) -> Result<PlotFile, String> {
        let format = PlotFormat::from_path(&path)?;
        Ok(PlotFile { path, format })
    }
}

/// Image size in pixels, each side within `MIN_SIDE..=MAX_SIDE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotSize {
    width: u32,
    height: u32,
}

impl PlotSize {
    pub fn new(width: u32, height: u32) -> Result<PlotSize, String> {
        for (name, side) in [("width", width), ("height", height)] {
            if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
                return Err(format!(
                    "{name} {side} is outside {MIN_SIDE}..={MAX_SIDE} pixels"
                ));
            }
        }
        Ok(PlotSize { width, height })
    }
}

/// `WIDTHxHEIGHT`, such as `1200x500` (`X` also separates).
impl FromStr for PlotSize {
    type Err = String;

    fn from_str(s: &str) -> Result<PlotSize, String> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("'{s}': expected WIDTHxHEIGHT, such as 1200x500"))?;
        let side = |v: &str| v.trim().parse::<u32>().ok();
        match (side(w), side(h)) {
            (Some(w), Some(h)) => PlotSize::new(w, h).map_err(|e| format!("'{s}': {e}")),
            _ => Err(format!(
                "'{s}': width and height must be whole numbers of pixels, {MIN_SIDE} to {MAX_SIDE}"
            )),
        }
    }
}

/// Draw the plot and return the bytes of the SVG or PNG file.
/// An empty `series` is not an error: both panels are drawn with axes and no curves.
pub fn render(series: &[Series], format: PlotFormat, size: PlotSize) -> Result<Vec<u8>, String> {
    register_bundled_font()?;
    // The user's closures and plotters run under catch_unwind so that a panic anywhere in
    // drawing becomes an error message instead of aborting the command.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        encode(format, series, size.width, size.height)
    }));
    match drawn {
        Ok(result) => result,
        Err(_) => Err("the plotting code panicked".to_string()),
    }
}

/// Counts of the finite samples in [0, 1] in `BINS` equal bins (bin i = [i/BINS,
/// (i+1)/BINS), r = 1 in the last one), and how many samples were counted.
pub fn bin_counts(samples: &[f64]) -> ([u64; BINS], u64) {
    let mut counts = [0u64; BINS];
    let mut n = 0;
    for &r in samples {
        if (0.0..=1.0).contains(&r) {
            counts[((r * BINS as f64) as usize).min(BINS - 1)] += 1;
            n += 1;
        }
    }
    (counts, n)
}

fn register_bundled_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err("cannot plot: the bundled font is not a valid TrueType font".to_string())
    }
}

/// Draw into memory and return the file contents.
fn encode(format: PlotFormat, series: &[Series], w: u32, h: u32) -> Result<Vec<u8>, String> {
    match format {
        PlotFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                draw(&root, series, w, h)?;
                root.present().map_err(|e| e.to_string())?;
            }
            Ok(svg.into_bytes())
        }
        PlotFormat::Png => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                draw(&root, series, w, h)?;
                root.present().map_err(|e| e.to_string())?;
            }
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, w, h);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(|e| e.to_string())?;
                writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
                writer.finish().map_err(|e| e.to_string())?;
            }
            Ok(out)
        }
    }
}

/// A legend entry: a line swatch (curve) or a filled box (histogram).
struct Entry {
    text: String,
    colour: RGBColor,
    histogram: bool,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    w: u32,
    h: u32,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;

    // Font sizes follow the size of one panel.
    let scale = (f64::from(w / 2).min(f64::from(h)) / 450.0).clamp(0.7, 3.0);
    let title_font = (FONT_FAMILY, 20.0 * scale).into_font();
    let desc_font = (FONT_FAMILY, 16.0 * scale).into_font();
    let tick_font = (FONT_FAMILY, 13.0 * scale).into_font();
    let legend_style = TextStyle::from((FONT_FAMILY, 15.0 * scale).into_font()).color(&BLACK);

    // Legend strip below both panels, laid out in as many columns as fit.
    let mut entries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        entries.push(Entry {
            text: s.label.to_string(),
            colour,
            histogram: false,
        });
        if let Some(samples) = s.samples {
            entries.push(Entry {
                text: format!("{} ({} samples)", s.label, samples.len()),
                colour,
                histogram: true,
            });
        }
    }
    let line_h = (22.0 * scale).round() as i32;
    let swatch = (28.0 * scale).round() as i32;
    let gap = (8.0 * scale).round() as i32;
    let mut widest = 0i32;
    for e in &entries {
        let (tw, _) = root
            .estimate_text_size(&e.text, &legend_style)
            .map_err(err)?;
        widest = widest.max(i32::try_from(tw).unwrap_or(i32::MAX / 4));
    }
    let col_w = swatch + gap + widest + 3 * gap;
    let usable_w = w as i32 - 4 * gap;
    let cols = (usable_w / col_w.max(1)).clamp(1, entries.len().max(1) as i32);
    let rows = (entries.len() as i32 + cols - 1) / cols;
    let legend_h = if entries.is_empty() {
        0
    } else {
        (rows * line_h + 2 * gap).min(h as i32 / 2)
    };
    let (panels, legend) = root.split_vertically(h as i32 - legend_h);
    let (left, right) = panels.split_horizontally(w as i32 / 2);

    let x_label_area = (48.0 * scale) as u32;
    let y_label_area = (62.0 * scale) as u32;
    let margin = (12.0 * scale) as u32;
    let line_width = (2.0 * scale).round().max(1.0) as u32;

    // Left panel: r(t).
    let mut chart = ChartBuilder::on(&left)
        .caption("Noise schedule r(t)", title_font.clone())
        .margin(margin)
        .x_label_area_size(x_label_area)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("timestep t")
        .y_desc("mask rate r")
        .axis_desc_style(desc_font.clone())
        .label_style(tick_font.clone())
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let style = PALETTE[i % PALETTE.len()].stroke_width(line_width);
        let pts = grid_points(s.curve, 0.0, 1.0);
        for seg in clip_polyline(&pts, 0.0, 1.0) {
            chart
                .draw_series(LineSeries::new(seg, style))
                .map_err(err)?;
        }
    }

    // Right panel: density of r, with histograms under the curves.
    let histograms: Vec<Option<[f64; BINS]>> = series
        .iter()
        .map(|s| s.samples.and_then(histogram))
        .collect();
    let y_max = density_y_max(series);
    let mut chart = ChartBuilder::on(&right)
        .caption("Density of the mask rate r", title_font)
        .margin(margin)
        .x_label_area_size(x_label_area)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(0f64..1f64, 0f64..y_max)
        .map_err(err)?;
    let y_decimals = if y_max < 5.0 { 1 } else { 0 };
    let y_fmt = move |v: &f64| format!("{v:.y_decimals$}");
    chart
        .configure_mesh()
        .x_desc("mask rate r")
        .y_desc("density")
        .axis_desc_style(desc_font)
        .label_style(tick_font)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&y_fmt)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(err)?;
    for (i, hist) in histograms.iter().enumerate() {
        let Some(hist) = hist else { continue };
        let colour = PALETTE[i % PALETTE.len()];
        let bars = hist
            .iter()
            .enumerate()
            .filter(|(_, d)| **d > 0.0)
            .map(|(b, d)| {
                let x0 = b as f64 / BINS as f64;
                let x1 = (b + 1) as f64 / BINS as f64;
                Rectangle::new([(x0, 0.0), (x1, d.min(y_max))], colour.mix(0.3).filled())
            });
        chart.draw_series(bars).map_err(err)?;
    }
    for (i, s) in series.iter().enumerate() {
        let style = PALETTE[i % PALETTE.len()].stroke_width(line_width);
        let pts = grid_points(s.density, 0.0, 1.0);
        for seg in clip_polyline(&pts, 0.0, y_max) {
            chart
                .draw_series(LineSeries::new(seg, style))
                .map_err(err)?;
        }
    }

    // Legend.
    if !entries.is_empty() {
        let x0 = 2 * gap;
        let y0 = gap + line_h / 2;
        for (k, e) in entries.iter().enumerate() {
            let (r, c) = (k as i32 / cols, k as i32 % cols);
            let x = x0 + c * col_w;
            let y = y0 + r * line_h;
            if e.histogram {
                let half = line_h / 3;
                legend
                    .draw(&Rectangle::new(
                        [(x, y - half), (x + swatch, y + half)],
                        e.colour.mix(0.3).filled(),
                    ))
                    .map_err(err)?;
            } else {
                legend
                    .draw(&PathElement::new(
                        vec![(x, y), (x + swatch, y)],
                        e.colour.stroke_width(line_width + 1),
                    ))
                    .map_err(err)?;
            }
            let style = legend_style.pos(Pos::new(HPos::Left, VPos::Center));
            legend
                .draw_text(&e.text, &style, (x + swatch + gap, y))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// `f` on `GRID + 1` evenly spaced points of [lo, hi]; the end points are exact.
fn grid_points(f: &dyn Fn(f64) -> f64, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    (0..=GRID)
        .map(|i| {
            let x = lo + (hi - lo) * (i as f64 / GRID as f64);
            (x, f(x))
        })
        .collect()
}

/// Split a polyline into the pieces that lie within `lo <= y <= hi`, cutting segments where
/// they cross the bounds. NaN points break the line; ±infinity is treated as a value far
/// beyond the bounds, so an infinite spike is drawn as a vertical line up to `hi`.
fn clip_polyline(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let far = (hi - lo).abs().max(1.0) * 1e9 + hi.abs() + lo.abs();
    let tame = |y: f64| (!y.is_nan()).then(|| y.clamp(lo - far, hi + far));
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let mut connected = false; // `current` ends at the end point of the previous segment
    let mut flush = |current: &mut Vec<(f64, f64)>| {
        if current.len() >= 2 {
            out.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let (Some(y0), Some(y1)) = (tame(y0), tame(y1)) else {
            flush(&mut current);
            connected = false;
            continue;
        };
        if !x0.is_finite() || !x1.is_finite() {
            flush(&mut current);
            connected = false;
            continue;
        }
        let (t0, t1) = if y0 == y1 {
            if (lo..=hi).contains(&y0) {
                (0.0, 1.0)
            } else {
                (1.0, 0.0)
            }
        } else {
            let ta = (lo - y0) / (y1 - y0);
            let tb = (hi - y0) / (y1 - y0);
            (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
        };
        if t0 > t1 {
            flush(&mut current);
            connected = false;
            continue;
        }
        let at = |t: f64| (x0 + t * (x1 - x0), (y0 + t * (y1 - y0)).clamp(lo, hi));
        if !(connected && t0 == 0.0) {
            flush(&mut current);
            current.push(at(t0));
        }
        current.push(at(t1));
        connected = t1 == 1.0;
    }
    flush(&mut current);
    out
}

/// Top of the density axis: 1.1 × the 98th percentile of all finite density values on
/// r in [0.005, 0.995], at least 1 and at most `DENSITY_CAP`, rounded up to two digits.
fn density_y_max(series: &[Series]) -> f64 {
    let mut values: Vec<f64> = Vec::new();
    const N: usize = 990;
    for s in series {
        for i in 0..=N {
            let r = 0.005 + 0.99 * (i as f64 / N as f64);
            let d = (s.density)(r);
            if d.is_finite() && d >= 0.0 {
                values.push(d);
            }
        }
    }
    if values.is_empty() {
        return 1.0;
    }
    values.sort_by(f64::total_cmp);
    let idx = ((values.len() - 1) as f64 * 0.98).ceil() as usize;
    let top = (values[idx.min(values.len() - 1)] * 1.1).clamp(1.0, DENSITY_CAP);
    let step = 10f64.powf(top.log10().floor() - 1.0);
    ((top / step).ceil() * step).clamp(1.0, DENSITY_CAP)
}

/// Density-normalised histogram of the finite samples in [0, 1] (`None` if there are none).
fn histogram(samples: &[f64]) -> Option<[f64; BINS]> {
    let (counts, n) = bin_counts(samples);
    if n == 0 {
        return None;
    }
    let mut out = [0.0; BINS];
    for (o, c) in out.iter_mut().zip(counts) {
        *o = c as f64 * BINS as f64 / n as f64;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear_curve(t: f64) -> f64 {
        1.0 - t
    }
    fn uniform(_: f64) -> f64 {
        1.0
    }
    fn cubic_curve(t: f64) -> f64 {
        1.0 - t * t * t
    }
    fn cubic_density(r: f64) -> f64 {
        (1.0 - r).powf(-2.0 / 3.0) / 3.0
    }
    fn point_mass(r: f64) -> f64 {
        if r == 0.15 { f64::INFINITY } else { 0.0 }
    }
    fn constant(_: f64) -> f64 {
        0.15
    }
    fn nan(_: f64) -> f64 {
        f64::NAN
    }

    fn three<'a>(samples: Option<&'a [f64]>) -> Vec<Series<'a>> {
        vec![
            Series {
                label: "linear",
                curve: &linear_curve,
                density: &uniform,
                samples,
            },
            Series {
                label: "cubic",
                curve: &cubic_curve,
                density: &cubic_density,
                samples: None,
            },
            Series {
                label: "fixed(0.15)",
                curve: &constant,
                density: &point_mass,
                samples: None,
            },
        ]
    }

    fn samples() -> Vec<f64> {
        (0..500).map(|i| (i as f64 + 0.5) / 500.0).collect()
    }

    fn size(w: u32, h: u32) -> PlotSize {
        PlotSize::new(w, h).unwrap()
    }

    fn render_to_string(series: &[Series]) -> String {
        String::from_utf8(render(series, PlotFormat::Svg, size(1200, 520)).unwrap()).unwrap()
    }

    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).expect("SVG is well-formed XML");
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn count_tag(svg: &str, tag: &str) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants().filter(|n| n.has_tag_name(tag)).count()
    }

    #[test]
    fn svg_has_labels_titles_and_axes() {
        let svg = render_to_string(&three(None));
        let texts = texts(&svg);
        for want in [
            "linear",
            "cubic",
            "fixed(0.15)",
            "Noise schedule r(t)",
            "Density of the mask rate r",
            "timestep t",
            "mask rate r",
            "density",
        ] {
            assert!(texts.iter().any(|t| t == want), "no <text> {want:?}");
        }
    }

    #[test]
    fn svg_escapes_odd_labels() {
        let series = [Series {
            label: "a<b & \"c\"",
            curve: &linear_curve,
            density: &uniform,
            samples: None,
        }];
        let texts = texts(&render_to_string(&series));
        assert!(texts.iter().any(|t| t == "a<b & \"c\""));
    }

    #[test]
    fn samples_add_histogram_bars_and_legend_entry() {
        let s = samples();
        let without = render_to_string(&three(None));
        let with = render_to_string(&three(Some(&s)));
        assert!(count_tag(&with, "rect") >= count_tag(&without, "rect") + BINS);
        assert!(texts(&with).iter().any(|t| t == "linear (500 samples)"));
    }

    #[test]
    fn png_decodes_to_requested_size_and_has_text() {
        let (w, h) = (900u32, 400u32);
        let bytes = render(&three(None), PlotFormat::Png, size(w, h)).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let px = |x: u32, y: u32| {
            let i = (y as usize * w as usize + x as usize) * 3;
            (buf[i], buf[i + 1], buf[i + 2])
        };
        let non_white = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| px(x, y) != (255, 255, 255))
            .count();
        assert!(non_white > 1000, "image is (nearly) blank");
        // Legend text: dark pixels in the bottom strip.
        let dark_in_legend = (h - 30..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let (r, g, b) = px(x, y);
                r < 90 && g < 90 && b < 90
            })
            .count();
        assert!(dark_in_legend > 20, "no legend text drawn");
    }

    #[test]
    fn nasty_densities_and_empty_input_do_not_fail() {
        let weird = [
            Series {
                label: "nan",
                curve: &nan,
                density: &nan,
                samples: Some(&[f64::NAN, -1.0, 2.0]),
            },
            Series {
                label: "inf",
                curve: &|_| f64::INFINITY,
                density: &|_| f64::INFINITY,
                samples: Some(&[]),
            },
            Series {
                label: "",
                curve: &|t| t * 5.0 - 2.0,
                density: &|r| -r,
                samples: None,
            },
        ];
        for format in [PlotFormat::Svg, PlotFormat::Png] {
            assert!(!render(&weird, format, size(640, 320)).unwrap().is_empty());
            assert!(!render(&[], format, size(640, 320)).unwrap().is_empty());
        }
    }

    #[test]
    fn formats_come_from_the_extension_and_errors_name_the_path() {
        let e = PlotFormat::from_path(Path::new("x.jpg")).unwrap_err();
        assert!(
            e.contains("'x.jpg'") && e.contains(".svg") && e.contains(".png"),
            "{e}"
        );
        assert!(PlotFormat::from_path(Path::new("noext")).is_err());
        assert_eq!(
            PlotFormat::from_path(Path::new("a/B.SvG")),
            Ok(PlotFormat::Svg)
        );
        assert_eq!(
            PlotFormat::from_path(Path::new("x.png")),
            Ok(PlotFormat::Png)
        );

        let file = PlotFile::new("a/b.Png".into()).unwrap();
        assert_eq!(file.format, PlotFormat::Png);
        assert_eq!(file.path, Path::new("a/b.Png"));
        assert!(
            PlotFile::new("x.jpg".into())
                .unwrap_err()
                .contains("'x.jpg'")
        );
    }

    #[test]
    fn plot_size_bounds_are_checked_once_here() {
        assert_eq!("1200x500".parse(), Ok(size(1200, 500)));
        assert_eq!(" 320 X 16384".parse(), Ok(size(320, 16_384)));
        for (s, needle) in [
            ("10x400", "width 10 is outside 320..=16384"),
            ("400x16385", "height 16385 is outside 320..=16384"),
            ("1200", "expected WIDTHxHEIGHT"),
            ("axb", "whole numbers of pixels, 320 to 16384"),
            ("-400x400", "whole numbers"),
        ] {
            let e = s.parse::<PlotSize>().unwrap_err();
            assert!(
                e.contains(needle) && e.contains(&format!("'{s}'")),
                "{s}: {e}"
            );
        }
        assert!(PlotSize::new(319, 400).is_err());
        assert!(PlotSize::new(320, 16_384).is_ok());
    }

    #[test]
    fn panicking_series_becomes_an_error() {
        let series = [Series {
            label: "boom",
            curve: &|_| panic!("boom"),
            density: &uniform,
            samples: None,
        }];
        let e = render(&series, PlotFormat::Svg, size(800, 400)).unwrap_err();
        assert!(e.contains("panicked"), "{e}");
    }

    #[test]
    fn y_range_ignores_infinities_and_is_at_least_one() {
        let s = three(None);
        let top = density_y_max(&s);
        assert!((1.5..10.0).contains(&top), "{top}");
        assert!((3.0..10.0).contains(&density_y_max(&s[1..2])));
        assert_eq!(density_y_max(&s[..1]), 1.1);
        assert_eq!(density_y_max(&s[2..]), 1.0);
        assert_eq!(density_y_max(&[]), 1.0);
        let huge = [Series {
            label: "huge",
            curve: &linear_curve,
            density: &|_| 1e300,
            samples: None,
        }];
        assert_eq!(density_y_max(&huge), DENSITY_CAP);
    }

    #[test]
    fn clipping_cuts_at_bounds_and_breaks_on_nan() {
        let pts = [
            (0.0, 0.5),
            (1.0, 1.5),
            (2.0, 0.5),
            (3.0, f64::NAN),
            (4.0, 0.2),
            (5.0, 0.3),
        ];
        let segs = clip_polyline(&pts, 0.0, 1.0);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0], vec![(0.0, 0.5), (0.5, 1.0)]);
        assert_eq!(segs[1], vec![(1.5, 1.0), (2.0, 0.5)]);
        assert_eq!(segs[2], vec![(4.0, 0.2), (5.0, 0.3)]);
        // An infinite spike becomes (nearly) vertical lines up to the top.
        let spike = [(0.0, 0.0), (1.0, f64::INFINITY), (2.0, 0.0)];
        let segs = clip_polyline(&spike, 0.0, 2.0);
        assert_eq!(segs.len(), 2);
        assert!(segs[0][1].0 < 1e-6 && segs[0][1].1 == 2.0);
        assert!(segs[1][0].0 > 2.0 - 1e-6 && segs[1][0].1 == 2.0);
    }

    #[test]
    fn histogram_is_a_density() {
        // 400 evenly spread rates: exactly 10 per bin, so the density is 1 everywhere.
        let even: Vec<f64> = (0..400).map(|i| (i as f64 + 0.5) / 400.0).collect();
        let h = histogram(&even).unwrap();
        let area: f64 = h.iter().map(|d| d / BINS as f64).sum();
        assert!((area - 1.0).abs() < 1e-12);
        assert!(h.iter().all(|d| (d - 1.0).abs() < 1e-12));
        assert_eq!(histogram(&[f64::NAN, 3.0]), None);
        assert_eq!(histogram(&[1.0]).unwrap()[BINS - 1], BINS as f64);
        let (counts, n) = bin_counts(&[0.0, 0.0249, 0.025, 0.5, 1.0, -0.1, f64::NAN, 1.5]);
        assert_eq!(n, 5);
        assert_eq!(
            (counts[0], counts[1], counts[20], counts[BINS - 1]),
            (2, 1, 1, 1)
        );
    }
}
