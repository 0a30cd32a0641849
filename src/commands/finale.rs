//! What a finished `run`, `resume` or `report` prints: the totals line, a table per provider on
//! stderr (succeeded, failed, uncertain, excluded, retried, throttled, duration, rate), the
//! files written, and what to do next (the `resume` command after exit 3 or an interruption).
//!
//! Invariants: built only from the summary (no secret); the table shows the same figures as
//! `summary.json`'s `by_provider`.

use std::fmt::Write as _;
use std::path::Path;

use super::session::Finished;
use super::Exit;
use crate::journal::KEY_FILE;
use crate::report;

pub fn print_summary(f: &Finished) {
    let t = &f.summary.totals;
    crate::say!(
        "credrotate: {} row(s): {} succeeded, {} failed, {} uncertain, {} excluded, {} dry-run; {} retries, {} throttled (429); {:.1}s, {:.1} resets/s{}",
        t.rows, t.succeeded, t.failed, t.uncertain, t.excluded, t.dry_run, t.retries, t.throttled,
        f.summary.duration_seconds, f.summary.achieved_rate, pacing_suffix(&f.summary)
    );
    for file in &f.files {
        crate::say!("  {}", file.display());
    }
    crate::logging::block("per-provider summary", &provider_table(&f.summary));
    let s = &f.summary;
    let dir = f
        .files
        .first()
        .and_then(|p| p.parent())
        .unwrap_or(Path::new("."));
    if f.exit == Exit::Aborted {
        crate::say!(
            "stopped (exit 3): {}; {}",
            s.stop_cause.as_deref().unwrap_or("stopped early"),
            finish_hint(dir).replace("finish with", "fix the cause, then finish with")
        );
    }
    if s.uncertain > 0 {
        crate::say!(
            "check {} row(s): the provider may have applied their new password; report.csv says why (status uncertain) and the export holds each one's candidate passwords",
            s.uncertain
        );
    }
    // Uncertain rows count as undelivered too; the line above already names them.
    let undelivered = s.totals.undelivered.saturating_sub(s.totals.uncertain);
    if undelivered > 0 {
        crate::say!(
            "undelivered: {undelivered} confirmed password(s) are not in the secret store; report.csv says why (delivery column) and the export holds them; deliver with: credrotate report --out {} --deliver",
            dir.display()
        );
    }
    if s.pending > 0 || s.uncertain > 0 {
        crate::say!(
            "unfinished: {} row(s) not yet attempted, {} uncertain; {}",
            s.pending,
            s.uncertain,
            finish_hint(dir)
        );
    }
}

/// `; pacing: graph: 3 throttled, paused 2.0s, learned 98.5/s` when any provider throttled.
fn pacing_suffix(summary: &report::Summary) -> String {
    if !summary.pacing.values().any(|p| p.throttled > 0) {
        return String::new();
    }
    let lanes: Vec<String> = summary.pacing.iter().map(|(n, p)| p.describe(n)).collect();
    format!("; pacing: {}", lanes.join(", "))
}

/// How to finish an unfinished run: `resume` needs the run key, or else an operator's key.
fn finish_hint(dir: &Path) -> String {
    let resume = format!("credrotate resume --out {} --yes", dir.display());
    if dir.join(KEY_FILE).exists() {
        format!("finish with: {resume}")
    } else {
        format!("the run key {KEY_FILE} is gone, so finish with: {resume} --identity KEY (KEY: a private key the export is encrypted to, an age identity file or an SSH key)")
    }
}

/// The per-provider table, one line per provider plus the failures by error code.
pub fn provider_table(s: &report::Summary) -> String {
    let mut out = format!(
        "{:<16} {:>9} {:>7} {:>9} {:>8} {:>7} {:>9} {:>9} {:>8}\n",
        "provider",
        "succeeded",
        "failed",
        "uncertain",
        "excluded",
        "retried",
        "throttled",
        "duration",
        "rate/s"
    );
    for (name, c) in &s.by_provider {
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>7} {:>9} {:>8} {:>7} {:>9} {:>8.1}s {:>8.1}",
            name,
            c.succeeded,
            c.failed,
            c.uncertain,
            c.excluded,
            c.retries,
            c.throttled,
            c.span_seconds,
            c.span_rate
        );
        for (code, n) in &c.failures_by_code {
            let _ = writeln!(out, "  {name}: {n} x {code}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ReportRow, Status};

    #[test]
    fn the_table_has_a_line_per_provider_and_failures_by_code() {
        let mut s = report::Summary::default();
        let row = |n: u64, status, code: Option<&str>| ReportRow {
            row: n,
            user: format!("u{n}"),
            method: String::new(),
            provider: "graph".into(),
            status,
            attempts: 1,
            http_status: code.map(|_| 401),
            error_code: code.map(str::to_owned),
            error_message: None,
            operation_id: None,
            request_id: None,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            finished_at: "2026-01-01T00:00:02.000Z".into(),
            provider_result: None,
            revoke_sessions: None,
            client_request_id: None,
            delivery: None,
            kv_version: None,
        };
        s.record(&row(1, Status::Succeeded, None), 0);
        s.record(
            &row(2, Status::Failed, Some("InvalidAuthenticationToken")),
            0,
        );
        s.record(&row(3, Status::Excluded, None), 0);
        let table = provider_table(&s);
        let line = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            ["graph", "1", "1", "0", "1", "0", "0", "2.0s", "0.5"],
            "{table}"
        );
        assert!(
            table.contains("graph: 1 x 401 InvalidAuthenticationToken"),
            "{table}"
        );
    }
}
