//! One row, start to finish: pace, send, classify, retry, and turn the last attempt into a
//! [`RowResult`].
//!
//! Invariants: every request waits on the lane's gate (Retry-After) and pacer (rate) first; a
//! row's password is chosen once and reused by all its retries, so however the provider orders
//! a timed-out attempt and its retry, the password in force is the one we export; error messages
//! are scrubbed of the row's secrets before they leave.

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

/// Processes one row. Never fails: every failure is a report row.
pub async fn process(lane: &Lane, settings: &Settings, mut target: Target) -> RowResult {
    let started = SystemTime::now();
    if settings.dry_run {
        return finish(&target, started, None, dry_run());
    }
    let password = choose_password(lane, settings, &mut target);
    let ended = attempt_loop(lane, settings, &target, password.as_ref()).await;
    let mut result = finish(&target, started, password, ended);
    super::followup::after_reset(lane, settings, &target, &mut result).await;
    result
}

fn choose_password(lane: &Lane, settings: &Settings, target: &mut Target) -> Option<SecretString> {
    match lane.generate {
        Generate::Server => None,
        Generate::Client => Some(
            target
                .new_password
                .take()
                .unwrap_or_else(|| settings.policy.generate()),
        ),
    }
}

async fn attempt_loop(
    lane: &Lane,
    settings: &Settings,
    target: &Target,
    password: Option<&SecretString>,
) -> Ended {
    let backoff = settings.backoff;
    let (mut attempts, mut throttled) = (0u32, 0u32);
    loop {
        lane.gate.wait().await;
        lane.pacer.ready().await;
        // A 429 may have closed the gate while this worker waited for its pacing slot.
        lane.gate.wait().await;
        attempts += 1;
        let attempt = lane.provider.reset(target, password).await;
        let Attempt::Transient { retry_after, .. } = &attempt else {
            return Ended {
                attempt,
                attempts,
                throttled,
            };
        };
        let retry_after = *retry_after;
        let failures = attempts - throttled;
        if attempt.is_throttle() {
            throttled += 1;
            lane.gate
                .pause(retry_after.unwrap_or_else(|| backoff.delay(throttled, None)));
        }
        let exhausted = if attempt.is_throttle() {
            throttled >= backoff.max_throttled
        } else {
            failures >= backoff.max_attempts
        };
        if exhausted {
            return Ended {
                attempt,
                attempts,
                throttled,
            };
        }
        tracing::debug!(row = target.row, user = %target.user, attempts, "transient failure; retrying");
        tokio::time::sleep(backoff.delay(attempts - throttled, retry_after)).await;
    }
}

fn dry_run() -> Ended {
    Ended {
        attempt: Attempt::Permanent(Failure::default()),
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
    match ended.attempt {
        _ if ended.attempts == 0 => {}
        Attempt::Succeeded(ok) => {
            report.status = Status::Succeeded;
            report.http_status = ok.http_status;
            report.operation_id = ok.operation_id;
            report.request_id = ok.request_id;
            report.provider_result = ok.result;
            exported = ok.server_password.or(password);
        }
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
