//! Line numbers and the size bound for CSV records, from the bytes the CSV reader consumes.
//!
//! The csv crate's record positions count only `\n` and are taken where the reader *resumed*,
//! before any blank lines or the `\n` of a CRLF it had not consumed yet: with CRLF files every
//! row came out one line too early, after blank lines several. [`LineTracker`] sits between the
//! file and the CSV reader and notes each run of line-break bytes (`\r`, `\n`) as it passes; the
//! line of a record starting at byte `s` is then 1 + the line breaks in the runs that begin at or
//! before `s` (a run that begins there lies before the record's first character).
//!
//! Invariants:
//! - A line break is `\n`, `\r\n` or a lone `\r`, as editors count them (csv treats all three
//!   as record terminators).
//! - Memory is bounded: runs are dropped once a record starts after them, and the bytes read past
//!   the current record's start are capped at [`MAX_ROW`] plus slack; beyond that reading
//!   fails with [`TooLong`], so a 10 MB line or a missing closing quote is one problem, not 10 MB
//!   of buffer.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};

use super::input::MAX_ROW;

/// The CSV reader buffers ahead of the record it parses; allow for that beyond [`MAX_ROW`].
const SLACK: u64 = 64 * 1024;

/// The error reading fails with once a record grows past [`MAX_ROW`].
#[derive(Debug)]
pub(crate) struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a CSV record is longer than {MAX_ROW} bytes")
    }
}

impl std::error::Error for TooLong {}

impl TooLong {
    /// Is `err` this error (as passed through the CSV reader)?
    pub(crate) fn is(err: &io::Error) -> bool {
        err.get_ref().is_some_and(|e| e.is::<TooLong>())
    }
}

/// A maximal run of `\r`/`\n` bytes.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    /// One past its last byte.
    end: u64,
    /// Line breaks in it (`\r\n` counts once).
    breaks: u64,
    last: u8,
}

/// Wraps the manifest bytes on their way to the CSV reader; see the module docs.
pub(crate) struct LineTracker<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Runs not yet before a record start.
    runs: VecDeque<Run>,
    /// Line breaks in the runs already dropped.
    breaks: u64,
    /// Byte offset of the record being read.
    record_start: u64,
}

impl<R: Read> LineTracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineTracker {
            inner,
            offset: 0,
            runs: VecDeque::new(),
            breaks: 0,
            record_start: 0,
        }
    }

    /// The 1-based line of the record that starts at byte `start` (csv's position, which may
    /// precede blank lines). Starts may only grow: earlier runs are forgotten.
    pub(crate) fn record_at(&mut self, start: u64) -> u64 {
        while let Some(run) = self.runs.front().filter(|r| r.start <= start) {
            self.breaks += run.breaks;
            self.runs.pop_front();
        }
        1 + self.breaks
    }

    /// The next record starts at byte `start`: the size bound counts from there.
    pub(crate) fn next_record_at(&mut self, start: u64) {
        self.record_start = self.record_start.max(start);
    }

    fn note(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if b != b'\r' && b != b'\n' {
                continue;
            }
            let at = self.offset + i as u64;
            match self.runs.back_mut().filter(|r| r.end == at) {
                Some(run) => {
                    run.breaks += u64::from(!(run.last == b'\r' && b == b'\n'));
                    run.end += 1;
                    run.last = b;
                }
                None => self.runs.push_back(Run {
                    start: at,
                    end: at + 1,
                    breaks: 1,
                    last: b,
                }),
            }
        }
        self.offset += bytes.len() as u64;
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.offset - self.record_start;
        let room = (MAX_ROW as u64 + SLACK).saturating_sub(used);
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLong));
        }
        let len = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..len])?;
        self.note(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` through a tracker in chunks of `chunk` bytes, then asks for the lines at
    /// `starts`.
    fn lines(text: &[u8], chunk: usize, starts: &[u64]) -> Vec<u64> {
        let mut t = LineTracker::new(text);
        let mut buf = vec![0; chunk];
        while t.read(&mut buf).expect("read") > 0 {}
        starts.iter().map(|s| t.record_at(*s)).collect()
    }

    #[test]
    fn counts_lf_crlf_and_lone_cr_alike() {
        for chunk in [1, 2, 3, 100] {
            // Records start at bytes 0, 2 (after "a\n"), csv-style at the `\n` of a CRLF (4),
            // after a lone CR (7), before two blank lines (9).
            let text = b"a\nb\r\nc\rd\n\n\ne";
            assert_eq!(lines(text, chunk, &[0, 2, 4, 7, 9]), [1, 2, 3, 4, 7]);
        }
    }

    #[test]
    fn line_breaks_inside_a_record_count_for_the_next() {
        let text = b"\"x\r\ny\",1\r\nz";
        // The second record starts (for csv) at the `\n` after `1\r`.
        assert_eq!(lines(text, 4, &[0, 9]), [1, 3]);
    }

    #[test]
    fn a_record_past_the_bound_fails_with_too_long() {
        let big = vec![b'x'; MAX_ROW + 2 * SLACK as usize];
        let mut t = LineTracker::new(&big[..]);
        let mut sink = Vec::new();
        let err = t.read_to_end(&mut sink).expect_err("too long");
        assert!(TooLong::is(&err), "{err}");
        assert_eq!(sink.len(), MAX_ROW + SLACK as usize);
        // Records starting as reading goes on never reach the bound.
        let mut t = LineTracker::new(&big[..]);
        let mut buf = vec![0; 4096];
        while t.read(&mut buf).expect("read") > 0 {
            t.next_record_at(t.offset);
        }
    }
}
