//! Tests of the journal writer: durability order, group commit, sticky errors, append repair.

use super::*;
use crate::journal::read_journal;
use crate::journal::record::tests::{header, intent, outcome};
use crate::journal::record::{EndReason, EndRecord, OutcomeStatus};

fn lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join(JOURNAL_FILE))
        .expect("reads")
        .lines()
        .count()
}

#[tokio::test]
async fn writes_records_in_order_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), true).expect("created");
    assert!(JournalWriter::create(dir.path(), &header(), true).is_err());
    assert!(
        w.record(Record::Header(Box::new(header()))).is_err(),
        "one header only"
    );
    w.intent(intent(1, 1, 1, Some("sealed")))
        .await
        .expect("intent");
    w.outcome(outcome(1, 1, 1, OutcomeStatus::Succeeded))
        .expect("queued");
    w.flush().await.expect("flushed");
    assert_eq!(lines(dir.path()), 3, "flush makes queued outcomes durable");
    w.record(Record::End(EndRecord {
        session: 1,
        at: "t".into(),
        reason: EndReason::Completed,
        pacing: std::collections::BTreeMap::new(),
    }))
    .expect("queued");
    let other = w.clone();
    w.close().await.expect("closed");
    let c = read_journal(dir.path()).expect("reads");
    assert_eq!((c.header, c.records.len()), (header(), 3));
    assert!(matches!(c.records[0], Record::Intent(_)) && matches!(c.records[2], Record::End(_)));
    assert!(
        other
            .outcome(outcome(1, 2, 1, OutcomeStatus::Failed))
            .is_err(),
        "closed for every clone"
    );
    assert!(other.flush().await.is_err());
    let mode =
        std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(other.path()).expect("meta"));
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_intents_share_fsyncs() {
    const N: u64 = 128;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), true).expect("created");
    let tasks: Vec<_> = (0..N)
        .map(|row| {
            let w = w.clone();
            tokio::spawn(async move { w.intent(intent(1, row, 1, Some("sealed"))).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("acknowledged");
    }
    let batches = w.batches();
    eprintln!("{N} concurrent intents took {batches} fsync batches");
    assert!(batches < N, "{N} intents took {batches} fsync batches");
    w.close().await.expect("closed");
    assert_eq!(lines(dir.path()), N as usize + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_synced_with_the_next_waiter_or_after_quiet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), true).expect("created");
    let before = w.syncs();
    for row in 0..50 {
        w.outcome(outcome(1, row, 1, OutcomeStatus::Succeeded))
            .expect("queued");
    }
    w.intent(intent(1, 50, 1, None)).await.expect("durable");
    let with_intent = w.syncs() - before;
    assert!(with_intent >= 1, "the intent's batch synced");
    for row in 51..60 {
        w.outcome(outcome(1, row, 1, OutcomeStatus::Succeeded))
            .expect("queued");
    }
    // Bounded: the quiet sync comes within SYNC_AFTER; wait up to 5 s on a loaded machine.
    let mut waited = 0;
    while w.syncs() - before == with_intent && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(
        w.syncs() - before > with_intent,
        "outcomes synced after quiet"
    );
    let settled = w.syncs();
    tokio::time::sleep(SYNC_AFTER * 3).await;
    assert_eq!(w.syncs(), settled, "nothing to sync: no more syncs");
    w.close().await.expect("closed");
    assert_eq!(lines(dir.path()), 61);
}

#[test]
fn a_batch_is_synced_at_once_for_a_waiter_or_a_password_only() {
    let line = |batch: &mut Batch, rec: OutcomeRecord| {
        let rec = Record::Outcome(Box::new(rec));
        batch.line(&encode(&rec).expect("encoded"), None, holds_password(&rec));
    };
    let plain = outcome(1, 1, 1, OutcomeStatus::Succeeded);
    let mut with_password = outcome(1, 2, 1, OutcomeStatus::Succeeded);
    with_password.password = Some("sealed".into());
    let mut batch = Batch::default();
    line(&mut batch, plain);
    assert!(
        !batch.urgent,
        "an outcome without a password waits for the next sync"
    );
    line(&mut batch, with_password);
    assert!(
        batch.urgent,
        "a server-generated password is synced with its own batch"
    );
    let mut flushed = Batch::default();
    let (ack, _done) = oneshot::channel();
    flushed.line(&[], Some(ack), false);
    assert!(flushed.urgent && flushed.acks.len() == 1);
}

#[tokio::test]
async fn io_errors_reach_waiters_and_later_calls() {
    let full = OpenOptions::new()
        .append(true)
        .open("/dev/full")
        .expect("/dev/full");
    let w = JournalWriter::spawn(full, PathBuf::from("/dev/full"), true).expect("spawned");
    w.outcome(outcome(1, 1, 1, OutcomeStatus::Succeeded))
        .expect("queued before the failure");
    let err = w
        .intent(intent(1, 2, 1, None))
        .await
        .expect_err("disk full");
    assert!(
        format!("{err:#}").contains("cannot write the journal"),
        "{err:#}"
    );
    assert!(w.outcome(outcome(1, 2, 1, OutcomeStatus::Failed)).is_err());
    assert!(w.flush().await.is_err());
    assert!(w.close().await.is_err());
}

#[tokio::test]
async fn dropping_every_writer_still_writes_queued_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), false).expect("created");
    w.outcome(outcome(1, 1, 1, OutcomeStatus::Retry))
        .expect("queued");
    drop(w);
    for _ in 0..200 {
        if lines(dir.path()) == 2 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the queued outcome never reached the file");
}

#[tokio::test]
async fn append_after_torn_line_yields_valid_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), true).expect("created");
    w.intent(intent(1, 1, 1, Some("a"))).await.expect("intent");
    w.close().await.expect("closed");
    let path = dir.path().join(JOURNAL_FILE);
    let mut f = OpenOptions::new().append(true).open(&path).expect("open");
    f.write_all(b"{\"type\":\"outcome\",\"sess").expect("tear");
    drop(f);
    // The torn outcome is ignored: only the intent reads back.
    assert_eq!(read_journal(dir.path()).expect("reads").records.len(), 1);

    let w = JournalWriter::append(dir.path(), true).expect("appends");
    w.intent(intent(2, 1, 1, Some("b"))).await.expect("intent");
    w.close().await.expect("closed");
    let c = read_journal(dir.path()).expect("reads");
    assert_eq!(c.records.len(), 2);
}

#[tokio::test]
async fn append_adds_a_missing_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = JournalWriter::create(dir.path(), &header(), false).expect("created");
    w.intent(intent(1, 1, 1, None)).await.expect("intent");
    w.close().await.expect("closed");
    let path = dir.path().join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&path).expect("reads");
    std::fs::write(&path, text.trim_end()).expect("drop the newline");

    let w = JournalWriter::append(dir.path(), false).expect("appends");
    w.intent(intent(2, 1, 1, None)).await.expect("intent");
    w.close().await.expect("closed");
    let c = read_journal(dir.path()).expect("reads");
    assert_eq!(c.records.len(), 2);
}
