//! One JSON object of a manifest, parsed on its own: the element parsing both JSON readers
//! (`json_array` for array elements, `jsonl` for lines) share, so that they agree on what a row
//! is and on where a syntax error is.
//!
//! Invariants:
//! - An object's entries reach [`RawRow::from_json_object`] in file order, repeated keys included
//!   (a `serde_json::Value` would keep only the last of them, silently).
//! - Any other JSON value is one [`Item::Bad`] naming its type, never quoting it.
//! - A syntax error is located at its absolute line:column in the file, columns in characters.

use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::input::{char_count, Item};
use super::record::{problem, type_name, RawRow};
use super::types::{Location, Problem};

/// A JSON syntax error, located in the file.
pub(crate) struct Syntax {
    pub problem: Problem,
    /// The input ended inside a value (rather than containing a wrong character).
    pub eof: bool,
}

/// Parses one element that starts at `line`:`column` of the file. `Ok` is a row item (an object,
/// or a problem for any other JSON value); `Err` is a syntax error.
pub(crate) fn parse_element(
    buf: &[u8],
    file: &Arc<PathBuf>,
    line: u64,
    column: u64,
) -> Result<Item, Syntax> {
    let loc = Location {
        file: Arc::clone(file),
        line,
        column: Some(column),
    };
    match serde_json::from_slice::<Element>(buf) {
        Ok(Element::Object(entries)) => Ok(Item::Row(RawRow::from_json_object(entries, loc))),
        Ok(Element::Other(what)) => {
            let message = format!("expected a JSON object, got {what}");
            let hint = "write each row as an object: {\"user\": \"...\"}".into();
            Ok(Item::Bad(problem(&loc, None, message, Some(hint))))
        }
        Err(err) => Err(Syntax {
            eof: err.is_eof(),
            problem: syntax_problem(buf, &err, loc),
        }),
    }
}

/// A parsed element: an object's entries in file order, repeated keys included (a `Value` would
/// keep only the last of them, silently), or the type of any other value.
enum Element {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Element::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::Other(type_name(&Value::Array(Vec::new()))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::Bool(false))))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::from(0))))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::from(0))))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::from(0))))
    }

    fn visit_str<E>(self, _: &str) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::String(String::new()))))
    }

    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::Other(type_name(&Value::Null)))
    }
}

/// A serde_json syntax error in `buf` (which starts at `start`) as a problem at the absolute
/// line:column of the file. serde_json reports the line within `buf` and the byte offset within
/// that line; columns here count characters.
fn syntax_problem(buf: &[u8], err: &serde_json::Error, start: Location) -> Problem {
    let rel_line = err.line().max(1);
    let text = buf.split(|b| *b == b'\n').nth(rel_line - 1).unwrap_or(&[]);
    let before = &text[..err.column().saturating_sub(1).min(text.len())];
    let chars = char_count(before);
    let start_col = start.column.unwrap_or(1);
    let loc = Location {
        line: start.line + rel_line as u64 - 1,
        column: Some(if rel_line == 1 {
            start_col + chars
        } else {
            chars + 1
        }),
        file: start.file,
    };
    // serde_json's Display appends its own (relative) position; keep only the description.
    let full = err.to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    let hint = if err.is_eof() {
        "an object or string is not closed".to_owned()
    } else {
        "fix the JSON syntax here (an editor with JSON support shows the spot)".to_owned()
    };
    problem(&loc, None, format!("invalid JSON: {message}"), Some(hint))
}
