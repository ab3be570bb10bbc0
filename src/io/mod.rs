//! File I/O for protmask: opening (possibly compressed) inputs, and writing outputs
//! atomically (temp file beside the target, renamed into place on `finish`), compressed by
//! extension or `--compress`, gzip as BGZF. Nothing here knows about FASTA.

mod bgzf;
mod bgzf_read;
mod compression;
mod digest;
mod input;
mod output;

pub use bgzf::{BLOCK_DATA_SIZE, BgzfWriter, compress_block};
pub use compression::Compression;
pub use digest::FileDigest;
pub(crate) use digest::Hasher;
pub(crate) use input::{
    CountingReader, finish_input_digest, open_input_counted, open_input_hashed,
};
pub use input::{InputSource, input_size, open_input};
pub(crate) use output::create_output_on;
pub use output::{
    Output, OutputDigest, OutputTarget, PendingOutput, SameFile, check_writable, create_output,
    same_file_guard,
};

/// An io error naming the file it is about; its kind is kept.
fn named(name: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{name}: {e}"))
}

#[cfg(test)]
mod tests;
