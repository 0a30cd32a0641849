//! `credrotate report --out DIR`: rebuild report, summary and export from the journal alone.
//!
//! While a run is incomplete its run key is in DIR and everything is rebuilt. Once it completed,
//! the key is gone by design; the export is then left as it is unless `--identity` names a
//! private key (age identity file or SSH key) that the passwords were also sealed to.
//! `--deliver` first delivers the confirmed passwords the run's `[sink]` does not hold yet
//! (nothing is reset), journaling each delivery.
//!
//! Invariants: a folder that is not ours, a header whose MAC does not verify, or an identity that
//! cannot read the run's passwords is refused (exit 2) before anything is rewritten; so is
//! `--deliver` for a run without a sink, or whose sink cannot be reached.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use super::run::print_summary;
use super::session::Finished;
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::journal::{read_header_of, unseal, warn_if_not_crash_safe, Header, RunLock};
use crate::journal::{JournalWriter, Opener, RunKey};
use crate::report::rebuild::rebuild;

#[derive(Debug)]
pub struct ReportOptions {
    pub out: PathBuf,
    pub identity: Option<PathBuf>,
    /// `--merge DIR...`: merge these shards' reports into `out` instead.
    pub merge: Vec<PathBuf>,
    /// Deliver the confirmed passwords the `[sink]` does not hold yet, before rebuilding.
    pub deliver: bool,
}

pub async fn report(opts: ReportOptions) -> Result<Exit, Fatal> {
    if !opts.merge.is_empty() {
        return super::merge::merge(&opts.merge, &opts.out);
    }
    crate::report::files::check_owned(&opts.out).usage()?;
    let lock = RunLock::acquire(&opts.out).usage()?;
    let header = read_header_of(&opts.out).usage()?;
    warn_if_not_crash_safe(&header);
    let opener = unseal(&opts.out, &header, opts.identity.as_deref()).usage()?;
    if opts.deliver {
        deliver(&opts, &header, opener.as_ref()).await?;
    } else if opener.is_none() {
        tracing::warn!("the run key is gone (the run completed, or the key was deleted): report and summary rebuilt, export left as it is (pass --identity KEYFILE to rebuild it too)");
    }
    let mut rebuilt = rebuild(&opts.out, opener.as_ref()).runtime()?;
    rebuilt.write_summary(&opts.out).runtime()?;
    if opts.deliver && rebuilt.complete {
        RunKey::remove(&opts.out).runtime()?;
    }
    drop(lock);
    let exit = if rebuilt.complete && rebuilt.summary.all_done() {
        Exit::Success
    } else {
        Exit::RowsFailed
    };
    print_summary(&Finished {
        summary: rebuilt.summary,
        files: rebuilt.files,
        export: rebuilt.export,
        exit,
    });
    Ok(exit)
}

/// Delivers every confirmed row the run's sink does not hold yet.
async fn deliver(
    opts: &ReportOptions,
    header: &Header,
    opener: Option<&Opener>,
) -> Result<(), Fatal> {
    let run = &header.run;
    if run.config.sink.is_none() {
        return Err(anyhow!("--deliver: this run has no [sink] to deliver to")).usage();
    }
    let (_, state) = crate::report::rebuild::scan_state(&opts.out).usage()?;
    let mut pending = false;
    for row in state.journaled() {
        pending |= row.usage()?.1.needs_delivery();
    }
    if !pending {
        tracing::info!("--deliver: every confirmed password is already in the secret store");
        return Ok(());
    }
    let opener = opener.ok_or_else(|| anyhow!("--deliver: the run key is gone, so the confirmed passwords can only be read with a private key the export is encrypted to (hint: pass --identity KEY)")).usage()?;
    // Only the sink's credential is read: nothing is reset, so the providers' are not needed.
    let tls = crate::auth::Tls::load(run.config.ca_file.as_deref()).usage()?;
    let delivery = crate::sink::connect(run.config.sink.as_ref(), &tls, run.timeout, backoff(run));
    let Some(delivery) = delivery.await.context("[sink]").usage()? else {
        return Ok(());
    };
    let jobs = crate::sink::pending_jobs(&opts.out, &state, opener).usage()?;
    tracing::info!(
        rows = jobs.len(),
        "delivering the confirmed passwords the secret store does not hold yet"
    );
    let writer = JournalWriter::append(&opts.out, header.fsync).usage()?;
    let delivery = Arc::new(delivery.for_run(header));
    let mut stage = crate::sink::Stage::start(delivery, writer.clone(), Default::default());
    jobs.into_iter().for_each(|job| stage.send(job));
    let delivered = stage.finish().await;
    writer.close().await.runtime()?;
    delivered.runtime()
}

fn backoff(run: &crate::config::RunSpec) -> crate::pipeline::Backoff {
    crate::pipeline::Backoff {
        max_attempts: run.max_attempts,
        max_retry_after: run.max_retry_after,
        ..Default::default()
    }
}
