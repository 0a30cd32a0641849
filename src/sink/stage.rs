//! The delivery stage of a session: confirmed rows queue here after their outcome was
//! journaled; a few workers deliver them and journal each result.
//!
//! Invariants: a row is delivered only once its `succeeded` outcome is durable (the journal is
//! flushed first), so a crash between confirmation and delivery leaves a row `resume` and
//! `report --deliver` find pending, never a delivery of a reset the journal does not know;
//! every ended delivery gets a durable `delivery` record (delivered with its KV version, or
//! undelivered with the reason); after a stop, queued rows are left pending, not failed.
//! Test hook `CREDROTATE_TEST_DELIVERY_STALL=before|after`: stall before the first request, or
//! after the write and before its record (the crash tests kill the process there).

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{anyhow, Result};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

use super::deliver::{Job, Outcome};
use super::Delivery;
use crate::journal::{DeliveryRecord, JournalWriter, Record};
use crate::outcome::{timestamp, DeliveryState, RowResult, Status};
use crate::pipeline::Stop;
use crate::secret::redact_and_truncate;

/// A running delivery stage.
pub struct Stage {
    tx: Option<mpsc::UnboundedSender<Job>>,
    workers: JoinSet<Result<()>>,
}

impl Stage {
    /// Starts the stage's workers; they journal through `writer` and stop with `stop`.
    pub fn start(delivery: Arc<Delivery>, writer: JournalWriter, stop: Stop) -> Stage {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = JoinSet::new();
        for _ in 0..delivery.spec.concurrency {
            let (d, w, s, rx) = (delivery.clone(), writer.clone(), stop.clone(), rx.clone());
            workers.spawn(async move { work(&d, &w, &s, &rx).await });
        }
        Stage {
            tx: Some(tx),
            workers,
        }
    }

    /// Queues a delivery.
    pub fn send(&self, job: Job) {
        // Workers end only after `finish` dropped the sender (or a stop): then the row stays
        // pending, which is what a stop means.
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }

    /// Queues the row of a collected result if its reset was confirmed in session `session`.
    pub fn offer(&self, session: u32, r: RowResult) {
        let (report, Some(password)) = (r.report, r.password) else {
            return;
        };
        if report.status != Status::Succeeded {
            return;
        }
        self.send(Job {
            row: report.row,
            reset: (session, report.attempts),
            user: report.user,
            provider: report.provider,
            method: report.method,
            rotated_at: report.finished_at,
            password,
        });
    }

    /// Waits until every queued delivery ended (or, after a stop, was left pending). Cancel
    /// safe: it can be called again after its future was dropped.
    pub async fn finish(&mut self) -> Result<()> {
        self.tx = None;
        let mut first = Ok(());
        while let Some(done) = self.workers.join_next().await {
            let done = done
                .map_err(|e| anyhow!("a delivery worker failed: {e}"))
                .and_then(|r| r);
            if first.is_ok() {
                first = done;
            }
        }
        first
    }
}

async fn work(
    delivery: &Delivery,
    writer: &JournalWriter,
    stop: &Stop,
    rx: &Mutex<mpsc::UnboundedReceiver<Job>>,
) -> Result<()> {
    loop {
        let job = {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(job) if !stop.requested() => job,
                _ => return Ok(()),
            }
        };
        writer.flush().await?;
        stall("before").await;
        let outcome = delivery.deliver(&job, stop).await;
        stall("after").await;
        let Some(record) = record(&job, outcome) else {
            continue;
        };
        writer.record_durable(Record::Delivery(record)).await?;
    }
}

/// The journal record of an ended delivery; `None` when it was stopped.
fn record(job: &Job, outcome: Outcome) -> Option<DeliveryRecord> {
    let (state, kv_version) = match outcome {
        Outcome::Stopped => return None,
        Outcome::Delivered(version) => (DeliveryState::Delivered, Some(version)),
        Outcome::Undelivered(e) => {
            let reason = redact_and_truncate(&e.to_string(), &[&job.password]);
            tracing::warn!(row = job.row, user = %job.user, provider = %job.provider,
                "the password was reset, but delivering it to the secret store failed: {reason}");
            (DeliveryState::Undelivered { reason }, None)
        }
    };
    Some(DeliveryRecord {
        row: job.row,
        reset_session: job.reset.0,
        reset_attempt: job.reset.1,
        at: timestamp(SystemTime::now()),
        state,
        kv_version,
    })
}

/// The crash tests' hook (see the module docs).
async fn stall(at: &str) {
    if std::env::var("CREDROTATE_TEST_DELIVERY_STALL").as_deref() == Ok(at) {
        std::future::pending::<()>().await;
    }
}
