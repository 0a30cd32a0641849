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

pub use super::finale::print_summary;
use super::plan::PlanView;
use super::selection;
use super::session::{drive, Finished, Session};
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::config::{Config, ConfigError, ConfigFile, Overrides, RunSpec};
use crate::journal::{
    authenticate_header, DataKey, Header, JournalWriter, ManifestInfo, Opener, Record, RowSet,
    RunKey, RunLock, Sealer, SessionCommand, SessionRecord, JOURNAL_FILE, JOURNAL_VERSION,
    KEY_FILE,
};
use crate::manifest::{self, Format, ManifestError, Plan};
use crate::outcome::ReportRow;
use crate::outcome::{timestamp, RowResult};
use crate::pipeline::{self, Backoff, Breaker, BreakerSettings, Gate, Halt, Journal, Lane};
use crate::pipeline::{Pacer, Settings, Stop, Wire};
use crate::progress::ProgressMode;
use crate::provider;
use crate::report;
use crate::report::rebuild::write_report;
use crate::values::exclude::read_exclude_file;
use crate::values::ExcludeFile;

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
    pub rails: Rails,
    /// Schedule flags (`--resume-unfinished`).
    pub unattended: super::unattended::Unattended,
}

/// The incident-response flags of `run`.
#[derive(Debug, Clone, Default)]
pub struct Rails {
    /// `--canary N` (0: none).
    pub canary: u32,
    pub breaker: BreakerSettings,
    pub exclude_file: Option<PathBuf>,
    pub retry_from: Option<PathBuf>,
}

pub async fn run(opts: RunOptions) -> Result<Exit, Fatal> {
    if opts.unattended.resume_unfinished {
        return super::run_or_resume::run_or_resume(opts).await;
    }
    start(opts).await
}

/// Starts a new run in `opts.out`.
pub async fn start(opts: RunOptions) -> Result<Exit, Fatal> {
    let finished = rotate(opts).await?;
    print_summary(&finished);
    crate::logging::run_finished(finished.exit.code(), &finished.summary);
    Ok(finished.exit)
}

/// Runs the whole job and returns what it produced.
pub async fn rotate(opts: RunOptions) -> Result<Finished, Fatal> {
    let config = load_config(&opts.config, &opts.overrides)?;
    let config_file = config_file(&opts.config).usage()?;
    let recipients = collect_recipients(&opts).usage()?;
    let plan = check_manifest(&opts.manifest, opts.format, &config)?;
    let plan = super::shard::narrow(
        plan,
        opts.unattended.shard,
        &opts.manifest,
        opts.format,
        &config,
    )?;
    let spec = run_spec(&opts, &config, config_file, &plan).usage()?;
    let rules = config.manifest_rules();
    let tally = selection::tally(&spec, &rules, &plan.rows_by_provider).usage()?;
    check_out_dir(&opts.out).usage()?;
    let view = PlanView {
        plan: &plan,
        tally: &tally,
        config: &config,
        spec: &spec,
        recipients: &recipients,
        dry_run: opts.dry_run,
    };
    confirm(&opts, &view).usage()?;
    let mut delivery = None;
    if !opts.dry_run {
        config.sign_in(tally.send.keys()).await.usage()?;
        delivery = connect_sink(&config, opts.timeout, opts.backoff).await?;
    }
    let lanes = build_lanes(&config, &plan, opts.timeout, spec.breaker).usage()?;
    report::prepare_out_dir(&opts.out).usage()?;
    if opts.dry_run {
        let rows = selection::rows_to_send(&spec, &rules, RowSet::default()).usage()?;
        return dry_run(&opts, &config, &spec, rows, lanes).await;
    }
    let lock = RunLock::acquire(&opts.out).usage()?;
    if !opts.fsync {
        tracing::warn!("--no-fsync: the journal is not synced to disk, so this run is NOT crash-safe (a crash may lose the passwords of requests in flight); use it for benchmarks only");
    }
    discard_orphan_key(&opts.out).usage()?;
    let key = RunKey::create(&opts.out).usage()?;
    let data_key = Arc::new(DataKey::generate());
    let canary = match spec.canary {
        0 => Vec::new(),
        _ => selection::canary_rows(&spec, &rules, &tally).usage()?,
    };
    let mut sent_first = RowSet::with_rows(plan.rows);
    canary.iter().for_each(|t| sent_first.insert(t.row));
    let rows = selection::rows_to_send(&spec, &rules, sent_first).usage()?;
    let header = header(&opts, spec, &plan, &recipients, &key, &data_key).usage()?;
    let writer = JournalWriter::create(&opts.out, &header, opts.fsync).usage()?;
    let opener = Opener::new(data_key);
    // With a `[sink]` the artefacts are rebuilt at the end, delivery cells included (a streamed
    // row is written before its delivery ends; see `session`).
    let live = match delivery {
        None => Some(report::live::Live::create(&opts.out, &header).usage()?),
        Some(_) => None,
    };
    let journal = start_session(writer, opener.sealer(), 1, SessionCommand::Run)
        .await
        .usage()?;
    tracing::info!(rows = tally.to_send(), out = %opts.out.display(), "rotation started");
    let session = Session {
        dir: opts.out.clone(),
        lock,
        opener,
        settings: settings(opts.backoff, opts.dry_run, &config, Some(journal.clone())),
        journal,
        lanes,
        canary,
        rows,
        todo: tally.to_send(),
        progress: opts.progress,
        grace: opts.grace,
        live,
        metrics: opts.unattended.metrics_file.clone(),
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
        passwords: crate::password::Generator::new(&config.spec.policy),
        dry_run,
        journal,
        stop: Stop::default(),
        halt: Halt::default(),
        test_panic_row: std::env::var("CREDROTATE_TEST_PANIC_ROW")
            .ok()
            .and_then(|v| v.parse().ok()),
    }
}

/// Appends this process's session record (durable) and returns the journal handle.
pub async fn start_session(
    writer: JournalWriter,
    sealer: Sealer,
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
        sealer: Arc::new(sealer),
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

/// What this run is started with, as the journal header keeps it (reads `--exclude-file`, and
/// `--retry-from`'s journal).
fn run_spec(
    opts: &RunOptions,
    config: &Config,
    config_file: Option<ConfigFile>,
    plan: &Plan,
) -> anyhow::Result<RunSpec> {
    let exclude_file = match &opts.rails.exclude_file {
        Some(path) => Some(ExcludeFile {
            path: std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            users: read_exclude_file(path)?,
        }),
        None => None,
    };
    let retry_from = match &opts.rails.retry_from {
        Some(dir) => Some(selection::retry_from(dir, &plan.sha256)?),
        None => None,
    };
    Ok(RunSpec {
        manifest: std::path::absolute(&opts.manifest).unwrap_or_else(|_| opts.manifest.clone()),
        format: opts.format,
        config_file,
        config: config.spec.clone(),
        max_attempts: opts.backoff.max_attempts,
        max_retry_after: opts.backoff.max_retry_after,
        timeout: opts.timeout,
        export_plaintext: opts.export_plaintext,
        breaker: opts.rails.breaker,
        canary: opts.rails.canary,
        exclude_file,
        retry_from,
        shard: opts.unattended.shard,
    })
}

/// The journal header: what `resume` needs to continue and to refuse a changed manifest or
/// config, with the run's data key wrapped to the recipients and the run key, authenticated
/// with the run key.
fn header(
    opts: &RunOptions,
    run: RunSpec,
    plan: &Plan,
    recipients: &[String],
    key: &RunKey,
    data_key: &DataKey,
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
        data_key: Some(data_key.wrap(recipients, &key.public())?),
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
    spec: &RunSpec,
    rows: selection::RowStream,
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
    results.extend(report::excluded::out_of_scope(spec).runtime()?.excluded);
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
    summary.run_state = report::summary::RunState::Complete;
    summary.exit_code = Some(Exit::Success.code());
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
                crate::logging::problem(&p.to_string());
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

/// Shows the plan (stderr), then asks for a typed "yes" unless `--yes` or `--dry-run`.
fn confirm(opts: &RunOptions, view: &PlanView<'_>) -> anyhow::Result<()> {
    crate::logging::block("plan", &view.render());
    if opts.yes || opts.dry_run {
        return Ok(());
    }
    let what = format!("{} password(s)", view.tally.to_send());
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

pub fn build_lanes(
    config: &Config,
    plan: &Plan,
    timeout: Duration,
    breaker: BreakerSettings,
) -> anyhow::Result<Vec<Lane>> {
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
            wire: Arc::new(Wire::new(shared.concurrency)),
            generate: shared.generate,
            breaker: Arc::new(Breaker::new(name, breaker)),
        });
    }
    Ok(lanes)
}
