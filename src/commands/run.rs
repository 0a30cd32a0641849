//! `credrotate run`: check everything, then rotate every row of the manifest.
//!
//! Invariants: every check that can fail (config, credentials, recipients, the whole manifest,
//! the output folder, the operator's confirmation) runs before the first request; a failure there
//! exits 2 having sent nothing. After that, per-row failures are report rows and set exit 1.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context};

use super::session::{drive, Finished, Session};
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::config::{Config, ConfigError, ConfigFile, Overrides, RunSpec};
use crate::journal::{
    authenticate_header, Header, JournalWriter, ManifestInfo, Record, RunKey, RunLock, Sealer,
    SessionCommand, SessionRecord, JOURNAL_FILE, JOURNAL_VERSION, KEY_FILE,
};
use crate::manifest::{self, Format, ManifestError, Plan};
use crate::outcome::ReportRow;
use crate::outcome::{timestamp, RowResult};
use crate::pipeline::{self, Backoff, Gate, Journal, Lane, Pacer, Settings, Stop};
use crate::progress::ProgressMode;
use crate::provider;
use crate::report;
use crate::report::rebuild::write_report;

/// The config file read when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "credrotate.toml";

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
    /// How long in-flight requests may finish after SIGINT/SIGTERM.
    pub grace: Duration,
    /// fsync the journal (off only for benchmarking).
    pub fsync: bool,
}

pub async fn run(opts: RunOptions) -> Result<Exit, Fatal> {
    let finished = rotate(opts).await?;
    print_summary(&finished);
    Ok(finished.exit)
}

/// Runs the whole job and returns what it produced.
pub async fn rotate(opts: RunOptions) -> Result<Finished, Fatal> {
    let config = load_config(&opts.config, &opts.overrides)?;
    let config_file = config_file(&opts.config).usage()?;
    let recipients = collect_recipients(&opts).usage()?;
    let plan = check_manifest(&opts.manifest, opts.format, &config)?;
    check_out_dir(&opts.out).usage()?;
    confirm(&opts, &plan, &config).usage()?;
    let mut delivery = None;
    if !opts.dry_run {
        config.sign_in(plan.rows_by_provider.keys()).await.usage()?;
        delivery = connect_sink(&config, opts.timeout, opts.backoff).await?;
    }
    let lanes = build_lanes(&config, &plan, opts.timeout).usage()?;
    report::prepare_out_dir(&opts.out).usage()?;
    let rows = manifest::open(&opts.manifest, opts.format, &config.manifest_rules())?;
    if opts.dry_run {
        return dry_run(&opts, &config, rows, lanes).await;
    }
    let lock = RunLock::acquire(&opts.out).usage()?;
    if !opts.fsync {
        tracing::warn!("--no-fsync: the journal is not synced to disk, so this run is NOT crash-safe (a crash may lose the passwords of requests in flight); use it for benchmarks only");
    }
    discard_orphan_key(&opts.out).usage()?;
    let key = RunKey::create(&opts.out).usage()?;
    let spec = run_spec(&opts, &config, config_file);
    let header = header(&opts, spec, &plan, &recipients, &key).usage()?;
    let writer = JournalWriter::create(&opts.out, &header, opts.fsync).usage()?;
    let journal = start_session(writer, &header, 1, SessionCommand::Run)
        .await
        .usage()?;
    tracing::info!(rows = plan.rows, out = %opts.out.display(), "rotation started");
    let session = Session {
        dir: opts.out.clone(),
        lock,
        opener: key.opener(),
        settings: settings(opts.backoff, opts.dry_run, &config, Some(journal.clone())),
        journal,
        lanes,
        rows: Box::new(rows),
        todo: plan.rows,
        progress: opts.progress,
        grace: opts.grace,
        delivery: delivery.map(|d| (Arc::new(d.for_run(&header)), Vec::new())),
    };
    drive(session).await
}

/// Connects the `[sink]`, if any, before the first reset: a store that cannot be reached or
/// refuses the credential ends the run with exit 2, nothing sent.
pub async fn connect_sink(
    config: &Config,
    timeout: Duration,
    backoff: Backoff,
) -> Result<Option<crate::sink::Delivery>, Fatal> {
    crate::sink::connect(config.spec.sink.as_ref(), &config.tls, timeout, backoff)
        .await
        .context("[sink]")
        .usage()
}

/// A run key without a journal is left by a run killed before its journal existed: no intent
/// was written, so the key protects nothing and would only block this run. (Called under the lock,
/// after `check_out_dir` saw no journal.)
fn discard_orphan_key(dir: &Path) -> anyhow::Result<()> {
    if dir.join(KEY_FILE).exists() && !dir.join(JOURNAL_FILE).exists() {
        tracing::warn!("removing a run key left by a run that stopped before writing its journal");
        RunKey::remove(dir)?;
    }
    Ok(())
}

/// The pipeline settings of a run or resume.
pub fn settings(
    backoff: Backoff,
    dry_run: bool,
    config: &Config,
    journal: Option<Journal>,
) -> Settings {
    Settings {
        backoff,
        policy: config.spec.policy.clone(),
        dry_run,
        journal,
        stop: Stop::default(),
        test_panic_row: std::env::var("CREDROTATE_TEST_PANIC_ROW")
            .ok()
            .and_then(|v| v.parse().ok()),
    }
}

/// Appends this process's session record (durable) and returns the journal handle.
pub async fn start_session(
    writer: JournalWriter,
    header: &Header,
    session: u32,
    command: SessionCommand,
) -> anyhow::Result<Journal> {
    let record = SessionRecord {
        session,
        pid: std::process::id(),
        started_at: timestamp(SystemTime::now()),
        command,
    };
    writer.record_durable(Record::Session(record)).await?;
    Ok(Journal {
        writer,
        sealer: Arc::new(Sealer::for_header(header)?),
        session,
    })
}

/// The config file a run reads, and its digest (`resume` refuses it changed).
fn config_file(source: &ConfigSource) -> anyhow::Result<Option<ConfigFile>> {
    match source {
        ConfigSource::File(Some(path)) => ConfigFile::read(path).map(Some),
        ConfigSource::File(None) => ConfigFile::read(Path::new(DEFAULT_CONFIG)).map(Some),
        ConfigSource::Loaded(_) => Ok(None),
    }
}

/// What this run is started with, as the journal header keeps it.
fn run_spec(opts: &RunOptions, config: &Config, config_file: Option<ConfigFile>) -> RunSpec {
    RunSpec {
        manifest: std::path::absolute(&opts.manifest).unwrap_or_else(|_| opts.manifest.clone()),
        format: opts.format,
        config_file,
        config: config.spec.clone(),
        max_attempts: opts.backoff.max_attempts,
        max_retry_after: opts.backoff.max_retry_after,
        timeout: opts.timeout,
        export_plaintext: opts.export_plaintext,
    }
}

/// The journal header: what `resume` needs to continue and to refuse a changed manifest or
/// config, authenticated with the run key.
fn header(
    opts: &RunOptions,
    run: RunSpec,
    plan: &Plan,
    recipients: &[String],
    key: &RunKey,
) -> anyhow::Result<Header> {
    let mut header = Header {
        version: JOURNAL_VERSION,
        created_at: timestamp(SystemTime::now()),
        manifest: ManifestInfo {
            path: run.manifest.display().to_string(),
            sha256: plan.sha256.clone(),
            rows: plan.rows,
        },
        run,
        recipients: recipients.to_vec(),
        plaintext: false,
        run_recipient: key.public(),
        fsync: opts.fsync,
        mac: String::new(),
    };
    authenticate_header(&mut header, key)?;
    Ok(header)
}

/// A dry run: every row reported as `dry_run`, nothing sent, no journal.
async fn dry_run(
    opts: &RunOptions,
    config: &Config,
    rows: manifest::Rows,
    lanes: Vec<Lane>,
) -> Result<Finished, Fatal> {
    let started = timestamp(SystemTime::now());
    let clock = std::time::Instant::now();
    let mut results = Vec::new();
    let settings = settings(opts.backoff, true, config, None);
    let outcome = pipeline::execute(rows, lanes, settings, |r: RowResult| {
        results.push(r.report);
        Ok(())
    })
    .await;
    outcome?;
    results.sort_by_key(|r| r.row);
    let rows: Vec<(ReportRow, u32)> = results.into_iter().map(|r| (r, 0)).collect();
    let (mut files, mut summary) = write_report(&opts.out, &rows).runtime()?;
    summary.manifest_rows = rows.len() as u64;
    summary.sessions = 1;
    summary.set_timing(
        started,
        timestamp(SystemTime::now()),
        clock.elapsed().as_secs_f64(),
    );
    let json = serde_json::to_vec_pretty(&summary).runtime()?;
    files.push(report::write_atomic(opts.out.join(report::SUMMARY_JSON), &json).runtime()?);
    Ok(Finished {
        summary,
        files,
        export: None,
        exit: Exit::Success,
    })
}

pub fn load_config(source: &ConfigSource, overrides: &Overrides) -> Result<Config, ConfigError> {
    match source {
        ConfigSource::Loaded(c) => Ok((**c).clone()),
        ConfigSource::File(Some(path)) => Config::load(path, overrides),
        ConfigSource::File(None) => {
            let default = Path::new(DEFAULT_CONFIG);
            if !default.exists() {
                let missing = anyhow!("no config: pass --config PATH or create ./credrotate.toml (see examples/credrotate.toml)");
                return Err(missing.into());
            }
            Config::load(default, overrides)
        }
    }
}

fn collect_recipients(opts: &RunOptions) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for r in &opts.recipients {
        crate::values::recipient::parse_recipient(r)?;
        all.push(r.trim().to_owned());
    }
    if let Some(path) = &opts.recipients_file {
        all.extend(crate::values::recipient::read_recipients_file(path)?);
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
        Err(e) => Err(e.into()),
    }
}

/// Refuses a folder that already holds a run: overwriting an export or journal loses passwords.
fn check_out_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.join(JOURNAL_FILE).exists() {
        bail!(
            "{} holds the journal of an earlier run; starting over could lose its passwords (hint: finish it with `credrotate resume --out {}`, or choose a new --out folder)",
            dir.display(),
            dir.display()
        );
    }
    for name in [report::EXPORT_AGE, report::EXPORT_PLAIN, report::REPORT_CSV] {
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
                .spec
                .providers
                .get(name)
                .map(|p| p.shared.base_url.as_str())
                .unwrap_or("?");
            format!("{n} at {name} ({base})")
        })
        .collect();
    format!("{} password(s): {}", plan.rows, parts.join(", "))
}

pub fn build_lanes(config: &Config, plan: &Plan, timeout: Duration) -> anyhow::Result<Vec<Lane>> {
    let mut lanes = Vec::new();
    for name in plan.rows_by_provider.keys() {
        let (Some(spec), Some(credential)) = (
            config.spec.providers.get(name),
            config.credentials.get(name),
        ) else {
            bail!("provider {name:?} is not configured");
        };
        let shared = &spec.shared;
        lanes.push(Lane {
            name: name.clone(),
            provider: provider::build(spec, credential.clone(), &config.tls, timeout)?,
            pacer: Arc::new(Pacer::new(shared.rate, shared.burst)),
            gate: Arc::new(Gate::default()),
            concurrency: shared.concurrency,
            generate: shared.generate,
        });
    }
    Ok(lanes)
}

pub fn print_summary(f: &Finished) {
    let t = &f.summary.totals;
    println!(
        "credrotate: {} row(s): {} succeeded, {} failed, {} uncertain, {} dry-run; {} retries, {} throttled (429); {:.1}s, {:.1} resets/s{}",
        t.rows, t.succeeded, t.failed, t.uncertain, t.dry_run, t.retries, t.throttled,
        f.summary.duration_seconds, f.summary.achieved_rate, pacing_suffix(&f.summary)
    );
    for file in &f.files {
        println!("  {}", file.display());
    }
    let s = &f.summary;
    if s.uncertain > 0 {
        println!(
            "check {} row(s): the provider may have applied their new password; report.csv says why (status uncertain) and the export holds each one's candidate passwords",
            s.uncertain
        );
    }
    let undelivered = s.totals.undelivered.saturating_sub(s.totals.uncertain);
    if undelivered > 0 {
        let dir = f
            .files
            .first()
            .and_then(|p| p.parent())
            .unwrap_or(Path::new("."));
        println!(
            "undelivered: {undelivered} confirmed password(s) are not in the secret store; report.csv says why (delivery column) and the export holds them; deliver with: credrotate report --out {} --deliver",
            dir.display()
        );
    }
    if s.pending > 0 || s.uncertain > 0 {
        let dir = f
            .files
            .first()
            .and_then(|p| p.parent())
            .unwrap_or(Path::new("."));
        println!(
            "unfinished: {} row(s) not yet attempted, {} uncertain; {}",
            s.pending,
            s.uncertain,
            finish_hint(dir)
        );
    }
}

/// `; pacing: graph: 3 throttled, paused 2.0s, learned 98.5/s` when any provider throttled.
fn pacing_suffix(summary: &report::Summary) -> String {
    if !summary.pacing.values().any(|p| p.throttled > 0) {
        return String::new();
    }
    let lanes: Vec<String> = summary.pacing.iter().map(|(n, p)| p.describe(n)).collect();
    format!("; pacing: {}", lanes.join(", "))
}

/// How to finish an unfinished run: `resume` needs the run key, or else an operator's key.
fn finish_hint(dir: &Path) -> String {
    let resume = format!("credrotate resume --out {} --yes", dir.display());
    if dir.join(KEY_FILE).exists() {
        format!("finish with: {resume}")
    } else {
        format!("the run key {KEY_FILE} is gone, so finish with: {resume} --identity KEY (KEY: a private key the export is encrypted to, an age identity file or an SSH key)")
    }
}
