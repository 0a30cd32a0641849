//! JSON array manifests, `[ {...}, {...} ]`, read one element at a time.
//!
//! A small byte scanner walks the array, tracking strings, escapes and nesting depth, and cuts out
//! each top-level element; serde_json then parses that element alone. Memory holds one element
//! (at most [`MAX_ROW`] bytes), never the array.
//!
//! Invariants:
//! - A row's location is the line:column of its element's first character (the `{`).
//! - A syntax error is reported at its absolute line:column and ends the reading: after broken
//!   JSON there is no reliable way to find where the next element starts.
//! - A top level that is not an array is one problem at its first character, nothing more.

use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use super::input::{Input, Item, Source, MAX_ROW};
use super::json_element::parse_element;
use super::record::problem;
use super::types::{Location, Problem};

pub(crate) fn open(input: Input, file: Arc<PathBuf>) -> io::Result<Source> {
    let mut sc = Scanner {
        input: BufReader::new(input),
        pos: Pos { line: 1, column: 1 },
    };
    if sc.input.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        sc.input.consume(3);
    }
    sc.skip_ws()?;
    let first = sc.peek()?;
    if first.is_some_and(|b| b != b'[') {
        return Ok(not_an_array(&sc, &file, first));
    }
    // An empty file has no rows; the caller reports that.
    let state = if first.is_some() {
        State::First
    } else {
        State::Done
    };
    sc.bump()?;
    let rows = ArrayRows {
        sc,
        file,
        buf: Vec::new(),
        state,
        pending: None,
    };
    Ok(Source {
        header: Vec::new(),
        rows: Some(Box::new(rows)),
    })
}

/// The manifest's top level, starting with `first`, is not an array.
fn not_an_array(sc: &Scanner, file: &Arc<PathBuf>, first: Option<u8>) -> Source {
    let what = if first == Some(b'{') {
        "a single object"
    } else {
        "not an array"
    };
    let message =
        format!("the top level of the JSON manifest is {what}; expected an array of objects");
    let hint = "wrap the rows in [ ... ] separated by commas, \
                or use JSON Lines (.jsonl) with one object per line";
    Source {
        header: vec![problem(&sc.pos.at(file), None, message, Some(hint.into()))],
        rows: None,
    }
}

/// Line and column (in characters) of the next byte to read.
#[derive(Clone, Copy)]
struct Pos {
    line: u64,
    column: u64,
}

impl Pos {
    fn advance(&mut self, bytes: &[u8]) {
        for b in bytes {
            if *b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if (b & 0xC0) != 0x80 {
                // UTF-8 continuation bytes belong to the character before them.
                self.column += 1;
            }
        }
    }

    fn at(self, file: &Arc<PathBuf>) -> Location {
        Location {
            file: Arc::clone(file),
            line: self.line,
            column: Some(self.column),
        }
    }
}

/// How an element ended.
enum End {
    /// At the `,` or `]` following it (not consumed).
    Separator(u8),
    Eof,
    /// It grew past [`MAX_ROW`]; reading stopped there.
    TooBig,
}

struct Scanner {
    input: BufReader<Input>,
    pos: Pos,
}

impl Scanner {
    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.input.fill_buf()?.first().copied())
    }

    fn bump(&mut self) -> io::Result<()> {
        let buf = self.input.fill_buf()?;
        if let Some(b) = buf.first() {
            self.pos.advance(&[*b]);
            self.input.consume(1);
        }
        Ok(())
    }

    /// Skips JSON whitespace.
    fn skip_ws(&mut self) -> io::Result<()> {
        loop {
            let buf = self.input.fill_buf()?;
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            if n == 0 {
                return Ok(());
            }
            self.pos.advance(&buf[..n]);
            self.input.consume(n);
        }
    }

    /// Appends the bytes of one top-level element to `out`, up to the `,` or `]` that ends it.
    fn read_element(&mut self, out: &mut Vec<u8>) -> io::Result<End> {
        let mut state = Nesting::default();
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(End::Eof);
            }
            let (len, separator) = state.scan(chunk);
            let take = len.min(MAX_ROW.saturating_sub(out.len()));
            out.extend_from_slice(&chunk[..take]);
            self.pos.advance(&chunk[..take]);
            self.input.consume(take);
            if take < len {
                return Ok(End::TooBig);
            }
            if let Some(sep) = separator {
                return Ok(End::Separator(sep));
            }
        }
    }
}

/// Where the scanner is within an element: inside a string (after a backslash?), how deep.
#[derive(Default)]
struct Nesting {
    depth: u64,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    /// How many bytes of `chunk` belong to the element, and the separator after them if found.
    fn scan(&mut self, chunk: &[u8]) -> (usize, Option<u8>) {
        for (i, &b) in chunk.iter().enumerate() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b',' | b']' if self.depth == 0 => return (i, Some(b)),
                // A stray `}` stays in the element; serde_json then reports it precisely.
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        (chunk.len(), None)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    First,
    Next,
    Done,
}

struct ArrayRows {
    sc: Scanner,
    file: Arc<PathBuf>,
    /// The current element's bytes; reused.
    buf: Vec<u8>,
    state: State,
    /// A problem found after the element just returned (e.g. the array is not closed).
    pending: Option<Problem>,
}

impl Iterator for ArrayRows {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(p) = self.pending.take() {
            return Some(Item::FileProblem(p));
        }
        if self.state == State::Done {
            return None;
        }
        match self.step() {
            Ok(item) => item,
            Err(e) => {
                self.state = State::Done;
                Some(Item::Io(e))
            }
        }
    }
}

impl ArrayRows {
    /// Reads the next element (or the end of the array).
    fn step(&mut self) -> io::Result<Option<Item>> {
        self.sc.skip_ws()?;
        if self.state == State::First && self.sc.peek()? == Some(b']') {
            self.sc.bump()?;
            self.state = State::Done;
            return self.after_array().map(|p| p.map(Item::FileProblem));
        }
        let start = self.sc.pos;
        self.buf.clear();
        let end = self.sc.read_element(&mut self.buf)?;
        if self.buf.is_empty() {
            self.state = State::Done;
            return Ok(Some(Item::FileProblem(self.missing_element(&end))));
        }
        let item = match parse_element(&self.buf, &self.file, start.line, start.column) {
            Ok(item) => item,
            Err(syntax) => {
                // No way to find the next element in broken JSON: stop here.
                self.state = State::Done;
                let p = match end {
                    End::TooBig if syntax.eof => self.too_big(start),
                    _ => syntax.problem,
                };
                return Ok(Some(Item::Bad(p)));
            }
        };
        self.after_element(end)?;
        Ok(Some(item))
    }

    /// An element cut off at [`MAX_ROW`] without a syntax error in what was read.
    fn too_big(&self, start: Pos) -> Problem {
        let message = format!("this element is larger than {MAX_ROW} bytes");
        let hint = "probably a missing `}` or `]` at its end".into();
        problem(&start.at(&self.file), None, message, Some(hint))
    }

    /// Moves past the separator after a well-formed element; notes trouble for the next call.
    fn after_element(&mut self, end: End) -> io::Result<()> {
        match end {
            End::Separator(b',') => {
                self.sc.bump()?;
                self.state = State::Next;
            }
            End::Separator(_) => {
                self.sc.bump()?;
                self.state = State::Done;
                self.pending = self.after_array()?;
            }
            End::Eof | End::TooBig => {
                self.state = State::Done;
                self.pending = Some(self.missing_element(&end));
            }
        }
        Ok(())
    }

    /// The problem when no element stands where one must.
    fn missing_element(&self, end: &End) -> Problem {
        let (message, hint) = match end {
            End::Separator(b']') => (
                "expected an object after `,`, found `]`",
                "remove the comma after the last object",
            ),
            End::Separator(_) => ("expected an object, found `,`", "remove the extra comma"),
            End::Eof | End::TooBig => (
                "unexpected end of file: the array is not closed",
                "end the manifest with `]`",
            ),
        };
        problem(
            &self.sc.pos.at(&self.file),
            None,
            message,
            Some(hint.into()),
        )
    }

    /// After the closing `]`: only whitespace may follow.
    fn after_array(&mut self) -> io::Result<Option<Problem>> {
        self.sc.skip_ws()?;
        if self.sc.peek()?.is_none() {
            return Ok(None);
        }
        let message = "unexpected content after the closing `]` of the array";
        let hint = "a JSON manifest is one array; for one object per line use JSON Lines (.jsonl)";
        Ok(Some(problem(
            &self.sc.pos.at(&self.file),
            None,
            message,
            Some(hint.into()),
        )))
    }
}
