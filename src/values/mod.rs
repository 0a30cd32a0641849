//! Value types shared by the layers (config, journal, pipeline, report): each parses and checks
//! one kind of value the operator gives.
//!
//! Invariants: this module depends on nothing else of the crate, so any layer may use it
//! without an import cycle.

mod base_url;
pub mod rate;
pub mod recipient;
pub mod shard;

pub use base_url::check_base_url;
pub use rate::Rate;
pub use shard::Shard;
