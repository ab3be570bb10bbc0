//! A batch of token rows made into the tensors a masked language model takes: `input_ids`,
//! `attention_mask` and `labels`, int64, right-padded to one width (`<pad>` and -100),
//! row-major, as Hugging Face's collators make them. The rows are `--tokens`' rows
//! (`sink::token_ids`: start … stop, labels -100 but at selected positions), so a padded
//! row is a dataset row with padding after it; nothing about the mask is decided here.
//! Rows are written in parallel on the current rayon pool (Python calls it without the
//! interpreter lock).

use rayon::prelude::*;

use crate::sink::{IGNORE, Vocab, esm, evodiff};

/// Padded rows: `rows` × `width`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Padded {
    pub rows: usize,
    pub width: usize,
    pub input_ids: Vec<i64>,
    /// 1 where `input_ids` holds a token of the row (start and stop included), 0 on padding.
    pub attention_mask: Vec<i64>,
    /// The row's labels, -100 on padding.
    pub labels: Vec<i64>,
}

/// The padding id of a vocabulary: ESM's `<pad>` (1), EvoDiff's `!` (30).
pub fn pad_id(vocab: Vocab) -> i32 {
    match vocab {
        Vocab::Esm => esm::PAD,
        Vocab::Evodiff => evodiff::PAD,
    }
}

/// Pad `rows` (each `(input_ids, labels)` of one length) to the longest, rounded up to a
/// multiple of `pad_to_multiple_of` (tensor cores like multiples of 8).
pub fn pad<R: AsRef<[i32]> + Sync>(
    rows: &[(R, R)],
    vocab: Vocab,
    pad_to_multiple_of: Option<usize>,
) -> Padded {
    let longest = rows.iter().map(|(ids, _)| ids.as_ref().len()).max();
    let mut width = longest.unwrap_or(0);
    if let Some(m) = pad_to_multiple_of.filter(|&m| m > 1) {
        width = width.div_ceil(m) * m;
    }
    let cells = rows.len() * width;
    let pad = i64::from(pad_id(vocab));
    // Zeroed memory comes from the allocator as is (untouched pages), so each cell is
    // written once, below: a row's tokens, then its padding.
    let mut padded = Padded {
        rows: rows.len(),
        width,
        input_ids: vec![0; cells],
        attention_mask: vec![0; cells],
        labels: vec![0; cells],
    };
    if width == 0 {
        return padded;
    }
    padded
        .input_ids
        .par_chunks_mut(width)
        .zip(padded.attention_mask.par_chunks_mut(width))
        .zip(padded.labels.par_chunks_mut(width))
        .zip(rows.par_iter())
        .for_each(|(((ids_out, mask_out), labels_out), (ids, labels))| {
            let (ids, labels) = (ids.as_ref(), labels.as_ref());
            debug_assert_eq!(ids.len(), labels.len());
            let n = ids.len();
            for (o, &i) in ids_out.iter_mut().zip(ids) {
                *o = i64::from(i);
            }
            ids_out[n..].fill(pad);
            for (o, &l) in labels_out.iter_mut().zip(labels) {
                *o = i64::from(l);
            }
            labels_out[n..].fill(i64::from(IGNORE));
            mask_out[..n].fill(1);
        });
    padded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_to_the_longest_and_a_multiple() {
        let rows = vec![
            (vec![0, 5, 32, 2], vec![-100, -100, 5, -100]),
            (vec![0, 2], vec![-100, -100]),
        ];
        let p = pad(&rows, Vocab::Esm, None);
        assert_eq!((p.rows, p.width), (2, 4));
        assert_eq!(p.input_ids, [0, 5, 32, 2, 0, 2, 1, 1]);
        assert_eq!(p.attention_mask, [1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(p.labels, [-100, -100, 5, -100, -100, -100, -100, -100]);
        let p = pad(&rows, Vocab::Evodiff, Some(3));
        assert_eq!(p.width, 6);
        assert_eq!(&p.input_ids[6..], [0, 2, 30, 30, 30, 30]);
        let none: Vec<(Vec<i32>, Vec<i32>)> = Vec::new();
        assert_eq!(pad(&none, Vocab::Esm, Some(8)).input_ids, Vec::<i64>::new());
    }
}
