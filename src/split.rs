//! `--split NAME=FRAC,...`, `--split-seed`, `--split-groups`: which split (train,
//! validation, test, ...) each record goes to.
//!
//! The split of a record is a pure function of its key (its ID, or with `--split-groups`
//! its cluster representative's ID), the split seed and the fractions: never of the mask
//! seed, the record's sequence, its place in the input, the threads, the block size, the
//! sharding or the replicate. So every replicate and every rerun of a record agree, a
//! shard run gives what the whole run gives, and one cluster never straddles two splits.
//!
//! The rule (docs/reference.md, "Splits", recomputes it in five lines of Python):
//! `u` = the first 8 bytes, little-endian, of SHA-256(`DOMAIN` ‖ split seed as u64 LE ‖
//! key); with C_i the running sum (f64, left to right) of the fractions in the order
//! given, the record goes to the first split i with u < ⌊C_i · 2^64⌋, else to the last.
//! It is computed once per record, before its replicates.
//!
//! The groups file is read a line at a time before any input, into a map from a 128-bit
//! hash of each member's ID to its representative's `u`: 24 bytes an entry in a table of
//! 2^k slots at most 7/8 full, so 28 to 55 bytes a line whatever the IDs' lengths (and
//! the old table too while it doubles); no ID is kept, and the file is never held whole.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::io::{
    FileDigest, Hasher as Digesting, InputSource, finish_input_digest, open_input_hashed,
};

/// What the hash of a key starts with, so that no other SHA-256 protmask takes can
/// coincide with a split's.
pub const DOMAIN: &[u8] = b"protmask split v1\0";

/// How far from 1 the fractions may sum.
pub const SUM_TOLERANCE: f64 = 1e-6;

/// The draw of a key under `seed`: the first 8 bytes, little-endian, of
/// SHA-256(`DOMAIN` ‖ seed (u64 LE) ‖ key).
pub fn draw(seed: u64, key: &[u8]) -> u64 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seed.to_le_bytes());
    h.update(key);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The splits and their fractions, checked: names of letters, digits and `_`, no two
/// alike (ignoring case), fractions above 0 and summing to 1 within `SUM_TOLERANCE`.
/// Written (and recorded) as `name=fraction,...`, each fraction the shortest decimal
/// that reads back as the same f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    parts: Vec<(String, f64)>,
    /// ⌊C_i · 2^64⌋, C_i the running sum of the fractions.
    thresholds: Vec<u128>,
}

impl Splits {
    /// How many splits.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Never: a `Splits` has at least one split.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The name of split `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.parts[i].0
    }

    /// The names, in the order given.
    pub fn names(&self) -> Vec<String> {
        self.parts.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The fraction of split `i`.
    pub fn fraction(&self, i: usize) -> f64 {
        self.parts[i].1
    }

    /// The split a draw `u` falls in: the first i with u < ⌊C_i · 2^64⌋, else the last.
    pub fn index(&self, u: u64) -> usize {
        let u = u128::from(u);
        self.thresholds
            .iter()
            .position(|&t| u < t)
            .unwrap_or(self.parts.len() - 1)
    }
}

/// 2^64 as an f64 (exact).
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

impl std::str::FromStr for Splits {
    type Err = String;

    fn from_str(s: &str) -> Result<Splits, String> {
        let example = "e.g. train=0.98,validation=0.01,test=0.01";
        if s.trim().is_empty() {
            return Err(format!(
                "no split given: expected NAME=FRACTION,... ({example})"
            ));
        }
        let mut parts: Vec<(String, f64)> = Vec::new();
        for part in s.split(',') {
            let Some((name, fraction)) = part.split_once('=') else {
                return Err(format!(
                    "'{part}' is not NAME=FRACTION ({example}); splits are separated by ','"
                ));
            };
            let (name, fraction) = (name.trim(), fraction.trim());
            if name.is_empty() {
                return Err(format!("'{part}': a split needs a name ({example})"));
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "'{name}' cannot name a split: use letters, digits and '_' (Hugging Face's \
                     datasets takes no other, and the name is part of file names)"
                ));
            }
            if let Some((other, _)) = parts.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "the split '{name}' is named twice ('{other}' and '{name}'; names are \
                     compared ignoring case, as they name files)"
                ));
            }
            let f: f64 = fraction
                .parse()
                .map_err(|_| format!("'{part}': '{fraction}' is not a number"))?;
            if !f.is_finite() || f <= 0.0 || f > 1.0 {
                let why = if f < 0.0 {
                    "a fraction cannot be negative"
                } else if f == 0.0 {
                    "a fraction must be more than 0 (leave the split out)"
                } else {
                    "a fraction is a number in (0, 1]"
                };
                return Err(format!("'{part}': {why}"));
            }
            parts.push((name.to_string(), f));
        }
        let mut sum = 0.0f64;
        let mut thresholds = Vec::with_capacity(parts.len());
        for &(_, f) in &parts {
            sum += f;
            // Exact: a multiplication by a power of two, then a truncation.
            thresholds.push((sum * TWO_64) as u128);
        }
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(format!(
                "the fractions sum to {sum}, not 1 (within {SUM_TOLERANCE})"
            ));
        }
        Ok(Splits { parts, thresholds })
    }
}

impl std::fmt::Display for Splits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, fraction)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={fraction}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Splits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Splits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `--split-groups`: the file as given (a manifest's `options.split_groups`), and where a
/// regeneration found it when it moved (never recorded).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct GroupsFile {
    pub path: String,
    /// Read from here instead, recorded (and named) as `path`.
    #[serde(skip)]
    pub found_at: Option<String>,
}

impl GroupsFile {
    pub fn new(path: String) -> GroupsFile {
        GroupsFile {
            path,
            found_at: None,
        }
    }

    /// Read the file (found at `found_at`, else at `path`) for split seed `seed`.
    pub fn load(&self, seed: u64) -> anyhow::Result<Groups> {
        let at = self.found_at.as_deref().unwrap_or(&self.path);
        Groups::read(Path::new(at), &self.path, seed)
    }
}

/// `--split-groups`' value: a path; stdin is for the inputs.
pub fn check_groups_path(s: &str) -> Result<String, String> {
    match s {
        "-" => Err("split groups cannot come from stdin: give the file's path".into()),
        "" => Err("the split groups file needs a path".into()),
        _ => Ok(s.to_string()),
    }
}

/// A 128-bit hash of a member's ID, the groups map's key (collisions: about one in 2^128
/// per pair of IDs, so none in any real file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(u64, u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

impl Key {
    fn of(id: &[u8]) -> Key {
        // SipHash-1-3 with fixed keys (`DefaultHasher::new`), twice: the same within a
        // process, which is all an index of the file needs.
        let mut a = std::collections::hash_map::DefaultHasher::new();
        a.write(id);
        let mut b = std::collections::hash_map::DefaultHasher::new();
        b.write_u8(0x5b);
        b.write(id);
        Key(a.finish(), b.finish())
    }
}

/// The map's hasher: the key is a hash already.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A groups file, read: each member's representative's draw.
pub struct Groups {
    /// The file as given (messages, the manifest).
    name: String,
    by_member: HashMap<Key, u64, BuildHasherDefault<Passthrough>>,
    /// Lines (blank lines not counted).
    pub lines: u64,
    /// Size and SHA-256 of the file as stored (the manifest records them).
    pub digest: FileDigest,
    /// Of its content (decompressed; the same for a plain file).
    pub content: FileDigest,
    /// Records looked up whose ID is in no line (each its own group).
    ungrouped: AtomicU64,
}

/// A bad groups file: one line naming the file and the line (0: the file as a whole).
#[derive(Debug, thiserror::Error)]
#[error("split groups file '{file}'{}: {message}", line_part(*line))]
pub struct GroupsError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn line_part(line: usize) -> String {
    match line {
        0 => String::new(),
        n => format!(", line {n}"),
    }
}

/// The lines of a groups file: 1-based number and the line without its end, blank lines
/// left out.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    text.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, trim_line(i + 1, line)))
        .filter(|(_, line)| !is_blank(line))
}

/// A line without its `\r` (and, on line 1, a byte-order mark).
fn trim_line(number: usize, line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match number {
        1 => line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line),
        _ => line,
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// `representative<TAB>member[<TAB>...]`: the two IDs, or what is wrong.
fn fields(line: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut f = line.split(|&b| b == b'\t');
    let (Some(rep), Some(member)) = (f.next(), f.next()) else {
        let hint = if line.contains(&b' ') {
            " (the columns are separated by a tab, not spaces)"
        } else {
            ""
        };
        return Err(format!(
            "expected 'representative<TAB>member' (as MMseqs2 easy-cluster writes in \
             *_cluster.tsv), found one column '{}'{hint}",
            String::from_utf8_lossy(line).escape_debug()
        ));
    };
    for id in [rep, member] {
        if id.is_empty() || id.iter().any(u8::is_ascii_whitespace) {
            return Err(format!(
                "'{}' is not a record ID (the first word of a FASTA header)",
                String::from_utf8_lossy(id).escape_debug()
            ));
        }
    }
    Ok((rep, member))
}

/// What is wrong with a line, as `Builder::line` finds it.
enum Bad {
    /// Its text (the message).
    Text(String),
    /// `id` is put in the cluster of `rep` here, but an earlier line put it in another
    /// (found again by reading the lines before it: `conflict`).
    Conflict { id: Vec<u8>, rep: Vec<u8> },
}

/// The groups map, built line by line (the file is never held whole).
struct Builder {
    seed: u64,
    by_member: HashMap<Key, u64, BuildHasherDefault<Passthrough>>,
    count: u64,
    /// The last representative and its draw: MMseqs2 writes a cluster's lines together,
    /// so a representative is drawn once.
    last: Option<(Vec<u8>, u64)>,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        Builder {
            seed,
            by_member: HashMap::default(),
            count: 0,
            last: None,
        }
    }

    /// One line (its end trimmed; blank lines are not given). A representative is a
    /// member of its own cluster whether or not a line says so.
    fn line(&mut self, line: &[u8]) -> Result<(), Bad> {
        let (rep, member) = fields(line).map_err(Bad::Text)?;
        self.count += 1;
        let conflict = |id: &[u8]| Bad::Conflict {
            id: id.to_vec(),
            rep: rep.to_vec(),
        };
        let u = match &self.last {
            Some((r, u)) if r == rep => *u,
            _ => {
                let u = draw(self.seed, rep);
                self.last = Some((rep.to_vec(), u));
                match self.by_member.insert(Key::of(rep), u) {
                    Some(other) if other != u => return Err(conflict(rep)),
                    _ => u,
                }
            }
        };
        match self.by_member.insert(Key::of(member), u) {
            Some(other) if other != u => Err(conflict(member)),
            _ => Ok(()),
        }
    }

    fn finish(mut self, name: &str, content: FileDigest) -> Result<Groups, GroupsError> {
        if self.count == 0 {
            return Err(GroupsError {
                file: name.to_string(),
                line: 0,
                message: "it is empty: expected lines 'representative<TAB>member' (MMseqs2 \
                          easy-cluster's *_cluster.tsv)"
                    .into(),
            });
        }
        self.by_member.shrink_to_fit();
        Ok(Groups {
            name: name.to_string(),
            by_member: self.by_member,
            lines: self.count,
            digest: content.clone(),
            content,
            ungrouped: AtomicU64::new(0),
        })
    }
}

impl Groups {
    /// Read the file at `path` (compressed or not, sniffed as inputs are), named `name`
    /// in messages, for split seed `seed`, a line at a time.
    pub fn read(path: &Path, name: &str, seed: u64) -> anyhow::Result<Groups> {
        use std::io::BufRead as _;
        check_groups_path(name).map_err(anyhow::Error::msg)?;
        let cannot =
            |e: std::io::Error| anyhow::anyhow!("cannot read split groups file '{name}': {e}");
        let src = InputSource::Path(path.to_path_buf());
        let (counter, hasher) = (Arc::new(AtomicU64::new(0)), Arc::default());
        let (_, reader) =
            open_input_hashed(&src, counter.clone(), Arc::clone(&hasher), None).map_err(cannot)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
        let mut builder = Builder::new(seed);
        let mut content = Digesting::default();
        let (mut raw, mut number) = (Vec::new(), 0usize);
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw).map_err(cannot)? == 0 {
                break;
            }
            number += 1;
            content.update(&raw);
            let line = trim_line(number, &raw);
            if is_blank(line) {
                continue;
            }
            if let Err(bad) = builder.line(line) {
                // A conflict names the earlier line: the file is read again up to here
                // (an error path; a pipe cannot be, and the message does without it).
                let before = || -> Option<Vec<u8>> {
                    use std::io::Read as _;
                    let (_, mut again) = crate::io::open_input(&src).ok()?;
                    let mut bytes = Vec::new();
                    again.read_to_end(&mut bytes).ok()?;
                    Some(bytes)
                };
                let message = explain(bad, number, seed, || before().unwrap_or_default());
                return Err(GroupsError {
                    file: name.to_string(),
                    line: number,
                    message,
                }
                .into());
            }
        }
        let digest =
            finish_input_digest(&src, &hasher, counter.load(Ordering::Relaxed)).map_err(cannot)?;
        let mut groups = builder.finish(name, content.finish())?;
        groups.digest = digest;
        Ok(groups)
    }

    /// Parse the (uncompressed) bytes of a groups file named `name`; a member (or
    /// representative) under two representatives is an error naming both lines.
    pub fn parse(bytes: &[u8], name: &str, seed: u64) -> Result<Groups, GroupsError> {
        let mut builder = Builder::new(seed);
        for (number, line) in lines(bytes) {
            builder.line(line).map_err(|bad| GroupsError {
                file: name.to_string(),
                line: number,
                message: explain(bad, number, seed, || bytes.to_vec()),
            })?;
        }
        builder.finish(name, FileDigest::of(bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The draw of the representative of `id`'s cluster, `None` if `id` is in no line.
    fn draw_of(&self, id: &[u8]) -> Option<u64> {
        self.by_member.get(&Key::of(id)).copied()
    }

    /// Records looked up whose ID was in no line.
    pub fn ungrouped(&self) -> u64 {
        self.ungrouped.load(Ordering::Relaxed)
    }
}

/// The message of a bad line `number`; a conflict names the earlier line that put the ID
/// in another cluster, found in the file's bytes (`bytes`, read only then).
fn explain(bad: Bad, number: usize, seed: u64, bytes: impl FnOnce() -> Vec<u8>) -> String {
    let (id, now) = match bad {
        Bad::Text(message) => return message,
        Bad::Conflict { id, rep } => (id, rep),
    };
    let shown = |b: &[u8]| String::from_utf8_lossy(b).escape_debug().to_string();
    let bytes = bytes();
    let earlier = lines(&bytes)
        .take_while(|&(n, _)| n < number)
        .filter_map(|(n, l)| fields(l).ok().map(|f| (n, f)))
        .find(|&(_, (rep, member))| {
            (member == id || rep == id) && draw(seed, rep) != draw(seed, &now)
        });
    match earlier {
        Some((n, (rep, _))) => format!(
            "'{}' is in the cluster of '{}' here, but line {n} puts it in the cluster of '{}': \
             a record belongs to one cluster",
            shown(&id),
            shown(&now),
            shown(rep)
        ),
        None => format!(
            "'{}' is in the cluster of '{}' here, but an earlier line puts it in another \
             cluster: a record belongs to one cluster",
            shown(&id),
            shown(&now)
        ),
    }
}

/// The split rule of a run, resolved: the splits, the split seed and the groups.
pub struct SplitRule {
    pub splits: Splits,
    pub seed: u64,
    pub groups: Option<Groups>,
}

impl std::fmt::Debug for SplitRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitRule")
            .field("splits", &self.splits.to_string())
            .field("seed", &self.seed)
            .field("groups", &self.groups.as_ref().map(|g| (g.name(), g.lines)))
            .finish()
    }
}

impl SplitRule {
    /// The split of the record with ID `id` (an index into `splits`). A record in no line
    /// of the groups file is its own group, and counted.
    pub fn of(&self, id: &[u8]) -> usize {
        let grouped = self.groups.as_ref().and_then(|g| {
            let u = g.draw_of(id);
            if u.is_none() {
                g.ungrouped.fetch_add(1, Ordering::Relaxed);
            }
            u
        });
        let u = grouped.unwrap_or_else(|| draw(self.seed, id));
        self.splits.index(u)
    }

    /// The split of `id`, without counting it (`verify`).
    pub fn index_of(&self, id: &[u8]) -> usize {
        let u = match self.groups.as_ref().and_then(|g| g.draw_of(id)) {
            Some(u) => u,
            None => draw(self.seed, id),
        };
        self.splits.index(u)
    }

    /// The name of the split of `id`, without counting it (`verify`).
    pub fn name_of(&self, id: &[u8]) -> &str {
        self.splits.name(self.index_of(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splits(s: &str) -> Splits {
        s.parse().unwrap()
    }

    /// Values computed independently with Python's hashlib (the recipe in
    /// docs/reference.md).
    #[test]
    fn draws_are_the_documented_hash() {
        assert_eq!(draw(0, b"P12345"), 0x0d4c_a4e8_9676_159e);
        assert_eq!(draw(7, b"sp|P69905|HBA_HUMAN"), 0xe1d9_432c_bdf1_32d9);
        assert_eq!(draw(0, b""), 0x7a9f_b717_1214_459f);
    }

    #[test]
    fn thresholds_are_the_running_sums_scaled() {
        let s = splits("a=0.5,b=0.25,c=0.25");
        assert_eq!(s.index(0), 0);
        assert_eq!(s.index((1 << 63) - 1), 0);
        assert_eq!(s.index(1 << 63), 1);
        assert_eq!(s.index((1 << 63) + (1 << 62) - 1), 1);
        assert_eq!(s.index((1 << 63) + (1 << 62)), 2);
        assert_eq!(s.index(u64::MAX), 2);
        // A sum just under 1 leaves the top of the range to the last split.
        let s = splits("a=0.7,b=0.2,c=0.0999999");
        assert_eq!(s.index(u64::MAX), 2);
        assert_eq!(splits("all=1").index(u64::MAX), 0);
    }

    #[test]
    fn written_as_parsed_and_read_back() {
        for text in [
            "train=0.98,validation=0.01,test=0.01",
            "a=1",
            "x_1=0.5,Y2=0.5",
        ] {
            let s = splits(text);
            assert_eq!(s.to_string(), text);
            assert_eq!(splits(&s.to_string()), s);
        }
        assert_eq!(splits(" a = 1e-1 ,b=0.9").to_string(), "a=0.1,b=0.9");
        let json = serde_json::to_string(&splits("a=0.5,b=0.5")).unwrap();
        assert_eq!(json, "\"a=0.5,b=0.5\"");
        assert!(serde_json::from_str::<Splits>("\"a=0.5\"").is_err());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("", "no split given"),
            ("train", "is not NAME=FRACTION"),
            ("train=0.5,0.5", "is not NAME=FRACTION"),
            ("=1", "needs a name"),
            ("tr-ain=1", "cannot name a split"),
            ("train=0.5,Train=0.5", "named twice"),
            ("a=x,b=1", "is not a number"),
            ("a=-0.1,b=1.1", "cannot be negative"),
            ("a=0,b=1", "more than 0"),
            ("a=NaN", "(0, 1]"),
            ("a=0.5,b=0.4", "sum to 0.9, not 1"),
            ("a=0.5,b=0.500002", "not 1"),
        ] {
            let e = spec.parse::<Splits>().unwrap_err();
            assert!(e.contains(says), "{spec:?}: {e}");
        }
        assert!("a=0.5,b=0.5000001".parse::<Splits>().is_ok());
    }

    #[test]
    fn groups_map_members_to_their_representative() {
        let text = "A\tA\nA\tB\nA\tC\n\nD\tE\nF\tG\tmore\n";
        let g = Groups::parse(text.as_bytes(), "c.tsv", 3).unwrap();
        assert_eq!(g.lines, 5);
        for (id, rep) in [("A", "A"), ("B", "A"), ("C", "A"), ("D", "D"), ("E", "D")] {
            assert_eq!(
                g.draw_of(id.as_bytes()),
                Some(draw(3, rep.as_bytes())),
                "{id}"
            );
        }
        // F is a representative though no line lists it as a member.
        assert_eq!(g.draw_of(b"F"), Some(draw(3, b"F")));
        assert_eq!(g.draw_of(b"Z"), None);
        let rule = SplitRule {
            splits: splits("a=0.5,b=0.5"),
            seed: 3,
            groups: Some(g),
        };
        let want = |key: &str| rule.splits.index(draw(3, key.as_bytes()));
        assert_eq!(rule.of(b"C"), want("A"));
        assert_eq!(rule.of(b"Z"), want("Z"));
        assert_eq!(rule.of(b"Y"), want("Y"));
        assert_eq!(rule.groups.as_ref().unwrap().ungrouped(), 2);
    }

    #[test]
    fn bad_groups_files_name_the_line() {
        for (text, line, says) in [
            ("", 0, "it is empty"),
            ("\n \n", 0, "it is empty"),
            ("A\tB\nC\n", 2, "found one column 'C'"),
            ("A\tB\nA B\n", 2, "a tab, not spaces"),
            ("A\tB\n\tB\n", 2, "is not a record ID"),
            (
                "A\tA\nA\tB\nC\tC\nC\tB\n",
                4,
                "'B' is in the cluster of 'C' here, but line 2 puts it in the cluster of 'A'",
            ),
            (
                "A\tB\nB\tC\n",
                2,
                "'B' is in the cluster of 'B' here, but line 1 puts it in the cluster of 'A'",
            ),
        ] {
            let e = Groups::parse(text.as_bytes(), "c.tsv", 0)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"))
                .to_string();
            let at = match line {
                0 => "split groups file 'c.tsv': ".to_string(),
                n => format!("split groups file 'c.tsv', line {n}: "),
            };
            assert!(e.starts_with(&at), "{text:?}: {e}");
            assert!(e.contains(says), "{text:?}: {e}");
        }
        // The same pair twice is no conflict.
        assert!(Groups::parse(b"A\tB\nA\tB\n", "c.tsv", 0).is_ok());
    }

    /// A file read a line at a time (compressed or not, a byte-order mark, CRLF, no
    /// final newline) gives the map that parsing its bytes gives, and the digests of the
    /// file as stored and of its content.
    #[test]
    fn reading_a_file_equals_parsing_its_bytes() {
        let text = "\u{feff}A\tA\r\nA\tB\r\n\r\nC\tD";
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("c.tsv");
        std::fs::write(&plain, text).unwrap();
        let zst = dir.path().join("c.tsv.zst");
        std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        let parsed = Groups::parse(text.as_bytes(), "c.tsv", 1).unwrap();
        for path in [&plain, &zst] {
            let read = Groups::read(path, "c.tsv", 1).unwrap();
            assert_eq!(read.lines, 3);
            assert_eq!(read.by_member, parsed.by_member);
            assert_eq!(read.content, FileDigest::of(text.as_bytes()));
            assert_eq!(read.digest, FileDigest::of(&std::fs::read(path).unwrap()));
        }
        assert_eq!(parsed.draw_of(b"B"), Some(draw(1, b"A")));
        assert_eq!(parsed.draw_of(b"D"), Some(draw(1, b"C")));
    }
}
