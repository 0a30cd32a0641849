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
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit_class;
pub mod journal;
pub mod logging;
pub mod manifest;
pub mod outcome;
pub mod password;
pub mod pipeline;
pub mod progress;
pub mod provider;
pub mod report;
pub mod secret;
pub mod serde_table;
pub mod values;
pub use commands::execute as run;
/// The simulated identity providers (its own crate: it shares no code with the providers).
pub use credrotate_sandbox as sandbox;
