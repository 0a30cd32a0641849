//! One process per output folder: `DIR/run.lock` holds the pid of the process working on `DIR`.
//!
//! Invariants: the lock file is created exclusively (`create_new`), so of two processes starting
//! at once exactly one wins. A lock whose pid is not alive (no `/proc/PID`) is stale: it is moved
//! aside under a name unique to us and only discarded if it still names that dead pid, so two
//! processes taking over one stale lock cannot both win. A lock naming our own pid that this
//! process does not hold is stale too (a restarted container reuses pids). Dropping a
//! [`RunLock`] removes the file only if it still holds our pid.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::LOCK_FILE;

/// Lock files held by this process (to tell our own lock from a stale one with our pid).
static HELD: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Rounds of create / inspect / take over before giving up on a lock that keeps changing.
const ROUNDS: usize = 5;

/// Why the folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another credrotate (pid {pid}) is running on {}; wait for it or stop it", dir.display())]
    Held { pid: u32, dir: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The held lock; released on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    pid: u32,
}

impl RunLock {
    /// Locks `dir` for this process, taking over a stale lock.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let me = std::process::id();
        let path = fs::canonicalize(dir)
            .map_err(|e| io_error(dir, e))?
            .join(LOCK_FILE);
        for _ in 0..ROUNDS {
            match create(&path, me) {
                Ok(()) => return Ok(RunLock::held(path, me)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&path, e)),
            }
            let holder = match holder(&path) {
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                other => other.map_err(|e| io_error(&path, e))?,
            };
            match holder {
                Some(pid) if alive(pid, &path) => {
                    return Err(LockError::Held {
                        pid,
                        dir: dir.to_owned(),
                    })
                }
                _ => take_over(&path, holder).map_err(|e| io_error(&path, e))?,
            }
        }
        let busy =
            io::Error::other("the lock file keeps changing: another process is competing for it");
        Err(io_error(&path, busy))
    }

    fn held(path: PathBuf, pid: u32) -> RunLock {
        HELD.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.clone());
        RunLock { path, pid }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock now (as dropping does).
    pub fn release(self) {}
}

impl Drop for RunLock {
    fn drop(&mut self) {
        HELD.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.path);
        if matches!(holder(&self.path), Ok(Some(pid)) if pid == self.pid) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(lock = %self.path.display(), "cannot remove the lock: {e}");
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

/// Creates the lock file exclusively and writes our pid into it.
fn create(path: &Path, pid: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{pid}")?;
    file.sync_all()
}

/// The pid in a lock file; `None` if it stays unreadable (a crash right after creating it).
/// Waits briefly for a process that has just created the file to write its pid.
fn holder(path: &Path) -> io::Result<Option<u32>> {
    for _ in 0..10 {
        let bytes = fs::read(path)?;
        if let Ok(pid) = String::from_utf8_lossy(&bytes).trim().parse() {
            return Ok(Some(pid));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

/// Whether the process that wrote a lock naming `pid` is still running.
fn alive(pid: u32, path: &Path) -> bool {
    if pid == std::process::id() {
        return HELD
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(path);
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Discards a stale lock, unless another process replaced it meanwhile.
fn take_over(path: &Path, stale: Option<u32>) -> io::Result<()> {
    let shown = stale.map_or("unreadable".to_owned(), |p| p.to_string());
    tracing::warn!(lock = %path.display(), "taking over a stale lock (pid {shown} is not running)");
    let aside = path.with_file_name(format!(".{LOCK_FILE}.stale-{}", std::process::id()));
    match fs::rename(path, &aside) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    if holder(&aside).ok().flatten() != stale {
        // We moved a fresh lock another process had just created: put it back.
        return fs::rename(&aside, path);
    }
    fs::remove_file(&aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        pid
    }

    fn lock_text(dir: &Path) -> String {
        fs::read_to_string(dir.join(LOCK_FILE)).expect("lock file")
    }

    #[test]
    fn second_acquire_is_refused_until_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path()).expect("first");
        assert_eq!(lock_text(dir.path()).trim(), std::process::id().to_string());
        let err = RunLock::acquire(dir.path()).expect_err("second");
        assert!(matches!(err, LockError::Held { pid, .. } if pid == std::process::id()));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "another credrotate (pid {}) is running on ",
                std::process::id()
            )),
            "{msg}"
        );
        assert!(msg.ends_with("; wait for it or stop it"), "{msg}");
        lock.release();
        assert!(!dir.path().join(LOCK_FILE).exists());
        drop(RunLock::acquire(dir.path()).expect("free again"));
    }

    #[test]
    fn stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let me = std::process::id().to_string();
        for stale in [dead_pid().to_string(), me.clone(), "garbage".to_owned()] {
            fs::write(dir.path().join(LOCK_FILE), format!("{stale}\n")).expect("write");
            let lock = RunLock::acquire(dir.path()).expect("taken over");
            assert_eq!(lock_text(dir.path()).trim(), me);
            drop(lock);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert!(names.is_empty(), "nothing left behind: {names:?}");
    }

    #[test]
    fn a_live_pid_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(LOCK_FILE), "1\n").expect("write");
        assert!(matches!(
            RunLock::acquire(dir.path()),
            Err(LockError::Held { pid: 1, .. })
        ));
    }

    #[test]
    fn drop_keeps_a_lock_that_is_no_longer_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path()).expect("acquired");
        fs::write(lock.path(), "1\n").expect("replaced by someone else");
        drop(lock);
        assert_eq!(lock_text(dir.path()), "1\n");
    }
}
