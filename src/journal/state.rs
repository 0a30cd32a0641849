//! What a journal says about each row: the ground truth for `resume` and `report`, built in one
//! pass over the journal into a compact, fixed-size entry per row (no strings, no secrets, 64
//! bytes encoded), never whole records; for a large manifest the entries live in a temporary
//! file paged through a small cache (`rowstore`), so memory does not grow with the run. Where a row's report, names or
//! confirmed password are needed, the entry points at the journal line ([`Offset`]) that holds
//! them, and a second pass reads just those lines (see `report::rebuild`); likewise an
//! undelivered row's reason stays on its `delivery` line (see `sink::report_cells`).
//!
//! Rules, applied to the records in file order:
//! - every intent is an attempt; its sealed password (if any) is a *candidate*, and so is a
//!   server-generated password in an outcome;
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
//!
//! A row's attempts are sequential (one worker per row, sessions one after another), so the only
//! intent that can still be answered is the row's last one; an intent followed by another
//! without an answer stays unanswered for good (`lost`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Result};

use super::record::{
    DeliveryRecord, EndReason, Intent, OutcomeRecord, OutcomeStatus, PacingRecord, Record,
};
use super::rowstore::RowStore;

#[path = "state_bytes.rs"]
mod bytes;
pub use bytes::ENCODED;

/// Byte offset of a line in `journal.jsonl` (never 0: that is the header).
pub type Offset = u64;

/// One row as the journal knows it: fixed size, no strings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowState {
    /// Intents written for the row, over all sessions.
    pub attempts: u32,
    /// Distinct sessions that attempted the row.
    pub sessions: u32,
    /// 429 answers recorded for the row.
    pub throttled: u32,
    /// (session, attempt) of the last intent.
    last_intent: (u32, u32),
    /// Line of the last intent (the row's names when it has no report), 0 if none.
    pub intent_at: Offset,
    /// Line of the last final outcome (the row's report) while the row is not reopened, 0 if none.
    pub report_at: Offset,
    /// Line holding the confirmed password, 0 if none.
    pub confirmed_at: Offset,
    /// The last intent holds a sealed password.
    intent_sealed: bool,
    /// The last intent has no answer yet.
    open: bool,
    /// An earlier intent was never answered.
    lost: bool,
    /// Some answer since the last success left it open whether the provider applied the password.
    pub ambiguous: bool,
    /// The last final outcome's status, while the row is not reopened.
    pub final_status: Option<OutcomeStatus>,
    /// The succeeded outcome answered the last intent: the confirmed reset is `last_intent`.
    confirmed_last: bool,
    /// Line of the delivery record of the confirmed reset, 0 if none (an undelivered row's
    /// reason is read back from there).
    delivery_at: Offset,
    /// That record says delivered.
    delivered: bool,
    /// The KV version it names (0: none).
    kv_version: u32,
}

impl RowState {
    /// Whether any record mentioned the row.
    pub fn journaled(&self) -> bool {
        self.intent_at != 0 || self.report_at != 0 || self.final_status.is_some()
    }

    /// Some intent has no outcome, the row has no final outcome, or its password may be in
    /// force without a confirmation.
    pub fn uncertain(&self) -> bool {
        self.open
            || self.lost
            || match self.final_status {
                None | Some(OutcomeStatus::Uncertain) => true,
                Some(OutcomeStatus::Failed) => self.ambiguous,
                Some(OutcomeStatus::Succeeded | OutcomeStatus::Retry) => false,
            }
    }

    /// Succeeded, and nothing since.
    pub fn succeeded(&self) -> bool {
        self.final_status == Some(OutcomeStatus::Succeeded) && !self.open && !self.lost
    }

    /// The delivery of the row's confirmed password to the sink, if one was recorded for the
    /// reset that is the row's confirmed one.
    pub fn delivery(&self) -> Option<DeliveryMark> {
        (self.succeeded() && self.delivery_at != 0).then_some(DeliveryMark {
            at: self.delivery_at,
            delivered: self.delivered,
            kv_version: (self.kv_version != 0).then_some(u64::from(self.kv_version)),
        })
    }

    /// (session, attempt) of the succeeded outcome that confirmed the row's password: what a
    /// delivery record names. (A success answering an earlier intent than the last one cannot
    /// happen, as attempts are sequential; such a row has no reset to deliver.)
    pub fn confirmed_reset(&self) -> Option<(u32, u32)> {
        (self.succeeded() && self.confirmed_last).then_some(self.last_intent)
    }

    /// Succeeded with a known password (a server that generated one may not have said it),
    /// and that password is not (yet) in the sink.
    pub fn needs_delivery(&self) -> bool {
        self.confirmed_reset().is_some()
            && self.confirmed_at != 0
            && !self.delivery().is_some_and(|d| d.delivered)
    }

    /// Clears the confirmation and its delivery (a reopened or unconfirmed row).
    fn unconfirm(&mut self) {
        self.confirmed_at = 0;
        self.confirmed_last = false;
        (self.delivery_at, self.delivered, self.kv_version) = (0, false, 0);
    }

    /// A delivery counts only for the reset it names, while that reset is the confirmed one.
    fn apply_delivery(&mut self, rec: &DeliveryRecord, at: Offset) {
        if self.confirmed_reset() != Some((rec.reset_session, rec.reset_attempt)) {
            return;
        }
        self.delivery_at = at;
        self.delivered = rec.state.delivered();
        let version = rec.kv_version.unwrap_or(0);
        self.kv_version = u32::try_from(version).unwrap_or(u32::MAX);
    }

    fn apply_intent(&mut self, rec: &Intent, at: Offset) {
        self.attempts += 1;
        if self.intent_at == 0 || rec.session != self.last_intent.0 {
            self.sessions += 1;
        }
        self.lost |= self.open;
        self.open = true;
        self.last_intent = (rec.session, rec.attempt);
        self.intent_at = at;
        self.intent_sealed = rec.password.is_some();
        self.final_status = None;
        self.report_at = 0;
        self.unconfirm();
    }

    fn apply_outcome(&mut self, rec: &OutcomeRecord, at: Offset) {
        let key = (rec.session, rec.attempt);
        let answers_last = self.intent_at != 0 && key == self.last_intent;
        if answers_last {
            self.open = false;
        }
        if rec.may_be_applied || rec.status == OutcomeStatus::Uncertain {
            self.ambiguous = true;
        }
        if rec.http_status == Some(429) {
            self.throttled += 1;
        }
        match rec.status {
            OutcomeStatus::Retry => return,
            OutcomeStatus::Succeeded => {
                self.confirmed_at = match (rec.password.is_some(), answers_last) {
                    (true, _) => at,
                    (false, true) if self.intent_sealed => self.intent_at,
                    _ => 0,
                };
                (self.confirmed_last, self.delivery_at) = (answers_last, 0);
                (self.delivered, self.kv_version) = (false, 0);
                (self.open, self.lost, self.ambiguous) = (false, false, false);
            }
            OutcomeStatus::Failed | OutcomeStatus::Uncertain => self.unconfirm(),
        }
        self.final_status = Some(rec.status);
        self.report_at = if rec.report.is_some() { at } else { 0 };
    }
}

/// A delivery record in fixed size; its reason (when undelivered) is on the line at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryMark {
    /// Line of the `delivery` record.
    pub at: Offset,
    pub delivered: bool,
    /// The KV version written (or found holding the password).
    pub kv_version: Option<u64>,
}

/// Row counts of a journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub uncertain: u64,
}

/// Every row of the manifest (indexed by row number), plus the sessions.
#[derive(Debug)]
pub struct JournalState {
    /// Index `n - 1` is row `n`; rows never journaled stay at their default.
    rows: RowStore,
    /// Session records seen.
    pub sessions: u32,
    /// How the last session ended, if it wrote an `end` record.
    pub last_end: Option<EndReason>,
    /// Per session, the times of its first and last record: the summary's working time.
    pub spans: BTreeMap<u32, (String, String)>,
    /// Per provider, the pacing of every session that recorded it, added up.
    pub pacing: BTreeMap<String, PacingRecord>,
    max_session: u32,
}

impl JournalState {
    /// An empty state for a manifest of `rows` rows, in memory.
    #[cfg(test)]
    pub fn new(rows: u64) -> JournalState {
        JournalState::with_store(RowStore::in_memory(rows))
    }

    /// An empty state whose row states go to a temporary file in `dir` for a large manifest
    /// (see `rowstore`): memory that does not grow with the run.
    pub fn spilling(rows: u64, dir: &Path) -> Result<JournalState> {
        Ok(JournalState::with_store(RowStore::spilling(rows, dir)?))
    }

    fn with_store(rows: RowStore) -> JournalState {
        JournalState {
            rows,
            sessions: 0,
            last_end: None,
            spans: BTreeMap::new(),
            pacing: BTreeMap::new(),
            max_session: 0,
        }
    }

    /// Applies the record on the line at `at`; a row outside the manifest is an error.
    pub fn apply(&mut self, at: Offset, rec: &Record) -> Result<()> {
        match rec {
            Record::Header(_) => {}
            Record::Session(s) => {
                self.sessions += 1;
                self.last_end = None;
                self.note(s.session, &s.started_at);
            }
            Record::Intent(i) => {
                self.note(i.session, &i.at);
                self.update(i.row, |r| r.apply_intent(i, at))?;
            }
            Record::Outcome(o) => {
                self.note(o.session, &o.at);
                self.update(o.row, |r| r.apply_outcome(o, at))?;
            }
            Record::Delivery(d) => self.update(d.row, |r| r.apply_delivery(d, at))?,
            Record::End(e) => {
                self.note(e.session, &e.at);
                self.last_end = (e.session == self.max_session).then_some(e.reason);
                for (lane, figures) in &e.pacing {
                    self.pacing.entry(lane.clone()).or_default().add(figures);
                }
            }
        }
        Ok(())
    }

    fn note(&mut self, session: u32, at: &str) {
        self.max_session = self.max_session.max(session);
        match self.spans.get_mut(&session) {
            Some(span) => {
                span.1.clear();
                span.1.push_str(at);
            }
            None => {
                self.spans.insert(session, (at.to_owned(), at.to_owned()));
            }
        }
    }

    fn update(&mut self, row: u64, f: impl FnOnce(&mut RowState)) -> Result<()> {
        let index = row.wrapping_sub(1);
        let rows = self.rows.len();
        self.rows.update(index, f)?.ok_or_else(|| {
            anyhow!("the journal names row {row}, but the manifest has {rows} rows (hint: the journal is damaged or belongs to another manifest)")
        })
    }

    /// Row `row`'s state (the default for a row never journaled or outside the manifest).
    pub fn row(&self, row: u64) -> Result<RowState> {
        Ok(self.rows.get(row.wrapping_sub(1))?.unwrap_or_default())
    }

    /// The rows the journal mentions, with their numbers, in row order.
    pub fn journaled(&self) -> impl Iterator<Item = Result<(u64, RowState)>> + '_ {
        (1..=self.rows.len()).filter_map(|n| match self.rows.get(n - 1) {
            Ok(Some(r)) if r.journaled() => Some(Ok((n, r))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }

    /// The number for the next session record (1 for a fresh journal).
    pub fn next_session(&self) -> u32 {
        self.max_session + 1
    }

    /// Rows that succeeded and need no further reset, as a bitset (1 bit per manifest row).
    pub fn rows_succeeded(&self) -> Result<RowSet> {
        let mut set = RowSet::with_rows(self.rows.len());
        for row in self.journaled() {
            let (n, r) = row?;
            if r.succeeded() {
                set.insert(n);
            }
        }
        Ok(set)
    }

    pub fn counts(&self) -> Result<Counts> {
        let mut c = Counts::default();
        for row in self.journaled() {
            let (_, r) = row?;
            c.rows += 1;
            if r.uncertain() {
                c.uncertain += 1;
            } else if r.succeeded() {
                c.succeeded += 1;
            } else {
                c.failed += 1;
            }
        }
        Ok(c)
    }
}

/// A set of row numbers in one bit per manifest row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowSet {
    bits: Vec<u64>,
    len: u64,
}

impl RowSet {
    pub fn with_rows(rows: u64) -> RowSet {
        RowSet {
            bits: vec![0; usize::try_from(rows / 64 + 1).unwrap_or(0)],
            len: 0,
        }
    }

    pub fn insert(&mut self, row: u64) {
        let (word, bit) = ((row / 64) as usize, row % 64);
        if let Some(w) = self.bits.get_mut(word) {
            if *w & (1 << bit) == 0 {
                self.len += 1;
            }
            *w |= 1 << bit;
        }
    }

    pub fn contains(&self, row: u64) -> bool {
        self.bits
            .get((row / 64) as usize)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
