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
//! Layout: `source` opens a file as a stream of raw rows, picking one reader per format
//! (`csv_source` with `csv_lines`, `json_array`, `jsonl`, the two JSON readers sharing
//! `json_element`); the readers share the interface in `input` and know nothing of `source`.
//! `record` types the values, `resolve` checks a row against the [`Rules`] (path safety in
//! `segment`), `validate` runs the whole-file pass (duplicates, problem cap, plan).

mod column;
mod csv_lines;
mod csv_source;
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
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::secret::SecretString;
use input::{Item, Items};
pub(crate) use segment::unsafe_segment;
use source::open_source;

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

/// Manifest file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
}

impl Format {
    /// Format from the file extension: `.csv`, `.json`, `.jsonl`/`.ndjson`.
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Where in the manifest something is: `file:line` or `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<PathBuf>,
    /// 1-based line of the row (CSV: the record's first line; JSON: the object's opening brace).
    pub line: u64,
    /// 1-based column, for JSON formats.
    pub column: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        Ok(())
    }
}

/// One problem found in a manifest. Displayed as
/// `users.csv:12: field `require_change`: expected true or false, got "yes" (hint: ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub field: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Provider-specific inputs a row may carry. All secret: they authorise a reset.
#[derive(Debug, Default)]
pub struct Inputs {
    pub old_password: Option<SecretString>,
    pub confirmation_token: Option<SecretString>,
    pub email_auth_code: Option<SecretString>,
    pub password_reset_code: Option<SecretString>,
    pub request_code: Option<SecretString>,
    pub verification_code: Option<SecretString>,
}

/// One validated manifest row: one reset to perform.
#[derive(Debug)]
pub struct Target {
    /// 1-based index of the data row (header not counted); stable across runs of the same file.
    pub row: u64,
    pub location: Location,
    pub user: String,
    /// Provider name, resolved (the row's `provider` column or the run's default provider).
    pub provider: String,
    /// Method id, resolved (the row's `method` column or the provider's default, "" if none).
    pub method: String,
    pub require_change: Option<bool>,
    pub inputs: Inputs,
    /// An explicit new password from the manifest (allowed, warned about).
    pub new_password: Option<SecretString>,
}

/// Which provider-specific inputs a provider requires of each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputRule {
    /// No provider-specific inputs needed (Graph, generic HTTP, LDAP).
    #[default]
    None,
    /// PingOne: exactly one of `old_password` or `confirmation_token`.
    OldPasswordXorConfirmationToken,
    /// Wristband: exactly one of `email_auth_code`, `password_reset_code`, or
    /// `request_code` + `verification_code` together.
    WristbandCodes,
}

/// What validation needs to know about one configured provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderRules {
    /// Method id used when the row has no `method` (may be "").
    pub default_method: String,
    pub input_rule: InputRule,
    /// The provider puts the method id in the request path (Graph, an http `{method}` path), so
    /// a row must resolve to a non-empty method.
    pub method_in_path: bool,
}

/// What validation needs to know about the run's configuration.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Configured providers by name. When empty, provider names are not checked (validate
    /// without a config) and rows resolve to `default_provider` or their own column.
    pub providers: BTreeMap<String, ProviderRules>,
    /// Provider for rows without a `provider` column/value (`--provider`, or the only one
    /// configured). `None` with a row lacking `provider` is a problem on that row.
    pub default_provider: Option<String>,
}

/// Result of a successful validation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rows: u64,
    pub rows_by_provider: BTreeMap<String, u64>,
    /// Non-fatal findings, e.g. a `new_password` column (secrets in the manifest).
    pub warnings: Vec<String>,
    /// SHA-256 of the manifest bytes, lowercase hex (the journal pins the manifest with it).
    pub sha256: String,
}

/// Error opening or reading the manifest as a whole (not a per-row problem).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot tell the format of manifest {0} from its extension (hint: name it .csv, .json or .jsonl, or pass --format csv|json|jsonl)")]
    UnknownFormat(PathBuf),
    /// The manifest is invalid: every problem found.
    #[error("{} problem(s) in the manifest", .0.len())]
    Invalid(Vec<Problem>),
}

/// The known column names. Anything else is a problem (typo protection).
pub(crate) const COLUMNS: &[&str] = &[
    "user",
    "method",
    "provider",
    "require_change",
    "old_password",
    "confirmation_token",
    "email_auth_code",
    "password_reset_code",
    "request_code",
    "verification_code",
    "new_password",
];
