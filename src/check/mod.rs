//! `verify`: checking that a masked set is what it should be, as a library (the command
//! line and Python both call it). `fasta` streams ORIGINAL, MASKED and the rates table in
//! step; `dataset` reads a dataset's rows against ORIGINAL. Memory does not grow with the
//! files, and the first disagreement is the error, naming the file and where in it.

mod dataset;
mod error;
mod fasta;

pub use dataset::verify_dataset;
pub use error::{Field, Location, Number, Place, TokenColumn, Unexpected, Unit, VerifyError};
pub use fasta::{verify, verify_within};

use crate::mask::Corruption;

/// What the masking was allowed to do.
#[derive(Clone, Debug)]
pub struct Expect {
    pub token: Vec<u8>,
    pub corruption: Corruption,
    /// Eligible residues, if restricted (`--maskable`).
    pub maskable: Option<Vec<u8>>,
    /// Replicates per record, when known (a manifest records them); else found from the
    /// first record's run of `<id>_r1`, `<id>_r2`, ...
    pub replicates: Option<u32>,
}

/// What a successful check saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verified {
    pub records: u64,
    pub replicates: u32,
    /// Positions that show as masked or replaced.
    pub changed: u64,
    /// Of `changed`, those that show a residue-letter token where the original has the
    /// same residue, with no listed positions to tell whether they were selected.
    pub uncertain: u64,
    pub rows: u64,
}
