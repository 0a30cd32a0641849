//! Identity providers: each turns one (Target, password) into one attempt and classifies the
//! answer as succeeded, transient or permanent.
//!
//! Invariants: a provider knows nothing of rate limits, retries, journals or files; the pipeline
//! decides what to do with a [`Attempt`]. Adding a provider is one new file plus one enum arm in
//! [`Provider`].

pub mod graph;
pub mod http_util;

use std::time::Duration;

use crate::manifest::Target;
use crate::secret::SecretString;

/// Why an attempt did not succeed, as the provider said it (already redacted of the password).
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
}

/// The classified result of one attempt.
#[derive(Debug)]
pub enum Attempt {
    Succeeded(Success),
    /// Worth retrying: connection error, timeout, 408, 429, 5xx gateway errors.
    Transient {
        /// The server's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
        failure: Failure,
    },
    Permanent(Failure),
}

impl Attempt {
    /// True for a 429 (throttled) answer.
    pub fn is_throttle(&self) -> bool {
        matches!(self, Attempt::Transient { failure, .. } if failure.http_status == Some(429))
    }
}

/// A configured provider, dispatched by enum (no trait objects on the hot path).
#[derive(Debug, Clone)]
pub enum Provider {
    Graph(graph::Graph),
}

impl Provider {
    /// Performs one reset attempt. `password` is `None` when the server generates the password.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        match self {
            Provider::Graph(p) => p.reset(target, password).await,
        }
    }

    /// Whether this provider generates the password server-side (the client sends none).
    pub fn server_generates(&self) -> bool {
        match self {
            Provider::Graph(p) => p.server_generates(),
        }
    }
}

/// Builds the provider a config section describes, with its own HTTP client.
pub fn build(
    config: &crate::config::ProviderConfig,
    timeout: Duration,
) -> anyhow::Result<Provider> {
    use crate::config::ProviderKind;
    use crate::password::Generate;
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(config.concurrency)
        .user_agent(concat!("credrotate/", env!("CARGO_PKG_VERSION")));
    let client = config.tls.apply(builder).build()?;
    match config.kind {
        ProviderKind::Graph => Ok(Provider::Graph(graph::Graph::new(
            client,
            config.base_url.clone(),
            config.credential.clone(),
            config.generate == Generate::Server,
            graph::Polling {
                interval: config.poll_interval,
                max_interval: Duration::from_secs(5).max(config.poll_interval),
                timeout: config.poll_timeout,
            },
        ))),
    }
}
