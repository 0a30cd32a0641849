//! Follow-up steps after a successful reset; today one: revoking the user's sign-in sessions
//! (`--revoke-sessions`, or `revoke_sessions = true` per provider).
//!
//! Invariants: a follow-up runs only after the reset succeeded and never changes the row's
//! status, password or export: its result is its own report column. Its requests are paced and
//! gated like resets (the lane's pacer and Retry-After gate, so they count against the same
//! provider limit) and retried with the same backoff policy: transient failures up to
//! `max_attempts`, 429s up to `max_throttled`, each 429 pausing the whole lane.

use crate::manifest::Target;
use crate::outcome::{RowResult, Status};
use crate::provider::{Attempt, Failure};

use super::{Lane, Settings};

/// What a follow-up step ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    /// `succeeded` or `failed: CODE`.
    pub outcome: String,
    /// 429 answers seen on the way.
    pub throttled: u32,
}

/// Runs the follow-up steps of a row whose reset succeeded (nothing for other rows), recording
/// them in its report row. The one call the worker makes.
pub async fn after_reset(
    lane: &Lane,
    settings: &Settings,
    target: &Target,
    result: &mut RowResult,
) {
    if result.report.status != Status::Succeeded {
        return;
    }
    if let Some(f) = revoke_sessions(lane, settings, target).await {
        result.report.revoke_sessions = Some(f.outcome);
        result.throttled += f.throttled;
    }
}

/// Revokes `target`'s sign-in sessions; `None` when the lane's provider is not set to.
pub async fn revoke_sessions(
    lane: &Lane,
    settings: &Settings,
    target: &Target,
) -> Option<Followup> {
    if !lane.provider.revokes_sessions() {
        return None;
    }
    let backoff = settings.backoff;
    let (mut attempts, mut throttled) = (0u32, 0u32);
    loop {
        lane.gate.wait().await;
        lane.pacer.ready().await;
        lane.gate.wait().await;
        attempts += 1;
        let attempt = lane.provider.revoke_sessions(target).await?;
        let (retry_after, failure) = match attempt {
            Attempt::Succeeded(_) => return Some(done("succeeded".into(), throttled)),
            Attempt::Permanent(f) => return Some(failed(target, &f, throttled)),
            Attempt::Transient {
                retry_after,
                ref failure,
            } => (retry_after, failure.clone()),
        };
        if failure.http_status == Some(429) {
            throttled += 1;
            lane.gate
                .pause(retry_after.unwrap_or_else(|| backoff.delay(throttled, None)));
        }
        if exhausted(&backoff, &failure, attempts, throttled) {
            return Some(failed(target, &failure, throttled));
        }
        tokio::time::sleep(backoff.delay(attempts - throttled, retry_after)).await;
    }
}

/// The same limits as resets: 429s up to `max_throttled`, other failures up to `max_attempts`.
fn exhausted(
    backoff: &crate::pipeline::Backoff,
    f: &Failure,
    attempts: u32,
    throttled: u32,
) -> bool {
    if f.http_status == Some(429) {
        throttled >= backoff.max_throttled
    } else {
        attempts - throttled >= backoff.max_attempts
    }
}

fn done(outcome: String, throttled: u32) -> Followup {
    Followup { outcome, throttled }
}

fn failed(target: &Target, f: &Failure, throttled: u32) -> Followup {
    tracing::warn!(
        row = target.row, user = %target.user, provider = %target.provider, code = %f.code,
        "the password was reset, but revoking the user's sign-in sessions failed"
    );
    done(format!("failed: {}", f.code), throttled)
}
