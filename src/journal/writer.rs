//! Appending to `journal.jsonl` with group commit.
//!
//! One background thread owns the file. Callers serialise their record and queue the line; the
//! thread takes everything queued so far, writes it in one go, calls `sync_data` once for the
//! whole batch (when fsync is on) and only then acknowledges each line. So an `intent` resolves
//! once it is durable, and 64 workers waiting on intents share a handful of fsyncs. A batch of
//! lines nobody waits on (outcomes without a password) is written but synced with the next batch
//! someone waits on, or after `SYNC_AFTER` of quiet: such an outcome lost to a power cut reads as
//! uncertain, which is safe (DESIGN.md §4.4), and a sync per outcome batch was a third of a
//! large run's fsyncs. An outcome holding a server-generated password is its only durable home,
//! so its batch is synced at once. A batch to sync gathers lines for up to `GATHER` first.
//!
//! Invariants: lines reach the file in queue order; a failed write or sync is sticky: every
//! waiting caller and every later call gets the error, and nothing more is written (a line is
//! never dropped silently). After `close`, every call fails.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::oneshot;

use super::record::{Header, Intent, OutcomeRecord, Record};
use super::{reader, sync_dir, JOURNAL_FILE};

/// Lines nobody waits on (outcomes without a password) are synced after at most this much quiet.
const SYNC_AFTER: Duration = Duration::from_millis(50);

/// How long a batch with a waiter gathers more lines before its sync (when fsync is on): at
/// 15,000 intents/s it turns batches of ~2 into ~6, a third of the fsyncs, for 0.3 ms more per
/// intent.
const GATHER: Duration = Duration::from_micros(300);

/// Most messages taken per batch, so acknowledgements are not held back by an endless queue.
const MAX_BATCH: usize = 4096;

type Ack = oneshot::Sender<Result<(), String>>;

enum Msg {
    /// `urgent`: the line holds a password (a server-generated one, in its outcome), so its
    /// batch is synced at once even though nobody waits on it.
    Line {
        bytes: Vec<u8>,
        ack: Option<Ack>,
        urgent: bool,
    },
    Flush(Ack),
    Close(Ack),
}

/// State shared by the callers and the writer thread.
struct Shared {
    path: PathBuf,
    /// `None` once closed. The lock orders `close` after every line queued before it.
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    /// The first I/O error; once set, nothing more is written.
    failure: OnceLock<String>,
    batches: AtomicU64,
    syncs: AtomicU64,
}

/// The journal's appender: cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct JournalWriter {
    shared: Arc<Shared>,
}

impl JournalWriter {
    /// Starts `DIR/journal.jsonl` with `header` (durable on return); fails if the file exists.
    pub fn create(dir: &Path, header: &Header, fsync: bool) -> Result<JournalWriter> {
        let path = dir.join(JOURNAL_FILE);
        let open = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let mut file = match open {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                "{} already exists (hint: continue that run with `credrotate resume --out {}`, or choose a new --out folder)",
                path.display(),
                dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        };
        file.write_all(&encode(&Record::Header(Box::new(header.clone())))?)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir))
            .with_context(|| format!("cannot write {}", path.display()))?;
        JournalWriter::spawn(file, path, fsync)
    }

    /// Opens an existing journal for more records (resume), first cutting off a torn last line.
    pub fn append(dir: &Path, fsync: bool) -> Result<JournalWriter> {
        let path = dir.join(JOURNAL_FILE);
        let scan = reader::scan(&path)?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {} for writing", path.display()))?;
        repair(&mut file, &scan, &path)
            .with_context(|| format!("cannot repair {}", path.display()))?;
        JournalWriter::spawn(file, path, fsync)
    }

    /// Starts the writer thread on an open file.
    fn spawn(file: File, path: PathBuf, fsync: bool) -> Result<JournalWriter> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            path,
            tx: Mutex::new(Some(tx)),
            failure: OnceLock::new(),
            batches: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || write_loop(file, &rx, fsync, &thread_shared))
            .context("cannot start the journal writer thread")?;
        Ok(JournalWriter { shared })
    }

    /// Appends an intent and resolves once it is durable: only then may the request leave.
    /// Dropping the future after it was first polled still writes the record (the row then
    /// reads as uncertain, which is safe).
    pub async fn intent(&self, rec: Intent) -> Result<()> {
        self.record_durable(Record::Intent(rec)).await
    }

    /// Queues an outcome; it becomes durable with the next batch anyone waits on, or within
    /// `SYNC_AFTER` (see [`JournalWriter::flush`]); one holding a password, with its own batch.
    pub fn outcome(&self, rec: OutcomeRecord) -> Result<()> {
        self.record(Record::Outcome(Box::new(rec)))
    }

    /// Queues any record without waiting.
    pub fn record(&self, rec: Record) -> Result<()> {
        let bytes = encode_appended(&rec)?;
        let urgent = holds_password(&rec);
        self.send(Msg::Line {
            bytes,
            ack: None,
            urgent,
        })
    }

    /// Appends any record and resolves once it is durable.
    pub async fn record_durable(&self, rec: Record) -> Result<()> {
        let bytes = encode_appended(&rec)?;
        let (ack, done) = oneshot::channel();
        self.send(Msg::Line {
            bytes,
            ack: Some(ack),
            urgent: true,
        })?;
        self.wait(done).await
    }

    /// Resolves once everything queued before it is durable.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.send(Msg::Flush(ack))?;
        self.wait(done).await
    }

    /// Makes everything queued durable and stops the writer; later calls on any clone fail.
    pub async fn close(self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        {
            let mut tx = self
                .shared
                .tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let sender = tx.take().ok_or_else(|| self.closed())?;
            sender.send(Msg::Close(ack)).map_err(|_| self.stopped())?;
        }
        self.wait(done).await
    }

    /// How many `sync_data` calls were made so far.
    #[cfg(test)]
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// How many batches were written so far.
    #[cfg(test)]
    pub fn batches(&self) -> u64 {
        self.shared.batches.load(Ordering::Relaxed)
    }

    /// The journal file.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    fn send(&self, msg: Msg) -> Result<()> {
        let tx = self
            .shared
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(failure) = self.shared.failure.get() {
            return Err(anyhow!("{failure}"));
        }
        let sender = tx.as_ref().ok_or_else(|| self.closed())?;
        sender.send(msg).map_err(|_| self.stopped())
    }

    async fn wait(&self, done: oneshot::Receiver<Result<(), String>>) -> Result<()> {
        match done.await {
            Ok(result) => result.map_err(|failure| anyhow!("{failure}")),
            Err(_) => Err(self.stopped()),
        }
    }

    fn closed(&self) -> anyhow::Error {
        anyhow!(
            "the journal {} is already closed",
            self.shared.path.display()
        )
    }

    fn stopped(&self) -> anyhow::Error {
        let path = self.shared.path.display();
        anyhow!("the journal writer for {path} stopped unexpectedly; records may be missing")
    }
}

/// Cuts what follows the last valid line and ends that line, so appends start on a fresh line.
fn repair(file: &mut File, scan: &reader::Scan, path: &Path) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == scan.valid_len && !scan.needs_newline {
        return Ok(());
    }
    if len != scan.valid_len {
        let cut = len.saturating_sub(scan.valid_len);
        tracing::warn!(journal = %path.display(), "cutting {cut} bytes of a torn last line");
        file.set_len(scan.valid_len)?;
    }
    if scan.needs_newline {
        file.write_all(b"\n")?;
    }
    file.sync_all()
}

/// A record after the header: anything but a second header.
fn encode_appended(rec: &Record) -> Result<Vec<u8>> {
    if matches!(rec, Record::Header(_)) {
        bail!("a journal has one header, written by JournalWriter::create");
    }
    encode(rec)
}

/// One JSON line, newline included.
fn encode(rec: &Record) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(rec).context("cannot serialise a journal record")?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The writer thread: batch, write, sync once, acknowledge; until closed or every writer dropped.
fn write_loop(mut file: File, rx: &mpsc::Receiver<Msg>, fsync: bool, shared: &Shared) {
    // Written since the last sync: synced by the next batch someone waits on, or after
    // `SYNC_AFTER` of quiet.
    let mut dirty = false;
    let (acks, result) = loop {
        let first = match next(rx, dirty) {
            Next::Msg(msg) => msg,
            Next::Quiet => {
                // A failure is sticky: the next caller hears of it.
                let _ = commit(&mut file, &[], true, shared);
                dirty = false;
                continue;
            }
            Next::Gone => return,
        };
        let mut batch = Batch::default();
        let mut closing = batch.take(first);
        let mut taken = 1;
        let gather = Instant::now() + GATHER;
        while !closing && taken < MAX_BATCH {
            let wait = match fsync && batch.urgent {
                true => gather.saturating_duration_since(Instant::now()),
                false => Duration::ZERO,
            };
            match rx.recv_timeout(wait) {
                Ok(msg) => closing = batch.take(msg),
                Err(_) => break,
            }
            taken += 1;
        }
        // Only a waiter (an intent, a durable record, a flush, the close) or a password needs
        // the sync now.
        let sync = fsync && batch.urgent;
        let result = commit(&mut file, &batch.buf, sync, shared);
        dirty = fsync && !sync && (dirty || !batch.buf.is_empty());
        if closing {
            break (batch.acks, result);
        }
        acknowledge(batch.acks, &result);
    };
    drop(file);
    acknowledge(acks, &result);
}

enum Next {
    Msg(Msg),
    /// Unsynced lines and `SYNC_AFTER` without a message.
    Quiet,
    Gone,
}

fn next(rx: &mpsc::Receiver<Msg>, dirty: bool) -> Next {
    if !dirty {
        return rx.recv().map_or(Next::Gone, Next::Msg);
    }
    match rx.recv_timeout(SYNC_AFTER) {
        Ok(msg) => Next::Msg(msg),
        Err(mpsc::RecvTimeoutError::Timeout) => Next::Quiet,
        Err(mpsc::RecvTimeoutError::Disconnected) => Next::Gone,
    }
}

fn acknowledge(acks: Vec<Ack>, result: &Result<(), String>) {
    for ack in acks {
        // A caller that stopped waiting no longer needs the answer.
        let _ = ack.send(result.clone());
    }
}

/// Whether a record holds a password nobody else holds (an outcome's server-generated one).
fn holds_password(rec: &Record) -> bool {
    matches!(rec, Record::Outcome(o) if o.password.is_some())
}

/// One batch: its bytes, who waits on it, and whether it must be synced at once.
#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    acks: Vec<Ack>,
    urgent: bool,
}

impl Batch {
    /// Adds `msg`; true when it asks to close.
    fn take(&mut self, msg: Msg) -> bool {
        let (ack, closing) = match msg {
            Msg::Line { bytes, ack, urgent } => {
                self.buf.extend_from_slice(&bytes);
                self.urgent |= urgent;
                (ack, false)
            }
            Msg::Flush(ack) => (Some(ack), false),
            Msg::Close(ack) => (Some(ack), true),
        };
        self.urgent |= ack.is_some();
        self.acks.extend(ack);
        closing
    }
}

/// Writes one batch and, when `sync`, makes everything written so far durable; or reports the
/// sticky failure.
fn commit(file: &mut File, buf: &[u8], sync: bool, shared: &Shared) -> Result<(), String> {
    if let Some(failure) = shared.failure.get() {
        return Err(failure.clone());
    }
    if buf.is_empty() && !sync {
        return Ok(());
    }
    let written = file.write_all(buf).and_then(|()| match sync {
        true => {
            shared.syncs.fetch_add(1, Ordering::Relaxed);
            file.sync_data()
        }
        false => Ok(()),
    });
    shared.batches.fetch_add(1, Ordering::Relaxed);
    written.map_err(|e| {
        let failure = format!(
            "cannot write the journal {}: {e} (hint: check the space and health of that filesystem; the run stops here and can be resumed)",
            shared.path.display()
        );
        tracing::error!("{failure}");
        shared.failure.get_or_init(|| failure).clone()
    })
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
