//! Temporary files that must not outlive the process, even when it is interrupted, and
//! output directories that must not outlive a run that did not finish.
//!
//! Outputs are written to `.protmask-*` temp files and renamed into place at the end;
//! normally `Drop` removes them on failure. A signal (SIGINT, SIGTERM, SIGHUP) ends the
//! process without running destructors, so every temp path is also registered here, and
//! the binary's signal handler calls `remove_all` before exiting with 128 + the signal
//! (`INTERRUPTED`, `TERMINATED`). A directory made for `--outdir` (`MadeDirs`) is removed
//! too, after the temp files in it, and only if it is then empty: one that existed before
//! the run is never touched.
//!
//! Other threads go on running while the handler cleans up, and a dataset folder's writer
//! opens a new shard every so many rows: a temp file made after the handler took its list
//! would outlive the process and keep its folder (a made directory) from being removed.
//! So temp paths are made and registered under a gate (`Registered::make`), which the
//! handler closes for good before it takes the list (`remove_all_at_exit`): a thread that
//! would make one then waits for the exit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock};

/// Exit status after SIGINT (128 + 2, as shells report an interrupted command).
pub const INTERRUPTED: i32 = 130;
/// Exit status after SIGTERM (128 + 15).
pub const TERMINATED: i32 = 143;

/// What a registered path is, and so how it is removed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A temp file or directory: removed with its contents.
    Temp,
    /// A directory the run made: removed after every temp path, if empty.
    Made,
}

/// Held shared while a temp path is made and registered; `remove_all_at_exit` takes it
/// and never gives it back.
static GATE: RwLock<()> = RwLock::new(());

fn registry() -> &'static Mutex<HashMap<PathBuf, Kind>> {
    static PATHS: OnceLock<Mutex<HashMap<PathBuf, Kind>>> = OnceLock::new();
    PATHS.get_or_init(Default::default)
}

fn register(path: &Path, kind: Kind) {
    if let Ok(mut paths) = registry().lock() {
        paths.insert(path.to_path_buf(), kind);
    }
}

fn unregister(path: &Path) {
    if let Ok(mut paths) = registry().lock() {
        paths.remove(path);
    }
}

/// A registered temp path; dropping it unregisters the path (not deleting it).
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Registered {
    pub fn new(path: &Path) -> Registered {
        register(path, Kind::Temp);
        Registered(path.to_path_buf())
    }

    /// `make` a temp file or directory and register it, as one step against a signal's
    /// cleanup: none is made once `remove_all_at_exit` has begun (the caller waits for the
    /// exit), and none made before it is missing from its list.
    pub fn make<T: AsRef<Path>>(
        make: impl FnOnce() -> std::io::Result<T>,
    ) -> std::io::Result<(T, Registered)> {
        let _open = GATE.read().unwrap_or_else(PoisonError::into_inner);
        let made = make()?;
        let registered = Registered::new(made.as_ref());
        Ok((made, registered))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        unregister(&self.0);
    }
}

/// The directories `create` made (those of a path that did not exist), removed again,
/// innermost first and only while empty, when dropped (the run failed) or by
/// `remove_all` (a signal), unless `keep` is called (the run finished).
#[derive(Debug)]
pub struct MadeDirs(Vec<PathBuf>);

impl MadeDirs {
    /// Make `dir` and its missing parents (`create_dir_all`), remembering which were made.
    pub fn create(dir: &Path) -> std::io::Result<MadeDirs> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            at = d.parent();
        }
        // Registered before they exist, so a signal during `create_dir_all` finds them.
        for d in &missing {
            register(d, Kind::Made);
        }
        let made = MadeDirs(missing);
        std::fs::create_dir_all(dir)?;
        Ok(made)
    }

    /// The run finished: the directories stay.
    pub fn keep(mut self) {
        for d in std::mem::take(&mut self.0) {
            unregister(&d);
        }
    }
}

impl Drop for MadeDirs {
    fn drop(&mut self) {
        // Innermost first (they were found from the inside out).
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
            unregister(d);
        }
    }
}

/// A signal's cleanup, before the process exits: close the gate of `Registered::make` for
/// good (waiting for a temp path being made to be registered), then `remove_all`.
pub fn remove_all_at_exit() {
    std::mem::forget(GATE.write().unwrap_or_else(PoisonError::into_inner));
    remove_all();
}

/// Remove everything registered: temp files (or directories, with their contents), then
/// the directories the run made, innermost first, if empty.
pub fn remove_all() {
    let paths: Vec<(PathBuf, Kind)> = match registry().lock() {
        Ok(paths) => paths.iter().map(|(p, k)| (p.clone(), *k)).collect(),
        Err(_) => return,
    };
    for (p, _) in paths.iter().filter(|(_, k)| *k == Kind::Temp) {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    }
    let mut made: Vec<&PathBuf> = paths
        .iter()
        .filter(|(_, k)| *k == Kind::Made)
        .map(|(p, _)| p)
        .collect();
    made.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in made {
        let _ = std::fs::remove_dir(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_paths_are_removed_and_dropped_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join(".protmask-a");
        let b = dir.path().join(".protmask-b");
        let sub = dir.path().join(".protmask-dir");
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x"), "x").unwrap();
        let _ra = Registered::new(&a);
        let rb = Registered::new(&b);
        let _rs = Registered::new(&sub);
        drop(rb);
        remove_all();
        assert!(!a.exists() && !sub.exists());
        assert!(b.exists(), "unregistered paths are left alone");
    }

    #[test]
    fn made_directories_are_removed_only_while_empty_and_kept_when_kept() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        let made = MadeDirs::create(&deep).unwrap();
        assert!(deep.is_dir());
        drop(made);
        assert!(
            !root.path().join("a").exists(),
            "every directory made is removed"
        );
        // One that existed is left; one with a file in it (not the run's) too.
        std::fs::create_dir(root.path().join("x")).unwrap();
        let made = MadeDirs::create(&root.path().join("x/y")).unwrap();
        std::fs::write(root.path().join("x/y/user.txt"), "u").unwrap();
        drop(made);
        assert!(root.path().join("x/y/user.txt").exists());
        let made = MadeDirs::create(&root.path().join("k")).unwrap();
        made.keep();
        remove_all();
        assert!(root.path().join("k").is_dir(), "kept");
    }
}
