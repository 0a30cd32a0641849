//! CSV manifests: a header line naming the columns, then one record per reset.
//!
//! Invariants:
//! - The header is required. Unknown and repeated column names are problems, but the rows are
//!   still read (with those columns ignored) so one pass reports everything; without a `user`
//!   column, or when line 1 is no header at all, reading stops at the header.
//! - Cells are trimmed; an empty cell is an absent value, and a record of empty cells (blank
//!   lines, `,,,`) is no row at all. A UTF-8 BOM is tolerated (csv-core strips it).
//! - A row's location is the line its record starts on (quoted cells may span lines), with
//!   `\n`, `\r\n` and lone `\r` each one line break ([`LineTracker`]); CSV locations have no
//!   column.
//! - A record longer than [`MAX_ROW`] bytes is one problem at its line, and reading stops.
//! - Header cells are only quoted in messages once line 1 is known to be a header: a file that
//!   lacks one would otherwise put its first row, secrets included, into the error.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use ::csv::{ByteRecord, Reader, ReaderBuilder, Trim};

use super::column::{closest, shown, unknown_column_hint, Column, COLUMNS};
use super::csv_lines::{LineTracker, TooLong};
use super::input::{Input, Item, Source, MAX_ROW};
use super::record::{problem, RawRow};
use super::types::{Location, Problem};

/// Reads the header and returns the source of the data rows.
pub(crate) fn open(input: Input, file: Arc<PathBuf>) -> io::Result<Source> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(LineTracker::new(input));
    let mut record = ByteRecord::new();
    let read = reader.read_byte_record(&mut record).map_err(to_io);
    match read {
        Err(e) if TooLong::is(&e) => {
            let loc = record_location(&file, &mut reader, &record);
            return Ok(Source {
                header: vec![too_long(&loc)],
                rows: None,
            });
        }
        Err(e) => return Err(e),
        // An empty file: the caller reports "no rows".
        Ok(false) => {
            return Ok(Source {
                header: Vec::new(),
                rows: Some(Box::new(std::iter::empty())),
            })
        }
        Ok(true) => {}
    }
    let loc = record_location(&file, &mut reader, &record);
    next_record(&mut reader);
    let (columns, header, fatal) = parse_header(&record, &loc);
    let rows = CsvRows {
        reader,
        columns,
        file,
        record,
        done: false,
    };
    Ok(Source {
        header,
        rows: (!fatal).then(|| Box::new(rows) as _),
    })
}

/// csv only fails with I/O errors here: records are read as bytes and may be ragged.
fn to_io(err: ::csv::Error) -> io::Error {
    match err.into_kind() {
        ::csv::ErrorKind::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}

fn location(file: &Arc<PathBuf>, line: u64) -> Location {
    Location {
        file: Arc::clone(file),
        line,
        column: None,
    }
}

/// Where `record`, just read, starts (csv's own line numbers are off for CRLF and blank lines).
fn record_location(
    file: &Arc<PathBuf>,
    reader: &mut Reader<LineTracker<Input>>,
    record: &ByteRecord,
) -> Location {
    let start = record.position().map_or(0, |p| p.byte());
    location(file, reader.get_mut().record_at(start))
}

/// Tells the tracker where the next record starts, so its size bound counts from there.
fn next_record(reader: &mut Reader<LineTracker<Input>>) {
    let next = reader.position().byte();
    reader.get_mut().next_record_at(next);
}

/// The problem of a record cut off at [`MAX_ROW`] bytes.
fn too_long(loc: &Location) -> Problem {
    let message = format!("this record is longer than {MAX_ROW} bytes; reading stopped here");
    let hint = "a row is a few hundred bytes at most: look for an unclosed `\"` (a quoted cell \
                runs on to the next `\"`), or check that this file is the manifest"
        .into();
    problem(loc, None, message, Some(hint))
}

/// The column of each header cell (`None`: ignored), the header's problems, and whether they
/// are fatal (rows cannot be read meaningfully).
fn parse_header(record: &ByteRecord, loc: &Location) -> (Vec<Option<Column>>, Vec<Problem>, bool) {
    let names: Vec<String> = record
        .iter()
        .map(|cell| String::from_utf8_lossy(cell).into_owned())
        .collect();
    let looks_like_header = names
        .iter()
        .any(|n| Column::from_name(n).is_some() || closest(n, COLUMNS.iter().copied()).is_some());
    if !looks_like_header {
        let message = format!(
            "the first line is not a header: none of its {} cell(s) is a column name",
            names.len()
        );
        let hint = if names.iter().any(|n| n.contains('\0')) {
            "the line holds NUL bytes: save the manifest as UTF-8 text (is it UTF-16, or not a \
             manifest at all?)"
                .to_owned()
        } else {
            format!(
                "start the file with a header line such as `user,provider,method`; known columns are {}",
                COLUMNS.join(", ")
            )
        };
        return (
            Vec::new(),
            vec![problem(loc, None, message, Some(hint))],
            true,
        );
    }
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(names.len());
    let mut problems = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let col = check_header_cell(name, i, &columns, loc, &mut problems);
        columns.push(col);
    }
    let fatal = !columns.contains(&Some(Column::User));
    if fatal {
        problems.push(problem(
            loc,
            Some("user"),
            "missing column: the header has no `user` column",
            Some("add a `user` column holding each user's object id, UPN or DN".into()),
        ));
    }
    (columns, problems, fatal)
}

/// The column of header cell `i` named `name`, or `None` (with a problem) when it is empty,
/// unknown or repeated.
fn check_header_cell(
    name: &str,
    i: usize,
    seen: &[Option<Column>],
    loc: &Location,
    problems: &mut Vec<Problem>,
) -> Option<Column> {
    let number = i + 1;
    if name.is_empty() {
        let message = format!("header cell {number} is empty");
        let hint = "name every column, or remove the empty one".into();
        problems.push(problem(loc, None, message, Some(hint)));
        return None;
    }
    let Some(col) = Column::from_name(name) else {
        let message = format!("unknown column (header cell {number})");
        problems.push(problem(
            loc,
            Some(&shown(name)),
            message,
            Some(unknown_column_hint(name)),
        ));
        return None;
    };
    if let Some(first) = seen.iter().position(|c| *c == Some(col)) {
        let message = format!(
            "column appears twice in the header (cells {} and {number})",
            first + 1
        );
        let hint = "remove one of them".into();
        problems.push(problem(loc, Some(&shown(name)), message, Some(hint)));
        return None;
    }
    Some(col)
}

/// The data rows after the header.
struct CsvRows {
    reader: Reader<LineTracker<Input>>,
    columns: Vec<Option<Column>>,
    file: Arc<PathBuf>,
    /// Reused for every record; holds one record's bytes at a time.
    record: ByteRecord,
    done: bool,
}

impl Iterator for CsvRows {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while !self.done {
            match self.reader.read_byte_record(&mut self.record) {
                Err(e) => {
                    self.done = true;
                    let e = to_io(e);
                    if TooLong::is(&e) {
                        let loc = record_location(&self.file, &mut self.reader, &self.record);
                        return Some(Item::Bad(too_long(&loc)));
                    }
                    return Some(Item::Io(e));
                }
                Ok(false) => self.done = true,
                Ok(true) => {
                    // Spreadsheets export trailing `,,,` lines; a record of empty cells says
                    // nothing.
                    let empty = self.record.iter().all(<[u8]>::is_empty);
                    let item = (!empty).then(|| self.row());
                    next_record(&mut self.reader);
                    if item.is_some() {
                        return item;
                    }
                }
            }
        }
        None
    }
}

impl CsvRows {
    /// The current record as an item.
    fn row(&mut self) -> Item {
        let loc = record_location(&self.file, &mut self.reader, &self.record);
        if self.record.len() != self.columns.len() {
            let message = format!(
                "row has {} field(s), the header has {}",
                self.record.len(),
                self.columns.len()
            );
            // A cell running across lines in a short record is the mark of a `"` never closed.
            let multiline = self
                .record
                .iter()
                .any(|c| c.contains(&b'\n') || c.contains(&b'\r'));
            let hint = if multiline && self.record.len() < self.columns.len() {
                "a quoted cell starting on this line runs across lines: probably a missing \
                 closing `\"`"
            } else {
                "quote values that contain commas, e.g. \"Doe, Jane\""
            };
            return Item::Bad(problem(&loc, None, message, Some(hint.into())));
        }
        let mut row = RawRow::new(loc);
        for (cell, col) in self.record.iter().zip(&self.columns) {
            let Some(col) = *col else { continue };
            match std::str::from_utf8(cell) {
                Ok(text) => row.set_text(col, text.to_owned()),
                Err(_) => row.problems.push(problem(
                    &row.location,
                    Some(col.name()),
                    "is not valid UTF-8",
                    Some("save the manifest as UTF-8".into()),
                )),
            }
        }
        Item::Row(row)
    }
}
