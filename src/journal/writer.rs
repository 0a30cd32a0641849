//! Appending to `journal.jsonl` with group commit.
//!
//! One background thread owns the file. Callers serialise their record and append the line to a
//! shared queue; the thread takes everything queued so far, writes it in one go, calls
//! `sync_data` once for the whole batch (when fsync is on) and only then acknowledges each line.
//! So an `intent` resolves once it is durable, and 64 workers waiting on intents share a handful
//! of fsyncs. A line nobody waits on (an outcome without a password) does not wake the thread: it
//! is written with the next batch someone waits on, or within `WRITE_AFTER`, and synced with the
//! next batch someone waits on, or after `SYNC_AFTER` of quiet. Such an outcome lost to a crash
//! reads as uncertain, which is safe (DESIGN.md §4.4); a wake-up and a sync per outcome were a
//! large share of a big run's CPU. An outcome holding a server-generated password is its only
//! durable home, so it wakes the thread and its batch is synced at once. A batch to sync gathers
//! lines for `GATHER` first.
//!
//! Invariants: lines reach the file in queue order; a failed write or sync is sticky: every
//! waiting caller and every later call gets the error, and nothing more is written (a line is
//! never dropped silently). After `close`, every call fails; once every writer is dropped, the
//! thread writes what is queued and ends.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::oneshot;

use super::record::{Header, Intent, OutcomeRecord, Record};
use super::{reader, sync_dir, JOURNAL_FILE};

/// Lines nobody waits on are written (to the OS) within this much, and synced after at most
/// `SYNC_AFTER` of quiet.
const WRITE_AFTER: Duration = Duration::from_millis(5);
const SYNC_AFTER: Duration = Duration::from_millis(50);

/// How long a batch with a waiter gathers more lines before its sync (when fsync is on): at
/// 15,000 intents/s it turns batches of ~2 into ~6, a third of the fsyncs, for 0.3 ms more per
/// intent.
const GATHER: Duration = Duration::from_micros(300);

/// Queued bytes that wake the thread even when nobody waits on them, bounding the queue.
const WAKE_BYTES: usize = 256 * 1024;

type Ack = oneshot::Sender<Result<(), String>>;

/// State shared by the callers and the writer thread.
struct Shared {
    path: PathBuf,
    queue: Mutex<Queue>,
    /// Signalled when the queue needs the thread: a waiter, a password, a close, the last
    /// writer dropped, or `WAKE_BYTES`.
    wake: Condvar,
    /// The first I/O error; once set, nothing more is written.
    failure: OnceLock<String>,
    batches: AtomicU64,
    syncs: AtomicU64,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What callers have handed over and the thread has not taken yet.
#[derive(Default)]
struct Queue {
    batch: Batch,
    /// `close` was called: its acknowledgement, once everything before it is durable.
    closing: Option<Ack>,
    /// `close` was called (later calls fail).
    closed: bool,
    /// Every writer was dropped: write what is queued and end.
    abandoned: bool,
    /// The thread sleeps on `wake` (a caller that needs it must signal).
    idle: bool,
    /// ... with no timeout: the first line queued must signal too, to start `WRITE_AFTER`.
    idle_unbounded: bool,
}

impl Queue {
    /// Whether the thread has something to do now.
    fn due(&self) -> bool {
        self.batch.urgent
            || self.closing.is_some()
            || self.abandoned
            || self.batch.buf.len() >= WAKE_BYTES
    }

    /// Whether a caller that just added to the queue must wake the thread.
    fn needs_wake(&self) -> bool {
        self.idle && (self.due() || (self.idle_unbounded && !self.batch.buf.is_empty()))
    }
}

/// Ends the writer thread's wait when the last clone of a [`JournalWriter`] goes.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.queue().abandoned = true;
        self.shared.wake.notify_one();
    }
}

/// The journal's appender: cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct JournalWriter {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
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
        let shared = Arc::new(Shared {
            path,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            failure: OnceLock::new(),
            batches: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || write_loop(file, fsync, &thread_shared))
            .context("cannot start the journal writer thread")?;
        let owner = Arc::new(Owner {
            shared: Arc::clone(&shared),
        });
        Ok(JournalWriter {
            shared,
            _owner: owner,
        })
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
        self.send(|batch| batch.line(&bytes, None, urgent))
    }

    /// Appends any record and resolves once it is durable.
    pub async fn record_durable(&self, rec: Record) -> Result<()> {
        let bytes = encode_appended(&rec)?;
        let (ack, done) = oneshot::channel();
        self.send(|batch| batch.line(&bytes, Some(ack), true))?;
        self.wait(done).await
    }

    /// Resolves once everything queued before it is durable.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.send(|batch| batch.line(&[], Some(ack), true))?;
        self.wait(done).await
    }

    /// Makes everything queued durable and stops the writer; later calls on any clone fail.
    pub async fn close(self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        {
            let mut queue = self.usable()?;
            queue.closed = true;
            queue.closing = Some(ack);
            self.signal(queue);
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

    /// Adds to the queue (under its lock, so lines keep their order) and wakes the thread when
    /// the queue needs it.
    fn send(&self, add: impl FnOnce(&mut Batch)) -> Result<()> {
        let mut queue = self.usable()?;
        add(&mut queue.batch);
        self.signal(queue);
        Ok(())
    }

    /// The queue, unless the journal failed or was closed.
    fn usable(&self) -> Result<MutexGuard<'_, Queue>> {
        let queue = self.shared.queue();
        if let Some(failure) = self.shared.failure.get() {
            return Err(anyhow!("{failure}"));
        }
        if queue.closed {
            return Err(self.closed());
        }
        Ok(queue)
    }

    fn signal(&self, queue: MutexGuard<'_, Queue>) {
        let wake = queue.needs_wake();
        drop(queue);
        if wake {
            self.shared.wake.notify_one();
        }
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
    // Sized for an outcome with its report line (about 750 bytes), so it is not regrown.
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, rec).context("cannot serialise a journal record")?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The writer thread: take the queue, write it, sync once, acknowledge; until closed or every
/// writer dropped.
fn write_loop(mut file: File, fsync: bool, shared: &Shared) {
    // When the oldest line written but not synced was written: it is synced with the next
    // batch someone waits on, or `SYNC_AFTER` later.
    let mut unsynced: Option<Instant> = None;
    loop {
        let (batch, closing, ended) = take(shared, fsync, unsynced);
        // Only a waiter (an intent, a durable record, a flush, the close), a password, the end
        // or lines left unsynced for `SYNC_AFTER` need the sync now.
        let overdue = unsynced.is_some_and(|t| t.elapsed() >= SYNC_AFTER);
        let sync = fsync && (batch.urgent || overdue || ended || closing.is_some());
        let result = commit(&mut file, &batch.buf, sync, shared);
        if sync {
            unsynced = None;
        } else if fsync && !batch.buf.is_empty() {
            unsynced = unsynced.or_else(|| Some(Instant::now()));
        }
        if let Some(ack) = closing {
            drop(file);
            acknowledge(batch.acks, &result);
            let _ = ack.send(result);
            return;
        }
        acknowledge(batch.acks, &result);
        if ended {
            return;
        }
    }
}

/// Waits until the queue is due (or `WRITE_AFTER` passed with lines queued, or unsynced lines
/// reach `SYNC_AFTER`), gathers for `GATHER` when the batch will be synced, and takes the
/// queue: (the batch, the close's acknowledgement, whether every writer is gone).
fn take(shared: &Shared, fsync: bool, unsynced: Option<Instant>) -> (Batch, Option<Ack>, bool) {
    let mut queue = shared.queue();
    while !queue.due() {
        let wait = match (queue.batch.buf.is_empty(), unsynced) {
            (false, _) => Some(WRITE_AFTER),
            (true, Some(t)) => Some(SYNC_AFTER.saturating_sub(t.elapsed())),
            (true, None) => None,
        };
        queue.idle = true;
        queue.idle_unbounded = wait.is_none();
        let (q, timeout) = match wait {
            None => (wait_for(shared, queue), false),
            Some(wait) => {
                let (q, t) = shared
                    .wake
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(PoisonError::into_inner);
                (q, t.timed_out())
            }
        };
        queue = q;
        queue.idle = false;
        queue.idle_unbounded = false;
        if timeout {
            break;
        }
    }
    if fsync && queue.batch.urgent && queue.closing.is_none() {
        // Let more lines join this sync; callers append meanwhile without waking anyone.
        drop(queue);
        std::thread::sleep(GATHER);
        queue = shared.queue();
    }
    let batch = std::mem::take(&mut queue.batch);
    (batch, queue.closing.take(), queue.abandoned)
}

fn wait_for<'a>(shared: &Shared, queue: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
    shared
        .wake
        .wait(queue)
        .unwrap_or_else(PoisonError::into_inner)
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
    /// Adds a line (empty for a flush); a waiter or a password makes the batch urgent.
    fn line(&mut self, bytes: &[u8], ack: Option<Ack>, urgent: bool) {
        self.buf.extend_from_slice(bytes);
        self.urgent |= urgent || ack.is_some();
        self.acks.extend(ack);
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
