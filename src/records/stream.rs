//! Records of a whole input, one at a time, for readers that walk two files in step
//! (`verify`): the same cutter and block parser as `mask`, so the same rules and messages.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use super::{BlockCutter, BlockRecords, BufferPool, RecordError};

/// An owned record (see `Record`).
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedRecord {
    pub number: u64,
    pub id: String,
    pub header: Vec<u8>,
    pub seq: Vec<u8>,
}

impl OwnedRecord {
    /// The header after the ID and the whitespace that follows it (may be empty).
    pub fn description(&self) -> &[u8] {
        super::description(&self.header, self.id.len())
    }
}

/// Why an input could not be read as FASTA: one line naming the file and the record.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: {error}")]
    Record { file: String, error: RecordError },
    #[error("{file}: read error after record {after}: {error}")]
    Io {
        file: String,
        after: u64,
        error: io::Error,
    },
}

/// The records of an input as `protmask mask` reads it: a path, or `-` for stdin; gzip
/// (BGZF), bzip2, xz or zstd told from its bytes. An error opening it names it.
pub fn read(name: &str) -> io::Result<RecordStream<Box<dyn Read + Send>>> {
    let source = crate::io::InputSource::parse(name);
    let (_, reader) = crate::io::open_input(&source)?;
    Ok(RecordStream::new(source.display_name(), reader))
}

/// Reads records block by block; holds at most one block's records.
pub struct RecordStream<R> {
    name: String,
    cutter: BlockCutter<Arc<BufferPool>, R>,
    queue: VecDeque<OwnedRecord>,
    /// Records returned so far.
    returned: u64,
    also: Vec<u8>,
}

impl<R: Read> RecordStream<R> {
    pub fn new(name: String, reader: R) -> Self {
        let pool = Arc::new(BufferPool::default());
        RecordStream {
            name,
            cutter: BlockCutter::new(reader, crate::engine::DEFAULT_BLOCK_SIZE as usize, pool),
            queue: VecDeque::new(),
            returned: 0,
            also: Vec::new(),
        }
    }

    /// Also accept the bytes of `also` in sequences (a masked file's token).
    pub fn allowing(mut self, also: &[u8]) -> Self {
        self.also = also.to_vec();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records returned so far.
    pub fn count(&self) -> u64 {
        self.returned
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<OwnedRecord>, ReadError> {
        while self.queue.is_empty() {
            let cut = self.cutter.next_block().map_err(|error| ReadError::Io {
                file: self.name.clone(),
                after: self.cutter.records_so_far(),
                error,
            })?;
            let Some(cut) = cut else {
                return Ok(None);
            };
            let name = &self.name;
            let fail = |error| ReadError::Record {
                file: name.clone(),
                error,
            };
            let mut records = BlockRecords::new(&cut.block())
                .map_err(fail)?
                .allowing(&self.also);
            while let Some(r) = records.next_record().map_err(fail)? {
                self.queue.push_back(OwnedRecord {
                    number: r.number,
                    id: r.id.to_string(),
                    header: r.header.to_vec(),
                    seq: r.seq.to_vec(),
                });
            }
        }
        self.returned += 1;
        Ok(self.queue.pop_front())
    }
}
