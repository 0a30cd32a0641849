//! Opening a manifest: pick the format, optionally hash the bytes as they are read, and hand back
//! a format-independent stream of [`Item`]s plus the problems of the file as a whole.
//!
//! Invariants:
//! - Every reader yields exactly one [`Item`] per data row it finds (a row it cannot read is an
//!   [`Item::Bad`]), so counting items gives the same row numbers in `validate` and `open`.
//! - Every reader reads to the end of the file when nothing is wrong with it, so the hash covers
//!   all bytes of a valid manifest.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::record::RawRow;
use super::{csv_source, json_array, jsonl, Format, ManifestError, Problem};

/// What a reader yields for each data row.
#[derive(Debug)]
pub(crate) enum Item {
    /// The row's values, possibly with problems found while reading them.
    Row(RawRow),
    /// A data row that could not be read as a row (ragged CSV record, JSON syntax error,
    /// non-object element).
    Bad(Problem),
    /// A problem of the file after its rows (e.g. the JSON array is not closed): not a row.
    FileProblem(Problem),
    /// Reading the file failed; nothing more follows.
    Io(io::Error),
}

pub(crate) type Items = Box<dyn Iterator<Item = Item> + Send>;

/// The bytes a reader reads from: the file, possibly behind a hasher.
pub(crate) type Input = Box<dyn Read + Send>;

/// An opened manifest.
pub(crate) struct Source {
    /// Problems of the file as a whole: the CSV header, the JSON top level.
    pub header: Vec<Problem>,
    /// The data rows; `None` when the header problems make reading on pointless (no header at
    /// all, no `user` column, not a JSON array).
    pub rows: Option<Items>,
}

/// A running SHA-256 of the bytes read, shared with the caller that reads the digest at the end.
pub(crate) type SharedHasher = Arc<Mutex<Sha256>>;

/// Feeds every byte read through it into the hasher.
struct HashingReader {
    inner: File,
    hasher: SharedHasher,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A poisoned lock only means another thread panicked mid-update; the digest is then
        // wrong, but nothing reads it concurrently, so keep going rather than panic here.
        let mut hasher = self.hasher.lock().unwrap_or_else(|e| e.into_inner());
        hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens `path` in `format` (or the one its extension names).
pub(crate) fn open_source(
    path: &Path,
    format: Option<Format>,
    hasher: Option<SharedHasher>,
) -> Result<Source, ManifestError> {
    let format = format
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| ManifestError::UnknownFormat(path.to_owned()))?;
    let io_err = |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let input: Input = match hasher {
        Some(hasher) => Box::new(HashingReader {
            inner: file,
            hasher,
        }),
        None => Box::new(file),
    };
    let name = Arc::new(PathBuf::from(path));
    match format {
        Format::Csv => csv_source::open(input, name),
        Format::Json => json_array::open(input, name),
        Format::Jsonl => Ok(jsonl::open(input, name)),
    }
    .map_err(io_err)
}

/// Number of characters in UTF-8 `bytes` (invalid sequences count per lead byte): columns in
/// messages are characters, as editors show them.
pub(crate) fn char_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count() as u64
}
