//! Temporary files that must not outlive the process, even when it is interrupted.
//!
//! Outputs are written to `.protmask-*` temp files and renamed into place at the end;
//! normally `Drop` removes them on failure. A signal (SIGINT, SIGTERM, SIGHUP) ends the
//! process without running destructors, so every temp path is also registered here, and
//! the binary's signal handler calls `remove_all` before exiting with `INTERRUPTED`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Exit status after a signal (128 + SIGINT, as shells report an interrupted command).
pub const INTERRUPTED: i32 = 130;

fn registry() -> &'static Mutex<HashSet<PathBuf>> {
    static PATHS: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    PATHS.get_or_init(Default::default)
}

/// A registered temp path; dropping it unregisters the path (not deleting it).
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Registered {
    pub fn new(path: &Path) -> Registered {
        if let Ok(mut paths) = registry().lock() {
            paths.insert(path.to_path_buf());
        }
        Registered(path.to_path_buf())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut paths) = registry().lock() {
            paths.remove(&self.0);
        }
    }
}

/// Remove everything registered (files, or directories with their contents).
pub fn remove_all() {
    let paths: Vec<PathBuf> = match registry().lock() {
        Ok(paths) => paths.iter().cloned().collect(),
        Err(_) => return,
    };
    for p in paths {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
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
}
