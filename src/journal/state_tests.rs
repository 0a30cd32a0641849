//! Tests of the journal state: how records settle each row.

use super::*;
use crate::journal::record::tests::{header, intent, outcome};
use crate::journal::record::{EndRecord, SessionCommand, SessionRecord};
use crate::outcome::Status;

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

fn state(records: Vec<Record>) -> JournalState {
    JournalState::from(&JournalContents {
        header: header(),
        records,
    })
}

fn row(s: &JournalState, n: u64) -> &RowState {
    s.rows.get(&n).expect("row present")
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
    let r = row(&s, 1);
    assert!(!r.uncertain() && r.succeeded());
    assert_eq!((r.attempts, r.sessions, r.candidates.len()), (2, 1, 2));
    assert_eq!(r.confirmed_password(), Some("B"));
    assert_eq!(r.report.as_ref().map(|r| r.status), Some(Status::Succeeded));
    assert_eq!(r.user, "user1@example.com");
    assert_eq!(s.rows_succeeded(), BTreeSet::from([1]));
}

#[test]
fn failed_row_is_settled_without_confirmation() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 2, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 2, 1, OutcomeStatus::Failed))),
    ]);
    let r = row(&s, 2);
    assert!(!r.uncertain() && !r.succeeded());
    assert_eq!(
        (r.confirmed, r.final_status),
        (None, Some(OutcomeStatus::Failed))
    );
    assert_eq!(r.report.as_ref().map(|r| r.status), Some(Status::Failed));
    assert_eq!(
        s.counts(),
        Counts {
            rows: 1,
            succeeded: 0,
            failed: 1,
            uncertain: 0
        }
    );
}

#[test]
fn unanswered_intents_across_sessions_keep_every_candidate() {
    let s = state(vec![
        session(1),
        Record::Intent(intent(1, 3, 1, Some("A"))),
        session(2),
        Record::Intent(intent(2, 3, 1, Some("B"))),
        Record::Intent(intent(2, 4, 1, Some("C"))),
        Record::Outcome(Box::new(outcome(2, 4, 1, OutcomeStatus::Retry))),
    ]);
    let r = row(&s, 3);
    assert!(r.uncertain() && !r.succeeded());
    assert_eq!(r.candidates, vec!["A".to_owned(), "B".to_owned()]);
    assert_eq!((r.attempts, r.sessions, r.confirmed), (2, 2, None));
    assert_eq!(r.unanswered, BTreeSet::from([(1, 1), (2, 1)]));
    assert!(
        row(&s, 4).uncertain(),
        "a retry without a final outcome is uncertain"
    );
    assert_eq!(s.rows_uncertain(), BTreeSet::from([3, 4]));
    assert_eq!((s.sessions, s.next_session(), s.last_end), (2, 3, None));
    assert!(
        !format!("{r:?}").contains("\"A\""),
        "Debug shows no sealed text"
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
    let r = row(&s, 5);
    assert!(r.succeeded() && r.unanswered.is_empty());
    assert_eq!(
        r.candidates,
        vec!["A".to_owned(), "B".to_owned()],
        "deduplicated"
    );
    assert_eq!(r.confirmed_password(), Some("B"));
}

#[test]
fn server_generated_password_is_confirmed() {
    let mut done = outcome(1, 6, 1, OutcomeStatus::Succeeded);
    done.password = Some("SERVER".into());
    let s = state(vec![
        Record::Intent(intent(1, 6, 1, None)),
        Record::Outcome(Box::new(done)),
    ]);
    let r = row(&s, 6);
    assert!(r.succeeded());
    assert_eq!(r.candidates, vec!["SERVER".to_owned()]);
    assert_eq!(r.confirmed_password(), Some("SERVER"));
}

#[test]
fn retrying_a_failed_row_reopens_it() {
    let s = state(vec![
        Record::Intent(intent(1, 7, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 7, 1, OutcomeStatus::Failed))),
        Record::Intent(intent(2, 7, 1, Some("B"))),
    ]);
    let r = row(&s, 7);
    assert!(r.uncertain());
    assert_eq!((r.report.as_ref(), r.final_status), (None, None));
}

#[test]
fn last_end_and_next_session() {
    let end = |session, reason| {
        Record::End(EndRecord {
            session,
            at: "t".into(),
            reason,
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
fn an_uncertain_final_outcome_keeps_the_row_uncertain_with_its_candidate() {
    let s = state(vec![
        Record::Intent(intent(1, 8, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 8, 1, OutcomeStatus::Uncertain))),
    ]);
    let r = row(&s, 8);
    assert!(r.uncertain() && !r.succeeded());
    assert_eq!(r.candidates, vec!["A".to_owned()]);
    assert_eq!(s.counts().uncertain, 1);
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
    let r = row(&s, 9);
    assert!(r.uncertain(), "password A may be in force");
    assert_eq!(r.candidates, vec!["A".to_owned(), "B".to_owned()]);
}

#[test]
fn a_throttled_retry_then_refusal_is_failed_and_a_success_settles_ambiguity() {
    let s = state(vec![
        Record::Intent(intent(1, 10, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 10, 1, OutcomeStatus::Retry))),
        Record::Intent(intent(1, 10, 2, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 10, 2, OutcomeStatus::Failed))),
    ]);
    assert!(!row(&s, 10).uncertain(), "nothing suggests A is in force");
    let mut lost = outcome(1, 11, 1, OutcomeStatus::Retry);
    lost.may_be_applied = true;
    let s = state(vec![
        Record::Intent(intent(1, 11, 1, Some("A"))),
        Record::Outcome(Box::new(lost)),
        Record::Intent(intent(1, 11, 2, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 11, 2, OutcomeStatus::Succeeded))),
    ]);
    let r = row(&s, 11);
    assert!(r.succeeded() && !r.uncertain() && !r.ambiguous);
    assert_eq!(r.confirmed_password(), Some("A"));
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
    assert!(row(&s, 12).needs_delivery(), "confirmed, not yet delivered");
    let mut records = vec![
        session(1),
        Record::Intent(intent(1, 12, 1, Some("A"))),
        Record::Outcome(Box::new(outcome(1, 12, 1, OutcomeStatus::Succeeded))),
        delivered(12, (1, 1), 1),
    ];
    let s = state(records.clone());
    assert!(!row(&s, 12).needs_delivery());
    assert_eq!(row(&s, 12).delivery().and_then(|d| d.kv_version), Some(1));
    // A later reset of the row (a new password) needs a delivery of its own.
    records.push(Record::Intent(intent(2, 12, 1, Some("B"))));
    records.push(Record::Outcome(Box::new(outcome(
        2,
        12,
        1,
        OutcomeStatus::Succeeded,
    ))));
    let s = state(records);
    assert!(row(&s, 12).delivery().is_none() && row(&s, 12).needs_delivery());
}
