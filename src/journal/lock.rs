//! One process per output folder: an OS lock (`flock`) on `DIR/run.lock`.
//!
//! The kernel keeps the lock with the open file, so it is honoured across PID namespaces (two
//! containers whose processes are both pid 1 on one shared volume) and it is released when its
//! holder ends, however it ends. The file's text (pid, host, start time) only feeds the error
//! message: a lock file that nobody holds a lock on is stale, whatever it says.
//!
//! Invariants:
//! - A [`RunLock`] exists only while this process holds an exclusive `flock` on the file that
//!   `DIR/run.lock` names at that moment: after locking, the path is checked to still name the
//!   locked file (a releasing holder unlinks it), so two processes never lock two different files.
//! - Within one process a second acquire is refused too (`flock` belongs to the open file).
//! - The holder writes its pid, host and start time after locking; dropping a [`RunLock`]
//!   unlinks the file (if it is still ours) and then closes it, which releases the lock.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LOCK_FILE;

/// Rounds of open / lock / check before giving up on a lock file that keeps being replaced.
const ROUNDS: usize = 5;

/// Why the folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another credrotate ({holder}) holds {} since {}; wait for it or stop it (the lock is released as soon as that process ends)", path.display(), holder.since())]
    Held { holder: Holder, path: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Who holds a lock, as its lock file says (fields it did not say are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub since: Option<String>,
}

impl Holder {
    /// This process, now.
    fn me() -> Holder {
        Holder {
            pid: Some(std::process::id()),
            host: Some(hostname()),
            since: Some(crate::outcome::timestamp(std::time::SystemTime::now())),
        }
    }

    fn since(&self) -> &str {
        self.since.as_deref().unwrap_or("an unknown time")
    }

    /// The lock file's text: `pid N`, `host H`, `since T`, one per line.
    fn to_text(&self) -> String {
        let mut text = String::new();
        let fields = [
            ("pid", self.pid.map(|p| p.to_string())),
            ("host", self.host.clone()),
            ("since", self.since.clone()),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                text += &format!("{key} {value}\n");
            }
        }
        text
    }

    fn parse(text: &str) -> Holder {
        let mut holder = Holder::default();
        for line in text.lines() {
            match line.trim().split_once(' ') {
                Some(("pid", v)) => holder.pid = v.trim().parse().ok(),
                Some(("host", v)) => holder.host = Some(v.trim().to_owned()),
                Some(("since", v)) => holder.since = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        holder
    }

    /// Reads a held lock's file, waiting briefly for a holder that has only just locked it.
    fn read(path: &Path) -> Holder {
        let mut holder = Holder::default();
        for _ in 0..10 {
            holder = Holder::parse(&fs::read_to_string(path).unwrap_or_default());
            if holder.pid.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        holder
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => write!(f, "pid unknown")?,
        }
        write!(f, " on host {}", self.host.as_deref().unwrap_or("unknown"))
    }
}

/// The held lock; released on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// Holds the `flock`: closing it releases the lock.
    file: File,
}

impl RunLock {
    /// Locks `dir` for this process. A lock file left by a process that ended is simply reused.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = fs::canonicalize(dir)
            .map_err(|e| io_error(dir, e))?
            .join(LOCK_FILE);
        for _ in 0..ROUNDS {
            let file = open(&path).map_err(|e| io_error(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = Holder::read(&path);
                    return Err(LockError::Held { holder, path });
                }
                Err(TryLockError::Error(e)) => return Err(io_error(&path, e)),
            }
            // The previous holder may have unlinked this file between our open and our lock.
            if !names(&path, &file).map_err(|e| io_error(&path, e))? {
                continue;
            }
            write_holder(&file).map_err(|e| io_error(&path, e))?;
            return Ok(RunLock { path, file });
        }
        let busy =
            io::Error::other("the lock file keeps changing: other processes are competing for it");
        Err(io_error(&path, busy))
    }

    /// The lock file.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock now (as dropping does).
    #[cfg(test)]
    pub fn release(self) {}
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlink before unlocking: a process that opened the file meanwhile sees it is gone.
        if matches!(names(&self.path, &self.file), Ok(true)) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(lock = %self.path.display(), "cannot remove the lock file: {e}");
            }
        }
    }
}

fn io_error(path: &Path, source: io::Error) -> LockError {
    LockError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens (creating if needed, never truncating) the lock file.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Whether `path` still names the open `file` (same device and inode).
fn names(path: &Path, file: &File) -> io::Result<bool> {
    let on_disk = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let open = file.metadata()?;
    Ok(on_disk.dev() == open.dev() && on_disk.ino() == open.ino())
}

/// Replaces whatever an earlier holder wrote with who we are.
fn write_holder(mut file: &File) -> io::Result<()> {
    file.set_len(0)?;
    file.write_all(Holder::me().to_text().as_bytes())?;
    file.sync_all()
}

/// This machine's (or container's) host name, for the message another process shows.
fn hostname() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_text(dir: &Path) -> Holder {
        Holder::parse(&fs::read_to_string(dir.join(LOCK_FILE)).expect("lock file"))
    }

    #[test]
    fn second_acquire_is_refused_until_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path()).expect("first");
        let written = lock_text(dir.path());
        assert_eq!(written.pid, Some(std::process::id()));
        assert_eq!(written.host, Some(hostname()));
        assert!(written.since.is_some());
        let err = RunLock::acquire(dir.path()).expect_err("second");
        let msg = err.to_string();
        let expected = format!(
            "another credrotate (pid {} on host {}) holds {} since ",
            std::process::id(),
            hostname(),
            lock.path().display()
        );
        assert!(msg.starts_with(&expected), "{msg}");
        assert!(msg.contains("; wait for it or stop it"), "{msg}");
        lock.release();
        assert!(!dir.path().join(LOCK_FILE).exists());
        drop(RunLock::acquire(dir.path()).expect("free again"));
    }

    #[test]
    fn a_lock_file_nobody_holds_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for stale in [
            "pid 1\nhost elsewhere\nsince then\n",
            "4194300\n",
            "garbage",
        ] {
            fs::write(dir.path().join(LOCK_FILE), stale).expect("write");
            let lock = RunLock::acquire(dir.path()).expect("taken");
            assert_eq!(lock_text(dir.path()).pid, Some(std::process::id()));
            drop(lock);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert!(names.is_empty(), "nothing left behind: {names:?}");
    }

    /// Another process (here: another open file) holds the flock: refused, naming what it wrote,
    /// even though its pid means nothing in this PID namespace.
    #[test]
    fn a_held_flock_is_honoured_whatever_its_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(LOCK_FILE);
        let other = open(&path).expect("open");
        other.try_lock().expect("locks");
        fs::write(
            &path,
            "pid 1\nhost container-b\nsince 2026-01-01T00:00:00Z\n",
        )
        .expect("write");
        let err = RunLock::acquire(dir.path()).expect_err("held");
        let LockError::Held { holder, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(holder.pid, Some(1));
        let msg = err.to_string();
        assert!(msg.contains("(pid 1 on host container-b) holds "), "{msg}");
        assert!(msg.contains(" since 2026-01-01T00:00:00Z;"), "{msg}");
        drop(other);
        drop(RunLock::acquire(dir.path()).expect("released with the file"));
    }

    /// A process that opened the file just before the holder released it must not lock that
    /// unlinked file while a third process locks the new one.
    #[test]
    fn an_unlinked_lock_file_is_not_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path()).expect("first");
        let waiting = open(lock.path()).expect("opened before release");
        let path = lock.path().to_owned();
        drop(lock);
        waiting.try_lock().expect("the old file is unlocked");
        assert!(!names(&path, &waiting).expect("checks"));
        let next = RunLock::acquire(dir.path()).expect("a fresh file");
        assert!(names(next.path(), &next.file).expect("checks"));
    }

    #[test]
    fn drop_keeps_a_lock_file_that_is_no_longer_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path()).expect("acquired");
        fs::remove_file(lock.path()).expect("removed by someone");
        fs::write(lock.path(), "pid 1\n").expect("replaced by someone else");
        drop(lock);
        assert_eq!(lock_text(dir.path()).pid, Some(1));
    }
}
