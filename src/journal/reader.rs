//! Reading `journal.jsonl` back.
//!
//! Invariants: the first line is the header (a missing, damaged or newer-version header is an
//! error); a partial or unparsable *last* line is a crash mid-write: it is ignored with a warning
//! (the writer's `append` cuts it off), never an error; an unparsable line anywhere else is an error naming the
//! file and line. Error messages never quote line contents (a line may hold a password).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::record::{Header, Record, JOURNAL_VERSION};
use super::JOURNAL_FILE;

/// Everything a journal holds (tests: it keeps every record in memory).
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct JournalContents {
    pub header: Header,
    /// Every record after the header, in file order.
    pub records: Vec<Record>,
}

/// Where the valid part of a journal ends: what `append` keeps.
pub(super) struct Scan {
    /// Length in bytes of the complete, parsable lines.
    pub valid_len: u64,
    /// The last valid line lacks its newline (a crash between the record and its `\n`).
    pub needs_newline: bool,
}

/// Reads `DIR/journal.jsonl` into memory.
#[cfg(test)]
pub fn read_journal(dir: &Path) -> Result<JournalContents> {
    let mut records = Vec::new();
    let header = each_record(dir, |_, rec| {
        records.push(rec);
        Ok(())
    })?;
    Ok(JournalContents { header, records })
}

/// Reads `DIR/journal.jsonl` line by line, handing each record after the header to `visit`
/// with the byte offset of its line (a torn last line ignored), and returns the header. Memory
/// does not grow with the journal.
pub fn each_record(dir: &Path, visit: impl FnMut(u64, Record) -> Result<()>) -> Result<Header> {
    let path = dir.join(JOURNAL_FILE);
    let mut lines = open(&path)?;
    let header = read_header(&mut lines)?;
    read_records(&mut lines, visit)?;
    Ok(header)
}

/// Reads the one record on the line at byte offset `at` of `DIR/journal.jsonl` (an offset a
/// scan handed out): for a detail the compact state leaves on its line.
pub fn read_record_at(dir: &Path, at: u64) -> Result<Record> {
    use std::io::{Seek, SeekFrom};
    let path = dir.join(JOURNAL_FILE);
    let mut file = BufReader::new(File::open(&path)?);
    file.seek(SeekFrom::Start(at))?;
    let mut line = Vec::new();
    file.read_until(b'\n', &mut line)?;
    parse(&line).map_err(|_| {
        anyhow!(
            "{}: no record at byte {at} (hint: the journal changed while it was read)",
            path.display()
        )
    })
}

/// Reads only the header of `DIR/journal.jsonl`.
pub fn read_header_of(dir: &Path) -> Result<Header> {
    read_header(&mut open(&dir.join(JOURNAL_FILE))?)
}

/// Reads a journal file through, noting where its valid part ends.
pub(super) fn scan(path: &Path) -> Result<Scan> {
    let mut lines = open(path)?;
    read_header(&mut lines)?;
    read_records(&mut lines, |_, _| Ok(()))?;
    Ok(Scan {
        valid_len: lines.valid_len,
        needs_newline: lines.needs_newline,
    })
}

fn open(path: &Path) -> Result<Lines> {
    let file = File::open(path).with_context(|| {
        format!(
            "cannot open the journal {} (hint: is this the --out folder of a run?)",
            path.display()
        )
    })?;
    Ok(Lines::new(BufReader::with_capacity(1 << 16, file), path))
}

/// The records after the header (a torn last line ignored), each with its line's offset.
fn read_records(lines: &mut Lines, mut visit: impl FnMut(u64, Record) -> Result<()>) -> Result<()> {
    while let Some(line) = lines.next_line()? {
        let at = format!("{}:{}", lines.path.display(), lines.number);
        match parse(&line.bytes) {
            Ok(Record::Header(_)) => bail!("{at}: a second journal header"),
            Ok(rec) => {
                lines.accept(&line);
                visit(lines.offset - line.len, rec)?;
            }
            Err(e) if line.is_last => {
                let why = describe(&e);
                tracing::warn!(
                    "{at}: ignoring the torn last line of the journal (a crash mid-write): {why}"
                );
                return Ok(());
            }
            Err(e) => bail!(
                "{at}: not a journal record: {} (hint: the journal is damaged or was edited)",
                describe(&e)
            ),
        }
    }
    Ok(())
}

fn read_header(lines: &mut Lines) -> Result<Header> {
    let path = lines.path.display().to_string();
    let line = lines
        .next_line()?
        .ok_or_else(|| anyhow!("{path} is empty: it has no journal header (hint: the run stopped before it began; start it again in a new --out folder)"))?;
    check_version(&line.bytes, &path)?;
    let header = match parse(&line.bytes) {
        Ok(Record::Header(h)) => *h,
        Ok(_) => bail!("{path}:1: the first record is not a journal header"),
        Err(e) => bail!("{path}:1: the journal header is damaged: {}", describe(&e)),
    };
    lines.accept(&line);
    Ok(header)
}

/// Refuses another format version before parsing the header, whose fields differ by version.
fn check_version(bytes: &[u8], path: &str) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        #[serde(rename = "type")]
        kind: String,
        version: u32,
    }
    let Ok(v) = serde_json::from_slice::<Versioned>(bytes) else {
        return Ok(()); // not a header at all: parsing it says what is wrong
    };
    match v.version {
        _ if v.kind != "header" => Ok(()),
        JOURNAL_VERSION => Ok(()),
        old if old < JOURNAL_VERSION => bail!(
            "{path}: journal format version {old} was written by an older credrotate; this one reads only version {JOURNAL_VERSION} (hint: finish or rebuild that run with the credrotate release that started it, or start a new run in a new --out folder)"
        ),
        newer => bail!(
            "{path}: journal format version {newer} was written by a newer credrotate; this one reads only version {JOURNAL_VERSION} (hint: upgrade credrotate)"
        ),
    }
}

fn parse(bytes: &[u8]) -> serde_json::Result<Record> {
    serde_json::from_slice(bytes)
}

/// A parse error without any quoted value from the line (which could be a password).
fn describe(e: &serde_json::Error) -> String {
    let mut out = String::new();
    for (i, part) in e.to_string().split('"').enumerate() {
        out.push_str(if i % 2 == 0 { part } else { "\"…\"" });
    }
    out
}

struct Line {
    bytes: Vec<u8>,
    /// Byte length including the newline, if any.
    len: u64,
    terminated: bool,
    is_last: bool,
}

/// A line reader that counts lines and tracks the end of the last accepted line.
struct Lines {
    reader: BufReader<File>,
    path: PathBuf,
    number: u64,
    offset: u64,
    valid_len: u64,
    needs_newline: bool,
}

impl Lines {
    fn new(reader: BufReader<File>, path: &Path) -> Lines {
        Lines {
            reader,
            path: path.to_owned(),
            number: 0,
            offset: 0,
            valid_len: 0,
            needs_newline: false,
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>> {
        let mut bytes = Vec::new();
        let read = self.reader.read_until(b'\n', &mut bytes);
        let n = read.with_context(|| format!("cannot read {}", self.path.display()))?;
        if n == 0 {
            return Ok(None);
        }
        let terminated = bytes.last() == Some(&b'\n');
        if terminated {
            bytes.pop();
        }
        let rest = self.reader.fill_buf();
        let is_last = rest
            .with_context(|| format!("cannot read {}", self.path.display()))?
            .is_empty();
        self.number += 1;
        self.offset += n as u64;
        Ok(Some(Line {
            bytes,
            len: n as u64,
            terminated,
            is_last,
        }))
    }

    /// Marks `line` (the one just read) as part of the valid journal.
    fn accept(&mut self, line: &Line) {
        debug_assert_eq!(self.valid_len + line.len, self.offset);
        self.valid_len = self.offset;
        self.needs_newline = !line.terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::tests::{header, intent, outcome};
    use crate::journal::record::OutcomeStatus;
    use std::io::Write;

    fn line(rec: &Record) -> String {
        serde_json::to_string(rec).expect("serialises") + "\n"
    }

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join(JOURNAL_FILE), text).expect("write");
    }

    fn two_records() -> String {
        line(&Record::Header(Box::new(header())))
            + &line(&Record::Intent(intent(1, 1, 1, Some("s"))))
            + &line(&Record::Outcome(Box::new(outcome(
                1,
                1,
                1,
                OutcomeStatus::Succeeded,
            ))))
    }

    #[test]
    fn reads_complete_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &two_records());
        let c = read_journal(dir.path()).expect("reads");
        assert_eq!((c.header, c.records.len()), (header(), 2));
    }

    #[test]
    fn torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        for tail in ["{\"type\":\"intent\",\"sess", "\0\0\0\0", "garbage\n"] {
            write(dir.path(), &(two_records() + tail));
            let c = read_journal(dir.path()).expect("torn tail tolerated");
            assert_eq!(c.records.len(), 2, "tail {tail:?}");
        }
        let scan = scan(&dir.path().join(JOURNAL_FILE)).expect("scans");
        assert_eq!(scan.valid_len, two_records().len() as u64);
    }

    #[test]
    fn complete_last_record_without_newline_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = two_records();
        write(dir.path(), text.trim_end());
        let scan = scan(&dir.path().join(JOURNAL_FILE)).expect("scans");
        assert_eq!(read_journal(dir.path()).expect("reads").records.len(), 2);
        assert!(scan.needs_newline);
    }

    #[test]
    fn bad_middle_line_is_an_error_with_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = line(&Record::Header(Box::new(header())))
            + "{\"type\":\"intent\",\"session\":\"hunter2\"}\n"
            + &line(&Record::Outcome(Box::new(outcome(
                1,
                1,
                1,
                OutcomeStatus::Failed,
            ))));
        write(dir.path(), &text);
        let msg = format!("{:#}", read_journal(dir.path()).expect_err("damaged"));
        assert!(msg.contains("journal.jsonl:2:"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn header_problems_are_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "");
        assert!(
            format!("{:#}", read_journal(dir.path()).expect_err("empty"))
                .contains("no journal header")
        );
        write(dir.path(), &line(&Record::Intent(intent(1, 1, 1, None))));
        assert!(
            format!("{:#}", read_journal(dir.path()).expect_err("no header"))
                .contains("not a journal header")
        );
        let mut h = header();
        h.version = 9;
        write(dir.path(), &line(&Record::Header(Box::new(h))));
        let msg = format!("{:#}", read_journal(dir.path()).expect_err("version"));
        assert!(msg.contains("version 9") && msg.contains("newer"), "{msg}");
        // A version 1 header (no fsync, no mac) is refused for its version, not as damaged.
        let v1 = r#"{"type":"header","version":1,"created_at":"t","manifest":{"path":"u.csv","sha256":"00","rows":1},"config":{},"recipients":[],"plaintext":false,"run_recipient":"age1x"}"#;
        write(dir.path(), &format!("{v1}\n"));
        let msg = format!("{:#}", read_journal(dir.path()).expect_err("v1"));
        assert!(
            msg.contains("version 1 was written by an older credrotate")
                && msg.contains("reads only version 4")
                && msg.contains("new --out folder"),
            "{msg}"
        );
        let mut f = std::fs::File::create(dir.path().join(JOURNAL_FILE)).expect("create");
        f.write_all(b"{\"type\":\"hea").expect("write");
        assert!(
            format!("{:#}", read_journal(dir.path()).expect_err("torn header"))
                .contains("header is damaged")
        );
        let missing = tempfile::tempdir().expect("tempdir");
        assert!(
            format!("{:#}", read_journal(missing.path()).expect_err("none"))
                .contains("cannot open the journal")
        );
    }
}
