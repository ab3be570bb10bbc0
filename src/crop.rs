//! `--max-length N` and `--crop`: a record longer than N residues is cut to a window of N
//! before it is masked, and the window is what every output holds.
//!
//! The window's start is fixed (`start`: 0, `center`: (L - N) / 2, floor) or drawn
//! (`random`: uniform on 0..=L - N) from the record's *crop stream* (`SeedKey::crop_offset`),
//! never from its mask stream: a record of at most N residues is masked exactly as without
//! `--max-length`, and a cropped one masks its window from its usual stream, as if the
//! window were the sequence. Each replicate draws its own window. Regions stay in the
//! original's coordinates; a window sees them through `regions::Within::window`.

use serde::{Deserialize, Serialize};

use crate::choice::choices;
use crate::rng::SeedKey;

choices! {
    /// Where the window of a record longer than `--max-length` starts (`--crop`).
    pub enum Crop {
        /// Uniform on 0..=L-N, from the record's own crop stream (each replicate its own).
        Random = "random",
        /// At the first residue.
        Start = "start",
        /// At (L-N)/2, rounded down.
        Center = "center",
    }
}

/// `--max-length` and `--crop`, resolved; a manifest records them as `max_length` and
/// `crop` (only when given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cropping {
    pub max_length: u32,
    pub crop: Crop,
}

/// The window a cropped record kept: residues `start..start + N` of the original.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// 0-based, in the original.
    pub start: usize,
    /// The window's length (N).
    pub len: usize,
    /// The original record's length.
    pub original_length: usize,
}

impl Window {
    /// Exclusive end, in the original.
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

impl Cropping {
    /// The window of replicate `replicate` of a record of `len` residues, `None` when it
    /// is not longer than `max_length` (a length compare: nothing else is done then).
    #[inline]
    pub(crate) fn window(
        &self,
        key: &SeedKey,
        replicate: u32,
        id: &[u8],
        len: usize,
    ) -> Option<Window> {
        let n = self.max_length as usize;
        if len <= n {
            return None;
        }
        Some(Window {
            start: self.offset(key, replicate, id, len),
            len: n,
            original_length: len,
        })
    }

    #[cold]
    fn offset(&self, key: &SeedKey, replicate: u32, id: &[u8], len: usize) -> usize {
        let n = self.max_length as usize;
        match self.crop {
            Crop::Start => 0,
            Crop::Center => (len - n) / 2,
            Crop::Random => key.crop_offset(replicate, id, len, n),
        }
    }

    /// The offset a fixed crop gives a record of `len` residues (`None` for `random`,
    /// or when the record is not cropped): what `verify` holds a window to.
    pub fn fixed_start(&self, len: usize) -> Option<usize> {
        let n = self.max_length as usize;
        match self.crop {
            _ if len <= n => None,
            Crop::Start => Some(0),
            Crop::Center => Some((len - n) / 2),
            Crop::Random => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows_and_no_window_at_or_below_n() {
        let key = SeedKey::new(1);
        let c = |crop| Cropping {
            max_length: 4,
            crop,
        };
        for crop in Crop::ALL.iter().copied() {
            assert_eq!(c(crop).window(&key, 1, b"a", 4), None);
            assert_eq!(c(crop).window(&key, 1, b"a", 0), None);
        }
        assert_eq!(c(Crop::Start).window(&key, 1, b"a", 9).unwrap().start, 0);
        assert_eq!(c(Crop::Center).window(&key, 1, b"a", 9).unwrap().start, 2);
        assert_eq!(c(Crop::Center).window(&key, 1, b"a", 10).unwrap().start, 3);
        for len in 5..50 {
            let w = c(Crop::Random).window(&key, 1, b"a", len).unwrap();
            assert!(w.end() <= len && w.len == 4 && w.original_length == len);
        }
    }
}
