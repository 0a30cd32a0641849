//! `--shard I/N` in a run: the plan narrowed to one shard of the manifest
//! ([`crate::values::Shard`] decides which rows; the rows sent are narrowed by
//! `RunSpec::in_shard` in `selection`, with exclusions and `--retry-from`).
//!
//! Invariants: the whole manifest is still validated (a problem in another shard's row stops
//! every shard, so no shard starts on a manifest another would refuse) and pinned by its
//! SHA-256; only the counts and the rows handed to the pipeline are narrowed. A row with a
//! problem is never filtered out here: it reaches the pipeline, which refuses it as before.

use std::path::Path;

use super::Fatal;
use crate::config::Config;
use crate::manifest::{self, Format, Plan, Target};
use crate::values::Shard;

/// The plan of this shard's rows (the whole manifest's plan when not sharded).
pub fn narrow(
    plan: Plan,
    shard: Option<Shard>,
    path: &Path,
    format: Option<Format>,
    config: &Config,
) -> Result<Plan, Fatal> {
    let Some(shard) = shard else {
        return Ok(plan);
    };
    let mut narrowed = Plan {
        rows: 0,
        rows_by_provider: Default::default(),
        ..plan.clone()
    };
    for target in manifest::open(path, format, &config.manifest_rules())?.flatten() {
        if mine(&shard, &target) {
            narrowed.rows += 1;
            *narrowed
                .rows_by_provider
                .entry(target.provider.clone())
                .or_default() += 1;
        }
    }
    tracing::info!(shard = %shard, rows = narrowed.rows, manifest_rows = plan.rows,
        "shard {shard}: {} of the manifest's {} row(s)", narrowed.rows, plan.rows);
    Ok(narrowed)
}

fn mine(shard: &Shard, t: &Target) -> bool {
    shard.contains(&t.provider, &t.user, &t.method)
}
