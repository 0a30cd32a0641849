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

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub rows: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Rows whose password may or may not be in force: check them (candidates are exported).
    pub uncertain: u64,
    pub dry_run: u64,
    /// Break-glass exclusions: rows never sent.
    pub excluded: u64,
    /// Requests beyond the first, over all rows.
    pub retries: u64,
    /// 429 answers seen.
    pub throttled: u64,
    /// Succeeded resets whose follow-up `revokeSignInSessions` failed (the reset stands).
    pub revoke_failed: u64,
    /// Failed and uncertain rows by error code (`401 InvalidAuthenticationToken`).
    pub failures_by_code: BTreeMap<String, u64>,
    /// From the first row's start to the last row's end (gaps between sessions included).
    pub span_seconds: f64,
    /// Succeeded rows per second of `span_seconds`.
    pub span_rate: f64,
    #[serde(skip)]
    span: Option<(String, String)>,
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
            Status::Excluded => self.excluded += 1,
        }
        if matches!(r.status, Status::Failed | Status::Uncertain) {
            *self.failures_by_code.entry(failure_code(r)).or_default() += 1;
        }
        self.widen_span(r);
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

#[derive(Debug, Clone, Serialize)]
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
    /// `I/N` for the run of one shard of a manifest (`--shard`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The credrotate version that wrote this summary.
    pub version: &'static str,
    pub run_state: RunState,
    /// Why the run stopped early (breaker or canary), in one line.
    pub stop_cause: Option<String>,
    /// The exit code of the process that wrote this summary (`null` from `credrotate report`).
    pub exit_code: Option<u8>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            totals: Counts::default(),
            by_provider: BTreeMap::new(),
            manifest_rows: 0,
            pending: 0,
            uncertain: 0,
            sessions: 0,
            started_at: String::new(),
            finished_at: String::new(),
            duration_seconds: 0.0,
            achieved_rate: 0.0,
            pacing: BTreeMap::new(),
            version: env!("CARGO_PKG_VERSION"),
            run_state: RunState::default(),
            stop_cause: None,
            exit_code: None,
            shard: None,
        }
    }
}

/// One provider's pacing: the figures its sessions' `end` records carry, added up.
pub use crate::journal::PacingRecord as Pacing;

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

impl Counts {
    /// Widens the span of row times by `r`'s (RFC 3339 UTC strings of one format sort as times).
    fn widen_span(&mut self, r: &ReportRow) {
        if r.started_at.is_empty() || r.finished_at.is_empty() {
            return;
        }
        let span = self
            .span
            .get_or_insert_with(|| (r.started_at.clone(), r.finished_at.clone()));
        if r.started_at < span.0 {
            span.0.clone_from(&r.started_at);
        }
        if r.finished_at > span.1 {
            span.1.clone_from(&r.finished_at);
        }
        let seconds = match (
            humantime::parse_rfc3339_weak(&span.0),
            humantime::parse_rfc3339_weak(&span.1),
        ) {
            (Ok(a), Ok(b)) => b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            _ => 0.0,
        };
        self.span_seconds = seconds;
        self.span_rate = if seconds > 0.0 {
            self.succeeded as f64 / seconds
        } else {
            0.0
        };
    }
}

/// `401 InvalidAuthenticationToken`, or the code alone when no HTTP status came back.
fn failure_code(r: &ReportRow) -> String {
    let code = r.error_code.as_deref().unwrap_or("unknown");
    match r.http_status {
        Some(status) => format!("{status} {code}"),
        None => code.to_owned(),
    }
}

/// How a run stands (`run_state` in summary.json).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Every row in scope has a final, certain outcome.
    Complete,
    /// Rows are pending or uncertain (a summary rebuilt from the journal alone).
    #[default]
    Unfinished,
    StoppedByBreaker,
    StoppedByCanary,
    Interrupted,
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
