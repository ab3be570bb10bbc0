//! Micro-benchmarks of the hot functions: the rate of a record (`Schedule::rate`), the mask
//! of a record (`Masker::mask_record`), and a whole block parsed, masked and formatted
//! (`fasta::process_block`), and one BGZF block's deflate, zlib-rs against libdeflate (the
//! measurement behind using libdeflate for `.gz` output).
//!
//!   cargo bench --bench hot                 # all
//!   cargo bench --bench hot -- rate         # a filter
//!
//! The whole-process comparison with seqkit, cat and Python is benches/wholeprocess.sh.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protmask::config::MaskConfig;
use protmask::engine::BlockMasker;
use protmask::mask::{Corruption, Masker, Mode, Timesteps};
use protmask::records::Block;
use protmask::schedule::Schedule;

/// A small deterministic generator (SplitMix64) for synthetic inputs.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn residues(&mut self, len: usize) -> Vec<u8> {
        const AA: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";
        (0..len).map(|_| AA[(self.next() % 20) as usize]).collect()
    }
}

/// 1024 IDs, so records differ in t, rate and count as real records do.
fn ids() -> Vec<Vec<u8>> {
    (0..1024)
        .map(|i| format!("UniRef50_S01{i:09}").into_bytes())
        .collect()
}

fn masker(spec: &str, mode: Mode) -> Masker {
    Masker::new(
        Schedule::parse(spec).expect("schedule"),
        mode,
        Corruption::MASK_ONLY,
        Timesteps::Iid,
        None,
        42,
    )
}

/// About `bytes` of UniRef50-like FASTA: lengths 50..~650 (mean ~300), wrapped at 60.
fn synthetic_fasta(bytes: usize) -> Vec<u8> {
    let mut g = Gen(7);
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut n = 0u64;
    while out.len() < bytes {
        let len = 50 + ((g.unit() + g.unit()) * 300.0) as usize;
        out.extend_from_slice(
            format!(
                ">UniRef50_S01{n:09} Cluster: Synthetic protein {n} n=2 Tax=Synthetic organism 9606 TaxID=9606 RepID=SYN{n:09}_SYN\n"
            )
            .as_bytes(),
        );
        for line in g.residues(len).chunks(60) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        n += 1;
    }
    out
}

fn bench_rate(c: &mut Criterion) {
    let mut g = Gen(1);
    let ts: Vec<f64> = (0..1024).map(|_| g.unit()).collect();
    let mut group = c.benchmark_group("schedule_rate");
    group.throughput(Throughput::Elements(1));
    for spec in ["betalinear30", "cosine"] {
        let s = Schedule::parse(spec).expect("schedule");
        let mut i = 0usize;
        group.bench_function(spec, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                s.rate(black_box(ts[i]))
            })
        });
    }
    group.finish();
}

fn bench_mask_record(c: &mut Criterion) {
    let seq = Gen(2).residues(300);
    let ids = ids();
    let mut group = c.benchmark_group("mask_record_300aa");
    group.throughput(Throughput::Elements(1));
    for (name, mode) in [("bernoulli", Mode::Bernoulli), ("exact", Mode::Exact)] {
        let m = masker("betalinear30", mode);
        // The marks buffer, reused across records; its type is whatever mask_record takes.
        let mut marks = Default::default();
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                m.mask_record(black_box(&ids[i]), black_box(&seq), 1, 0, &mut marks, None)
            })
        });
    }
    group.finish();
}

fn bench_process_block(c: &mut Criterion) {
    let data = synthetic_fasta(1 << 20);
    let config = MaskConfig {
        preset: protmask::presets::Preset::Esm3,
        schedule: Schedule::parse("betalinear30").expect("schedule"),
        mode: Mode::Bernoulli,
        mask_token: "_".into(),
        corrupt: Corruption::MASK_ONLY,
        maskable: None,
        timesteps: Timesteps::Iid,
        seed: 42,
        replicates: 1,
        line_width: 60,
        positions: false,
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
    let mut group = c.benchmark_group("process_block_1MiB");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (name, rates) in [("fasta", None), ("fasta+rates_csv", Some(b','))] {
        let worker = BlockMasker::with(&config, rates, vec!["bench.fa".into()]);
        let block = Block {
            data: &data,
            first_index: 0,
            headers: None,
        };
        group.bench_function(name, |b| {
            b.iter(|| worker.mask(black_box(&block), 0).expect("valid block"))
        });
    }
    group.finish();
}

/// Raw deflate of one full BGZF block (65280 bytes of masked FASTA) at level 6, each
/// library with a state reused across blocks as the writer does.
fn bench_bgzf_deflate(c: &mut Criterion) {
    let data = synthetic_fasta(1 << 20);
    let block = &data[..protmask::io::BLOCK_DATA_SIZE];
    let mut out = vec![0u8; 2 * block.len()];
    let mut group = c.benchmark_group("bgzf_block_deflate_level6");
    group.throughput(Throughput::Bytes(block.len() as u64));
    let mut zlib = flate2::Compress::new(flate2::Compression::new(6), false);
    group.bench_function("zlib-rs", |b| {
        b.iter(|| {
            zlib.reset();
            zlib.compress(black_box(block), &mut out, flate2::FlushCompress::Finish)
                .expect("deflate");
            zlib.total_out()
        })
    });
    let level = libdeflater::CompressionLvl::new(6).expect("level 6");
    let mut libdeflate = libdeflater::Compressor::new(level);
    group.bench_function("libdeflate", |b| {
        b.iter(|| {
            libdeflate
                .deflate_compress(black_box(block), &mut out)
                .expect("deflate")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotting backend needs system fonts, which CI machines lack.
    config = Criterion::default().without_plots();
    targets = bench_rate, bench_mask_record, bench_process_block, bench_bgzf_deflate
}
criterion_main!(benches);
