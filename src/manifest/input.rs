//! What every manifest reader shares: the bytes it reads ([`Input`]), what it yields per row
//! ([`Item`]), what opening a file gives ([`Source`]), and the bounds and counting rules all
//! formats follow. The readers (`csv_source`, `json_array`, `jsonl`) build on this module;
//! `source`, which picks a reader for a file, builds on them. This module imports no reader.
//!
//! Invariants:
//! - Every reader yields exactly one [`Item`] per data row it finds (a row it cannot read is an
//!   [`Item::Bad`]), so counting items gives the same row numbers in `validate` and `open`.
//! - A row longer than [`MAX_ROW`] bytes is one problem, not a buffer of its size: every reader
//!   stops buffering it there (the CSV reader allows for its read-ahead, see `csv_lines`).
//! - Columns in messages count characters ([`char_count`]), as editors show them.

use std::io::{self, Read};

use super::record::RawRow;
use super::types::Problem;

/// Largest row read, in bytes: a CSV record, a JSON array element or a JSON Lines line. Far
/// above any real row; a bound so that a missing `"`, `}` or line break, or a binary file,
/// cannot make a reader buffer the whole file.
pub(crate) const MAX_ROW: usize = 1 << 20;

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

/// Number of characters in UTF-8 `bytes` (invalid sequences count per lead byte): columns in
/// messages are characters, as editors show them.
pub(crate) fn char_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count() as u64
}
