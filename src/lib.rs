//! credrotate: bulk credential rotation.
//!
//! A manifest of users flows through a rate-limited, concurrent pipeline that resets each user's
//! password at an identity provider, retries what is transient, and leaves a redacted report and an
//! age-encrypted export of the new passwords. See `docs/DESIGN.md` for the blueprint.
//!
//! Layering: `manifest` knows nothing of HTTP; `provider` knows nothing of rate limits, retries or
//! files; `pipeline` owns ordering, pacing and retries; `report` only reads outcomes. Only `cli`
//! (and the binary) know about clap.
#![forbid(unsafe_code)]

pub(crate) mod auth;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod exit_class;
pub(crate) mod file_mode;
pub(crate) mod journal;
pub mod library;
pub(crate) mod logging;
pub mod manifest;
pub(crate) mod metrics;
pub(crate) mod outcome;
pub(crate) mod password;
pub(crate) mod pipeline;
pub(crate) mod progress;
pub(crate) mod provider;
pub(crate) mod report;
pub(crate) mod secret;
pub(crate) mod serde_table;
pub(crate) mod sink;
#[doc(hidden)]
pub mod stdout;
pub(crate) mod values;
pub use cli::{parse, Parsed};
pub use commands::execute as run;
/// The simulated identity providers (its own crate: it shares no code with the providers).
pub use credrotate_sandbox as sandbox;
pub use logging::{fatal as log_fatal, init as init_logging, LogFormat};
