//! The output folder and the files in it.
//!
//! Invariants: the folder is owned by the running user (another owner could read the export or
//! swap files under us: refused), 0700, and every file 0600 from the moment it exists (created
//! through `tempfile`, which uses 0600); files are written to a temporary name in the same folder
//! and renamed into place when complete, so a reader never sees a half-written report or export;
//! the folder is fsync'd after it is created and after each rename, so a crash cannot undo them.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tempfile::NamedTempFile;

/// Creates `dir` (and parents) with mode 0700, or tightens an existing one to 0700, after
/// checking that it is ours.
pub fn prepare_out_dir(dir: &Path) -> Result<()> {
    let created = !dir.exists();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create output folder {}", dir.display()))?;
    check_owned(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))?;
    if created {
        // The new entry lives in the parent; the folder's own metadata in the folder.
        sync_dir(dir)?;
        sync_dir(parent(dir))?;
    }
    Ok(())
}

/// Refuses a folder that the running user does not own.
pub fn check_owned(dir: &Path) -> Result<()> {
    let meta =
        fs::metadata(dir).with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "the output folder {} is owned by uid {}, not by you (uid {me}): its owner could read the passwords or replace the journal (hint: use a folder you own)",
            dir.display(),
            meta.uid()
        );
    }
    Ok(())
}

/// Makes the entries of `dir` (created, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// The folder holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the temporary files (`.credrotate-*`) of a process that was killed while writing
/// into `dir`: a run streams its report and export into them, so a killed run leaves them behind.
/// Only under the run's lock: no live process is writing them.
pub fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let mut removed = false;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read the folder {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The name prefix of files being written.
const TEMP_PREFIX: &str = ".credrotate-";

/// Bytes gathered before a write to the file: a streamed report or export of a large run takes
/// one system call per 128 KiB instead of per 8 KiB (BufWriter's default).
const WRITE_BUFFER: usize = 128 * 1024;

/// A file being written under a temporary name, renamed to its final name by [`AtomicFile::commit`].
pub struct AtomicFile {
    temp: BufWriter<NamedTempFile>,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: PathBuf) -> Result<AtomicFile> {
        let dir = parent(&path);
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(AtomicFile {
            temp: BufWriter::with_capacity(WRITE_BUFFER, temp),
            path,
        })
    }

    /// Flushes, syncs, renames into place and syncs the folder.
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
        sync_dir(parent(&self.path))?;
        Ok(self.path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.temp.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.temp.write_all(buf)
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
        check_owned(&out).unwrap();
    }

    /// Only root can make a folder someone else's; elsewhere the check is exercised by the
    /// integration tests' runs on folders of their own.
    #[test]
    fn a_folder_of_another_user_is_refused() {
        if rustix::process::geteuid().as_raw() != 0 {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("theirs");
        fs::create_dir(&out).unwrap();
        std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
        for result in [check_owned(&out), prepare_out_dir(&out)] {
            let msg = format!("{:#}", result.unwrap_err());
            assert!(
                msg.contains("is owned by uid 65534, not by you (uid 0)"),
                "{msg}"
            );
        }
        assert_eq!(fs::metadata(&out).unwrap().uid(), 65534);
    }
}
