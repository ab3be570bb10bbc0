//! SHA-256 digests of files and streams, the one way protmask computes them (manifests,
//! `verify`, regions files): the size in bytes and the lowercase hex SHA-256.

use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// The size and SHA-256 (lowercase hex) of some bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    pub bytes: u64,
    pub sha256: String,
}

impl FileDigest {
    /// Of bytes in memory.
    pub fn of(bytes: &[u8]) -> FileDigest {
        let mut h = Hasher::default();
        h.update(bytes);
        h.finish()
    }

    /// Of everything `reader` gives.
    pub fn of_reader(mut reader: impl Read) -> io::Result<FileDigest> {
        let mut h = Hasher::default();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(h.finish()),
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Of a file's bytes as stored (compressed or not).
    pub fn of_file(path: &Path) -> io::Result<FileDigest> {
        FileDigest::of_reader(std::fs::File::open(path)?)
    }
}

/// A running digest: feed it bytes, then `finish`.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    bytes: u64,
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.bytes += data.len() as u64;
    }

    pub fn finish(self) -> FileDigest {
        FileDigest {
            bytes: self.bytes,
            sha256: hex::encode(self.sha.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_in_memory_by_reader_and_in_pieces() {
        let d = FileDigest::of(b"abc");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.bytes, 3);
        assert_eq!(FileDigest::of_reader(&b"abc"[..]).unwrap(), d);
        let mut h = Hasher::default();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), d);
    }
}
