//! `credrotate report --out DIR`: rebuild report, summary and export from the journal alone.
//!
//! While a run is incomplete its run key is in DIR and everything is rebuilt. Once it completed,
//! the key is gone by design; the export is then left as it is unless `--identity` names an age
//! identity that the passwords were also sealed to.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, Context};

use super::run::{print_summary, Finished};
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::journal::{read_journal, Opener, RunKey, RunLock, KEY_FILE};
use crate::report::rebuild::rebuild;

#[derive(Debug)]
pub struct ReportOptions {
    pub out: PathBuf,
    pub identity: Option<PathBuf>,
}

pub fn report(opts: ReportOptions) -> Result<Exit, Fatal> {
    let lock = RunLock::acquire(&opts.out).usage()?;
    let contents = read_journal(&opts.out).usage()?;
    let opener = opener(&opts).usage()?;
    if opener.is_none() {
        tracing::warn!("the run key is gone (the run completed): report and summary rebuilt, export left as it is (pass --identity KEYFILE to rebuild it too)");
    }
    let rebuilt = rebuild(&opts.out, &contents, opener.as_ref()).runtime()?;
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

fn opener(opts: &ReportOptions) -> anyhow::Result<Option<Opener>> {
    if let Some(path) = &opts.identity {
        return Ok(Some(Opener::new(read_identity(path)?)));
    }
    if opts.out.join(KEY_FILE).exists() {
        return Ok(Some(RunKey::load(&opts.out)?.opener()));
    }
    Ok(None)
}

/// Reads the first `AGE-SECRET-KEY-` line of an identity file (as written by age-keygen).
fn read_identity(path: &Path) -> anyhow::Result<age::x25519::Identity> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read identity file {}", path.display()))?,
    );
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .ok_or_else(|| {
            anyhow!(
                "{} holds no age identity (AGE-SECRET-KEY-...)",
                path.display()
            )
        })?;
    age::x25519::Identity::from_str(line)
        .map_err(|e| anyhow!("invalid identity in {}: {e}", path.display()))
}
