//! Report, summary and export derived from the journal alone (docs/DESIGN.md §4.4): what
//! `resume` writes when it stops, what `run` falls back to when it cannot finish the files it
//! streamed, and what `credrotate report` rebuilds at any time.
//!
//! Two passes over the journal, so memory does not hold whole records per row: the first builds
//! the compact per-row [`JournalState`] (64 bytes per row, pointing at journal lines; in a
//! temporary file in the run's folder for a large manifest, so memory stays flat);
//! the second reads the journal again and writes each row's report line where the state points
//! (its last final outcome, or its last intent for a row whose answer was lost), and opens only
//! the passwords the export needs.
//!
//! Invariants: one report line per journaled row, in the order the rows settled in the journal
//! (as a run streams them), with status `uncertain` exactly when the journal says the row is
//! uncertain; the export holds the confirmed password of every succeeded row and, for every
//! uncertain row, each of its distinct candidate passwords in order of appearance (state
//! `candidate`); rows never attempted appear in the summary as `pending`, not in the report.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::candidates::Candidates;
use super::{files, write_atomic, Destination, Export, ReportWriter, Summary, SUMMARY_JSON};
use crate::journal::{
    each_record, Binding, Header, JournalState, Offset, Opener, Record, RowState,
};
use crate::outcome::{ReportRow, Status};
use crate::secret::SecretString;

/// What a rebuild (or a streamed run) wrote.
#[derive(Debug)]
pub struct Rebuilt {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    /// The export, when an opener was available to write it.
    pub export: Option<PathBuf>,
    /// Every manifest row has a final, certain outcome.
    pub complete: bool,
}

impl Rebuilt {
    /// Writes `summary.json` (atomically) and lists it with the other files.
    pub fn write_summary(&mut self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.summary)?;
        self.files
            .push(write_atomic(dir.join(SUMMARY_JSON), &json)?);
        Ok(())
    }
}

/// The first pass: the journal's header and the state of every row.
pub fn scan_state(dir: &Path) -> Result<(Header, JournalState)> {
    let header = crate::journal::read_header_of(dir)?;
    let mut state = JournalState::spilling(header.manifest.rows, dir)?;
    each_record(dir, |at, rec| state.apply(at, &rec))?;
    Ok((header, state))
}

/// Rewrites report.csv/json and (with an opener) the export from the journal; the caller
/// writes the summary ([`Rebuilt::write_summary`]).
pub fn rebuild(dir: &Path, opener: Option<&Opener>) -> Result<Rebuilt> {
    files::remove_stale_temporaries(dir)?;
    let (header, state) = scan_state(dir)?;
    let mut pass = Pass {
        state: &state,
        report: ReportWriter::create(dir)?,
        summary: Summary::default(),
        export: match opener {
            Some(opener) => Some((Export::create(dir, destination(&header))?, opener)),
            None => None,
        },
        candidates: Candidates::default(),
        sink: header.run.config.sink.is_some().then_some(dir),
    };
    each_record(dir, |at, rec| pass.visit(at, &rec))?;
    // Excluded rows were never sent, so the journal has nothing of them: from the manifest.
    let left_out = super::excluded::journaled(&header.run, &header.manifest.sha256);
    for row in &left_out.excluded {
        pass.summary.record(row, 0);
        pass.report.write(row)?;
    }
    let mut files = pass.report.finish()?;
    let export = match pass.export {
        Some((out, _)) => Some(out.finish()?),
        None => None,
    };
    files.extend(export.clone());
    let mut summary = pass.summary;
    let counts = state.counts()?;
    summary.manifest_rows = header.manifest.rows;
    let left = counts.rows + left_out.excluded.len() as u64 + left_out.unselected;
    summary.pending = summary.manifest_rows.saturating_sub(left);
    summary.uncertain = counts.uncertain;
    summary.sessions = state.sessions;
    summary.pacing = state.pacing.clone();
    summary.shard = header.run.shard.map(|s| s.to_string());
    set_timing(&mut summary, &state);
    let complete = summary.pending == 0 && counts.uncertain == 0 && summary.totals.undelivered == 0;
    summary.run_state = match complete {
        true => super::summary::RunState::Complete,
        false => super::summary::RunState::Unfinished,
    };
    Ok(Rebuilt {
        summary,
        files,
        export,
        complete,
    })
}

/// Where the export goes, as the run was started.
pub fn destination(header: &Header) -> Destination<'_> {
    if header.run.export_plaintext {
        Destination::Plaintext
    } else {
        Destination::Encrypted(&header.recipients)
    }
}

/// The second pass over the journal.
struct Pass<'a> {
    state: &'a JournalState,
    report: ReportWriter,
    summary: Summary,
    export: Option<(Export, &'a Opener)>,
    candidates: Candidates,
    /// The run folder, when the run has a `[sink]` (the report gains delivery cells).
    sink: Option<&'a Path>,
}

impl Pass<'_> {
    fn visit(&mut self, at: Offset, rec: &Record) -> Result<()> {
        match rec {
            Record::Intent(i) => {
                let row = self.state.row(i.row)?;
                if row.report_at == 0 && row.intent_at == at {
                    let names = [i.user.as_str(), i.method.as_str(), i.provider.as_str()];
                    self.report_row(&row, interrupted(i.row, names))?;
                }
                if let Some(sealed) = &i.password {
                    let names = [i.user.as_str(), i.method.as_str(), i.provider.as_str()];
                    self.export(i.row, &row, at, names, sealed, i.binding())?;
                }
            }
            Record::Outcome(o) => {
                let row = self.state.row(o.row)?;
                if let (Some(report), true) = (&o.report, row.report_at == at) {
                    self.report_row(&row, report.clone())?;
                }
                if let Some(sealed) = &o.password {
                    let r = o.report.as_ref().ok_or_else(|| {
                        anyhow!("row {}: a server-generated password without its report line (hint: the journal is damaged)", o.row)
                    })?;
                    let names = [r.user.as_str(), r.method.as_str(), r.provider.as_str()];
                    self.export(o.row, &row, at, names, sealed, o.binding())?;
                }
            }
            Record::Header(_) | Record::Session(_) | Record::End(_) | Record::Delivery(_) => {}
        }
        Ok(())
    }

    /// Writes the row's report line as the whole journal settles it.
    fn report_row(&mut self, state: &RowState, mut row: ReportRow) -> Result<()> {
        // Over every session, so a resumed row shows all the requests it cost.
        row.attempts = row.attempts.max(state.attempts);
        // The journal as a whole decides: an earlier session's lost answer outweighs a refusal.
        if state.uncertain() {
            row.status = Status::Uncertain;
        }
        if let Some(dir) = self.sink {
            (row.delivery, row.kv_version) = crate::sink::report_cells(dir, state)?;
        }
        self.summary.record(&row, state.throttled);
        self.report.write(&row)
    }

    /// Exports the password on line `at` if it is the row's confirmed one or a new candidate.
    fn export(
        &mut self,
        n: u64,
        row: &RowState,
        at: Offset,
        names: [&str; 3],
        sealed: &str,
        binding: Binding,
    ) -> Result<()> {
        let Some((out, opener)) = &mut self.export else {
            return Ok(());
        };
        let confirmed = row.confirmed_at == at;
        if !confirmed && !row.uncertain() {
            return Ok(());
        }
        let password: SecretString = opener
            .open(sealed, binding)
            .with_context(|| format!("row {n}: cannot open a journaled password"))?;
        if confirmed {
            return out.write(names, &password, "confirmed");
        }
        if self.candidates.is_new(n, &password) {
            out.write(names, &password, "candidate")?;
        }
        Ok(())
    }
}

/// The report line of a row whose last request's answer was lost.
fn interrupted(row: u64, [user, method, provider]: [&str; 3]) -> ReportRow {
    ReportRow {
        row,
        user: user.to_owned(),
        method: method.to_owned(),
        provider: provider.to_owned(),
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
    }
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

/// Working time summed over sessions: from each session's start to its last record.
fn set_timing(summary: &mut Summary, state: &JournalState) {
    let seconds = |a: &str, b: &str| -> f64 {
        match (
            humantime::parse_rfc3339_weak(a),
            humantime::parse_rfc3339_weak(b),
        ) {
            (Ok(a), Ok(b)) => b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            _ => 0.0,
        }
    };
    let spans = &state.spans;
    let duration = spans.values().map(|(a, b)| seconds(a, b)).sum();
    let first = spans.values().next().map(|s| s.0.clone());
    let last = spans.values().next_back().map(|s| s.1.clone());
    summary.set_timing(
        first.unwrap_or_default(),
        last.unwrap_or_default(),
        duration,
    );
}
