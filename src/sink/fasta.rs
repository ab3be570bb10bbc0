//! The masked FASTA: the header copied (the ID of replicate k renamed `<id>_r<k>` when
//! there are several), then the sequence with its marks applied, wrapped by positions so
//! that a multi-character token is never split across lines. A cropped record's header
//! ends with ` crop=START-END` (0-based start, exclusive end, in the original).

use std::io::Write as _;

use crate::config::MaskConfig;
use crate::mask::{Marks, mark};

use super::{Emitted, Encoder, Scratch};

/// How the masked FASTA is written.
#[derive(Clone, Debug)]
pub struct FastaFormat {
    /// Residues (positions) per line; 0 = one line per sequence.
    line_width: usize,
    token: Vec<u8>,
    replicates: u32,
    /// One-byte token and pure masking of every position: `write_patched` applies.
    patch: bool,
    /// D3PM: every mark is `mark::NONE` or the new letter, so `write_replaced` applies.
    replaced: bool,
    /// For a one-byte token: the byte each mark writes, 0 meaning "the residue itself".
    lut: Box<[u8; 256]>,
}

impl FastaFormat {
    pub fn new(config: &MaskConfig) -> FastaFormat {
        let token = config.mask_token.as_bytes().to_vec();
        FastaFormat {
            line_width: config.line_width,
            patch: token.len() == 1
                && config.corrupt.is_mask_only()
                && config.maskable.is_none()
                && config.regions.is_none(),
            replaced: config.mode.d3pm().is_some(),
            lut: Box::new(mark_bytes(&token)),
            token,
            replicates: config.replicates,
        }
    }
}

impl Encoder for FastaFormat {
    fn write(&self, out: &mut Vec<u8>, e: &Emitted, scratch: &mut Scratch) {
        let r = e.record;
        write_header(
            out,
            r.header,
            r.id.len(),
            e.suffix,
            e.replicate,
            self.replicates,
        );
        if let Some(w) = e.window {
            // ` crop=START-END` after the description, before the line end.
            out.pop();
            let _ = write!(out, " crop={}-{}", w.start, w.end());
            out.push(b'\n');
        }
        if self.replaced {
            write_replaced(out, r.seq, e.marks, self.line_width);
        } else if self.patch && e.marks.drawn_complete {
            let line_width = self.line_width;
            write_patched(
                out,
                &mut scratch.bytes,
                r.seq,
                e.marks,
                self.token[0],
                line_width,
            );
        } else {
            write_sequence(out, r.seq, e.marks, &self.token, &self.lut, self.line_width);
        }
    }
}

impl FastaFormat {
    /// The masked residues alone: no header, no wrapping, no line end (a dataset's
    /// `masked_sequence`).
    pub fn write_residues(&self, out: &mut Vec<u8>, e: &Emitted) {
        let seq = e.record.seq;
        if self.replaced {
            write_replaced(out, seq, e.marks, 0);
        } else {
            write_sequence(out, seq, e.marks, &self.token, &self.lut, 0);
        }
        if !seq.is_empty() {
            out.pop();
        }
    }
}

/// `>` + the header, with the ID of replicate k renamed `<id>_r<k>` when there are several,
/// and followed by `suffix` (a scan row's `_p<i>`).
fn write_header(
    out: &mut Vec<u8>,
    header: &[u8],
    id_len: usize,
    suffix: &[u8],
    replicate: u32,
    replicates: u32,
) {
    out.push(b'>');
    if replicates > 1 || !suffix.is_empty() {
        out.extend_from_slice(&header[..id_len]);
        out.extend_from_slice(suffix);
        if replicates > 1 {
            out.extend_from_slice(format!("_r{replicate}").as_bytes());
        }
        out.extend_from_slice(&header[id_len..]);
    } else {
        out.extend_from_slice(header);
    }
    out.push(b'\n');
}

/// For a one-byte token: the byte each mark writes, 0 meaning "the residue itself".
fn mark_bytes(token: &[u8]) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate().skip(3) {
        *v = i as u8;
    }
    lut[usize::from(mark::TOKEN)] = token.first().copied().unwrap_or(0);
    lut
}

/// `write_sequence` for a one-byte token and pure masking, the common case, fast: copy
/// the sequence (or a run of tokens, when most positions are selected), patch the
/// positions Floyd's algorithm drew, then wrap. Cost: two copies plus O(min(k, L-k)),
/// not a look at every position.
fn write_patched(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    seq: &[u8],
    marks: &Marks,
    token: u8,
    width: usize,
) {
    if seq.is_empty() {
        return;
    }
    let width = if width == 0 { seq.len() } else { width };
    scratch.clear();
    if marks.drawn_selected {
        scratch.extend_from_slice(seq);
        for &p in &marks.drawn {
            scratch[p as usize] = token;
        }
    } else {
        scratch.resize(seq.len(), token);
        for &p in &marks.drawn {
            scratch[p as usize] = seq[p as usize];
        }
    }
    out.reserve(seq.len() + seq.len() / width + 1);
    for line in scratch.chunks(width) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

/// `write_sequence` for marks that are `mark::NONE` or a replacement letter only (D3PM):
/// a byte-wise select the compiler vectorises, not a table lookup a position.
fn write_replaced(out: &mut Vec<u8>, seq: &[u8], marks: &Marks, width: usize) {
    if seq.is_empty() {
        return;
    }
    let width = if width == 0 { seq.len() } else { width };
    out.reserve(seq.len() + seq.len() / width + 1);
    for (s, m) in seq.chunks(width).zip(marks.by_position.chunks(width)) {
        debug_assert!(m.iter().all(|&m| m == mark::NONE || m > mark::KEPT));
        out.extend(
            s.iter()
                .zip(m)
                .map(|(&r, &m)| if m == mark::NONE { r } else { m }),
        );
        out.push(b'\n');
    }
}

/// The sequence with its marks applied, `width` positions per line (0 = no wrapping).
fn write_sequence(
    out: &mut Vec<u8>,
    seq: &[u8],
    marks: &Marks,
    token: &[u8],
    lut: &[u8; 256],
    width: usize,
) {
    if seq.is_empty() {
        return;
    }
    let width = if width == 0 { seq.len() } else { width };
    out.reserve(seq.len() + seq.len() / width + 1);
    for (s, m) in seq.chunks(width).zip(marks.by_position.chunks(width)) {
        if let [tok] = token {
            // Branch-free: which positions are selected is random, so a `match` per
            // position mispredicts constantly.
            debug_assert_eq!(lut[usize::from(mark::TOKEN)], *tok);
            out.extend(s.iter().zip(m).map(|(&r, &m)| {
                let v = lut[usize::from(m)];
                if v == 0 { r } else { v }
            }));
        } else {
            for (&r, &m) in s.iter().zip(m) {
                match m {
                    mark::NONE | mark::KEPT => out.push(r),
                    mark::TOKEN => out.extend_from_slice(token),
                    other => out.push(other),
                }
            }
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{Corruption, Masker, Mode, Timesteps};

    #[test]
    fn patched_writer_equals_the_general_writer() {
        let masker = Masker::new(
            "uniform".parse().unwrap(),
            Mode::Bernoulli,
            Corruption::MASK_ONLY,
            Timesteps::Iid,
            None,
            5,
        );
        let lut = mark_bytes(b"_");
        let mut marks = Marks::default();
        let (mut complement, mut direct) = (0, 0);
        for i in 0..400usize {
            let seq: Vec<u8> = (0..i % 97)
                .map(|j| b"ACDEFGHIKL"[(i * 7 + j) % 10])
                .collect();
            masker.mask_record(format!("r{i}").as_bytes(), &seq, 1, 0, &mut marks, None);
            assert!(marks.drawn_complete);
            if marks.drawn_selected {
                direct += 1
            } else {
                complement += 1
            }
            for width in [0, 1, 7, 60] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                write_patched(&mut a, &mut Vec::new(), &seq, &marks, b'_', width);
                write_sequence(&mut b, &seq, &marks, b"_", &lut, width);
                assert_eq!(a, b, "record {i} width {width}");
            }
        }
        assert!(complement > 50 && direct > 50);
    }

    #[test]
    fn replaced_writer_equals_the_general_writer_for_d3pm() {
        let masker = Masker::new(
            "linear".parse().unwrap(),
            Mode::D3pmBlosum,
            Corruption::MASK_ONLY,
            Timesteps::Iid,
            None,
            5,
        );
        let lut = mark_bytes(b"#");
        let mut marks = Marks::default();
        let mut changed = 0;
        for i in 0..300usize {
            let seq: Vec<u8> = (0..i % 97)
                .map(|j| b"ACDEFGHIKLWYBZXJOUa*-"[(i * 7 + j) % 21])
                .collect();
            let o = masker.mask_record(format!("r{i}").as_bytes(), &seq, 1, 0, &mut marks, None);
            changed += o.masked;
            for width in [0, 1, 7, 60] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                write_replaced(&mut a, &seq, &marks, width);
                write_sequence(&mut b, &seq, &marks, b"#", &lut, width);
                assert_eq!(a, b, "record {i} width {width}");
            }
        }
        assert!(changed > 1000, "{changed}");
    }
}
