//! Finding IDs that occur more than once in a run: their records get identical masks (a
//! mask depends on the ID by design), which a user should hear about.
//!
//! Workers hash every record's ID (`IdBatch`); the writer merges the batches (`Duplicates`)
//! in whatever order the blocks arrive. Memory is bounded: the set keeps the 64-bit hashes
//! at or below a limit, which halves whenever `CAP` hashes are kept, so a run with more
//! distinct IDs than that is checked on a sample chosen by hash (1 in 2, 4, ...). The
//! sample, the count and the first repeated ID therefore depend only on the multiset of
//! (ID, input, record number), not on arrival order, threads or block size.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes kept at most (the set then takes about 6 MB; a repeated ID also keeps its name,
/// at most `NAME_MAX` bytes).
pub const CAP: usize = 1 << 17;

/// Longest name kept for a repeated ID (longer ones are cut, at a character boundary).
const NAME_MAX: usize = 200;

/// The 64-bit hash of an ID: words of 8 bytes, each mixed by a bijection (so IDs of the
/// same length that differ in one word never collide), and a final avalanche so that the
/// high bits, which choose the sample, are uniform.
#[inline]
pub fn id_hash(id: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = id.len() as u64;
    let mut words = id.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(31);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    // SplitMix64's finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A record's place in the run, ordered as the output is: (input, record number) packed
/// into one word (input below 2^24, number below 2^40; larger ones saturate, which only
/// blurs which repeated ID is named first).
fn place(file: usize, number: u64) -> u64 {
    ((file as u64).min((1 << 24) - 1) << 40) | number.min((1 << 40) - 1)
}

/// The IDs of one block's records, hashed on the worker.
#[derive(Debug, Default)]
pub struct IdBatch {
    /// (hash, record number, end of the name in `names`), for IDs whose hash was at or
    /// below the limit when the block was masked (the others could not be kept anyway).
    entries: Vec<(u64, u64, u32)>,
    names: Vec<u8>,
}

impl IdBatch {
    /// Room for `records` IDs of a typical length, so a block does not grow these twice
    /// a dozen times.
    pub fn reserve(&mut self, records: usize) {
        self.entries.reserve(records);
        self.names.reserve(records * 24);
    }

    #[inline]
    pub fn push(&mut self, id: &str, number: u64, limit: u64) {
        let hash = id_hash(id.as_bytes());
        if hash <= limit {
            self.names.extend_from_slice(id.as_bytes());
            let end = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
            self.entries.push((hash, number, end));
        }
    }
}

/// A kept hash: where its ID first occurs, and, once it is seen again, the index of its
/// name in `Duplicates::names` (`NOT_REPEATED` until then). Small, so that the set's
/// probes touch little memory.
#[derive(Debug, Clone, Copy)]
struct Seen {
    first: u64,
    repeated: u32,
}

const NOT_REPEATED: u32 = u32::MAX;

/// The hash is already a hash: the set uses it as it is.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The IDs of a run so far (on the writer thread).
#[derive(Debug)]
pub struct Duplicates {
    seen: HashMap<u64, Seen, BuildHasherDefault<Identity>>,
    /// The names of repeated IDs (one each).
    names: Vec<Box<str>>,
    /// Hashes above this are not kept: `u64::MAX >> halvings`.
    limit: u64,
    halvings: u32,
    /// Records whose ID was offered (every record of the run).
    records: u64,
}

impl Default for Duplicates {
    fn default() -> Self {
        Duplicates {
            seen: HashMap::default(),
            names: Vec::new(),
            limit: u64::MAX,
            halvings: 0,
            records: 0,
        }
    }
}

/// What a run found: repeated IDs, if any.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DuplicateReport {
    /// Distinct IDs seen more than once (within the sample).
    pub repeated: u64,
    /// The repeated ID that occurs first in the run: its name, input (index) and 1-based
    /// record number.
    pub first: Option<(String, usize, u64)>,
    /// The IDs were checked on a sample of 1 in `sample` (1: all of them).
    pub sample: u64,
    /// Records in the run (replicates not counted).
    pub records: u64,
}

impl Duplicates {
    /// The current limit, for workers to skip hashes that cannot be kept.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Take in one block's IDs (input `file`; `records` = the block's records).
    pub fn add(&mut self, batch: &IdBatch, file: usize, records: u64) {
        self.records += records;
        let mut start = 0usize;
        for &(hash, number, end) in &batch.entries {
            let end = end as usize;
            let name = &batch.names[start..end];
            start = end;
            if hash > self.limit {
                continue;
            }
            let here = place(file, number);
            match self.seen.entry(hash) {
                Entry::Occupied(mut o) => {
                    let seen = o.get_mut();
                    seen.first = seen.first.min(here);
                    if seen.repeated == NOT_REPEATED {
                        seen.repeated = u32::try_from(self.names.len()).unwrap_or(NOT_REPEATED);
                        self.names.push(cut_name(name));
                    }
                }
                Entry::Vacant(v) => {
                    v.insert(Seen {
                        first: here,
                        repeated: NOT_REPEATED,
                    });
                    while self.seen.len() >= CAP {
                        self.halvings += 1;
                        self.limit >>= 1;
                        let limit = self.limit;
                        self.seen.retain(|&h, _| h <= limit);
                    }
                }
            }
        }
    }

    pub fn report(&self) -> DuplicateReport {
        let repeated = self.seen.values().filter(|s| s.repeated != NOT_REPEATED);
        let first = repeated.clone().min_by_key(|s| s.first).and_then(|s| {
            let name = self.names.get(s.repeated as usize)?.to_string();
            Some((name, (s.first >> 40) as usize, s.first & ((1 << 40) - 1)))
        });
        DuplicateReport {
            repeated: repeated.count() as u64,
            first,
            sample: 1u64 << self.halvings.min(63),
            records: self.records,
        }
    }
}

fn cut_name(name: &[u8]) -> Box<str> {
    let name = String::from_utf8_lossy(name);
    let mut end = name.len().min(NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ids: &[(&str, u64)]) -> IdBatch {
        let mut b = IdBatch::default();
        for (id, n) in ids {
            b.push(id, *n, u64::MAX);
        }
        b
    }

    #[test]
    fn the_first_repeated_id_whatever_the_arrival_order() {
        let a = batch(&[("x", 1), ("y", 2), ("z", 3)]);
        let b = batch(&[("z", 1), ("y", 2), ("w", 3)]);
        for order in [[(&a, 0), (&b, 1)], [(&b, 1), (&a, 0)]] {
            let mut d = Duplicates::default();
            for (batch, file) in order {
                d.add(batch, file, 3);
            }
            let r = d.report();
            assert_eq!(r.repeated, 2);
            assert_eq!(r.first, Some(("y".into(), 0, 2)));
            assert_eq!((r.sample, r.records), (1, 6));
        }
    }

    #[test]
    fn beyond_the_cap_a_sample_the_same_in_any_order() {
        let ids: Vec<String> = (0..3 * CAP).map(|i| format!("id{i}")).collect();
        let make = |range: std::ops::Range<usize>| {
            let mut b = IdBatch::default();
            for i in range {
                b.push(&ids[i % ids.len()], i as u64 + 1, u64::MAX);
            }
            b
        };
        // Every ID twice: the second half repeats the first.
        let (first, second) = (make(0..3 * CAP), make(3 * CAP..6 * CAP));
        let mut forward = Duplicates::default();
        forward.add(&first, 0, 3 * CAP as u64);
        forward.add(&second, 0, 3 * CAP as u64);
        let mut backward = Duplicates::default();
        backward.add(&second, 0, 3 * CAP as u64);
        backward.add(&first, 0, 3 * CAP as u64);
        let (f, b) = (forward.report(), backward.report());
        assert_eq!(f, b);
        assert!(f.sample >= 4 && f.repeated > 0, "{f:?}");
        assert!(forward.seen.len() < CAP);
    }

    #[test]
    fn distinct_ids_of_one_length_do_not_collide() {
        let mut hashes: Vec<u64> = (0..200_000u64)
            .map(|i| id_hash(format!("UniRef50_{i:012}").as_bytes()))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 200_000);
    }
}
