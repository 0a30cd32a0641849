//! Server-side truth: who exists, each user's current password, resets applied, long-running
//! operations; plus the handle ([`Shared`]) every route receives.
//!
//! Invariants:
//! - A password changes only through [`Directory::set_password`] (synchronous answers) or when a
//!   pending operation falls due in [`Directory::apply_due`]; a 4xx/5xx answer never changes one.
//! - Every access goes through [`Shared::directory`], which applies due operations first, so
//!   anything observable (poll, verify, stats, another reset) sees them applied, even if the
//!   client never polls. No timer is needed.
//! - Operations fall due in acceptance order: their delay is one constant per sandbox and they
//!   are stamped under the lock, so the pending queue is a FIFO sorted by due time.
//! - Locks are never nested and never held across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::accounts::Accounts;
use super::counters::{Counters, InFlight};
use super::hostile::OpMask;
use super::limits::{Announced, Limiter};
use super::tokens::Tokens;
use super::{random, Options};

/// Everything a route handler needs, behind one `Arc`.
pub(crate) struct Shared {
    pub(crate) opts: Options,
    /// The bearer tokens accepted: the fixed one and those the token endpoint issued.
    pub(crate) token: Tokens,
    /// `http://127.0.0.1:PORT`, used to build `Location` and `@odata.context` URLs.
    pub(crate) base_url: String,
    /// Where redirects and foreign `Location`s point (`hostile`).
    pub(crate) trap: super::hostile::Trap,
    started: Instant,
    directory: Mutex<Directory>,
    counters: Mutex<Counters>,
    /// One limit (bucket or window) and announced `Retry-After` per route family, made on
    /// first use.
    limits: Mutex<BTreeMap<&'static str, FamilyLimit>>,
    accounts: Mutex<Accounts>,
    pub(crate) in_flight: InFlight,
    /// `POST /_sandbox/faults {"error_ratio": R}`: replaces `--error-ratio` from now on (a
    /// storm that starts or ends during a run).
    error_ratio: Mutex<Option<f64>>,
    /// The 503 dice ([`Shared::error_due`]).
    errors: Mutex<random::Spread>,
}

/// A poisoned lock only means another request panicked mid-update; the counters and passwords
/// are still the best truth we have, so keep serving rather than cascade the panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(
        opts: Options,
        token: String,
        base_url: String,
        trap: super::hostile::Trap,
    ) -> Self {
        let now = Instant::now();
        let directory = Directory::new(opts.users.as_deref(), opts.initial_password.clone());
        Shared {
            token: Tokens::new(token, opts.oauth.clone()),
            opts,
            base_url,
            trap,
            started: now,
            directory: Mutex::new(directory),
            counters: Mutex::new(Counters::default()),
            limits: Mutex::new(BTreeMap::new()),
            accounts: Mutex::new(Accounts::default()),
            in_flight: InFlight::default(),
            error_ratio: Mutex::new(None),
            errors: Mutex::new(random::Spread::new()),
        }
    }

    /// The share of reset requests answered 503 now: `--error-ratio`, unless changed since.
    pub(crate) fn error_ratio(&self) -> f64 {
        lock(&self.error_ratio).unwrap_or(self.opts.faults.error_ratio)
    }

    pub(crate) fn set_error_ratio(&self, ratio: f64) {
        *lock(&self.error_ratio) = Some(ratio);
    }

    /// Whether this reset write is answered 503: exactly the error ratio of writes, spread
    /// evenly from a random start ([`random::Spread`]), so a test's few dozen requests at 15 %
    /// always meet some 503s while a long storm still has no fixed pattern to lock onto.
    pub(crate) fn error_due(&self) -> bool {
        let ratio = self.error_ratio();
        lock(&self.errors).next(ratio)
    }

    /// The directory, with every operation that has fallen due already applied (and its user
    /// marked must-change: Graph's resetPassword always prompts a change at next sign-in).
    pub(crate) fn directory(&self) -> MutexGuard<'_, Directory> {
        let mut dir = lock(&self.directory);
        let applied = dir.apply_due(Instant::now());
        if !applied.is_empty() {
            let mut accounts = self.accounts();
            applied
                .iter()
                .for_each(|u| accounts.set_must_change(u, true));
        }
        dir
    }

    pub(crate) fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whole seconds since the sandbox started: the index into the per-second series.
    pub(crate) fn second_now(&self) -> usize {
        usize::try_from(self.uptime().as_secs()).unwrap_or(usize::MAX - 1)
    }

    /// Session revocations, require-change flags and Wristband codes (never held together with
    /// the directory lock).
    pub(crate) fn accounts(&self) -> MutexGuard<'_, Accounts> {
        lock(&self.accounts)
    }

    /// Charges one request to `family`'s limit (see `limits`); `Err(wait)` when it is spent.
    /// Counts the request if it came inside a `Retry-After` window announced to `family`.
    pub(crate) fn take_token(&self, family: &'static str) -> Result<(), Duration> {
        let now = Instant::now();
        let (taken, inside) = {
            let mut limits = lock(&self.limits);
            let entry = limits.entry(family).or_insert_with(|| FamilyLimit {
                limiter: Limiter::for_family(&self.opts, family, now),
                announced: Announced::default(),
            });
            let before = (entry.announced.inside, entry.announced.in_flight);
            entry.announced.arrived(now);
            let taken = match &mut entry.limiter {
                Some(l) => l.try_take(now),
                None => Ok(()),
            };
            if let Err(wait) = taken {
                let delivery = self.opts.faults.latency + self.opts.faults.jitter;
                entry.announced.announce(now, wait, delivery);
            }
            let a = &entry.announced;
            (taken, (a.inside > before.0, a.in_flight > before.1))
        };
        match inside {
            (true, _) => self.counters().inside_retry_after(family),
            (_, true) => self.counters().in_flight_after_429(family),
            _ => {}
        }
        taken
    }
}

/// A family's limit and the `Retry-After` windows announced to it.
struct FamilyLimit {
    limiter: Option<Limiter>,
    announced: Announced,
}

#[derive(Debug, Default)]
struct UserRecord {
    /// `None` until the first reset, unless `Options::initial_password` was given.
    password: Option<String>,
    resets: u64,
}

/// What became (or will become) of an accepted operation.
#[derive(Debug)]
enum Fate {
    Pending { password: String, fail: bool },
    Succeeded,
    Failed,
}

#[derive(Debug)]
struct Operation {
    user: String,
    method: String,
    created: SystemTime,
    due: Instant,
    delay: Duration,
    fate: Fate,
    mask: OpMask,
}

/// A read-only picture of one operation, for the operation resource.
#[derive(Debug, Clone)]
pub(crate) struct OperationView {
    pub(crate) method: String,
    /// `running`, `succeeded` or `failed`.
    pub(crate) status: &'static str,
    pub(crate) created: SystemTime,
    pub(crate) last_action: SystemTime,
}

#[derive(Debug, Default)]
pub(crate) struct Directory {
    /// When true only the listed users exist; otherwise any id exists on first use.
    restricted: bool,
    initial_password: Option<String>,
    users: HashMap<String, UserRecord>,
    operations: HashMap<String, Operation>,
    pending: VecDeque<String>,
    resets_total: u64,
    operations_failed: u64,
}

impl Directory {
    fn new(users: Option<&[String]>, initial_password: Option<String>) -> Self {
        let mut dir = Directory {
            restricted: users.is_some(),
            initial_password,
            ..Directory::default()
        };
        for user in users.unwrap_or_default() {
            dir.users.insert(user.clone(), dir.fresh_record());
        }
        dir
    }

    fn fresh_record(&self) -> UserRecord {
        UserRecord {
            password: self.initial_password.clone(),
            resets: 0,
        }
    }

    /// Creates `user` (with the initial password) if it does not exist: `POST /_sandbox/users`.
    pub(crate) fn add_user(&mut self, user: &str) {
        if !self.users.contains_key(user) {
            let record = self.fresh_record();
            self.users.insert(user.to_owned(), record);
        }
    }

    pub(crate) fn exists(&self, user: &str) -> bool {
        !self.restricted || self.users.contains_key(user)
    }

    /// Sets `user`'s password now and counts one applied reset. Callers check `exists` first.
    pub(crate) fn set_password(&mut self, user: &str, password: String) {
        if !self.users.contains_key(user) {
            let record = self.fresh_record();
            self.users.insert(user.to_owned(), record);
        }
        if let Some(record) = self.users.get_mut(user) {
            record.password = Some(password);
            record.resets += 1;
            self.resets_total += 1;
        }
    }

    /// Records an accepted reset that takes effect after `delay` (or fails then, if `fail`).
    /// Returns the operation id.
    pub(crate) fn accept(
        &mut self,
        user: &str,
        method: &str,
        password: String,
        delay: Duration,
        fail: bool,
    ) -> String {
        let id = random::guid();
        let op = Operation {
            user: user.to_owned(),
            method: method.to_owned(),
            created: SystemTime::now(),
            due: Instant::now() + delay,
            delay,
            fate: Fate::Pending { password, fail },
            mask: OpMask::Honest,
        };
        self.operations.insert(id.clone(), op);
        self.pending.push_back(id.clone());
        id
    }

    /// Completes every pending operation whose time has come, in acceptance order; returns the
    /// users whose password changed.
    fn apply_due(&mut self, now: Instant) -> Vec<String> {
        let mut applied = Vec::new();
        while let Some(id) = self.pending.front() {
            let Some(op) = self.operations.get_mut(id) else {
                self.pending.pop_front();
                continue;
            };
            if op.due > now {
                break;
            }
            let fate = std::mem::replace(&mut op.fate, Fate::Succeeded);
            let user = op.user.clone();
            match fate {
                Fate::Pending { fail: true, .. } => {
                    op.fate = Fate::Failed;
                    self.operations_failed += 1;
                }
                Fate::Pending { password, .. } => {
                    self.set_password(&user, password);
                    applied.push(user);
                }
                done => op.fate = done,
            }
            self.pending.pop_front();
        }
        applied
    }

    /// Makes operation `id`'s status resource misbehave (`hostile`).
    pub(crate) fn mask_operation(&mut self, id: &str, mask: OpMask) {
        if let Some(op) = self.operations.get_mut(id) {
            op.mask = mask;
        }
    }

    /// The operation `id` if it belongs to `user` (and is not hidden by a fault).
    pub(crate) fn operation(&self, user: &str, id: &str) -> Option<OperationView> {
        let op = self.operations.get(id).filter(|op| op.user == user)?;
        let (status, last_action) = match (op.mask, &op.fate) {
            (OpMask::Hidden, _) => return None,
            (OpMask::UnknownState, _) => ("unknownFutureValue", op.created),
            // Graph reports notStarted before running: the first half of the delay.
            (OpMask::Honest, Fate::Pending { .. }) if op.due > Instant::now() + op.delay / 2 => {
                ("notStarted", op.created)
            }
            (OpMask::Honest, Fate::Pending { .. }) => ("running", op.created),
            (OpMask::Honest, Fate::Succeeded) => ("succeeded", op.created + op.delay),
            (OpMask::Honest, Fate::Failed) => ("failed", op.created + op.delay),
        };
        Some(OperationView {
            method: op.method.clone(),
            status,
            created: op.created,
            last_action,
        })
    }

    /// Whether `user` has a known password (listed with an initial one, or reset before).
    pub(crate) fn has_password(&self, user: &str) -> bool {
        match self.users.get(user) {
            Some(record) => record.password.is_some(),
            None => !self.restricted && self.initial_password.is_some(),
        }
    }

    /// Would signing in as `user` with `password` succeed now?
    pub(crate) fn password_matches(&self, user: &str, password: &str) -> bool {
        let current = match self.users.get(user) {
            Some(record) => record.password.as_deref(),
            // Unlisted users of an unrestricted sandbox exist with the initial password.
            None if !self.restricted => self.initial_password.as_deref(),
            None => None,
        };
        current == Some(password)
    }

    pub(crate) fn resets_total(&self) -> u64 {
        self.resets_total
    }

    pub(crate) fn resets_per_user(&self) -> BTreeMap<&str, u64> {
        self.users
            .iter()
            .filter(|(_, r)| r.resets > 0)
            .map(|(user, r)| (user.as_str(), r.resets))
            .collect()
    }

    pub(crate) fn operations_pending(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn operations_failed(&self) -> u64 {
        self.operations_failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(users: &[&str]) -> Directory {
        let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
        Directory::new(Some(&users), Some("initial".into()))
    }

    #[test]
    fn operations_apply_in_order_when_due() {
        let mut dir = listed(&["alice"]);
        let t0 = Instant::now();
        let d = Duration::from_secs(60);
        let first = dir.accept("alice", "m", "one".into(), d, false);
        dir.accept("alice", "m", "two".into(), d, false);
        dir.apply_due(t0);
        assert!(dir.password_matches("alice", "initial"));
        // Graph's order: notStarted for the first half of the delay, then running.
        assert_eq!(dir.operation("alice", &first).unwrap().status, "notStarted");
        dir.apply_due(t0 + Duration::from_secs(120));
        assert!(dir.password_matches("alice", "two"));
        assert_eq!(dir.operation("alice", &first).unwrap().status, "succeeded");
        assert_eq!(dir.resets_total(), 2);
        assert_eq!(dir.operations_pending(), 0);
    }

    #[test]
    fn failed_operations_leave_the_password() {
        let mut dir = listed(&["alice"]);
        let id = dir.accept("alice", "m", "new".into(), Duration::ZERO, true);
        dir.apply_due(Instant::now() + Duration::from_millis(1));
        assert!(dir.password_matches("alice", "initial"));
        assert_eq!(dir.operation("alice", &id).unwrap().status, "failed");
        assert_eq!((dir.resets_total(), dir.operations_failed()), (0, 1));
    }

    #[test]
    fn operations_are_scoped_to_their_user() {
        let mut dir = listed(&["alice", "bob"]);
        let id = dir.accept("alice", "m", "x".into(), Duration::ZERO, false);
        assert!(dir.operation("bob", &id).is_none());
        assert!(dir.operation("alice", "nope").is_none());
    }

    #[test]
    fn restricted_and_open_directories() {
        let dir = listed(&["alice"]);
        assert!(dir.exists("alice") && !dir.exists("mallory"));
        assert!(!dir.password_matches("mallory", "initial"));
        let open = Directory::new(None, None);
        assert!(open.exists("anyone"));
        assert!(!open.password_matches("anyone", ""));
    }
}
