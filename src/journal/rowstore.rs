//! The per-row states of a journal scan, held in memory for a small manifest and, beyond
//! `CACHED_ROWS` rows, in an unnamed temporary file in the run's folder, read and written in
//! pages through a small cache: `report` and `resume` of a million-row run then use a few MiB
//! for row states instead of 60 (a [`RowState`] is `ENCODED` bytes on disk).
//!
//! A journal names rows in about the order they were fed (a session's rows are sent in manifest
//! order, `concurrency` at a time), so the least recently used page is the one to write back.
//!
//! Invariants: a row never written reads as `RowState::default()` (an all-zero encoding); a page
//! is written back before it leaves the cache; the file is unnamed, so nothing is left behind,
//! and it holds no secret (offsets, counts and flags only). An I/O error on the file is an
//! error of the scan that needed it, never a wrong state.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};

use super::state::{RowState, ENCODED};

/// Rows per page.
const PAGE: u64 = 4096;
/// Pages kept in memory.
const CACHE: usize = 16;
/// Up to this many rows, everything stays in memory (4 MiB of states).
const CACHED_ROWS: u64 = PAGE * CACHE as u64;

/// Row states by index (0-based), `len` of them.
pub struct RowStore {
    len: u64,
    inner: Mutex<Store>,
}

enum Store {
    Memory(Vec<RowState>),
    Paged(Pager),
}

struct Pager {
    file: File,
    pages: HashMap<u64, Page>,
    tick: u64,
}

struct Page {
    rows: Vec<RowState>,
    dirty: bool,
    used: u64,
}

impl std::fmt::Debug for RowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStore").field("len", &self.len).finish()
    }
}

impl RowStore {
    /// `len` default states in memory.
    pub fn in_memory(len: u64) -> RowStore {
        let rows = vec![RowState::default(); usize::try_from(len).unwrap_or(0)];
        RowStore {
            len,
            inner: Mutex::new(Store::Memory(rows)),
        }
    }

    /// `len` default states, spilled to an unnamed file in `dir` when there are many.
    pub fn spilling(len: u64, dir: &Path) -> Result<RowStore> {
        if len <= CACHED_ROWS {
            return Ok(RowStore::in_memory(len));
        }
        let file = tempfile::tempfile_in(dir).with_context(|| {
            format!(
                "cannot create a temporary file for the row index in {} (hint: the folder must be writable; it needs {} bytes per manifest row)",
                dir.display(),
                ENCODED
            )
        })?;
        let pager = Pager {
            file,
            pages: HashMap::new(),
            tick: 0,
        };
        Ok(RowStore {
            len,
            inner: Mutex::new(Store::Paged(pager)),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The state at `index`, `None` past the end.
    pub fn get(&self, index: u64) -> Result<Option<RowState>> {
        self.with(index, false, |r| *r)
    }

    /// Applies `f` to the state at `index`; `None` past the end.
    pub fn update<T>(&self, index: u64, f: impl FnOnce(&mut RowState) -> T) -> Result<Option<T>> {
        self.with(index, true, f)
    }

    /// `f` on the state at `index`; a page is marked for writing back only when `writes`
    /// (the second pass of a rebuild only reads, and evicts without writing).
    fn with<T>(
        &self,
        index: u64,
        writes: bool,
        f: impl FnOnce(&mut RowState) -> T,
    ) -> Result<Option<T>> {
        if index >= self.len {
            return Ok(None);
        }
        let mut store = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *store {
            Store::Memory(rows) => Ok(rows.get_mut(index as usize).map(f)),
            Store::Paged(pager) => {
                let page = pager.page(index / PAGE)?;
                page.dirty |= writes;
                Ok(Some(f(&mut page.rows[(index % PAGE) as usize])))
            }
        }
    }
}

impl Pager {
    /// Page `n`, read in (and the least recently used one written back) if not cached.
    fn page(&mut self, n: u64) -> Result<&mut Page> {
        self.tick += 1;
        if !self.pages.contains_key(&n) {
            if self.pages.len() >= CACHE {
                self.evict()?;
            }
            let rows = self.read(n)?;
            let page = Page {
                rows,
                dirty: false,
                used: 0,
            };
            self.pages.insert(n, page);
        }
        let tick = self.tick;
        let page = self.pages.get_mut(&n).expect("inserted above");
        page.used = tick;
        Ok(page)
    }

    fn evict(&mut self) -> Result<()> {
        let Some(oldest) = self
            .pages
            .iter()
            .min_by_key(|(_, p)| p.used)
            .map(|(n, _)| *n)
        else {
            return Ok(());
        };
        let page = self.pages.remove(&oldest).expect("just found");
        if page.dirty {
            let mut bytes = vec![0u8; page.rows.len() * ENCODED];
            for (state, slot) in page.rows.iter().zip(bytes.chunks_exact_mut(ENCODED)) {
                state.encode(slot);
            }
            self.file
                .write_all_at(&bytes, oldest * PAGE * ENCODED as u64)
                .context("cannot write the row index's temporary file")?;
        }
        Ok(())
    }

    /// A page from the file; the part never written (past its end) reads as zeros.
    fn read(&self, n: u64) -> Result<Vec<RowState>> {
        let mut bytes = vec![0u8; PAGE as usize * ENCODED];
        let mut filled = 0;
        while filled < bytes.len() {
            let at = n * PAGE * ENCODED as u64 + filled as u64;
            let got = self
                .file
                .read_at(&mut bytes[filled..], at)
                .context("cannot read the row index's temporary file")?;
            if got == 0 {
                break;
            }
            filled += got;
        }
        Ok(bytes.chunks_exact(ENCODED).map(RowState::decode).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touched(n: u64) -> RowState {
        let mut state = RowState::default();
        state.throttled = u32::try_from(n % 1000).unwrap() + 1;
        state.intent_at = n * 7;
        state
    }

    #[test]
    fn a_paged_store_reads_back_what_was_written_across_evictions() {
        let dir = tempfile::tempdir().unwrap();
        let len = CACHED_ROWS * 3 + 5;
        let store = RowStore::spilling(len, dir.path()).unwrap();
        assert!(matches!(*store.inner.lock().unwrap(), Store::Paged(_)));
        // Every third row, front to back, then back to front: every page is evicted at least once.
        let every_third: Vec<u64> = (0..len).step_by(3).collect();
        for &n in every_third.iter().chain(every_third.iter().rev()) {
            store.update(n, |r| *r = touched(n)).unwrap().unwrap();
        }
        for n in 0..len {
            let expected = if n % 3 == 0 {
                touched(n)
            } else {
                RowState::default()
            };
            assert_eq!(store.get(n).unwrap(), Some(expected), "row index {n}");
        }
        assert_eq!(store.get(len).unwrap(), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed");
    }

    #[test]
    fn a_small_store_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = RowStore::spilling(10, dir.path()).unwrap();
        assert!(matches!(*store.inner.lock().unwrap(), Store::Memory(_)));
        store.update(9, |r| r.throttled = 3).unwrap().unwrap();
        assert_eq!(store.get(9).unwrap().unwrap().throttled, 3);
        assert_eq!(store.update(10, |_| ()).unwrap(), None);
    }
}
