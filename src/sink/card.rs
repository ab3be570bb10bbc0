//! The dataset card of a dataset folder: `DIR/README.md`, as Hugging Face reads it.
//!
//! Its YAML header fixes what `load_dataset(DIR)` builds: `configs` maps each split to
//! its shards (`data/{split}-*`), and `dataset_info` gives the column types in the
//! `datasets` library's feature syntax (`dtype: string`, `list: int32`; as
//! `DatasetInfo._to_yaml_dict` writes them in datasets 4 and 5) and each split's row count,
//! which `load_dataset` checks. The types come from the one Arrow schema the shards are
//! written with (`parquet::schema_for`), so the card cannot disagree with the files. The
//! body says how the set was made (the command, version, seed, preset, split rule, inputs
//! with their digests) and how to load it.
//!
//! The card is made from the recorded options and inputs only, never from the command line
//! as typed or the paths of the run's other outputs: `regenerate` (which writes elsewhere)
//! then rebuilds it byte for byte.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use arrow_schema::{DataType, Schema};

use super::shards::{self, CARD};
use crate::io::{Compression, OutputTarget, PendingOutput, create_output_on};
use crate::provenance::Provenance;

/// One split of a dataset folder, as its card describes it.
#[derive(Clone, Debug)]
pub(crate) struct CardSplit {
    pub name: String,
    /// Its shards, in order.
    pub shards: usize,
    pub rows: u64,
}

/// Write the card of the folder `dir` (complete, not yet published).
pub(crate) fn write(
    dir: &Path,
    splits: &[CardSplit],
    provenance: &Provenance,
    shard_rows: u64,
    digest: bool,
) -> io::Result<PendingOutput> {
    let text = render(dir, splits, provenance, shard_rows)?;
    let target = OutputTarget::Path(dir.join(CARD));
    let mut out = create_output_on(target, Compression::None, None, digest)?;
    out.write_all(text.as_bytes())?;
    out.close()
}

/// The card's text.
pub(crate) fn render(
    dir: &Path,
    splits: &[CardSplit],
    provenance: &Provenance,
    shard_rows: u64,
) -> io::Result<String> {
    let options = &provenance.options;
    let schema = super::parquet::schema_for(options);
    let name = shards::folder_name(dir).to_string_lossy().into_owned();
    let mut s = String::from("---\nconfigs:\n- config_name: default\n  data_files:\n");
    for split in splits {
        let _ = write!(
            s,
            "  - split: {}\n    path: {}\n",
            scalar(&split.name),
            scalar(&format!("{}/{}-*", shards::DATA, split.name))
        );
    }
    s.push_str("dataset_info:\n  features:\n");
    s.push_str(&features(&schema)?);
    s.push_str("  splits:\n");
    for split in splits {
        let _ = write!(
            s,
            "  - name: {}\n    num_examples: {}\n",
            scalar(&split.name),
            split.rows
        );
    }
    s.push_str("---\n\n");
    let _ = writeln!(s, "# {name}\n");
    let tokens = match options.tokens {
        Some(v) => format!(", and `input_ids` and `labels` in the {v} vocabulary"),
        None => String::new(),
    };
    if options.scan.is_some() {
        let _ = writeln!(
            s,
            "An evaluation set of protein sequences by protmask {} (`protmask scan`): one row \
             per scanned position (or set of positions) of a record, that position masked and \
             nothing else, with the original and the masked sequence and the masked \
             positions{tokens}. Nothing is drawn.\n",
            provenance.version
        );
    } else {
        let _ = writeln!(
            s,
            "Protein sequences masked for masked language models by protmask {}: one row per \
             record and replicate, with the original and the masked sequence, the timestep, \
             the mask rate and the selected positions{tokens}.\n",
            provenance.version
        );
    }
    s.push_str("## How it was made\n\n```\n");
    s.push_str(&command(&name, provenance));
    s.push_str("\n```\n\n");
    let _ = writeln!(
        s,
        "- protmask {}, RNG scheme {}",
        provenance.version, provenance.rng_scheme
    );
    if options.scan.is_some() {
        let window = options.max_length.map_or(String::new(), |n| {
            format!(", windows of {n} (ProteinGym's rule)")
        });
        let _ = writeln!(
            s,
            "- preset {}: mask token {}{window}; no seed (a scan draws nothing)",
            code(&options.preset.to_string()),
            code(&options.mask_token)
        );
    } else {
        let _ = writeln!(
            s,
            "- preset {}, seed {}: schedule {}, mode {}, mask token {}",
            code(&options.preset.to_string()),
            options.seed,
            code(options.schedule.spec()),
            code(&options.mode.to_string()),
            code(&options.mask_token)
        );
    }
    let _ = writeln!(s, "- split: {}", split_rule(splits, options));
    s.push_str("- inputs (records, SHA-256):\n");
    for input in &provenance.inputs {
        let _ = writeln!(
            s,
            "  - {}: {} records, {}",
            code(&input.path),
            input.records,
            input.sha256
        );
    }
    for split in splits {
        let _ = writeln!(
            s,
            "- {}: {} in {} of at most {} rows, in input order",
            code(&split.name),
            crate::counted(split.rows, "row", "rows"),
            crate::counted(split.shards as u64, "shard", "shards"),
            shard_rows
        );
    }
    s.push_str(
        "\n`protmask verify` checks the rows against the inputs, and `protmask regenerate` \
         rebuilds every file byte for byte from the run's manifest.\n\n",
    );
    s.push_str("## Loading\n\n```python\nfrom datasets import load_dataset\n\n");
    let _ = writeln!(s, "ds = load_dataset(\"path/to/{name}\")");
    s.push_str("```\n\n");
    let _ = writeln!(
        s,
        "polars: `pl.scan_parquet(\"{name}/data/*.parquet\")`; DuckDB: \
         `SELECT * FROM '{name}/data/*.parquet'`. The columns are described in protmask's \
         reference (docs/reference.md, \"Dataset\")."
    );
    Ok(s)
}

/// The `features` list: each column's name and type in `datasets`' YAML syntax.
fn features(schema: &Schema) -> io::Result<String> {
    let mut s = String::new();
    for field in schema.fields() {
        let kind = match field.data_type() {
            DataType::List(item) => format!("list: {}", value_type(item.data_type())?),
            other => format!("dtype: {}", value_type(other)?),
        };
        let _ = write!(s, "  - name: {}\n    {kind}\n", scalar(field.name()));
    }
    Ok(s)
}

/// A `datasets` `Value` type name.
fn value_type(t: &DataType) -> io::Result<&'static str> {
    Ok(match t {
        DataType::Utf8 => "string",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        DataType::Float64 => "float64",
        other => {
            return Err(io::Error::other(format!(
                "internal error: no Hugging Face type for the column type {other}"
            )));
        }
    })
}

/// The command that makes this folder: the recorded options (those that differ from the
/// preset's), the folder by its own name, the inputs as recorded; shell-quoted.
fn command(name: &str, provenance: &Provenance) -> String {
    let o = &provenance.options;
    let scan = o.scan.as_ref();
    let mut words = vec!["protmask".to_string()];
    match scan {
        Some(_) => words.extend(["scan".to_string()].into_iter().chain(o.scan_flags(None))),
        None => words.extend(["mask".to_string()].into_iter().chain(o.flags(None))),
    }
    words.push(format!("--dataset={name}/"));
    let inputs = provenance.inputs.iter().map(|i| i.path.clone());
    match scan.and_then(|s| s.variants.as_ref()) {
        Some(_) => words.extend(inputs.map(|p| format!("--reference={p}"))),
        None => words.extend(["--".to_string()].into_iter().chain(inputs)),
    }
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
    quoted.join(" ")
}

/// How rows were split.
fn split_rule(splits: &[CardSplit], options: &crate::config::MaskConfig) -> String {
    let Some(rule) = &options.split else {
        let names: Vec<String> = splits.iter().map(|s| code(&s.name)).collect();
        return match splits {
            [one] if one.name == shards::DEFAULT_SPLIT => {
                format!("none, every row is in {}", code(shards::DEFAULT_SPLIT))
            }
            _ => names.join(", "),
        };
    };
    let key = match &options.split_groups {
        Some(g) => format!(
            "its cluster representative's ID (groups file {})",
            code(&g.path)
        ),
        None => "its ID".to_string(),
    };
    format!(
        "{} with split seed {}: each record by a keyed SHA-256 of {key}, whatever the mask \
         seed, order, threads or sharding (docs/reference.md, \"Splits\")",
        code(&rule.to_string()),
        options.split_seed.unwrap_or(0)
    )
}

/// A word as a POSIX shell reads it back: bare when it is made of safe characters, else in
/// single quotes.
fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Markdown inline code that shows `text` as it is, whatever backticks it holds.
fn code(text: &str) -> String {
    let mut fence = "`".to_string();
    while text.contains(fence.as_str()) {
        fence.push('`');
    }
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A YAML scalar: bare when YAML reads it back as the same string (letters, digits and a
/// few marks, not a word YAML 1.1 reads as a boolean or null, not a number), else a JSON
/// string, which YAML reads as a double-quoted scalar.
fn scalar(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./*".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
        );
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_read_otherwise() {
        assert_eq!(scalar("train"), "train");
        assert_eq!(scalar("data/train-*"), "data/train-*");
        for odd in ["yes", "No", "null", "0.5", "12", "a b", "*x", "a: b", ""] {
            assert!(scalar(odd).starts_with('"'), "{odd}");
        }
        assert_eq!(quote("--seed=42"), "--seed=42");
        assert_eq!(
            quote("0.8*beta(3,9) + 0.2*uniform"),
            "'0.8*beta(3,9) + 0.2*uniform'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("_"), "`_`");
    }
}
