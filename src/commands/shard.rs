//! `--shard I/N` in a run: the plan and the rows narrowed to one shard of the manifest
//! ([`crate::values::Shard`] decides which rows).
//!
//! Invariants: the whole manifest is still validated (a problem in another shard's row stops
//! every shard, so no shard starts on a manifest another would refuse) and pinned by its
//! SHA-256; only the counts and the rows handed to the pipeline are narrowed. A row with a
//! problem is never filtered out here: it reaches the pipeline, which refuses it as before.

use std::path::Path;

use super::Fatal;
use crate::config::Config;
use crate::manifest::{self, Format, Plan, Problem, Target};
use crate::values::Shard;

/// The rows a session works through.
pub type RowIter = Box<dyn Iterator<Item = Result<Target, Problem>> + Send>;

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

/// The rows of this shard (every row when not sharded).
pub fn rows(rows: manifest::Rows, shard: Option<Shard>) -> RowIter {
    match shard {
        None => Box::new(rows),
        Some(shard) => Box::new(rows.filter(move |r| match r {
            Ok(target) => mine(&shard, target),
            Err(_) => true,
        })),
    }
}

fn mine(shard: &Shard, t: &Target) -> bool {
    shard.contains(&t.provider, &t.user, &t.method)
}
