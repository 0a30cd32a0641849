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
use crate::values::{BreakerSettings, ExcludeFile, Exclusions, RetryFrom};

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
    /// `--max-auth-failures`, `--max-failure-rate`.
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// `--canary N`: rows per provider that must all succeed before the rest are sent (0: none).
    #[serde(default)]
    pub canary: u32,
    /// `--exclude-file`, as read when the run started.
    #[serde(default)]
    pub exclude_file: Option<ExcludeFile>,
    /// `--retry-from DIR`: only these rows of the manifest.
    #[serde(default)]
    pub retry_from: Option<RetryFrom>,
}

/// Whether a manifest row is this run's to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Send,
    /// A break-glass exclusion: reported `excluded`, never sent.
    Excluded,
    /// Not among the `--retry-from` rows: not this run's row at all.
    Unselected,
}

impl RunSpec {
    /// The exclusions of the config (global and per provider) and `--exclude-file`.
    pub fn exclusions(&self) -> Exclusions {
        let file = self.exclude_file.iter().flat_map(|f| f.users.iter());
        let per = self
            .config
            .providers
            .iter()
            .map(|(name, p)| (name, &p.shared.exclude));
        Exclusions::new(self.config.exclude.iter().chain(file), per)
    }

    /// Whether `--shard` gives this run the row (every row when the run is not sharded). Rows
    /// of other shards are not this run's at all: not sent, not counted, not reported.
    pub fn in_shard(&self, t: &crate::manifest::Target) -> bool {
        self.shard
            .as_ref()
            .is_none_or(|s| s.contains(&t.provider, &t.user, &t.method))
    }

    /// What this run does with `row`, given its [`RunSpec::exclusions`].
    pub fn scope(&self, exclusions: &Exclusions, row: u64, provider: &str, user: &str) -> Scope {
        if self.retry_from.as_ref().is_some_and(|r| !r.selects(row)) {
            Scope::Unselected
        } else if exclusions.excludes(provider, user) {
            Scope::Excluded
        } else {
            Scope::Send
        }
    }
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
