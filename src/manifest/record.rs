//! A row as read, before provider resolution: the values of the known columns, already typed,
//! plus the problems found while reading them. All three formats produce a [`RawRow`].
//!
//! Invariants:
//! - A secret column's value is moved into a [`SecretString`] the moment it is read, and no
//!   message built here ever contains it (messages quote only non-secret values).
//! - Non-secret text is trimmed; empty text is absent. Secret text is kept exactly as given (a
//!   password may end in a space); only a blank secret counts as absent. The CSV reader trims
//!   every cell before it gets here, JSON strings arrive verbatim.

use serde_json::Value;

use super::column::{shown, unknown_column_hint, Column};
use super::types::{Inputs, Location, Problem};
use crate::secret::{secret, SecretString};

/// One row's values, typed but not yet checked against the rules.
#[derive(Debug)]
pub(crate) struct RawRow {
    pub location: Location,
    pub user: Option<String>,
    pub method: Option<String>,
    pub provider: Option<String>,
    pub require_change: Option<bool>,
    pub inputs: Inputs,
    pub new_password: Option<SecretString>,
    /// Problems found while reading the values (wrong types, unknown keys, bad booleans).
    pub problems: Vec<Problem>,
}

/// Builds a problem; the one constructor every reader uses.
pub(crate) fn problem(
    location: &Location,
    field: Option<&str>,
    message: impl Into<String>,
    hint: Option<String>,
) -> Problem {
    Problem {
        location: location.clone(),
        field: field.map(str::to_owned),
        message: message.into(),
        hint,
    }
}

impl RawRow {
    pub(crate) fn new(location: Location) -> RawRow {
        RawRow {
            location,
            user: None,
            method: None,
            provider: None,
            require_change: None,
            inputs: Inputs::default(),
            new_password: None,
            problems: Vec::new(),
        }
    }

    fn add(&mut self, field: &str, message: impl Into<String>, hint: Option<String>) {
        let p = problem(&self.location, Some(field), message, hint);
        self.problems.push(p);
    }

    /// Sets `col` from text (a CSV cell or a JSON string).
    pub(crate) fn set_text(&mut self, col: Column, text: String) {
        if col.is_secret() {
            if !text.trim().is_empty() {
                *self.secret_slot(col) = Some(secret(text));
            }
            return;
        }
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match col {
            Column::User => self.user = Some(text.to_owned()),
            Column::Method => self.method = Some(text.to_owned()),
            Column::Provider => self.provider = Some(text.to_owned()),
            _ => match parse_bool(text) {
                Some(b) => self.require_change = Some(b),
                None => self.add(
                    col.name(),
                    format!("expected true or false, got {:?}", shorten(text)),
                    Some("write true/false, yes/no or 1/0".into()),
                ),
            },
        }
    }

    /// The slot of a secret column. Non-secret columns never reach here (see `set_text`); should
    /// one slip through, it lands in `new_password`, which is secret too, so nothing leaks.
    fn secret_slot(&mut self, col: Column) -> &mut Option<SecretString> {
        match col {
            Column::OldPassword => &mut self.inputs.old_password,
            Column::ConfirmationToken => &mut self.inputs.confirmation_token,
            Column::EmailAuthCode => &mut self.inputs.email_auth_code,
            Column::PasswordResetCode => &mut self.inputs.password_reset_code,
            Column::RequestCode => &mut self.inputs.request_code,
            Column::VerificationCode => &mut self.inputs.verification_code,
            _ => &mut self.new_password,
        }
    }

    /// A row from a parsed JSON object (array element or JSON Lines line), its entries in file
    /// order. A key given twice is a problem: JSON parsers disagree on which value wins.
    pub(crate) fn from_json_object(entries: Vec<(String, Value)>, location: Location) -> RawRow {
        let mut row = RawRow::new(location);
        let mut seen = std::collections::HashSet::new();
        for (key, value) in entries {
            if seen.contains(&key) {
                let hint = "keep one of them".into();
                row.add(&shown(&key), "key appears twice in this object", Some(hint));
                continue;
            }
            match Column::from_name(&key) {
                Some(col) => row.set_json(col, value),
                None => {
                    let hint = unknown_column_hint(&key);
                    row.add(&shown(&key), "unknown key", Some(hint));
                }
            }
            seen.insert(key);
        }
        row
    }

    /// Sets `col` from a JSON value: strings for text columns, a boolean for `require_change`,
    /// null for absent.
    fn set_json(&mut self, col: Column, value: Value) {
        match (col, value) {
            (_, Value::Null) => {}
            (Column::RequireChange, Value::Bool(b)) => self.require_change = Some(b),
            (Column::RequireChange, Value::String(s)) => self.add(
                col.name(),
                format!("expected a JSON boolean, got the string {:?}", shorten(&s)),
                Some("write true or false without quotes".into()),
            ),
            (Column::RequireChange, other) => self.add(
                col.name(),
                format!("expected a JSON boolean, got {}", type_name(&other)),
                Some("write true or false".into()),
            ),
            (_, Value::String(s)) => self.set_text(col, s),
            (_, Value::Number(n)) if !col.is_secret() => self.add(
                col.name(),
                format!("expected a string, got the number {n}"),
                Some(format!("quote it: \"{n}\"")),
            ),
            (_, other) => self.add(
                col.name(),
                format!("expected a string, got {}", type_name(&other)),
                Some("write the value as a quoted JSON string".into()),
            ),
        }
    }
}

/// `true`/`false`/`1`/`0`/`yes`/`no`, case-insensitive.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// A non-secret value quoted in a message, cut to a readable length.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push('…');
    cut
}

/// "a number", "an object", ... for messages (never the value itself).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
