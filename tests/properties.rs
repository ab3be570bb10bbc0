//! Property tests of the masking invariants (issue 7), over random FASTA, seeds, schedules,
//! modes, corruptions, maskable sets, tokens, line widths and replicate counts:
//!
//! - unselected positions are byte-identical to the input;
//! - the selected count k is in [0, L] and equals the rates row's `masked` and its
//!   `positions` column; exact mode selects floor(rL) or ceil(rL);
//! - `verify(original, mask(original))` passes, and fails once a residue is altered;
//! - the output is identical across thread counts, block sizes, compression and sharding.
//!
//! The library is driven directly (no binary), and case counts are kept modest, so the
//! file runs in seconds in a debug build.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use protmask::check::{Expect, verify};
use protmask::config::MaskConfig;
use protmask::engine::{self, BlockMasker, DEFAULT_BLOCK_SIZE, Input, Job, Stats};
use protmask::io::InputSource;
use protmask::mask::{Corruption, Marks, Masker, Mode, STANDARD_RESIDUES, Timesteps, mark};
use protmask::records::Block;
use protmask::schedule::Schedule;
use protmask::sink::{OutputSpec, RatesFormat, Role};

const SPECS: &[&str] = &[
    "betalinear30",
    "0.8*beta(3,9) + 0.2*uniform",
    "beta30",
    "cosine",
    "linear",
    "cubic",
    "square",
    "sqrt",
    "uniform",
    "uniform(0.000999,0.999)",
    "0.15",
    "fixed(0)",
    "fixed(1)",
    "discrete(500)",
    "0.5*cosine + 0.5*beta(2,6)",
];

/// Parsed once: a numeric schedule builds a quantile table, slow in a debug build.
fn schedule(i: usize) -> Schedule {
    static PARSED: OnceLock<Vec<Schedule>> = OnceLock::new();
    PARSED.get_or_init(|| SPECS.iter().map(|s| Schedule::parse(s).unwrap()).collect())[i].clone()
}

const TOKENS: &[&str] = &["_", "<mask>", "#"];
const MASKABLE: &[Option<&str>] = &[None, Some("ACDEFGHIKLMNPQRSTVWY"), Some("KRkr"), Some("")];

#[derive(Clone, Debug)]
struct Rec {
    id: String,
    desc: String,
    seq: Vec<u8>,
}

/// One masking configuration.
#[derive(Clone, Debug)]
struct Cfg {
    seed: u64,
    schedule: usize,
    mode: Mode,
    corrupt: bool,
    stratified: bool,
    maskable: usize,
    token: usize,
    line_width: usize,
    replicates: u32,
    tab: bool,
}

impl Cfg {
    fn corruption(&self) -> Corruption {
        if self.corrupt {
            Corruption::new(0.8, 0.1, 0.1).unwrap()
        } else {
            Corruption::MASK_ONLY
        }
    }
    fn maskable(&self) -> Option<&'static [u8]> {
        MASKABLE[self.maskable].map(str::as_bytes)
    }
    fn token(&self) -> &'static [u8] {
        TOKENS[self.token].as_bytes()
    }
    fn masker(&self) -> Masker {
        self.config(false).masker()
    }
    fn config(&self, positions: bool) -> MaskConfig {
        MaskConfig {
            preset: protmask::presets::Preset::Esm3,
            schedule: schedule(self.schedule),
            mode: self.mode,
            mask_token: String::from_utf8(self.token().to_vec()).unwrap(),
            corrupt: self.corruption(),
            maskable: self
                .maskable()
                .map(|m| String::from_utf8(m.to_vec()).unwrap()),
            timesteps: if self.stratified {
                Timesteps::Stratified
            } else {
                Timesteps::Iid
            },
            seed: self.seed,
            replicates: self.replicates,
            line_width: self.line_width,
            positions,
            compress: None,
            parquet_compression: Default::default(),
            shard_rows: None,
            outdir: false,
            tokens: None,
            regions: None,
            span: None,
            random_pool: Default::default(),
            random_differs: false,
            min_masked: 0,
            max_length: None,
            crop: None,
            split: None,
            split_seed: None,
            split_groups: None,
            scan: None,
        }
    }
    fn delimiter(&self) -> u8 {
        if self.tab { b'\t' } else { b',' }
    }
    fn expect(&self) -> Expect {
        Expect {
            token: self.token().to_vec(),
            corruption: self.corruption(),
            maskable: self.maskable().map(<[u8]>::to_vec),
            replacements: protmask::mask::STANDARD_RESIDUES,
            replicates: None,
            cropping: None,
            split: None,
            only_split: None,
        }
    }
    fn eligible(&self, c: u8) -> bool {
        self.maskable().is_none_or(|m| m.contains(&c))
    }
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        any::<u64>(),
        0..SPECS.len(),
        prop_oneof![Just(Mode::Bernoulli), Just(Mode::Exact)],
        any::<bool>(),
        prop::bool::weighted(0.25),
        0..MASKABLE.len(),
        0..TOKENS.len(),
        prop::sample::select(vec![0usize, 1, 7, 60]),
        1u32..=3,
        any::<bool>(),
    )
        .prop_map(
            |(
                seed,
                schedule,
                mode,
                corrupt,
                stratified,
                maskable,
                token,
                line_width,
                replicates,
                tab,
            )| {
                Cfg {
                    seed,
                    schedule,
                    mode,
                    corrupt,
                    stratified,
                    maskable,
                    token,
                    line_width,
                    replicates,
                    tab,
                }
            },
        )
}

fn seq() -> impl Strategy<Value = Vec<u8>> {
    let residue = prop_oneof![
        20 => prop::sample::select(STANDARD_RESIDUES.to_vec()),
        4 => prop::sample::select((b'a'..=b'z').collect::<Vec<u8>>()),
        2 => prop::sample::select(b"BJOUXZ*-.".to_vec()),
    ];
    prop_oneof![
        1 => Just(Vec::new()),
        6 => prop::collection::vec(residue, 0..500),
    ]
}

fn record() -> impl Strategy<Value = Rec> {
    (
        "[A-Za-z0-9_|.]{1,12}",
        prop_oneof![Just(String::new()), " [A-Za-z0-9=|]{1,8}( [a-z]{1,5})?"],
        seq(),
    )
        .prop_map(|(id, desc, seq)| Rec { id, desc, seq })
}

fn records() -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec(record(), 0..7)
}

/// The records as FASTA, sequences wrapped at `width` (0 = one line).
fn to_fasta(records: &[Rec], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(format!(">{}{}\n", r.id, r.desc).as_bytes());
        let w = if width == 0 {
            r.seq.len().max(1)
        } else {
            width
        };
        for line in r.seq.chunks(w) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out
}

/// A block's FASTA and rates rows.
struct Masked {
    fasta: Vec<u8>,
    rates: Vec<u8>,
    #[allow(dead_code)]
    stats: Stats,
}

/// The engine's block worker over the whole input as one block, named "in.fa".
fn mask_block(data: &[u8], cfg: &Cfg, positions: bool) -> Masked {
    let masker = BlockMasker::with(
        &cfg.config(positions),
        Some(cfg.delimiter()),
        vec!["in.fa".into()],
    );
    let block = Block {
        data,
        first_index: 0,
        headers: None,
    };
    let mut out = masker.mask(&block, 0).expect("valid FASTA masks");
    Masked {
        rates: out.bufs.pop().unwrap(),
        fasta: out.bufs.pop().unwrap(),
        stats: out.stats,
    }
}

fn table_header(delimiter: u8, positions: bool) -> Vec<u8> {
    RatesFormat::new(delimiter, positions, &[]).header()
}

/// (header line without '>', sequence lines) of a FASTA text.
fn parse_fasta(text: &[u8]) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if let Some(h) = line.strip_prefix(b">") {
            out.push((h.to_vec(), Vec::new()));
        } else if !line.is_empty() {
            out.last_mut()
                .expect("sequence after a header")
                .1
                .push(line.to_vec());
        }
    }
    assert!(
        text.is_empty() || text.ends_with(b"\n"),
        "output ends mid-line"
    );
    out
}

struct Row {
    file: String,
    id: String,
    replicate: u32,
    length: usize,
    t: f64,
    rate: f64,
    masked: usize,
    positions: Option<Vec<usize>>,
}

fn parse_rows(table: &[u8], delimiter: u8, positions: bool) -> Vec<Row> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(table);
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 7 + usize::from(positions), "columns of {rec:?}");
            Row {
                file: rec[0].to_string(),
                id: rec[1].to_string(),
                replicate: rec[2].parse().unwrap(),
                length: rec[3].parse().unwrap(),
                t: rec[4].parse().unwrap(),
                rate: rec[5].parse().unwrap(),
                masked: rec[6].parse().unwrap(),
                positions: positions.then(|| {
                    if rec[7].is_empty() {
                        Vec::new()
                    } else {
                        rec[7].split(';').map(|p| p.parse().unwrap()).collect()
                    }
                }),
            }
        })
        .collect()
}

/// What the output shows at each input position: `None` for the token, else the byte.
fn read_positions(out: &[u8], token: &[u8], len: usize) -> Vec<Option<u8>> {
    let mut shown = Vec::with_capacity(len);
    let mut rest = out;
    while !rest.is_empty() {
        if rest.starts_with(token) {
            shown.push(None);
            rest = &rest[token.len()..];
        } else {
            shown.push(Some(rest[0]));
            rest = &rest[1..];
        }
    }
    shown
}

/// Every per-record invariant, checked on the FASTA and rates rows of one block.
fn check_block(records: &[Rec], cfg: &Cfg, out: &Masked) -> Result<(), TestCaseError> {
    let fasta = parse_fasta(&out.fasta);
    let rows = parse_rows(&out.rates, if cfg.tab { b'\t' } else { b',' }, true);
    let r = cfg.replicates as usize;
    prop_assert_eq!(fasta.len(), records.len() * r);
    prop_assert_eq!(rows.len(), records.len() * r);
    let token = cfg.token();
    for (i, rec) in records.iter().enumerate() {
        let eligible: Vec<usize> = (0..rec.seq.len())
            .filter(|&p| cfg.eligible(rec.seq[p]))
            .collect();
        for k in 1..=r {
            let j = i * r + k - 1;
            let (header, lines) = &fasta[j];
            let row = &rows[j];
            let id = if r > 1 {
                format!("{}_r{k}", rec.id)
            } else {
                rec.id.clone()
            };
            prop_assert_eq!(header, &format!("{id}{}", rec.desc).into_bytes());
            prop_assert_eq!(&row.file, "in.fa");
            prop_assert_eq!(&row.id, &rec.id);
            prop_assert_eq!(row.replicate as usize, k);
            // Line layout: `line_width` positions per line, all but the last full.
            let shown_lines: Vec<usize> = lines
                .iter()
                .map(|l| read_positions(l, token, 0).len())
                .collect();
            if cfg.line_width == 0 {
                prop_assert!(shown_lines.len() <= 1);
            } else if let Some((last, full)) = shown_lines.split_last() {
                prop_assert!(
                    full.iter().all(|&n| n == cfg.line_width),
                    "{:?}",
                    shown_lines
                );
                prop_assert!(*last >= 1 && *last <= cfg.line_width);
            }
            let shown = read_positions(&lines.concat(), token, rec.seq.len());
            prop_assert_eq!(
                shown.len(),
                rec.seq.len(),
                "positions in the output of {}",
                id
            );

            // k in [0, L], = masked = the positions column, all of them eligible.
            let listed = row.positions.clone().unwrap();
            prop_assert_eq!(row.length, eligible.len());
            prop_assert!(row.masked <= row.length);
            prop_assert_eq!(listed.len(), row.masked);
            prop_assert!(
                listed.windows(2).all(|w| w[0] < w[1]),
                "not ascending: {:?}",
                listed
            );
            let set: BTreeSet<usize> = listed.iter().copied().collect();
            prop_assert!(set.is_subset(&eligible.iter().copied().collect()));
            prop_assert!((0.0..1.0).contains(&row.t), "t {}", row.t);
            prop_assert!((0.0..=1.0).contains(&row.rate), "rate {}", row.rate);
            if cfg.mode == Mode::Exact {
                let rl = row.rate * row.length as f64;
                prop_assert!(
                    row.masked == rl.floor() as usize || row.masked == rl.ceil() as usize,
                    "exact mode: k={} for r={} L={}",
                    row.masked,
                    row.rate,
                    row.length
                );
            }

            // Unselected positions are the input's byte; selected ones the token (or, with
            // corruption, a standard residue or the input's byte).
            let mut changed = 0;
            for (p, (&orig, &out)) in rec.seq.iter().zip(&shown).enumerate() {
                if !set.contains(&p) {
                    prop_assert_eq!(out, Some(orig), "unselected position {} of {}", p, id);
                } else if !cfg.corrupt {
                    prop_assert_eq!(out, None, "selected position {} of {}", p, id);
                    changed += 1;
                } else {
                    match out {
                        None => changed += 1,
                        Some(c) if c == orig => {}
                        Some(c) => {
                            prop_assert!(STANDARD_RESIDUES.contains(&c), "replaced by {}", c);
                            changed += 1;
                        }
                    }
                }
            }
            prop_assert!(changed <= row.masked);
            if !cfg.corrupt {
                prop_assert_eq!(changed, row.masked);
            }
        }
    }
    let masked: usize = rows.iter().map(|r| r.masked).sum();
    prop_assert_eq!(out.stats.masked, masked as u64);
    prop_assert_eq!(out.stats.records, rows.len() as u64);
    Ok(())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `engine::run` over `inputs` into one output; returns (FASTA, rates table).
fn run_engine(
    dir: &Path,
    inputs: &[PathBuf],
    cfg: &Cfg,
    threads: usize,
    block_size: usize,
) -> (Vec<u8>, Vec<u8>) {
    let out = dir.join(format!("out-{threads}-{block_size}.fa"));
    let ext = if cfg.tab { "tsv" } else { "csv" };
    let rates = dir.join(format!("rates-{threads}-{block_size}.{ext}"));
    let job = Job {
        config: cfg.config(true),
        inputs: inputs
            .iter()
            .cloned()
            .map(|p| Input::new(InputSource::Path(p)))
            .collect(),
        outputs: vec![
            OutputSpec::file(Role::Fasta, &out).unwrap(),
            OutputSpec::file(Role::Rates, &rates).unwrap(),
        ],
        manifest: None,
        threads,
        block_size,
        spill_memory: if block_size.is_multiple_of(3) {
            0
        } else {
            1 << 20
        },
        progress: None,
        recorded_inputs: None,
    };
    engine::run(job).expect("engine run");
    (std::fs::read(out).unwrap(), std::fs::read(rates).unwrap())
}

/// The rates table without its header row and `file` column.
fn rows_without_file(table: &[u8]) -> Vec<String> {
    String::from_utf8(table.to_vec())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_once([',', '\t']).unwrap().1.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `Masker::mask_record` alone: marks agree with the outcome, only eligible positions
    /// are selected, exact mode's count, and a reused `Marks` gives the same answer as a
    /// fresh one.
    #[test]
    fn mask_record_marks_agree_with_outcome(
        cfg in cfg(),
        recs in prop::collection::vec(record(), 1..5),
    ) {
        let masker = cfg.masker();
        let mut reused = Marks::default();
        for (i, rec) in recs.iter().enumerate() {
            for replicate in 1..=cfg.replicates {
                let shift = masker.stratified_shift(replicate);
                let o = masker.mask_record(rec.id.as_bytes(), &rec.seq, replicate, i as u64, &mut reused, None);
                let mut fresh = Marks::default();
                let o2 = masker.mask_record(rec.id.as_bytes(), &rec.seq, replicate, i as u64, &mut fresh, None);
                prop_assert_eq!(&o, &o2);
                prop_assert_eq!(&reused.by_position, &fresh.by_position);

                let eligible = rec.seq.iter().filter(|&&c| cfg.eligible(c)).count();
                prop_assert_eq!(o.length, eligible);
                prop_assert!(o.masked <= o.length);
                prop_assert_eq!(reused.by_position.len(), rec.seq.len());
                let selected = reused.by_position.iter().filter(|&&m| m != mark::NONE).count();
                prop_assert_eq!(selected, o.masked);
                for (&m, &c) in reused.by_position.iter().zip(&rec.seq) {
                    if m != mark::NONE {
                        prop_assert!(cfg.eligible(c));
                        prop_assert!(
                            m == mark::TOKEN
                                || (cfg.corrupt && (m == mark::KEPT || STANDARD_RESIDUES.contains(&m))),
                            "mark {}", m
                        );
                    }
                }
                if cfg.mode == Mode::Exact {
                    let rl = o.rate * o.length as f64;
                    prop_assert!(o.masked == rl.floor() as usize || o.masked == rl.ceil() as usize,
                        "k={} r={} L={}", o.masked, o.rate, o.length);
                }
                if cfg.stratified {
                    prop_assert_eq!(o.t, protmask::mask::stratified_t(i as u64, shift));
                }
                prop_assert_eq!(o.rate, masker.schedule.rate(o.t));
            }
        }
    }

    /// `process_block`: every invariant on the FASTA and rates rows; the table without the
    /// positions column says the same.
    #[test]
    fn block_output_keeps_unselected_and_counts_selected(
        cfg in cfg(),
        recs in records(),
        in_width in prop::sample::select(vec![0usize, 13, 60]),
    ) {
        let input = to_fasta(&recs, in_width);
        let out = mask_block(&input, &cfg, true);
        check_block(&recs, &cfg, &out)?;
        let plain = mask_block(&input, &cfg, false);
        prop_assert_eq!(&plain.fasta, &out.fasta);
        let d = if cfg.tab { b'\t' } else { b',' };
        let (a, b) = (parse_rows(&plain.rates, d, false), parse_rows(&out.rates, d, true));
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(
                (&x.id, x.replicate, x.length, x.t.to_bits(), x.rate.to_bits(), x.masked),
                (&y.id, y.replicate, y.length, y.t.to_bits(), y.rate.to_bits(), y.masked)
            );
        }
    }

    /// `verify(original, mask(original))` passes with the matching `Expect`, with and
    /// without the rates table; and fails once one unselected residue is altered.
    #[test]
    fn verify_accepts_its_own_masking_and_rejects_a_tampered_one(
        cfg in cfg(),
        recs in records(),
        gz in any::<bool>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = to_fasta(&recs, 60);
        let out = mask_block(&input, &cfg, true);
        let original = dir.path().join("original.fa");
        std::fs::write(&original, &input).unwrap();
        let masked = dir.path().join(if gz { "masked.fa.gz" } else { "masked.fa" });
        std::fs::write(&masked, if gz { gzip(&out.fasta) } else { out.fasta.clone() }).unwrap();
        let d = if cfg.tab { b'\t' } else { b',' };
        let rates = dir.path().join(if cfg.tab { "rates.tsv" } else { "rates.csv" });
        let mut table = table_header(d, true);
        table.extend_from_slice(&out.rates);
        std::fs::write(&rates, &table).unwrap();

        let (o, m) = (InputSource::Path(original.clone()), InputSource::Path(masked));
        let seen = verify(&o, &m, Some(&rates), &cfg.expect());
        prop_assert!(seen.is_ok(), "verify with rates: {}", seen.unwrap_err());
        let seen = seen.unwrap();
        prop_assert_eq!(seen.records, recs.len() as u64);
        prop_assert_eq!(seen.rows, (recs.len() * cfg.replicates as usize) as u64);
        if !recs.is_empty() {
            prop_assert_eq!(seen.replicates, cfg.replicates);
        }
        let without = verify(&o, &m, None, &cfg.expect());
        prop_assert!(without.is_ok(), "verify without rates: {}", without.unwrap_err());

        // Alter one unselected position of the masked FASTA to a residue it cannot show.
        let rows = parse_rows(&out.rates, d, true);
        let mut fasta = parse_fasta(&out.fasta);
        let candidates: Vec<(usize, usize)> = rows
            .iter()
            .enumerate()
            .flat_map(|(j, row)| {
                let seq = &recs[j / cfg.replicates as usize].seq;
                let listed = row.positions.clone().unwrap();
                (0..seq.len()).filter(move |p| !listed.contains(p)).map(move |p| (j, p))
            })
            .collect();
        if !candidates.is_empty() {
            let (j, p) = candidates[pick.index(candidates.len())];
            let token = cfg.token();
            let orig = recs[j / cfg.replicates as usize].seq[p];
            let seq_out = fasta[j].1.concat();
            let shown = read_positions(&seq_out, token, 0);
            // Byte offset of position p in the concatenated output.
            let at: usize = shown[..p].iter().map(|s| if s.is_some() { 1 } else { token.len() }).sum();
            let mut tampered = seq_out;
            tampered[at] = if orig == b'B' { b'Z' } else { b'B' };
            fasta[j].1 = vec![tampered];
            let mut text = Vec::new();
            for (h, lines) in &fasta {
                text.push(b'>');
                text.extend_from_slice(h);
                text.push(b'\n');
                for l in lines {
                    text.extend_from_slice(l);
                    text.push(b'\n');
                }
            }
            let bad = dir.path().join("tampered.fa");
            std::fs::write(&bad, text).unwrap();
            let bad = InputSource::Path(bad);
            prop_assert!(verify(&o, &bad, Some(&rates), &cfg.expect()).is_err(), "tampered at {} of record {}", p, j);
            prop_assert!(verify(&o, &bad, None, &cfg.expect()).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `engine::run`: the same bytes for 1, 2 and 4 threads, block sizes 1, 100 and the
    /// default, plain or gzip input, as one block through `process_block`, and (iid
    /// timesteps) when the input is split over two files.
    #[test]
    fn output_is_identical_across_threads_blocks_and_inputs(
        cfg in cfg(),
        recs in records(),
        split in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = to_fasta(&recs, 60);
        let plain = dir.path().join("in.fa");
        std::fs::write(&plain, &input).unwrap();
        let gz = dir.path().join("in.fa.gz");
        std::fs::write(&gz, gzip(&input)).unwrap();

        let default = DEFAULT_BLOCK_SIZE as usize;
        let reference = run_engine(dir.path(), std::slice::from_ref(&plain), &cfg, 1, default);
        let block = mask_block(&input, &cfg, true);
        prop_assert_eq!(&reference.0, &block.fasta);
        let mut table = table_header(cfg.delimiter(), true);
        let name = plain.display().to_string();
        // The block was masked as "in.fa"; the engine names the input by its path.
        for row in String::from_utf8(block.rates.clone()).unwrap().lines() {
            let rest = row.strip_prefix("in.fa").unwrap();
            let quoted = if name.contains([',', '\t', '"']) { format!("\"{name}\"") } else { name.clone() };
            table.extend_from_slice(format!("{quoted}{rest}\n").as_bytes());
        }
        prop_assert_eq!(&reference.1, &table);
        check_block(&recs, &cfg, &block)?;

        for (threads, block_size) in [(2, 1), (4, 100), (4, default), (1, 100), (2, default)] {
            let got = run_engine(dir.path(), std::slice::from_ref(&plain), &cfg, threads, block_size);
            prop_assert!(got == reference, "threads {} block size {} differ", threads, block_size);
        }
        let got = run_engine(dir.path(), std::slice::from_ref(&gz), &cfg, 2, 100);
        prop_assert_eq!(&got.0, &reference.0, "gzip input");
        prop_assert_eq!(rows_without_file(&got.1), rows_without_file(&reference.1));

        if !cfg.stratified && !recs.is_empty() {
            let cut = split.index(recs.len() + 1);
            let (a, b) = (dir.path().join("a.fa"), dir.path().join("b.fa"));
            std::fs::write(&a, to_fasta(&recs[..cut], 7)).unwrap();
            std::fs::write(&b, to_fasta(&recs[cut..], 0)).unwrap();
            let got = run_engine(dir.path(), &[a, b], &cfg, 2, 100);
            prop_assert_eq!(&got.0, &reference.0, "input split at record {}", cut);
            prop_assert_eq!(rows_without_file(&got.1), rows_without_file(&reference.1));
        }
    }
}
