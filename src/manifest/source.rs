//! Opening a manifest: pick the format, optionally hash the bytes as they are read, and hand back
//! a format-independent stream of items (`input::Item`) plus the problems of the file as a whole.
//!
//! The readers share the interface of `input`; this module is the only one that knows them all.
//!
//! Invariants:
//! - Every reader reads to the end of the file when nothing is wrong with it, so the hash covers
//!   all bytes of a valid manifest.
//! - A UTF-16 or UTF-32 byte-order mark is one problem of the file, and nothing more is read; a
//!   UTF-8 BOM is skipped by each reader.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::input::{Input, Source};
use super::record::problem;
use super::types::{Format, Location, ManifestError};
use super::{csv_source, json_array, jsonl};

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
    let (prefix, input) = peek(input).map_err(io_err)?;
    if let Some(encoding) = wide_encoding(&prefix) {
        return Ok(wide_source(encoding, &name, format));
    }
    let input: Input = Box::new(io::Cursor::new(prefix).chain(input));
    match format {
        Format::Csv => csv_source::open(input, name),
        Format::Json => json_array::open(input, name),
        Format::Jsonl => Ok(jsonl::open(input, name)),
    }
    .map_err(io_err)
}

/// The first (up to) 4 bytes of `input`, and the rest of it.
fn peek(mut input: Input) -> io::Result<(Vec<u8>, Input)> {
    let mut prefix = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut prefix)?;
    Ok((prefix, input))
}

/// The name of the UTF-16/UTF-32 encoding whose byte-order mark starts `prefix`, if any.
fn wide_encoding(prefix: &[u8]) -> Option<&'static str> {
    match prefix {
        [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32 (big-endian)"),
        [0xFF, 0xFE, 0, 0, ..] => Some("UTF-32 (little-endian)"),
        [0xFE, 0xFF, ..] => Some("UTF-16 (big-endian)"),
        [0xFF, 0xFE, ..] => Some("UTF-16 (little-endian)"),
        _ => None,
    }
}

/// A manifest in a wide encoding: one problem at line 1, no rows (its bytes would read as
/// garbage interleaved with NULs).
fn wide_source(encoding: &str, file: &Arc<PathBuf>, format: Format) -> Source {
    let location = Location {
        file: Arc::clone(file),
        line: 1,
        // JSON locations always have a column.
        column: (format != Format::Csv).then_some(1),
    };
    let message = format!("the manifest is encoded as {encoding}, not UTF-8");
    let hint = "save it as UTF-8 (e.g. Excel: \"CSV UTF-8\"; iconv -f UTF-16 -t UTF-8)";
    Source {
        header: vec![problem(&location, None, message, Some(hint.into()))],
        rows: None,
    }
}
