//! The manifest: one row per password reset, from CSV (with header), a JSON array of objects, or
//! JSON Lines.
//!
//! Invariants:
//! - Readers stream: memory does not grow with the number of rows (validation keeps one 128-bit
//!   hash and the row's position per row for duplicate detection, 32 bytes, nothing more; a
//!   single row or JSON object is capped at 1 MiB).
//! - [`validate`] reads the whole file and returns *every* problem, each with file:line (JSON:
//!   line:column) and field, before anything is sent; the run re-reads the file with [`open`].
//! - This module knows nothing of HTTP or providers beyond [`Rules`], the per-provider facts
//!   validation needs, and that `user`, `method` and `provider` may become URL path segments
//!   (`unsafe_segment` refuses what a path would misread).
//! - [`validate`] and [`open`] share the readers and the per-row checks, so they number rows
//!   alike ([`Target::row`]) and agree on every row.
//!
//! Layout: this file is the entry points ([`validate`], [`open`] and its [`Rows`]); the types they
//! speak in live in `types` (re-exported here), which imports no other manifest module. `source`
//! opens a file as a stream of raw rows, picking one reader per format (`csv_source` with
//! `csv_lines`, `json_array`, `jsonl`, the two JSON readers sharing `json_element`); the readers
//! share the interface in `input` and know nothing of `source`. `record` types the values (column
//! names in `column`), `resolve` checks a row against the [`Rules`] (path safety in `segment`),
//! `validate` runs the whole-file pass (duplicates, problem cap, plan). Imports go one way: no two
//! modules import each other, directly or in a loop, and only the unit tests import this file.

mod column;
mod csv_lines;
mod csv_source;
mod dupes;
mod input;
mod json_array;
mod json_element;
mod jsonl;
mod record;
mod resolve;
mod segment;
mod source;
#[cfg(test)]
mod tests;
mod types;
mod validate;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub(crate) use column::closest;
use input::{Item, Items};
pub(crate) use segment::unsafe_segment;
use source::open_source;
pub use types::{
    Format, InputRule, Inputs, Location, ManifestError, Plan, Problem, ProviderRules, Rules, Target,
};

/// Reads the whole manifest once, streaming, and checks every row against `rules`.
///
/// `format: None` takes the format from the extension. Returns the [`Plan`], or
/// [`ManifestError::Invalid`] listing every problem in file order (at most 1000, then one
/// problem counting the rest).
pub fn validate(path: &Path, format: Option<Format>, rules: &Rules) -> Result<Plan, ManifestError> {
    validate::validate(path, format, rules)
}

/// Opens the manifest for the run: a stream of targets, checked row by row as in [`validate`]
/// (duplicates are not tracked; validate first). Problems of the file as a whole (CSV header,
/// JSON top level) fail here with [`ManifestError::Invalid`].
pub fn open(path: &Path, format: Option<Format>, rules: &Rules) -> Result<Rows, ManifestError> {
    let source = open_source(path, format, None)?;
    match source.rows {
        Some(items) if source.header.is_empty() => Ok(Rows {
            items,
            rules: rules.clone(),
            row: 0,
            last: Location {
                file: Arc::new(path.to_owned()),
                line: 1,
                column: None,
            },
        }),
        _ => Err(ManifestError::Invalid(source.header)),
    }
}

/// The rows of an opened manifest, in file order: one item per data row (`Err` holds the row's
/// first problem), plus an `Err` for a problem of the file after the rows (an unclosed JSON
/// array) or a read error, after which the stream ends.
pub struct Rows {
    items: Items,
    rules: Rules,
    /// Number of the last data row.
    row: u64,
    /// Location of the last row, for a read error.
    last: Location,
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

impl Iterator for Rows {
    type Item = Result<Target, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.items.next()? {
            Item::Row(raw) => {
                self.row += 1;
                let checked = resolve::resolve(raw, self.row, &self.rules);
                self.last = checked.target.location.clone();
                match checked.problems.into_iter().next() {
                    Some(p) => Some(Err(p)),
                    None => Some(Ok(checked.target)),
                }
            }
            Item::Bad(p) => {
                self.row += 1;
                self.last = p.location.clone();
                Some(Err(p))
            }
            Item::FileProblem(p) => Some(Err(p)),
            Item::Io(e) => Some(Err(Problem {
                location: self.last.clone(),
                field: None,
                message: format!("cannot read the manifest after this row: {e}"),
                hint: None,
            })),
        }
    }
}
