//! The run key: an ephemeral age X25519 identity in `DIR/journal.key` (mode 0600).
//!
//! The run's data key is also wrapped to this key, so `resume` and `report` can read back the
//! passwords of a run without the operator's private key. The file has the format of
//! `age-keygen` output (`age -d -i DIR/journal.key` opens the header's wrapped data key).
//!
//! Invariants: the file is created exclusively, complete and durable (file and folder fsync'd)
//! before anything is sealed to it; the secret is held only in zeroizing buffers; it is removed
//! once the run has completed and its export is written.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use zeroize::Zeroizing;

use super::{sync_dir, KEY_FILE};
use crate::secret::ExposeSecret;

/// The run's ephemeral identity.
pub struct RunKey {
    identity: age::x25519::Identity,
}

impl RunKey {
    /// Generates a new identity and writes it durably to `DIR/journal.key` (fails if it exists).
    pub fn create(dir: &Path) -> Result<RunKey> {
        let path = dir.join(KEY_FILE);
        let identity = age::x25519::Identity::generate();
        let text = Zeroizing::new(format!(
            "# credrotate run key: decrypts the passwords in journal.jsonl (age -d -i {KEY_FILE})\n# created: {}\n# public key: {}\n{}\n",
            crate::outcome::timestamp(std::time::SystemTime::now()),
            identity.to_public(),
            identity.to_string().expose_secret()
        ));
        let mut file = match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                "{} already exists: it belongs to an earlier run (hint: resume that run with `credrotate resume --out {}`, or choose a new --out folder)",
                path.display(),
                dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        };
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunKey { identity })
    }

    /// Reads `DIR/journal.key`.
    pub fn load(dir: &Path) -> Result<RunKey> {
        let path = dir.join(KEY_FILE);
        let text = Zeroizing::new(fs::read_to_string(&path).with_context(|| {
            format!("cannot read the run key {} (hint: without it, sealed passwords open only with an export recipient's key)", path.display())
        })?);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or_else(|| anyhow!("{} holds no key", path.display()))?;
        let identity = age::x25519::Identity::from_str(line)
            .map_err(|e| anyhow!("{} does not hold an age identity: {e}", path.display()))?;
        Ok(RunKey { identity })
    }

    /// Deletes `DIR/journal.key` (after a run completed); a missing file is fine.
    pub fn remove(dir: &Path) -> Result<()> {
        let path = dir.join(KEY_FILE);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }

    pub fn identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The public key, `age1...`: the header's `run_recipient`.
    pub fn public(&self) -> String {
        self.identity.to_public().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::DataKey;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn create_load_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = RunKey::create(dir.path()).expect("created");
        let path = dir.path().join(KEY_FILE);
        assert_eq!(fs::metadata(&path).expect("exists").mode() & 0o777, 0o600);
        assert!(
            RunKey::create(dir.path()).is_err(),
            "never overwrites a key"
        );
        let loaded = RunKey::load(dir.path()).expect("loads");
        assert_eq!(loaded.public(), key.public());
        assert!(key.public().starts_with("age1"));

        let wrapped = DataKey::generate().wrap(&[], &key.public()).expect("wraps");
        let by_loaded: crate::journal::identity::Identity = Box::new(loaded.identity().clone());
        DataKey::unwrap(&wrapped, &[by_loaded]).expect("the reloaded key unwraps");

        RunKey::remove(dir.path()).expect("removed");
        assert!(!path.exists());
        RunKey::remove(dir.path()).expect("removing twice is fine");
        assert!(RunKey::load(dir.path()).is_err());
    }

    #[test]
    fn load_refuses_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(KEY_FILE), "# only a comment\n").expect("write");
        assert!(RunKey::load(dir.path()).is_err());
        fs::write(dir.path().join(KEY_FILE), "AGE-SECRET-KEY-NOPE\n").expect("write");
        assert!(RunKey::load(dir.path()).is_err());
    }
}
