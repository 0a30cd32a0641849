//! The rows a run leaves out on purpose, derived at report time from the manifest and the run
//! spec (the journal holds nothing of them, since nothing was sent): break-glass exclusions get a
//! report line with status `excluded`; rows outside a `--retry-from` selection are only counted.
//!
//! Invariants: the manifest is read only when the run has exclusions or a selection; a manifest
//! that changed since the run started (other SHA-256) or is gone is not guessed at: the rows are
//! left out with a warning, never attributed to the wrong users.

use anyhow::{anyhow, Result};

use crate::config::{RunSpec, Scope};
use crate::manifest::{self, Target};
use crate::outcome::{ReportRow, Status};

/// What a run left out.
#[derive(Debug, Default)]
pub struct OutOfScope {
    /// Report lines of the excluded rows, in row order.
    pub excluded: Vec<ReportRow>,
    /// Rows outside the `--retry-from` selection.
    pub unselected: u64,
}

/// Reads the manifest for the rows `spec` leaves out.
pub fn out_of_scope(spec: &RunSpec) -> Result<OutOfScope> {
    let exclusions = spec.exclusions();
    let mut out = OutOfScope::default();
    if exclusions.is_empty() && spec.retry_from.is_none() {
        return Ok(out);
    }
    let rules = spec.config.manifest_rules();
    for row in manifest::open(&spec.manifest, spec.format, &rules)? {
        let row = row.map_err(|p| anyhow!("{p}"))?;
        if !spec.in_shard(&row) {
            continue;
        }
        match spec.scope(&exclusions, row.row, &row.provider, &row.user) {
            Scope::Send => {}
            Scope::Excluded => out.excluded.push(excluded_row(&row)),
            Scope::Unselected => out.unselected += 1,
        }
    }
    Ok(out)
}

/// As [`out_of_scope`], for a journaled run: checks the manifest is the one the run pinned, and
/// warns (leaving the rows out) when it cannot be read.
pub fn journaled(spec: &RunSpec, sha256: &str) -> OutOfScope {
    if spec.exclusions().is_empty() && spec.retry_from.is_none() {
        return OutOfScope::default();
    }
    let now = match file_sha256(&spec.manifest) {
        Ok(now) => now,
        Err(e) => {
            tracing::warn!(
                "excluded rows left out of the report: cannot read the manifest {}: {e:#}",
                spec.manifest.display()
            );
            return OutOfScope::default();
        }
    };
    if now != sha256 {
        tracing::warn!(
            "excluded rows left out of the report: the manifest {} changed since the run started",
            spec.manifest.display()
        );
        return OutOfScope::default();
    }
    out_of_scope(spec).unwrap_or_else(|e| {
        tracing::warn!("excluded rows left out of the report: {e:#}");
        OutOfScope::default()
    })
}

/// The SHA-256 of a file's bytes, lowercase hex (as the journal header pins the manifest).
fn file_sha256(path: &std::path::Path) -> Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn excluded_row(t: &Target) -> ReportRow {
    ReportRow {
        row: t.row,
        user: t.user.clone(),
        method: t.method.clone(),
        provider: t.provider.clone(),
        status: Status::Excluded,
        attempts: 0,
        http_status: None,
        error_code: None,
        error_message: Some("excluded (break-glass list): not sent".into()),
        operation_id: None,
        request_id: None,
        started_at: String::new(),
        finished_at: String::new(),
        provider_result: None,
        revoke_sessions: None,
        client_request_id: None,
        delivery: None,
        kv_version: None,
    }
}
