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
    let n = id.len();
    let mut h = n as u64;
    // The first two words without a loop: IDs are a few words long, and a loop over
    // them (unrolled) costs more in set-up than in work.
    if n >= 8 {
        h = mix(h, id, 0);
        if n >= 16 {
            h = mix(h, id, 8);
            let mut i = 16;
            while i + 8 <= n {
                h = mix(h, id, i);
                i += 8;
            }
        }
    }
    h = (h ^ tail(id, n & 7)).wrapping_mul(K);
    // SplitMix64's finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The hash so far mixed with the 8 bytes of `id` at `i`.
#[inline]
fn mix(h: u64, id: &[u8], i: usize) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let w = u64::from_le_bytes(id[i..i + 8].try_into().expect("8 bytes"));
    (h ^ w).wrapping_mul(K).rotate_left(31)
}

/// The last `r` (< 8) bytes of `id` as a little-endian word (zero above them), read with
/// overlapping loads rather than copied byte by byte.
#[inline]
fn tail(id: &[u8], r: usize) -> u64 {
    let n = id.len();
    if r == 0 {
        0
    } else if n >= 8 {
        let last = u64::from_le_bytes(id[n - 8..].try_into().expect("8 bytes"));
        last >> (64 - 8 * r)
    } else if n >= 4 {
        // n = r here: two 4-byte loads that overlap cover it.
        let lo = u32::from_le_bytes(id[..4].try_into().expect("4 bytes"));
        let hi = u32::from_le_bytes(id[n - 4..].try_into().expect("4 bytes"));
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else {
        // n = r in 1..=3: bytes 0, n/2 and n-1 cover it.
        u64::from(id[0])
            | (u64::from(id[n / 2]) << (8 * (n / 2)))
            | (u64::from(id[n - 1]) << (8 * (n - 1)))
    }
}

/// A record's place in the run, ordered as the output is: (input, record number) packed
/// into one word (input below 2^24, number below 2^40; larger ones saturate, which only
/// blurs which repeated ID is named first).
fn place(file: usize, number: u64) -> u64 {
    ((file as u64).min((1 << 24) - 1) << 40) | number.min((1 << 40) - 1)
}

/// Bytes of an ID kept in an entry's span at most: enough for `cut_name` to cut the same
/// name from it as from the whole ID (it cuts at `NAME_MAX` bytes, at a char boundary).
const SPAN_MAX: usize = 255;

/// One record's ID: its hash, its record number, and where its name is in the batch's
/// text (`offset << 8 | length`, the length at most `SPAN_MAX`).
#[derive(Clone, Copy, Debug)]
struct IdEntry {
    hash: u64,
    number: u64,
    span: u64,
}

impl IdEntry {
    fn name<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        let (start, len) = ((self.span >> 8) as usize, (self.span & 0xff) as usize);
        text.get(start..start.saturating_add(len)).unwrap_or(b"?")
    }
}

/// The IDs of one block's records, hashed on the worker while the record is in cache.
/// Names are not copied: an entry points into the input block, which the batch keeps
/// (`keep`) until the writer has tallied it and hands it back to the pool (`take_pooled`).
#[derive(Debug, Default)]
pub struct IdBatch {
    /// For IDs whose hash was at or below the limit when the block was masked (the
    /// others could not be kept anyway).
    entries: Vec<IdEntry>,
    /// What the spans point into: the input block, or copies of the names.
    text: Vec<u8>,
    /// `text` is a pooled input block.
    pooled: bool,
    /// While the worker pushes: the address the spans count from, and the limit.
    base: usize,
    limit: u64,
}

impl IdBatch {
    /// Start on a block: IDs pushed next lie in `data`; `records` of them at most; hashes
    /// above `limit` are dropped.
    pub fn begin(&mut self, data: &[u8], records: usize, limit: u64) {
        self.entries.clear();
        self.entries.reserve(records);
        self.base = data.as_ptr() as usize;
        self.limit = limit;
    }

    /// A record's ID, a slice of the `data` given to `begin`. It is hashed later, with
    /// the block's other IDs (`hash_all`).
    #[inline]
    pub fn push(&mut self, id: &[u8], number: u64) {
        let start = (id.as_ptr() as usize).wrapping_sub(self.base) as u64;
        let span = (start << 8) | id.len().min(SPAN_MAX) as u64;
        // The ID's whole length, until its hash takes its place.
        let hash = id.len() as u64;
        self.entries.push(IdEntry { hash, number, span });
    }

    /// Hash the IDs pushed since `begin` (`data`: the bytes given to it) and drop those
    /// above the limit. In a loop of their own the IDs' hashes overlap: each is a chain of
    /// dependent multiplications, which within the record loop the next record waited on.
    fn hash_all(&mut self, data: &[u8]) {
        for e in &mut self.entries {
            let start = (e.span >> 8) as usize;
            e.hash = id_hash(&data[start..start + e.hash as usize]);
        }
        let limit = self.limit;
        self.entries.retain(|e| e.hash <= limit);
    }

    /// The IDs were pushed from `block`, which the batch holds until the writer has
    /// tallied it; `pooled`: it then goes back to the input pool.
    pub fn keep(&mut self, block: Vec<u8>, pooled: bool) {
        self.hash_all(&block);
        if block.len() >> 56 != 0 {
            // Offsets this large do not fit a span (a block of 64 PiB): copy the names.
            self.copy_names(&block);
            return;
        }
        self.text = block;
        self.pooled = pooled;
    }

    /// The IDs were pushed from `data`, which the batch cannot keep: copy their names.
    pub fn own_names(&mut self, data: &[u8]) {
        self.hash_all(data);
        self.copy_names(data);
    }

    fn copy_names(&mut self, data: &[u8]) {
        let mut text = Vec::new();
        for e in &mut self.entries {
            let name = e.name(data);
            let span = ((text.len() as u64) << 8) | name.len() as u64;
            text.extend_from_slice(name);
            e.span = span;
        }
        self.text = text;
        self.pooled = false;
    }

    /// The input block, once tallied, for its pool.
    pub fn take_pooled(&mut self) -> Option<Vec<u8>> {
        if !self.pooled {
            return None;
        }
        self.pooled = false;
        Some(std::mem::take(&mut self.text))
    }
}

/// The kept hashes, in two arrays. `entries` holds each kept hash and the place where it
/// first occurs, in the order they came (16 bytes each). `slots` is the index: open
/// addressing with linear probing on the hash's low bits (the sample is chosen by its high
/// bits), at most half full, 4 bytes a slot: the entry's number + 1 (0: empty) in the low
/// 18 bits and 14 more bits of the hash above them, so a probe reads an entry only when
/// those match. At `CAP` hashes the index takes 1 MiB and fits a core's cache, where 16-byte
/// slots took 4 MiB that did not.
#[derive(Debug)]
struct Table {
    entries: Vec<[u64; 2]>,
    slots: Vec<u32>,
}

/// The index's size to begin with (it doubles as the entries grow, up to 2 · `CAP`).
const FIRST_SLOTS: usize = 1 << 12;
const INDEX_BITS: u32 = 18;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// The bits of a hash kept in its slot (neither the slot's position, nor the high bits,
/// which are 0 once the check samples).
#[inline]
fn tag(hash: u64) -> u32 {
    ((hash >> 32) as u32) & !INDEX_MASK
}

impl Table {
    fn with_slots(n: usize) -> Table {
        Table {
            entries: Vec::new(),
            slots: vec![0; n],
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Load the slot where a probe for `hash` starts (ahead of `offer`, so that several
    /// cache misses are waited for at once); returns what it read.
    #[inline]
    fn touch(&self, hash: u64) -> u64 {
        u64::from(self.slots[hash as usize & (self.slots.len() - 1)])
    }

    /// Note that `hash` occurs at `here`: true if it was there already.
    #[inline]
    fn offer(&mut self, hash: u64, here: u64) -> bool {
        let mask = self.slots.len() - 1;
        let tag = tag(hash);
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.entries.push([hash, here]);
                self.slots[i] = tag | self.entries.len() as u32;
                if self.entries.len() * 2 > self.slots.len() {
                    self.reindex(self.slots.len() * 2);
                }
                return false;
            }
            if s & !INDEX_MASK == tag {
                let e = &mut self.entries[(s & INDEX_MASK) as usize - 1];
                if e[0] == hash {
                    e[1] = e[1].min(here);
                    return true;
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn first(&self, hash: u64) -> Option<u64> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            let e = self.entries[(s & INDEX_MASK) as usize - 1];
            if e[0] == hash {
                return Some(e[1]);
            }
            i = (i + 1) & mask;
        }
    }

    /// Keep the hashes at or below `limit`.
    fn keep_below(&mut self, limit: u64) {
        self.entries.retain(|e| e[0] <= limit);
        self.reindex(self.slots.len());
    }

    /// The index anew, with `n` slots.
    fn reindex(&mut self, n: usize) {
        self.slots.clear();
        self.slots.resize(n, 0);
        let mask = n - 1;
        for (k, e) in self.entries.iter().enumerate() {
            let mut i = e[0] as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = tag(e[0]) | (k as u32 + 1);
        }
    }
}

/// The hashes of repeated IDs are hashes already: a multiplication spreads them over the
/// bits a `HashMap` looks at.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
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
    seen: Table,
    /// The hashes seen more than once, with the name of their ID.
    repeated: HashMap<u64, Box<str>, BuildHasherDefault<Spread>>,
    /// Hashes above this are not kept: `u64::MAX >> halvings`.
    limit: u64,
    halvings: u32,
    /// Records whose ID was offered (every record of the run).
    records: u64,
}

impl Default for Duplicates {
    fn default() -> Self {
        Duplicates {
            seen: Table::with_slots(FIRST_SLOTS),
            repeated: HashMap::default(),
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

/// Entries whose slots are loaded together before they are offered.
const AHEAD: usize = 16;

impl Duplicates {
    /// The current limit, for workers to skip hashes that cannot be kept.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Take in one block's IDs (input `file`; `records` = the block's records).
    pub fn add(&mut self, batch: &IdBatch, file: usize, records: u64) {
        self.records += records;
        let input = place(file, 0);
        for chunk in batch.entries.chunks(AHEAD) {
            // The table is larger than a core's cache: start every load of the chunk
            // before the first probe waits for one.
            let touched = chunk.iter().fold(0, |t, e| t ^ self.seen.touch(e.hash));
            std::hint::black_box(touched);
            for e in chunk {
                if e.hash > self.limit {
                    continue;
                }
                let here = input | e.number.min((1 << 40) - 1);
                if self.seen.offer(e.hash, here) {
                    self.repeated
                        .entry(e.hash)
                        .or_insert_with(|| cut_name(e.name(&batch.text)));
                } else if self.seen.len() >= CAP {
                    self.halve();
                }
            }
        }
    }

    /// Keep hashes below half the limit (until fewer than `CAP` are kept).
    #[cold]
    fn halve(&mut self) {
        while self.seen.len() >= CAP {
            self.halvings += 1;
            self.limit >>= 1;
            let limit = self.limit;
            self.seen.keep_below(limit);
            self.repeated.retain(|&h, _| h <= limit);
        }
    }

    pub fn report(&self) -> DuplicateReport {
        let first = self
            .repeated
            .iter()
            .filter_map(|(&h, name)| Some((self.seen.first(h)?, h, name)))
            .min_by_key(|&(first, h, _)| (first, h))
            .map(|(first, _, name)| {
                (
                    name.to_string(),
                    (first >> 40) as usize,
                    first & ((1 << 40) - 1),
                )
            });
        DuplicateReport {
            repeated: self.repeated.len() as u64,
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

    /// A batch over a block that holds the IDs one after another.
    fn batch_of<S: AsRef<str>>(ids: impl Iterator<Item = (S, u64)> + Clone) -> IdBatch {
        batch_kept_or_copied(ids, false)
    }

    fn batch_kept_or_copied<S: AsRef<str>>(
        ids: impl Iterator<Item = (S, u64)> + Clone,
        copied: bool,
    ) -> IdBatch {
        let text: Vec<u8> = ids
            .clone()
            .flat_map(|(id, _)| id.as_ref().as_bytes().to_vec())
            .collect();
        let mut b = IdBatch::default();
        b.begin(&text, 0, u64::MAX);
        let mut at = 0;
        for (id, n) in ids {
            let len = id.as_ref().len();
            b.push(&text[at..at + len], n);
            at += len;
        }
        if copied {
            b.own_names(&text);
        } else {
            b.keep(text, false);
        }
        b
    }

    fn batch(ids: &[(&str, u64)]) -> IdBatch {
        batch_of(ids.iter().copied())
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
            batch_of(range.map(|i| (&ids[i % ids.len()], i as u64 + 1)))
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
    /// The hash as first written (the tail copied into a zeroed word): `id_hash` must
    /// give the same values, or a sampled run would name other IDs.
    fn id_hash_reference(id: &[u8]) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = id.len() as u64;
        let mut words = id.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes(w.try_into().unwrap());
            h = (h ^ w).wrapping_mul(K).rotate_left(31);
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }

    #[test]
    fn the_hash_is_unchanged_for_every_length() {
        let bytes: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..=bytes.len() {
            for start in [0, 1, 7] {
                let id = &bytes[start.min(bytes.len() - n)..][..n];
                assert_eq!(id_hash(id), id_hash_reference(id), "{n} bytes");
            }
        }
        assert_eq!(
            id_hash(b"UniRef50_S01000000000"),
            id_hash_reference(b"UniRef50_S01000000000")
        );
    }

    #[test]
    fn long_names_are_cut_as_before_and_copies_name_the_same() {
        // 199 ASCII bytes, then a 3-byte character across the 200-byte cut, then more.
        let long = format!("{}\u{20ac}{}", "a".repeat(199), "b".repeat(300));
        let ids = [(long.as_str(), 1), ("x", 2), (long.as_str(), 3)];
        let kept = batch(&ids);
        let r = {
            let mut d = Duplicates::default();
            d.add(&kept, 0, 3);
            d.report()
        };
        assert_eq!(r.first, Some(("a".repeat(199), 0, 1)));
        let copied = batch_kept_or_copied(ids.iter().copied(), true);
        let mut d = Duplicates::default();
        d.add(&copied, 0, 3);
        assert_eq!(d.report(), r);
    }

    #[test]
    fn the_table_grows_and_finds_what_it_kept() {
        let mut t = Table::with_slots(FIRST_SLOTS);
        // The 8 bytes of the number 8 hash to 0 (the length and the word cancel).
        assert_eq!(id_hash(&8u64.to_le_bytes()), 0);
        let mut hashes: Vec<u64> = (0..20_000u64).map(|i| id_hash(&i.to_le_bytes())).collect();
        // Same slot and same tag, told apart by the entry: differ only in bits 20..50.
        hashes.extend([1u64 << 20, 1 << 40, (1 << 20) | (1 << 49)].map(|b| hashes[1] ^ b));
        for (i, &h) in hashes.iter().enumerate() {
            assert!(!t.offer(h, i as u64 + 10));
        }
        assert_eq!(t.len(), hashes.len());
        assert!(t.slots.len() >= 2 * t.len());
        assert_eq!(t.slots.iter().filter(|&&s| s != 0).count(), t.len());
        for (i, &h) in hashes.iter().enumerate() {
            assert!(t.offer(h, 1_000_000));
            assert_eq!(t.first(h), Some(i as u64 + 10));
        }
        assert!(t.offer(0, 3));
        assert_eq!(t.first(0), Some(3));
        assert_eq!(t.first(1), None);
        // Halving keeps what is at or below the limit, and finds it still.
        let limit = u64::MAX >> 1;
        t.keep_below(limit);
        assert_eq!(t.len(), hashes.iter().filter(|&&h| h <= limit).count());
        for (i, &h) in hashes
            .iter()
            .enumerate()
            .filter(|&(_, &h)| h <= limit && h != 0)
        {
            assert_eq!(t.first(h), Some(i as u64 + 10));
        }
        assert!(
            hashes
                .iter()
                .filter(|&&h| h > limit)
                .all(|&h| t.first(h).is_none())
        );
    }

    /// The check as first written (a `HashMap` of every kept hash, names copied on the
    /// worker), for comparison.
    fn reference(batches: &[(usize, Vec<(String, u64)>)]) -> DuplicateReport {
        let mut seen: HashMap<u64, (u64, Option<Box<str>>)> = HashMap::new();
        let (mut limit, mut halvings, mut records) = (u64::MAX, 0u32, 0u64);
        for (file, ids) in batches {
            records += ids.len() as u64;
            for (id, number) in ids {
                let hash = id_hash_reference(id.as_bytes());
                if hash > limit {
                    continue;
                }
                let here = place(*file, *number);
                if let Some(s) = seen.get_mut(&hash) {
                    s.0 = s.0.min(here);
                    s.1.get_or_insert_with(|| cut_name(id.as_bytes()));
                } else {
                    seen.insert(hash, (here, None));
                    while seen.len() >= CAP {
                        halvings += 1;
                        limit >>= 1;
                        seen.retain(|&h, _| h <= limit);
                    }
                }
            }
        }
        let repeated = seen.iter().filter(|(_, s)| s.1.is_some());
        let first = repeated
            .clone()
            .min_by_key(|(h, s)| (s.0, **h))
            .map(|(_, s)| {
                let name = s.1.as_ref().unwrap().to_string();
                (name, (s.0 >> 40) as usize, s.0 & ((1 << 40) - 1))
            });
        DuplicateReport {
            repeated: repeated.count() as u64,
            first,
            sample: 1 << halvings,
            records,
        }
    }

    #[test]
    fn the_same_report_as_the_first_implementation_in_any_order() {
        // 400,000 records over two inputs, IDs drawn from 250,000 (so some repeat, and
        // the check samples), in blocks of varying size.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut batches = Vec::new();
        for file in 0..2 {
            let mut number = 0u64;
            while number < 200_000 {
                let n = 1 + next() % 3_000;
                let ids: Vec<(String, u64)> = (0..n)
                    .map(|_| {
                        number += 1;
                        (format!("UniRef50_{:012}", next() % 250_000), number)
                    })
                    .collect();
                batches.push((file, ids));
            }
        }
        let want = reference(&batches);
        assert!(want.sample == 2 && want.repeated > 1000, "{want:?}");
        let run = |order: &mut dyn Iterator<Item = &(usize, Vec<(String, u64)>)>| {
            let mut d = Duplicates::default();
            for (file, ids) in order {
                let b = batch_of(ids.iter().map(|(id, n)| (id.as_str(), *n)));
                d.add(&b, *file, ids.len() as u64);
            }
            d.report()
        };
        assert_eq!(run(&mut batches.iter()), want);
        assert_eq!(run(&mut batches.iter().rev()), want);
        let (odd, even): (Vec<_>, Vec<_>) =
            batches.iter().enumerate().partition(|(i, _)| i % 2 == 1);
        assert_eq!(run(&mut odd.into_iter().chain(even).map(|(_, b)| b)), want);
    }
}
