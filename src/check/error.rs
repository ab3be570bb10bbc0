//! What `verify` reports: the first disagreement, as a value a caller can inspect (the
//! file, the record or row, the field or position, what was found and what was expected)
//! and, as text, the one line the command line prints. The texts are part of the
//! interface (tests and users match them): a change of wording is a CHANGELOG entry.

use std::fmt;

use crate::io::FileDigest;
use crate::records::stream::ReadError;
use crate::sink::Role;

/// Where in a file a disagreement is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (a `Box<str>`, which keeps `VerifyError` small).
    pub file: Box<str>,
    pub place: Place,
}

/// A record or a row of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A FASTA record: its 1-based number and its ID.
    Record { number: u64, id: String },
    /// A rates-table or dataset row (1-based, header not counted), with the ID and
    /// replicate it stands for (the expected ones, for a row that is for another record).
    Row {
        number: u64,
        id: String,
        replicate: i64,
    },
    /// A rates-table row named by its number alone.
    RowNumber(u64),
}

impl Location {
    pub fn record(file: &str, number: u64, id: &str) -> Location {
        Location {
            file: file.into(),
            place: Place::Record {
                number,
                id: id.to_string(),
            },
        }
    }

    pub fn row(file: &str, number: u64, id: &str, replicate: i64) -> Location {
        Location {
            file: file.into(),
            place: Place::Row {
                number,
                id: id.to_string(),
                replicate,
            },
        }
    }

    pub fn row_number(file: &str, number: u64) -> Location {
        Location {
            file: file.into(),
            place: Place::RowNumber(number),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = &self.file;
        match &self.place {
            Place::Record { number, id } => write!(f, "{file}: record {number} ({id})"),
            Place::Row {
                number,
                id,
                replicate,
            } => write!(f, "{file}: row {number} ({id}, replicate {replicate})"),
            Place::RowNumber(number) => write!(f, "{file}: row {number}"),
        }
    }
}

/// A rates-table column (or the dataset field of the same name) that holds a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Length,
    T,
    Rate,
    Masked,
    Positions,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Length => "length",
            Field::T => "t",
            Field::Rate => "rate",
            Field::Masked => "masked",
            Field::Positions => "positions",
        })
    }
}

/// What a field's text should have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Number {
    Whole,
    Real,
    /// `;`-separated whole numbers (`positions`).
    List,
}

/// Why a residue that differs from the original's cannot be a masking of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unexpected {
    /// `--maskable` excludes the original residue.
    NotMaskable,
    /// The regions file leaves the position ineligible.
    OutsideRegions,
    /// The rates table (or the dataset row) does not list the position.
    NotListed,
    /// Neither the original residue nor the mask token (nor a permitted replacement).
    NotToken { token: String },
    /// Not the original residue nor one of the letters a D3PM noise writes.
    NotD3pmLetter,
}

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unexpected::NotMaskable => f.write_str(" (not maskable)"),
            Unexpected::OutsideRegions => f.write_str(" (not eligible by the regions file)"),
            Unexpected::NotListed => {
                f.write_str(" (the position is not listed in the rates table)")
            }
            Unexpected::NotToken { token } => write!(
                f,
                " (neither it nor the mask token '{token}'; wrong --mask-token?)"
            ),
            Unexpected::NotD3pmLetter => write!(
                f,
                " (not a letter D3PM writes: {})",
                String::from_utf8_lossy(crate::d3pm::ALPHABET)
            ),
        }
    }
}

/// A dataset's token column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenColumn {
    InputIds,
    Labels,
}

impl fmt::Display for TokenColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenColumn::InputIds => "input_ids",
            TokenColumn::Labels => "labels",
        })
    }
}

/// What ends too early: FASTA records or rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Records,
    Rows,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Records => "records",
            Unit::Rows => "rows",
        })
    }
}

/// A file that a manifest records beside its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Input,
    RegionsFile,
    SplitGroups,
    /// A variants scan's DMS file (`scan --variants`).
    VariantsFile,
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recorded::Input => "input",
            Recorded::RegionsFile => "regions file",
            Recorded::SplitGroups => "split groups file",
            Recorded::VariantsFile => "variants file",
        })
    }
}

/// A file's digest as a manifest records it, and as found now (read, or regenerated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    pub recorded: FileDigest,
    pub found: FileDigest,
}

/// Where a given rates table first differs from the regenerated one. Rows are counted
/// as in the table (the header is row 0), columns from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableDifference {
    /// The given table has a row `row` that the regenerated one lacks.
    ExtraRow { row: u64 },
    /// The given table ends after `rows` rows (header included); the regenerated has more.
    EndsEarly { rows: u64 },
    /// The header differs at `column`: `found` here, `expected` regenerated.
    Header {
        column: usize,
        found: String,
        expected: String,
    },
    /// Row `row` (the regenerated row's `id` and `replicate`) differs in `column` (its
    /// name): `found` here, `expected` regenerated.
    Field {
        row: u64,
        id: String,
        replicate: String,
        column: String,
        found: String,
        expected: String,
    },
    /// Every field is equal but the bytes are not (quoting or line endings).
    Formatting,
}

impl fmt::Display for TableDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableDifference::ExtraRow { row } => {
                write!(
                    f,
                    "row {row} is extra (the regenerated table has {row} rows)"
                )
            }
            TableDifference::EndsEarly { rows } => write!(
                f,
                "it ends after {rows} rows, the regenerated table has more"
            ),
            TableDifference::Header {
                column,
                found,
                expected,
            } => write!(
                f,
                "the header differs in column {column} ('{found}' here, '{expected}' \
                 regenerated)"
            ),
            TableDifference::Field {
                row,
                id,
                replicate,
                column,
                found,
                expected,
            } => write!(
                f,
                "row {row} ({id}, replicate {replicate}): {column} is '{found}' here, \
                 '{expected}' when regenerated"
            ),
            TableDifference::Formatting => {
                f.write_str("the bytes differ but every field is equal (quoting or line endings)")
            }
        }
    }
}

/// The first disagreement `verify` found, or a file it could not read: one line, naming
/// the file and where in it.
///
/// Disagreements in records and rows carry their `Location`; those about a file as a
/// whole carry its name. Rare failures (a temporary file that cannot be made, a manifest
/// edited into one no run could write) are `Other`, as text.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A FASTA file the record layer refuses or cannot read (`mask`'s rules and message).
    #[error(transparent)]
    Records(#[from] ReadError),
    /// A file that cannot be opened, read or parsed; `message` is the reader's own and
    /// names the file.
    #[error("{message}")]
    Unreadable { file: String, message: String },
    /// A rates table whose header is not the rates table's.
    #[error(
        "{file}: columns are '{found}', expected '{expected}' (optionally with ',positions', then ',crop_start,original_length', then ',split')"
    )]
    Columns {
        file: String,
        found: String,
        expected: String,
    },

    /// A record or row for another record than the original's next one: `found` is its
    /// ID, `expected` the original's (record `original`).
    #[error(fmt = id_mismatch)]
    IdMismatch {
        at: Location,
        found: String,
        expected: String,
        original: u64,
    },
    /// A masked record's header after the ID (trimmed) differs from the original's.
    #[error("{at}: header differs from the original's: '{found}' vs '{expected}'")]
    HeaderDiffers {
        at: Location,
        found: String,
        expected: String,
    },
    /// A dataset row's description differs from the original's.
    #[error("{at}: description '{found}', the original's is '{expected}'")]
    DescriptionDiffers {
        at: Location,
        found: String,
        expected: String,
    },
    /// A dataset row's `sequence` differs from the original's, first at `position`
    /// (0-based; the shorter one's length if one is a prefix of the other).
    #[error("{at}: sequence differs from the original's")]
    SequenceDiffers { at: Location, position: usize },
    /// A masked residue that cannot be a masking of the original's, at 0-based `position`.
    #[error(
        "{at}: position {position}: found '{}' where the original has '{}'{why}",
        .found.escape_ascii(),
        .expected.escape_ascii()
    )]
    Residue {
        at: Location,
        position: usize,
        found: u8,
        expected: u8,
        why: Unexpected,
    },
    /// A masked sequence that ends at 0-based `position` of the original's `residues`.
    #[error("{at}: sequence ends at position {position}, the original has {residues} residues")]
    SequenceEnds {
        at: Location,
        position: usize,
        residues: usize,
    },
    /// A masked sequence with `extra` characters after the original's `residues`.
    #[error("{at}: {extra} characters more than the original's {residues} residues")]
    SequenceLonger {
        at: Location,
        extra: usize,
        residues: usize,
    },

    /// A rates-table row for another record or replicate (`found_id`, `found_replicate`,
    /// as written) than the masked record's, which `at` names (the expected ID and
    /// replicate).
    #[error(fmt = wrong_row)]
    WrongRow {
        at: Location,
        found_id: String,
        found_replicate: String,
    },
    /// A field whose text is not a number (of the kind `number` says).
    #[error(fmt = not_a_number)]
    NotANumber {
        at: Location,
        field: Field,
        value: String,
        number: Number,
    },
    /// `t` or `rate` outside [0,1].
    #[error("{at}: {field} {value} is outside [0,1]")]
    OutOfRange {
        at: Location,
        field: Field,
        value: f64,
    },
    /// Listed positions that are not strictly ascending.
    #[error("{at}: positions are not ascending")]
    NotAscending { at: Location },
    /// A dataset row's listed `position` beyond the original's `residues`.
    #[error("{at}: a position is outside the sequence")]
    PositionOutside {
        at: Location,
        position: i64,
        residues: usize,
    },
    /// `length` is not the number of eligible positions (wide enough for a table's u64
    /// and a dataset's i64).
    #[error("{at}: length {found}, but the record has {expected} eligible positions")]
    Length {
        at: Location,
        found: i128,
        expected: i128,
    },
    /// `masked` is not the number of listed positions.
    #[error("{at}: masked {masked}, but {listed} positions are listed")]
    ListedCount {
        at: Location,
        masked: i128,
        listed: usize,
    },
    /// `masked` is not what the FASTA shows: `shown` positions, of which `uncertain` show
    /// a residue-letter `token` over the same residue (so `shown - uncertain` to `shown`).
    #[error(fmt = shown_count)]
    ShownCount {
        at: Location,
        masked: u64,
        shown: u64,
        uncertain: u64,
        token: String,
    },
    /// A 0-based `position` that shows as masked in the FASTA but is not listed.
    #[error("{at}: position {position} is masked in the FASTA but not listed")]
    NotListed { at: Location, position: usize },
    /// A listed 0-based `position` that does not show as masked (`in_fasta`: in the FASTA
    /// beside a rates table, else in the dataset row itself).
    #[error(
        "{at}: position {position} is listed but not masked{}",
        if *.in_fasta { " in the FASTA" } else { "" }
    )]
    NotMasked {
        at: Location,
        position: usize,
        in_fasta: bool,
    },
    /// A dataset row's `input_ids` or `labels` differ from what its residues give, first
    /// at `index` (`None`: past the end of the column).
    #[error(fmt = token_mismatch)]
    Tokens {
        at: Location,
        column: TokenColumn,
        index: usize,
        found: Option<i64>,
        expected: Option<i64>,
    },
    /// A regions file that cannot apply to the record at `at` (an interval past its end).
    #[error("{at}: {message}")]
    Regions { at: Location, message: String },
    /// A cropped record's window (`crop=START-END`, `crop_start`) that is not the window
    /// `--max-length`/`--crop` give, or a record that should have been cropped.
    #[error("{at}: {message}")]
    Window { at: Location, message: String },
    /// A scan row (`protmask scan`) that is not what its name or its positions say, or a
    /// row missing or out of order.
    #[error("{at}: {message}")]
    Scan { at: Location, message: String },
    /// A row whose `split` is not the one the split rule gives its ID (`expected`).
    #[error(
        "{at}: split '{found}', but the split rule (--split, --split-seed, --split-groups) puts it in '{expected}'"
    )]
    Split {
        at: Location,
        found: String,
        expected: String,
    },
    /// A rates table or dataset (`file`) without a `split` column, of a set made with
    /// `--split`.
    #[error("{file}: no 'split' column, but the set was made with --split {splits}")]
    NoSplitColumn { file: String, splits: String },
    /// A dataset row's `masked_sequence`, checked as the masked FASTA record it stands for
    /// (`error` names that record; the text names the row alone).
    #[error(fmt = in_row)]
    InRow {
        at: Location,
        error: Box<VerifyError>,
    },

    /// A masked file without records where the original has its first, `id`.
    #[error("{file}: has no records, but the original has record 1 ({id})")]
    NoRecords { file: String, id: String },
    /// Replicate `replicate` of original record `id` is missing from a run that had the
    /// ones before it; `at` is the record found in its place.
    #[error(
        "{at}: replicate {id}_r{replicate} is missing (the run {id}_r1..{id}_r{} comes before it)",
        .replicate - 1
    )]
    MissingReplicate {
        at: Location,
        id: String,
        replicate: u32,
    },
    /// A record with `found` replicates where the manifest or MASKED's metadata records
    /// `expected`.
    #[error("{at} has {found} replicates, expected {expected}")]
    Replicates {
        at: Location,
        found: i64,
        expected: u32,
    },
    /// A record with `found` replicates where the first record, `first`, has `expected`
    /// (no manifest or metadata says how many).
    #[error("{at} has {found} replicates, but the first record ({first}) has {expected}")]
    ReplicatesDiffer {
        at: Location,
        found: i64,
        expected: u32,
        first: String,
    },
    /// A dataset row whose replicate is not the next one, `expected`.
    #[error("{at}: expected replicate {expected}")]
    ReplicateOrder { at: Location, expected: i64 },
    /// MASKED (`file`) ends after `after` records or rows; ORIGINAL (`original`) has
    /// record `number` (`id`) next.
    #[error("{file}: ends after {after} {unit}, but {original} has more (record {number} ({id}))")]
    EndsEarly {
        file: String,
        after: u64,
        unit: Unit,
        original: String,
        number: u64,
        id: String,
    },
    /// The rates table (`file`) ends after `after` rows; MASKED (`masked`) has record
    /// `number` (`id`) next.
    #[error("{file}: ends after {after} rows, but {masked} has record {number} ({id})")]
    TableEndsEarly {
        file: String,
        after: u64,
        masked: String,
        number: u64,
        id: String,
    },
    /// A masked record or dataset row after the last of ORIGINAL's `records`.
    #[error(fmt = extra_record)]
    ExtraRecord {
        at: Location,
        original: String,
        records: u64,
    },
    /// A rates-table row after the masked FASTA's last record.
    #[error("{at} has no record: the FASTA ends before it")]
    ExtraRow { at: Location },

    /// ORIGINAL and MASKED both `-`.
    #[error("ORIGINAL and MASKED cannot both be stdin")]
    BothStdin,
    /// A request that cannot work (a dataset with a rates table or a regions file): the
    /// command line's usage error, exit 2.
    #[error(transparent)]
    Usage(crate::UsageError),
    /// A file the manifest (`manifest`) records, found neither at its recorded `path`
    /// nor beside the manifest.
    #[error("manifest '{manifest}': {what} '{path}' is missing")]
    Missing {
        manifest: String,
        what: Recorded,
        path: String,
    },
    /// A recorded input or regions file (`path`, as given or found; recorded as
    /// `recorded_path`) whose bytes are not the recorded ones.
    #[error(fmt = digest_mismatch)]
    DigestMismatch {
        manifest: String,
        what: Recorded,
        path: String,
        recorded_path: String,
        digests: Box<Digests>,
    },
    /// A file given as MASKED that is no output of `role` the manifest records.
    #[error(
        "'{path}' is not {} recorded in manifest '{manifest}' (SHA-256 {})",
        match .role {
            Role::Dataset => "the dataset",
            Role::Card => "the dataset card",
            _ => "a FASTA output",
        },
        .found.sha256
    )]
    NotAnOutput {
        manifest: String,
        path: String,
        role: Role,
        found: FileDigest,
    },
    /// A rates table given that is not the recorded one, and where it first differs from
    /// the regenerated table.
    #[error("'{path}' is not the rates table recorded in manifest '{manifest}': {difference}")]
    TableNotRecorded {
        manifest: String,
        path: String,
        difference: Box<TableDifference>,
    },
    /// The recorded job failed when run again (`message`: why).
    #[error("regenerating from manifest '{manifest}': {message}")]
    RegenerationFailed { manifest: String, message: String },
    /// The recorded job, run again, wrote `found` outputs where the manifest has `expected`.
    #[error(
        "regenerating from manifest '{manifest}' gave {}, it records {expected}",
        crate::counted(*.found as u64, "output", "outputs")
    )]
    OutputCount {
        manifest: String,
        found: usize,
        expected: usize,
    },
    /// A regenerated output (`role`, recorded `path`) that differs from the recorded one:
    /// its stored bytes, its record counts, and (for a compressed output whose manifest
    /// has it, or whose recorded file was given) its uncompressed content.
    #[error(fmt = not_reproduced)]
    NotReproduced {
        manifest: String,
        role: Option<Role>,
        path: String,
        stored: Box<Digests>,
        recorded_records: u64,
        regenerated_records: u64,
        content: Option<Box<Digests>>,
    },
    /// A rare failure, as text: a temporary file that cannot be made, a manifest edited
    /// into one that no run could have written, an internal error. `file`: the file
    /// concerned, if one is.
    #[error("{message}")]
    Other {
        file: Option<String>,
        message: String,
    },
}

impl VerifyError {
    /// Whether the request itself cannot work (the command line exits 2, as for its own
    /// usage errors), rather than the files disagreeing.
    pub fn is_usage(&self) -> bool {
        matches!(self, VerifyError::Usage(_))
    }

    /// The disagreement's record or row, if it has one.
    pub fn location(&self) -> Option<&Location> {
        use VerifyError as E;
        match self {
            E::IdMismatch { at, .. }
            | E::HeaderDiffers { at, .. }
            | E::DescriptionDiffers { at, .. }
            | E::SequenceDiffers { at, .. }
            | E::Residue { at, .. }
            | E::SequenceEnds { at, .. }
            | E::SequenceLonger { at, .. }
            | E::WrongRow { at, .. }
            | E::NotANumber { at, .. }
            | E::OutOfRange { at, .. }
            | E::NotAscending { at }
            | E::PositionOutside { at, .. }
            | E::Length { at, .. }
            | E::ListedCount { at, .. }
            | E::ShownCount { at, .. }
            | E::NotListed { at, .. }
            | E::NotMasked { at, .. }
            | E::Tokens { at, .. }
            | E::Regions { at, .. }
            | E::Window { at, .. }
            | E::Split { at, .. }
            | E::InRow { at, .. }
            | E::MissingReplicate { at, .. }
            | E::Replicates { at, .. }
            | E::ReplicatesDiffer { at, .. }
            | E::ReplicateOrder { at, .. }
            | E::ExtraRecord { at, .. }
            | E::ExtraRow { at } => Some(at),
            _ => None,
        }
    }
}

fn id_mismatch(
    at: &Location,
    found: &str,
    expected: &str,
    original: &u64,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match at.place {
        Place::Record { .. } => write!(
            f,
            "{at}: expected ID '{expected}' (original record {original}), found '{found}': \
             records removed, added or reordered?"
        ),
        _ => write!(
            f,
            "{at}: expected ID '{expected}' (original record {original}): rows removed, added \
             or reordered?"
        ),
    }
}

fn digest_mismatch(
    manifest: &str,
    what: &Recorded,
    path: &str,
    recorded_path: &str,
    digests: &Digests,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(
        f,
        "{what} '{path}' is not the one manifest '{manifest}' records"
    )?;
    if *what == Recorded::Input {
        write!(f, " for '{recorded_path}'")?;
    }
    let (r, d) = (&digests.recorded, &digests.found);
    write!(
        f,
        ": SHA-256 {} ({} bytes) recorded, {} ({} bytes) found",
        r.sha256, r.bytes, d.sha256, d.bytes
    )
}

#[allow(clippy::too_many_arguments)] // thiserror passes every field
fn not_reproduced(
    manifest: &str,
    role: &Option<Role>,
    path: &str,
    stored: &Digests,
    recorded_records: &u64,
    regenerated_records: &u64,
    content: &Option<Box<Digests>>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(
        f,
        "regenerating from manifest '{manifest}' does not reproduce {} output '{path}': SHA-256 \
         {} ({recorded_records} records) recorded, {} ({regenerated_records} records) \
         regenerated",
        role.map_or("an", Role::name),
        stored.recorded.sha256,
        stored.found.sha256,
    )?;
    if let Some(c) = content {
        write!(
            f,
            "; uncompressed, SHA-256 {} recorded, {} regenerated",
            c.recorded.sha256, c.found.sha256
        )?;
    }
    Ok(())
}

fn wrong_row(
    at: &Location,
    found_id: &str,
    found_replicate: &str,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(
        f,
        "{at}: is for '{found_id}' replicate {found_replicate}, expected "
    )?;
    match &at.place {
        Place::Row { id, replicate, .. } => write!(f, "'{id}' replicate {replicate}"),
        Place::Record { id, .. } => write!(f, "'{id}'"),
        Place::RowNumber(_) => f.write_str("another record"),
    }
}

fn not_a_number(
    at: &Location,
    field: &Field,
    value: &str,
    number: &Number,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let what = match number {
        Number::Whole => "is not a whole number",
        Number::Real => "is not a number",
        Number::List => "are not numbers",
    };
    write!(f, "{at}: {field} '{value}' {what}")
}

fn shown_count(
    at: &Location,
    masked: &u64,
    shown: &u64,
    uncertain: &u64,
    token: &str,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(f, "{at}: masked {masked}, but the FASTA shows ")?;
    match uncertain {
        0 => write!(f, "{shown}")?,
        u => write!(
            f,
            "{} to {shown} (the mask token '{token}' is also a residue of the original)",
            shown - u
        )?,
    }
    f.write_str(" selected positions")
}

fn token_mismatch(
    at: &Location,
    column: &TokenColumn,
    index: &usize,
    found: &Option<i64>,
    expected: &Option<i64>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match (found, expected) {
        (Some(found), Some(expected)) => {
            write!(f, "{at}: {column}[{index}] is {found}, expected {expected}")
        }
        (None, Some(expected)) => write!(
            f,
            "{at}: {column} ends after {index} ids, expected {expected} at index {index}"
        ),
        (Some(found), None) => write!(
            f,
            "{at}: {column}[{index}] is {found}, past the end: expected {index} ids"
        ),
        (None, None) => write!(f, "{at}: {column} differs at index {index}"),
    }
}

/// A dataset row's `masked_sequence` checked as a FASTA record: the row is named once (the
/// inner error names the same file as a record), and a position that is not listed is
/// not in the row's `positions` (there is no rates table).
fn in_row(at: &Location, error: &VerifyError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{at}: masked_sequence")?;
    if let VerifyError::Residue {
        position,
        found,
        expected,
        why: Unexpected::NotListed,
        ..
    } = error
    {
        return write!(
            f,
            ": position {position}: found '{}' where the original has '{}' (the position is \
             not in the row's positions)",
            found.escape_ascii(),
            expected.escape_ascii()
        );
    }
    let text = error.to_string();
    let rest = error
        .location()
        .and_then(|inner| text.strip_prefix(&inner.to_string()))
        .unwrap_or(&text);
    match rest.strip_prefix(':') {
        Some(_) => f.write_str(rest),
        None => write!(f, ": {}", rest.trim_start()),
    }
}

fn extra_record(
    at: &Location,
    original: &str,
    records: &u64,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match at.place {
        Place::Record { .. } => write!(
            f,
            "{at} has no counterpart: {original} ends after {records} records"
        ),
        _ => write!(
            f,
            "{at}: has no record: {original} ends after {records} records"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts are the interface: a few of each shape, word for word.
    #[test]
    fn messages_read_as_before() {
        let record = Location::record("m.fa", 3, "p1");
        let row = Location::row("r.csv", 2, "p1", 1);
        let cases: Vec<(VerifyError, &str)> = vec![
            (
                VerifyError::IdMismatch {
                    at: record.clone(),
                    found: "p1".into(),
                    expected: "p0".into(),
                    original: 3,
                },
                "m.fa: record 3 (p1): expected ID 'p0' (original record 3), found 'p1': \
                 records removed, added or reordered?",
            ),
            (
                VerifyError::Residue {
                    at: record.clone(),
                    position: 4,
                    found: b'\t',
                    expected: b'M',
                    why: Unexpected::NotToken { token: "_".into() },
                },
                "m.fa: record 3 (p1): position 4: found '\\t' where the original has 'M' \
                 (neither it nor the mask token '_'; wrong --mask-token?)",
            ),
            (
                VerifyError::ShownCount {
                    at: row.clone(),
                    masked: 12,
                    shown: 9,
                    uncertain: 4,
                    token: "X".into(),
                },
                "r.csv: row 2 (p1, replicate 1): masked 12, but the FASTA shows 5 to 9 (the \
                 mask token 'X' is also a residue of the original) selected positions",
            ),
            (
                VerifyError::WrongRow {
                    at: row.clone(),
                    found_id: "p2".into(),
                    found_replicate: "1".into(),
                },
                "r.csv: row 2 (p1, replicate 1): is for 'p2' replicate 1, expected 'p1' \
                 replicate 1",
            ),
            (
                VerifyError::NotANumber {
                    at: Location::row_number("r.csv", 2),
                    field: Field::Masked,
                    value: "abc".into(),
                    number: Number::Whole,
                },
                "r.csv: row 2: masked 'abc' is not a whole number",
            ),
            (
                VerifyError::Tokens {
                    at: row.clone(),
                    column: TokenColumn::InputIds,
                    index: 80,
                    found: None,
                    expected: Some(2),
                },
                "r.csv: row 2 (p1, replicate 1): input_ids ends after 80 ids, expected 2 at \
                 index 80",
            ),
            (
                VerifyError::Tokens {
                    at: row.clone(),
                    column: TokenColumn::Labels,
                    index: 3,
                    found: Some(6),
                    expected: Some(5),
                },
                "r.csv: row 2 (p1, replicate 1): labels[3] is 6, expected 5",
            ),
            (
                VerifyError::InRow {
                    at: Location::row("d.jsonl", 1, "p1", 1),
                    error: Box::new(VerifyError::Residue {
                        at: Location::record("d.jsonl", 1, "p1"),
                        position: 0,
                        found: b'_',
                        expected: b'Q',
                        why: Unexpected::NotListed,
                    }),
                },
                "d.jsonl: row 1 (p1, replicate 1): masked_sequence: position 0: found '_' where \
                 the original has 'Q' (the position is not in the row's positions)",
            ),
            (
                VerifyError::InRow {
                    at: Location::row("d.jsonl", 1, "p1", 1),
                    error: Box::new(VerifyError::SequenceEnds {
                        at: Location::record("d.jsonl", 1, "p1"),
                        position: 7,
                        residues: 9,
                    }),
                },
                "d.jsonl: row 1 (p1, replicate 1): masked_sequence: sequence ends at position \
                 7, the original has 9 residues",
            ),
            (
                VerifyError::ExtraRecord {
                    at: record,
                    original: "in.fa".into(),
                    records: 2,
                },
                "m.fa: record 3 (p1) has no counterpart: in.fa ends after 2 records",
            ),
            (
                VerifyError::ExtraRecord {
                    at: row,
                    original: "in.fa".into(),
                    records: 2,
                },
                "r.csv: row 2 (p1, replicate 1): has no record: in.fa ends after 2 records",
            ),
            (
                VerifyError::MissingReplicate {
                    at: Location::record("m.fa", 2, "a_r3"),
                    id: "a".into(),
                    replicate: 2,
                },
                "m.fa: record 2 (a_r3): replicate a_r2 is missing (the run a_r1..a_r1 comes \
                 before it)",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
