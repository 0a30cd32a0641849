//! Trusting a journal again: what `resume` and `report` check before they read passwords back or
//! seal new ones to the header's recipients.
//!
//! Invariants:
//! - With the run key present, the header is used only once its MAC verifies.
//! - Without it the header cannot be checked; when an operator identity is about to be used, its
//!   recipients are shown and the operator is told so.
//! - An operator identity is accepted only if it opens a password sealed the way this run seals
//!   (a probe), so a wrong key fails before anything is sent, not after the resets.

use std::path::Path;

use anyhow::{anyhow, Result};

use super::{load_identities, verify_header, Header, Opener, RunKey, Sealer, KEY_FILE};

/// An opener for the run in `dir`: the run key and/or the identities in `identity_file`.
/// `None` when neither is available (the run key is gone and no identity was given).
pub fn unseal(dir: &Path, header: &Header, identity_file: Option<&Path>) -> Result<Option<Opener>> {
    let key = match dir.join(KEY_FILE).exists() {
        true => Some(RunKey::load(dir)?),
        false => None,
    };
    if let Some(key) = &key {
        verify_header(dir, header, key)?;
    }
    if header.plaintext {
        return Ok(Some(Opener::plaintext()));
    }
    let mut opener = match identity_file {
        Some(path) => Some(operator_opener(path, header)?),
        None => None,
    };
    match (key, &mut opener) {
        (None, Some(_)) => tracing::warn!(
            "{KEY_FILE} is gone, so the journal header cannot be authenticated; the export will be encrypted to the recipients it names, check that they are yours: {}",
            recipients(header)
        ),
        (Some(key), Some(opener)) => opener.add(Box::new(key.identity().clone())),
        (Some(key), None) => opener = Some(key.opener()),
        (None, None) => {}
    }
    Ok(opener)
}

/// Warns when the run was started with `--no-fsync`: its journal may be missing intents.
pub fn warn_if_not_crash_safe(header: &Header) {
    if !header.fsync {
        tracing::warn!("this run was started with --no-fsync (benchmarking only), so it was NOT crash-safe: if it crashed, intents may be missing from the journal and some users may have a password that is in no export (hint: check the users of uncertain or interrupted rows at the provider)");
    }
}

/// An opener for the identities in `path`, checked to open what this run seals.
fn operator_opener(path: &Path, header: &Header) -> Result<Opener> {
    let opener = Opener::with(load_identities(path)?);
    opener.check(&Sealer::for_header(header)?).map_err(|_| {
        anyhow!(
            "{} cannot open this run's passwords: it is not the private key of any of its export recipients ({}) (hint: pass the key the export was encrypted to)",
            path.display(),
            recipients(header)
        )
    })?;
    Ok(opener)
}

fn recipients(header: &Header) -> String {
    if header.recipients.is_empty() {
        return "none".to_owned();
    }
    header.recipients.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::tests::header;
    use crate::journal::{authenticate_header, JournalWriter};
    use crate::secret::ExposeSecret;

    struct Run {
        dir: tempfile::TempDir,
        header: Header,
        operator: age::x25519::Identity,
    }

    async fn run() -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = RunKey::create(dir.path()).expect("key");
        let operator = age::x25519::Identity::generate();
        let mut header = header();
        header.recipients = vec![operator.to_public().to_string()];
        header.run_recipient = key.public();
        authenticate_header(&mut header, &key).expect("mac");
        let w = JournalWriter::create(dir.path(), &header, false).expect("journal");
        w.close().await.expect("closed");
        Run {
            dir,
            header,
            operator,
        }
    }

    fn key_file(dir: &Path, id: &age::x25519::Identity) -> std::path::PathBuf {
        let path = dir.join("operator.txt");
        std::fs::write(&path, id.to_string().expose_secret()).expect("write");
        path
    }

    #[tokio::test]
    async fn the_run_key_or_an_operator_key_opens() {
        let r = run().await;
        let sealer = Sealer::for_header(&r.header).expect("sealer");
        let with_key = unseal(r.dir.path(), &r.header, None).expect("ok");
        with_key.expect("run key").check(&sealer).expect("opens");
        RunKey::remove(r.dir.path()).expect("removed");
        assert!(unseal(r.dir.path(), &r.header, None).expect("ok").is_none());
        let path = key_file(r.dir.path(), &r.operator);
        let with_operator = unseal(r.dir.path(), &r.header, Some(&path)).expect("ok");
        with_operator
            .expect("operator")
            .check(&sealer)
            .expect("opens");
    }

    #[tokio::test]
    async fn a_wrong_operator_key_is_refused_naming_the_recipients() {
        let r = run().await;
        let path = key_file(r.dir.path(), &age::x25519::Identity::generate());
        let err = unseal(r.dir.path(), &r.header, Some(&path))
            .err()
            .expect("refused");
        let msg = format!("{err:#}");
        assert!(msg.contains("cannot open this run's passwords"), "{msg}");
        assert!(msg.contains(&r.operator.to_public().to_string()), "{msg}");
    }
}
