//! Watching finished rows during a session: a failure log that does not drown the operator
//! (the first few rows of each provider and error are logged, the rest counted), and the canary's
//! tally of its own rows.
//!
//! Invariants: every failure is in the report whatever is logged; the log never shows more than
//! [`SHOWN`] lines per (provider, error) and ends with one line per error it stopped showing; the
//! canary counts only its own rows, so a row that was already queued cannot pass or fail it.

use std::collections::BTreeMap;

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
        (!self.misses.is_empty()).then_some(self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Location;

    fn target(row: u64) -> Target {
        Target {
            row,
            location: Location {
                file: std::sync::Arc::new("m.csv".into()),
                line: row + 1,
                column: None,
            },
            user: format!("u{row}"),
            provider: "graph".into(),
            method: String::new(),
            require_change: None,
            inputs: Default::default(),
            new_password: None,
        }
    }

    fn report(row: u64, status: Status) -> ReportRow {
        ReportRow {
            row,
            user: format!("u{row}"),
            method: String::new(),
            provider: "graph".into(),
            status,
            attempts: 1,
            http_status: Some(404),
            error_code: Some("Request_ResourceNotFound".into()),
            error_message: None,
            operation_id: None,
            request_id: None,
            started_at: String::new(),
            finished_at: String::new(),
            provider_result: None,
            revoke_sessions: None,
            client_request_id: None,
            delivery: None,
            kv_version: None,
        }
    }

    #[test]
    fn the_canary_counts_only_its_rows_and_names_those_that_did_not_succeed() {
        let mut watch = CanaryWatch::new(&[target(1), target(2), target(3)]);
        watch.saw(&report(1, Status::Succeeded));
        watch.saw(&report(9, Status::Failed)); // not a canary row
        watch.saw(&report(2, Status::Failed));
        let misses = watch.misses().expect("row 2 failed, row 3 never finished");
        let what: Vec<(u64, &str)> = misses.iter().map(|m| (m.row, m.what.as_str())).collect();
        assert_eq!(
            what,
            [
                (2, "failed 404 Request_ResourceNotFound"),
                (3, "no outcome")
            ]
        );
        let mut all_good = CanaryWatch::new(&[target(1)]);
        all_good.saw(&report(1, Status::Succeeded));
        assert!(all_good.misses().is_none());
    }
}
