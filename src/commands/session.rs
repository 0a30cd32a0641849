//! One process's share of a journaled run (the first `run`, or a `resume`): drive the pipeline
//! under signal handling, close the journal, and leave report, summary and export: streamed
//! during a first session ([`Live`]), rebuilt from the journal after a resume or an abort.
//!
//! Invariants: the lock is held for the whole session; the journal gets an `end` record and is
//! closed (nothing appended after it) before the artefacts are renamed into place or rebuilt;
//! the run key is removed only once the run is complete and the export holding every password
//! is in place; with a `[sink]`, confirmed rows are delivered by the session's delivery stage,
//! which ends (or, after a signal, is given the grace period) before the journal is closed, and
//! the artefacts are always rebuilt (a streamed row is written before its delivery ends, so only
//! the journal knows its delivery cells).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::failure_log::{CanaryWatch, FailureLog};
use super::selection::RowStream;
use super::signals::{self, Signals};
use super::{Exit, Fatal, RuntimeContext};
use crate::journal::{EndReason, EndRecord, Opener, Record, RunKey, RunLock};
use crate::manifest::Target;
use crate::metrics::MetricsFile;
use crate::outcome::{timestamp, RowResult, Status};
use crate::pipeline::{self, Journal, Lane, Settings};
use crate::progress::{Progress, ProgressMode};
use crate::report::live::Live;
use crate::report::rebuild::{rebuild, Rebuilt};
use crate::report::summary::RunState;
use crate::report::Summary;
use crate::sink::{Delivery, Job, Stage};

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
    /// `--canary`: rows sent first, all of which must succeed before `rows` are sent.
    pub canary: Vec<Target>,
    pub rows: RowStream,
    /// Rows this session will process (for the progress bar).
    pub todo: u64,
    pub progress: ProgressMode,
    pub grace: Duration,
    /// The streamed report and export (the first session of a run); `None`: rebuild at the end.
    pub live: Option<Live>,
    /// `--metrics-file`: where to keep the Prometheus figures.
    pub metrics: Option<PathBuf>,
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
    let halt = s.settings.halt.clone();
    let mut interrupted = None;
    let mut aborted = false;
    let mut stage = s.delivery.take().map(|(delivery, pending)| {
        let stage = Stage::start(delivery, journal.writer.clone(), stop.clone());
        pending.into_iter().for_each(|job| stage.send(job));
        stage
    });
    // With a sink the report is rebuilt at the end (see the module docs).
    let mut live = s.live.take().filter(|_| stage.is_none());
    let mut log = FailureLog::default();
    let metrics = s.metrics.map(|path| MetricsFile::start(path, s.todo));
    let outcome = {
        let mut sink = |r: RowResult| {
            if let Some(m) = &metrics {
                m.row(&r);
            }
            collect(
                &journal,
                &mut progress,
                &mut log,
                live.as_mut(),
                stage.as_ref(),
                r,
            )
        };
        let pipeline = phases(s.canary, s.rows, s.lanes, s.settings, &mut sink);
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
                    _ = tokio::time::sleep(grace) => { tracing::warn!("grace period over: aborting"); aborted = true; Ok(()) }
                    _ = signals.next() => { tracing::warn!("second signal: aborting now"); aborted = true; Ok(()) }
                }
            }
        }
    };
    progress.finish();
    log.close();
    let delivered = match stage.as_mut() {
        Some(stage) => finish_deliveries(stage, &mut signals, &mut interrupted, &stop, grace).await,
        None => Ok(()),
    };
    let halted = halt.get();
    let reason = match (interrupted, &outcome, &halted, &delivered) {
        (Some(_), _, _, _) => EndReason::Interrupted,
        (None, Ok(()), None, Ok(())) => EndReason::Completed,
        (None, _, _, _) => EndReason::Aborted,
    };
    close_journal(&s.journal, reason, &pacing).await.runtime()?;
    // Rows aborted in flight have intents but no result: only the journal knows them.
    let live = live.filter(|_| !aborted && outcome.is_ok());
    let finished = finish(&s.dir, &s.opener, live, interrupted, halted, &pacing);
    drop(s.lock);
    let result = match (outcome, delivered) {
        (Err(e), _) => Err(Fatal::from(e)),
        (Ok(()), Err(e)) => Err(e).runtime(),
        (Ok(()), Ok(())) => finished,
    };
    if let Some(m) = metrics {
        m.finish(match &result {
            Ok(f) => f.exit.code(),
            Err(f) => f.exit.code(),
        });
    }
    result
}

/// The canary phase (when there is one), then, if all its rows succeeded, the rest.
async fn phases<S>(
    canary: Vec<Target>,
    rows: RowStream,
    lanes: Vec<Lane>,
    settings: Settings,
    sink: &mut S,
) -> Result<(), pipeline::PipelineError>
where
    S: FnMut(RowResult) -> Result<()>,
{
    if !canary.is_empty() {
        let (stop, halt) = (settings.stop.clone(), settings.halt.clone());
        let mut watch = CanaryWatch::new(&canary);
        tracing::info!(
            rows = canary.len(),
            "canary: sending the first rows of each provider; the rest wait for their outcome"
        );
        let canary_sink = |r: RowResult| {
            watch.saw(&r.report);
            sink(r)
        };
        pipeline::execute(
            canary.into_iter().map(Ok),
            lanes.clone(),
            settings.clone(),
            canary_sink,
        )
        .await?;
        if stop.requested() {
            return Ok(());
        }
        if let Some(misses) = watch.misses() {
            halt.set(pipeline::Halted::Canary(misses), &stop);
            return Ok(());
        }
        tracing::info!("canary: every canary row succeeded; sending the rest");
    }
    pipeline::execute(rows, lanes, settings, sink).await
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

/// The collector: journal the row's final outcome, stream it, show progress, log a failure,
/// and queue a confirmed row's delivery.
fn collect(
    journal: &Journal,
    progress: &mut Progress,
    log: &mut FailureLog,
    live: Option<&mut Live>,
    stage: Option<&Stage>,
    r: RowResult,
) -> Result<()> {
    journal.finish(&r)?;
    if let Some(live) = live {
        live.row(&r);
    }
    let row = &r.report;
    let bad = matches!(row.status, Status::Failed | Status::Uncertain);
    progress.row_done(bad);
    if bad {
        log.failed(row);
    }
    if let Some(stage) = stage {
        stage.offer(journal.session, r);
    }
    Ok(())
}

async fn close_journal(
    journal: &Journal,
    reason: EndReason,
    pacing: &[pipeline::PaceWatch],
) -> Result<()> {
    let end = EndRecord {
        session: journal.session,
        at: timestamp(SystemTime::now()),
        reason,
        pacing: pipeline::PaceWatch::all(pacing),
    };
    journal.writer.record(Record::End(end))?;
    journal.writer.clone().close().await
}

/// Renames the streamed artefacts into place, or rebuilds them from the journal; adds this
/// session's pacing figures to the summary; removes the run key once the run is complete.
/// The run key goes last: a process killed before that finds a run `resume` can still open.
fn finish(
    dir: &Path,
    opener: &Opener,
    live: Option<Live>,
    interrupted: Option<i32>,
    halted: Option<pipeline::Halted>,
    pacing: &[pipeline::PaceWatch],
) -> Result<Finished, Fatal> {
    let streamed = match live {
        Some(live) => live.finish().runtime()?,
        None => None,
    };
    // A rebuild has every session's pacing from the journal's `end` records (this session's
    // included); streamed artefacts are the first session's, whose pacing is this one's.
    let mut rebuilt: Rebuilt = match streamed {
        Some(mut done) => {
            done.summary.pacing = pipeline::PaceWatch::all(pacing);
            done
        }
        None => rebuild(dir, Some(opener)).runtime()?,
    };
    let exit = match (interrupted, &halted) {
        (Some(sig), _) => Exit::Interrupted(sig),
        (None, Some(_)) => Exit::Aborted,
        (None, None) if rebuilt.complete && rebuilt.summary.all_done() => Exit::Success,
        (None, None) => Exit::RowsFailed,
    };
    let summary = &mut rebuilt.summary;
    summary.exit_code = Some(exit.code());
    summary.stop_cause = halted.as_ref().map(pipeline::Halted::describe);
    summary.run_state = match (&exit, &halted) {
        (Exit::Interrupted(_), _) => RunState::Interrupted,
        (_, Some(pipeline::Halted::Breaker(_))) => RunState::StoppedByBreaker,
        (_, Some(pipeline::Halted::Canary(_))) => RunState::StoppedByCanary,
        _ => summary.run_state,
    };
    rebuilt.write_summary(dir).runtime()?;
    if rebuilt.complete {
        RunKey::remove(dir).runtime()?;
    }
    Ok(Finished {
        summary: rebuilt.summary,
        files: rebuilt.files,
        export: rebuilt.export,
        exit,
    })
}
