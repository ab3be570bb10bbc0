//! Arbitrary bytes as FASTA through the whole mask path. Bytes 0 and 1 pick the options,
//! the rest is the input. Every input is masked by the engine's block worker (`BlockMasker::mask`) directly; some are
//! also run through `engine::run` (the real input path: sniffing, gzip decoding, cutting
//! into blocks of a fuzzed size, the ordered writer), plain or gzip-wrapped, whose output
//! must then be the same as the direct one. Errors are fine; panics and disagreements
//! are not.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use protmask::config::MaskConfig;
use protmask::engine::{self, BlockMasker, BlockOutput, Input, Job};
use protmask::io::{Compression, InputSource};
use protmask::mask::{Corruption, Mode, Timesteps};
use protmask::records::{Block, header_starts};
use protmask::schedule::Schedule;
use protmask::sink::{OutputSpec, RatesFormat, Role};

/// Schedules parsed once (a table-based one takes milliseconds to build).
fn schedules() -> &'static [Schedule; 4] {
    static S: OnceLock<[Schedule; 4]> = OnceLock::new();
    S.get_or_init(|| {
        ["betalinear30", "0.5", "cosine", "uniform"].map(|s| Schedule::parse(s).unwrap())
    })
}

/// A scratch directory per thread (regression tests run in parallel), removed when the
/// thread ends.
fn scratch() -> std::path::PathBuf {
    thread_local! {
        static D: tempfile::TempDir = tempfile::tempdir().expect("temp dir");
    }
    D.with(|d| d.path().to_path_buf())
}

struct Setup {
    config: MaskConfig,
    delimiter: u8,
}

/// Options from the selector bytes. `a`: bit 0 mode, 1 corruption, 2 maskable,
/// 3 replicates, 4 timesteps, 5 positions column, 6-7 schedule. `b`: bits 0-1 line width,
/// 2-3 token (the rest picks the engine's block size and compression).
fn setup(a: u8, b: u8) -> Setup {
    let sel = a;
    let bit = |i: u8| a >> i & 1 == 1;
    let config = MaskConfig {
        preset: protmask::presets::Preset::Esm3,
        schedule: schedules()[usize::from(a >> 6)].clone(),
        mode: if bit(0) { Mode::Exact } else { Mode::Bernoulli },
        mask_token: ["_", "<mask>", "#", "X"][usize::from(b >> 2 & 3)].into(),
        corrupt: if bit(1) {
            Corruption::new(0.8, 0.1, 0.1).unwrap()
        } else {
            Corruption::MASK_ONLY
        },
        maskable: bit(2).then(|| "ACDEFGHIKLMNPQRSTVWYacgt".into()),
        timesteps: if bit(4) {
            Timesteps::Stratified
        } else {
            Timesteps::Iid
        },
        seed: u64::from(sel) * 7919,
        replicates: if bit(3) { 2 } else { 1 },
        line_width: [60, 0, 1, 7][usize::from(b & 3)],
        positions: bit(5),
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
    };
    Setup {
        config,
        delimiter: if bit(5) { b'\t' } else { b',' },
    }
}

fn direct(data: &[u8], s: &Setup, with_headers: bool) -> Option<BlockOutput> {
    let headers = header_starts(data);
    let block = Block {
        data,
        first_index: 0,
        headers: with_headers.then_some(&headers[..]),
    };
    BlockMasker::with(&s.config, Some(s.delimiter), vec!["in".into()])
        .mask(&block, 0)
        .ok()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The FASTA and rates table (header row stripped) that `engine::run` writes, or `None`
/// if it fails.
fn through_engine(input: &[u8], block_size: usize, s: Setup) -> Option<(Vec<u8>, Vec<u8>)> {
    let dir = scratch();
    let dir = dir.as_path();
    let in_path = dir.join("in");
    std::fs::write(&in_path, input).unwrap();
    let out: PathBuf = dir.join("out.fa");
    // The table's name decides its delimiter.
    let rates = dir.join(if s.delimiter == b'\t' {
        "rates.tsv"
    } else {
        "rates.csv"
    });
    let _ = std::fs::remove_file(&out);
    let header = RatesFormat::new(s.delimiter, s.config.positions, &[]).header();
    let job = Job {
        config: s.config,
        inputs: vec![Input::new(InputSource::Path(in_path.clone()))],
        outputs: vec![
            OutputSpec::file(Role::Fasta, &out).unwrap(),
            OutputSpec::file(Role::Rates, &rates).unwrap(),
        ],
        // Every other run digests its input and outputs, for a manifest.
        manifest: block_size
            .is_multiple_of(2)
            .then(|| dir.join("manifest.json")),
        threads: 2,
        block_size,
        spill_memory: if block_size.is_multiple_of(3) {
            0
        } else {
            1 << 20
        },
        progress: None,
        recorded_inputs: None,
    };
    engine::run(job).ok()?;
    let fasta = std::fs::read(&out).unwrap();
    let mut table = std::fs::read(&rates).unwrap();
    assert!(
        table.starts_with(&header),
        "rates table without its header row"
    );
    table.drain(..header.len());
    // Rows name the file as given: make them comparable with the direct run's "in".
    let name = in_path.display().to_string();
    let text = String::from_utf8(table).expect("rates rows are UTF-8");
    let text = text
        .lines()
        .map(|l| {
            format!(
                "in{}\n",
                l.strip_prefix(name.as_str()).expect("file column")
            )
        })
        .collect::<String>();
    Some((fasta, text.into_bytes()))
}

/// One input: returns normally, or panics on a bug.
pub fn run(data: &[u8]) {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let (a, b) = (*a, *b);
    let with_headers = direct(rest, &setup(a, b), true);
    let without = direct(rest, &setup(a, b), false);
    assert_eq!(
        with_headers.as_ref().map(|o| &o.bufs),
        without.as_ref().map(|o| &o.bufs),
        "precomputed header offsets change the result"
    );
    if let Some(out) = &with_headers {
        let recs = out.bufs[0].iter().filter(|&&b| b == b'>').count() as u64;
        assert!(recs >= out.stats.records, "fewer headers than records");
        assert!(out.stats.masked <= out.stats.eligible && out.stats.eligible <= out.stats.residues);
    }

    // The real input path, for inputs of modest size (it writes files and starts threads).
    if rest.len() > 2048 {
        return;
    }
    let gz = b & 16 != 0;
    let input = if gz { gzip(rest) } else { rest.to_vec() };
    // A plain input that happens to start like a compressed one is decoded as such.
    let comparable = gz || Compression::detect(rest) == Compression::None;
    let block_size = 1 + usize::from(b >> 5) * 9;
    let via_engine = through_engine(&input, block_size, setup(a, b));
    if comparable {
        match (&with_headers, &via_engine) {
            (Some(d), Some((fasta, rates))) => {
                assert_eq!(
                    &d.bufs[0], fasta,
                    "engine FASTA differs from one whole block"
                );
                assert_eq!(
                    &d.bufs[1], rates,
                    "engine rates differ from one whole block"
                );
            }
            (None, None) => {}
            (d, e) => panic!(
                "one whole block {} but the engine (block size {block_size}, gzip {gz}) {}",
                if d.is_some() { "succeeds" } else { "fails" },
                if e.is_some() { "succeeds" } else { "fails" },
            ),
        }
    }
}
