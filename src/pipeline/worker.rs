//! One row, start to finish: pace, journal the intent, send, classify, retry, and turn the last
//! attempt into a [`RowResult`].
//!
//! Invariants: every request waits on the lane's gate (Retry-After) and pacer (rate) first, and
//! on its durable journal intent; a row's password is chosen (and sealed) once and reused by all
//! its retries, so however the provider orders a timed-out attempt and its retry, the password in
//! force is one the journal holds; error messages are scrubbed of the row's secrets.

use std::time::SystemTime;

use crate::manifest::Target;
use crate::outcome::{timestamp, ReportRow, RowResult, Status};
use crate::password::Generate;
use crate::provider::{Attempt, Failure};
use crate::secret::{redact, SecretString};

use super::retry::Retries;
use super::{Lane, Settings};

/// What the attempt loop ended with.
struct Ended {
    attempt: Attempt,
    attempts: u32,
    throttled: u32,
}

/// The row's password: chosen once, sealed once for the journal.
struct RowPassword {
    value: Option<SecretString>,
    sealed: Option<String>,
}

/// Processes one row. Never fails: every failure is a report row.
pub async fn process(lane: &Lane, settings: &Settings, mut target: Target) -> RowResult {
    let started = SystemTime::now();
    if settings.test_panic_row == Some(target.row) {
        panic!(
            "test panic requested for row {} (CREDROTATE_TEST_PANIC_ROW)",
            target.row
        );
    }
    if settings.dry_run {
        return finish(&target, started, None, dry_run());
    }
    let password = match choose_password(lane, settings, &mut target) {
        Ok(p) => p,
        Err(failure) => return finish(&target, started, None, not_sent(failure)),
    };
    let ended = attempt_loop(lane, settings, &target, &password).await;
    let mut result = finish(&target, started, password.value, ended);
    super::followup::after_reset(lane, settings, &target, &mut result).await;
    result
}

fn choose_password(
    lane: &Lane,
    settings: &Settings,
    target: &mut Target,
) -> Result<RowPassword, Failure> {
    let value = match lane.generate {
        Generate::Server => None,
        Generate::Client => Some(
            target
                .new_password
                .take()
                .unwrap_or_else(|| settings.policy.generate()),
        ),
    };
    let sealed = match (&settings.journal, &value) {
        (Some(j), Some(p)) => Some(
            j.seal(p)
                .map_err(|e| journal_failure("cannot seal the password", e))?,
        ),
        _ => None,
    };
    Ok(RowPassword { value, sealed })
}

async fn attempt_loop(
    lane: &Lane,
    settings: &Settings,
    target: &Target,
    password: &RowPassword,
) -> Ended {
    let mut retries = Retries::default();
    loop {
        retries.ready(lane).await;
        if let Err(failure) = write_intent(settings, target, retries.attempts + 1, password).await {
            return ended(Attempt::Permanent(failure), retries);
        }
        let attempt = lane.provider.reset(target, password.value.as_ref()).await;
        let next = retries.next(lane.into(), &settings.backoff, &attempt);
        let (Some(delay), Attempt::Transient { failure, .. }) = (next, &attempt) else {
            return ended(attempt, retries);
        };
        if settings.stop.requested() {
            return ended(attempt, retries);
        }
        if let Some(journal) = &settings.journal {
            let secrets = row_secrets(target, password.value.as_ref());
            let message = redact(&failure.message, &secrets);
            if let Err(e) = journal.retry(target.row, retries.attempts, failure, message) {
                tracing::error!("cannot journal a retry outcome: {e:#}");
            }
        }
        tracing::debug!(row = target.row, attempts = retries.attempts, code = %failure.code, "transient failure; retrying");
        tokio::time::sleep(delay).await;
    }
}

/// Makes the attempt's intent durable; without it the request must not leave, so a journal
/// failure stops the whole run.
async fn write_intent(
    settings: &Settings,
    target: &Target,
    attempt: u32,
    password: &RowPassword,
) -> Result<(), Failure> {
    let Some(journal) = &settings.journal else {
        return Ok(());
    };
    journal
        .intent(target, attempt, password.sealed.as_ref())
        .await
        .map_err(|e| {
            settings.stop.request();
            journal_failure("cannot write the journal; nothing was sent for this row", e)
        })
}

fn ended(attempt: Attempt, retries: Retries) -> Ended {
    Ended {
        attempt,
        attempts: retries.attempts,
        throttled: retries.throttled,
    }
}

fn journal_failure(what: &str, e: anyhow::Error) -> Failure {
    tracing::error!("{what}: {e:#}");
    Failure {
        code: "journal".into(),
        message: format!("{what}: {e:#}"),
        ..Failure::default()
    }
}

fn dry_run() -> Ended {
    Ended {
        attempt: Attempt::Permanent(Failure::default()),
        attempts: 0,
        throttled: 0,
    }
}

fn not_sent(failure: Failure) -> Ended {
    Ended {
        attempt: Attempt::Permanent(failure),
        attempts: 0,
        throttled: 0,
    }
}

/// Builds the report row and, on success, picks the password now in force.
fn finish(
    target: &Target,
    started: SystemTime,
    password: Option<SecretString>,
    ended: Ended,
) -> RowResult {
    let mut report = ReportRow {
        row: target.row,
        user: target.user.clone(),
        method: target.method.clone(),
        provider: target.provider.clone(),
        status: Status::DryRun,
        attempts: ended.attempts,
        http_status: None,
        error_code: None,
        error_message: None,
        operation_id: None,
        request_id: None,
        started_at: timestamp(started),
        finished_at: timestamp(SystemTime::now()),
        provider_result: None,
        revoke_sessions: None,
    };
    let mut exported = None;
    let mut server_generated = false;
    match ended.attempt {
        Attempt::Succeeded(ok) => {
            report.status = Status::Succeeded;
            report.http_status = ok.http_status;
            report.operation_id = ok.operation_id;
            report.request_id = ok.request_id;
            server_generated = ok.server_password.is_some();
            report.provider_result = ok.result;
            exported = ok.server_password.or(password);
        }
        Attempt::Permanent(f) if f.code.is_empty() => {} // dry run
        Attempt::Transient { failure, .. } | Attempt::Permanent(failure) => {
            report.status = Status::Failed;
            let secrets = row_secrets(target, password.as_ref());
            report.http_status = failure.http_status;
            report.error_code = Some(failure.code);
            report.error_message = Some(redact(&failure.message, &secrets));
            report.request_id = failure.request_id;
        }
    }
    RowResult {
        report,
        password: exported,
        throttled: ended.throttled,
        server_generated,
    }
}

/// Every secret of a row, to scrub from provider messages.
fn row_secrets<'a>(
    target: &'a Target,
    password: Option<&'a SecretString>,
) -> Vec<&'a SecretString> {
    let i = &target.inputs;
    [
        password,
        i.old_password.as_ref(),
        i.confirmation_token.as_ref(),
        i.email_auth_code.as_ref(),
        i.password_reset_code.as_ref(),
        i.request_code.as_ref(),
        i.verification_code.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
