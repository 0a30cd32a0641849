//! `credrotate run`: check everything, then rotate every row of the manifest.
//!
//! Invariants: every check that can fail (config, credentials, recipients, the whole manifest,
//! the output folder, the operator's confirmation) runs before the first request; a failure there
//! exits 2 having sent nothing. After that, per-row failures are report rows and set exit 1.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::config::{Config, Overrides};
use crate::manifest::{self, Format, ManifestError, Plan};
use crate::outcome::{RowResult, Status};
use crate::pipeline::{self, Backoff, Gate, Lane, Pacer, Settings, Stop};
use crate::progress::{Progress, ProgressMode};
use crate::provider;
use crate::report::{self, export, Destination, Export, ReportWriter, Summary};

/// Where the configuration comes from.
#[derive(Debug)]
pub enum ConfigSource {
    /// A TOML file; `None` means `./credrotate.toml`.
    File(Option<PathBuf>),
    /// Already loaded (the demo).
    Loaded(Box<Config>),
}

#[derive(Debug)]
pub struct RunOptions {
    pub manifest: PathBuf,
    pub format: Option<Format>,
    pub out: PathBuf,
    pub config: ConfigSource,
    pub overrides: Overrides,
    pub recipients: Vec<String>,
    pub recipients_file: Option<PathBuf>,
    pub export_plaintext: bool,
    pub backoff: Backoff,
    pub timeout: Duration,
    pub dry_run: bool,
    pub yes: bool,
    pub progress: ProgressMode,
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Finished {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    pub export: Option<PathBuf>,
    pub exit: Exit,
}

pub async fn run(opts: RunOptions) -> Result<Exit, Fatal> {
    let finished = rotate(opts).await?;
    print_summary(&finished);
    Ok(finished.exit)
}

/// Runs the whole job and returns what it produced.
pub async fn rotate(opts: RunOptions) -> Result<Finished, Fatal> {
    let config = load_config(&opts.config, &opts.overrides).usage()?;
    let recipients = collect_recipients(&opts).usage()?;
    let plan = check_manifest(&opts.manifest, opts.format, &config)?;
    check_out_dir(&opts.out).usage()?;
    confirm(&opts, &plan, &config).usage()?;
    if !opts.dry_run {
        config.sign_in(plan.rows_by_provider.keys()).await.usage()?;
    }
    let lanes = build_lanes(&config, &plan, opts.timeout).usage()?;
    report::prepare_out_dir(&opts.out).usage()?;
    let destination = match (&recipients, opts.export_plaintext) {
        (_, true) => Destination::Plaintext,
        (r, false) => Destination::Encrypted(r),
    };
    let mut artefacts = Artefacts::create(
        &opts.out,
        destination,
        plan.rows,
        opts.progress,
        opts.dry_run,
    )
    .usage()?;
    let rows = manifest::open(&opts.manifest, opts.format, &config.manifest_rules()).usage()?;
    let settings = Settings {
        backoff: opts.backoff,
        policy: config.policy.clone(),
        dry_run: opts.dry_run,
    };
    tracing::info!(rows = plan.rows, out = %opts.out.display(), "rotation started");
    let outcome = pipeline::execute(rows, lanes, settings, Stop::default(), |r| {
        artefacts.record(r)
    })
    .await;
    let finished = artefacts.finish(&opts.out).runtime()?;
    outcome.runtime()?;
    Ok(finished)
}

pub fn load_config(source: &ConfigSource, overrides: &Overrides) -> anyhow::Result<Config> {
    match source {
        ConfigSource::Loaded(c) => Ok((**c).clone()),
        ConfigSource::File(Some(path)) => Config::load(path, overrides),
        ConfigSource::File(None) => {
            let default = Path::new("credrotate.toml");
            if !default.exists() {
                bail!("no config: pass --config PATH or create ./credrotate.toml (see examples/credrotate.toml)");
            }
            Config::load(default, overrides)
        }
    }
}

fn collect_recipients(opts: &RunOptions) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for r in &opts.recipients {
        export::parse_recipient(r)?;
        all.push(r.trim().to_owned());
    }
    if let Some(path) = &opts.recipients_file {
        all.extend(export::read_recipients_file(path)?);
    }
    if all.is_empty() && !opts.export_plaintext && !opts.dry_run {
        bail!("no export recipient: the new passwords must be encrypted to someone (hint: pass --recipient age1... or --recipients-file PATH; generate a key with `age-keygen`)");
    }
    if opts.export_plaintext {
        tracing::warn!("--export-plaintext: the new passwords will be written UNENCRYPTED to passwords.csv (mode 0600); move them somewhere safe and delete the file");
    }
    Ok(all)
}

/// Validates the whole manifest, printing every problem; exit 2 if there is any.
pub fn check_manifest(path: &Path, format: Option<Format>, config: &Config) -> Result<Plan, Fatal> {
    match manifest::validate(path, format, &config.manifest_rules()) {
        Ok(plan) => {
            for w in &plan.warnings {
                tracing::warn!("{w}");
            }
            Ok(plan)
        }
        Err(ManifestError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            Err(anyhow!(
                "manifest {} has {} problem(s); fix them and run again",
                path.display(),
                problems.len()
            ))
            .usage()
        }
        Err(e) => Err(e).usage(),
    }
}

/// Refuses a folder that already holds a run's results: overwriting an export loses passwords.
fn check_out_dir(dir: &Path) -> anyhow::Result<()> {
    for name in [
        report::EXPORT_AGE,
        report::EXPORT_PLAIN,
        report::REPORT_CSV,
        "journal.jsonl",
    ] {
        if dir.join(name).exists() {
            bail!(
                "{} already holds the results of a run ({name}); overwriting them could lose passwords (hint: choose a new --out folder)",
                dir.display()
            );
        }
    }
    Ok(())
}

fn confirm(opts: &RunOptions, plan: &Plan, config: &Config) -> anyhow::Result<()> {
    if opts.yes || opts.dry_run {
        return Ok(());
    }
    let what = describe_plan(plan, config);
    if !std::io::stdin().is_terminal() {
        bail!("about to reset {what} without a terminal to confirm (hint: pass --yes to confirm in scripts and schedules)");
    }
    eprint!("About to reset {what}.\nType 'yes' to continue: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed");
    }
    Ok(())
}

fn describe_plan(plan: &Plan, config: &Config) -> String {
    let parts: Vec<String> = plan
        .rows_by_provider
        .iter()
        .map(|(name, n)| {
            let base = config
                .providers
                .get(name)
                .map(|p| p.base_url.as_str())
                .unwrap_or("?");
            format!("{n} at {name} ({base})")
        })
        .collect();
    format!("{} password(s): {}", plan.rows, parts.join(", "))
}

fn build_lanes(config: &Config, plan: &Plan, timeout: Duration) -> anyhow::Result<Vec<Lane>> {
    let mut lanes = Vec::new();
    for name in plan.rows_by_provider.keys() {
        let p = config
            .providers
            .get(name)
            .ok_or_else(|| anyhow!("provider {name:?} is not configured"))?;
        lanes.push(Lane {
            name: name.clone(),
            provider: provider::build(p, timeout)?,
            pacer: Pacer::new(p.rate, p.burst),
            gate: Gate::default(),
            concurrency: p.concurrency,
            generate: p.generate,
        });
    }
    Ok(lanes)
}

/// The files a run writes while rows finish.
struct Artefacts {
    report: ReportWriter,
    export: Option<Export>,
    summary: Summary,
    progress: Progress,
}

impl Artefacts {
    fn create(
        dir: &Path,
        to: Destination<'_>,
        rows: u64,
        mode: ProgressMode,
        dry_run: bool,
    ) -> anyhow::Result<Artefacts> {
        Ok(Artefacts {
            report: ReportWriter::create(dir)?,
            export: if dry_run {
                None
            } else {
                Some(Export::create(dir, to)?)
            },
            summary: Summary::start(),
            progress: Progress::new(rows, mode),
        })
    }

    fn record(&mut self, r: RowResult) -> anyhow::Result<()> {
        let row = &r.report;
        if let (Some(export), Some(password)) = (&mut self.export, &r.password) {
            export.write(&row.user, &row.method, &row.provider, password)?;
        }
        self.report.write(row)?;
        self.summary.record(&r);
        self.progress.row_done(row.status == Status::Failed);
        if row.status == Status::Failed {
            tracing::warn!(
                row = row.row, user = %row.user, provider = %row.provider,
                code = row.error_code.as_deref().unwrap_or(""), "reset failed: {}",
                row.error_message.as_deref().unwrap_or("")
            );
        }
        Ok(())
    }

    fn finish(mut self, dir: &Path) -> anyhow::Result<Finished> {
        self.progress.finish();
        let mut files = self.report.finish()?;
        let export = self.export.map(Export::finish).transpose()?;
        files.extend(export.clone());
        self.summary.finish();
        files.push(report::write_atomic(
            dir.join(report::SUMMARY_JSON),
            &serde_json::to_vec_pretty(&self.summary)?,
        )?);
        let exit = if self.summary.totals.failed > 0 {
            Exit::RowsFailed
        } else {
            Exit::Success
        };
        Ok(Finished {
            summary: self.summary,
            files,
            export,
            exit,
        })
    }
}

fn print_summary(f: &Finished) {
    let t = &f.summary.totals;
    println!(
        "credrotate: {} row(s): {} succeeded, {} failed, {} dry-run; {} retries, {} throttled (429); {:.1}s, {:.1} resets/s",
        t.rows, t.succeeded, t.failed, t.dry_run, t.retries, t.throttled,
        f.summary.duration_seconds, f.summary.achieved_rate
    );
    for file in &f.files {
        println!("  {}", file.display());
    }
}
