//! The write-ahead journal: the crash-safety protocol of docs/DESIGN.md section 4.
//!
//! A run's output folder `DIR` holds three files owned by this module:
//! - `journal.jsonl`: one JSON record per line ([`Record`]), append-only. The first line is the
//!   [`Header`]; then [`SessionRecord`]s (one per process start), [`Intent`]s (durable *before* a
//!   request leaves), [`OutcomeRecord`]s (after the provider answered) and [`EndRecord`]s.
//! - `journal.key`: the run's ephemeral age X25519 identity ([`RunKey`]), mode 0600, so a resuming
//!   process can unwrap the run's data key and read back the passwords it sealed. Removed once a
//!   run completes.
//! - `run.lock`: an OS lock (`flock`) held by the process working on `DIR`, naming its pid and
//!   host ([`RunLock`]).
//!
//! Invariants:
//! - No password is ever written in the clear, except in plaintext mode (the operator chose
//!   `--export-plaintext` and gave no recipient; the header says so). Otherwise every password in
//!   the journal is an XChaCha20-Poly1305 ciphertext under the run's [`DataKey`], bound to its
//!   row and attempt ([`Sealer`]); the header holds that key wrapped with age to every export
//!   recipient plus the run key, so an operator key reads the journal once `journal.key` is gone.
//! - [`JournalWriter::intent`] resolves only once its record is on disk (fsync'd when asked);
//!   many concurrent intents share one fsync (group commit). An I/O error reaches every waiting
//!   caller and every later call: a record is never dropped silently.
//! - A torn last line (a crash mid-write) is ignored when reading and cut off before appending;
//!   damage anywhere else is an error naming the line.
//! - The header carries a MAC keyed by the run key ([`authenticate_header`]); a header that
//!   fails [`verify_header`] is never trusted. Only another format version is refused unread.
//!
//! The pipeline wires these pieces together; this module knows nothing of providers or HTTP.

mod b64;
mod datakey;
mod identity;
mod key;
mod lock;
mod mac;
mod reader;
mod record;
mod rowstore;
mod seal;
mod state;
mod unseal;
mod writer;

pub use datakey::{Binding, DataKey};
pub use identity::load_identities;
pub use key::RunKey;
pub use lock::RunLock;
pub use mac::{authenticate_header, verify_header};
#[cfg(test)]
pub use reader::read_journal;
pub use reader::{each_record, read_header_of, read_record_at};
pub use record::{
    DeliveryRecord, EndReason, EndRecord, Header, Intent, ManifestInfo, OutcomeRecord,
    OutcomeStatus, PacingRecord, Record, SessionCommand, SessionRecord, JOURNAL_VERSION,
};
pub use seal::{Opener, Sealer};
pub use state::{JournalState, Offset, RowSet, RowState};
pub use unseal::{unseal, warn_if_not_crash_safe};
pub use writer::JournalWriter;

/// The journal's file name inside the output folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// The run key's file name inside the output folder.
pub const KEY_FILE: &str = "journal.key";
/// The lock's file name inside the output folder.
pub const LOCK_FILE: &str = "run.lock";

/// Makes a directory entry (a created, renamed or removed file) durable.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{secret, ExposeSecret};
    use std::sync::Arc;

    fn header(run_recipient: String, recipients: Vec<String>, key: &DataKey) -> Header {
        let data_key = key.wrap(&recipients, &run_recipient).expect("wraps");
        Header {
            version: JOURNAL_VERSION,
            created_at: crate::outcome::timestamp(std::time::SystemTime::now()),
            manifest: ManifestInfo {
                path: "users.csv".into(),
                sha256: "00".repeat(32),
                rows: 2,
            },
            run: crate::config::RunSpec::default(),
            recipients,
            plaintext: false,
            run_recipient,
            data_key: Some(data_key),
            fsync: true,
            mac: String::new(),
        }
    }

    fn intent(session: u32, row: u64, password: Option<String>) -> Intent {
        Intent {
            session,
            row,
            provider: "graph".into(),
            user: format!("u{row}"),
            method: "password".into(),
            attempt: 1,
            at: "t".into(),
            password,
        }
    }

    #[test]
    fn shareable_across_tasks() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<JournalWriter>();
        send_sync::<Sealer>();
        send_sync::<Opener>();
        send_sync::<RunKey>();
    }

    /// A run crashes with one request in flight; a resume reads back every candidate password,
    /// with the run key or, once it is gone, with the operator's key alone.
    #[tokio::test]
    async fn crash_and_resume_recovers_every_candidate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let operator = age::x25519::Identity::generate();
        let key = RunKey::create(dir.path()).expect("key");
        let data_key = Arc::new(DataKey::generate());
        let h = header(
            key.public(),
            vec![operator.to_public().to_string()],
            &data_key,
        );
        let sealer = Sealer::new(data_key);
        let w = JournalWriter::create(dir.path(), &h, true).expect("journal");
        let seal = |session, pw: &str| {
            let at = Binding::intent(session, 1, 1);
            sealer.seal(&secret(pw.into()), at).expect("seal")
        };
        w.intent(intent(1, 1, Some(seal(1, "first-Pw-1"))))
            .await
            .expect("intent");
        w.close().await.expect("closed (the process then dies)");

        let contents = read_journal(dir.path()).expect("reads");
        let mut state = JournalState::new(contents.header.manifest.rows);
        for rec in &contents.records {
            state.apply(1, rec).expect("applies");
        }
        assert!(state.row(1).unwrap().uncertain());
        let w = JournalWriter::append(dir.path(), true).expect("appends");
        w.intent(intent(
            state.next_session(),
            1,
            Some(seal(2, "second-Pw-2")),
        ))
        .await
        .expect("intent");
        w.close().await.expect("closed");

        let records = read_journal(dir.path()).expect("reads").records;
        let by_run: identity::Identity = Box::new(key.identity().clone());
        let by_operator: identity::Identity = Box::new(operator);
        for id in [by_run, by_operator] {
            let opener = Opener::for_header(&h, &[id]).expect("unwraps");
            let opened: Vec<String> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Intent(i) => Some(i),
                    _ => None,
                })
                .map(|i| {
                    let sealed = i.password.as_deref().expect("sealed");
                    let pw = opener.open(sealed, i.binding()).expect("opens");
                    pw.expose_secret().to_owned()
                })
                .collect();
            assert_eq!(opened, ["first-Pw-1", "second-Pw-2"]);
        }
        let raw = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).expect("raw");
        assert!(!raw.contains("first-Pw-1") && !raw.contains("second-Pw-2"));
    }
}
