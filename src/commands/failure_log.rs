//! Watching finished rows during a session: a failure log that does not drown the operator
//! (the first few rows of each provider and error are logged, the rest counted), and the canary's
//! tally of its own rows.
//!
//! Invariants: every failure is in the report whatever is logged; the log never shows more than
//! [`SHOWN`] lines per (provider, error) and ends with one line per error it stopped showing; the
//! canary counts only its own rows, so a row that was already queued cannot pass or fail it.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::Target;
use crate::outcome::{ReportRow, Status};
use crate::pipeline::CanaryMiss;

/// Rows logged one by one per (provider, error code).
pub const SHOWN: u64 = 3;

/// Logs failed rows, a few per kind of failure.
#[derive(Debug, Default)]
pub struct FailureLog {
    seen: BTreeMap<(String, String), u64>,
}

impl FailureLog {
    pub fn failed(&mut self, row: &ReportRow) {
        let code = row.error_code.clone().unwrap_or_default();
        let n = self
            .seen
            .entry((row.provider.clone(), code.clone()))
            .or_default();
        *n += 1;
        if *n <= SHOWN {
            tracing::warn!(
                row = row.row, user = %row.user, provider = %row.provider, code = %code,
                "reset {}: {}", row.status.as_str(), row.error_message.as_deref().unwrap_or("")
            );
        }
        if *n == SHOWN {
            tracing::warn!(provider = %row.provider, code = %code, "further rows failing with {code} at {} are counted, not logged (report.csv has each)", row.provider);
        }
    }

    /// One line per failure that was counted beyond the logged ones.
    pub fn close(&self) {
        for ((provider, code), n) in &self.seen {
            if *n > SHOWN {
                tracing::warn!(provider = %provider, code = %code, "{n} rows in all failed with {code} at {provider} (see report.csv)");
            }
        }
    }
}

/// The canary's rows and which of them did not succeed.
#[derive(Debug)]
pub struct CanaryWatch {
    waiting: BTreeMap<u64, (String, String)>,
    misses: Vec<CanaryMiss>,
}

impl CanaryWatch {
    pub fn new(canary: &[Target]) -> CanaryWatch {
        CanaryWatch {
            waiting: canary
                .iter()
                .map(|t| (t.row, (t.user.clone(), t.provider.clone())))
                .collect(),
            misses: Vec::new(),
        }
    }

    pub fn saw(&mut self, row: &ReportRow) {
        if self.waiting.remove(&row.row).is_none() || row.status == Status::Succeeded {
            return;
        }
        let code = match (row.http_status, &row.error_code) {
            (Some(s), Some(c)) => format!(" {s} {c}"),
            (None, Some(c)) => format!(" {c}"),
            _ => String::new(),
        };
        self.misses.push(CanaryMiss {
            row: row.row,
            user: row.user.clone(),
            provider: row.provider.clone(),
            what: format!("{}{code}", row.status.as_str()),
        });
    }

    /// `None` when every canary row succeeded; else the rows that did not (or never finished).
    pub fn misses(mut self) -> Option<Vec<CanaryMiss>> {
        for (row, (user, provider)) in std::mem::take(&mut self.waiting) {
            self.misses.push(CanaryMiss {
                row,
                user,
                provider,
                what: "no outcome".into(),
            });
        }
        self.misses.sort_by_key(|m| m.row);
        let rows: BTreeSet<u64> = self.misses.iter().map(|m| m.row).collect();
        (!rows.is_empty()).then_some(self.misses)
    }
}
