//! One row, start to finish: pace, journal the intent, send, classify, retry, and turn the last
//! attempt into a [`RowResult`].
//!
//! Invariants: every request waits on the lane's gate (Retry-After) and pacer (rate) first,
//! then on its durable journal intent, then on a request slot of the lane ([`super::wire`]); a
//! row's password is chosen once and reused by all its retries (each intent seals it for its own
//! attempt), so however the provider orders a timed-out attempt and its retry, the password in
//! force is one the journal holds; a row whose password may be in force (any attempt uncertain,
//! and none confirmed) ends `uncertain` with that password beside it, never `failed`; after a
//! stop no new request leaves (a row stopped before its first intent yields no result; one
//! stopped between an intent and its request ends with that attempt `stopped`, nothing sent);
//! error messages are redacted of the row's secrets, then truncated.

use std::time::{Duration, SystemTime};

use crate::manifest::Target;
use crate::outcome::{timestamp, ReportRow, RowResult, Status};
use crate::password::Generate;
use crate::provider::{Attempt, Failure};
use crate::secret::{redact_and_truncate, SecretString};

use super::retry::{Retries, Step};
use super::{Lane, Settings};

/// How a row ended.
enum Ended {
    DryRun,
    /// Refused before any request left (no password could be prepared).
    NotSent(Failure),
    Answered {
        /// The last answer, settled (never `Transient`).
        attempt: Attempt,
        /// Some earlier attempt's password may be in force.
        earlier_maybe: bool,
        retries: Retries,
    },
}

/// The row's password: chosen once, sealed into each attempt's intent.
struct RowPassword {
    value: Option<SecretString>,
}

/// Processes one row. Never fails: every failure is a report row. `None` when a stop came
/// before the row's first request.
pub async fn process(lane: &Lane, settings: &Settings, mut target: Target) -> Option<RowResult> {
    let started = SystemTime::now();
    if settings.test_panic_row == Some(target.row) {
        panic!(
            "test panic requested for row {} (CREDROTATE_TEST_PANIC_ROW)",
            target.row
        );
    }
    if settings.dry_run {
        return Some(finish(&target, started, None, Ended::DryRun));
    }
    let password = match choose_password(lane, settings, &mut target) {
        Ok(p) => p,
        Err(failure) => return Some(finish(&target, started, None, Ended::NotSent(failure))),
    };
    // `None`: stopped before the row's first request, so it stays pending.
    let ended = attempt_loop(lane, settings, &target, &password).await?;
    let mut result = finish(&target, started, password.value, ended);
    super::followup::after_reset(lane, settings, &target, &mut result).await;
    Some(result)
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
                .unwrap_or_else(|| settings.passwords.generate()),
        ),
    };
    Ok(RowPassword { value })
}

async fn attempt_loop(
    lane: &Lane,
    settings: &Settings,
    target: &Target,
    password: &RowPassword,
) -> Option<Ended> {
    let mut retries = Retries::default();
    let mut earlier_maybe = false;
    loop {
        // Held until the answer is observed: one request at a time until the lane's credential
        // is proven (see `breaker`); taken before the pacing slot, so no slot waits on it.
        let probe = lane.breaker.admit().await;
        retries.ready(lane).await;
        if settings.stop.requested() && retries.attempts == 0 {
            return None;
        }
        if let Err(failure) = write_intent(settings, target, retries.attempts + 1, password).await {
            return answered(Attempt::NotApplied(failure), earlier_maybe, retries);
        }
        let Ok(slot) = lane.wire.take(&settings.stop).await else {
            return not_sent(lane, settings, earlier_maybe, retries);
        };
        retries.release(lane).await;
        let attempt = lane.provider.reset(target, password.value.as_ref()).await;
        drop(slot);
        if let Some(trip) = lane.breaker.observe(&attempt) {
            settings
                .halt
                .set(super::Halted::Breaker(trip), &settings.stop);
        }
        drop(probe);
        let delay = match retries.next(lane.into(), &settings.backoff, &attempt) {
            Step::Retry(delay) => delay,
            Step::Done => return answered(attempt, earlier_maybe, retries),
            Step::WaitTooLong(wait) => {
                let attempt = wait_too_long(attempt, wait, &settings.backoff);
                return answered(attempt, earlier_maybe, retries);
            }
        };
        if settings.stop.requested() {
            return answered(attempt, earlier_maybe, retries);
        }
        journal_retry(settings, target, password, &attempt, retries.attempts);
        earlier_maybe |= attempt.may_be_applied();
        if settings.stop.sleep(delay).await {
            return answered(attempt, earlier_maybe, retries);
        }
    }
}

/// A stop came while the row's intent was durable but its request had not left (it waited for
/// a request slot): the attempt the intent announced ends refused here, so the journal holds no
/// unanswered intent for it, and the row is `failed` (nothing sent) unless an earlier attempt's
/// password may be in force. `resume` resets it again.
fn not_sent(
    lane: &Lane,
    settings: &Settings,
    earlier_maybe: bool,
    mut retries: Retries,
) -> Option<Ended> {
    let attempt = Attempt::NotApplied(Failure {
        code: "stopped".into(),
        message: "the run was stopped before this row's request was sent; nothing was sent, and `credrotate resume` resets the row".into(),
        ..Failure::default()
    });
    // Counts the attempt, so the outcome answers the intent just written.
    retries.next(lane.into(), &settings.backoff, &attempt);
    answered(attempt, earlier_maybe, retries)
}

/// Records a transient answer that will be retried.
fn journal_retry(
    settings: &Settings,
    target: &Target,
    password: &RowPassword,
    attempt: &Attempt,
    attempts: u32,
) {
    let Some(failure) = attempt.failure() else {
        return;
    };
    tracing::debug!(row = target.row, attempts, code = %failure.code, "transient failure; retrying");
    let Some(journal) = &settings.journal else {
        return;
    };
    let message = redact_and_truncate(
        &failure.message,
        &row_secrets(target, password.value.as_ref()),
    );
    if let Err(e) = journal.retry(target.row, attempts, attempt, message) {
        tracing::error!("cannot journal a retry outcome: {e:#}");
    }
}

/// A transient answer whose `Retry-After` is beyond `--max-retry-after`: final, with the wait
/// named in the message.
fn wait_too_long(attempt: Attempt, wait: Duration, backoff: &super::Backoff) -> Attempt {
    let mut attempt = attempt.settle();
    if let Some(f) = attempt.failure_mut() {
        f.message = format!(
            "the provider asked to retry after {} (Retry-After), beyond --max-retry-after {}; given up: {}",
            humantime::format_duration(wait),
            humantime::format_duration(backoff.max_retry_after),
            f.message
        );
    }
    attempt
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
        .intent(target, attempt, password.value.as_ref())
        .await
        .map_err(|e| {
            settings.stop.request();
            journal_failure("cannot write the journal; nothing was sent for this row", e)
        })
}

fn answered(attempt: Attempt, earlier_maybe: bool, retries: Retries) -> Option<Ended> {
    Some(Ended::Answered {
        attempt: attempt.settle(),
        earlier_maybe,
        retries,
    })
}

fn journal_failure(what: &str, e: anyhow::Error) -> Failure {
    tracing::error!("{what}: {e:#}");
    Failure {
        code: "journal".into(),
        message: format!("{what}: {e:#}"),
        ..Failure::default()
    }
}

/// Builds the report row and picks the password for the export: the confirmed one on success,
/// the candidate when the row is uncertain.
fn finish(
    target: &Target,
    started: SystemTime,
    password: Option<SecretString>,
    ended: Ended,
) -> RowResult {
    let mut report = skeleton(target, started);
    let (attempt, earlier_maybe, retries) = match ended {
        Ended::DryRun => return row_result(report, None, Retries::default()),
        Ended::NotSent(failure) => (Attempt::NotApplied(failure), false, Retries::default()),
        Ended::Answered {
            attempt,
            earlier_maybe,
            retries,
        } => (attempt, earlier_maybe, retries),
    };
    report.attempts = retries.attempts;
    let exported = match attempt {
        Attempt::Succeeded(ok) => {
            report.status = Status::Succeeded;
            report.http_status = ok.http_status;
            report.operation_id = ok.operation_id;
            report.request_id = ok.request_id;
            report.client_request_id = ok.client_request_id;
            report.provider_result = ok.result;
            ok.server_password.map(Server).or(password.map(Client))
        }
        Attempt::Uncertain {
            failure,
            server_password,
        } => {
            set_failure(&mut report, target, password.as_ref(), failure);
            report.status = Status::Uncertain;
            server_password.map(Server).or(password.map(Client))
        }
        Attempt::NotApplied(failure) | Attempt::Transient { failure, .. } => {
            set_failure(&mut report, target, password.as_ref(), failure);
            if !earlier_maybe {
                report.status = Status::Failed;
                None
            } else {
                report.status = Status::Uncertain;
                note_earlier_answer(&mut report);
                password.map(Client)
            }
        }
    };
    row_result(report, exported, retries)
}

/// Where an exported password came from.
enum Exported {
    Client(SecretString),
    Server(SecretString),
}
use Exported::{Client, Server};

fn row_result(report: ReportRow, exported: Option<Exported>, retries: Retries) -> RowResult {
    let (password, server_generated) = match exported {
        Some(Server(p)) => (Some(p), true),
        Some(Client(p)) => (Some(p), false),
        None => (None, false),
    };
    RowResult {
        report,
        password,
        throttled: retries.throttled,
        server_generated,
    }
}

fn set_failure(
    report: &mut ReportRow,
    target: &Target,
    password: Option<&SecretString>,
    failure: Failure,
) {
    let secrets = row_secrets(target, password);
    report.http_status = failure.http_status;
    report.error_code = Some(redact_and_truncate(&failure.code, &secrets));
    report.error_message = Some(redact_and_truncate(&failure.message, &secrets));
    report.request_id = failure.request_id;
    report.client_request_id = failure.client_request_id;
}

/// The last answer was a refusal, but an earlier attempt's answer was lost.
fn note_earlier_answer(report: &mut ReportRow) {
    let last = report.error_message.take().unwrap_or_default();
    report.error_message = Some(crate::secret::truncate(
        format!("an earlier attempt's answer was lost, so its password may be in force; the last attempt: {last}"),
        crate::secret::MESSAGE_MAX,
    ));
}

fn skeleton(target: &Target, started: SystemTime) -> ReportRow {
    ReportRow {
        row: target.row,
        user: target.user.clone(),
        method: target.method.clone(),
        provider: target.provider.clone(),
        status: Status::DryRun,
        attempts: 0,
        http_status: None,
        error_code: None,
        error_message: None,
        operation_id: None,
        request_id: None,
        started_at: timestamp(started),
        finished_at: timestamp(SystemTime::now()),
        provider_result: None,
        revoke_sessions: None,
        client_request_id: None,
        delivery: None,
        kv_version: None,
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
