//! Duplicate detection over the whole manifest in bounded memory: each row's key (a 128-bit
//! hash of provider, user and method) and position go into a fixed-size buffer; a full buffer is
//! sorted and spilled to an anonymous temporary file as a sorted run, and the runs are merged at
//! the end. A manifest that fits one buffer never touches the disk.
//!
//! Invariants: memory is one buffer of [`CHUNK`] entries plus a small read buffer per run (and
//! the duplicates found), whatever the row count; the spilled runs hold hashes and line numbers,
//! nothing secret, and vanish with the process; [`Dupes::finish`] returns exactly the entries
//! that repeat an earlier row's key, each rewritten to hold that earlier row's line and column in
//! `key`, sorted by position.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// Entries sorted in memory before a spill (32 bytes each: 2 MiB).
const CHUNK: usize = 64 * 1024;
/// Bytes of an entry on disk.
const ENTRY: usize = 32;

/// One row's duplicate-detection key and where the row is. After [`Dupes::finish`], `key`
/// holds the line and column of the row this one duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct KeyEntry {
    pub key: [u64; 2],
    pub line: u64,
    /// 0 when the format has no columns (CSV).
    pub column: u64,
}

/// The keys seen so far.
pub(super) struct Dupes {
    buffer: Vec<KeyEntry>,
    runs: Vec<File>,
    chunk: usize,
}

impl Default for Dupes {
    fn default() -> Dupes {
        Dupes::with_chunk(CHUNK)
    }
}

impl Dupes {
    fn with_chunk(chunk: usize) -> Dupes {
        Dupes {
            buffer: Vec::new(),
            runs: Vec::new(),
            chunk,
        }
    }

    pub fn push(&mut self, entry: KeyEntry) -> io::Result<()> {
        if self.buffer.len() == self.chunk {
            self.spill()?;
        }
        self.buffer.push(entry);
        Ok(())
    }

    /// Sorts the buffer and writes it out as a run.
    fn spill(&mut self) -> io::Result<()> {
        self.buffer.sort_unstable();
        let mut out = BufWriter::new(tempfile::tempfile()?);
        for e in &self.buffer {
            for word in [e.key[0], e.key[1], e.line, e.column] {
                out.write_all(&word.to_le_bytes())?;
            }
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push(file);
        self.buffer.clear();
        Ok(())
    }

    /// The entries that repeat an earlier row's key (see the invariants).
    pub fn finish(mut self) -> io::Result<Vec<KeyEntry>> {
        let mut dups = Vec::new();
        if self.runs.is_empty() {
            self.buffer.sort_unstable();
            let sorted = self.buffer.iter().map(|e| Ok(*e));
            mark(sorted, &mut dups)?;
        } else {
            if !self.buffer.is_empty() {
                self.spill()?;
            }
            let runs = self.runs.into_iter().map(Run::new).collect();
            mark(Merge { runs }, &mut dups)?;
        }
        dups.sort_unstable_by_key(|k| (k.line, k.column));
        Ok(dups)
    }
}

/// Keeps, from entries sorted by (key, line, column), every one after the first of its key,
/// rewritten to point at that first one.
fn mark(
    sorted: impl Iterator<Item = io::Result<KeyEntry>>,
    dups: &mut Vec<KeyEntry>,
) -> io::Result<()> {
    let mut first: Option<KeyEntry> = None;
    for entry in sorted {
        let entry = entry?;
        match first {
            Some(f) if f.key == entry.key => dups.push(KeyEntry {
                key: [f.line, f.column],
                ..entry
            }),
            _ => first = Some(entry),
        }
    }
    Ok(())
}

/// A sorted run on disk, read one entry ahead.
struct Run {
    reader: BufReader<File>,
    head: Option<io::Result<KeyEntry>>,
}

impl Run {
    fn new(file: File) -> Run {
        let mut run = Run {
            reader: BufReader::with_capacity(8 * 1024, file),
            head: None,
        };
        run.advance();
        run
    }

    fn advance(&mut self) {
        let mut bytes = [0u8; ENTRY];
        self.head = match self.reader.read_exact(&mut bytes) {
            Ok(()) => {
                let word = |i: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
                    u64::from_le_bytes(w)
                };
                Some(Ok(KeyEntry {
                    key: [word(0), word(1)],
                    line: word(2),
                    column: word(3),
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(e)),
        };
    }
}

/// The k-way merge of the runs, smallest entry first.
struct Merge {
    runs: Vec<Run>,
}

impl Iterator for Merge {
    type Item = io::Result<KeyEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, KeyEntry)> = None;
        for (i, run) in self.runs.iter_mut().enumerate() {
            match &run.head {
                None => {}
                Some(Err(_)) => return run.head.take(),
                Some(Ok(e)) if best.is_none_or(|(_, b)| *e < b) => best = Some((i, *e)),
                Some(Ok(_)) => {}
            }
        }
        let (i, entry) = best?;
        self.runs[i].advance();
        Some(Ok(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: u64, line: u64) -> KeyEntry {
        KeyEntry {
            key: [key, !key],
            line,
            column: 0,
        }
    }

    /// The same duplicates whether everything fits in memory or is spilled in tiny runs.
    #[test]
    fn spilled_runs_find_what_memory_finds() {
        // Keys repeat every 7 rows; line n has key n % 7.
        let rows: Vec<KeyEntry> = (2..200).map(|line| entry(line % 7, line)).collect();
        let found = |chunk: usize| {
            let mut d = Dupes::with_chunk(chunk);
            rows.iter().for_each(|e| d.push(*e).expect("push"));
            d.finish().expect("finish")
        };
        let in_memory = found(1000);
        assert_eq!(in_memory.len(), 198 - 7);
        assert_eq!(
            in_memory[0],
            KeyEntry {
                key: [2, 0],
                ..entry(2, 9)
            }
        );
        assert!(in_memory.windows(2).all(|w| w[0].line < w[1].line));
        for chunk in [1, 3, 64] {
            assert_eq!(found(chunk), in_memory, "chunk {chunk}");
        }
        assert!(found(5).iter().all(|d| d.key[0]
            == if d.line % 7 < 2 {
                d.line % 7 + 7
            } else {
                d.line % 7
            }));
    }

    #[test]
    fn no_rows_no_duplicates() {
        assert!(Dupes::with_chunk(2).finish().expect("finish").is_empty());
    }
}
