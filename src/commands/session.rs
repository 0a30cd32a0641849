//! One process's share of a journaled run (the first `run`, or a `resume`): drive the pipeline
//! under signal handling, close the journal, and derive report, summary and export from it.
//!
//! Invariants: the lock is held for the whole session; the journal gets an `end` record and is
//! closed (nothing appended after it) before the artefacts are rebuilt; the run key is removed
//! only once the run is complete and the export holding every password is in place; with a
//! `[sink]`, confirmed rows are delivered by the session's delivery stage, which ends (or, after
//! a signal, is given the grace period) before the journal is closed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::signals::{self, Signals};
use super::{Exit, Fatal, RuntimeContext};
use crate::journal::{self, EndReason, EndRecord, Opener, Record, RunKey, RunLock};
use crate::manifest::{Problem, Target};
use crate::outcome::{timestamp, RowResult, Status};
use crate::pipeline::{self, Journal, Lane, Settings};
use crate::progress::{Progress, ProgressMode};
use crate::report::rebuild::rebuild;
use crate::report::Summary;
use crate::sink::{Delivery, Job, Stage};
use std::sync::Arc;

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
    /// The `[sink]` to deliver confirmed passwords to, and the rows an earlier session confirmed
    /// but did not deliver.
    pub delivery: Option<(Arc<Delivery>, Vec<Job>)>,
}

/// Runs the session to its end (or interruption) and rebuilds the artefacts.
pub async fn drive(mut s: Session) -> Result<Finished, Fatal> {
    let mut signals = Signals::install().runtime()?;
    let (journal, stop, grace) = (s.journal.clone(), s.settings.stop.clone(), s.grace);
    let mut progress = Progress::new(s.todo, s.progress);
    let pacing = pipeline::PaceWatch::of(&s.lanes);
    let mut interrupted = None;
    let mut stage = s.delivery.take().map(|(delivery, pending)| {
        let stage = Stage::start(delivery, journal.writer.clone(), stop.clone());
        pending.into_iter().for_each(|job| stage.send(job));
        stage
    });
    let outcome = {
        let sink = |r: RowResult| collect(&journal, &mut progress, stage.as_ref(), r);
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
    let delivered = match stage.as_mut() {
        Some(stage) => finish_deliveries(stage, &mut signals, &mut interrupted, &stop, grace).await,
        None => Ok(()),
    };
    let reason = match (interrupted, &outcome, &delivered) {
        (Some(_), _, _) => EndReason::Interrupted,
        (None, Ok(()), Ok(())) => EndReason::Completed,
        (None, _, _) => EndReason::Aborted,
    };
    close_journal(&s.journal, reason).await.runtime()?;
    let finished = finish(&s.dir, &s.opener, interrupted, &pacing);
    drop(s.lock);
    outcome?;
    delivered.runtime()?;
    finished
}

/// Waits for the delivery stage; a signal meanwhile stops it within the grace period (rows not
/// delivered by then stay pending for `resume`).
async fn finish_deliveries(
    stage: &mut Stage,
    signals: &mut Signals,
    interrupted: &mut Option<i32>,
    stop: &pipeline::Stop,
    grace: Duration,
) -> Result<()> {
    if interrupted.is_none() {
        tokio::select! {
            r = stage.finish() => return r,
            sig = signals.next() => {
                *interrupted = Some(sig);
                stop.request();
                tracing::warn!("{}: delivering no further passwords; waiting up to {} for deliveries in flight", signals::name(sig), humantime::format_duration(grace));
            }
        }
    }
    tokio::time::timeout(grace, stage.finish())
        .await
        .unwrap_or(Ok(()))
}

/// The collector: journal the row's final outcome, show progress, log a failure, and queue a
/// confirmed row's delivery.
fn collect(
    journal: &Journal,
    progress: &mut Progress,
    stage: Option<&Stage>,
    r: RowResult,
) -> Result<()> {
    journal.finish(&r)?;
    let row = &r.report;
    let bad = matches!(row.status, Status::Failed | Status::Uncertain);
    progress.row_done(bad);
    if bad {
        tracing::warn!(
            row = row.row, user = %row.user, provider = %row.provider,
            code = row.error_code.as_deref().unwrap_or(""),
            "reset {}: {}", row.status.as_str(), row.error_message.as_deref().unwrap_or("")
        );
    }
    if let Some(stage) = stage {
        stage.offer(journal.session, r);
    }
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
