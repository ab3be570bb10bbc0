//! Issue 21: the BERT-family presets `carp` and `bionemo-esm2` and their knobs
//! (`--mode floor`, `--min-masked`, `--random-pool`, `--random-differs`) through the
//! binary: counts in the rates table, sets that verify (FASTA, rates with positions,
//! datasets with either vocabulary, with and without a manifest), a replacement outside
//! the recorded pool caught, the facts `schedule --list` gives, the flags a manifest
//! records. The laws themselves are tested in src/mask/bert_laws.rs.

mod common;

use common::*;
use std::path::Path;

/// data/ plus records that hold every letter of the extended pool and lowercase.
fn input(dir: &Path) -> std::path::PathBuf {
    let mut fasta = std::fs::read_to_string(DATA).unwrap();
    let all = "ACDEFGHIKLMNPQRSTVWYBZXJOU";
    fasta.push_str(&format!(">every_letter all 26\n{}\n", all.repeat(12)));
    fasta.push_str(&format!(
        ">lower mixed case\n{}\n",
        "acdefGHIKLmnpqrSTVWY".repeat(9)
    ));
    write(dir, "in.fa", fasta)
}

/// `protmask ARGS` in `dir`: (success, stderr).
fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = protmask().current_dir(dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue21_carp_counts_are_int_0_15_l_with_at_least_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut fasta = String::new();
    for l in 1..=400usize {
        let seq: String = (0..l)
            .map(|j| "ACDEFGHIKLMNPQRSTVWY".as_bytes()[j % 20] as char)
            .collect();
        fasta.push_str(&format!(">len{l}\n{seq}\n"));
    }
    write(dir.path(), "in.fa", fasta);
    let (ok, err) = run(
        dir.path(),
        &[
            "mask",
            "-q",
            "in.fa",
            "--preset",
            "carp",
            "-o",
            "m.fa",
            "-r",
            "r.csv",
            "--positions",
        ],
    );
    assert!(ok, "{err}");
    let rows = parse_rates(
        &std::fs::read_to_string(dir.path().join("r.csv")).unwrap(),
        b',',
    );
    assert_eq!(rows.len(), 400);
    for row in rows {
        let l: usize = row["length"].parse().unwrap();
        let masked: usize = row["masked"].parse().unwrap();
        // Python: max(int(L * 0.15), 1), which is 15 L // 100 for these L.
        assert_eq!(masked, (15 * l / 100).max(1), "L = {l}");
        assert_eq!(row["positions"].split(';').count(), masked);
        assert_eq!(row["rate"], "0.15");
    }
}

/// A `carp` and a `bionemo-esm2` set verify: FASTA with a rates table with positions,
/// Parquet with `--tokens esm`, JSON Lines with `--tokens evodiff`, each with its manifest
/// and without (the options then from `--preset`, or the Parquet's metadata).
#[test]
fn issue21_carp_and_bionemo_esm2_sets_verify() {
    for preset in ["carp", "bionemo-esm2"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        input(d);
        let mask = |extra: &[&str]| {
            let (ok, err) = run(
                d,
                &[&["mask", "-q", "in.fa", "--preset", preset], extra].concat(),
            );
            assert!(ok, "{preset}: {err}");
        };
        mask(&[
            "-o",
            "m.fa",
            "-r",
            "r.csv",
            "--positions",
            "--manifest",
            "m.json",
        ]);
        mask(&[
            "--dataset",
            "d.parquet",
            "--tokens",
            "esm",
            "--manifest",
            "dp.json",
        ]);
        mask(&[
            "--dataset",
            "d.jsonl",
            "--tokens",
            "evodiff",
            "--manifest",
            "dj.json",
        ]);
        let checks: [&[&str]; 7] = [
            &["m.fa", "-r", "r.csv", "--manifest", "m.json"],
            &["m.fa", "-r", "r.csv", "--preset", preset],
            &["m.fa", "--preset", preset],
            &["d.parquet", "--manifest", "dp.json"],
            &["d.parquet"],
            &["d.jsonl", "--manifest", "dj.json"],
            &["d.jsonl", "--preset", preset],
        ];
        for check in checks {
            let (ok, err) = run(d, &[&["verify", "in.fa"], check].concat());
            assert!(ok, "{preset} {check:?}: {err}");
            assert!(err.contains("87 records"), "{preset} {check:?}: {err}");
        }
        // The pool is what the letters need: carp's replacements include BZXJOU (shown
        // failing against the standard pool), bionemo-esm2's never do.
        let masked = std::fs::read_to_string(d.join("m.fa")).unwrap();
        let (ok, err) = run(
            d,
            &[
                "verify",
                "in.fa",
                "m.fa",
                "-r",
                "r.csv",
                "--mask-token",
                if preset == "carp" { "#" } else { "<mask>" },
                "--corrupt",
                "0.8,0.1,0.1",
            ],
        );
        match preset {
            "carp" => {
                assert!(!ok, "a carp set verified against the standard pool");
                assert!(err.contains("found '"), "{err}");
                let (ok, err) = run(
                    d,
                    &[
                        "verify",
                        "in.fa",
                        "m.fa",
                        "-r",
                        "r.csv",
                        "--mask-token",
                        "#",
                        "--corrupt",
                        "0.8,0.1,0.1",
                        "--random-pool",
                        "extended",
                    ],
                );
                assert!(ok, "{err}");
            }
            _ => {
                assert!(ok, "{err}");
                let replaced = replaced_letters(d, "m.fa");
                assert!(!replaced.is_empty());
                assert!(
                    replaced
                        .iter()
                        .all(|&(.., c)| b"ACDEFGHIKLMNPQRSTVWY".contains(&c))
                );
            }
        }
        assert!(!masked.is_empty());
    }
}

/// START and END of a header's ` crop=START-END` (issue 22).
fn m_header_window(header: &str) -> Option<(usize, usize)> {
    let (a, b) = header.rsplit_once(" crop=")?.1.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The replaced positions of `masked` against in.fa, by the rates table r.csv's positions:
/// (record, position, its index in the masked sequence, letter shown), for positions that
/// show a letter other than the original.
fn replaced_letters(dir: &Path, masked: &str) -> Vec<(usize, usize, usize, u8)> {
    let original = parse_fasta(&std::fs::read_to_string(dir.join("in.fa")).unwrap());
    let masked = parse_fasta(&std::fs::read_to_string(dir.join(masked)).unwrap());
    let rows = parse_rates(&std::fs::read_to_string(dir.join("r.csv")).unwrap(), b',');
    let mut out = Vec::new();
    for (i, ((o, m), row)) in original.iter().zip(&masked).zip(&rows).enumerate() {
        // Tokens are one or more bytes: walk the masked sequence by the original's.
        let (mut o, m) = (o.1.as_bytes(), m.1.as_bytes());
        // A cropped record (bionemo-esm2's --max-length 1022) is its window.
        if let Some((a, b)) = m_header_window(&masked[i].0) {
            o = &o[a..b];
        }
        let listed: Vec<usize> = (row["positions"].split(';'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let mut cur = 0;
        for (p, &c) in o.iter().enumerate() {
            let token: &[u8] = if m[cur..].starts_with(b"<mask>") {
                b"<mask>"
            } else {
                &m[cur..cur + 1]
            };
            if token.len() == 1 && token[0] != c && token[0] != b'#' && listed.contains(&p) {
                out.push((i, p, cur, token[0]));
            }
            cur += token.len();
        }
    }
    out
}

/// A replaced letter edited to one outside the recorded pool fails verify: `b` (no pool
/// has lowercase) in a carp set, `B` in a bionemo-esm2 set; `B` in the carp set passes.
#[test]
fn issue21_a_replacement_outside_the_pool_fails_verify() {
    for (preset, letter, passes) in [
        ("carp", b'b', false),
        ("bionemo-esm2", b'B', false),
        ("carp", b'B', true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        input(d);
        let (ok, err) = run(
            d,
            &[
                "mask",
                "-q",
                "in.fa",
                "--preset",
                preset,
                "-w",
                "0",
                "-o",
                "m.fa",
                "-r",
                "r.csv",
                "--positions",
                "--manifest",
                "m.json",
            ],
        );
        assert!(ok, "{err}");
        // The first replaced position whose original is not `letter`.
        let original = parse_fasta(&std::fs::read_to_string(d.join("in.fa")).unwrap());
        let (record, _, at, _) = replaced_letters(d, "m.fa")
            .into_iter()
            .find(|&(r, p, ..)| original[r].1.as_bytes()[p] != letter)
            .expect("a replaced position");
        let text = std::fs::read_to_string(d.join("m.fa")).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let line = &mut lines[2 * record + 1];
        let mut bytes = line.clone().into_bytes();
        bytes[at] = letter;
        *line = String::from_utf8(bytes).unwrap();
        std::fs::write(d.join("m.fa"), lines.join("\n") + "\n").unwrap();
        let (ok, err) = run(
            d,
            &["verify", "in.fa", "m.fa", "-r", "r.csv", "--preset", preset],
        );
        assert_eq!(ok, passes, "{preset} with '{}': {err}", letter as char);
        if !passes {
            assert!(
                err.contains(&format!("found '{}'", letter as char)),
                "{preset}: {err}"
            );
        }
        // With the manifest, the edited file no longer matches its checksum either way.
        let (ok, _) = run(
            d,
            &[
                "verify",
                "in.fa",
                "m.fa",
                "-r",
                "r.csv",
                "--manifest",
                "m.json",
            ],
        );
        assert!(!ok);
    }
}

#[test]
fn issue21_schedule_list_gives_the_new_facts() {
    let out = protmask()
        .args(["schedule", "--list", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let preset = |name: &str| {
        json["presets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"))
            .clone()
    };
    let carp = preset("carp");
    assert_eq!(
        (
            &carp["schedule"],
            &carp["mode"],
            &carp["mask_token"],
            &carp["corrupt"]
        ),
        (
            &"0.15".into(),
            &"floor".into(),
            &"#".into(),
            &serde_json::json!([0.8, 0.1, 0.1])
        )
    );
    assert_eq!(
        (
            &carp["random_pool"],
            &carp["random_differs"],
            &carp["min_masked"]
        ),
        (&"extended".into(), &true.into(), &1.into())
    );
    let bionemo = preset("bionemo-esm2");
    assert_eq!(
        (
            &bionemo["schedule"],
            &bionemo["mode"],
            &bionemo["mask_token"],
            &bionemo["timesteps"]
        ),
        (
            &"0.15".into(),
            &"bernoulli".into(),
            &"<mask>".into(),
            &"iid".into()
        )
    );
    assert_eq!(
        (
            &bionemo["random_pool"],
            &bionemo["random_differs"],
            &bionemo["min_masked"]
        ),
        (&"standard".into(), &false.into(), &0.into())
    );
    assert!(
        bionemo["differs"]
            .as_str()
            .unwrap()
            .contains("--max-length 1022")
    );
    for p in json["presets"].as_array().unwrap() {
        assert!(
            p["random_pool"].is_string() && p["min_masked"].is_u64(),
            "{p}"
        );
    }
    let text = protmask()
        .args(["schedule", "--list"])
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(text).unwrap();
    // Names are padded to the longest preset name.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(" carp schedule 0.15, mode floor, token #, corrupt 0.8,0.1,0.1, timesteps iid, random-pool extended, random-differs true, min-masked 1"),
        "{text}"
    );
    assert!(
        text.contains(" bionemo-esm2 schedule 0.15, mode bernoulli, token <mask>"),
        "{text}"
    );
}

/// The flags reach the manifest's options and command line (only where they differ from
/// the preset's), `verify --manifest` regenerates the set with them, and a preset that
/// does not use them records none of them.
#[test]
fn issue21_the_new_flags_are_recorded_and_regenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    input(d);
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &[
                "--preset",
                "esm2",
                "--random-pool",
                "extended",
                "--random-differs",
                "--min-masked",
                "40",
                "--mode",
                "floor",
            ],
            &[
                "--random-pool=extended",
                "--random-differs=true",
                "--min-masked=40",
                "--mode=floor",
            ],
        ),
        (
            &[
                "--preset",
                "carp",
                "--random-pool",
                "standard",
                "--random-differs=false",
                "--min-masked",
                "0",
            ],
            &[
                "--random-pool=standard",
                "--random-differs=false",
                "--min-masked=0",
            ],
        ),
        (&["--preset", "esm2"], &[]),
    ];
    for (flags, recorded) in cases {
        let (ok, err) = run(
            d,
            &[
                &[
                    "mask",
                    "-q",
                    "in.fa",
                    "-o",
                    "m.fa",
                    "-r",
                    "r.csv",
                    "--manifest",
                    "m.json",
                ],
                flags,
            ]
            .concat(),
        );
        assert!(ok, "{flags:?}: {err}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("m.json")).unwrap()).unwrap();
        let command: Vec<&str> = (manifest["command_line"].as_array().unwrap().iter())
            .map(|v| v.as_str().unwrap())
            .collect();
        for flag in recorded {
            assert!(command.contains(flag), "{flags:?}: {command:?}");
        }
        let options = manifest["options"].as_object().unwrap();
        let new_keys = ["random_pool", "random_differs", "min_masked"];
        if recorded.is_empty() {
            for key in new_keys {
                assert!(!options.contains_key(key), "{key} in {options:?}");
            }
            assert!(
                !command
                    .iter()
                    .any(|c| c.contains("random") || c.contains("min-masked"))
            );
        }
        let (ok, err) = run(
            d,
            &[
                "verify",
                "in.fa",
                "m.fa",
                "-r",
                "r.csv",
                "--manifest",
                "m.json",
            ],
        );
        assert!(ok, "{flags:?}: {err}");
        assert!(err.contains("regenerate byte-identical"), "{err}");
    }
    // --min-masked 40 held: every record selects at least min(40, L).
    let (ok, err) = run(
        d,
        &[
            "mask",
            "-q",
            "in.fa",
            "-o",
            "m.fa",
            "-r",
            "r.csv",
            "--preset",
            "esm2",
            "--min-masked",
            "40",
        ],
    );
    assert!(ok, "{err}");
    for row in parse_rates(&std::fs::read_to_string(d.join("r.csv")).unwrap(), b',') {
        let l: usize = row["length"].parse().unwrap();
        assert!(
            row["masked"].parse::<usize>().unwrap() >= l.min(40),
            "{row:?}"
        );
    }
}

#[test]
fn issue21_bad_values_are_usage_errors() {
    for (args, message) in [
        (
            &["--random-pool", "all"][..],
            "invalid value 'all' for '--random-pool <POOL>'",
        ),
        (
            &["--random-differs=maybe"][..],
            "invalid value 'maybe' for '--random-differs[=<BOOL>]'",
        ),
        (&["--min-masked=-1"][..], "-1 is not in 0..=4294967295"),
        (
            &["--mode", "floors"][..],
            "[possible values: bernoulli, exact, floor, oadm",
        ),
    ] {
        let out = protmask()
            .args(["mask", "-q", DATA, "-o", "/dev/null"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
}
