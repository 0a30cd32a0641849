//! Value types shared by the layers (config, journal, pipeline, report): each parses and checks
//! one kind of value the operator gives.
//!
//! Invariants: this module depends on nothing else of the crate, so any layer may use it
//! without an import cycle.

mod base_url;
pub mod exclude;
pub mod rails;
pub mod rate;
pub mod recipient;
pub mod shard;

pub use base_url::check_base_url;
pub use exclude::Exclusions;
pub use rails::{BreakerSettings, ExcludeFile, RetryFrom};
pub use rate::Rate;
pub use shard::Shard;
