//! Compression, one enum for inputs and outputs: detected from an input's first bytes
//! (never its name), chosen for an output by its file name's extension or `--compress`,
//! and recorded in a manifest by its `--compress` name.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// File name extensions of compressed files (lowercase).
const EXTENSIONS: &[(&str, Compression)] = &[
    ("gz", Compression::Gzip),
    ("bgz", Compression::Gzip),
    ("bgzf", Compression::Gzip),
    ("bz2", Compression::Bzip2),
    ("xz", Compression::Xz),
    ("zst", Compression::Zstd),
    ("zstd", Compression::Zstd),
];

/// How a stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    /// gzip; written as BGZF (blocked gzip, readable by any gzip reader and indexable by
    /// samtools); read in any form, concatenated members included.
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// Detect the compression from the first bytes of a stream (fewer than 6 bytes is
    /// fine: a stream too short for a magic number is plain).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// From the file name's last extension, case-insensitive: `.gz`/`.bgz`/`.bgzf` gzip
    /// (BGZF), `.bz2`, `.xz`, `.zst`/`.zstd`; anything else (`.fa`, `.csv`, none) is
    /// uncompressed. So `rates.csv.gz` is gzip.
    pub fn from_path(p: &Path) -> Compression {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        Compression::split_name(&name).1
    }

    /// A file name without the compression extension that `from_path` reads (the name as
    /// it is when there is none), and that compression.
    pub fn split_name(name: &str) -> (&str, Compression) {
        let Some((stem, ext)) = name.rsplit_once('.') else {
            return (name, Compression::None);
        };
        let ext = ext.to_ascii_lowercase();
        match EXTENSIONS.iter().find(|(e, _)| *e == ext) {
            Some(&(_, c)) => (stem, c),
            None => (name, Compression::None),
        }
    }

    /// The `--compress` name, also what a manifest records: `none`, `gz`, `bz2`, `xz`,
    /// `zst`.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gz",
            Compression::Bzip2 => "bz2",
            Compression::Xz => "xz",
            Compression::Zstd => "zst",
        }
    }

    /// The format's own name, as messages about a stream use it: `plain`, `gzip`,
    /// `bzip2`, `xz`, `zstd`.
    pub fn format_name(&self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses the `--compress` names `gz`, `bz2`, `xz`, `zst` (case-insensitive; the aliases
/// `gzip`, `bgzf`, `bzip2`, `zstd` and `none` are accepted too).
impl FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gz" | "gzip" | "bgzf" | "bgz" => Ok(Compression::Gzip),
            "bz2" | "bzip2" => Ok(Compression::Bzip2),
            "xz" => Ok(Compression::Xz),
            "zst" | "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            _ => Err(format!(
                "unknown compression '{s}': expected one of gz, bz2, xz, zst"
            )),
        }
    }
}

impl serde::Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_extensions_and_magic_agree() {
        for c in [
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let file = format!("x.fa.{}", c.name());
            assert_eq!(Compression::from_path(Path::new(&file)), c);
            assert_eq!(Compression::split_name(&file), ("x.fa", c));
            assert_eq!(c.name().parse::<Compression>(), Ok(c));
            assert_eq!(c.format_name().parse::<Compression>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Compression>(&json).unwrap(), c);
        }
        assert_eq!(
            Compression::split_name("rates.TSV.GZ"),
            ("rates.TSV", Compression::Gzip)
        );
        assert_eq!(
            Compression::split_name("a.csv"),
            ("a.csv", Compression::None)
        );
        assert_eq!(
            Compression::from_path(Path::new("dir.gz/a.fa")),
            Compression::None
        );
        assert_eq!(Compression::detect(b">sp"), Compression::None);
        assert_eq!(
            serde_json::to_string(&None::<Compression>).unwrap(),
            "null",
            "a manifest's `compress` without --compress"
        );
    }
}
