//! Follow-up steps after a successful reset; today one: revoking the user's sign-in sessions
//! (`--revoke-sessions`, or `revoke_sessions = true` per provider).
//!
//! Invariants: a follow-up runs only after the reset succeeded and never changes the row's
//! status, password or export: its result is its own report column. Its requests are paced and
//! gated like resets (the lane's pacer, Retry-After gate and request slots, so they count
//! against the same provider limits) and retried by the same policy ([`super::retry::Retries`]).

use crate::manifest::Target;
use crate::outcome::{RevokeResult, RowResult, Status};
use crate::provider::Failure;

use super::retry::{Retries, Step};
use super::{Lane, Settings};

/// What a follow-up step ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    pub outcome: RevokeResult,
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
    let mut retries = Retries::default();
    let stopped = Failure {
        code: "stopped".into(),
        ..Failure::default()
    };
    loop {
        retries.ready(lane).await;
        if settings.stop.requested() {
            return Some(failed(target, &stopped, retries.throttled));
        }
        let Ok(slot) = lane.wire.take(&settings.stop).await else {
            return Some(failed(target, &stopped, retries.throttled));
        };
        let attempt = lane.provider.revoke_sessions(target).await?;
        drop(slot);
        let next = retries.next(lane.into(), &settings.backoff, &attempt);
        match (next, attempt.failure()) {
            (_, None) => return Some(done(RevokeResult::Succeeded, retries.throttled)),
            (Step::Retry(delay), Some(f)) => {
                if settings.stop.sleep(delay).await {
                    return Some(failed(target, f, retries.throttled));
                }
            }
            (Step::Done | Step::WaitTooLong(_), Some(f)) => {
                return Some(failed(target, f, retries.throttled))
            }
        }
    }
}

fn done(outcome: RevokeResult, throttled: u32) -> Followup {
    Followup { outcome, throttled }
}

fn failed(target: &Target, f: &Failure, throttled: u32) -> Followup {
    tracing::warn!(
        row = target.row, user = %target.user, provider = %target.provider, code = %f.code,
        "the password was reset, but revoking the user's sign-in sessions failed"
    );
    let code = f.code.clone();
    done(RevokeResult::Failed { code }, throttled)
}
