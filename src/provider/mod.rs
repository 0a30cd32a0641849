//! Identity providers: each turns one (Target, password) into one attempt and classifies the
//! answer as succeeded, transient, not applied or uncertain (the ambiguity rule of
//! [`verdict`]).
//!
//! Invariants: a provider knows nothing of rate limits, retries, journals or files; the pipeline
//! decides what to do with a [`Attempt`]. No provider client follows a redirect (a reset body
//! holds a password). Adding a provider is one new file plus one enum arm in [`Provider`].

pub mod graph;
pub mod graph_beta;
pub mod graph_profile;
pub mod graph_revoke;
pub mod http;
pub mod http_util;
pub mod pingone;
pub mod template;
pub mod verdict;
pub mod wristband;

#[cfg(test)]
mod fuzz_tests;

use std::time::Duration;

use crate::manifest::Target;
use crate::secret::SecretString;

pub use verdict::Applied;

/// Why an attempt did not succeed, as the provider said it. The message may still hold what the
/// provider echoed: the pipeline redacts the row's secrets from it, then truncates it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub http_status: Option<u16>,
    /// The provider's error code (e.g. Graph's `error.code`), or ours (`timeout`, `connect`).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// A successful reset.
#[derive(Debug, Default)]
pub struct Success {
    pub http_status: Option<u16>,
    /// The password the server generated, when it did (server-generated mode).
    pub server_password: Option<SecretString>,
    pub operation_id: Option<String>,
    pub request_id: Option<String>,
    /// What the provider said beyond the status (Wristband's `result`), for the report.
    pub result: Option<String>,
}

/// The classified result of one attempt.
#[derive(Debug)]
pub enum Attempt {
    Succeeded(Success),
    /// Worth retrying: connection error, timeout, 408, 429, 5xx gateway errors. `applied` says
    /// whether the password may be in force should no retry follow.
    Transient {
        /// The server's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
        failure: Failure,
        applied: Applied,
    },
    /// The provider certainly did not apply the password (or the request never left).
    NotApplied(Failure),
    /// The provider may have applied the password: it stays a candidate in the export. A
    /// password the server generated and returned before the answer turned uncertain is kept.
    Uncertain {
        failure: Failure,
        server_password: Option<SecretString>,
    },
}

impl Attempt {
    /// True for a 429 (throttled) answer.
    pub fn is_throttle(&self) -> bool {
        matches!(self, Attempt::Transient { failure, .. } if failure.http_status == Some(429))
    }

    /// An uncertain attempt without a known password.
    pub fn uncertain(failure: Failure) -> Attempt {
        Attempt::Uncertain {
            failure,
            server_password: None,
        }
    }

    /// A failure by the verdict on it.
    pub fn failed(failure: Failure, applied: Applied) -> Attempt {
        match applied {
            Applied::No => Attempt::NotApplied(failure),
            Applied::Maybe => Attempt::uncertain(failure),
        }
    }

    /// The attempt as a final answer: a transient one that will not be retried becomes not
    /// applied or uncertain by its verdict.
    pub fn settle(self) -> Attempt {
        match self {
            Attempt::Transient {
                failure, applied, ..
            } => Attempt::failed(failure, applied),
            other => other,
        }
    }

    /// The failure, for any attempt but a success.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Attempt::Succeeded(_) => None,
            Attempt::Transient { failure, .. }
            | Attempt::NotApplied(failure)
            | Attempt::Uncertain { failure, .. } => Some(failure),
        }
    }

    /// The failure, mutably, for any attempt but a success.
    pub fn failure_mut(&mut self) -> Option<&mut Failure> {
        match self {
            Attempt::Succeeded(_) => None,
            Attempt::Transient { failure, .. }
            | Attempt::NotApplied(failure)
            | Attempt::Uncertain { failure, .. } => Some(failure),
        }
    }

    /// Whether the provider may have applied this attempt's password (a success has).
    pub fn may_be_applied(&self) -> bool {
        match self {
            Attempt::Succeeded(_) | Attempt::Uncertain { .. } => true,
            Attempt::Transient { applied, .. } => *applied == Applied::Maybe,
            Attempt::NotApplied(_) => false,
        }
    }
}

/// A configured provider, dispatched by enum (no trait objects on the hot path).
#[derive(Debug, Clone)]
pub enum Provider {
    Graph(graph::Graph),
    GraphBeta(graph_beta::GraphBeta),
    GraphProfile(graph_profile::GraphProfile),
    PingOne(pingone::PingOne),
    Wristband(wristband::Wristband),
    Http(http::Http),
}

impl Provider {
    /// Performs one reset attempt. `password` is `None` when the server generates the password.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        match self {
            Provider::Graph(p) => p.reset(target, password).await,
            Provider::GraphBeta(p) => p.reset(target, password).await,
            Provider::GraphProfile(p) => p.reset(target, password).await,
            Provider::PingOne(p) => p.reset(target, password).await,
            Provider::Wristband(p) => p.reset(target, password).await,
            Provider::Http(p) => p.reset(target, password).await,
        }
    }

    /// Whether this provider generates the password server-side (the client sends none).
    pub fn server_generates(&self) -> bool {
        match self {
            Provider::Graph(p) => p.server_generates(),
            Provider::GraphBeta(p) => p.server_generates(),
            Provider::Http(p) => p.server_generates(),
            Provider::GraphProfile(_) | Provider::PingOne(_) | Provider::Wristband(_) => false,
        }
    }

    fn revoker(&self) -> Option<&graph_revoke::Revoke> {
        match self {
            Provider::Graph(p) => p.revoke.as_ref(),
            Provider::GraphBeta(p) => p.graph().revoke.as_ref(),
            Provider::GraphProfile(p) => p.revoke.as_ref(),
            Provider::PingOne(_) | Provider::Wristband(_) | Provider::Http(_) => None,
        }
    }

    /// Whether a successful reset is to be followed by revoking the user's sign-in sessions.
    pub fn revokes_sessions(&self) -> bool {
        self.revoker().is_some()
    }

    /// One request of the revoke follow-up; `None` when this provider does not revoke.
    pub async fn revoke_sessions(&self, target: &Target) -> Option<Attempt> {
        Some(self.revoker()?.run(&target.user).await)
    }
}

/// Builds the provider a config section describes, with its own HTTP client.
pub fn build(
    config: &crate::config::ProviderConfig,
    timeout: Duration,
) -> anyhow::Result<Provider> {
    use crate::config::KindOptions;
    // Never follow a redirect: the body holds a password, and a 307/308 would carry it to
    // whatever host the Location names (DESIGN.md §5). A 3xx is reported as not applied.
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(config.base_url.scheme() == "https")
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(config.concurrency)
        .user_agent(concat!("credrotate/", env!("CARGO_PKG_VERSION")));
    let client = config.tls.apply(builder).build()?;
    let (base, credential) = (&config.base_url, config.credential.clone());
    let require_change = config.options.require_change;
    Ok(match &config.options.kind {
        KindOptions::Graph { .. } | KindOptions::GraphProfile => build_graph(config, client),
        KindOptions::PingOne { http_method } => Provider::PingOne(pingone::PingOne::new(
            client,
            base,
            reqwest::Method::from_bytes(http_method.as_bytes())?,
            credential,
        )),
        KindOptions::Wristband(o) => Provider::Wristband(wristband::Wristband::new(
            client,
            base,
            credential,
            o.clone(),
        )),
        KindOptions::Http(h) => Provider::Http(http::Http::new(
            client,
            base,
            credential,
            h,
            require_change,
        )?),
    })
}

/// The Graph kinds, with the revoke follow-up when configured.
fn build_graph(config: &crate::config::ProviderConfig, client: reqwest::Client) -> Provider {
    use crate::config::KindOptions;
    let opts = &config.options;
    let (base, credential) = (config.base_url.clone(), config.credential.clone());
    let revoke = opts
        .revoke_sessions
        .then(|| graph_revoke::Revoke::new(client.clone(), base.clone(), credential.clone()));
    if matches!(opts.kind, KindOptions::GraphProfile) {
        let mut p = graph_profile::GraphProfile::new(client, base, credential, opts.require_change);
        p.revoke = revoke;
        return Provider::GraphProfile(p);
    }
    let mut graph = graph_v1(config, client);
    graph.revoke = revoke;
    match &opts.kind {
        KindOptions::Graph {
            method_collection, ..
        } if method_collection == "softwareOathMethods" => {
            Provider::GraphBeta(graph_beta::GraphBeta::new(graph, opts.require_change))
        }
        _ => Provider::Graph(graph),
    }
}

fn graph_v1(config: &crate::config::ProviderConfig, client: reqwest::Client) -> graph::Graph {
    use crate::password::Generate;
    graph::Graph::new(
        client,
        config.base_url.clone(),
        config.credential.clone(),
        config.generate == Generate::Server,
        graph::Polling {
            interval: config.poll_interval,
            max_interval: Duration::from_secs(5).max(config.poll_interval),
            timeout: config.poll_timeout,
        },
    )
}
