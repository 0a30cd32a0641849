//! Warns when a file holding a secret (a token, client secret or API key file, a private key)
//! can be read by its group or by others: anyone on the machine who can read it can do what
//! credrotate does with it.
//!
//! Invariants: a warning names the file and its mode, never its content; each file is warned
//! about once per process (tokens are re-read on renewal); the check never fails the command
//! (Kubernetes mounts Secrets 0644 unless told otherwise, and the operator may accept that).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Files already warned about.
static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Logs a warning once if the secret file at `path` is readable by group or others.
pub(crate) fn warn_if_exposed(path: &Path, what: &str) {
    let Ok(meta) = std::fs::metadata(path) else {
        return; // the read that follows reports a missing file
    };
    let mode = meta.permissions().mode() & 0o777;
    if !exposed(mode) {
        return;
    }
    let first = WARNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned());
    if first {
        tracing::warn!(
            file = %path.display(),
            "the {what} {} is readable by {} (mode {mode:04o}); other users of this machine can read the secret (hint: chmod 600 {}, or mount it with defaultMode 0400)",
            path.display(), readers(mode), path.display()
        );
    }
}

/// Group or others may read the file.
fn exposed(mode: u32) -> bool {
    mode & 0o044 != 0
}

fn readers(mode: u32) -> &'static str {
    match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => "its group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_group_or_other_read_bits_count() {
        assert!(!exposed(0o600));
        assert!(!exposed(0o400));
        assert!(!exposed(0o700));
        assert!(exposed(0o640));
        assert!(exposed(0o644));
        assert!(exposed(0o604));
        assert_eq!(readers(0o644), "its group and others");
        assert_eq!(readers(0o640), "its group");
        assert_eq!(readers(0o604), "others");
    }
}
