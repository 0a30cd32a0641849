//! `credrotate sandbox` flags: where to listen and which faults to inject (docs/DESIGN.md §6).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use crate::commands::sandbox::SandboxCommand;
use crate::sandbox;

#[derive(Debug, Args)]
pub(super) struct SandboxArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Fixed latency added to every response.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Random extra latency, uniform in [0, jitter].
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    jitter: Duration,
    #[command(flatten)]
    throttle: super::throttle_args::ThrottleArgs,
    /// Fraction of reset requests answered 503 (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    error_ratio: f64,
    /// Fraction of reset answers lost by closing the connection (the reset still applies).
    #[arg(long, default_value_t = 0.0)]
    drop_ratio: f64,
    /// Answer Graph passwordProfile updates 403 as when the app lacks the User Administrator role.
    #[arg(long)]
    profile_missing_role: bool,
    #[command(flatten)]
    odd: OddArgs,
    /// How Graph resetPassword answers: async (202 + operation), sync200, sync204.
    #[arg(long, value_enum, default_value_t = GraphModeArg::Async)]
    graph_mode: GraphModeArg,
    /// Time until a 202's operation succeeds.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    op_delay: Duration,
    /// Retry-After seconds sent with a 202.
    #[arg(long)]
    op_retry_after: Option<u64>,
    /// Serve HTTPS with a throwaway self-signed CA; its certificate is written to --ca-out and
    /// named in the ready line (pass it to `run --ca-file`).
    #[arg(long)]
    tls: bool,
    /// Where --tls writes the CA certificate (default: a file in the temp directory).
    #[arg(long, value_name = "PATH", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Lifetime of the access tokens its OAuth2 token endpoints issue (Keycloak's are 60–300 s).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    token_ttl: Duration,
    /// One more path for the client-credentials token endpoint, besides the documented ones
    /// (e.g. /auth/realms/r/protocol/openid-connect/token for Keycloak before 17).
    #[arg(long, value_name = "PATH")]
    token_path: Option<String>,
    /// Okta-style rate limit of `POST /api/v1/users/{id}`: N requests per --rate-limit-window,
    /// then 429 with X-Rate-Limit-Reset (epoch seconds) and no Retry-After.
    #[arg(long, value_name = "N")]
    okta_rate_limit: Option<u32>,
    /// Auth0-style rate limit of `PATCH /api/v2/users/{id}`: N requests per --rate-limit-window,
    /// then 429 with x-ratelimit-reset (epoch seconds) and no Retry-After.
    #[arg(long, value_name = "N")]
    auth0_rate_limit: Option<u32>,
    /// The window of --okta-rate-limit and --auth0-rate-limit (whole seconds).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    rate_limit_window: Duration,
    #[command(flatten)]
    wire: WireArgs,
}

/// What the simulated services take and answer where the providers' documentation is silent:
/// set them to what your tenant does, so a client configured otherwise fails in the rehearsal.
#[derive(Debug, Args)]
struct WireArgs {
    /// The one HTTP method PingOne's password-reset route accepts (POST, PUT or PATCH); any
    /// other is answered 405.
    #[arg(long, value_name = "METHOD", default_value = "POST", value_parser = str::parse::<sandbox::PingOneMethod>)]
    pingone_method: sandbox::PingOneMethod,
    /// JSON field Wristband's reset takes the new password in (others are refused with 400).
    #[arg(long, value_name = "NAME", default_value = "newPassword")]
    wristband_password_field: String,
    /// JSON field of Wristband's "do not send the Password Updated email" flag.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "suppressPasswordUpdatedEmail"
    )]
    wristband_suppress_email_field: String,
    /// The `result` Wristband's 200 answers carry.
    #[arg(long, value_name = "VALUE", default_value = "SUCCESS")]
    wristband_result: String,
    /// Answer Wristband resets with `{}`, without a `result`.
    #[arg(long, conflicts_with = "wristband_result")]
    wristband_no_result: bool,
    /// Wristband's 200 answers leave the password unchanged (a `result` meaning "not done").
    #[arg(long)]
    wristband_not_applied: bool,
}

impl From<WireArgs> for sandbox::WristbandOptions {
    fn from(a: WireArgs) -> Self {
        sandbox::WristbandOptions {
            password_field: a.wristband_password_field,
            suppress_email_field: a.wristband_suppress_email_field,
            result: (!a.wristband_no_result).then_some(a.wristband_result),
            applies: !a.wristband_not_applied,
        }
    }
}

/// Hostile answers to Graph v1.0 resets, each a fraction (0.0–1.0) of resets; all but the
/// redirect come after the password was applied.
#[derive(Debug, Args)]
struct OddArgs {
    /// 307 to another listener (password untouched).
    #[arg(long, default_value_t = 0.0)]
    redirect_ratio: f64,
    /// 200 whose body is not JSON.
    #[arg(long = "text-200-ratio", default_value_t = 0.0)]
    text_200_ratio: f64,
    /// 202 whose Location is on another origin.
    #[arg(long, default_value_t = 0.0)]
    foreign_location_ratio: f64,
    /// 202 whose operation answers 404 when polled.
    #[arg(long = "poll-404-ratio", default_value_t = 0.0)]
    poll_404_ratio: f64,
    /// 500, 502 or 504.
    #[arg(long, default_value_t = 0.0)]
    error_after_apply_ratio: f64,
    /// 202 whose operation reports an unknown state.
    #[arg(long, default_value_t = 0.0)]
    unknown_state_ratio: f64,
    /// The usual answer, held back by --slow-delay.
    #[arg(long, default_value_t = 0.0)]
    slow_ratio: f64,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    slow_delay: Duration,
}

impl From<OddArgs> for sandbox::OddAnswers {
    fn from(a: OddArgs) -> Self {
        sandbox::OddAnswers {
            redirect: a.redirect_ratio,
            text_200: a.text_200_ratio,
            foreign_location: a.foreign_location_ratio,
            poll_404: a.poll_404_ratio,
            error_after_apply: a.error_after_apply_ratio,
            unknown_state: a.unknown_state_ratio,
            slow: a.slow_ratio,
            slow_delay: a.slow_delay,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphModeArg {
    Async,
    Sync200,
    Sync204,
}

impl SandboxArgs {
    pub(super) fn into_command(self) -> Result<SandboxCommand> {
        if !(0.0..=1.0).contains(&self.error_ratio) {
            bail!("--error-ratio must be between 0.0 and 1.0");
        }
        let limits = super::throttle_args::Limits::from(self.throttle);
        let reset_limits = [
            ("okta", self.okta_rate_limit),
            ("auth0", self.auth0_rate_limit),
        ]
        .into_iter()
        .filter_map(|(family, limit)| {
            let window = self.rate_limit_window;
            Some((
                family.to_owned(),
                sandbox::WindowLimit {
                    limit: limit?,
                    window,
                },
            ))
        })
        .collect();
        let options = sandbox::Options {
            listen: self.listen,
            faults: sandbox::Faults {
                latency: self.latency,
                jitter: self.jitter,
                throttle: limits.throttle,
                window: limits.window,
                error_ratio: self.error_ratio,
                drop_ratio: self.drop_ratio,
                profile_missing_role: self.profile_missing_role,
                odd: self.odd.into(),
                ..sandbox::Faults::default()
            },
            graph_mode: match self.graph_mode {
                GraphModeArg::Async => sandbox::GraphMode::Async,
                GraphModeArg::Sync200 => sandbox::GraphMode::Sync200,
                GraphModeArg::Sync204 => sandbox::GraphMode::Sync204,
            },
            op_delay: self.op_delay,
            op_retry_after: self.op_retry_after,
            token: std::env::var("CREDROTATE_SANDBOX_TOKEN").ok(),
            tls: self.tls,
            tls_ca_file: self.ca_out,
            pingone_method: self.wire.pingone_method,
            wristband: self.wire.into(),
            oauth: sandbox::OAuthOptions {
                token_ttl: self.token_ttl,
                token_path: self.token_path,
                ..sandbox::OAuthOptions::default()
            },
            reset_limits,
            family_throttle: limits.family_throttle,
            family_window: limits.family_window,
            ..sandbox::Options::default()
        };
        Ok(SandboxCommand {
            options: Box::new(options),
        })
    }
}
