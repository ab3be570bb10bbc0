//! protmask: mask protein FASTA by the noise schedules of masked protein language models.
//!
//! The data flows one way: open input (`io`) -> cut into blocks and parse (`engine`,
//! `fasta`) -> per-record RNG (`rng`) -> draw t, schedule gives r (`schedule`) -> choose
//! and corrupt positions (`mask`) -> format -> write, with a rates row beside it
//! (`report`). The library is usable without the CLI; `commands` holds the subcommands.

pub mod cleanup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod fasta;
pub mod io;
pub mod manifest;
pub mod mask;
pub mod plot;
pub mod progress;
pub mod report;
pub mod rng;
pub mod schedule;
pub mod verify;

/// True when the error comes from writing to a closed pipe (`protmask mask x | head`),
/// which is a normal way for a reader to stop, not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, as every protmask error is reported.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}
