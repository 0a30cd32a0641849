//! The pipeline's side of the journal protocol (docs/DESIGN.md §4): what is written when.
//!
//! Invariants: an attempt's `intent` (with the row's password, sealed for that row and attempt)
//! is durable before its request leaves; a retried attempt gets a `retry` outcome that says whether its password may be
//! in force; every row the collector receives gets exactly one final outcome (succeeded, failed
//! or uncertain) carrying its report line (also rows whose worker panicked).

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Result;

use crate::journal::{Binding, Intent, JournalWriter, OutcomeRecord, OutcomeStatus, Sealer};
use crate::manifest::Target;
use crate::outcome::{timestamp, RowResult, Status};
use crate::provider::Attempt;
use crate::secret::SecretString;

/// A run's journal as the workers and collector use it.
#[derive(Clone)]
pub struct Journal {
    pub writer: JournalWriter,
    pub sealer: Arc<Sealer>,
    /// This process's session number.
    pub session: u32,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Writes the intent for `attempt`, with `password` sealed for it, and waits until it is
    /// durable.
    pub async fn intent(
        &self,
        target: &Target,
        attempt: u32,
        password: Option<&SecretString>,
    ) -> Result<()> {
        let at = Binding::intent(self.session, target.row, attempt);
        let sealed = password.map(|p| self.sealer.seal(p, at)).transpose()?;
        self.writer
            .intent(Intent {
                session: self.session,
                row: target.row,
                provider: target.provider.clone(),
                user: target.user.clone(),
                method: target.method.clone(),
                attempt,
                at: timestamp(SystemTime::now()),
                password: sealed,
            })
            .await
    }

    /// Records a transient answer that will be retried.
    pub fn retry(
        &self,
        row: u64,
        attempt: u32,
        answer: &Attempt,
        redacted_message: String,
    ) -> Result<()> {
        let failure = answer.failure().cloned().unwrap_or_default();
        self.writer.outcome(OutcomeRecord {
            session: self.session,
            row,
            attempt,
            at: timestamp(SystemTime::now()),
            status: OutcomeStatus::Retry,
            http_status: failure.http_status,
            error_code: Some(failure.code),
            error_message: Some(redacted_message),
            operation_id: None,
            request_id: failure.request_id,
            password: None,
            report: None,
            may_be_applied: answer.may_be_applied(),
        })
    }

    /// Records a row's final outcome, sealing a server-generated password (confirmed, or a
    /// candidate when the row is uncertain).
    pub fn finish(&self, result: &RowResult) -> Result<()> {
        let r = &result.report;
        let at = Binding::outcome(self.session, r.row, r.attempts);
        let password = match (&result.password, result.server_generated) {
            (Some(p), true) => Some(self.sealer.seal(p, at)?),
            _ => None,
        };
        let status = match r.status {
            Status::Succeeded => OutcomeStatus::Succeeded,
            Status::Uncertain => OutcomeStatus::Uncertain,
            Status::Failed | Status::DryRun | Status::Excluded => OutcomeStatus::Failed,
        };
        self.writer.outcome(OutcomeRecord {
            session: self.session,
            row: r.row,
            attempt: r.attempts,
            at: timestamp(SystemTime::now()),
            status,
            http_status: r.http_status,
            error_code: r.error_code.clone(),
            error_message: r.error_message.clone(),
            operation_id: r.operation_id.clone(),
            request_id: r.request_id.clone(),
            password,
            report: Some(r.clone()),
            may_be_applied: status == OutcomeStatus::Uncertain,
        })
    }
}
