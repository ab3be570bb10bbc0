//! `protmask schedule`: the numbers it prints are the schedules' exact values, and its
//! `--samples` are drawn by the sampler `mask` uses.

mod common;

use common::*;
use std::f64::consts::PI;

fn stdout(args: &[&str]) -> String {
    let out = protmask()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn curves_at_21_points_match_their_closed_forms() {
    let text = stdout(&[
        "schedule",
        "linear",
        "cosine",
        "cubic",
        "square",
        "sqrt",
        "square_root_schedule",
        "--points",
        "21",
        "--format",
        "csv",
    ]);
    let rows = parse_rates(&text, b',');
    assert_eq!(rows.len(), 6 * 21);
    for (i, row) in rows.iter().enumerate() {
        let t: f64 = row["t"].parse().unwrap();
        assert_eq!(t, (i % 21) as f64 / 20.0);
        let rate: f64 = row["rate"].parse().unwrap();
        let expected = match row["schedule"].as_str() {
            "linear" => 1.0 - t,
            "cosine" => (PI * t / 2.0).cos(),
            "cubic" => 1.0 - t.powi(3),
            "square" => 1.0 - t * t,
            "sqrt" | "square_root_schedule" => 1.0 - t.sqrt(),
            other => panic!("unexpected schedule {other}"),
        };
        assert!((rate - expected).abs() < 1e-12, "{row:?}");
    }
}

#[test]
fn summary_means_and_density_ratio() {
    let text = stdout(&[
        "schedule",
        "cosine",
        "cubic",
        "square",
        "sqrt",
        "linear",
        "betalinear30",
        "beta30",
        "--format",
        "csv",
        "--summary",
    ]);
    let rows = parse_rates(&text, b',');
    let expected = [2.0 / PI, 0.75, 2.0 / 3.0, 1.0 / 3.0, 0.5, 0.30, 0.30];
    for (row, want) in rows.iter().zip(expected) {
        let mean: f64 = row["mean"].parse().unwrap();
        assert!((mean - want).abs() < 1e-12, "{row:?}");
        let q: Vec<f64> = ["q05", "q25", "q50", "q75", "q95"]
            .iter()
            .map(|k| row[*k].parse().unwrap())
            .collect();
        assert!(
            q.windows(2).all(|w| w[0] <= w[1]),
            "quantiles ascend: {row:?}"
        );
    }
    let ratio: f64 = rows[5]["density_ratio_25_75"].parse().unwrap();
    assert!((ratio - 13.2).abs() < 0.05, "betalinear30 ratio {ratio}");
    // The medians of the curves are r(1/2).
    let median: f64 = rows[0]["q50"].parse().unwrap();
    assert!((median - (PI / 4.0).cos()).abs() < 1e-12);
}

#[test]
fn json_has_points_summary_and_inf() {
    let text = stdout(&["schedule", "cubic", "--points", "3", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let r = &v[0];
    assert_eq!(r["schedule"], "cubic");
    assert_eq!(r["points"].as_array().unwrap().len(), 3);
    assert_eq!(r["points"][0]["density"], "inf", "cubic's density at r = 1");
    assert!((r["mean"].as_f64().unwrap() - 0.75).abs() < 1e-12);
}

/// The `--samples` histogram is exactly the binned rates `mask` draws for records named
/// sample0..sample{n-1}: a sampler changed on either side breaks this.
#[test]
fn samples_come_from_the_mask_sampler() {
    let n = 3000;
    let spec = "0.5*cosine + 0.5*beta(2,5)";
    let text = stdout(&[
        "schedule",
        spec,
        "--samples",
        &n.to_string(),
        "--seed",
        "9",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hist: Vec<u64> = v[0]["samples"]["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(hist.iter().sum::<u64>(), n);

    let fasta: String = (0..n).map(|i| format!(">sample{i}\nMKV\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let rates = dir.path().join("r.csv");
    protmask()
        .args([
            "mask",
            "-q",
            "-o",
            "-",
            "--seed",
            "9",
            "--schedule",
            spec,
            "-r",
        ])
        .arg(&rates)
        .write_stdin(fasta)
        .assert()
        .success();
    let mut from_mask = vec![0u64; hist.len()];
    for row in parse_rates(&std::fs::read_to_string(&rates).unwrap(), b',') {
        let r: f64 = row["rate"].parse().unwrap();
        from_mask[((r * hist.len() as f64) as usize).min(hist.len() - 1)] += 1;
    }
    assert_eq!(hist, from_mask);
    // And another seed gives another histogram.
    let other = stdout(&[
        "schedule",
        spec,
        "--samples",
        "3000",
        "--seed",
        "10",
        "--format",
        "json",
    ]);
    let v2: serde_json::Value = serde_json::from_str(&other).unwrap();
    assert_ne!(v[0]["samples"]["histogram"], v2[0]["samples"]["histogram"]);
}

#[test]
fn table_is_for_people() {
    let text = stdout(&["schedule", "betalinear30"]);
    assert!(text.contains("= 0.8*beta(3,9)+0.2*uniform(0,1)"));
    assert!(text.contains("mean rate 0.3000"));
    assert!(text.contains("[0.20, 0.25)"));
    assert!(
        text.lines()
            .any(|l| l.ends_with("########################################"))
    );
}

#[test]
fn list_names_every_schedule_and_preset_with_a_source() {
    let text = stdout(&["schedule", "--list"]);
    for name in [
        "linear",
        "cosine",
        "cubic",
        "square",
        "sqrt",
        "betalinear30",
        "beta30",
        "beta(a,b)",
        "noise_schedules.py",
        "A.2.2.1",
    ]
    .iter()
    .chain(protmask::presets::Preset::NAMES)
    {
        assert!(text.contains(name), "{name} missing from --list");
    }
}

/// The list for programs (pipelines and tests read the presets from it).
#[test]
fn list_as_json_has_every_preset_with_what_it_sets() {
    let text = stdout(&["schedule", "--list", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let presets = json["presets"].as_array().unwrap();
    let names: Vec<&str> = presets
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, protmask::presets::Preset::NAMES);
    for p in presets {
        for key in ["schedule", "mode", "mask_token", "timesteps", "reference"] {
            assert!(p[key].is_string(), "{key} of {p}");
        }
        assert_eq!(p["corrupt"].as_array().unwrap().len(), 3);
    }
    assert_eq!(json["default_preset"], "esm3");
    let schedules = json["schedules"].as_array().unwrap();
    assert!(schedules.iter().any(|s| s["name"] == "betalinear30"));
    // The default preset's facts are what `mask` does without flags.
    let esm3 = &presets[0];
    assert_eq!(
        (esm3["schedule"].as_str(), esm3["mask_token"].as_str()),
        (Some("betalinear30"), Some("_"))
    );
}

#[test]
fn bad_specs_name_the_token_and_position() {
    for (spec, needles) in [
        ("cosin", &["'cosin'", "position 1"][..]),
        ("0.5*linear + 0.4*cosine", &["sum to 0.9"]),
        ("0.5*linear + 0.5*", &["position"]),
        ("beta(0,2)", &["beta", "position 1"]),
        ("uniform(0.2,0.1)", &["position"]),
        ("1.5", &["1.5", "[0,1]"]),
        ("linear + wat", &["position"]),
    ] {
        let out = protmask()
            .args(["schedule", spec])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{spec}: '{n}' missing from {err}");
        }
    }
    let out = protmask()
        .args(["schedule", "cosine", "--points", "1"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--points"));
}

#[test]
fn svg_plot_is_xml_and_its_legend_names_every_spec() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("s.svg");
    let specs = ["cosine", "betalinear30", "0.5*cubic + 0.5*fixed(0.15)"];
    protmask()
        .arg("schedule")
        .args(specs)
        .args(["--samples", "2000", "--format", "csv", "--plot"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG is XML");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    for s in specs {
        assert!(
            texts.iter().any(|t| t == s),
            "{s} not in the legend: {texts:?}"
        );
        assert!(texts.iter().any(|t| t == &format!("{s} (2000 samples)")));
    }
    assert_eq!(dir_entries(dir.path()), ["s.svg"], "no temp file left");
}

#[test]
fn png_plot_decodes_to_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("s.png");
    protmask()
        .args([
            "schedule",
            "cubic",
            "sqrt",
            "--plot-size",
            "900x400",
            "--plot",
        ])
        .arg(&png_path)
        .assert()
        .success();
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (900, 400));
}

/// Issue 12, point 9: a plot file that names no supported format is a usage error (exit 2,
/// clap's message naming `--plot`), found before anything is printed. Exit 1 before.
#[test]
fn issue12_9_plot_extension_is_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for path in ["x.jpg", "x", "plots/x.svg.gz", "."] {
        let out = protmask()
            .current_dir(dir.path())
            .args(["schedule", "cosine", "--plot", path])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--plot")
                && err.contains(&format!("'{path}'"))
                && err.contains(".svg or .png"),
            "{path}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{path}: printed before the usage error"
        );
    }
    assert!(dir_entries(dir.path()).is_empty(), "nothing written");
    // Any case of the supported extensions is fine.
    protmask()
        .current_dir(dir.path())
        .args(["schedule", "cosine", "--points", "2", "--plot", "x.SVG"])
        .assert()
        .success();
    assert_eq!(dir_entries(dir.path()), ["x.SVG"]);
}

/// Issue 12, point 14: a plot path that cannot be written fails before the table is printed,
/// naming the user's path (not a hidden temp file), and leaves nothing behind.
#[test]
fn issue12_14_plot_path_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("x.svg");
    let as_dir = dir.path().join("d.svg");
    std::fs::create_dir(&as_dir).unwrap();
    let read_only = dir.path().join("ro");
    std::fs::create_dir(&read_only).unwrap();
    let mut cases = vec![
        (missing.clone(), "does not exist"),
        (as_dir.clone(), "is a directory"),
    ];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes anywhere: test the unwritable directory only where it is unwritable.
        if std::fs::File::create(read_only.join("probe")).is_err() {
            cases.push((read_only.join("x.png"), "ermission denied"));
        }
    }
    for (path, why) in &cases {
        for format in ["table", "csv", "json"] {
            let out = protmask()
                .args(["schedule", "cosine", "betalinear30", "--samples", "100"])
                .args(["--format", format, "--plot"])
                .arg(path)
                .assert()
                .code(1)
                .get_output()
                .clone();
            assert!(
                out.stdout.is_empty(),
                "{format}: the table was printed before the plot path was checked"
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("cannot write plot '{}'", path.display()))
                    && err.contains(why),
                "{}: {err}",
                path.display()
            );
            assert!(!err.contains(".protmask-"), "names a temp file: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    assert!(!missing.parent().unwrap().exists());
    assert!(dir_entries(&as_dir).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(read_only.join("probe"));
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert!(dir_entries(&read_only).is_empty());
}

/// A plot replaces an existing file only when complete, through the library's atomic
/// output: no temp file is left beside it, and the file is readable by others (0644 before
/// the umask, not the temp file's 0600).
#[test]
fn plot_replaces_an_existing_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let svg = write(dir.path(), "s.svg", "old");
    protmask()
        .args(["schedule", "cosine", "--points", "2", "--plot"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).expect("the new SVG");
    assert_eq!(dir_entries(dir.path()), ["s.svg"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&svg).unwrap().permissions().mode();
        assert_eq!(mode & 0o444, 0o444, "mode {mode:o}");
    }
}

/// Issue 12, point 13: weights within 1e-6 of 1 are accepted, normalised, and recorded
/// normalised in the manifest, which regenerates the set bit for bit; `1/3` is a weight.
#[test]
fn issue12_13_normalised_weights_are_recorded_and_verify() {
    const THIRDS: &str =
        "0.3333333333333333*cosine+0.3333333333333333*linear+0.3333333333333333*cubic";
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.fa", synthetic_fasta(40, 3));
    let mask = |spec: &str, name: &str| {
        let rates = dir.path().join(format!("{name}.csv"));
        let manifest = dir.path().join(format!("{name}.json"));
        protmask()
            .args(["mask", "-q", "--schedule", spec, "-o"])
            .arg(dir.path().join(format!("{name}.fa")))
            .arg("-r")
            .arg(&rates)
            .arg("--manifest")
            .arg(&manifest)
            .arg(&input)
            .assert()
            .success();
        (
            std::fs::read_to_string(rates).unwrap(),
            std::fs::read_to_string(manifest).unwrap(),
        )
    };
    let (decimals, manifest) = mask(
        "0.33333333*cosine + 0.33333333*linear + 0.33333333*cubic",
        "decimals",
    );
    assert!(manifest.contains(THIRDS), "{manifest}");
    let (fractions, manifest) = mask("1/3*cosine + 1/3*linear + 1/3*cubic", "fractions");
    assert!(manifest.contains(THIRDS), "{manifest}");
    assert_eq!(decimals, fractions, "the same law, the same rates");
    protmask()
        .arg("verify")
        .arg(&input)
        .arg(dir.path().join("decimals.fa"))
        .arg("--rates")
        .arg(dir.path().join("decimals.csv"))
        .arg("--manifest")
        .arg(dir.path().join("decimals.json"))
        .assert()
        .success();

    let text = stdout(&[
        "schedule",
        "0.33333333*cosine + 0.33333333*linear + 0.33333333*cubic",
    ]);
    assert!(text.contains(&format!("= {THIRDS}")), "{text}");
    let out = protmask()
        .args(["schedule", "0.5*cosine + 0.4*linear"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("weights sum to 0.9, not 1"));
}
