//! With a manifest, a file is read more than once (its checksum, its records, and the
//! inputs again to regenerate): stdin or a pipe is first copied into a temporary
//! directory, so that it is read once (a pipe cannot be read twice, nor opened again).
//! The directory is registered with `cleanup`, so a signal does not leave it behind.

use std::io::Read;
use std::path::Path;

use super::VerifyError;
use crate::cleanup::Registered;
use crate::engine::Input;
use crate::io::InputSource;

/// A temporary directory for copies of piped inputs and the regenerated outputs.
pub(super) struct Spool {
    dir: tempfile::TempDir,
    _registered: Registered,
}

impl Spool {
    pub(super) fn new() -> Result<Spool, VerifyError> {
        let (dir, registered) = Registered::make(|| {
            tempfile::Builder::new()
                .prefix(".protmask-verify-")
                .tempdir()
        })
        .map_err(|e| VerifyError::Other {
            file: None,
            message: format!("cannot create a temporary directory: {e}"),
        })?;
        Ok(Spool {
            dir,
            _registered: registered,
        })
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An input as given, or, if it is stdin or not a regular file and `spool` is set, a copy
/// in `spool` (named `what`) read once from it; either way named as the user gave it.
pub(super) fn spooled(
    src: InputSource,
    given: &str,
    spool: Option<&Spool>,
    what: &str,
) -> Result<Input, VerifyError> {
    let regular = src
        .path()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_file() || m.is_dir());
    let name = if src == InputSource::Stdin {
        "-".to_string()
    } else {
        given.to_string()
    };
    let Some(spool) = spool.filter(|_| !regular) else {
        return Ok(Input { source: src, name });
    };
    let copy = spool.path().join(what);
    let cannot_read = |e: std::io::Error| VerifyError::Unreadable {
        file: name.clone(),
        message: format!("cannot read '{given}': {e}"),
    };
    let mut reader: Box<dyn Read> = match &src {
        InputSource::Stdin => Box::new(std::io::stdin()),
        InputSource::Path(p) => Box::new(std::fs::File::open(p).map_err(cannot_read)?),
    };
    let mut out = std::fs::File::create(&copy).map_err(|e| VerifyError::Other {
        file: Some(copy.display().to_string()),
        message: format!("cannot create '{}': {e}", copy.display()),
    })?;
    std::io::copy(&mut reader, &mut out).map_err(cannot_read)?;
    Ok(Input {
        source: InputSource::Path(copy),
        name,
    })
}
