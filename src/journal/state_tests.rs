//! Tests of the journal state: how records settle each row.

use super::*;
use crate::journal::record::tests::{intent, outcome};
use crate::journal::record::{EndRecord, SessionCommand, SessionRecord};

fn session(n: u32) -> Record {
    Record::Session(SessionRecord {
        session: n,
        pid: 100 + n,
        started_at: "t".into(),
        command: if n == 1 {
            SessionCommand::Run
        } else {
            SessionCommand::Resume
        },
    })
}

/// Record `i` sits on the line at offset `at(i)`.
fn at(i: usize) -> Offset {
    (i as u64 + 1) * 100
}

fn state(records: Vec<Record>) -> JournalState {
    let mut s = JournalState::new(20);
    for (i, rec) in records.iter().enumerate() {
        s.apply(at(i), rec).expect("applies");
    }
    s
}

#[test]
fn succeeded_row_confirms_its_intent_password() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 1, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 1, 1, OutcomeStatus::Retry))),
        Record::Intent(intent(1, 1, 2, Some("B"))),
        Record::Outcome(Box::new(outcome(1, 1, 2, OutcomeStatus::Succeeded))),
    ]);
    let r = s.row(1).unwrap();
    assert!(!r.uncertain() && r.succeeded());
    assert_eq!((r.attempts, r.sessions), (2, 1));
    assert_eq!((r.confirmed_at, r.report_at), (at(3), at(4)));
    assert!(s.rows_succeeded().unwrap().contains(1) && !s.rows_succeeded().unwrap().contains(2));
    assert_eq!(s.rows_succeeded().unwrap().len(), 1);
}

#[test]
fn failed_row_is_settled_without_confirmation() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 2, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 2, 1, OutcomeStatus::Failed))),
    ]);
    let r = s.row(2).unwrap();
    assert!(!r.uncertain() && !r.succeeded());
    assert_eq!(
        (r.confirmed_at, r.final_status, r.report_at),
        (0, Some(OutcomeStatus::Failed), at(2))
    );
    let expected = Counts {
        rows: 1,
        succeeded: 0,
        failed: 1,
        uncertain: 0,
    };
    assert_eq!(s.counts().unwrap(), expected);
}

#[test]
fn unanswered_intents_across_sessions_stay_uncertain() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 3, 1, Some("A"))),
        session(2),
        Record::Intent(intent(2, 3, 1, Some("B"))),
        Record::Intent(intent(2, 4, 1, Some("C"))),
        Record::Outcome(Box::new(outcome(2, 4, 1, OutcomeStatus::Retry))),
    ]);
    let r = s.row(3).unwrap();
    assert!(r.uncertain() && !r.succeeded());
    assert_eq!((r.attempts, r.sessions, r.confirmed_at), (2, 2, 0));
    assert_eq!((r.intent_at, r.report_at), (at(3), 0));
    assert!(
        s.row(4).unwrap().uncertain(),
        "a retry without a final outcome"
    );
    assert_eq!((s.sessions, s.next_session(), s.last_end), (2, 3, None));
    assert_eq!(s.counts().unwrap().uncertain, 2);
    assert_eq!(
        s.journaled().map(|r| r.unwrap().0).collect::<Vec<_>>(),
        [3, 4]
    );
}

#[test]
fn a_later_success_settles_earlier_unanswered_intents() {
    let s = state(vec![
        Record::Intent(intent(1, 5, 1, Some("A"))),
        Record::Intent(intent(2, 5, 1, Some("A"))),
        Record::Intent(intent(2, 5, 2, Some("B"))),
        Record::Outcome(Box::new(outcome(2, 5, 2, OutcomeStatus::Succeeded))),
    ]);
    let r = s.row(5).unwrap();
    assert!(r.succeeded() && !r.uncertain());
    assert_eq!(r.confirmed_at, at(2));
}

#[test]
fn server_generated_password_is_confirmed_on_its_outcome() {
    let mut done = outcome(1, 6, 1, OutcomeStatus::Succeeded);
    done.password = Some("SERVER".into());
    let s = state(vec![
        Record::Intent(intent(1, 6, 1, None)),
        Record::Outcome(Box::new(done)),
    ]);
    let r = s.row(6).unwrap();
    assert!(r.succeeded());
    assert_eq!(r.confirmed_at, at(1));
}

#[test]
fn retrying_a_failed_row_reopens_it() {
    let s = state(vec![
        Record::Intent(intent(1, 7, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 7, 1, OutcomeStatus::Failed))),
        Record::Intent(intent(2, 7, 1, Some("B"))),
    ]);
    let r = s.row(7).unwrap();
    assert!(r.uncertain());
    assert_eq!((r.report_at, r.final_status), (0, None));
}

#[test]
fn last_end_and_next_session() {
    let end = |session, reason| {
        Record::End(EndRecord {
            session,
            at: "t".into(),
            reason,
            pacing: BTreeMap::new(),
        })
    };
    let s = state(vec![session(1), end(1, EndReason::Interrupted)]);
    assert_eq!(
        (s.last_end, s.next_session()),
        (Some(EndReason::Interrupted), 2)
    );
    let s = state(vec![session(1), end(1, EndReason::Interrupted), session(2)]);
    assert_eq!((s.last_end, s.next_session()), (None, 3));
    assert_eq!(state(vec![]).next_session(), 1);
}

#[test]
fn an_uncertain_final_outcome_keeps_the_row_uncertain() {
    let s = state(vec![
        Record::Intent(intent(1, 8, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 8, 1, OutcomeStatus::Uncertain))),
    ]);
    let r = s.row(8).unwrap();
    assert!(r.uncertain() && !r.succeeded());
    assert_eq!(s.counts().unwrap().uncertain, 1);
}

#[test]
fn a_refusal_after_a_lost_answer_is_still_uncertain() {
    let mut lost = outcome(1, 9, 1, OutcomeStatus::Retry);
    lost.may_be_applied = true;
    let s = state(vec![
        Record::Intent(intent(1, 9, 1, Some("A"))),
        Record::Outcome(Box::new(lost)),
        Record::Intent(intent(1, 9, 2, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 9, 2, OutcomeStatus::Failed))),
        // A later session's refused attempt does not settle the first password either.
        Record::Intent(intent(2, 9, 1, Some("B"))),
        Record::Outcome(Box::new(outcome(2, 9, 1, OutcomeStatus::Failed))),
    ]);
    assert!(s.row(9).unwrap().uncertain(), "password A may be in force");
}

#[test]
fn a_throttled_retry_then_refusal_is_failed_and_a_success_settles_ambiguity() {
    let s = state(vec![
        Record::Intent(intent(1, 10, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 10, 1, OutcomeStatus::Retry))),
        Record::Intent(intent(1, 10, 2, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 10, 2, OutcomeStatus::Failed))),
    ]);
    assert!(
        !s.row(10).unwrap().uncertain(),
        "nothing suggests A is in force"
    );
    let mut lost = outcome(1, 11, 1, OutcomeStatus::Retry);
    lost.may_be_applied = true;
    let s = state(vec![
        Record::Intent(intent(1, 11, 1, Some("A"))),
        Record::Outcome(Box::new(lost)),
        Record::Intent(intent(1, 11, 2, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 11, 2, OutcomeStatus::Succeeded))),
    ]);
    let r = s.row(11).unwrap();
    assert!(r.succeeded() && !r.uncertain() && !r.ambiguous);
    assert_eq!(r.confirmed_at, at(2));
}

#[test]
fn a_row_outside_the_manifest_is_an_error_and_rows_stay_compact() {
    let mut s = JournalState::new(3);
    let rec = Record::Intent(intent(1, 4, 1, Some("A")));
    let msg = format!("{:#}", s.apply(100, &rec).expect_err("outside"));
    assert!(msg.contains("row 4") && msg.contains("3 rows"), "{msg}");
    let rec = Record::Intent(intent(1, 0, 1, Some("A")));
    assert!(s.apply(100, &rec).is_err(), "rows are 1-based");
    assert!(
        std::mem::size_of::<RowState>() <= 64,
        "a few dozen bytes per row"
    );
    let mut set = RowSet::with_rows(128);
    for n in [1, 64, 127, 128, 128] {
        set.insert(n);
    }
    assert!(set.contains(64) && set.contains(128) && !set.contains(2));
    assert_eq!(set.len(), 4);
}

fn delivered(row: u64, reset: (u32, u32), version: u64) -> Record {
    Record::Delivery(crate::journal::DeliveryRecord {
        row,
        reset_session: reset.0,
        reset_attempt: reset.1,
        at: "t".into(),
        state: crate::outcome::DeliveryState::Delivered,
        kv_version: Some(version),
    })
}

#[test]
fn a_delivery_counts_only_for_the_reset_it_names() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 12, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 12, 1, OutcomeStatus::Succeeded))),
    ]);
    assert!(
        s.row(12).unwrap().needs_delivery(),
        "confirmed, not yet delivered"
    );
    let mut records = vec![
        session(1),
        Record::Intent(intent(1, 12, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 12, 1, OutcomeStatus::Succeeded))),
        delivered(12, (1, 1), 1),
    ];
    let s = state(records.clone());
    assert!(!s.row(12).unwrap().needs_delivery());
    assert_eq!(
        s.row(12).unwrap().delivery().and_then(|d| d.kv_version),
        Some(1)
    );
    // A later reset of the row (a new password) needs a delivery of its own.
    records.push(Record::Intent(intent(2, 12, 1, Some("B"))));
    records.push(Record::Outcome(Box::new(outcome(
        2,
        12,
        1,
        OutcomeStatus::Succeeded,
    ))));
    let s = state(records);
    assert!(s.row(12).unwrap().delivery().is_none() && s.row(12).unwrap().needs_delivery());
}

#[test]
fn an_undelivered_record_keeps_its_line_and_a_later_delivery_settles_it() {
    let undelivered = Record::Delivery(crate::journal::DeliveryRecord {
        row: 5,
        reset_session: 1,
        reset_attempt: 1,
        at: "t".into(),
        state: crate::outcome::DeliveryState::Undelivered {
            reason: "403 permission denied".into(),
        },
        kv_version: None,
    });
    let mut records = vec![
        session(1),
        Record::Intent(intent(1, 5, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 5, 1, OutcomeStatus::Succeeded))),
        undelivered,
        delivered(5, (9, 9), 7), // names another reset: ignored
    ];
    let s = state(records.clone());
    let d = s
        .row(5)
        .unwrap()
        .delivery()
        .expect("a delivery of the confirmed reset");
    assert_eq!((d.at, d.delivered, d.kv_version), (at(3), false, None));
    assert!(s.row(5).unwrap().needs_delivery());
    records.push(delivered(5, (1, 1), 3));
    let s = state(records);
    assert!(!s.row(5).unwrap().needs_delivery());
    assert_eq!(
        s.row(5).unwrap().delivery().and_then(|d| d.kv_version),
        Some(3)
    );
}

#[test]
fn a_spilled_state_settles_rows_as_the_in_memory_one_does() {
    const ROWS: u64 = 150_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spilled = JournalState::spilling(ROWS, dir.path()).expect("spilling");
    let mut memory = JournalState::new(ROWS);
    let statuses = [
        OutcomeStatus::Succeeded,
        OutcomeStatus::Failed,
        OutcomeStatus::Uncertain,
    ];
    // Every seventh row: an intent, then (for most) an outcome, in a scattered order.
    let rows: Vec<u64> = (1..=ROWS).step_by(7).collect();
    let mut records = vec![session(1)];
    for (i, &row) in rows.iter().enumerate() {
        records.push(Record::Intent(intent(1, row, 1, Some("P"))));
        if i % 5 != 4 {
            let status = statuses[i % 3];
            records.push(Record::Outcome(Box::new(outcome(1, row, 1, status))));
        }
    }
    for (i, rec) in records.iter().enumerate() {
        spilled.apply(at(i), rec).expect("applies");
        memory.apply(at(i), rec).expect("applies");
    }
    assert_eq!(spilled.counts().unwrap(), memory.counts().unwrap());
    for row in [1, 8, 9, 71_429, ROWS - 6, ROWS] {
        assert_eq!(
            spilled.row(row).unwrap(),
            memory.row(row).unwrap(),
            "row {row}"
        );
    }
    let listed = |s: &JournalState| s.journaled().map(|r| r.unwrap()).collect::<Vec<_>>();
    assert_eq!(listed(&spilled), listed(&memory));
    assert!(spilled
        .apply(at(0), &Record::Intent(intent(1, ROWS + 1, 1, None)))
        .is_err());
}

#[test]
fn pacing_adds_up_over_sessions_and_keeps_the_latest_learned_rate() {
    let end = |session, throttled, paused, learned| {
        let figures = PacingRecord {
            throttled,
            paused_seconds: paused,
            learned_rate: learned,
        };
        Record::End(EndRecord {
            session,
            at: "t".into(),
            reason: EndReason::Interrupted,
            pacing: BTreeMap::from([("graph".to_owned(), figures)]),
        })
    };
    let s = state(vec![
        session(1),
        end(1, 3, 2.0, Some(50.0)),
        session(2),
        end(2, 1, 1.0, Some(48.0)),
        session(3),
        end(3, 0, 0.0, None),
    ]);
    let graph = &s.pacing["graph"];
    assert_eq!((graph.throttled, graph.paused_seconds), (4, 3.0));
    assert_eq!(graph.learned_rate, Some(48.0));
}
