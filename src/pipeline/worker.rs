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
    let backoff = settings.backoff;
    let (mut attempts, mut throttled) = (0u32, 0u32);
    loop {
        lane.gate.wait().await;
        lane.pacer.ready().await;
        // A 429 may have closed the gate while this worker waited for its pacing slot.
        lane.gate.wait().await;
        if let Some(journal) = &settings.journal {
            if let Err(e) = journal
                .intent(target, attempts + 1, password.sealed.as_ref())
                .await
            {
                // Without a durable intent the request must not leave: stop the whole run.
                settings.stop.request();
                let failure =
                    journal_failure("cannot write the journal; nothing was sent for this row", e);
                return Ended {
                    attempt: Attempt::Permanent(failure),
                    attempts,
                    throttled,
                };
            }
        }
        attempts += 1;
        let attempt = lane.provider.reset(target, password.value.as_ref()).await;
        if matches!(attempt, Attempt::Succeeded(_)) {
            lane.pacer.on_success();
        }
        let Attempt::Transient {
            retry_after,
            failure,
        } = &attempt
        else {
            return Ended {
                attempt,
                attempts,
                throttled,
            };
        };
        let retry_after = *retry_after;
        if attempt.is_throttle() {
            throttled += 1;
            lane.pacer.on_throttle();
            lane.gate
                .pause(retry_after.unwrap_or_else(|| backoff.delay(throttled, None)));
        }
        let exhausted = if attempt.is_throttle() {
            throttled >= backoff.max_throttled
        } else {
            attempts - throttled >= backoff.max_attempts
        };
        if exhausted || settings.stop.requested() {
            return Ended {
                attempt,
                attempts,
                throttled,
            };
        }
        if let Some(journal) = &settings.journal {
            let message = redact(
                &failure.message,
                &row_secrets(target, password.value.as_ref()),
            );
            if let Err(e) = journal.retry(target.row, attempts, failure, message) {
                tracing::error!("cannot journal a retry outcome: {e:#}");
            }
        }
        tracing::debug!(row = target.row, attempts, code = %failure.code, "transient failure; retrying");
        tokio::time::sleep(backoff.delay(attempts - throttled, retry_after)).await;
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
