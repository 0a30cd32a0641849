//! `--metrics-file PATH`: the run's figures in the Prometheus text exposition format, for
//! node_exporter's textfile collector (cron, systemd) or a sidecar that pushes them.
//!
//! Invariants:
//! - Built only from what the collector sees of each finished row (status, provider, attempts,
//!   429s, timestamps): the pipeline is not involved, and no user name or secret is a label
//!   (labels are provider names and statuses).
//! - Every metric is named `credrotate_*` and has `# HELP` and `# TYPE` lines; the file is
//!   replaced atomically ([`file`]), so a scraper never reads half of it.
//! - Counters only grow during a run; `credrotate_run_exit_code` and the end timestamp appear
//!   once the run has ended.

mod file;
mod histogram;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

pub use file::MetricsFile;
use histogram::Histogram;

use crate::outcome::RowResult;

/// What the metrics file shows, updated as rows finish.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    started: f64,
    planned: u64,
    /// (provider, status) → rows.
    rows: BTreeMap<(String, &'static str), u64>,
    retries: BTreeMap<String, u64>,
    throttled: BTreeMap<String, u64>,
    durations: BTreeMap<String, Histogram>,
    /// End time and exit code, once the run has ended.
    end: Option<(f64, u8)>,
}

impl RunMetrics {
    pub fn new(planned: u64) -> RunMetrics {
        RunMetrics {
            started: unix_seconds(SystemTime::now()),
            planned,
            rows: BTreeMap::new(),
            retries: BTreeMap::new(),
            throttled: BTreeMap::new(),
            durations: BTreeMap::new(),
            end: None,
        }
    }

    /// Counts one finished row.
    pub fn row(&mut self, r: &RowResult) {
        let row = &r.report;
        let provider = row.provider.clone();
        *self
            .rows
            .entry((provider.clone(), row.status.as_str()))
            .or_default() += 1;
        *self.retries.entry(provider.clone()).or_default() +=
            u64::from(row.attempts.saturating_sub(1));
        *self.throttled.entry(provider.clone()).or_default() += u64::from(r.throttled);
        if let Some(seconds) = seconds_between(&row.started_at, &row.finished_at) {
            self.durations.entry(provider).or_default().observe(seconds);
        }
    }

    /// Marks the run ended with `exit_code`.
    pub fn end(&mut self, exit_code: u8) {
        self.end = Some((unix_seconds(SystemTime::now()), exit_code));
    }

    /// The Prometheus text exposition of these figures.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            family(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(
            &mut out,
            "credrotate_run_start_timestamp_seconds",
            "Unix time the run (this session) started.",
            self.started,
        );
        gauge(
            &mut out,
            "credrotate_run_in_progress",
            "1 while the run is going, 0 once it ended.",
            f64::from(u8::from(self.end.is_none())),
        );
        gauge(
            &mut out,
            "credrotate_rows_planned",
            "Rows this session set out to process.",
            self.planned as f64,
        );
        if let Some((at, code)) = self.end {
            gauge(
                &mut out,
                "credrotate_run_end_timestamp_seconds",
                "Unix time the run ended.",
                at,
            );
            gauge(&mut out, "credrotate_run_exit_code", "The exit code (0 all succeeded, 1 rows failed or uncertain, 3 stopped, 130/143 interrupted).", f64::from(code));
        }
        family(&mut out, "credrotate_rows_total", "counter", "Rows finished, by provider and status (uncertain: the password may be in force; check them).");
        for ((provider, status), n) in &self.rows {
            let _ = writeln!(
                out,
                "credrotate_rows_total{{provider=\"{}\",status=\"{status}\"}} {n}",
                escape(provider)
            );
        }
        per_provider(
            &mut out,
            "credrotate_retries_total",
            "Requests beyond each row's first.",
            &self.retries,
        );
        per_provider(
            &mut out,
            "credrotate_throttled_total",
            "429 answers received.",
            &self.throttled,
        );
        family(
            &mut out,
            "credrotate_row_duration_seconds",
            "histogram",
            "Time from a row's first request to its final outcome, retries and waits included.",
        );
        for (provider, h) in &self.durations {
            h.render(
                &mut out,
                "credrotate_row_duration_seconds",
                &format!("provider=\"{}\"", escape(provider)),
            );
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn per_provider(out: &mut String, name: &str, help: &str, values: &BTreeMap<String, u64>) {
    family(out, name, "counter", help);
    for (provider, n) in values {
        let _ = writeln!(out, "{name}{{provider=\"{}\"}} {n}", escape(provider));
    }
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let start = humantime::parse_rfc3339_weak(start).ok()?;
    let end = humantime::parse_rfc3339_weak(end).ok()?;
    end.duration_since(start).ok().map(|d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_exit_code_appears_once_the_run_ended() {
        let mut m = RunMetrics::new(3);
        assert!(!m.render().contains("credrotate_run_exit_code"));
        m.end(1);
        let text = m.render();
        assert!(text.contains("credrotate_run_exit_code 1\n"), "{text}");
        assert!(text.contains("credrotate_run_in_progress 0\n"), "{text}");
    }

    #[test]
    fn durations_come_from_the_report_timestamps() {
        let d = seconds_between("2026-11-24T01:00:00.000Z", "2026-11-24T01:00:01.500Z");
        assert_eq!(d, Some(1.5));
        assert_eq!(seconds_between("", "2026-11-24T01:00:00Z"), None);
    }
}
