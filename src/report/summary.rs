//! `summary.json`: counts by status and provider, retries, 429s, achieved rate and duration, and
//! per provider the pacing figures of the last session (429s, time paused by `Retry-After`, the
//! rate the provider was learned to accept), so an operator can set `--rate` next time.
//!
//! Invariants: built only from redacted report rows and counts; holds no secret; `pacing` is
//! filled by the session that ran (a summary rebuilt from the journal alone has it empty).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::outcome::{DeliveryState, ReportRow, RevokeResult, Status};

pub const SUMMARY_JSON: &str = "summary.json";

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Rows whose password may or may not be in force: check them (candidates are exported).
    pub uncertain: u64,
    pub dry_run: u64,
    /// Requests beyond the first, over all rows.
    pub retries: u64,
    /// 429 answers seen.
    pub throttled: u64,
    /// Succeeded resets whose follow-up `revokeSignInSessions` failed (the reset stands).
    pub revoke_failed: u64,
    /// Confirmed passwords now in the `[sink]` secret store.
    pub delivered: u64,
    /// Rows the sink does not hold the password of: confirmed but not (yet) delivered, or
    /// uncertain (never written).
    pub undelivered: u64,
}

impl Counts {
    fn add(&mut self, r: &ReportRow, throttled: u32) {
        self.rows += 1;
        match r.status {
            Status::Succeeded => self.succeeded += 1,
            Status::Failed => self.failed += 1,
            Status::Uncertain => self.uncertain += 1,
            Status::DryRun => self.dry_run += 1,
        }
        self.retries += u64::from(r.attempts.saturating_sub(1));
        self.throttled += u64::from(throttled);
        if r.revoke_sessions.as_ref().is_some_and(RevokeResult::failed) {
            self.revoke_failed += 1;
        }
        match &r.delivery {
            Some(DeliveryState::Delivered) => self.delivered += 1,
            Some(DeliveryState::Undelivered { .. }) => self.undelivered += 1,
            None => {}
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub totals: Counts,
    pub by_provider: BTreeMap<String, Counts>,
    /// Rows in the manifest; `pending` of them have not been attempted yet (an interrupted run).
    pub manifest_rows: u64,
    pub pending: u64,
    /// Rows whose last reset may or may not have landed: resume resets them again, and the export
    /// keeps all their candidate passwords until one is confirmed.
    pub uncertain: u64,
    /// Processes that worked on the run (1, plus one per resume).
    pub sessions: u32,
    pub started_at: String,
    pub finished_at: String,
    /// Time spent working, summed over sessions (not the gaps between them).
    pub duration_seconds: f64,
    /// Succeeded rows per second of working time.
    pub achieved_rate: f64,
    /// Per provider: how the last session's pacing went.
    pub pacing: BTreeMap<String, Pacing>,
}

/// One provider's pacing in a session.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Pacing {
    /// 429 answers (resets and follow-ups).
    pub throttled: u64,
    /// Time the provider's lane was paused by `Retry-After` (overlaps counted once).
    pub paused_seconds: f64,
    /// The rate (requests/s) the provider accepted before its last 429; `null` if it never
    /// throttled. A good `--rate` for next time is a little below it.
    pub learned_rate: Option<f64>,
}

impl Pacing {
    /// `graph: 3 throttled, paused 2.0s, learned 98.5/s` for the final line.
    pub fn describe(&self, provider: &str) -> String {
        let learned = match self.learned_rate {
            Some(r) => format!("learned {r:.1}/s"),
            None => "no limit met".into(),
        };
        format!(
            "{provider}: {} throttled, paused {:.1}s, {learned}",
            self.throttled, self.paused_seconds
        )
    }
}

impl Summary {
    pub fn record(&mut self, r: &ReportRow, throttled: u32) {
        self.totals.add(r, throttled);
        self.by_provider
            .entry(r.provider.clone())
            .or_default()
            .add(r, throttled);
    }

    /// No row failed or is uncertain and no follow-up step failed: the run's job is done
    /// (exit 0).
    pub fn all_done(&self) -> bool {
        self.totals.failed == 0
            && self.totals.uncertain == 0
            && self.uncertain == 0
            && self.totals.revoke_failed == 0
            && self.totals.undelivered == 0
    }

    /// Sets the timing figures and the derived rate.
    pub fn set_timing(&mut self, started_at: String, finished_at: String, duration_seconds: f64) {
        self.started_at = started_at;
        self.finished_at = finished_at;
        self.duration_seconds = duration_seconds;
        self.achieved_rate = if duration_seconds > 0.0 {
            self.totals.succeeded as f64 / duration_seconds
        } else {
            0.0
        };
    }
}
