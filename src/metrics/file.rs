//! The metrics file: rewritten every [`INTERVAL`] while the run goes and once at its end.
//!
//! Invariants: each write replaces the file atomically (a temporary file in the same folder,
//! renamed over it), mode 0644 so node_exporter, running as another user, can read it (it holds
//! counts and provider names only); a failed write is a warning (once), never a failed run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::RunMetrics;
use crate::outcome::RowResult;

/// How often the file is rewritten during a run.
pub const INTERVAL: Duration = Duration::from_secs(10);

pub struct MetricsFile {
    path: PathBuf,
    metrics: Arc<Mutex<RunMetrics>>,
    warned: Arc<AtomicBool>,
    ticker: tokio::task::JoinHandle<()>,
}

impl MetricsFile {
    /// Writes the file now and then every [`INTERVAL`] until [`MetricsFile::finish`].
    pub fn start(path: PathBuf, planned: u64) -> MetricsFile {
        let metrics = Arc::new(Mutex::new(RunMetrics::new(planned)));
        let warned = Arc::new(AtomicBool::new(false));
        let (p, m, w) = (path.clone(), metrics.clone(), warned.clone());
        let ticker = tokio::spawn(async move {
            loop {
                write(&p, &m, &w);
                tokio::time::sleep(INTERVAL).await;
            }
        });
        MetricsFile {
            path,
            metrics,
            warned,
            ticker,
        }
    }

    pub fn row(&self, r: &RowResult) {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .row(r);
    }

    /// Stops the periodic writes and writes the final figures with the exit code.
    pub fn finish(self, exit_code: u8) {
        self.ticker.abort();
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .end(exit_code);
        write(&self.path, &self.metrics, &self.warned);
    }
}

fn write(path: &Path, metrics: &Mutex<RunMetrics>, warned: &AtomicBool) {
    let text = metrics.lock().unwrap_or_else(|e| e.into_inner()).render();
    if let Err(e) = replace(path, text.as_bytes()) {
        if !warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(file = %path.display(), "cannot write the metrics file: {e:#}");
        }
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
fn replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".credrotate-metrics")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)?;
    Ok(())
}
