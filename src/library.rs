//! The library API: rotate a manifest from Rust code, as `credrotate run --yes` would, and get
//! the summary back as a value (`examples/library.rs` shows it end to end).
//!
//! Invariants: the same checks as the command line run first (config, credentials, recipients,
//! the whole manifest, the output folder) and a failure there returns an error having sent
//! nothing; the run is journaled and crash-safe like any other, so `credrotate resume` and
//! `credrotate report` work on its folder. Nothing is printed; logs go to whatever `tracing`
//! subscriber the caller installed.

use std::path::PathBuf;
use std::time::Duration;

use crate::commands::run::{rotate as rotate_run, ConfigSource, RunOptions};
use crate::config::Overrides;
use crate::pipeline::Backoff;
use crate::progress::ProgressMode;
pub use crate::report::summary::{Counts, Pacing, Summary};

/// What to rotate, with the command line's defaults for everything else.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The manifest (CSV, JSON or JSON Lines, by extension).
    pub manifest: PathBuf,
    /// A new output folder (created 0700).
    pub out: PathBuf,
    /// The config file (TOML, as for `--config`).
    pub config: PathBuf,
    /// age or SSH public keys to encrypt the export to (at least one).
    pub recipients: Vec<String>,
}

/// What a rotation produced.
#[derive(Debug)]
pub struct Rotated {
    /// The exit code `credrotate run` would have exited with (0 every row succeeded).
    pub exit_code: u8,
    pub summary: Summary,
    /// Report, summary and export, as written into `out`.
    pub files: Vec<PathBuf>,
    /// The encrypted export.
    pub export: Option<PathBuf>,
}

/// Runs the rotation to its end (SIGINT/SIGTERM interrupt it as they would `credrotate run`).
pub async fn rotate(rotation: Rotation) -> anyhow::Result<Rotated> {
    let options = RunOptions {
        manifest: rotation.manifest,
        format: None,
        out: rotation.out,
        config: ConfigSource::File(Some(rotation.config)),
        overrides: Overrides::default(),
        recipients: rotation.recipients,
        recipients_file: None,
        export_plaintext: false,
        backoff: Backoff::default(),
        timeout: Duration::from_secs(30),
        dry_run: false,
        yes: true,
        progress: ProgressMode::Never,
        grace: Duration::from_secs(20),
        fsync: true,
        rails: Default::default(),
        unattended: Default::default(),
    };
    let finished = rotate_run(options).await.map_err(|fatal| fatal.error)?;
    Ok(Rotated {
        exit_code: finished.exit.code(),
        summary: finished.summary,
        files: finished.files,
        export: finished.export,
    })
}
