//! Report and export written while a run goes: each row's report line and exported password are
//! streamed into the (temporary) files as the row reaches its final state, and the files are
//! renamed into place when the session ends, so nothing is rebuilt from the journal afterwards.
//!
//! Used by the first session of a run only: a later session (resume) changes rows an earlier one
//! settled, so it rebuilds from the journal instead (`report::rebuild`), as does a run whose
//! pipeline was aborted with requests in flight (their rows have intents but no result).
//!
//! Invariants: a row is streamed only after its final outcome was queued to the journal, so the
//! journal knows everything the files hold; the same rules as the rebuild decide what is
//! exported (the confirmed password of a succeeded row, the candidate of an uncertain one); a
//! row that failed without a reported attempt (a worker that panicked, maybe after its intent
//! was written: only the journal knows its password) or a write error never stops the rotation: it is logged, the files are dropped (their temporary
//! names removed) and the session falls back to a rebuild; memory does not grow with the run.

use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Result;

use super::rebuild::{destination, Rebuilt};
use super::{excluded, Export, ReportWriter, Summary};
use crate::config::RunSpec;
use crate::journal::Header;
use crate::outcome::{timestamp, RowResult, Status};

/// The streamed files of a running session.
pub struct Live {
    files: Option<(ReportWriter, Export)>,
    summary: Summary,
    manifest_rows: u64,
    /// What the run leaves out on purpose (exclusions, `--retry-from`) is read at the end.
    run: RunSpec,
    manifest_sha256: String,
    started_at: String,
    clock: Instant,
}

impl Live {
    /// Starts the report and export of a run (under temporary names).
    pub fn create(dir: &Path, header: &Header) -> Result<Live> {
        let report = ReportWriter::create(dir)?;
        let export = Export::create(dir, destination(header))?;
        Ok(Live {
            files: Some((report, export)),
            summary: Summary::default(),
            manifest_rows: header.manifest.rows,
            run: header.run.clone(),
            manifest_sha256: header.manifest.sha256.clone(),
            started_at: timestamp(SystemTime::now()),
            clock: Instant::now(),
        })
    }

    /// Streams one finished row; on a write error, gives the files up (see the invariants).
    pub fn row(&mut self, r: &RowResult) {
        let Some((report, export)) = &mut self.files else {
            return;
        };
        if r.report.status == Status::Failed && r.report.attempts == 0 {
            tracing::info!(
                row = r.report.row,
                "a row ended without a settled attempt; report and export will be rebuilt from the journal"
            );
            self.files = None;
            return;
        }
        let written = report.write(&r.report).and_then(|()| {
            let Some(password) = &r.password else {
                return Ok(());
            };
            let state = match r.report.status {
                Status::Succeeded => "confirmed",
                _ => "candidate",
            };
            let row = &r.report;
            let names = [
                row.user.as_str(),
                row.method.as_str(),
                row.provider.as_str(),
            ];
            export.write(names, password, state)
        });
        match written {
            Ok(()) => self.summary.record(&r.report, r.throttled),
            Err(e) => {
                tracing::warn!("cannot stream the report or export ({e:#}); they will be rebuilt from the journal at the end");
                self.files = None;
            }
        }
    }

    /// Renames the streamed files into place; `None` if they were given up.
    pub fn finish(self) -> Result<Option<Rebuilt>> {
        let Some((mut report, export)) = self.files else {
            return Ok(None);
        };
        let mut summary = self.summary;
        let left_out = excluded::journaled(&self.run, &self.manifest_sha256);
        for row in &left_out.excluded {
            summary.record(row, 0);
            report.write(row)?;
        }
        let mut files = report.finish()?;
        let export = export.finish()?;
        files.push(export.clone());
        let t = &summary.totals;
        let uncertain = t.uncertain;
        let settled = t.rows + left_out.unselected;
        let complete = settled == self.manifest_rows && uncertain == 0;
        summary.manifest_rows = self.manifest_rows;
        summary.pending = self.manifest_rows.saturating_sub(settled);
        summary.uncertain = uncertain;
        summary.run_state = match complete {
            true => super::summary::RunState::Complete,
            false => super::summary::RunState::Unfinished,
        };
        summary.sessions = 1;
        summary.shard = self.run.shard.map(|s| s.to_string());
        let duration = self.clock.elapsed().as_secs_f64();
        summary.set_timing(self.started_at, timestamp(SystemTime::now()), duration);
        Ok(Some(Rebuilt {
            summary,
            files,
            export: Some(export),
            complete,
        }))
    }
}
