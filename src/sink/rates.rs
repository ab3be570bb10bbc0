//! The rates table: one row per emitted record, `file,id,replicate,length,t,rate,masked`
//! (and `positions`), CSV or TSV by the file name, optionally compressed by extension.
//! Everything about the table is here: its name rule, header, rows and positions.
//!
//! Rows are written by hand rather than through the csv crate's writer because a row per
//! record is on the hot path; the quoting rule is the csv crate's (a field is quoted when
//! it holds the delimiter, a quote or a line break), and a test holds the two together.
//! `t` and `rate` use Rust's `{}`: the shortest decimal that reads back as the same f64.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::io::Compression;
use crate::mask::{Marks, Outcome};

use super::Emitted;

/// The columns, in order; `positions` only with `--positions`.
pub fn rates_header(positions: bool) -> Vec<&'static str> {
    let mut h = vec!["file", "id", "replicate", "length", "t", "rate", "masked"];
    if positions {
        h.push("positions");
    }
    h
}

/// A table file: its path and the delimiter its name calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatesTable {
    pub path: PathBuf,
    pub delimiter: u8,
}

/// A table name that is neither `.csv` nor `.tsv`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("rates table '{0}': name it .csv or .tsv (optionally compressed, e.g. rates.tsv.gz)")]
pub struct TableNameError(pub String);

impl RatesTable {
    /// `,` for `.csv`, tab for `.tsv`, after any compression extension that outputs take.
    pub fn new(path: &Path) -> Result<RatesTable, TableNameError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (base, _) = Compression::split_name(&name);
        let delimiter = if base.ends_with(".csv") {
            b','
        } else if base.ends_with(".tsv") {
            b'\t'
        } else {
            return Err(TableNameError(path.display().to_string()));
        };
        Ok(RatesTable {
            path: path.to_path_buf(),
            delimiter,
        })
    }
}

/// Rows of the table for the inputs of one run.
#[derive(Clone, Debug)]
pub struct RatesFormat {
    delimiter: u8,
    positions: bool,
    /// Per input: its `file` field and the delimiter after it, quoted once.
    file_fields: Vec<Vec<u8>>,
}

impl RatesFormat {
    /// `files`: the `file` column of each input, in the job's order.
    pub fn new(delimiter: u8, positions: bool, files: &[String]) -> RatesFormat {
        let file_fields = files
            .iter()
            .map(|file| {
                let mut f = Vec::with_capacity(file.len() + 3);
                push_field(&mut f, file.as_bytes(), delimiter);
                f.push(delimiter);
                f
            })
            .collect();
        RatesFormat {
            delimiter,
            positions,
            file_fields,
        }
    }

    /// The header row.
    pub fn header(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, name) in rates_header(self.positions).iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            out.extend_from_slice(name.as_bytes());
        }
        out.push(b'\n');
        out
    }

    pub fn write(&self, out: &mut Vec<u8>, e: &Emitted) {
        self.row(out, e.file, e.record.id, e.replicate, e.outcome, e.marks);
    }

    /// Append the row of one emitted record. `marks.by_position` must be filled when the
    /// table has positions.
    fn row(
        &self,
        out: &mut Vec<u8>,
        file: usize,
        id: &str,
        replicate: u32,
        o: &Outcome,
        marks: &Marks,
    ) {
        let d = self.delimiter;
        out.extend_from_slice(&self.file_fields[file]);
        push_field(out, id.as_bytes(), d);
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "{d}{replicate}{d}{}{d}{}{d}{}{d}{}",
            o.length,
            o.t,
            o.rate,
            o.masked,
            d = d as char
        );
        if self.positions {
            out.push(d);
            let mut first = true;
            for p in marks.selected() {
                if !first {
                    out.push(b';');
                }
                first = false;
                let _ = write!(out, "{p}");
            }
        }
        out.push(b'\n');
    }
}

/// A field, quoted (with inner quotes doubled) when it holds the delimiter, a quote or a
/// line break, as the csv crate does.
fn push_field(out: &mut Vec<u8>, field: &[u8], delimiter: u8) {
    let needs_quotes = field
        .iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs_quotes {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same row through the csv crate's writer.
    fn csv_row(fields: &[&str], delimiter: u8) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        w.write_record(fields).unwrap();
        w.into_inner().unwrap()
    }

    #[test]
    fn rows_match_the_csv_crate_including_quoting() {
        let outcome = Outcome {
            t: 0.1 + 0.2,
            rate: 1e-7,
            length: 12,
            masked: 3,
        };
        let mut marks = Marks::default();
        marks.by_position = vec![0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, b'K'];
        for delimiter in [b',', b'\t'] {
            for file in ["in.fa", "my,file.fa", "tab\there.fa", "-", "a\"b.fa"] {
                for id in ["sp|P1|X", "a,b", "q\"uote", "t\tab"] {
                    for positions in [false, true] {
                        let w = RatesFormat::new(delimiter, positions, &[file.to_string()]);
                        let mut ours = Vec::new();
                        w.row(&mut ours, 0, id, 2, &outcome, &marks);
                        let mut fields = vec![
                            file.to_string(),
                            id.to_string(),
                            "2".into(),
                            "12".into(),
                            format!("{}", 0.1 + 0.2),
                            "0.0000001".into(),
                            "3".into(),
                        ];
                        if positions {
                            fields.push("1;3;11".into());
                        }
                        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                        assert_eq!(
                            String::from_utf8(ours).unwrap(),
                            String::from_utf8(csv_row(&refs, delimiter)).unwrap()
                        );
                    }
                }
            }
            let header = RatesFormat::new(delimiter, true, &[]).header();
            assert_eq!(header, csv_row(&rates_header(true), delimiter));
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    /// Every compression suffix an output takes is taken by the table too (`.bgzf` was
    /// refused while `-o x.fa.bgzf` worked).
    #[test]
    fn every_output_compression_suffix_is_accepted() {
        for ext in [
            "", ".gz", ".bgz", ".bgzf", ".bz2", ".xz", ".zst", ".zstd", ".GZ",
        ] {
            for (base, d) in [("r.csv", b','), ("r.tsv", b'\t'), ("R.CSV", b',')] {
                let p = format!("{base}{ext}");
                assert_eq!(
                    RatesTable::new(Path::new(&p)).map(|t| t.delimiter),
                    Ok(d),
                    "{p}"
                );
            }
        }
        for bad in ["r.txt", "r.csv.txt", "r", "-", "r.gz", "csv"] {
            assert!(RatesTable::new(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
