//! Identity providers: each turns one (Target, password) into one attempt and classifies the
//! answer as succeeded, transient, not applied or uncertain (the ambiguity rule of
//! [`verdict`]).
//!
//! Invariants: a provider knows nothing of rate limits, retries, journals or files; the pipeline
//! decides what to do with a [`Attempt`]. No provider client follows a redirect (a reset body
//! holds a password). Adding a provider is one new file implementing [`kind::Kind`] plus one
//! line in the registry (`registry.rs`).

pub mod graph;
pub mod graph_profile;
pub mod graph_revoke;
pub mod http;
pub mod http_util;
pub mod kind;
pub mod ldap;
pub mod pingone;
mod registry;
pub mod template;
pub mod verdict;
pub mod wristband;

#[cfg(test)]
mod fuzz_tests;

use std::time::Duration;

use crate::secret::SecretString;

pub use registry::{build, KindSettings, Provider, ProviderSpec, KINDS};
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
    /// The `client-request-id` we sent (Graph), to match our request with the provider's logs.
    pub client_request_id: Option<String>,
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
    /// The `client-request-id` we sent (Graph).
    pub client_request_id: Option<String>,
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
