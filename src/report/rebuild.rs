//! Report, summary and export derived from the journal alone (docs/DESIGN.md §4.4): what `run` and
//! `resume` write when they stop, and what `credrotate report` rebuilds at any time.
//!
//! Invariants: one report line per journaled row, in row order, with status `uncertain` exactly
//! when the journal says the row is uncertain; the export holds the confirmed password of every
//! succeeded row and, for every uncertain row, all of its candidate passwords (state
//! `candidate`); rows never attempted appear in the summary as `pending`, not in the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{write_atomic, Destination, Export, ReportWriter, Summary, SUMMARY_JSON};
use crate::journal::{JournalContents, JournalState, Opener, Record, RowState};
use crate::outcome::{ReportRow, Status};

/// What a rebuild wrote.
#[derive(Debug)]
pub struct Rebuilt {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    /// The export, when an opener was available to write it.
    pub export: Option<PathBuf>,
    /// Every manifest row has a final, certain outcome.
    pub complete: bool,
}

/// Rewrites report.csv/json, summary.json and (with an opener) the export from the journal.
pub fn rebuild(dir: &Path, contents: &JournalContents, opener: Option<&Opener>) -> Result<Rebuilt> {
    let state = JournalState::from(contents);
    let sink = contents.header.run.config.sink.is_some();
    let rows: Vec<(ReportRow, u32)> = state
        .rows
        .values()
        .map(|r| with_delivery(report_row(r), r, sink))
        .collect();
    let (mut files, mut summary) = write_report(dir, &rows)?;
    let export = match opener {
        Some(opener) => Some(write_export(dir, contents, &state, opener)?),
        None => None,
    };
    files.extend(export.clone());
    let counts = state.counts();
    summary.manifest_rows = contents.header.manifest.rows;
    summary.pending = summary.manifest_rows.saturating_sub(counts.rows);
    summary.uncertain = counts.uncertain;
    summary.sessions = state.sessions;
    set_timing(&mut summary, contents);
    files.push(write_atomic(
        dir.join(SUMMARY_JSON),
        &serde_json::to_vec_pretty(&summary)?,
    )?);
    let complete = summary.pending == 0 && counts.uncertain == 0 && summary.totals.undelivered == 0;
    Ok(Rebuilt {
        summary,
        files,
        export,
        complete,
    })
}

/// Writes report.csv/json from rows (each with its 429 count) and tallies them into a summary.
pub fn write_report(dir: &Path, rows: &[(ReportRow, u32)]) -> Result<(Vec<PathBuf>, Summary)> {
    let mut report = ReportWriter::create(dir)?;
    let mut summary = Summary::default();
    for (row, throttled) in rows {
        report.write(row)?;
        summary.record(row, *throttled);
    }
    Ok((report.finish()?, summary))
}

/// The row's report line: its last final outcome, or an "interrupted" line while none exists.
fn report_row(state: &RowState) -> (ReportRow, u32) {
    let mut row = state.report.clone().unwrap_or_else(|| ReportRow {
        row: state.row,
        user: state.user.clone(),
        method: state.method.clone(),
        provider: state.provider.clone(),
        status: Status::Uncertain,
        attempts: 0,
        http_status: None,
        error_code: Some("interrupted".into()),
        error_message: Some(
            "the run stopped while this row was in flight; `credrotate resume` resets it again (the export keeps its candidate passwords)".into(),
        ),
        operation_id: None,
        request_id: None,
        started_at: String::new(),
        finished_at: String::new(),
        provider_result: None,
        revoke_sessions: None,
        client_request_id: None,
        delivery: None,
        kv_version: None,
    });
    // Over every session, so a resumed row shows all the requests it cost.
    row.attempts = row.attempts.max(state.attempts);
    // The journal as a whole decides: an earlier session's lost answer outweighs a later refusal.
    if state.uncertain() {
        row.status = Status::Uncertain;
    }
    (row, state.throttled)
}

/// Adds the `[sink]` delivery cells when the run has a sink.
fn with_delivery(mut line: (ReportRow, u32), state: &RowState, sink: bool) -> (ReportRow, u32) {
    if sink {
        (line.0.delivery, line.0.kv_version) = crate::sink::report_cells(state);
    }
    line
}

fn write_export(
    dir: &Path,
    contents: &JournalContents,
    state: &JournalState,
    opener: &Opener,
) -> Result<PathBuf> {
    let header = &contents.header;
    let to = if header.run.export_plaintext {
        Destination::Plaintext
    } else {
        Destination::Encrypted(&header.recipients)
    };
    let mut out = Export::create(dir, to)?;
    for row in state.rows.values() {
        let names = [
            row.user.as_str(),
            row.method.as_str(),
            row.provider.as_str(),
        ];
        let open = |sealed: &str| {
            opener
                .open(sealed)
                .with_context(|| format!("row {}: cannot open a journaled password", row.row))
        };
        if let Some(sealed) = row.confirmed_password() {
            out.write(names, &open(sealed)?, "confirmed")?;
        } else if row.uncertain() {
            for sealed in &row.candidates {
                out.write(names, &open(sealed)?, "candidate")?;
            }
        }
    }
    out.finish()
}

/// Working time summed over sessions: from each session's start to its last record.
fn set_timing(summary: &mut Summary, contents: &JournalContents) {
    let mut spans: std::collections::BTreeMap<u32, (String, String)> = Default::default();
    for rec in &contents.records {
        let (session, at) = match rec {
            Record::Session(s) => (s.session, &s.started_at),
            Record::Intent(i) => (i.session, &i.at),
            Record::Outcome(o) => (o.session, &o.at),
            Record::End(e) => (e.session, &e.at),
            Record::Header(_) | Record::Delivery(_) => continue,
        };
        let span = spans
            .entry(session)
            .or_insert_with(|| (at.clone(), at.clone()));
        span.1.clone_from(at);
    }
    let seconds = |a: &str, b: &str| -> f64 {
        match (
            humantime::parse_rfc3339_weak(a),
            humantime::parse_rfc3339_weak(b),
        ) {
            (Ok(a), Ok(b)) => b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            _ => 0.0,
        }
    };
    let duration = spans.values().map(|(a, b)| seconds(a, b)).sum();
    let first = spans
        .values()
        .next()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let last = spans
        .values()
        .next_back()
        .map(|s| s.1.clone())
        .unwrap_or_default();
    summary.set_timing(first, last, duration);
}
