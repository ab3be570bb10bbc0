//! File I/O for protmask: opening (possibly compressed) inputs, and writing outputs
//! atomically (temp file beside the target, renamed into place on `finish`), compressed by
//! extension or `--compress`, gzip as BGZF. Nothing here knows about FASTA.

pub mod bgzf;
pub mod bgzf_read;
mod compression;
mod digest;
pub mod input;
pub mod output;

pub use bgzf::{BgzfWriter, ParallelBgzfWriter, compress_block};
pub use compression::Compression;
pub use digest::{FileDigest, Hasher};
pub use input::{
    CountingReader, InputSource, finish_input_digest, input_size, open_input, open_input_counted,
    open_input_hashed,
};
pub use output::{
    Output, OutputDigest, OutputTarget, PendingOutput, create_output, create_output_on,
    same_file_guard,
};

/// An io error naming the file it is about; its kind is kept.
fn named(name: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{name}: {e}"))
}

#[cfg(test)]
mod tests;
