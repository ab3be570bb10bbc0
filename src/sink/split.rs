//! Outputs per split (`--split`): one output expanded into one per split, each holding
//! only its split's records.
//!
//! The expansion is made here, once (`OutputSpec::per_split`): `-O DIR` with `--split`
//! writes the FASTA of each split to `DIR/<split>.fa` this way, and any other target per
//! split (a folder of shards) is a `Target` away. Each spec carries its split's index, and
//! the engine wraps its format's encoder in `OnlySplit`, which passes on only the records
//! of that split (each emitted record carries its split, computed once per record). So
//! the engine's writer, the record counts, the manifest and regeneration treat a split's
//! output as any other output: no code of their own.

use std::io;
use std::sync::Arc;

use rayon::ThreadPool;

use super::{Emitted, Encoder, Format, NextShard, OutputSpec, Role, Scratch, Sink, Target};
use crate::io::{Compression, Output};

impl OutputSpec {
    /// One output of `role` in `format` per split, in the splits' order (`names`): split
    /// `i` is written to `target(i, &names[i])` and holds only that split's records.
    pub fn per_split(
        role: Role,
        format: Format,
        names: &[String],
        target: impl Fn(usize, &str) -> Target,
    ) -> Vec<OutputSpec> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| OutputSpec {
                role,
                format,
                target: target(i, name),
                split: Some(i),
            })
            .collect()
    }
}

/// The file name of a split's FASTA under `-O`: `<split>.fa`, and the suffix of
/// `--compress` (`train.fa.gz`).
pub fn split_fasta_name(split: &str, compression: Compression) -> String {
    match compression {
        Compression::None => format!("{split}.fa"),
        c => format!("{split}.fa.{}", c.name()),
    }
}

/// An encoder that passes on only the records of one split.
pub(crate) struct OnlySplit {
    pub split: usize,
    pub inner: Box<dyn Encoder>,
}

impl Encoder for OnlySplit {
    fn preamble(&self) -> Vec<u8> {
        self.inner.preamble()
    }

    fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        if e.split == Some(self.split) {
            self.inner.write(out, e, scratch);
        }
    }

    fn end_block(&self, out: &mut Vec<u8>, scratch: &mut Scratch) {
        self.inner.end_block(out, scratch);
    }

    fn open(&self, out: Output, pool: &Arc<ThreadPool>) -> io::Result<Box<dyn Sink>> {
        self.inner.open(out, pool)
    }

    fn open_shards(
        &self,
        out: Output,
        rows: u64,
        next: NextShard,
        pool: &Arc<ThreadPool>,
    ) -> io::Result<Box<dyn Sink>> {
        self.inner.open_shards(out, rows, next, pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spec_per_split_in_order() {
        let names = ["train".to_string(), "test".to_string()];
        let specs = OutputSpec::per_split(Role::Fasta, Format::Fasta, &names, |_, n| {
            Target::PerInput(vec![n.into()])
        });
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].split, Some(1));
        assert_eq!(specs[1].target, Target::PerInput(vec!["test".into()]));
        assert_eq!(split_fasta_name("test", Compression::None), "test.fa");
        assert_eq!(split_fasta_name("test", Compression::Zstd), "test.fa.zst");
        assert_eq!(split_fasta_name("test", Compression::Gzip), "test.fa.gz");
    }
}
