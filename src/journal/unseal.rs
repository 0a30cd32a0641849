//! Trusting a journal again: what `resume` and `report` check before they read passwords back or
//! seal new ones to the header's recipients.
//!
//! Invariants:
//! - With the run key present, the header is used only once its MAC verifies.
//! - Without it the header cannot be checked; when an operator identity is about to be used, its
//!   recipients are shown and the operator is told so.
//! - An operator identity is accepted only if it unwraps the run's data key, so a wrong key
//!   fails before anything is sent, not after the resets.

use std::path::Path;

use anyhow::{anyhow, Result};

use super::identity::Identity;
use super::{load_identities, verify_header, Header, Opener, RunKey, KEY_FILE};

/// An opener for the run in `dir`: the data key unwrapped with the identities in
/// `identity_file`, or else with the run key. `None` when neither is available (the run key is
/// gone and no identity was given).
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
    if let Some(path) = identity_file {
        if key.is_none() {
            tracing::warn!(
                "{KEY_FILE} is gone, so the journal header cannot be authenticated; the export will be encrypted to the recipients it names, check that they are yours: {}",
                recipients(header)
            );
        }
        return operator_opener(path, header).map(Some);
    }
    match key {
        Some(key) => {
            let run: Identity = Box::new(key.identity().clone());
            Opener::for_header(header, &[run]).map(Some)
        }
        None => Ok(None),
    }
}

/// Warns when the run was started with `--no-fsync`: its journal may be missing intents.
pub fn warn_if_not_crash_safe(header: &Header) {
    if !header.fsync {
        tracing::warn!("this run was started with --no-fsync (benchmarking only), so it was NOT crash-safe: if it crashed, intents may be missing from the journal and some users may have a password that is in no export (hint: check the users of uncertain or interrupted rows at the provider)");
    }
}

/// An opener from the identities in `path`: they must unwrap this run's data key.
fn operator_opener(path: &Path, header: &Header) -> Result<Opener> {
    Opener::for_header(header, &load_identities(path)?).map_err(|_| {
        anyhow!(
            "{} cannot open this run's passwords: it is not the private key of any of its export recipients ({}) (hint: pass the key the export was encrypted to)",
            path.display(),
            recipients(header)
        )
    })
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
    use crate::journal::{authenticate_header, Binding, DataKey, JournalWriter, Sealer};
    use crate::secret::{secret, ExposeSecret};
    use std::sync::Arc;

    struct Run {
        dir: tempfile::TempDir,
        header: Header,
        operator: age::x25519::Identity,
        sealer: Sealer,
    }

    /// The opener reads what the run sealed.
    fn check(opener: Option<Opener>, sealer: &Sealer) {
        let at = Binding::intent(1, 1, 1);
        let sealed = sealer.seal(&secret("probe-pw".into()), at).expect("seals");
        let opened = opener.expect("an opener").open(&sealed, at).expect("opens");
        assert_eq!(opened.expose_secret(), "probe-pw");
    }

    async fn run() -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = RunKey::create(dir.path()).expect("key");
        let operator = age::x25519::Identity::generate();
        let mut header = header();
        header.recipients = vec![operator.to_public().to_string()];
        header.run_recipient = key.public();
        let data_key = Arc::new(DataKey::generate());
        header.data_key = Some(
            data_key
                .wrap(&header.recipients, &header.run_recipient)
                .expect("wraps"),
        );
        authenticate_header(&mut header, &key).expect("mac");
        let w = JournalWriter::create(dir.path(), &header, false).expect("journal");
        w.close().await.expect("closed");
        Run {
            dir,
            header,
            operator,
            sealer: Sealer::new(data_key),
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
        check(
            unseal(r.dir.path(), &r.header, None).expect("ok"),
            &r.sealer,
        );
        RunKey::remove(r.dir.path()).expect("removed");
        assert!(unseal(r.dir.path(), &r.header, None).expect("ok").is_none());
        let path = key_file(r.dir.path(), &r.operator);
        check(
            unseal(r.dir.path(), &r.header, Some(&path)).expect("ok"),
            &r.sealer,
        );
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
