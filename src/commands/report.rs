//! `credrotate report --out DIR`: rebuild report, summary and export from the journal alone.
//!
//! While a run is incomplete its run key is in DIR and everything is rebuilt. Once it completed,
//! the key is gone by design; the export is then left as it is unless `--identity` names a
//! private key (age identity file or SSH key) that the passwords were also sealed to.
//!
//! Invariants: a folder that is not ours, a header whose MAC does not verify, or an identity that
//! cannot read the run's passwords is refused (exit 2) before anything is rewritten.

use std::path::PathBuf;

use super::run::print_summary;
use super::session::Finished;
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::journal::{read_header_of, unseal, warn_if_not_crash_safe, RunLock};
use crate::report::rebuild::rebuild;

#[derive(Debug)]
pub struct ReportOptions {
    pub out: PathBuf,
    pub identity: Option<PathBuf>,
    /// `--merge DIR...`: merge these shards' reports into `out` instead.
    pub merge: Vec<PathBuf>,
}

pub fn report(opts: ReportOptions) -> Result<Exit, Fatal> {
    if !opts.merge.is_empty() {
        return super::merge::merge(&opts.merge, &opts.out);
    }
    crate::report::files::check_owned(&opts.out).usage()?;
    let lock = RunLock::acquire(&opts.out).usage()?;
    let header = read_header_of(&opts.out).usage()?;
    warn_if_not_crash_safe(&header);
    let opener = unseal(&opts.out, &header, opts.identity.as_deref()).usage()?;
    if opener.is_none() {
        tracing::warn!("the run key is gone (the run completed, or the key was deleted): report and summary rebuilt, export left as it is (pass --identity KEYFILE to rebuild it too)");
    }
    let mut rebuilt = rebuild(&opts.out, opener.as_ref()).runtime()?;
    rebuilt.write_summary(&opts.out).runtime()?;
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
