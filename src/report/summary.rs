//! `summary.json`: counts by status and provider, retries, 429s, achieved rate and duration.
//!
//! Invariant: built only from redacted [`RowResult`] fields; holds no secret.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::outcome::{timestamp, RowResult, Status};

pub const SUMMARY_JSON: &str = "summary.json";

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub dry_run: u64,
    /// Requests beyond the first, over all rows.
    pub retries: u64,
    /// 429 answers seen.
    pub throttled: u64,
}

impl Counts {
    fn add(&mut self, r: &RowResult) {
        self.rows += 1;
        match r.report.status {
            Status::Succeeded => self.succeeded += 1,
            Status::Failed => self.failed += 1,
            Status::DryRun => self.dry_run += 1,
        }
        self.retries += u64::from(r.report.attempts.saturating_sub(1));
        self.throttled += u64::from(r.throttled);
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub totals: Counts,
    pub by_provider: BTreeMap<String, Counts>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    /// Succeeded rows per second of wall time.
    pub achieved_rate: f64,
    #[serde(skip)]
    clock: Instant,
}

impl Summary {
    pub fn start() -> Summary {
        Summary {
            totals: Counts::default(),
            by_provider: BTreeMap::new(),
            started_at: timestamp(SystemTime::now()),
            finished_at: String::new(),
            duration_seconds: 0.0,
            achieved_rate: 0.0,
            clock: Instant::now(),
        }
    }

    pub fn record(&mut self, r: &RowResult) {
        self.totals.add(r);
        self.by_provider
            .entry(r.report.provider.clone())
            .or_default()
            .add(r);
    }

    /// Stamps the end time and derived figures.
    pub fn finish(&mut self) {
        self.finished_at = timestamp(SystemTime::now());
        self.duration_seconds = self.clock.elapsed().as_secs_f64();
        self.achieved_rate = if self.duration_seconds > 0.0 {
            self.totals.succeeded as f64 / self.duration_seconds
        } else {
            0.0
        };
    }
}
