//! The rates table: one row per emitted record, `file,id,replicate,length,t,rate,masked`
//! (and `positions`), CSV or TSV by the file name (`Format::for_file`), optionally
//! compressed by extension. Everything else about the table is here: header, rows,
//! positions, quoting.
//!
//! Rows are written by hand rather than through the csv crate's writer because a row per
//! record is on the hot path; the quoting rule is the csv crate's (a field is quoted when
//! it holds the delimiter, a quote or a line break), and a test holds the two together.
//! `t` and `rate` use Rust's `{}`: the shortest decimal that reads back as the same f64.

use std::io::Write as _;

use crate::mask::{Marks, Outcome};

use super::{Emitted, Encoder, Scratch};

/// The columns a run with `--max-length` adds after the others: the window's start in
/// the original (0 for a record not cropped) and the original's length.
pub const CROP_COLUMNS: [&str; 2] = ["crop_start", "original_length"];

/// The column a run with `--split` adds last: the record's split.
pub const SPLIT_COLUMN: &str = "split";

/// The columns, in order; `positions` only with `--positions`, then `CROP_COLUMNS` with
/// `--max-length` (`RatesFormat::with_crop`), then `SPLIT_COLUMN` with `--split`
/// (`RatesFormat::with_split`).
pub fn rates_header(positions: bool) -> Vec<&'static str> {
    let mut h = vec!["file", "id", "replicate", "length", "t", "rate", "masked"];
    if positions {
        h.push("positions");
    }
    h
}

/// Rows of the table for the inputs of one run.
#[derive(Clone, Debug)]
pub struct RatesFormat {
    delimiter: u8,
    positions: bool,
    /// `CROP_COLUMNS` follow.
    crop: bool,
    /// The split names, when `SPLIT_COLUMN` comes last.
    splits: Option<Vec<String>>,
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
            crop: false,
            splits: None,
            file_fields,
        }
    }

    /// With `crop_start` and `original_length` (a run with `--max-length`).
    pub fn with_crop(mut self, crop: bool) -> RatesFormat {
        self.crop = crop;
        self
    }

    /// With `split` last (a run with `--split`: its split names, in order; they hold
    /// neither delimiter nor quote).
    pub fn with_split(mut self, splits: Option<Vec<String>>) -> RatesFormat {
        self.splits = splits;
        self
    }

    /// The header row.
    pub fn header(&self) -> Vec<u8> {
        self.preamble()
    }
}

impl Encoder for RatesFormat {
    fn preamble(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut names = rates_header(self.positions);
        if self.crop {
            names.extend(CROP_COLUMNS);
        }
        if self.splits.is_some() {
            names.push(SPLIT_COLUMN);
        }
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            out.extend_from_slice(name.as_bytes());
        }
        out.push(b'\n');
        out
    }

    fn write(&self, out: &mut Vec<u8>, e: &Emitted, _: &mut Scratch) {
        self.row(out, e.file, e.record.id, e.replicate, e.outcome, e.marks);
        if self.crop {
            let (start, len) = match e.window {
                Some(w) => (w.start, w.original_length),
                None => (0, e.record.seq.len()),
            };
            out.pop();
            let d = self.delimiter as char;
            let _ = writeln!(out, "{d}{start}{d}{len}");
        }
        if let (Some(names), Some(i)) = (&self.splits, e.split) {
            out.pop();
            out.push(self.delimiter);
            out.extend_from_slice(names[i].as_bytes());
            out.push(b'\n');
        }
    }
}

impl RatesFormat {
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
            drawn: 3,
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
