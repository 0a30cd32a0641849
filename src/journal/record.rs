//! The journal's records: one JSON object per line, tagged by `"type"` (snake_case).
//!
//! Invariants: a record never holds a password except sealed (see [`super::Sealer`]), and the
//! `Debug` of records that carry one prints `[sealed]` instead, so a record in a log or panic
//! leaks nothing even in plaintext mode. Optional fields are written as `null` and read back
//! as `None` when missing.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::datakey::Binding;
use crate::outcome::ReportRow;

/// The format version written in the header; readers refuse any other.
/// Version 2 added the header's `fsync` and `mac` (see [`super::mac`]); version 3 replaced the
/// header's untyped `config` by the typed run specification `run`; version 4 seals passwords
/// with the run's data key (the header's `data_key`) instead of one age file per password.
pub const JOURNAL_VERSION: u32 = 4;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(Box<Header>),
    Session(SessionRecord),
    Intent(Intent),
    /// Boxed: an outcome with its report is much larger than the other records.
    Outcome(Box<OutcomeRecord>),
    End(EndRecord),
    /// A confirmed password's delivery to the `[sink]` secret store.
    Delivery(DeliveryRecord),
}

/// The first line: what this run is, so `resume` can refuse a changed manifest or config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`JOURNAL_VERSION`].
    pub version: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub manifest: ManifestInfo,
    /// What the run was started with, typed and without secrets: `resume` continues with it.
    pub run: crate::config::RunSpec,
    /// Export recipients (`age1...` or `ssh-...`), exactly as given.
    pub recipients: Vec<String>,
    /// Passwords are stored unsealed: `--export-plaintext` without recipients.
    pub plaintext: bool,
    /// Public key (`age1...`) of the run's ephemeral identity in `journal.key`.
    pub run_recipient: String,
    /// The run's data key, wrapped with age (armored) to every recipient plus `run_recipient`
    /// (see [`super::datakey`]); `None` in plaintext mode.
    pub data_key: Option<String>,
    /// Whether the first session fsync'd the journal (false only with the hidden `--no-fsync`,
    /// for benchmarks: such a run is not crash-safe).
    pub fsync: bool,
    /// HMAC-SHA256 of this header line, keyed by the run key, lowercase hex (see
    /// [`super::mac`]). Last, so it is the last field of the line.
    pub mac: String,
}

/// Which manifest the run works through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestInfo {
    pub path: String,
    /// SHA-256 of the manifest bytes, lowercase hex.
    pub sha256: String,
    pub rows: u64,
}

/// Appended each time a process starts or resumes the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// 1-based; see [`super::JournalState::next_session`].
    pub session: u32,
    pub pid: u32,
    pub started_at: String,
    pub command: SessionCommand,
}

/// The command that opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCommand {
    Run,
    Resume,
}

/// Durable before the request for (`row`, `attempt`) leaves.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub session: u32,
    pub row: u64,
    pub provider: String,
    pub user: String,
    pub method: String,
    /// 1-based within the session.
    pub attempt: u32,
    pub at: String,
    /// The new password, sealed for this intent ([`Intent::binding`]); `None` when the server
    /// generates it.
    pub password: Option<String>,
}

impl Intent {
    /// What this intent's sealed password is bound to.
    pub fn binding(&self) -> Binding {
        Binding::intent(self.session, self.row, self.attempt)
    }
}

/// The provider's answer to one attempt.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub session: u32,
    pub row: u64,
    pub attempt: u32,
    pub at: String,
    pub status: OutcomeStatus,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub operation_id: Option<String>,
    pub request_id: Option<String>,
    /// A server-generated password, sealed for this outcome ([`OutcomeRecord::binding`]).
    pub password: Option<String>,
    /// The row's report line: present exactly on a final outcome.
    pub report: Option<ReportRow>,
    /// A `retry` whose answer does not prove the password was refused (a timeout, a 5xx): the
    /// intent's password may be in force (docs/DESIGN.md §4.4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_be_applied: bool,
}

impl OutcomeRecord {
    /// What this outcome's sealed password is bound to.
    pub fn binding(&self) -> Binding {
        Binding::outcome(self.session, self.row, self.attempt)
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    Succeeded,
    /// The provider certainly did not apply the attempt's password.
    Failed,
    /// The provider may have applied it: the password stays a candidate.
    Uncertain,
    /// A transient answer: the pipeline will try again.
    Retry,
}

impl OutcomeStatus {
    /// Succeeded, failed and uncertain end a row; retry does not.
    #[cfg(test)]
    pub fn is_final(self) -> bool {
        !matches!(self, OutcomeStatus::Retry)
    }
}

/// Durable after a delivery attempt of a confirmed reset ended, delivered or not. Names the
/// reset by the (session, attempt) of its `succeeded` outcome, so a later reset of the row
/// (whose password the store does not hold yet) is never taken as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub row: u64,
    pub reset_session: u32,
    pub reset_attempt: u32,
    pub at: String,
    pub state: crate::outcome::DeliveryState,
    /// The KV version written, or found already holding the password.
    pub kv_version: Option<u64>,
}

/// Appended when a session stops cleanly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndRecord {
    pub session: u32,
    pub at: String,
    pub reason: EndReason,
    /// Per provider, how its lane was paced in this session (absent in journals before it was
    /// recorded): what `report` and `resume` put in the summary's `pacing`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pacing: BTreeMap<String, PacingRecord>,
}

/// One provider's pacing in one session, journaled and in the summary (`report::summary::Pacing`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacingRecord {
    /// 429 answers (resets and follow-ups).
    pub throttled: u64,
    /// Time the provider's lane was paused by `Retry-After` (overlaps counted once).
    pub paused_seconds: f64,
    /// The rate (requests/s) the provider accepted before its last 429; `null` if it never
    /// throttled. A good `--rate` for next time is a little below it.
    pub learned_rate: Option<f64>,
}

impl PacingRecord {
    /// This session's figures added to an earlier one's: counts and pauses add up, the
    /// learned rate is the latest one learned.
    pub fn add(&mut self, later: &PacingRecord) {
        self.throttled += later.throttled;
        self.paused_seconds += later.paused_seconds;
        self.learned_rate = later.learned_rate.or(self.learned_rate);
    }
}

/// Why a session stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Completed,
    Interrupted,
    Aborted,
}

/// Shows whether a sealed password is present, never its text.
fn sealed(p: &Option<String>) -> Option<&'static str> {
    p.as_ref().map(|_| "[sealed]")
}

impl fmt::Debug for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intent")
            .field("session", &self.session)
            .field("row", &self.row)
            .field("provider", &self.provider)
            .field("user", &self.user)
            .field("method", &self.method)
            .field("attempt", &self.attempt)
            .field("at", &self.at)
            .field("password", &sealed(&self.password))
            .finish()
    }
}

impl fmt::Debug for OutcomeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutcomeRecord")
            .field("session", &self.session)
            .field("row", &self.row)
            .field("attempt", &self.attempt)
            .field("at", &self.at)
            .field("status", &self.status)
            .field("http_status", &self.http_status)
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("operation_id", &self.operation_id)
            .field("request_id", &self.request_id)
            .field("password", &sealed(&self.password))
            .field("report", &self.report)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::outcome::Status;

    pub(crate) fn header() -> Header {
        Header {
            version: JOURNAL_VERSION,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            manifest: ManifestInfo {
                path: "users.csv".into(),
                sha256: "ab".repeat(32),
                rows: 3,
            },
            run: crate::config::RunSpec::default(),
            recipients: vec!["age1example".into()],
            plaintext: false,
            run_recipient: "age1run".into(),
            data_key: Some("wrapped".into()),
            fsync: true,
            mac: String::new(),
        }
    }

    pub(crate) fn intent(session: u32, row: u64, attempt: u32, password: Option<&str>) -> Intent {
        Intent {
            session,
            row,
            provider: "graph".into(),
            user: format!("user{row}@example.com"),
            method: "password".into(),
            attempt,
            at: "2025-01-01T00:00:01.000Z".into(),
            password: password.map(String::from),
        }
    }

    pub(crate) fn outcome(
        session: u32,
        row: u64,
        attempt: u32,
        status: OutcomeStatus,
    ) -> OutcomeRecord {
        let report = status.is_final().then(|| ReportRow {
            row,
            user: format!("user{row}@example.com"),
            method: "password".into(),
            provider: "graph".into(),
            status: match status {
                OutcomeStatus::Succeeded => Status::Succeeded,
                OutcomeStatus::Uncertain => Status::Uncertain,
                _ => Status::Failed,
            },
            attempts: attempt,
            http_status: Some(202),
            error_code: None,
            error_message: None,
            operation_id: Some("op".into()),
            request_id: Some("req".into()),
            started_at: "2025-01-01T00:00:01.000Z".into(),
            finished_at: "2025-01-01T00:00:02.000Z".into(),
            provider_result: None,
            revoke_sessions: None,
            client_request_id: None,
            delivery: None,
            kv_version: None,
        });
        OutcomeRecord {
            session,
            row,
            attempt,
            at: "2025-01-01T00:00:02.000Z".into(),
            status,
            http_status: Some(202),
            error_code: None,
            error_message: None,
            operation_id: Some("op".into()),
            request_id: Some("req".into()),
            password: None,
            report,
            may_be_applied: status == OutcomeStatus::Uncertain,
        }
    }

    fn roundtrip(rec: Record) -> serde_json::Value {
        let line = serde_json::to_string(&rec).expect("serialises");
        assert!(!line.contains('\n'), "one record, one line: {line}");
        let back: Record = serde_json::from_str(&line).expect("parses");
        assert_eq!(back, rec);
        serde_json::from_str(&line).expect("is JSON")
    }

    #[test]
    fn header_session_end_roundtrip() {
        let v = roundtrip(Record::Header(Box::new(header())));
        assert_eq!(v["type"], "header");
        assert_eq!(v["manifest"]["rows"], 3);
        let v = roundtrip(Record::Session(SessionRecord {
            session: 2,
            pid: 42,
            started_at: "2025-01-01T00:00:00.000Z".into(),
            command: SessionCommand::Resume,
        }));
        assert_eq!(
            (v["type"].as_str(), v["command"].as_str()),
            (Some("session"), Some("resume"))
        );
        let v = roundtrip(Record::End(EndRecord {
            session: 1,
            at: "2025-01-01T00:00:03.000Z".into(),
            reason: EndReason::Interrupted,
            pacing: BTreeMap::new(),
        }));
        assert_eq!(
            (v["type"].as_str(), v["reason"].as_str()),
            (Some("end"), Some("interrupted"))
        );
        assert!(v.get("pacing").is_none(), "no pacing, no field: {v}");
        let old: Record =
            serde_json::from_str(r#"{"type":"end","session":1,"at":"t","reason":"completed"}"#)
                .expect("an end record written before pacing was recorded");
        assert!(matches!(old, Record::End(e) if e.pacing.is_empty()));
    }

    #[test]
    fn intent_and_outcome_roundtrip() {
        let sealed = "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2UtY2lwaGVydGV4dA==";
        let v = roundtrip(Record::Intent(intent(1, 7, 2, Some(sealed))));
        assert_eq!(
            (v["type"].as_str(), v["password"].as_str()),
            (Some("intent"), Some(sealed))
        );
        let mut o = outcome(1, 7, 2, OutcomeStatus::Succeeded);
        o.password = Some(sealed.into());
        let v = roundtrip(Record::Outcome(Box::new(o)));
        assert_eq!(
            (v["type"].as_str(), v["status"].as_str()),
            (Some("outcome"), Some("succeeded"))
        );
        assert_eq!(v["report"]["status"], "succeeded");
        let v = roundtrip(Record::Outcome(Box::new(outcome(
            1,
            7,
            1,
            OutcomeStatus::Retry,
        ))));
        assert_eq!(
            (v["status"].as_str(), v["report"].is_null()),
            (Some("retry"), true)
        );
    }

    #[test]
    fn missing_optional_fields_read_as_none() {
        let line =
            r#"{"type":"outcome","session":1,"row":3,"attempt":1,"at":"t","status":"failed"}"#;
        let Record::Outcome(o) = serde_json::from_str(line).expect("parses") else {
            panic!("not an outcome")
        };
        assert_eq!((o.http_status, o.password, o.report), (None, None, None));
    }

    #[test]
    fn debug_hides_sealed_passwords() {
        let mut o = outcome(1, 1, 1, OutcomeStatus::Succeeded);
        o.password = Some("plain-secret-1".into());
        let i = intent(1, 1, 1, Some("plain-secret-2"));
        let shown = format!("{:?} {:?}", Record::Outcome(Box::new(o)), Record::Intent(i));
        assert!(!shown.contains("plain-secret") && shown.contains("[sealed]"));
    }
}
