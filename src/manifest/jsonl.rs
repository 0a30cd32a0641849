//! JSON Lines manifests: one object per non-blank line.
//!
//! Invariants:
//! - A line that is not a JSON object is one problem, and reading goes on with the next line:
//!   lines are independent, so one bad line does not hide the rest.
//! - A row's location is its line and the column of its first non-blank character; syntax
//!   errors point at the exact line:column in the file.
//! - Memory is bounded: a line longer than [`MAX_ROW`] is skipped (as one problem), not
//!   buffered.

use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use super::input::{char_count, Input, Item, Source, MAX_ROW};
use super::json_element::parse_element;
use super::record::problem;
use super::types::Location;

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
            let message = format!("line is longer than {} bytes", MAX_ROW);
            let hint = "put exactly one object on each line".into();
            return Some(Item::Bad(problem(&loc, None, message, Some(hint))));
        }
        let item = parse_element(&text[skip..], &self.file, self.line, column);
        Some(item.unwrap_or_else(|syntax| Item::Bad(syntax.problem)))
    }
}

/// Reads one line (without its `\n`) into `buf`. `Ok(None)` at end of file; `Ok(Some(false))`
/// when the line exceeded [`MAX_ROW`]: `buf` then holds its start, the rest was skipped.
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
        let room = MAX_ROW.saturating_sub(buf.len());
        complete &= take <= room;
        buf.extend_from_slice(&chunk[..take.min(room)]);
        let used = newline.map_or(take, |n| n + 1);
        input.consume(used);
        if newline.is_some() {
            return Ok(Some(complete));
        }
    }
}
