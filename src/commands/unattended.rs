//! The `run` options for schedules (cron, systemd timers, Kubernetes Jobs), kept apart from the
//! interactive ones so that a schedule's needs stay in one place.

/// `run --resume-unfinished` and friends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unattended {
    /// Run or resume: see [`super::run_or_resume`].
    pub resume_unfinished: bool,
    /// `--shard I/N`: take only this shard's rows.
    pub shard: Option<crate::values::Shard>,
    /// `--metrics-file PATH`: Prometheus text, rewritten during the run and at its end.
    pub metrics_file: Option<std::path::PathBuf>,
}
