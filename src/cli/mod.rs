//! The command line (docs/DESIGN.md §2, a stable public interface): the only module that knows clap.
//! It parses argv into typed [`Command`] values; nothing below it sees strings from argv.
//!
//! Invariant: no flag takes a secret value (argv is visible in `ps`); flags that look like they
//! would are refused with the file/environment alternative.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::demo::DemoOptions;
use crate::commands::report::ReportOptions;
use crate::commands::resume::ResumeOptions;
use crate::commands::run::{ConfigSource, Rails, RunOptions};
use crate::commands::validate::ValidateOptions;
use crate::commands::Command;
use crate::config::Overrides;
use crate::logging::LogFormat;
use crate::manifest::Format;
use crate::pipeline::Backoff;
use crate::progress::ProgressMode;
use crate::values::{BreakerSettings, Rate};

mod ops_args;
mod refused;
mod sandbox_args;
mod security;
mod throttle_args;
use ops_args::{CompletionsArgs, UnattendedArgs};
use refused::RefusedSecrets;
use sandbox_args::SandboxArgs;
use security::SecurityArgs;

#[derive(Debug, Parser)]
#[command(
    name = "credrotate",
    version = VERSION,
    about = "Bulk credential rotation at identity providers: manifest in, redacted report and encrypted export out.",
    after_help = PROVIDER_NOTES
)]
pub struct Cli {
    #[command(subcommand)]
    command: Commands,
    /// More log detail (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format on stderr: text, or json (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text, global = true)]
    log_format: LogFormatArg,
}

/// `--version`: the package version, the git commit and the build date (build.rs; "unknown"
/// where the build had no git, e.g. a container build without `.git`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CREDROTATE_GIT_COMMIT"),
    ", built ",
    env!("CREDROTATE_BUILD_DATE"),
    ")"
);

/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "CREDROTATE_CONFIG";

/// What `--help` says of the provider kinds beyond the flags.
const PROVIDER_NOTES: &str = "Provider kinds (kind = \"...\" in the config): graph (Microsoft Graph resetPassword: delegated \
tokens only), graph-profile (passwordProfile: app-only, for unattended jobs), pingone, wristband, http. \
Experimental: graph with api_version = \"beta\" and method_collection = \"softwareOathMethods\" \
(Microsoft documents no such reset action). Exit codes: 0 all succeeded, 1 some rows failed or \
are uncertain, 2 usage/config/manifest error (nothing sent), 3 stopped by canary or circuit \
breaker, 130/143 interrupted (resumable).";

// Parsed once per process; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Commands {
    /// Reset the password of every user in the manifest.
    Run(RunArgs),
    /// Continue an interrupted run from its journal.
    Resume(ResumeArgs),
    /// Rebuild report, summary and export from a run's journal.
    Report(ReportArgs),
    /// Check the manifest and config, send nothing, and print the plan.
    Validate(ValidateArgs),
    /// Run the simulated identity provider on loopback.
    Sandbox(SandboxArgs),
    /// Rehearse end to end: in-process sandbox, example manifest, verified export.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout: `credrotate man > credrotate.1`.
    Man,
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// The manifest: CSV with a header, a JSON array of objects, or JSON Lines.
    #[arg(long, value_name = "PATH")]
    manifest: PathBuf,
    /// Manifest format, when the extension does not tell.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Config file (default $CREDROTATE_CONFIG, else ./credrotate.toml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Provider for rows without a `provider` column (a name from the config).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// Output folder for report, summary and export (created 0700).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Encrypt the export to this age public key (age1...) or SSH public key; repeatable.
    #[arg(long, value_name = "KEY")]
    recipient: Vec<String>,
    /// File of recipients, one per line (like age -R).
    #[arg(long, value_name = "PATH")]
    recipients_file: Option<PathBuf>,
    /// Write passwords.csv UNENCRYPTED (mode 0600) instead of an age file.
    #[arg(long)]
    export_plaintext: bool,
    /// Request rate per provider: N/s, N/m, N/h or unlimited (default: the provider's safe rate).
    #[arg(long, value_name = "RATE")]
    rate: Option<Rate>,
    /// Requests that may leave at once after an idle spell.
    #[arg(long, value_name = "N")]
    burst: Option<u32>,
    /// Rows in flight at once, per provider.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Requests per row before giving up (429 answers not counted).
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_attempts: u32,
    /// Longest Retry-After worth waiting for; a row told to wait longer fails with the value.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    max_retry_after: Duration,
    /// Timeout of each HTTP request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Validate and write a report of what would be done, sending nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// After each successful reset, revoke the user's sign-in sessions (Graph providers).
    #[arg(long)]
    revoke_sessions: bool,
    #[command(flatten)]
    rails: RailsArgs,
    /// Progress bar: auto (only on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    #[command(flatten)]
    session: SessionArgs,
    /// Benchmarking only: do not fsync the journal (a crash may then lose passwords).
    #[arg(long, hide = true)]
    no_fsync: bool,
    #[command(flatten)]
    refused: RefusedSecrets,
    #[command(flatten)]
    security: SecurityArgs,
    #[command(flatten)]
    unattended: UnattendedArgs,
}

/// The incident-response rails of `run`.
#[derive(Debug, Args)]
struct RailsArgs {
    /// Send the first N rows of each provider first; send the rest only if all of them
    /// succeeded, else stop with exit 3 (fix the cause, then `credrotate resume`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    canary: u32,
    /// Stop a provider's run (exit 3, resumable) after N consecutive 401/403 answers; 0: never.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_auth_failures: u32,
    /// Stop (exit 3, resumable) when more than this share of a provider's last 100 requests
    /// failed (429s not counted; checked from 50 requests on); 1 turns the check off.
    #[arg(long, value_name = "RATIO", default_value_t = 0.2)]
    max_failure_rate: f64,
    /// Users never to reset (break-glass accounts): one per line, or a CSV with a `user`
    /// column; `#` comments. Exact match, case-insensitive for UPNs/e-mail addresses.
    #[arg(long, value_name = "PATH")]
    exclude_file: Option<PathBuf>,
    /// Reset only the rows that the run in DIR left failed or uncertain (same --manifest;
    /// inputs such as old passwords are read from it again, never copied).
    #[arg(long, value_name = "DIR")]
    retry_from: Option<PathBuf>,
}

impl RailsArgs {
    fn into_rails(self) -> Result<Rails> {
        let rate = self.max_failure_rate;
        if !(rate > 0.0 && rate <= 1.0) {
            bail!("--max-failure-rate {rate}: expected a ratio above 0 and at most 1 (e.g. 0.2 for 20 %; 1 turns the check off)");
        }
        Ok(Rails {
            canary: self.canary,
            breaker: BreakerSettings {
                max_auth_failures: self.max_auth_failures,
                max_failure_rate: rate,
            },
            exclude_file: self.exclude_file,
            retry_from: self.retry_from,
        })
    }
}

/// Flags shared by `run` and `resume`.
#[derive(Debug, Args)]
struct SessionArgs {
    /// After SIGINT/SIGTERM, how long requests in flight may finish before aborting.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    grace: Duration,
}

#[derive(Debug, Args)]
struct ResumeArgs {
    /// The output folder of the interrupted run.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    #[command(flatten)]
    session: SessionArgs,
    #[arg(long, hide = true)]
    no_fsync: bool,
    /// A private key the export is encrypted to (age identity file or SSH private key), to
    /// finish a run whose journal.key is gone.
    #[arg(long, value_name = "KEY")]
    identity: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The output folder of a run.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A private key the export is encrypted to (age identity file like age -i, or SSH private
    /// key), to rebuild the export of a run whose journal.key is gone.
    #[arg(long, value_name = "KEY")]
    identity: Option<PathBuf>,
    /// Merge the reports and summaries of these shard folders (`run --shard`) into --out
    /// instead (exports stay per shard).
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with = "identity")]
    merge: Vec<PathBuf>,
    /// First deliver the confirmed passwords the run's [sink] secret store does not hold yet
    /// (resets nothing).
    #[arg(long, conflicts_with = "merge")]
    deliver: bool,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// The export recipients the run will use, to show in the plan (age1... or SSH key).
    #[arg(long, value_name = "KEY")]
    recipient: Vec<String>,
    /// File of recipients, one per line (like age -R), to show in the plan.
    #[arg(long, value_name = "PATH")]
    recipients_file: Option<PathBuf>,
    /// Users never to reset, as `run --exclude-file`: counted in the plan.
    #[arg(long, value_name = "PATH")]
    exclude_file: Option<PathBuf>,
    /// Plan only shard I of N (as `run --shard I/N` would take it).
    #[arg(long, value_name = "I/N")]
    shard: Option<crate::values::Shard>,
    #[command(flatten)]
    security: SecurityArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Output folder (default: a fresh credrotate-demo/run-<time>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Manifest to rotate (default: examples/users.csv).
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Json,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

/// What the binary needs from the command line. The command is an error when the flags parsed
/// but do not make sense together; the log format is known either way, so the error can be
/// logged in it.
pub struct Parsed {
    pub command: Result<Command>,
    pub log_format: LogFormat,
    pub verbosity: u8,
}

/// Parses argv (clap exits 2 itself on a usage error) and converts to typed options.
pub fn parse() -> Parsed {
    Cli::parse().into_parsed()
}

impl Cli {
    fn into_parsed(self) -> Parsed {
        let log_format = match self.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
        Parsed {
            command: self.command.into_command(),
            log_format,
            verbosity: self.verbose,
        }
    }
}

impl Commands {
    fn into_command(self) -> Result<Command> {
        let command = match self {
            Commands::Run(a) => Command::Run(a.into_options()?),
            Commands::Validate(a) => Command::Validate(a.into_options()),
            Commands::Resume(a) => Command::Resume(ResumeOptions {
                out: a.out,
                yes: a.yes,
                progress: a.progress.into(),
                grace: a.session.grace,
                fsync: !a.no_fsync,
                identity: a.identity,
                metrics: None,
            }),
            Commands::Report(a) => Command::Report(ReportOptions {
                out: a.out,
                identity: a.identity,
                merge: a.merge,
                deliver: a.deliver,
            }),
            Commands::Sandbox(a) => Command::Sandbox(a.into_command()?),
            Commands::Demo(a) => Command::Demo(DemoOptions {
                out: a.out,
                manifest: a.manifest,
                progress: a.progress.into(),
            }),
            Commands::Completions(a) => Command::Print(a.script()),
            Commands::Man => Command::Print(ops_args::man_page()?),
        };
        Ok(command)
    }
}

impl ManifestArgs {
    /// `--config`, else `$CREDROTATE_CONFIG` (unset or empty: `./credrotate.toml`).
    fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            std::env::var_os(CONFIG_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }
}

impl RunArgs {
    fn into_options(self) -> Result<RunOptions> {
        self.refused.check()?;
        let config = self.manifest.config_path();
        if self.max_attempts == 0 {
            bail!("--max-attempts must be at least 1");
        }
        let overrides = Overrides {
            rate: self.rate,
            burst: self.burst,
            concurrency: self.concurrency,
            default_provider: self.manifest.provider,
            ca_file: self.security.ca_file(),
            password: self.security.password(),
            revoke_sessions: self.revoke_sessions,
        };
        Ok(RunOptions {
            manifest: self.manifest.manifest,
            format: self.manifest.format.map(Format::from),
            out: self.out,
            config: ConfigSource::File(config),
            overrides,
            recipients: self.recipient,
            recipients_file: self.recipients_file,
            export_plaintext: self.export_plaintext,
            backoff: Backoff {
                max_attempts: self.max_attempts,
                max_retry_after: self.max_retry_after,
                ..Backoff::default()
            },
            timeout: self.timeout,
            dry_run: self.dry_run,
            yes: self.yes,
            progress: self.progress.into(),
            grace: self.session.grace,
            fsync: !self.no_fsync,
            rails: self.rails.into_rails()?,
            unattended: self.unattended.into_options(),
        })
    }
}

impl ValidateArgs {
    fn into_options(self) -> ValidateOptions {
        let config = self.manifest.config_path();
        ValidateOptions {
            manifest: self.manifest.manifest,
            format: self.manifest.format.map(Format::from),
            config: ConfigSource::File(config),
            recipients: self.recipient,
            recipients_file: self.recipients_file,
            exclude_file: self.exclude_file,
            shard: self.shard,
            overrides: Overrides {
                default_provider: self.manifest.provider,
                ca_file: self.security.ca_file(),
                password: self.security.password(),
                ..Overrides::default()
            },
        }
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
        }
    }
}

impl From<ProgressArg> for ProgressMode {
    fn from(p: ProgressArg) -> ProgressMode {
        match p {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Always => ProgressMode::Always,
            ProgressArg::Never => ProgressMode::Never,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn token_flag_is_refused() {
        let cli = Cli::try_parse_from([
            "credrotate",
            "run",
            "--manifest",
            "m.csv",
            "--out",
            "o",
            "--token",
            "abc",
        ])
        .unwrap();
        let err = cli.into_parsed().command.err().unwrap().to_string();
        assert!(
            err.contains("CREDROTATE_TOKEN") && !err.contains("abc"),
            "{err}"
        );
    }
}
