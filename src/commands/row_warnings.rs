//! Warnings about rows that failed or are uncertain, once per root cause rather than once per
//! row: a revoked token or a missing directory role fails every row the same way, and 100,000
//! identical lines would bury everything else in the log.
//!
//! Invariants: the first row of each cause (provider, status, error code) is logged with its
//! message; later rows of that cause are logged at debug level only and counted; [`finish`]
//! logs each cause's count. Every row stays in report.csv whatever is logged. Messages are the
//! report's (already redacted).
//!
//! [`finish`]: RowWarnings::finish

use std::collections::BTreeMap;

use crate::outcome::{ReportRow, Status};

/// (provider, status, error code).
type Cause = (String, &'static str, String);

#[derive(Debug, Default)]
pub struct RowWarnings {
    causes: BTreeMap<Cause, u64>,
}

impl RowWarnings {
    /// Notes a row's final outcome; warns about the first failed or uncertain row of its cause.
    pub fn row(&mut self, row: &ReportRow) {
        if !matches!(row.status, Status::Failed | Status::Uncertain) {
            return;
        }
        let code = row.error_code.clone().unwrap_or_default();
        let cause = (row.provider.clone(), row.status.as_str(), code);
        let seen = self.causes.entry(cause).or_default();
        *seen += 1;
        let message = row.error_message.as_deref().unwrap_or("");
        let code = row.error_code.as_deref().unwrap_or("");
        if *seen == 1 {
            tracing::warn!(
                row = row.row, user = %row.user, provider = %row.provider, code,
                "reset {}: {message} (further rows {} the same way are counted, not logged: see report.csv)",
                row.status.as_str(), row.status.as_str()
            );
        } else {
            tracing::debug!(
                row = row.row, user = %row.user, provider = %row.provider, code,
                "reset {}: {message}", row.status.as_str()
            );
        }
    }

    /// Logs how many rows each cause had, for causes seen more than once.
    pub fn finish(&self) {
        for ((provider, status, code), rows) in &self.causes {
            if *rows > 1 {
                tracing::warn!(provider = %provider, code = %code, rows, "{rows} rows {status} with {}", describe(code));
            }
        }
    }

    #[cfg(test)]
    fn count(&self, provider: &str, status: &'static str, code: &str) -> u64 {
        let cause = (provider.to_owned(), status, code.to_owned());
        self.causes.get(&cause).copied().unwrap_or(0)
    }
}

fn describe(code: &str) -> String {
    if code.is_empty() {
        "no error code".into()
    } else {
        format!("error code {code}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(row: u64, provider: &str, code: &str) -> ReportRow {
        ReportRow {
            row,
            user: format!("u{row}"),
            method: String::new(),
            provider: provider.into(),
            status: Status::Failed,
            attempts: 1,
            http_status: Some(403),
            error_code: Some(code.into()),
            error_message: Some("Insufficient privileges".into()),
            operation_id: None,
            request_id: None,
            started_at: String::new(),
            finished_at: String::new(),
            provider_result: None,
            revoke_sessions: None,
            client_request_id: None,
        }
    }

    #[test]
    fn rows_are_grouped_by_provider_status_and_code() {
        let mut w = RowWarnings::default();
        for i in 0..5 {
            w.row(&failed(i, "graph", "Authorization_RequestDenied"));
        }
        w.row(&failed(9, "graph", "Request_ResourceNotFound"));
        w.row(&failed(10, "ping", "Authorization_RequestDenied"));
        assert_eq!(w.count("graph", "failed", "Authorization_RequestDenied"), 5);
        assert_eq!(w.count("graph", "failed", "Request_ResourceNotFound"), 1);
        assert_eq!(w.count("ping", "failed", "Authorization_RequestDenied"), 1);
    }

    #[test]
    fn succeeded_rows_are_not_counted() {
        let mut w = RowWarnings::default();
        let mut ok = failed(1, "graph", "");
        ok.status = Status::Succeeded;
        w.row(&ok);
        assert!(w.causes.is_empty());
    }
}
