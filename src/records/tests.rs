use super::*;
use crate::config::{MaskConfig, MaskOptions};
use crate::engine::{BlockMasker, BlockOutput};

/// `protmask mask --schedule 0.5 --mode exact --seed 1 -r t.csv --positions`, then `edit`.
fn config(edit: impl FnOnce(&mut MaskConfig)) -> MaskConfig {
    let options = MaskOptions {
        schedule: Some(crate::schedule::Schedule::parse("0.5").unwrap()),
        mode: Some(crate::mask::Mode::Exact),
        seed: Some(1),
        ..MaskOptions::default()
    };
    let mut c = MaskConfig::resolve(options).unwrap();
    c.positions = true;
    edit(&mut c);
    c
}

/// One block through the engine's worker, with a CSV table.
fn run(data: &[u8], edit: impl FnOnce(&mut MaskConfig)) -> Result<BlockOutput, RecordError> {
    let masker = BlockMasker::with(&config(edit), Some(b','), vec!["in.fa".into()]);
    let block = Block {
        data,
        first_index: 0,
        headers: None,
    };
    masker.mask(&block, 0)
}

fn text(out: &BlockOutput, i: usize) -> String {
    String::from_utf8(out.bufs[i].clone()).unwrap()
}

/// (id, header, seq)
type Parsed = (String, Vec<u8>, Vec<u8>);

/// Every record of `data`.
fn parse(data: &[u8]) -> Result<Vec<Parsed>, RecordError> {
    let block = Block {
        data,
        first_index: 0,
        headers: None,
    };
    let mut recs = BlockRecords::new(&block)?;
    let mut all = Vec::new();
    while let Some(r) = recs.next_record()? {
        all.push((r.id.to_string(), r.header.to_vec(), r.seq.to_vec()));
    }
    Ok(all)
}

#[test]
fn wraps_by_positions_and_never_splits_a_token() {
    let out = run(b">a x\tdesc \nACDEFGHIKL\nMNPQ\n", |c| {
        c.line_width = 4;
        c.mask_token = "<mask>".into();
    })
    .unwrap();
    let fasta = text(&out, 0);
    let mut lines = fasta.lines();
    assert_eq!(lines.next(), Some(">a x\tdesc "));
    for line in lines {
        let positions = line.replace("<mask>", "_").len();
        assert!(positions <= 4 && positions > 0, "{line}");
    }
    assert_eq!(out.stats.masked, 7);
}

#[test]
fn bare_header_is_an_error_not_the_end() {
    let err = run(b">a\nAC\n>\n>b\nAC\n", |_| ()).unwrap_err();
    assert_eq!(err.number, 2);
    assert_eq!(err.kind, RecordErrorKind::NoId, "{err}");
    let err = run(b">a\nAC\n>\n", |_| ()).unwrap_err();
    assert_eq!(err.number, 2);
}

#[test]
fn text_before_first_header_and_bad_residues_are_errors() {
    let err = run(b"@q\nACGT\n+\nIIII\n", |_| ()).unwrap_err();
    assert_eq!(err.kind, RecordErrorKind::Fastq, "{err}");
    let err = run(b"junk\n>a\nAC\n", |_| ()).unwrap_err();
    assert_eq!(err.number, 1);
    let err = run(b">a\nAC\n>b\nA\0C\n", |_| ()).unwrap_err();
    assert_eq!((err.number, err.id.as_deref()), (2, Some("b")));
    // Positions are 0-based in messages as in the table (issue 12, point 11).
    let kind = RecordErrorKind::InvalidResidue {
        position: 1,
        byte: 0,
    };
    assert_eq!(err.kind, kind);
    assert!(
        err.to_string()
            .ends_with("byte 0x00 at sequence position 1 (0-based)"),
        "{err}"
    );
}

#[test]
fn empty_sequence_and_crlf() {
    let out = run(b">a desc\r\n\r\n>b\r\nAC\r\n", |_| ()).unwrap();
    let fasta = text(&out, 0);
    assert!(fasta.starts_with(">a desc\n>b\n"), "{fasta}");
    assert_eq!(out.stats.records, 2);
}

#[test]
fn first_invalid_finds_the_first_bad_byte_anywhere() {
    assert_eq!(first_invalid(b"", b""), None);
    let good: Vec<u8> = (0..300).map(|i| b"ACDxyz*-.QWERTY"[i % 15]).collect();
    assert_eq!(first_invalid(&good, b""), None);
    for bad_at in [0, 1, 63, 64, 65, 127, 128, 299] {
        for bad in [b'1', b' ', 0u8, b'@', b'[', b'`', b'{', 0xff] {
            let mut s = good.clone();
            s[bad_at] = bad;
            s[299] = if bad_at == 299 { bad } else { b'9' };
            assert_eq!(
                first_invalid(&s, b""),
                Some(bad_at),
                "byte {bad} at {bad_at}"
            );
        }
    }
    // With extra bytes allowed (a masked file's token), only others are invalid.
    let masked: Vec<u8> = (0..300).map(|i| b"AC<mask>_"[i % 9]).collect();
    assert_eq!(first_invalid(&masked, b"<mask>_"), None);
    assert_eq!(first_invalid(&masked, b"_"), Some(2));
    let mut bad = masked.clone();
    bad[250] = b'1';
    assert_eq!(first_invalid(&bad, b"<mask>_"), Some(250));
    for b in 0..=255u8 {
        assert_eq!(
            is_residue(b),
            b.is_ascii_alphabetic() || b"*-.".contains(&b),
            "{b}"
        );
    }
}

#[test]
fn replicates_rename_the_id_only() {
    let out = run(b">sp|P1|X some desc\nAAAA\n", |c| {
        c.replicates = 2;
        c.line_width = 0;
    })
    .unwrap();
    let fasta = text(&out, 0);
    let headers: Vec<&str> = fasta.lines().filter(|l| l.starts_with('>')).collect();
    assert_eq!(headers, [">sp|P1|X_r1 some desc", ">sp|P1|X_r2 some desc"]);
    let rates = text(&out, 1);
    assert!(rates.lines().all(|l| l.starts_with("in.fa,sp|P1|X,")));
}

/// A line longer than `LINE_PIECE` reaches bio in pieces; the record, and the error for a
/// bad byte anywhere in it (also right at a piece boundary, and whitespace or `>` there),
/// are exactly those of the whole line.
#[test]
fn giant_lines_parse_as_whole_lines() {
    let n = 3 * LINE_PIECE + 17;
    let seq: Vec<u8> = (0..n).map(|i| b"ACDEFGHIKLMNPQRSTVWY"[i % 20]).collect();
    let mut data = b">big desc\n".to_vec();
    data.extend_from_slice(&seq);
    data.extend_from_slice(b"\n>small\nAC\n");
    let recs = parse(&data).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].2, seq);
    assert_eq!(recs[1].2, b"AC");
    let header_len = b">big desc\n".len();
    for at in [
        0,
        LINE_PIECE - 1,
        LINE_PIECE,
        LINE_PIECE + 1,
        2 * LINE_PIECE,
        n - 1,
    ] {
        for bad in [b' ', b'>', b'1', b'\t'] {
            if (at == 0 && bad == b'>') || (at == n - 1 && bad.is_ascii_whitespace()) {
                continue; // a header line; trailing whitespace, which bio trims
            }
            let mut d = data.clone();
            d[header_len + at] = bad;
            let err = parse(&d).unwrap_err();
            assert_eq!(err.number, 1, "{bad} at {at}: {err}");
            let kind = RecordErrorKind::InvalidResidue {
                position: at,
                byte: bad,
            };
            assert_eq!(err.kind, kind, "{bad} at {at}: {err}");
        }
    }
    // A run of spaces across the boundary: still the first one is named.
    let mut d = data.clone();
    for i in LINE_PIECE - 5..LINE_PIECE + 5 {
        d[header_len + i] = b' ';
    }
    let err = parse(&d).unwrap_err();
    let kind = RecordErrorKind::InvalidResidue {
        position: LINE_PIECE - 5,
        byte: b' ',
    };
    assert_eq!(err.kind, kind, "{err}");
}

#[test]
fn description_is_the_header_after_the_id_and_its_whitespace() {
    let recs = parse(b">a \t x y \n>b\n>c\tz\n").unwrap();
    let want: [&[u8]; 3] = [b"x y ", b"", b"z"];
    for ((id, header, seq), want) in recs.iter().zip(want) {
        let r = Record {
            number: 1,
            id,
            header,
            seq,
        };
        assert_eq!(r.description(), want, "{id}");
    }
}
