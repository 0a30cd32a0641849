//! The manifest's vocabulary: the types the rest of the crate (and the library's users) see —
//! [`Target`], [`Problem`] and its [`Location`], the [`Rules`] validation checks rows against, the
//! [`Plan`] and [`ManifestError`] it returns, the [`Format`] of a file. The parent module
//! re-exports them all; the readers, the row checks and the validation pass build on this
//! module, which imports no other manifest module.
//!
//! Invariant: secret values ([`Inputs`], `new_password`) are [`SecretString`]s from the moment
//! they are read, so the `Debug` of a [`Target`] prints `[REDACTED]` for them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::secret::SecretString;

/// Manifest file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// No provider-specific inputs needed (Graph, generic HTTP).
    #[default]
    None,
    /// `old_password` may be given, or not (LDAP: a change checked against it, else a reset).
    OptionalOldPassword,
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
    /// The provider always makes the user change the password at next sign-in (Graph's
    /// resetPassword): a row saying `require_change = false` is warned about.
    pub forces_change: bool,
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

impl crate::exit_class::Classified for ManifestError {
    /// The manifest is read before the first request, and again (the same file) to feed it.
    fn exit_class(&self) -> crate::exit_class::ExitClass {
        crate::exit_class::ExitClass::Usage
    }
}
