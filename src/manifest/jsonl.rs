//! JSON Lines manifests (one object per non-blank line), and the element parsing shared with the
//! JSON array reader.
//!
//! Invariants:
//! - A line that is not a JSON object is one problem, and reading goes on with the next line:
//!   lines are independent, so one bad line does not hide the rest.
//! - A row's location is its line and the column of its first non-blank character; syntax
//!   errors point at the exact line:column in the file.
//! - Memory is bounded: a line longer than [`MAX_ELEMENT`] is skipped (as one problem), not
//!   buffered.

use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::record::{problem, type_name, RawRow};
use super::source::{char_count, Input, Item, Source};
use super::{Location, Problem};

/// Largest JSON object (array element or line) read, in bytes. Far above any real row; a
/// bound so that a missing `}` or a binary file cannot make the reader buffer the whole file.
pub(crate) const MAX_ELEMENT: usize = 1 << 20;

pub(crate) fn open(input: Input, file: Arc<PathBuf>) -> Source {
    let rows = JsonlRows {
        input: BufReader::new(input),
        file,
        line: 0,
        buf: Vec::new(),
        done: false,
    };
    Source {
        header: Vec::new(),
        rows: Some(Box::new(rows)),
    }
}

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

struct JsonlRows {
    input: BufReader<Input>,
    file: Arc<PathBuf>,
    /// Number of the line last read.
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Iterator for JsonlRows {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while !self.done {
            self.buf.clear();
            match read_line(&mut self.input, &mut self.buf) {
                Err(e) => {
                    self.done = true;
                    return Some(Item::Io(e));
                }
                Ok(None) => self.done = true,
                Ok(Some(complete)) => {
                    self.line += 1;
                    if let Some(item) = self.item(complete) {
                        return Some(item);
                    }
                }
            }
        }
        None
    }
}

impl JsonlRows {
    /// The current line as an item; `None` for a blank line.
    fn item(&mut self, complete: bool) -> Option<Item> {
        let mut text: &[u8] = &self.buf;
        if self.line == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        let skip = text.iter().position(|b| !b.is_ascii_whitespace())?;
        let column = char_count(&text[..skip]) + 1;
        if !complete {
            let loc = Location {
                file: Arc::clone(&self.file),
                line: self.line,
                column: Some(column),
            };
            let message = format!("line is longer than {} bytes", MAX_ELEMENT);
            let hint = "put exactly one object on each line".into();
            return Some(Item::Bad(problem(&loc, None, message, Some(hint))));
        }
        let item = parse_element(&text[skip..], &self.file, self.line, column);
        Some(item.unwrap_or_else(|syntax| Item::Bad(syntax.problem)))
    }
}

/// Reads one line (without its `\n`) into `buf`. `Ok(None)` at end of file; `Ok(Some(false))`
/// when the line exceeded [`MAX_ELEMENT`]: `buf` then holds its start, the rest was skipped.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut any = false;
    let mut complete = true;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(complete));
        }
        any = true;
        let newline = chunk.iter().position(|b| *b == b'\n');
        let take = newline.unwrap_or(chunk.len());
        let room = MAX_ELEMENT.saturating_sub(buf.len());
        complete &= take <= room;
        buf.extend_from_slice(&chunk[..take.min(room)]);
        let used = newline.map_or(take, |n| n + 1);
        input.consume(used);
        if newline.is_some() {
            return Ok(Some(complete));
        }
    }
}
