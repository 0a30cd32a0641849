//! The run's incident-response rails as values: when a lane's circuit breaker trips, how many
//! canary rows go first, and which rows of an earlier run a `--retry-from` run takes. The
//! journal header keeps them (in the run spec), so `resume` continues with the same rails.
//!
//! Invariants: the defaults are the safe ones (breaker on, no canary); a `RetryFrom` names rows
//! by their manifest row number, never by any input value (no secret is copied).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// When a lane's breaker trips (`--max-auth-failures`, `--max-failure-rate`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BreakerSettings {
    /// Consecutive 401/403 answers that trip it; 0 turns the check off.
    pub max_auth_failures: u32,
    /// Failed share of the last requests above which it trips; 1.0 turns it off.
    pub max_failure_rate: f64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            max_auth_failures: 5,
            max_failure_rate: 0.2,
        }
    }
}

/// `--retry-from DIR`: only the rows that earlier run left failed or uncertain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryFrom {
    /// The earlier run's output folder.
    pub dir: PathBuf,
    /// Its failed and uncertain rows (manifest row numbers), ascending.
    pub rows: Vec<u64>,
}

impl RetryFrom {
    pub fn selects(&self, row: u64) -> bool {
        self.rows.binary_search(&row).is_ok()
    }
}

/// `--exclude-file PATH` as the run read it when it started (resume uses these users even if
/// the file changed or is gone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludeFile {
    pub path: PathBuf,
    pub users: Vec<String>,
}
