//! One record at a time, outside the engine: the same masks online (a training loop, the
//! Python package) as offline (`protmask mask`).
//!
//! A record is checked by the record layer's rules (`records::check_id`,
//! `records::check_residues`), masked by `mask::Masker::mask_record`, and its fields are
//! made by the code that writes them to disk (`FastaFormat::write_residues` for the masked
//! sequence, `sink::dataset::token_ids` for tokens), so they equal the dataset's row. A
//! batch is record i = index i of one input: stratified timesteps spread over it in order.

use rayon::prelude::*;

use std::sync::Arc;

use crate::collate::{Padded, pad};
use crate::config::{MaskConfig, MaskOption, OptionError};
use crate::crop::{Crop, Cropping, Window};
use crate::mask::{Marks, Masker, Outcome, Timesteps, mark};
use crate::records::{Record, RecordError, RecordErrorKind, check_id, check_residues};
use crate::regions::Regions;
use crate::sink::{Emitted, FastaFormat, Vocab, token_ids};

/// Everything `protmask mask --dataset` writes about one emitted record, bar the file,
/// the ID and the description.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskedRecord {
    /// The output residues, unwrapped, with the mask token.
    pub masked: Vec<u8>,
    /// 0-based selected positions, ascending.
    pub positions: Vec<i32>,
    pub t: f64,
    pub rate: f64,
    /// k, the number of selected positions.
    pub count: usize,
    /// L, the number of eligible positions.
    pub length: usize,
    /// `input_ids` and `labels`, with a token vocabulary.
    pub tokens: Option<(Vec<i32>, Vec<i32>)>,
    /// The window masked, when the record was longer than `max_length` (the fields above
    /// are the window's, positions in its coordinates).
    pub window: Option<Window>,
}

/// What `RecordMasker` makes of a record: every field, or the token rows alone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fields {
    All,
    Tokens,
}

/// A resolved configuration, ready to mask records one by one or in batches.
#[derive(Clone)]
pub struct RecordMasker {
    masker: Masker,
    residues: FastaFormat,
    tokens: Option<Vocab>,
    /// `regions`, read (or built) once.
    regions: Option<Arc<Regions>>,
    cropping: Option<Cropping>,
}

impl RecordMasker {
    /// The masker of `config`; its regions file, if any, is read now (an error names the
    /// file and line).
    pub fn new(config: &MaskConfig) -> Result<RecordMasker, OptionError> {
        // A record's split is not part of its mask: the engine writes it beside the rows.
        if let Some(splits) = &config.split {
            return Err(OptionError::Invalid {
                option: MaskOption::Split,
                value: splits.to_string(),
                reason: "records masked one by one have no split; protmask mask --split \
                         writes each record's split (the split column)"
                    .into(),
            });
        }
        let mut unwrapped = config.clone();
        unwrapped.line_width = 0;
        let regions = match &config.regions {
            None => None,
            Some(r) => Some(Arc::new(r.load().map_err(|e| OptionError::Invalid {
                option: MaskOption::Regions,
                value: r.path().unwrap_or("(intervals)").to_string(),
                reason: crate::one_line(&e),
            })?)),
        };
        let masker = config.masker();
        // Every table a record may need, built now rather than on a worker thread
        // (`Masker::prepare` says why).
        masker.prepare();
        if let Some(vocab) = config.tokens {
            vocab.ids();
        }
        Ok(RecordMasker {
            masker,
            residues: FastaFormat::new(&unwrapped),
            tokens: config.tokens,
            regions,
            cropping: config.cropping(),
        })
    }

    /// Timesteps are stratified over a batch (one record alone has no order).
    pub fn stratified(&self) -> bool {
        self.masker.timesteps == Timesteps::Stratified
    }

    /// The token vocabulary of the rows (`--tokens`), if any.
    pub fn tokens(&self) -> Option<Vocab> {
        self.tokens
    }

    /// The same masker with `--max-length max_length` (and its `--crop`, else `random`):
    /// what `protmask mask --max-length` would mask with these options.
    pub fn cropped(&self, max_length: u32) -> RecordMasker {
        RecordMasker {
            cropping: Some(Cropping {
                max_length,
                crop: self.cropping.map_or(Crop::Random, |c| c.crop),
            }),
            ..self.clone()
        }
    }

    /// Mask one record as record `index` (0-based) of an input. `replicate` counts from 1.
    /// The error's record number is `index + 1`.
    pub fn mask(
        &self,
        id: &str,
        seq: &[u8],
        replicate: u32,
        index: u64,
        marks: &mut Marks,
    ) -> Result<MaskedRecord, RecordError> {
        self.mask_fields(id, seq, replicate, index, marks, Fields::All)
    }

    /// `mask`, making only `fields` (the masked string and the positions are left empty
    /// for a batch of tokens: `collate` pads the token rows alone).
    fn mask_fields(
        &self,
        id: &str,
        seq: &[u8],
        replicate: u32,
        index: u64,
        marks: &mut Marks,
        fields: Fields,
    ) -> Result<MaskedRecord, RecordError> {
        let fail = |kind| RecordError {
            number: index + 1,
            id: (!id.is_empty()).then(|| id.to_string()),
            kind,
        };
        if replicate == 0 {
            return Err(fail(RecordErrorKind::Call(
                "replicates count from 1, not 0".into(),
            )));
        }
        check_id(id).map_err(fail)?;
        check_residues(seq, b"").map_err(fail)?;
        let window = self
            .cropping
            .and_then(|c| c.window(self.masker.key(), replicate, id.as_bytes(), seq.len()));
        let within = match &self.regions {
            None => None,
            Some(r) => r
                .within(id, seq.len())
                .map_err(|e| fail(RecordErrorKind::Regions(e)))?,
        };
        // A window sees the regions shifted into its coordinates.
        let mut intervals = Vec::new();
        let (seq, within) = match (window, within) {
            (Some(w), Some(r)) => (
                &seq[w.start..w.end()],
                Some(r.window(w.start as u64, w.end() as u64, &mut intervals)),
            ),
            (Some(w), None) => (&seq[w.start..w.end()], None),
            (None, within) => (seq, within),
        };
        let outcome: Outcome =
            self.masker
                .mask_record(id.as_bytes(), seq, replicate, index, marks, within.as_ref());
        let record = Record {
            number: index + 1,
            id,
            header: id.as_bytes(),
            seq,
        };
        let emitted = Emitted {
            file: 0,
            record: &record,
            replicate,
            outcome: &outcome,
            marks,
            window,
            split: None,
            suffix: b"",
        };
        let (mut masked, mut positions) = (Vec::new(), Vec::new());
        if fields == Fields::All {
            masked.reserve(seq.len());
            self.residues.write_residues(&mut masked, &emitted);
            positions = selected_positions(&marks.by_position);
        }
        let tokens = self.tokens.map(|vocab| {
            let (mut ids, mut labels) = (
                Vec::with_capacity(seq.len() + 2),
                Vec::with_capacity(seq.len() + 2),
            );
            token_ids(vocab, seq, &marks.by_position, &mut ids, &mut labels);
            (ids, labels)
        });
        Ok(MaskedRecord {
            masked,
            positions,
            t: outcome.t,
            rate: outcome.rate,
            count: outcome.masked,
            length: outcome.length,
            tokens,
            window,
        })
    }

    /// Mask a batch in parallel on the current rayon pool, record i as the i-th record of
    /// one input. The error is that of the first bad record in batch order.
    pub fn mask_batch<I: AsRef<str> + Sync, S: AsRef<[u8]> + Sync>(
        &self,
        ids: &[I],
        seqs: &[S],
        replicate: u32,
    ) -> Result<Vec<MaskedRecord>, RecordError> {
        self.batch_fields(ids, seqs, replicate, Fields::All)
    }

    fn batch_fields<I: AsRef<str> + Sync, S: AsRef<[u8]> + Sync>(
        &self,
        ids: &[I],
        seqs: &[S],
        replicate: u32,
        fields: Fields,
    ) -> Result<Vec<MaskedRecord>, RecordError> {
        if ids.len() != seqs.len() {
            return Err(RecordError {
                number: ids.len().min(seqs.len()) as u64 + 1,
                id: None,
                kind: RecordErrorKind::Call(format!(
                    "{} IDs but {} sequences: give one ID per sequence",
                    ids.len(),
                    seqs.len()
                )),
            });
        }
        let results: Vec<Result<MaskedRecord, RecordError>> = ids
            .par_iter()
            .zip(seqs.par_iter())
            .enumerate()
            .map_init(Marks::default, |marks, (i, (id, seq))| {
                self.mask_fields(
                    id.as_ref(),
                    seq.as_ref(),
                    replicate,
                    i as u64,
                    marks,
                    fields,
                )
            })
            .collect();
        results.into_iter().collect()
    }
}

impl RecordMasker {
    /// Mask a batch as `mask_batch` does and pad its token rows into the tensors a model
    /// takes (`collate::pad`): row i is the dataset's `input_ids` and `labels` of record
    /// i, then padding. Needs a token vocabulary.
    pub fn collate<I: AsRef<str> + Sync, S: AsRef<[u8]> + Sync>(
        &self,
        ids: &[I],
        seqs: &[S],
        replicate: u32,
        pad_to_multiple_of: Option<usize>,
    ) -> Result<Padded, RecordError> {
        let Some(vocab) = self.tokens else {
            return Err(RecordError {
                number: 1,
                id: None,
                kind: RecordErrorKind::Call(
                    "a batch of token ids needs a vocabulary: tokens \"esm\" or \"evodiff\"".into(),
                ),
            });
        };
        let rows: Vec<(Vec<i32>, Vec<i32>)> = self
            .batch_fields(ids, seqs, replicate, Fields::Tokens)?
            .into_iter()
            .map(|r| r.tokens.expect("a vocabulary gives tokens"))
            .collect();
        Ok(pad(&rows, vocab, pad_to_multiple_of))
    }
}

/// The selected positions, ascending (what `Marks::selected` gives), without a branch per
/// position: which positions are selected is random, so a branch mispredicts constantly.
/// Counted first (vectorised), so the list is allocated once at its size.
fn selected_positions(marks: &[u8]) -> Vec<i32> {
    let k = marks
        .iter()
        .map(|&m| usize::from(m != mark::NONE))
        .sum::<usize>();
    let mut out = vec![0i32; k + 1];
    let mut n = 0;
    for (i, &m) in marks.iter().enumerate() {
        out[n] = i as i32;
        n += usize::from(m != mark::NONE);
    }
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MaskOptions;

    fn masker(preset: &str, tokens: bool) -> RecordMasker {
        let options = MaskOptions {
            preset: preset.parse().unwrap(),
            tokens: tokens.then_some(Vocab::Esm),
            ..MaskOptions::default()
        };
        RecordMasker::new(&MaskConfig::resolve(options).unwrap()).unwrap()
    }

    #[test]
    fn a_batch_equals_records_one_by_one() {
        let m = masker("esm2", true);
        let ids: Vec<String> = (0..300).map(|i| format!("seq{i}")).collect();
        let seqs: Vec<Vec<u8>> = (0..300)
            .map(|i| b"ACDEFGHIKLMNPQRSTVWYxuo".repeat(i % 7))
            .collect();
        let batch = m.mask_batch(&ids, &seqs, 2).unwrap();
        let mut marks = Marks::default();
        for (i, got) in batch.iter().enumerate() {
            let one = m.mask(&ids[i], &seqs[i], 2, i as u64, &mut marks).unwrap();
            assert_eq!(got, &one);
            let selected: Vec<i32> = marks.selected().map(|p| p as i32).collect();
            assert_eq!(got.positions, selected);
            let (ids, labels) = got.tokens.as_ref().unwrap();
            let tokens = ids.iter().filter(|&&t| t == 32).count();
            assert_eq!(got.masked.len(), seqs[i].len() + 5 * tokens);
            assert_eq!(labels.iter().filter(|&&l| l != -100).count(), got.count);
        }
    }

    #[test]
    fn collate_pads_the_batchs_token_rows() {
        let m = masker("esm2", true);
        let ids: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
        let seqs: Vec<Vec<u8>> = (0..50).map(|i| b"MKVLAACDEFx".repeat(i % 5)).collect();
        let batch = m.mask_batch(&ids, &seqs, 3).unwrap();
        let padded = m.collate(&ids, &seqs, 3, Some(8)).unwrap();
        assert_eq!((padded.rows, padded.width), (50, 48));
        for (i, r) in batch.iter().enumerate() {
            let (ids, labels) = r.tokens.as_ref().unwrap();
            let row = &padded.input_ids[i * 48..(i + 1) * 48];
            let wide = |v: &[i32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>();
            assert_eq!(row[..ids.len()], wide(ids)[..]);
            assert!(row[ids.len()..].iter().all(|&x| x == 1));
            let row = &padded.labels[i * 48..(i + 1) * 48];
            assert_eq!(row[..labels.len()], wide(labels)[..]);
            assert!(row[labels.len()..].iter().all(|&x| x == -100));
        }
        assert!(masker("esm2", false).collate(&ids, &seqs, 1, None).is_err());
    }

    #[test]
    fn bad_records_are_named_as_the_record_layer_names_them() {
        let m = masker("esm3", false);
        let mut marks = Marks::default();
        let e = m.mask("a", b"AC1D", 1, 0, &mut marks).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record 1 (a): invalid residue '1' at sequence position 2 (0-based)"
        );
        let e = m.mask_batch(&["x", "y z"], &["A", "C"], 1).unwrap_err();
        assert!(e.to_string().starts_with("record 2 (y z): the ID"), "{e}");
        assert!(m.mask("a", b"A", 0, 0, &mut marks).is_err());
    }

    #[test]
    fn regions_restrict_the_eligible_positions() {
        let mut o = MaskOptions::default();
        let mut map = std::collections::BTreeMap::new();
        map.insert("a".to_string(), vec![(2, 5)]);
        o.set("regions", crate::config::OptionValue::Intervals(map))
            .unwrap();
        o.schedule = Some(crate::schedule::Schedule::parse("1").unwrap());
        let m = RecordMasker::new(&MaskConfig::resolve(o).unwrap()).unwrap();
        let mut marks = Marks::default();
        let got = m.mask("a", b"ACDEFGHI", 1, 0, &mut marks).unwrap();
        assert_eq!((got.positions, got.length), (vec![2, 3, 4], 3));
        assert_eq!(m.mask("b", b"ACD", 1, 0, &mut marks).unwrap().count, 0);
        let e = m.mask("a", b"ACD", 1, 0, &mut marks).unwrap_err();
        assert!(e.to_string().contains("past the end of this record"), "{e}");
    }
}
