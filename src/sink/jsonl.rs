//! The dataset as JSON Lines (`.jsonl`, optionally compressed like every output): one JSON
//! object a line, made whole on the worker that masks the record.

use super::dataset::Fields;
use super::{Emitted, Encoder, Scratch};
use crate::config::MaskConfig;

/// How JSON rows are made.
pub(super) struct JsonlFormat {
    fields: Fields,
}

impl JsonlFormat {
    pub fn new(config: &MaskConfig, files: &[String]) -> JsonlFormat {
        JsonlFormat {
            fields: Fields::new(config, files),
        }
    }
}

impl Encoder for JsonlFormat {
    fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        let f = &self.fields;
        let bytes = &mut scratch.bytes;
        bytes.clear();
        f.masked_sequence(bytes, e);
        let mut positions = Vec::new();
        e.marks.push_selected(&mut positions);
        let mut row = Row {
            file: &f.files[e.file],
            id: e.record.id,
            replicate: e.replicate,
            length: e.outcome.length,
            t: e.outcome.t,
            rate: e.outcome.rate,
            masked: e.outcome.masked,
            description: f.description(e),
            sequence: std::str::from_utf8(e.record.seq).unwrap_or(""),
            masked_sequence: std::str::from_utf8(bytes).unwrap_or(""),
            positions,
            input_ids: None,
            labels: None,
            crop_start: None,
            original_length: None,
            split: f.split(e),
        };
        if f.crops() {
            let (start, len) = f.crop_fields(e);
            row.crop_start = Some(start);
            row.original_length = Some(len);
        }
        if f.has_tokens() {
            let (mut ids, mut labels) = (Vec::new(), Vec::new());
            f.tokens(e, &mut ids, &mut labels);
            row.input_ids = Some(ids);
            row.labels = Some(labels);
        }
        // Writing into a Vec cannot fail, and every field is plain data.
        let _ = serde_json::to_writer(&mut *out, &row);
        out.push(b'\n');
    }
}

/// One row, borrowed from the record (the positions and token ids computed).
#[derive(serde::Serialize)]
struct Row<'a> {
    file: &'a str,
    id: &'a str,
    replicate: u32,
    length: usize,
    t: f64,
    rate: f64,
    masked: usize,
    description: &'a str,
    sequence: &'a str,
    masked_sequence: &'a str,
    positions: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_ids: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crop_start: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_length: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<&'a str>,
}
