//! `--regions FILE`: intervals per record ID (BED-style), read once before any input, and
//! what they make eligible.
//!
//! The file is read whole into a map by ID (memory proportional to the file), each ID's
//! intervals sorted and merged (overlapping and book-ended ones, as `bedtools merge`
//! does). Every line keeps its 1-based number, counting every line, so each error names
//! the file and the line. A record's intervals are checked against its length when it
//! is masked; IDs no record had are found once every input is read (`unmatched`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::choice::choices;
use crate::io::{FileDigest, InputSource, finish_input_digest, open_input_hashed};

choices! {
    /// What the intervals mean.
    pub enum RegionsMode {
        /// Only positions inside the record's intervals are eligible; a record without
        /// intervals has none.
        Only = "only",
        /// Positions inside are never selected; a record without intervals is masked as
        /// without `--regions`.
        Except = "except",
    }
}

// `choices!` cannot take `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for RegionsMode {
    fn default() -> Self {
        RegionsMode::Only
    }
}

/// The regions options of a run, as the manifest records them (`options.regions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionsOption {
    /// Where the intervals come from: `"path"` (the file as given) or `"intervals"`.
    #[serde(flatten)]
    pub source: RegionsSource,
    pub mode: RegionsMode,
    /// IDs that no input record has are counted, not an error (a shard of a larger set).
    #[serde(default)]
    pub partial: bool,
    /// Where a regeneration found the recorded regions file, when not at its recorded
    /// path (moved or renamed): read from here, recorded (and named) as `source` says, so
    /// the regenerated manifest and Parquet metadata are the recorded ones. Never written.
    #[serde(skip)]
    pub found_at: Option<String>,
}

/// A regions file (the command line, Python), or intervals given in memory (Python): per
/// ID, `(start, end)` pairs, 0-based, end exclusive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionsSource {
    Path(String),
    Intervals(std::collections::BTreeMap<String, Vec<(i64, i64)>>),
}

impl RegionsOption {
    /// The file as given, if the intervals come from one.
    pub fn path(&self) -> Option<&str> {
        match &self.source {
            RegionsSource::Path(p) => Some(p),
            RegionsSource::Intervals(_) => None,
        }
    }

    /// Read (or build) the intervals.
    pub fn load(&self) -> anyhow::Result<Regions> {
        match &self.source {
            RegionsSource::Path(p) => {
                let at = self.found_at.as_deref().unwrap_or(p);
                Regions::read(Path::new(at), p, self.mode)
            }
            RegionsSource::Intervals(map) => Ok(Regions::from_intervals(map, self.mode)?),
        }
    }
}

/// One merged interval: positions `start..end` (0-based, end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: u64,
    pub end: u64,
}

/// A record's eligibility by region: its merged intervals, ascending, and what they mean.
#[derive(Clone, Copy, Debug)]
pub struct Within<'a> {
    pub intervals: &'a [Interval],
    pub mode: RegionsMode,
}

impl Within<'_> {
    /// The same eligibility over the window `start..end` of the record (`--max-length`),
    /// in the window's coordinates: the intervals clipped to it and moved left by
    /// `start`, kept in `buf`.
    pub fn window<'b>(&self, start: u64, end: u64, buf: &'b mut Vec<Interval>) -> Within<'b> {
        buf.clear();
        buf.extend(self.intervals.iter().filter_map(|iv| {
            let (s, e) = (iv.start.max(start), iv.end.min(end));
            (s < e).then(|| Interval {
                start: s - start,
                end: e - start,
            })
        }));
        Within {
            intervals: buf,
            mode: self.mode,
        }
    }

    /// Whether position `p` may be selected as far as the regions go.
    pub fn allows(&self, p: u64) -> bool {
        let i = self.intervals.partition_point(|iv| iv.end <= p);
        let inside = self.intervals.get(i).is_some_and(|iv| iv.start <= p);
        inside == (self.mode == RegionsMode::Only)
    }
}

struct Entry {
    intervals: Vec<Interval>,
    /// The line of the interval that reaches furthest (named when it is past the record).
    furthest_line: usize,
    /// The ID's first line (named when no record has the ID).
    first_line: usize,
    /// A record with this ID was masked.
    seen: AtomicBool,
}

/// A regions file, parsed.
pub struct Regions {
    /// The file as given (messages).
    name: String,
    mode: RegionsMode,
    by_id: HashMap<Box<str>, Entry>,
    /// Interval lines read (comments and blanks not counted).
    pub intervals: u64,
    /// Size and SHA-256 of the file's bytes as stored (the manifest records them).
    pub digest: FileDigest,
    /// Size and SHA-256 of its content (decompressed; the same for a plain file).
    pub content: FileDigest,
    /// Given in memory (`from_intervals`), not read from a file: messages name the ID,
    /// not a line.
    inline: bool,
    /// Read from a regular file (which can be read again; a pipe cannot).
    pub regular: bool,
    /// Records looked up that have no interval (in `only` mode, none of their positions
    /// is eligible: the run warns with the count).
    without: AtomicU64,
}

/// How messages name intervals given in memory.
const INLINE: &str = "regions";

/// A bad regions file: one line naming the file and the line (line 0: intervals given in
/// memory, named by their ID in the message).
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", where_(file, *line))]
pub struct RegionsError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn where_(file: &str, line: usize) -> String {
    match line {
        0 => format!("{file}: "),
        _ => format!("regions file '{file}', line {line}: "),
    }
}

impl Regions {
    /// Read and parse the file at `path`, compressed or not (the inputs' opener: gzip,
    /// BGZF, zstd, bzip2, xz, sniffed from its first bytes); `name` is how messages show
    /// it. The digest is of the file's bytes as stored. `-` is refused: stdin is for the
    /// inputs.
    pub fn read(path: &Path, name: &str, mode: RegionsMode) -> anyhow::Result<Regions> {
        use std::io::Read as _;
        check_path(name).map_err(anyhow::Error::msg)?;
        let cannot = |e: std::io::Error| anyhow::anyhow!("cannot read regions file: {e}");
        let src = InputSource::Path(path.to_path_buf());
        let (counter, hasher) = (Arc::new(AtomicU64::new(0)), Arc::default());
        let (_, mut reader) =
            open_input_hashed(&src, counter.clone(), Arc::clone(&hasher), None).map_err(cannot)?;
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read regions file '{name}': {e}"))?;
        let digest =
            finish_input_digest(&src, &hasher, counter.load(Ordering::Relaxed)).map_err(cannot)?;
        let mut regions = Regions::parse(&bytes, name, mode)?;
        // `parse` digested the content (decompressed); the file as stored is `digest`.
        regions.digest = digest;
        regions.regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        Ok(regions)
    }

    /// Parse the (uncompressed) bytes of a regions file named `name`: BED's own lines are
    /// skipped (a byte-order mark, `#` comments, `track` and `browser` lines, blank
    /// lines).
    pub fn parse(bytes: &[u8], name: &str, mode: RegionsMode) -> Result<Regions, RegionsError> {
        let digest = FileDigest::of(bytes);
        // Per ID: its (start, end, line) pieces, and its first line.
        type Pieces = (Vec<(u64, u64, usize)>, usize);
        let mut raw: HashMap<Box<str>, Pieces> = HashMap::new();
        let mut intervals = 0u64;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let number = i + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"#") {
                continue;
            }
            let fail = |message: String| RegionsError {
                file: name.to_string(),
                line: number,
                message,
            };
            let line = std::str::from_utf8(line)
                .map_err(|_| fail("not UTF-8 text; expected 'id<TAB>start<TAB>end'".into()))?;
            let parsed = parse_line(line);
            if parsed.is_err() && is_header(line) {
                continue;
            }
            let (id, start, end) = parsed.map_err(fail)?;
            intervals += 1;
            let slot = raw.entry(id.into()).or_insert_with(|| (Vec::new(), number));
            slot.0.push((start, end, number));
        }
        let by_id = raw
            .into_iter()
            .map(|(id, (mut pieces, first_line))| {
                pieces.sort_unstable();
                let mut merged: Vec<Interval> = Vec::with_capacity(pieces.len());
                let mut furthest = (0u64, 0usize);
                for (start, end, line) in pieces {
                    if end > furthest.0 {
                        furthest = (end, line);
                    }
                    match merged.last_mut() {
                        Some(last) if start <= last.end => last.end = last.end.max(end),
                        _ => merged.push(Interval { start, end }),
                    }
                }
                merged.shrink_to_fit();
                let entry = Entry {
                    intervals: merged,
                    furthest_line: furthest.1,
                    first_line,
                    seen: AtomicBool::new(false),
                };
                (id, entry)
            })
            .collect();
        Ok(Regions {
            name: name.to_string(),
            mode,
            by_id,
            intervals,
            content: digest.clone(),
            digest,
            inline: false,
            regular: false,
            without: AtomicU64::new(0),
        })
    }

    /// Intervals given in memory (`regions=` in Python), checked as a file's lines are;
    /// an error names the ID and the interval. The name in messages is `regions`.
    pub fn from_intervals(
        map: &std::collections::BTreeMap<String, Vec<(i64, i64)>>,
        mode: RegionsMode,
    ) -> Result<Regions, RegionsError> {
        let mut text = String::new();
        for (id, intervals) in map {
            for &(start, end) in intervals {
                let line = format!("{id}\t{start}\t{end}");
                parse_line(&line).map_err(|message| RegionsError {
                    file: INLINE.to_string(),
                    line: 0,
                    message: format!(
                        "ID '{}', interval ({start}, {end}): {message}",
                        id.escape_debug()
                    ),
                })?;
                text.push_str(&line);
                text.push('\n');
            }
        }
        let mut regions = Regions::parse(text.as_bytes(), INLINE, mode)?;
        regions.inline = true;
        Ok(regions)
    }

    /// The merged intervals by ID, in the form a manifest records them
    /// (`RegionsSource::Intervals`); `None` if a bound does not fit an `i64`.
    pub fn to_map(&self) -> Option<std::collections::BTreeMap<String, Vec<(i64, i64)>>> {
        let bound = |v: u64| i64::try_from(v).ok();
        self.by_id
            .iter()
            .map(|(id, e)| {
                let pairs = e
                    .intervals
                    .iter()
                    .map(|iv| Some((bound(iv.start)?, bound(iv.end)?)))
                    .collect::<Option<Vec<_>>>()?;
                Some((id.to_string(), pairs))
            })
            .collect()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn mode(&self) -> RegionsMode {
        self.mode
    }

    /// The eligibility of record `id` of `len` positions, noting that the ID was seen.
    /// `None`: unrestricted (`except` and no intervals). An interval that ends past the
    /// record is the error (naming the regions file and line).
    pub fn within(&self, id: &str, len: usize) -> Result<Option<Within<'_>>, String> {
        let Some(entry) = self.by_id.get(id) else {
            self.without.fetch_add(1, Ordering::Relaxed);
            return Ok(match self.mode {
                RegionsMode::Only => Some(Within {
                    intervals: &[],
                    mode: RegionsMode::Only,
                }),
                RegionsMode::Except => None,
            });
        };
        if !entry.seen.load(Ordering::Relaxed) {
            entry.seen.store(true, Ordering::Relaxed);
        }
        if let Some(last) = entry.intervals.last()
            && last.end > len as u64
        {
            let line = if self.inline { 0 } else { entry.furthest_line };
            return Err(format!(
                "{}an interval ends at {}, past the end of this record ({len} residues)",
                where_(&self.name, line),
                last.end
            ));
        }
        Ok(Some(Within {
            intervals: &entry.intervals,
            mode: self.mode,
        }))
    }

    /// How many records looked up had no interval (with `only`, nothing in them could be
    /// selected; with `except`, they were masked as without regions).
    pub fn without_intervals(&self) -> u64 {
        self.without.load(Ordering::Relaxed)
    }

    /// IDs that no masked record had, with their first line, in file order.
    pub fn unmatched(&self) -> Vec<(&str, usize)> {
        let mut ids: Vec<(&str, usize)> = self
            .by_id
            .iter()
            .filter(|(_, e)| !e.seen.load(Ordering::Relaxed))
            .map(|(id, e)| (&**id, e.first_line))
            .collect();
        ids.sort_unstable_by_key(|&(_, line)| line);
        ids
    }

    /// The error for IDs that no input record has (the first one named, by its line).
    pub fn unmatched_error(&self, unmatched: &[(&str, usize)]) -> Option<RegionsError> {
        let &(id, line) = unmatched.first()?;
        let more = match unmatched.len() {
            1 => String::new(),
            2 => " (1 more ID like it)".to_string(),
            n => format!(" ({} more IDs like it)", n - 1),
        };
        Some(RegionsError {
            file: self.name.clone(),
            line,
            message: format!(
                "no input record has ID '{id}'{more}; for a shard of a larger set, pass \
                 --regions-partial"
            ),
        })
    }
}

/// `--regions`' value: a path. Stdin is refused (the inputs may come from it, and the
/// regions are read before them).
pub fn check_path(s: &str) -> Result<String, String> {
    match s {
        "-" => Err("regions cannot come from stdin: give the regions file's path".into()),
        _ => Ok(s.to_string()),
    }
}

/// A UCSC `track` or `browser` line (`track name=... description=...`), which a BED file
/// may have before or between its intervals; a line that reads as an interval of a record
/// named `track` is one.
fn is_header(line: &str) -> bool {
    ["track", "browser"].iter().any(|word| {
        line.strip_prefix(word)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// The largest coordinate (u64), shown in the message for one that does not fit.
const MAX_COORDINATE: u64 = u64::MAX;

/// `id<TAB>start<TAB>end[<TAB>...]` into its three values, or what is wrong.
fn parse_line(line: &str) -> Result<(&str, u64, u64), String> {
    let mut fields = line.split('\t');
    let (Some(id), Some(start), Some(end)) = (fields.next(), fields.next(), fields.next()) else {
        let hint = if line.contains(' ') {
            " (fields are separated by tabs, not spaces)"
        } else {
            ""
        };
        return Err(format!(
            "expected 'id<TAB>start<TAB>end', found '{}'{hint}",
            line.escape_debug()
        ));
    };
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(format!(
            "'{}' is not a record ID (the first word of a FASTA header)",
            id.escape_debug()
        ));
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = |what: &str, s: &str| -> Result<u64, String> {
        let t = s.trim();
        if let Ok(v) = t.parse::<u64>() {
            return Ok(v);
        }
        let unsigned = t.strip_prefix('+').unwrap_or(t);
        Err(if digits(unsigned) {
            format!(
                "{what} {} does not fit (coordinates go up to {MAX_COORDINATE})",
                unsigned.trim_start_matches('0')
            )
        } else if t.strip_prefix('-').is_some_and(digits) {
            format!(
                "negative coordinate in '{}' (positions are 0-based, from 0)",
                line.escape_debug()
            )
        } else {
            format!(
                "{what} '{}' is not a whole number (0-based, end exclusive)",
                s.escape_debug()
            )
        })
    };
    let (s, e) = (number("start", start)?, number("end", end)?);
    if e <= s {
        return Err(format!(
            "end {e} is not after start {s} (intervals are 0-based, end exclusive, not empty)"
        ));
    }
    Ok((id, s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Regions, RegionsError> {
        Regions::parse(text.as_bytes(), "r.bed", RegionsMode::Only)
    }

    fn intervals(r: &Regions, id: &str) -> Vec<(u64, u64)> {
        r.within(id, 1000)
            .unwrap()
            .unwrap()
            .intervals
            .iter()
            .map(|i| (i.start, i.end))
            .collect()
    }

    #[test]
    fn overlapping_and_book_ended_intervals_merge() {
        let r = parse("# header\n\na\t10\t20\tname\t0\na\t15\t30\na\t30\t35\na\t0\t5\r\nb\t3\t4\n")
            .unwrap();
        assert_eq!(intervals(&r, "a"), vec![(0, 5), (10, 35)]);
        assert_eq!(intervals(&r, "b"), vec![(3, 4)]);
        assert_eq!(r.intervals, 5);
        assert!(intervals(&r, "missing").is_empty());
    }

    #[test]
    fn every_error_names_file_and_line() {
        for (text, line, says) in [
            ("a\t1\n", 1, "expected 'id<TAB>start<TAB>end'"),
            ("# c\n\na 1 2\n", 3, "tabs, not spaces"),
            ("a\tx\t2\n", 1, "start 'x' is not a whole number"),
            ("a\t1\t2.5\n", 1, "end '2.5' is not a whole number"),
            ("a\t-1\t2\n", 1, "negative coordinate"),
            ("a\t1\t2\nb\t5\t5\n", 2, "end 5 is not after start 5"),
            ("a\t9\t3\n", 1, "end 3 is not after start 9"),
            ("\t1\t2\n", 1, "is not a record ID"),
        ] {
            let e = parse(text).err().expect(text).to_string();
            assert!(
                e.starts_with(&format!("regions file 'r.bed', line {line}: ")),
                "{text:?}: {e}"
            );
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn past_the_record_names_the_furthest_line() {
        let r = parse("a\t0\t5\na\t2\t50\na\t1\t3\n").unwrap();
        let e = r.within("a", 40).unwrap_err();
        assert!(e.contains("line 2") && e.contains("ends at 50") && e.contains("40 residues"));
        assert!(r.within("a", 50).is_ok());
    }

    #[test]
    fn unmatched_ids_in_file_order() {
        let r = parse("c\t0\t1\nb\t0\t1\na\t0\t1\n").unwrap();
        r.within("b", 10).unwrap();
        assert_eq!(r.unmatched(), vec![("c", 1), ("a", 3)]);
        let e = r.unmatched_error(&r.unmatched()).unwrap().to_string();
        assert!(e.starts_with("regions file 'r.bed', line 1: no input record has ID 'c' (1 more"));
    }

    #[test]
    fn allows_by_mode() {
        let ivs = [Interval { start: 2, end: 4 }, Interval { start: 6, end: 7 }];
        let only = Within {
            intervals: &ivs,
            mode: RegionsMode::Only,
        };
        let except = Within {
            mode: RegionsMode::Except,
            ..only
        };
        let inside: Vec<u64> = (0..9).filter(|&p| only.allows(p)).collect();
        assert_eq!(inside, vec![2, 3, 6]);
        let outside: Vec<u64> = (0..9).filter(|&p| except.allows(p)).collect();
        assert_eq!(outside, vec![0, 1, 4, 5, 7, 8]);
    }

    #[test]
    fn a_window_clips_and_shifts_the_intervals() {
        let ivs = [
            Interval { start: 2, end: 5 },
            Interval { start: 8, end: 12 },
        ];
        for mode in [RegionsMode::Only, RegionsMode::Except] {
            let w = Within {
                intervals: &ivs,
                mode,
            };
            let mut buf = Vec::new();
            let shifted = w.window(4, 10, &mut buf);
            let got: Vec<u64> = (0..6).filter(|&p| shifted.allows(p)).collect();
            let want: Vec<u64> = (4..10).filter(|&p| w.allows(p)).map(|p| p - 4).collect();
            assert_eq!(got, want, "{mode:?}");
        }
    }

    #[test]
    fn except_without_intervals_is_unrestricted() {
        let r = Regions::parse(b"a\t0\t1\n", "r.bed", RegionsMode::Except).unwrap();
        assert!(r.within("other", 10).unwrap().is_none());
        assert!(r.within("a", 10).unwrap().is_some());
    }
}
