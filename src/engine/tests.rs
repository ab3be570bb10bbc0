//! The ordered writer, fed blocks in a chosen order: later inputs first, blocks within an
//! input reversed. Whatever the order and the spill budget (all in memory, all in files,
//! or a mix), the outputs hold every block in (input, block) order.

use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;

use super::read::Done;
use super::work::BlockOutput;
use super::*;
use crate::io::{Compression, InputSource, OutputTarget};
use crate::sink::Target;

fn job(dir: &std::path::Path, fasta: Target, spill_memory: usize) -> Job {
    let rates = dir.join("r.csv");
    let fasta = OutputSpec {
        role: Role::Fasta,
        format: crate::sink::Format::Fasta,
        target: fasta,
        split: None,
    };
    Job {
        config: MaskConfig::resolve(crate::config::MaskOptions::default()).unwrap(),
        inputs: (0..3)
            .map(|i| Input::new(InputSource::Path(format!("in{i}.fa").into())))
            .collect(),
        outputs: vec![fasta, OutputSpec::file(Role::Rates, &rates).unwrap()],
        manifest: None,
        threads: 1,
        block_size: 1,
        spill_memory,
        progress: None,
        recorded_inputs: None,
    }
}

/// Blocks per input, and the order they are sent in.
const BLOCKS: u64 = 4;

fn done(file: usize, block: u64) -> Done {
    Done {
        file,
        block,
        last: block == BLOCKS - 1,
        reader: 0,
        result: Ok(BlockOutput {
            bufs: vec![
                format!(">f{file}b{block}\nAC\n").into_bytes(),
                format!("row{file}.{block}\n").into_bytes(),
            ],
            input_records: 1,
            ..BlockOutput::default()
        }),
    }
}

fn run_writer(job: &Job, order: &[(usize, u64)]) -> Vec<OutputReport> {
    let masker = BlockMasker::new(job, None);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap(),
    );
    let mut sinks = write::Sinks::open(job, &masker, &pool, false).unwrap();
    let (tx, rx) = mpsc::channel();
    for &(f, b) in order {
        tx.send(done(f, b)).unwrap();
    }
    drop(tx);
    let (token_tx, _token_rx) = mpsc::sync_channel(order.len());
    let writing = AtomicUsize::new(0);
    sinks
        .write_in_order(&rx, &[token_tx], &masker, &writing)
        .unwrap();
    assert_eq!(writing.load(Ordering::Relaxed), 3);
    let inputs = vec![
        InputReport {
            records: BLOCKS,
            digest: None,
            content: None,
        };
        3
    ];
    let closed = sinks.close(&inputs, 1, None).unwrap();
    for p in closed.pending {
        p.commit().unwrap();
    }
    closed.reports
}

fn orders() -> Vec<Vec<(usize, u64)>> {
    let forward: Vec<(usize, u64)> = (0..3)
        .flat_map(|f| (0..BLOCKS).map(move |b| (f, b)))
        .collect();
    let mut backward = forward.clone();
    backward.reverse();
    // Interleaved: a block of each input in turn, input 2 first.
    let mut interleaved = Vec::new();
    for b in 0..BLOCKS {
        for f in [2, 1, 0] {
            interleaved.push((f, b));
        }
    }
    vec![forward, backward, interleaved]
}

#[test]
fn later_inputs_are_put_aside_and_written_in_order() {
    let want_fasta: String = (0..3)
        .flat_map(|f| (0..BLOCKS).map(move |b| format!(">f{f}b{b}\nAC\n")))
        .collect();
    let want_rows: String = (0..3)
        .flat_map(|f| (0..BLOCKS).map(move |b| format!("row{f}.{b}\n")))
        .collect();
    for spill_memory in [0, 30, 1 << 20] {
        for order in orders() {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out.fa");
            let plan = Target::One(OutputTarget::Path(out.clone()), Compression::None);
            let job = job(dir.path(), plan, spill_memory);
            run_writer(&job, &order);
            let fasta = std::fs::read_to_string(&out).unwrap();
            assert_eq!(fasta, want_fasta, "spill {spill_memory}, order {order:?}");
            let table = std::fs::read_to_string(dir.path().join("r.csv")).unwrap();
            let rows = table.split_once('\n').unwrap().1;
            assert_eq!(rows, want_rows, "spill {spill_memory}, order {order:?}");
        }
    }
}

#[test]
fn per_file_outputs_take_their_blocks_in_any_order() {
    for order in orders() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<std::path::PathBuf> = (0..3)
            .map(|i| dir.path().join(format!("o{i}.fa")))
            .collect();
        let job = job(dir.path(), Target::PerInput(paths.clone()), 0);
        let reports = run_writer(&job, &order);
        for (f, p) in paths.iter().enumerate() {
            let want: String = (0..BLOCKS).map(|b| format!(">f{f}b{b}\nAC\n")).collect();
            assert_eq!(std::fs::read_to_string(p).unwrap(), want, "{order:?}");
        }
        let names: Vec<&str> = reports.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            names.len(),
            4,
            "three FASTA and the table, in order: {names:?}"
        );
        assert!(names[0].ends_with("o0.fa") && names[2].ends_with("o2.fa"));
    }
}

/// An error in a later input waits for its turn: the earlier inputs are written first,
/// and the error is the one reported.
#[test]
fn a_later_inputs_error_is_reported_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.fa");
    let plan = Target::One(OutputTarget::Path(out), Compression::None);
    let job = job(dir.path(), plan, 0);
    let masker = BlockMasker::new(&job, None);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap(),
    );
    let mut sinks = write::Sinks::open(&job, &masker, &pool, false).unwrap();
    let (tx, rx) = mpsc::channel();
    tx.send(Done {
        file: 2,
        block: 0,
        last: true,
        reader: 0,
        result: Err(anyhow::anyhow!("in2.fa: broken")),
    })
    .unwrap();
    for f in 0..2 {
        for b in 0..BLOCKS {
            tx.send(done(f, b)).unwrap();
        }
    }
    drop(tx);
    let (token_tx, _token_rx) = mpsc::sync_channel(64);
    let writing = AtomicUsize::new(0);
    let err = sinks
        .write_in_order(&rx, &[token_tx], &masker, &writing)
        .unwrap_err();
    assert_eq!(err.to_string(), "in2.fa: broken");
    assert_eq!(
        writing.load(Ordering::Relaxed),
        2,
        "inputs 0 and 1 were written"
    );
}
