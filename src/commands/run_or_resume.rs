//! `run --resume-unfinished`: one command a schedule can repeat until its period's rotation is
//! done. With a stable `--out` folder per period (e.g. `/data/2026-11`), a restarted pod, a
//! re-created Job or the next timer tick continues the same rotation instead of starting anew.
//!
//! Invariants:
//! - `--out` without a journal: an ordinary `run`.
//! - A journal of another manifest or config (by SHA-256, as `resume` checks them) is refused,
//!   exit 2, nothing sent: the folder belongs to another rotation.
//! - A finished run (every manifest row has a final, certain outcome and the run key is gone:
//!   the same test `run` uses to remove the key) exits 0 saying so, sending nothing.
//! - Anything else is resumed exactly as `credrotate resume --out DIR` would.
//!
//! The journal is only read here, never written: `resume` takes the lock and checks again.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use sha2::Digest;

use super::resume::{resume, ResumeOptions};
use super::run::{start, ConfigSource, RunOptions, DEFAULT_CONFIG};
use super::{Exit, Fatal, UsageContext};
use crate::config::ConfigFile;
use crate::journal::{Header, JOURNAL_FILE, KEY_FILE};

/// What `--out` holds.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Nothing,
    Unfinished,
    /// A finished run: rows succeeded and rows failed.
    Finished {
        succeeded: u64,
        failed: u64,
    },
}

pub async fn run_or_resume(opts: RunOptions) -> Result<Exit, Fatal> {
    match found(&opts).usage()? {
        Found::Nothing => start(opts).await,
        Found::Unfinished => {
            tracing::info!(out = %opts.out.display(), "resuming the unfinished run in the output folder");
            resume(resume_options(opts)).await
        }
        Found::Finished { succeeded, failed } => {
            let dir = opts.out.display();
            crate::say!("credrotate: {dir} holds a finished run of this manifest ({succeeded} succeeded, {failed} failed): already complete, nothing sent");
            tracing::info!(out = %dir, succeeded, failed, "already complete: nothing sent");
            Ok(Exit::Success)
        }
    }
}

/// Looks at the journal in `--out`, if any, and checks it is this manifest's and config's.
fn found(opts: &RunOptions) -> anyhow::Result<Found> {
    if !opts.out.join(JOURNAL_FILE).exists() {
        return Ok(Found::Nothing);
    }
    let (header, state) = crate::report::rebuild::scan_state(&opts.out)?;
    same_rotation(opts, &header)?;
    let counts = state.counts()?;
    // Rows the run leaves out on purpose (exclusions, --retry-from) are never journaled.
    let left_out = crate::report::excluded::journaled(&header.run, &header.manifest.sha256);
    let settled = counts.rows + left_out.excluded.len() as u64 + left_out.unselected;
    let complete = settled >= header.manifest.rows && counts.uncertain == 0;
    if complete && !opts.out.join(KEY_FILE).exists() {
        return Ok(Found::Finished {
            succeeded: counts.succeeded,
            failed: counts.failed,
        });
    }
    Ok(Found::Unfinished)
}

/// Refuses a journal of another manifest or config file.
fn same_rotation(opts: &RunOptions, header: &Header) -> anyhow::Result<()> {
    let dir = opts.out.display();
    let manifest = file_sha256(&opts.manifest)?;
    if manifest != header.manifest.sha256 {
        bail!(
            "{dir} holds a run of another manifest ({}, sha256 {}; {} has sha256 {manifest}): it is not this rotation's to resume (hint: use one --out folder per manifest and period, e.g. /data/2026-11)",
            header.manifest.path, header.manifest.sha256, opts.manifest.display()
        );
    }
    if header.run.shard != opts.unattended.shard {
        let name = |s: Option<crate::values::Shard>| {
            s.map_or("no shard".to_owned(), |s| format!("shard {s}"))
        };
        bail!(
            "{dir} holds the run of {} of this manifest, not of {} (hint: give each shard its own --out folder)",
            name(header.run.shard), name(opts.unattended.shard)
        );
    }
    let Some(path) = config_path(&opts.config) else {
        return Ok(());
    };
    let Some(started) = &header.run.config_file else {
        bail!("{dir} holds a run configured in-process (the demo), which cannot be resumed (hint: choose a new --out folder)");
    };
    let now = ConfigFile::read(&path)?;
    if now.sha256 != started.sha256 {
        bail!(
            "{dir} holds a run started with another config ({}: sha256 {}; {} has sha256 {}): resuming with other settings could reset users differently (hint: restore that config, or use a new --out folder)",
            started.path.display(), started.sha256, now.path.display(), now.sha256
        );
    }
    Ok(())
}

/// The config file this run would read (`None` for an in-process config).
fn config_path(source: &ConfigSource) -> Option<PathBuf> {
    match source {
        ConfigSource::File(Some(path)) => Some(path.clone()),
        ConfigSource::File(None) => Some(PathBuf::from(DEFAULT_CONFIG)),
        ConfigSource::Loaded(_) => None,
    }
}

fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))
        .map_err(|e| anyhow!("{e:#}"))?;
    let digest = sha2::Sha256::digest(&bytes);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `resume` of this run's folder, with its session flags.
fn resume_options(opts: RunOptions) -> ResumeOptions {
    ResumeOptions {
        out: opts.out,
        yes: opts.yes,
        progress: opts.progress,
        grace: opts.grace,
        fsync: opts.fsync,
        identity: None,
        metrics: opts.unattended.metrics_file,
    }
}
