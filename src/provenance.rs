//! What a Parquet dataset says about how it was made: the resolved options, the protmask
//! version, the RNG scheme and the inputs' digests, as key-value metadata in its footer
//! (keys `protmask.*`), so that `verify` needs no flag retyped and a file that travels
//! alone still names what it was made from. The values are a manifest's (`options` is
//! `MaskConfig` serialised, `inputs` its `FileEntry` list): one definition, one serde.
//!
//! The inputs' digests are known only once the last input is read; the footer is written
//! when the file is closed, so it can carry them. JSON Lines has no place for metadata and
//! stays without: its `verify` takes the flags, `--preset` or a manifest.

use std::path::Path;

use anyhow::Result;

use crate::config::MaskConfig;
use crate::engine::{Job, Summary};
use crate::manifest::{FileEntry, input_entries, recorded_options};
use crate::rng::SCHEME_VERSION;

/// The protmask version that wrote the file (`0.3.0`).
pub const VERSION: &str = "protmask.version";
/// The resolved options: a manifest's `options` (JSON).
pub const OPTIONS: &str = "protmask.options";
/// The RNG scheme version (a decimal number).
pub const RNG_SCHEME: &str = "protmask.rng_scheme";
/// The inputs as a manifest records them (a JSON list of path, bytes, records, sha256).
pub const INPUTS: &str = "protmask.inputs";

/// How a dataset was made, as its metadata records it.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub version: String,
    pub rng_scheme: u32,
    pub options: MaskConfig,
    pub inputs: Vec<FileEntry>,
}

impl Provenance {
    /// The provenance of a finished run (whose input reports carry their digests), as
    /// its manifest would record it.
    pub(crate) fn of_run(job: &Job, summary: &Summary) -> Result<Provenance> {
        Ok(Provenance {
            version: env!("CARGO_PKG_VERSION").into(),
            rng_scheme: SCHEME_VERSION,
            options: recorded_options(&job.config, summary),
            inputs: match &job.recorded_inputs {
                Some(recorded) => recorded.clone(),
                None => input_entries(&job.inputs, &summary.inputs)?,
            },
        })
    }

    /// The four key-value pairs, in the order of the keys above.
    pub(crate) fn key_values(&self) -> Result<Vec<(&'static str, String)>> {
        Ok(vec![
            (VERSION, self.version.clone()),
            (OPTIONS, serde_json::to_string(&self.options)?),
            (RNG_SCHEME, self.rng_scheme.to_string()),
            (INPUTS, serde_json::to_string(&self.inputs)?),
        ])
    }

    /// Read back from key-value pairs: `None` if there is no `protmask.options` (a file
    /// written before 0.3, or by another tool); an error, naming the key, if one of the
    /// four is missing or does not read.
    pub fn from_key_values<'a>(
        pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Option<Provenance>, String> {
        let pairs: Vec<(&str, Option<&str>)> = pairs.into_iter().collect();
        let get = |key: &str| -> Result<&str, String> {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| *v)
                .ok_or_else(|| format!("its metadata has {OPTIONS} but no {key}"))
        };
        if !pairs.iter().any(|(k, _)| *k == OPTIONS) {
            return Ok(None);
        }
        let bad = |key: &str, e: &dyn std::fmt::Display| format!("metadata {key}: {e}");
        let options = get(OPTIONS)?;
        let rng_scheme = get(RNG_SCHEME)?;
        let inputs = get(INPUTS)?;
        Ok(Some(Provenance {
            version: get(VERSION)?.to_string(),
            rng_scheme: rng_scheme.parse().map_err(|e| bad(RNG_SCHEME, &e))?,
            options: serde_json::from_str(options).map_err(|e| bad(OPTIONS, &e))?,
            inputs: serde_json::from_str(inputs).map_err(|e| bad(INPUTS, &e))?,
        }))
    }

    /// What the Parquet file, or every shard of the dataset folder, at `path` records:
    /// the shards must all record the same (a shard of another run is an error naming
    /// it). Footers alone are read; errors do not name `path`.
    pub fn of_dataset(path: &Path) -> Result<Option<Provenance>, String> {
        if !path.is_dir() {
            return Provenance::of_parquet(path);
        }
        let splits = crate::sink::shards::read_folder(path)?;
        let mut shards = splits.iter().flat_map(|(_, files)| files);
        let Some(first) = shards.next() else {
            return Ok(None);
        };
        let recorded =
            Provenance::of_parquet(first).map_err(|e| format!("{}: {e}", first.display()))?;
        for shard in shards {
            let this =
                Provenance::of_parquet(shard).map_err(|e| format!("{}: {e}", shard.display()))?;
            if this != recorded {
                return Err(format!(
                    "'{}' records another run than '{}' (its protmask.* metadata differs)",
                    shard.display(),
                    first.display()
                ));
            }
        }
        Ok(recorded)
    }

    /// What the Parquet file at `path` records (its footer alone is read); errors do not
    /// name the file.
    pub fn of_parquet(path: &Path) -> Result<Option<Provenance>, String> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
        let Some(kv) = reader.metadata().file_metadata().key_value_metadata() else {
            return Ok(None);
        };
        Provenance::from_key_values(kv.iter().map(|p| (p.key.as_str(), p.value.as_deref())))
    }
}

/// Equal when they record the same (`MaskConfig` compares by its JSON form, as recorded).
impl PartialEq for Provenance {
    fn eq(&self, other: &Provenance) -> bool {
        self.key_values().ok() == other.key_values().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MaskOptions;

    fn provenance() -> Provenance {
        Provenance {
            version: "0.3.0".into(),
            rng_scheme: 1,
            options: MaskConfig::resolve(MaskOptions::default()).unwrap(),
            inputs: vec![FileEntry {
                role: None,
                path: "in.fa".into(),
                bytes: 12,
                records: 2,
                sha256: "ab".repeat(32),
                content_bytes: Some(12),
                content_sha256: Some("ab".repeat(32)),
            }],
        }
    }

    #[test]
    fn key_values_read_back_and_a_file_without_them_has_none() {
        let p = provenance();
        let kv = p.key_values().unwrap();
        let keys: Vec<&str> = kv.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [VERSION, OPTIONS, RNG_SCHEME, INPUTS]);
        let pairs = kv.iter().map(|(k, v)| (*k, Some(v.as_str())));
        assert_eq!(Provenance::from_key_values(pairs).unwrap(), Some(p));
        // Another tool's metadata (pandas, an older protmask): nothing recorded.
        let other = [("pandas", Some("{}")), ("ARROW:schema", Some("..."))];
        assert_eq!(Provenance::from_key_values(other).unwrap(), None);
    }

    #[test]
    fn a_missing_or_broken_key_is_an_error_naming_it() {
        let kv = provenance().key_values().unwrap();
        let without = |key: &str| {
            let pairs = kv.iter().filter(|(k, _)| *k != key);
            Provenance::from_key_values(pairs.map(|(k, v)| (*k, Some(v.as_str())))).unwrap_err()
        };
        assert_eq!(
            without(INPUTS),
            "its metadata has protmask.options but no protmask.inputs"
        );
        assert!(without(VERSION).ends_with("no protmask.version"));
        let broken = kv
            .iter()
            .map(|(k, v)| (*k, Some(if *k == OPTIONS { "{\"preset\": 3}" } else { v })));
        let e = Provenance::from_key_values(broken).unwrap_err();
        assert!(e.starts_with("metadata protmask.options: "), "{e}");
    }
}
