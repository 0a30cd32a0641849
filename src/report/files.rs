//! The output folder and the files in it.
//!
//! Invariants: the folder is 0700 and every file 0600 from the moment it exists (created through
//! `tempfile`, which uses 0600); files are written to a temporary name in the same folder and
//! renamed into place when complete, so a reader never sees a half-written report or export.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

/// Creates `dir` (and parents) with mode 0700, or tightens an existing one to 0700.
pub fn prepare_out_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create output folder {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))
}

/// A file being written under a temporary name, renamed to its final name by [`AtomicFile::commit`].
pub struct AtomicFile {
    temp: BufWriter<NamedTempFile>,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: PathBuf) -> Result<AtomicFile> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let temp = tempfile::Builder::new()
            .prefix(".credrotate-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(AtomicFile {
            temp: BufWriter::new(temp),
            path,
        })
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(self) -> Result<PathBuf> {
        let temp = self
            .temp
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        temp.as_file()
            .sync_all()
            .with_context(|| format!("cannot sync {}", self.path.display()))?;
        temp.persist(&self.path)
            .with_context(|| format!("cannot rename into {}", self.path.display()))?;
        Ok(self.path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.temp.flush()
    }
}

/// Writes a whole small file atomically.
pub fn write_atomic(path: PathBuf, bytes: &[u8]) -> Result<PathBuf> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn modes_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        prepare_out_dir(&out).unwrap();
        let p = write_atomic(out.join("a.txt"), b"hi").unwrap();
        assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(p).unwrap(), "hi");
    }
}
