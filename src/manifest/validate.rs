//! The validation pass: read the whole manifest once, check every row, find duplicates, and
//! either list every problem or return the [`Plan`].
//!
//! Invariants:
//! - Memory does not grow with the rows: each row's key (a 128-bit hash and its position) goes
//!   to [`Dupes`], which spills sorted runs to a temporary file beyond a fixed buffer; problems
//!   are capped at [`LIMIT`] shown plus a count of the rest.
//! - Problems come out in file order (line, then column), duplicates merged in at their place.
//! - The SHA-256 covers exactly the bytes read; a valid manifest is always read to its end.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::dupes::{Dupes, KeyEntry};
use super::input::{Item, Items};
use super::record::problem;
use super::resolve::resolve;
use super::source::open_source;
use super::types::{Format, Location, ManifestError, Plan, Problem, Rules, Target};

/// Most problems listed; the rest are counted in one final problem.
const LIMIT: usize = 1000;

pub(crate) fn validate(
    path: &Path,
    format: Option<Format>,
    rules: &Rules,
) -> Result<Plan, ManifestError> {
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let source = open_source(path, format, Some(Arc::clone(&hasher)))?;
    let file = Arc::new(path.to_owned());
    let mut pass = Pass::default();
    source.header.into_iter().for_each(|p| pass.report(p));
    if let Some(rows) = source.rows {
        pass.read_all(rows, rules, &file)
            .map_err(|source| ManifestError::Io {
                path: path.to_owned(),
                source,
            })?;
    }
    let plan = pass.plan();
    let io_error = |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    };
    let dups = std::mem::take(&mut pass.keys).finish().map_err(io_error)?;
    let problems = pass.finish(dups, &file);
    if !problems.is_empty() {
        return Err(ManifestError::Invalid(problems));
    }
    let digest = hasher
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .finalize();
    let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Plan { sha256, ..plan })
}

/// The state of one validation pass.
#[derive(Default)]
struct Pass {
    /// The first `LIMIT + 1` problems in file order (one more than shown, so the summary can
    /// point at the first one not shown).
    problems: Vec<Problem>,
    /// All problems reported, shown or not (duplicates not included).
    total: u64,
    keys: Dupes,
    /// Data rows read, good or bad.
    rows: u64,
    by_provider: BTreeMap<String, u64>,
    new_passwords: u64,
    /// Rows saying `require_change = false` to a provider that forces a change, and the first.
    change_forced: u64,
    first_change_forced: Option<(Location, String)>,
}

impl Pass {
    /// Checks every row; a file without any is a problem too.
    fn read_all(&mut self, rows: Items, rules: &Rules, file: &Arc<PathBuf>) -> io::Result<()> {
        for item in rows {
            self.item(item, rules)?;
        }
        if self.rows == 0 {
            let loc = Location {
                file: Arc::clone(file),
                line: 1,
                column: None,
            };
            let hint = "add one row (object) per user whose password is to be reset";
            self.report(problem(
                &loc,
                None,
                "manifest has no rows",
                Some(hint.into()),
            ));
        }
        Ok(())
    }

    /// The plan of what was read (without the digest, which the caller holds).
    fn plan(&mut self) -> Plan {
        Plan {
            rows: self.rows,
            rows_by_provider: std::mem::take(&mut self.by_provider),
            warnings: self.warnings(),
            sha256: String::new(),
        }
    }

    fn report(&mut self, p: Problem) {
        self.total += 1;
        if self.problems.len() <= LIMIT {
            self.problems.push(p);
        }
    }

    fn item(&mut self, item: Item, rules: &Rules) -> io::Result<()> {
        match item {
            Item::Row(raw) => {
                self.rows += 1;
                let checked = resolve(raw, self.rows, rules);
                checked.problems.into_iter().for_each(|p| self.report(p));
                self.count(&checked.target)?;
                self.check_change(&checked.target, rules);
            }
            Item::Bad(p) => {
                self.rows += 1;
                self.report(p);
            }
            Item::FileProblem(p) => self.report(p),
            Item::Io(e) => return Err(e),
        }
        Ok(())
    }

    /// Records a row's key for duplicate detection and counts it for the plan.
    fn count(&mut self, t: &Target) -> io::Result<()> {
        if t.new_password.is_some() {
            self.new_passwords += 1;
        }
        if t.user.is_empty() || t.provider.is_empty() {
            return Ok(());
        }
        match self.by_provider.get_mut(&t.provider) {
            Some(n) => *n += 1,
            None => {
                self.by_provider.insert(t.provider.clone(), 1);
            }
        }
        self.keys.push(KeyEntry {
            key: row_key(&t.provider, &t.user, &t.method),
            line: t.location.line,
            column: t.location.column.unwrap_or(0),
        })
    }

    /// Counts a row whose `require_change = false` its provider will not honour.
    fn check_change(&mut self, t: &Target, rules: &Rules) {
        let forced = rules
            .providers
            .get(&t.provider)
            .is_some_and(|p| p.forces_change);
        if forced && t.require_change == Some(false) {
            self.change_forced += 1;
            self.first_change_forced
                .get_or_insert_with(|| (t.location.clone(), t.provider.clone()));
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.new_passwords > 0 {
            warnings.push(format!(
                "{} row(s) carry a `new_password`: the manifest holds secrets; restrict access to \
                 it and delete it after the run, or leave `new_password` out to generate passwords",
                self.new_passwords
            ));
        }
        if let Some((at, provider)) = &self.first_change_forced {
            warnings.push(format!(
                "{} row(s) say require_change = false (the first at {at}), but provider {provider:?} \
                 resets through Graph's resetPassword, which always makes the user change the \
                 password at next sign-in (hint: use kind = \"graph-profile\" to control \
                 forceChangePasswordNextSignIn, or leave require_change out)",
                self.change_forced
            ));
        }
        warnings
    }

    /// Every problem in file order, duplicates included, capped at [`LIMIT`] plus a summary.
    fn finish(self, dups: Vec<KeyEntry>, file: &Arc<PathBuf>) -> Vec<Problem> {
        let total = self.total + dups.len() as u64;
        let dup_problems = dups
            .iter()
            .take(LIMIT + 1)
            .map(|d| duplicate_problem(d, file));
        let mut merged = merge_by_position(self.problems, dup_problems.collect());
        merged.truncate(LIMIT + 1);
        if merged.len() > LIMIT {
            let first_hidden = merged.pop().map(|p| p.location);
            let hidden = total.saturating_sub(LIMIT as u64);
            if let Some(loc) = first_hidden {
                let message = format!("{hidden} more problem(s) not shown, the first of them here");
                let hint = "fix the problems above and validate again".into();
                merged.push(problem(&loc, None, message, Some(hint)));
            }
        }
        merged
    }
}

/// 128 bits of SHA-256 over the row key. Compared case-insensitively: identity providers treat
/// UPNs, DNs and GUIDs so, and two spellings of one user are still one user reset twice.
fn row_key(provider: &str, user: &str, method: &str) -> [u64; 2] {
    let mut h = Sha256::new();
    for part in [provider, user, method] {
        h.update(part.to_lowercase().as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let half = |i: usize| {
        d[i..i + 8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    [half(0), half(8)]
}

fn duplicate_problem(d: &KeyEntry, file: &Arc<PathBuf>) -> Problem {
    let column = (d.column > 0).then_some(d.column);
    let loc = Location {
        file: Arc::clone(file),
        line: d.line,
        column,
    };
    let first = match d.key[1] {
        0 => format!("line {}", d.key[0]),
        col => format!("line {}:{col}", d.key[0]),
    };
    let message = format!("duplicate of the row at {first} (same provider, user and method)");
    let hint = "remove one of the two rows; each user is reset once per run".into();
    problem(&loc, Some("user"), message, Some(hint))
}

/// Merges two lists already in file order into one, stable (ties keep `a` first).
fn merge_by_position(a: Vec<Problem>, b: Vec<Problem>) -> Vec<Problem> {
    let pos = |p: &Problem| (p.location.line, p.location.column.unwrap_or(0));
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut b = b.into_iter().peekable();
    for p in a {
        while let Some(q) = b.next_if(|q| pos(q) < pos(&p)) {
            out.push(q);
        }
        out.push(p);
    }
    out.extend(b);
    out
}
