//! `credrotate resume --out DIR`: finish an interrupted run from its journal.
//!
//! Invariants: refuses (exit 2, nothing sent) a folder that is not ours, a journal header whose
//! MAC does not verify (recipients or settings altered), an identity that cannot read the run's
//! passwords, and a manifest or effective config that changed since the run started; skips rows
//! that already succeeded; resets every other row again, including *uncertain* ones (an intent
//! without an outcome) whose candidate passwords the export keeps until one is confirmed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::run::{
    build_lanes, check_manifest, connect_sink, print_summary, settings, start_session,
};
use super::selection;
use super::session::Finished;
use super::session::{drive, Session};
use super::{Exit, Fatal, UsageContext};
use crate::config::{Config, ConfigFile, RunSpec};
use crate::journal::{unseal, warn_if_not_crash_safe, Header, Opener, SessionCommand};
use crate::journal::{JournalWriter, RunLock};
use crate::journal::{JOURNAL_FILE, KEY_FILE};
use crate::pipeline::Backoff;
use crate::progress::ProgressMode;
use std::sync::Arc;

#[derive(Debug)]
pub struct ResumeOptions {
    pub out: PathBuf,
    pub yes: bool,
    pub progress: ProgressMode,
    pub grace: Duration,
    pub fsync: bool,
    /// An operator's private key (age identity file or SSH key), for a run whose key is gone.
    pub identity: Option<PathBuf>,
    /// `--metrics-file`, when resumed by `run --resume-unfinished`.
    pub metrics: Option<PathBuf>,
}

pub async fn resume(opts: ResumeOptions) -> Result<Exit, Fatal> {
    let finished = resume_run(opts).await?;
    print_summary(&finished);
    crate::logging::run_finished(finished.exit.code(), &finished.summary);
    Ok(finished.exit)
}

/// Continues the run in `opts.out` and returns what it produced.
pub async fn resume_run(opts: ResumeOptions) -> Result<Finished, Fatal> {
    let dir = opts.out.clone();
    if !dir.join(JOURNAL_FILE).exists() {
        return Err(anyhow!(
            "{} holds no journal: nothing to resume (hint: start a run with `credrotate run`)",
            dir.display()
        ))
        .usage();
    }
    crate::report::files::check_owned(&dir).usage()?;
    if let Some(key) = &opts.identity {
        crate::file_mode::warn_if_exposed(key, "private key");
    }
    let lock = RunLock::acquire(&dir).usage()?;
    let (header, state) = crate::report::rebuild::scan_state(&dir).usage()?;
    let opener = opener(&dir, &header, opts.identity.as_deref()).usage()?;
    warn_if_not_crash_safe(&header);
    let run = &header.run;
    check_unchanged(run).usage()?;
    let config = Config::from_spec(run.config.clone())?;
    let plan = check_manifest(&run.manifest, run.format, &config)?;
    if plan.sha256 != header.manifest.sha256 {
        return Err(anyhow!(
            "the manifest {} changed since the run started (sha256 was {}, now {}); resuming would reset the wrong rows (hint: restore the original manifest, or start a new run with a new --out)",
            run.manifest.display(), header.manifest.sha256, plan.sha256
        ))
        .usage();
    }
    let plan = super::shard::narrow(plan, run.shard, &run.manifest, run.format, &config)?;
    // One bit per row is kept for the run; the per-row state is dropped before it starts.
    let done = state.rows_succeeded().usage()?;
    let (next_session, uncertain) = (state.next_session(), state.counts().usage()?.uncertain);
    let rules = config.manifest_rules();
    let tally = selection::tally(run, &rules, &plan.rows_by_provider).usage()?;
    let todo = tally.to_send().saturating_sub(done.len());
    confirm(&opts, todo, uncertain, tally.to_send()).usage()?;
    config.sign_in(tally.send.keys()).await.usage()?;
    let delivery = match connect_sink(&config, run.timeout, backoff(run)).await? {
        Some(d) => {
            let pending = crate::sink::pending_jobs(&dir, &state, &opener).usage()?;
            Some((Arc::new(d.for_run(&header)), pending))
        }
        None => None,
    };
    drop(state);
    let lanes = build_lanes(&config, &plan, run.timeout, run.breaker).usage()?;
    let writer = JournalWriter::append(&dir, opts.fsync).usage()?;
    let journal = start_session(
        writer,
        opener.sealer(),
        next_session,
        SessionCommand::Resume,
    )
    .await
    .usage()?;
    // The canary ran in the first session: resume sends every row left.
    let rows = selection::rows_to_send(run, &rules, done).usage()?;
    tracing::info!(rows = todo, session = journal.session, out = %dir.display(), "resuming");
    let session = Session {
        dir,
        lock,
        opener,
        settings: settings(backoff(run), false, &config, Some(journal.clone())),
        journal,
        lanes,
        canary: Vec::new(),
        rows,
        todo,
        progress: opts.progress,
        grace: opts.grace,
        // A resume changes rows an earlier session settled: rebuild from the journal at the end.
        live: None,
        metrics: opts.metrics,
        delivery,
    };
    drive(session).await
}

/// What reads the run's passwords back: its run key, or the operator's `--identity`.
fn opener(
    dir: &std::path::Path,
    header: &Header,
    identity: Option<&std::path::Path>,
) -> anyhow::Result<Opener> {
    unseal(dir, header, identity)?.ok_or_else(|| {
        anyhow!(
            "the run key {} is gone, so the passwords this run sealed can only be read with a private key its export is encrypted to (hint: pass --identity KEY, an age identity file or SSH private key; if the run already completed, `credrotate report` shows it)",
            dir.join(KEY_FILE).display()
        )
    })
}

/// The retry policy the run was started with.
fn backoff(run: &RunSpec) -> Backoff {
    Backoff {
        max_attempts: run.max_attempts,
        max_retry_after: run.max_retry_after,
        ..Backoff::default()
    }
}

/// Refuses a run configured in-process, and a config file that changed since the run started
/// (the run continues with the settings it started with, kept in the journal header; a changed
/// file means the operator expects others).
fn check_unchanged(run: &RunSpec) -> anyhow::Result<()> {
    let Some(started) = &run.config_file else {
        bail!("this run was configured in-process (the demo) and cannot be resumed");
    };
    if !started.path.exists() {
        tracing::info!(config = %started.path.display(), "the config file is gone; continuing with the settings the journal header keeps");
        return Ok(());
    }
    let now = ConfigFile::read(&started.path)?;
    if now.sha256 != started.sha256 {
        bail!(
            "the config changed since the run started ({}: sha256 was {}, now {}); resuming with other settings could reset users differently (hint: restore the original config, or start a new run with a new --out)",
            started.path.display(), started.sha256, now.sha256
        );
    }
    Ok(())
}

fn confirm(opts: &ResumeOptions, todo: u64, uncertain: u64, rows: u64) -> anyhow::Result<()> {
    let what = format!("{todo} of {rows} row(s) left to reset ({uncertain} uncertain)");
    if opts.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("about to resume: {what}, without a terminal to confirm (hint: pass --yes)");
    }
    eprint!("About to resume: {what}.\nType 'yes' to continue: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed");
    }
    Ok(())
}
