//! One process's share of a journaled run (the first `run`, or a `resume`): drive the pipeline
//! under signal handling, close the journal, and derive report, summary and export from it.
//!
//! Invariants: the lock is held for the whole session; the journal gets an `end` record and is
//! closed (nothing appended after it) before the artefacts are rebuilt; the run key is removed
//! only once the run is complete and the export holding every password is in place.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::signals::{self, Signals};
use super::{Exit, Fatal, RuntimeContext};
use crate::journal::{self, EndReason, EndRecord, Opener, Record, RunKey, RunLock};
use crate::manifest::{Problem, Target};
use crate::metrics::MetricsFile;
use crate::outcome::{timestamp, RowResult, Status};
use crate::pipeline::{self, Journal, Lane, Settings};
use crate::progress::{Progress, ProgressMode};
use crate::report::rebuild::rebuild;
use crate::report::Summary;

/// What a finished run left behind.
#[derive(Debug)]
pub struct Finished {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    pub export: Option<PathBuf>,
    pub exit: Exit,
}

/// Everything a session needs, prepared and checked by `run` or `resume`.
pub struct Session {
    pub dir: PathBuf,
    pub lock: RunLock,
    /// Reads the run's sealed passwords back (the run key, or an operator's identity).
    pub opener: Opener,
    pub journal: Journal,
    pub lanes: Vec<Lane>,
    pub settings: Settings,
    pub rows: Box<dyn Iterator<Item = Result<Target, Problem>> + Send>,
    /// Rows this session will process (for the progress bar).
    pub todo: u64,
    pub progress: ProgressMode,
    pub grace: Duration,
    /// `--metrics-file`: where to keep the Prometheus figures.
    pub metrics: Option<PathBuf>,
}

/// Runs the session to its end (or interruption) and rebuilds the artefacts.
pub async fn drive(s: Session) -> Result<Finished, Fatal> {
    let mut signals = Signals::install().runtime()?;
    let (journal, stop, grace) = (s.journal.clone(), s.settings.stop.clone(), s.grace);
    let mut progress = Progress::new(s.todo, s.progress);
    let pacing = pipeline::PaceWatch::of(&s.lanes);
    let mut interrupted = None;
    let mut warnings = super::row_warnings::RowWarnings::default();
    let metrics = s.metrics.map(|path| MetricsFile::start(path, s.todo));
    let outcome = {
        let sink = |r: RowResult| {
            if let Some(m) = &metrics {
                m.row(&r);
            }
            collect(&journal, &mut progress, &mut warnings, r)
        };
        let pipeline = pipeline::execute(s.rows, s.lanes, s.settings, sink);
        tokio::pin!(pipeline);
        tokio::select! {
            r = &mut pipeline => r,
            sig = signals.next() => {
                interrupted = Some(sig);
                stop.request();
                tracing::warn!("{}: taking no new rows; waiting up to {} for requests in flight (signal again to abort now)",
                    signals::name(sig), humantime::format_duration(grace));
                tokio::select! {
                    r = &mut pipeline => r,
                    _ = tokio::time::sleep(grace) => { tracing::warn!("grace period over: aborting"); Ok(()) }
                    _ = signals.next() => { tracing::warn!("second signal: aborting now"); Ok(()) }
                }
            }
        }
    };
    progress.finish();
    warnings.finish();
    let reason = match (interrupted, &outcome) {
        (Some(_), _) => EndReason::Interrupted,
        (None, Ok(())) => EndReason::Completed,
        (None, Err(_)) => EndReason::Aborted,
    };
    close_journal(&s.journal, reason).await.runtime()?;
    let finished = finish(&s.dir, &s.opener, interrupted, &pacing);
    drop(s.lock);
    let result = match outcome {
        Err(e) => Err(Fatal::from(e)),
        Ok(()) => finished,
    };
    if let Some(m) = metrics {
        m.finish(match &result {
            Ok(f) => f.exit.code(),
            Err(f) => f.exit.code(),
        });
    }
    result
}

/// The collector: journal the row's final outcome, show progress, log a failure (once per
/// cause).
fn collect(
    journal: &Journal,
    progress: &mut Progress,
    warnings: &mut super::row_warnings::RowWarnings,
    r: RowResult,
) -> Result<()> {
    journal.finish(&r)?;
    let row = &r.report;
    progress.row_done(matches!(row.status, Status::Failed | Status::Uncertain));
    warnings.row(row);
    Ok(())
}

async fn close_journal(journal: &Journal, reason: EndReason) -> Result<()> {
    let end = EndRecord {
        session: journal.session,
        at: timestamp(SystemTime::now()),
        reason,
    };
    journal.writer.record(Record::End(end))?;
    journal.writer.clone().close().await
}

/// Adds this session's pacing figures to the summary and its `summary.json`.
fn with_pacing(
    summary: &mut crate::report::Summary,
    dir: &Path,
    pacing: &[pipeline::PaceWatch],
) -> Result<(), Fatal> {
    summary.pacing = pacing
        .iter()
        .map(|w| (w.lane.clone(), w.figures()))
        .collect();
    let json = serde_json::to_vec_pretty(summary).runtime()?;
    crate::report::write_atomic(dir.join(crate::report::SUMMARY_JSON), &json).runtime()?;
    Ok(())
}

/// Rebuilds the artefacts from the journal; removes the run key once the run is complete.
/// The run key goes last: a process killed before that finds a run `resume` can still open.
fn finish(
    dir: &Path,
    opener: &Opener,
    interrupted: Option<i32>,
    pacing: &[pipeline::PaceWatch],
) -> Result<Finished, Fatal> {
    let contents = journal::read_journal(dir).runtime()?;
    let mut rebuilt = rebuild(dir, &contents, Some(opener)).runtime()?;
    with_pacing(&mut rebuilt.summary, dir, pacing)?;
    if rebuilt.complete {
        RunKey::remove(dir).runtime()?;
    }
    let exit = match interrupted {
        Some(sig) => Exit::Interrupted(sig),
        None if rebuilt.complete && rebuilt.summary.all_done() => Exit::Success,
        None => Exit::RowsFailed,
    };
    Ok(Finished {
        summary: rebuilt.summary,
        files: rebuilt.files,
        export: rebuilt.export,
        exit,
    })
}
