//! The run specification: everything a run was started with, typed and without secrets — the
//! manifest, the validated configuration, and the run-level flags. `run` builds it once; the
//! journal header keeps it (serde), and `resume` and `report` read it back as values.
//!
//! Invariants: nothing here is a string to be parsed again (rates, durations, templates and
//! recipients are values); no secret is in it (credentials are named by their sources, and read
//! again from them by [`super::Config::from_spec`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigSpec;
use crate::manifest::Format;

/// What a run was started with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The manifest, as an absolute path.
    pub manifest: PathBuf,
    /// `--format`, when given (else by extension).
    pub format: Option<Format>,
    /// The config file the settings came from (`None`: configured in-process, the demo).
    pub config_file: Option<ConfigFile>,
    pub config: ConfigSpec,
    /// `--max-attempts`.
    pub max_attempts: u32,
    /// `--max-retry-after`.
    pub max_retry_after: Duration,
    /// `--timeout`, per request.
    pub timeout: Duration,
    /// `--export-plaintext`.
    pub export_plaintext: bool,
    /// `--shard I/N`: the run takes only this shard's rows (absent from unsharded headers, so
    /// their format is unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::values::Shard>,
}

/// A config file and the SHA-256 of its bytes when the run started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub sha256: String,
}

impl ConfigFile {
    /// The file at `path` (made absolute) and its digest now.
    pub fn read(path: &std::path::Path) -> anyhow::Result<ConfigFile> {
        use sha2::Digest;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let bytes = std::fs::read(&absolute)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", absolute.display()))?;
        let digest = sha2::Sha256::digest(&bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok(ConfigFile {
            path: absolute,
            sha256,
        })
    }
}
