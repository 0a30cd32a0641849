//! What a journal says about each row: the ground truth for `resume` and `report`.
//!
//! Rules, applied to the records in file order:
//! - every intent is an attempt; its sealed password (if any) becomes a *candidate*;
//! - a server-generated password in an outcome is a candidate too; candidates are deduplicated
//!   by their sealed text and kept in order of appearance;
//! - a `succeeded` outcome *confirms* the server's password if it sent one, else the password of
//!   the intent with the same (session, attempt); it also settles every earlier unanswered intent
//!   of that row (the last reset wins);
//! - a final outcome (succeeded/failed) carries the row's report; a later intent reopens the row
//!   (report and confirmation cleared);
//! - an answer that may have applied the password (an `uncertain` outcome, or a `retry` marked
//!   `may_be_applied`) makes the row *ambiguous* until a later success confirms a password;
//! - a row is *uncertain* while some intent has no outcome, it has no final outcome, its final
//!   outcome is `uncertain`, or it is ambiguous without a success: `resume` resets it again and
//!   the export keeps every candidate until one is confirmed (docs/DESIGN.md §4.4);
//! - a `delivery` record counts only for the reset it names: it is the row's delivery while that
//!   reset is the row's confirmed one (a later reset needs a delivery of its own).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::reader::JournalContents;
use super::record::{DeliveryRecord, EndReason, Intent, OutcomeRecord, OutcomeStatus, Record};
use crate::outcome::ReportRow;

/// One row as the journal knows it.
#[derive(Clone, Default, PartialEq)]
pub struct RowState {
    pub row: u64,
    pub provider: String,
    pub user: String,
    pub method: String,
    /// Intents written for the row, over all sessions.
    pub attempts: u32,
    /// Distinct sessions that attempted the row.
    pub sessions: u32,
    /// Sealed passwords that may be in force, in order of appearance, without duplicates.
    pub candidates: Vec<String>,
    /// Index in `candidates` of the password confirmed by a succeeded outcome.
    pub confirmed: Option<usize>,
    /// The last final outcome's status, while the row is not reopened.
    pub final_status: Option<OutcomeStatus>,
    /// The last final outcome's report, while the row is not reopened.
    pub report: Option<ReportRow>,
    /// (session, attempt) of intents without any outcome.
    pub unanswered: BTreeSet<(u32, u32)>,
    /// Some answer since the last success left it open whether the provider applied the password
    /// (a timeout, a broken connection, a 5xx, an unreadable answer): it may be in force.
    pub ambiguous: bool,
    /// 429 answers recorded for the row.
    pub throttled: u32,
    /// (session, attempt) of the succeeded outcome that confirmed the password.
    pub confirmed_reset: Option<(u32, u32)>,
    /// The last delivery record of the row (see [`RowState::delivery`]).
    last_delivery: Option<DeliveryRecord>,
    session_set: BTreeSet<u32>,
    intents: BTreeMap<(u32, u32), Option<usize>>,
}

impl RowState {
    /// Some intent has no outcome, the row has no final outcome, or its password may be in
    /// force without a confirmation.
    pub fn uncertain(&self) -> bool {
        !self.unanswered.is_empty()
            || match self.final_status {
                None | Some(OutcomeStatus::Uncertain) => true,
                Some(OutcomeStatus::Failed) => self.ambiguous,
                Some(OutcomeStatus::Succeeded | OutcomeStatus::Retry) => false,
            }
    }

    /// Succeeded, and nothing since.
    pub fn succeeded(&self) -> bool {
        self.final_status == Some(OutcomeStatus::Succeeded) && self.unanswered.is_empty()
    }

    /// The delivery of the row's confirmed password to the sink, if one was recorded.
    pub fn delivery(&self) -> Option<&DeliveryRecord> {
        let d = self.last_delivery.as_ref()?;
        let reset = Some((d.reset_session, d.reset_attempt));
        (self.succeeded() && reset == self.confirmed_reset).then_some(d)
    }

    /// Succeeded with a known password (a server that generated one may not have said it),
    /// and that password is not (yet) in the sink.
    pub fn needs_delivery(&self) -> bool {
        self.succeeded()
            && self.confirmed_password().is_some()
            && !self.delivery().is_some_and(|d| d.state.delivered())
    }

    /// The confirmed sealed password.
    pub fn confirmed_password(&self) -> Option<&str> {
        self.confirmed
            .and_then(|i| self.candidates.get(i))
            .map(String::as_str)
    }

    fn add_candidate(&mut self, sealed: &Option<String>) -> Option<usize> {
        let sealed = sealed.as_ref()?;
        if let Some(i) = self.candidates.iter().position(|c| c == sealed) {
            return Some(i);
        }
        self.candidates.push(sealed.clone());
        Some(self.candidates.len() - 1)
    }

    fn apply_intent(&mut self, rec: &Intent) {
        rec.provider.clone_into(&mut self.provider);
        rec.user.clone_into(&mut self.user);
        rec.method.clone_into(&mut self.method);
        self.attempts += 1;
        self.session_set.insert(rec.session);
        self.sessions = self.session_set.len() as u32;
        let candidate = self.add_candidate(&rec.password);
        self.intents.insert((rec.session, rec.attempt), candidate);
        self.unanswered.insert((rec.session, rec.attempt));
        self.final_status = None;
        self.report = None;
        self.confirmed = None;
        self.confirmed_reset = None;
    }

    fn apply_outcome(&mut self, rec: &OutcomeRecord) {
        let key = (rec.session, rec.attempt);
        self.unanswered.remove(&key);
        if rec.may_be_applied || rec.status == OutcomeStatus::Uncertain {
            self.ambiguous = true;
        }
        if rec.http_status == Some(429) {
            self.throttled += 1;
        }
        let server = self.add_candidate(&rec.password);
        if let (true, Some(r)) = (self.user.is_empty(), &rec.report) {
            (self.provider, self.user, self.method) =
                (r.provider.clone(), r.user.clone(), r.method.clone());
        }
        match rec.status {
            OutcomeStatus::Retry => return,
            OutcomeStatus::Succeeded => {
                self.confirmed = server.or_else(|| self.intents.get(&key).copied().flatten());
                self.confirmed_reset = Some(key);
                self.unanswered.clear();
                self.ambiguous = false;
            }
            OutcomeStatus::Failed | OutcomeStatus::Uncertain => {
                self.confirmed = None;
                self.confirmed_reset = None;
            }
        }
        self.final_status = Some(rec.status);
        self.report.clone_from(&rec.report);
    }
}

impl fmt::Debug for RowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowState")
            .field("row", &self.row)
            .field("user", &self.user)
            .field("attempts", &self.attempts)
            .field("sessions", &self.sessions)
            .field("candidates", &self.candidates.len())
            .field("confirmed", &self.confirmed)
            .field("final_status", &self.final_status)
            .field("unanswered", &self.unanswered)
            .finish_non_exhaustive()
    }
}

/// Row counts of a journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub uncertain: u64,
}

/// Every row the journal mentions, plus the sessions.
#[derive(Debug, Clone, Default)]
pub struct JournalState {
    pub rows: BTreeMap<u64, RowState>,
    /// Session records seen.
    pub sessions: u32,
    /// How the last session ended, if it wrote an `end` record.
    pub last_end: Option<EndReason>,
    max_session: u32,
}

impl From<&JournalContents> for JournalState {
    fn from(contents: &JournalContents) -> JournalState {
        let mut state = JournalState::default();
        for rec in &contents.records {
            state.apply(rec);
        }
        state
    }
}

impl JournalState {
    fn apply(&mut self, rec: &Record) {
        match rec {
            Record::Header(_) => {}
            Record::Session(s) => {
                self.sessions += 1;
                self.last_end = None;
                self.note_session(s.session);
            }
            Record::Intent(i) => {
                self.note_session(i.session);
                self.row(i.row).apply_intent(i);
            }
            Record::Outcome(o) => {
                self.note_session(o.session);
                self.row(o.row).apply_outcome(o);
            }
            Record::Delivery(d) => self.row(d.row).last_delivery = Some(d.clone()),
            Record::End(e) => {
                self.note_session(e.session);
                self.last_end = (e.session == self.max_session).then_some(e.reason);
            }
        }
    }

    fn note_session(&mut self, session: u32) {
        self.max_session = self.max_session.max(session);
    }

    fn row(&mut self, row: u64) -> &mut RowState {
        self.rows.entry(row).or_insert_with(|| RowState {
            row,
            ..RowState::default()
        })
    }

    /// The number for the next session record (1 for a fresh journal).
    pub fn next_session(&self) -> u32 {
        self.max_session + 1
    }

    /// Rows that succeeded and need no further reset.
    pub fn rows_succeeded(&self) -> BTreeSet<u64> {
        self.rows
            .values()
            .filter(|r| r.succeeded())
            .map(|r| r.row)
            .collect()
    }

    /// Rows a resume must reset again.
    #[cfg(test)]
    pub fn rows_uncertain(&self) -> BTreeSet<u64> {
        self.rows
            .values()
            .filter(|r| r.uncertain())
            .map(|r| r.row)
            .collect()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            rows: self.rows.len() as u64,
            ..Counts::default()
        };
        for r in self.rows.values() {
            if r.uncertain() {
                c.uncertain += 1;
            } else if r.succeeded() {
                c.succeeded += 1;
            } else {
                c.failed += 1;
            }
        }
        c
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
