//! The pipeline: one feeder, a lane of workers per provider, one collector.
//!
//! ```text
//! manifest rows ──feeder──▶ lane "graph": 2N workers (gate → pacer → intent → slot → provider → retry) ─┐
//!                      └──▶ lane "ping":  2M workers ...                                                 ├─▶ collector (sink)
//! ```
//! (N slots: at most `concurrency` requests per provider at once, see [`wire`].)
//! Invariants: rows go to the lane of their provider; each lane has its own rate, burst,
//! concurrency and Retry-After gate, so a 429 from one provider pauses only that provider; the
//! sink sees every row exactly once, in completion order; per-row failures are data, never errors.

pub mod backoff;
pub mod breaker;
pub mod followup;
pub mod gate;
pub mod halt;
pub mod journaling;
pub mod learn;
pub mod limiter;
pub mod retry;
pub mod wire;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use tokio::sync::{mpsc, Mutex};

use crate::manifest::{Problem, Target};
use crate::outcome::{timestamp, ReportRow, RowResult, Status};
use crate::password::{Generate, Generator};
use crate::provider::Provider;

pub use backoff::Backoff;
pub use breaker::{Breaker, BreakerSettings};
pub use gate::Gate;
pub use halt::{CanaryMiss, Halt, Halted};
pub use journaling::Journal;
pub use limiter::Pacer;
pub use wire::Wire;

/// One provider's share of the run (a clone shares its pacer, gate and breaker).
#[derive(Debug, Clone)]
pub struct Lane {
    pub name: String,
    pub provider: Provider,
    /// Shared so the session can read the pacing figures after the run.
    pub pacer: Arc<Pacer>,
    pub gate: Arc<Gate>,
    pub concurrency: usize,
    /// At most `concurrency` requests at once; the lane runs more rows than that (see [`wire`]).
    pub wire: Arc<Wire>,
    pub generate: Generate,
    /// Trips on a run of 401/403 answers or too many failures (see [`breaker`]).
    pub breaker: Arc<Breaker>,
}

/// Reads a lane's pacing figures (429s, time paused, learned rate) during and after a run.
#[derive(Debug, Clone)]
pub struct PaceWatch {
    pub lane: String,
    pacer: Arc<Pacer>,
    gate: Arc<Gate>,
}

impl PaceWatch {
    pub fn of(lanes: &[Lane]) -> Vec<PaceWatch> {
        lanes
            .iter()
            .map(|l| PaceWatch {
                lane: l.name.clone(),
                pacer: l.pacer.clone(),
                gate: l.gate.clone(),
            })
            .collect()
    }

    pub fn figures(&self) -> crate::report::summary::Pacing {
        crate::report::summary::Pacing {
            throttled: self.pacer.throttled(),
            paused_seconds: self.gate.paused().as_secs_f64(),
            learned_rate: self.pacer.learned_rate(),
        }
    }

    /// Every lane's figures, by provider.
    pub fn all(watches: &[PaceWatch]) -> BTreeMap<String, crate::report::summary::Pacing> {
        watches
            .iter()
            .map(|w| (w.lane.clone(), w.figures()))
            .collect()
    }
}

/// Run-wide settings the workers need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backoff: Backoff,
    /// Generates the passwords of rows that bring none (built once from the run's policy).
    pub passwords: Generator,
    pub dry_run: bool,
    /// The write-ahead journal (absent only for dry runs, which send nothing).
    pub journal: Option<Journal>,
    /// Set to stop taking new rows (signals, journal failure, breaker, canary).
    pub stop: Stop,
    /// Why the run stopped early on purpose (breaker, canary): exit 3.
    pub halt: Halt,
    /// Test hook (`CREDROTATE_TEST_PANIC_ROW`): panic while processing this row.
    pub test_panic_row: Option<u64>,
}

/// The run's stop switch: set by a signal or a fatal journal error. Once set, workers take no
/// further rows, requests waiting for their pacing slot or backoff are not sent, and only
/// requests already on the wire finish.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<StopState>);

#[derive(Debug, Default)]
struct StopState {
    requested: AtomicBool,
    wake: tokio::sync::Notify,
}

impl Stop {
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }

    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is requested.
    pub async fn requested_wait(&self) {
        loop {
            let woken = self.0.wake.notified();
            tokio::pin!(woken);
            // Registered before the check, so a request between the two is not missed.
            woken.as_mut().enable();
            if self.requested() {
                return;
            }
            woken.await;
        }
    }

    /// Sleeps for `wait`, or less if a stop is requested meanwhile. True when stopped.
    pub async fn sleep(&self, wait: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => self.requested(),
            _ = self.requested_wait() => true,
        }
    }
}

pub async fn execute<I, S>(
    rows: I,
    lanes: Vec<Lane>,
    settings: Settings,
    sink: S,
) -> Result<(), PipelineError>
where
    I: Iterator<Item = Result<Target, Problem>> + Send + 'static,
    S: FnMut(RowResult) -> Result<()>,
{
    run_rows(rows, lanes, settings, sink)
        .await
        .map_err(PipelineError)
}

/// A failure of the pipeline itself (a journal write, a worker task, the manifest reader) after
/// requests may have been sent: the run ends with exit 1 and stays resumable.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct PipelineError(anyhow::Error);

impl crate::exit_class::Classified for PipelineError {
    fn exit_class(&self) -> crate::exit_class::ExitClass {
        crate::exit_class::ExitClass::Runtime
    }
}

async fn run_rows<I, S>(rows: I, lanes: Vec<Lane>, settings: Settings, mut sink: S) -> Result<()>
where
    I: Iterator<Item = Result<Target, Problem>> + Send + 'static,
    S: FnMut(RowResult) -> Result<()>,
{
    let stop = settings.stop.clone();
    let settings = Arc::new(settings);
    let (result_tx, mut result_rx) = mpsc::channel::<RowResult>(1024);
    let mut senders = BTreeMap::new();
    let mut workers = tokio::task::JoinSet::new();
    for lane in lanes {
        let (tx, rx) = mpsc::channel::<Target>(lane.concurrency * 2);
        senders.insert(lane.name.clone(), tx);
        spawn_workers(&mut workers, Arc::new(lane), &settings, rx, &result_tx);
    }
    drop(result_tx);
    let feeder = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || feed(rows, senders, stop)
    });
    let mut sink_error = None;
    while let Some(batch) = collect_batch(&mut result_rx).await {
        for result in batch {
            if sink_error.is_none() {
                if let Err(e) = sink(result) {
                    stop.request();
                    sink_error = Some(e);
                }
            }
        }
    }
    while let Some(w) = workers.join_next().await {
        w.map_err(|e| anyhow!("worker task failed: {e}"))?;
    }
    let fed = feeder
        .await
        .map_err(|e| anyhow!("manifest reader failed: {e}"))?;
    match sink_error {
        Some(e) => Err(e),
        None => fed,
    }
}

/// While results come faster than this, the collector takes them in batches once per period
/// instead of being woken for each (a wake-up of the collector's thread is a thread switch).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// The results ready now; when there are none, the next one (waiting for it). `None` once every
/// worker is done. After a batch of more than one, it first waits `COLLECT_EVERY` so that the
/// next batch gathers without waking the collector.
async fn collect_batch(rx: &mut mpsc::Receiver<RowResult>) -> Option<Vec<RowResult>> {
    let mut batch = Vec::new();
    while let Ok(r) = rx.try_recv() {
        batch.push(r);
    }
    if !batch.is_empty() {
        if batch.len() > 1 {
            tokio::time::sleep(COLLECT_EVERY).await;
        }
        return Some(batch);
    }
    rx.recv().await.map(|r| vec![r])
}

fn spawn_workers(
    workers: &mut tokio::task::JoinSet<()>,
    lane: Arc<Lane>,
    settings: &Arc<Settings>,
    rx: mpsc::Receiver<Target>,
    results: &mpsc::Sender<RowResult>,
) {
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..lane.concurrency * wire::ROWS_PER_SLOT {
        let (lane, settings, rx, results) =
            (lane.clone(), settings.clone(), rx.clone(), results.clone());
        workers.spawn(async move {
            while !settings.stop.requested() {
                let Some(target) = next_row(&rx, &settings.stop).await else {
                    break;
                };
                let Some(result) = run_isolated(&lane, &settings, target).await else {
                    continue; // stopped before its first request: the row stays pending
                };
                if results.send(result).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Processes a row in its own task so that a panic becomes a failed row, not a lost one.
/// The next row of the lane's queue, unless a stop comes first.
async fn next_row(rx: &Mutex<mpsc::Receiver<Target>>, stop: &Stop) -> Option<Target> {
    let mut rx = tokio::select! {
        rx = rx.lock() => rx,
        _ = stop.requested_wait() => return None,
    };
    tokio::select! {
        target = rx.recv() => target.filter(|_| !stop.requested()),
        _ = stop.requested_wait() => None,
    }
}

async fn run_isolated(
    lane: &Arc<Lane>,
    settings: &Arc<Settings>,
    target: Target,
) -> Option<RowResult> {
    let skeleton = ReportRow {
        row: target.row,
        user: target.user.clone(),
        method: target.method.clone(),
        provider: target.provider.clone(),
        status: Status::Failed,
        attempts: 0,
        http_status: None,
        error_code: Some("internal".into()),
        error_message: Some("internal error while processing this row (see logs)".into()),
        operation_id: None,
        request_id: None,
        started_at: timestamp(std::time::SystemTime::now()),
        finished_at: timestamp(std::time::SystemTime::now()),
        provider_result: None,
        revoke_sessions: None,
        client_request_id: None,
        delivery: None,
        kv_version: None,
    };
    let (lane, settings) = (lane.clone(), settings.clone());
    // Boxed: the row's state (6 KiB, mostly the HTTP exchange) is written once on the heap
    // instead of being copied in and out of the task's cell at spawn, completion and drop.
    let mut task = AbortOnDrop::<Option<RowResult>>(tokio::spawn(async move {
        Box::pin(worker::process(&lane, &settings, target)).await
    }));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(row = skeleton.row, "row processing failed: {e}");
            Some(RowResult {
                report: skeleton,
                password: None,
                throttled: 0,
                server_generated: false,
            })
        }
    }
}

/// Aborts the row's task when its worker is aborted, so an aborted run stops sending at once.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Rows a reader waiting on a full lane hands over at once: it is woken once per batch, not
/// once per row (a wake-up is a thread switch, and at tens of thousands of rows a second those
/// were a twentieth of the run's CPU).
const FEED_BATCH: usize = 32;

/// Routes manifest rows to their lanes until the manifest ends or a stop is requested.
///
/// A row goes to its lane's queue at once while the queue has room; when it is full, the lane's
/// next rows wait here until `FEED_BATCH` of them (at most the queue's size) fit together.
fn feed<I>(rows: I, senders: BTreeMap<String, mpsc::Sender<Target>>, stop: Stop) -> Result<()>
where
    I: Iterator<Item = Result<Target, Problem>>,
{
    let mut lanes: BTreeMap<String, Feed> = senders
        .into_iter()
        .map(|(name, tx)| (name, Feed::new(tx)))
        .collect();
    for row in rows {
        if stop.requested() {
            return Ok(());
        }
        let target = row.map_err(|p| {
            anyhow!("manifest changed while the run was reading it: {p} (hint: do not edit a manifest during a run; re-run to finish)")
        })?;
        let Some(lane) = lanes.get_mut(&target.provider) else {
            return Err(anyhow!(
                "row {}: provider {:?} has no lane",
                target.row,
                target.provider
            ));
        };
        if lane.offer(target) == Fed::Closed {
            return Ok(());
        }
    }
    for lane in lanes.values_mut() {
        if stop.requested() || lane.drain() == Fed::Closed {
            break;
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Fed {
    Open,
    /// The lane's workers are gone (the run stops): nothing more is queued.
    Closed,
}

/// One lane's queue, seen from the reader, and the rows waiting for room in it.
struct Feed {
    tx: mpsc::Sender<Target>,
    waiting: Vec<Target>,
    batch: usize,
}

impl Feed {
    fn new(tx: mpsc::Sender<Target>) -> Self {
        let batch = FEED_BATCH.min(tx.max_capacity()).max(1);
        Feed {
            tx,
            waiting: Vec::with_capacity(batch),
            batch,
        }
    }

    fn offer(&mut self, target: Target) -> Fed {
        self.waiting.push(target);
        let full = match self.tx.try_reserve_many(self.waiting.len()) {
            Ok(permits) => {
                hand_over(permits, &mut self.waiting);
                return Fed::Open;
            }
            Err(mpsc::error::TrySendError::Closed(())) => return Fed::Closed,
            Err(mpsc::error::TrySendError::Full(())) => self.waiting.len() >= self.batch,
        };
        match full {
            true => self.drain(),
            false => Fed::Open,
        }
    }

    /// Queues every waiting row, blocking until the lane has room for them.
    fn drain(&mut self) -> Fed {
        if self.waiting.is_empty() {
            return Fed::Open;
        }
        let reserved =
            tokio::runtime::Handle::current().block_on(self.tx.reserve_many(self.waiting.len()));
        match reserved {
            Ok(permits) => {
                hand_over(permits, &mut self.waiting);
                Fed::Open
            }
            Err(_) => Fed::Closed,
        }
    }
}

/// Queues the waiting rows, in order, into the slots reserved for them (one per row).
fn hand_over(permits: mpsc::PermitIterator<'_, Target>, waiting: &mut Vec<Target>) {
    permits.zip(waiting.drain(..)).for_each(|(p, t)| p.send(t));
}
