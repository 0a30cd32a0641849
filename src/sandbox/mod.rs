//! The built-in simulated identity provider (DESIGN.md section 6). Implementation pending.

use std::net::SocketAddr;
use std::time::Duration;

/// Switchable faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every API response: fixed part.
    pub latency: Duration,
    /// Added to every API response: uniformly random part in [0, jitter].
    pub jitter: Duration,
    /// 429 with Retry-After from a token bucket on reset (write) requests.
    pub throttle: Option<Bucket>,
    /// Fraction (0.0..=1.0) of reset (write) requests answered 503.
    pub error_ratio: f64,
}

/// A token bucket: `rate` tokens per second refill, holding at most `capacity`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub rate: f64,
    pub capacity: u32,
}

/// How the Graph v1.0 resetPassword route answers a valid request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GraphMode {
    /// 202 Accepted + Location of a long-running operation (as documented). Default.
    #[default]
    Async,
    /// 200 OK with the body at once.
    Sync200,
    /// 204 No Content at once (server-generated passwords then come back with 200 instead).
    Sync204,
}

/// Sandbox configuration.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub faults: Faults,
    /// When set, only these users exist; others get Graph's 404. When unset, any user exists.
    pub users: Option<Vec<String>>,
    pub graph_mode: GraphMode,
    /// Time from a 202 until its operation reports `succeeded` (and the password changes).
    pub op_delay: Duration,
    /// `Retry-After` seconds sent with a 202, if any.
    pub op_retry_after: Option<u64>,
    /// Bearer token to accept; a random one when `None`.
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::default(),
            users: None,
            graph_mode: GraphMode::default(),
            op_delay: Duration::ZERO,
            op_retry_after: None,
            token: None,
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    pub addr: SocketAddr,
    token: String,
}

impl Sandbox {
    pub async fn start(_opts: Options) -> anyhow::Result<Sandbox> {
        anyhow::bail!("sandbox not implemented yet")
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url())
    }
    pub fn token(&self) -> &str {
        &self.token
    }
    pub fn ready_line(&self) -> String {
        String::new()
    }
    pub async fn shutdown(self) {}
}
