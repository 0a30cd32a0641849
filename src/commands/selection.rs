//! Which manifest rows a run (or resume) sends, and in what order of phases: break-glass
//! exclusions and `--retry-from` narrow the manifest; `--canary N` takes the first N rows of each
//! provider ahead of the rest.
//!
//! Invariants: an excluded row is never handed to the pipeline; a `--retry-from` run sends only
//! the rows the earlier run left failed or uncertain, read from that run's journal (row numbers,
//! never input values, so no secret is copied) and only against the very manifest it used; the
//! canary rows are not sent again in the main phase.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::config::{RunSpec, Scope};
use crate::journal::{RowSet, RunLock, JOURNAL_FILE};
use crate::manifest::{self, Problem, Rules, Target};
use crate::values::RetryFrom;

/// A stream of manifest rows for the pipeline.
pub type RowStream = Box<dyn Iterator<Item = Result<Target, Problem>> + Send>;

/// Per provider: rows to send and rows excluded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub send: BTreeMap<String, u64>,
    pub excluded: BTreeMap<String, u64>,
    /// Rows outside `--retry-from`'s selection.
    pub unselected: u64,
}

impl Tally {
    pub fn to_send(&self) -> u64 {
        self.send.values().sum()
    }

    pub fn excluded_total(&self) -> u64 {
        self.excluded.values().sum()
    }
}

/// Counts what the run will do with each row; reads the manifest again only when exclusions or
/// a row selection apply (else the plan's counts are the answer).
pub fn tally(spec: &RunSpec, rules: &Rules, by_provider: &BTreeMap<String, u64>) -> Result<Tally> {
    let exclusions = spec.exclusions();
    if exclusions.is_empty() && spec.retry_from.is_none() {
        return Ok(Tally {
            send: by_provider.clone(),
            ..Tally::default()
        });
    }
    let mut t = Tally::default();
    for row in manifest::open(&spec.manifest, spec.format, rules)? {
        let row = row.map_err(|p| anyhow!("{p}"))?;
        if !spec.in_shard(&row) {
            continue;
        }
        match spec.scope(&exclusions, row.row, &row.provider, &row.user) {
            Scope::Send => *t.send.entry(row.provider).or_default() += 1,
            Scope::Excluded => *t.excluded.entry(row.provider).or_default() += 1,
            Scope::Unselected => t.unselected += 1,
        }
    }
    Ok(t)
}

/// The rows to send: in scope and not in `skip` (rows already done, or the canary's).
pub fn rows_to_send(spec: &RunSpec, rules: &Rules, skip: RowSet) -> Result<RowStream> {
    let exclusions = spec.exclusions();
    let spec = spec.clone();
    let rows = manifest::open(&spec.manifest, spec.format, rules)?;
    Ok(Box::new(rows.filter(move |r| match r {
        Ok(t) => {
            !skip.contains(t.row)
                && spec.in_shard(t)
                && spec.scope(&exclusions, t.row, &t.provider, &t.user) == Scope::Send
        }
        Err(_) => true,
    })))
}

/// The canary: the first `n` rows to send of each provider.
pub fn canary_rows(spec: &RunSpec, rules: &Rules, tally: &Tally) -> Result<Vec<Target>> {
    let n = u64::from(spec.canary);
    let mut wanted: BTreeMap<&String, u64> = tally
        .send
        .iter()
        .map(|(p, rows)| (p, (*rows).min(n)))
        .filter(|(_, w)| *w > 0)
        .collect();
    let mut canary = Vec::new();
    for row in rows_to_send(spec, rules, RowSet::default())? {
        if wanted.is_empty() {
            break;
        }
        let row = row.map_err(|p| anyhow!("{p}"))?;
        if let Some(w) = wanted.get_mut(&row.provider) {
            *w -= 1;
            if *w == 0 {
                wanted.remove(&row.provider);
            }
            canary.push(row);
        }
    }
    Ok(canary)
}

/// `--retry-from DIR`: the rows that run left failed or uncertain, after checking that it used
/// the same manifest (`sha256` of this run's).
pub fn retry_from(dir: &Path, manifest_sha256: &str) -> Result<RetryFrom> {
    if !dir.join(JOURNAL_FILE).exists() {
        bail!(
            "--retry-from {}: no journal there (hint: name the --out folder of the earlier run)",
            dir.display()
        );
    }
    crate::report::files::check_owned(dir)?;
    let lock = RunLock::acquire(dir)?;
    let (header, state) = crate::report::rebuild::scan_state(dir)?;
    drop(lock);
    if header.manifest.sha256 != manifest_sha256 {
        bail!(
            "--retry-from {}: that run used another manifest ({}, sha256 {}); pass the same --manifest so its row numbers mean the same rows",
            dir.display(),
            header.manifest.path,
            header.manifest.sha256
        );
    }
    let mut rows = Vec::new();
    for row in state.journaled() {
        let (n, r) = row?;
        if !r.succeeded() {
            rows.push(n);
        }
    }
    if rows.is_empty() {
        bail!(
            "--retry-from {}: that run has no failed or uncertain row to retry (rows it never attempted are finished with `credrotate resume --out {}`)",
            dir.display(),
            dir.display()
        );
    }
    Ok(RetryFrom {
        dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        rows,
    })
}
