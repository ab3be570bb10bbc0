//! A dataset as a folder (`--dataset DIR/`): Hugging Face's layout, shards of a fixed
//! number of rows, and what may already be in the folder.
//!
//! `DIR/data/{split}-{i:05}-of-{n:05}.parquet` is the name by which `load_dataset(DIR)`
//! and `load_dataset("parquet", data_dir=DIR)` find a split's files, in order, and
//! `DIR/README.md` (the dataset card, `card`) fixes the splits and the column types. A
//! shard is closed at a fixed number of rows in output order, so each shard's bytes depend
//! on the rows alone, never on `-j` or the block size. The count n is known only when the
//! last row is written: shards are written under temporary names and renamed to their
//! final ones when the run publishes its outputs, all of them together.
//!
//! A folder that is not empty is refused, so two runs' shards are never mixed (a stale
//! `train-00002-of-00003.parquet` beside a new `train-00000-of-00002.parquet` would be
//! loaded as one split). With `--force`, an earlier dataset's files (README.md, shards,
//! and the temp files of a run that was killed) are replaced: the stale shards are removed
//! when the new ones are published. Anything else in the folder is refused even then: a
//! run never deletes a file it did not make. A folder the run makes is removed again if
//! the run fails or is interrupted (`MadeDirs`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::UsageError;
use crate::cleanup::MadeDirs;

/// Rows per shard without token ids (about 110 MB of Parquet for UniRef50-like records).
pub const DEFAULT_SHARD_ROWS: u64 = 100_000;
/// Rows per shard with token ids, whose rows are about four times larger.
pub const DEFAULT_SHARD_ROWS_TOKENS: u64 = 25_000;
/// The split every row goes to when the run does not split.
pub const DEFAULT_SPLIT: &str = "train";
/// The dataset card, in the folder.
pub const CARD: &str = "README.md";
/// The shards' subfolder.
pub const DATA: &str = "data";

/// Rows per shard when `--shard-rows` is not given.
pub fn default_shard_rows(tokens: bool) -> u64 {
    if tokens {
        DEFAULT_SHARD_ROWS_TOKENS
    } else {
        DEFAULT_SHARD_ROWS
    }
}

/// The file name of shard `i` (0-based) of `n` of `split`.
pub(crate) fn shard_name(split: &str, i: usize, n: usize) -> String {
    format!("{split}-{i:05}-of-{n:05}.parquet")
}

/// A shard's file name read back: its split, index and count (`None` for any other name).
pub(crate) fn parse_shard_name(name: &str) -> Option<(&str, usize, usize)> {
    let stem = name.strip_suffix(".parquet")?;
    let (head, n) = stem.rsplit_once("-of-")?;
    let (split, i) = head.rsplit_once('-')?;
    let number = |s: &str| -> Option<usize> {
        (s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (i, n) = (number(i)?, number(n)?);
    (!split.is_empty() && i < n).then_some((split, i, n))
}

/// The folder a trailing-slash `--dataset` names (`out/` is `out`, `./` is `.`), or
/// `None` when `given` has no trailing slash (a file).
pub fn folder_of(given: &str) -> Option<PathBuf> {
    let trimmed = given.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
    if trimmed.len() == given.len() {
        return None;
    }
    Some(PathBuf::from(if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }))
}

/// How a folder is shown and written on a command line: with its trailing slash.
pub fn shown(dir: &Path) -> String {
    let d = dir.display().to_string();
    if d.ends_with('/') { d } else { format!("{d}/") }
}

/// The folder of a recorded shard path (`out/data/train-...parquet` is `out`).
pub(crate) fn folder_of_shard(shard: &Path) -> Option<&Path> {
    shard.parent()?.parent()
}

/// The folder's own name, which a regeneration rebuilds it under (`dataset` for a folder
/// given as `.` or `/`, which has none).
pub(crate) fn folder_name(dir: &Path) -> &std::ffi::OsStr {
    dir.file_name().unwrap_or("dataset".as_ref())
}

/// A dataset folder's splits as found on disk, by split name: each split's shards in
/// order. Every shard of a split must be there, all of one count; files with other names
/// are not the dataset's and are passed over. Errors name the folder and the shard.
pub(crate) fn read_folder(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let shown_dir = shown(dir);
    let data = dir.join(DATA);
    let files = entries(&data).map_err(|e| format!("cannot read '{}': {e}", data.display()))?;
    let mut splits: std::collections::BTreeMap<String, Vec<(usize, usize, PathBuf)>> =
        Default::default();
    for (name, path) in files {
        if let Some((split, i, n)) = parse_shard_name(&name) {
            splits
                .entry(split.to_string())
                .or_default()
                .push((i, n, path));
        }
    }
    if splits.is_empty() {
        return Err(format!(
            "'{shown_dir}' holds no dataset shards ({DATA}/SPLIT-NNNNN-of-NNNNN.parquet)"
        ));
    }
    let mut found = Vec::new();
    for (split, mut shards) in splits {
        shards.sort();
        let n = shards[0].1;
        if let Some((_, other, _)) = shards.iter().find(|s| s.1 != n) {
            return Err(format!(
                "dataset folder '{shown_dir}' holds shards of two runs: {DATA}/{} and {DATA}/{}",
                shard_name(&split, 0, n),
                shard_name(&split, 0, *other)
            ));
        }
        if let Some(i) = (0..n).find(|&i| shards.get(i).is_none_or(|s| s.0 != i)) {
            return Err(format!(
                "dataset folder '{shown_dir}' lacks {DATA}/{}",
                shard_name(&split, i, n)
            ));
        }
        found.push((split, shards.into_iter().map(|s| s.2).collect()));
    }
    Ok(found)
}

/// Where one split's shards go: `DIR/data/{split}-{i:05}-of-{n:05}.parquet`.
#[derive(Clone, Debug)]
pub(crate) struct ShardNames {
    pub dir: PathBuf,
    pub split: String,
}

impl ShardNames {
    /// Shard `i` before the count is known: the target its temp file is made beside, and
    /// the name messages give it while it is written.
    pub fn provisional(&self, i: usize) -> PathBuf {
        let name = format!("{}-{i:05}-of-?????.parquet", self.split);
        self.dir.join(DATA).join(name)
    }

    /// Shard `i` of `n`, its final path.
    pub fn path(&self, i: usize, n: usize) -> PathBuf {
        self.dir.join(DATA).join(shard_name(&self.split, i, n))
    }
}

/// A dataset folder being written: made if it was missing (and removed again if the run
/// fails), and the earlier dataset's files that the new one replaces (`--force`).
#[derive(Debug)]
pub(crate) struct Folder {
    pub dir: PathBuf,
    made: MadeDirs,
    /// Shards (and temp files of a killed run) of an earlier dataset, removed when the
    /// new one is published.
    stale: Vec<PathBuf>,
}

/// Names shown in a refusal, at most this many (then a count of the rest).
const NAMED: usize = 3;

impl Folder {
    /// Check the folder and make `DIR/data`. It must be empty (an empty `data/` aside)
    /// unless `force`, which lets an earlier dataset's README.md and `data/` shards be
    /// replaced; `ours` are the run's other outputs, which may lie in the folder (a
    /// manifest beside the card) and are replaced as outputs always are. Anything else is
    /// refused, naming a few files.
    pub fn prepare(dir: &Path, force: bool, ours: &[PathBuf]) -> anyhow::Result<Folder> {
        let shown_dir = shown(dir);
        if dir.exists() && !dir.is_dir() {
            return Err(UsageError::FolderIsAFile(shown_dir).into());
        }
        let ours: Vec<PathBuf> = ours
            .iter()
            .filter_map(|p| fs::canonicalize(p).ok())
            .collect();
        let is_ours = |p: &Path| fs::canonicalize(p).is_ok_and(|c| ours.contains(&c));
        let (mut replaced, mut others, mut stale) = (Vec::new(), Vec::new(), Vec::new());
        let cannot =
            |e: io::Error| anyhow::anyhow!("cannot read dataset folder '{shown_dir}': {e}");
        for (name, path) in entries(dir).map_err(cannot)? {
            if is_ours(&path) {
                continue;
            }
            if name == CARD && path.is_file() {
                replaced.push(name);
            } else if name == DATA && path.is_dir() {
                for (inner, p) in entries(&path).map_err(cannot)? {
                    let shown = format!("{DATA}/{inner}");
                    let earlier =
                        parse_shard_name(&inner).is_some() || inner.starts_with(".protmask-");
                    if earlier && p.is_file() {
                        replaced.push(shown);
                        stale.push(p);
                    } else if !is_ours(&p) {
                        others.push(shown);
                    }
                }
            } else {
                others.push(name);
            }
        }
        let empty = replaced.is_empty() && others.is_empty();
        if !force && !empty {
            let mut all = replaced;
            all.extend(others);
            all.sort();
            return Err(UsageError::FolderNotEmpty {
                dir: shown_dir,
                files: named(&all),
            }
            .into());
        }
        if !others.is_empty() {
            return Err(UsageError::FolderHasOtherFiles {
                dir: shown_dir,
                files: named(&others),
            }
            .into());
        }
        let data = dir.join(DATA);
        let made = MadeDirs::create(&data)
            .map_err(|e| anyhow::anyhow!("cannot create dataset folder '{shown_dir}': {e}"))?;
        Ok(Folder {
            dir: dir.to_path_buf(),
            made,
            stale,
        })
    }

    /// The earlier dataset's shards go, just before the new files are renamed into place
    /// (the card is replaced by the rename).
    pub fn remove_stale(&mut self) -> io::Result<()> {
        for p in std::mem::take(&mut self.stale) {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot remove the earlier shard '{}': {e}", p.display()),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The run is published: the folders it made stay.
    pub fn keep(self) {
        self.made.keep();
    }
}

/// The entries of `dir` (none if it does not exist), sorted by name.
fn entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in listing {
        let entry = entry?;
        found.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    found.sort();
    Ok(found)
}

/// `a, b, c and 4 more` (sorted).
fn named(files: &[String]) -> String {
    let mut sorted = files.to_vec();
    sorted.sort();
    let shown = sorted[..sorted.len().min(NAMED)].join(", ");
    match sorted.len().saturating_sub(NAMED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_read_back_and_other_names_do_not() {
        assert_eq!(shard_name("train", 3, 12), "train-00003-of-00012.parquet");
        assert_eq!(
            parse_shard_name("train-00003-of-00012.parquet"),
            Some(("train", 3, 12))
        );
        assert_eq!(
            parse_shard_name("my-split-00000-of-00001.parquet"),
            Some(("my-split", 0, 1))
        );
        assert_eq!(
            parse_shard_name("train-123456-of-200000.parquet"),
            Some(("train", 123456, 200000))
        );
        for bad in [
            "train-0003-of-00012.parquet",
            "train-00012-of-00012.parquet",
            "-00000-of-00001.parquet",
            "train-00000-of-00001.parquet.tmp",
            "train-0000a-of-00001.parquet",
            "README.md",
            "train.parquet",
        ] {
            assert_eq!(parse_shard_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_trailing_slash_names_a_folder() {
        assert_eq!(folder_of("out/"), Some(PathBuf::from("out")));
        assert_eq!(folder_of("out//"), Some(PathBuf::from("out")));
        assert_eq!(folder_of("./"), Some(PathBuf::from(".")));
        assert_eq!(folder_of("/"), Some(PathBuf::from("/")));
        assert_eq!(folder_of("out"), None);
        assert_eq!(folder_of("x.parquet"), None);
        assert_eq!(shown(Path::new("out")), "out/");
        assert_eq!(shown(Path::new("/")), "/");
        assert_eq!(
            folder_of_shard(Path::new("a/out/data/train-00000-of-00001.parquet")),
            Some(Path::new("a/out"))
        );
        assert_eq!(folder_name(Path::new("a/out")), "out");
        assert_eq!(folder_name(Path::new(".")), "dataset");
    }

    #[test]
    fn a_folder_in_use_is_refused_and_force_replaces_only_a_dataset() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ds");
        // Missing: made, and removed again when dropped (the run failed).
        let f = Folder::prepare(&dir, false, &[]).unwrap();
        assert!(dir.join(DATA).is_dir());
        drop(f);
        assert!(!dir.exists());
        // An earlier dataset: refused without --force, naming its files.
        fs::create_dir_all(dir.join(DATA)).unwrap();
        for i in 0..4 {
            fs::write(dir.join(DATA).join(shard_name("train", i, 4)), "x").unwrap();
        }
        fs::write(dir.join(CARD), "card").unwrap();
        let e = Folder::prepare(&dir, false, &[]).unwrap_err().to_string();
        assert!(
            e.contains("(README.md, data/train-00000-of-00004.parquet, data/train-00001-of-00004.parquet and 2 more)"),
            "{e}"
        );
        assert!(e.contains("--force"), "{e}");
        let mut f = Folder::prepare(&dir, true, &[]).unwrap();
        assert_eq!(f.stale.len(), 4);
        f.remove_stale().unwrap();
        assert!(fs::read_dir(dir.join(DATA)).unwrap().next().is_none());
        f.keep();
        // Another file: refused even with --force, unless the run writes it.
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = Folder::prepare(&dir, true, &[]).unwrap_err().to_string();
        assert!(e.contains("notes.txt") && e.contains("move"), "{e}");
        assert!(Folder::prepare(&dir, true, &[dir.join("notes.txt")]).is_ok());
        // A file where the folder should be.
        let file = root.path().join("file");
        fs::write(&file, "x").unwrap();
        let e = Folder::prepare(&file, true, &[]).unwrap_err().to_string();
        assert!(e.contains("is a file"), "{e}");
    }
}
