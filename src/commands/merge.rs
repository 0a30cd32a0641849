//! `credrotate report --merge DIR... --out MERGED`: one report and summary for a rotation run
//! as shards (`run --shard I/N`, e.g. a Kubernetes Indexed Job), from the shards' own reports
//! and summaries. The exports stay per shard: each is encrypted already, and merging them would
//! need a private key.
//!
//! Invariants: every input is a shard of the same manifest (the SHA-256 in its journal header)
//! and of the same N, each shard at most once; otherwise exit 2, nothing written. A missing
//! shard is named and makes the exit code 1 (the merged report does not cover the manifest).
//! The merged rows are in manifest order; counts are the shards' sums, and the duration the
//! longest shard's (they run side by side). Only redacted report rows are read: no secret.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::run::print_summary;
use super::session::Finished;
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::journal::{Header, Record, JOURNAL_FILE};
use crate::outcome::ReportRow;
use crate::report::rebuild::write_report;
use crate::report::{prepare_out_dir, write_atomic, Summary, SUMMARY_JSON};
use crate::values::Shard;

/// One shard's output folder, read.
struct ShardDir {
    dir: PathBuf,
    shard: Shard,
    manifest_sha256: String,
    rows: Vec<ReportRow>,
    summary: Value,
}

pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Exit, Fatal> {
    let shards = dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<Vec<_>>>()
        .usage()?;
    let missing = check_shards(&shards).usage()?;
    check_out(out, dirs).usage()?;
    prepare_out_dir(out).usage()?;
    let mut rows: Vec<(ReportRow, u32)> = shards
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| (r.clone(), 0)))
        .collect();
    rows.sort_by_key(|(r, _)| r.row);
    let (mut files, mut summary) = write_report(out, &rows).runtime()?;
    add_shard_figures(&mut summary, &shards);
    let json = serde_json::to_vec_pretty(&summary).runtime()?;
    files.push(write_atomic(out.join(SUMMARY_JSON), &json).runtime()?);
    let merged: Vec<String> = shards.iter().map(|s| s.shard.to_string()).collect();
    crate::say!(
        "credrotate: merged shards {} into {}",
        merged.join(", "),
        out.display()
    );
    if !missing.is_empty() {
        tracing::warn!(
            "shard(s) {} missing: the merged report does not cover the whole manifest",
            missing.join(", ")
        );
    }
    let exit = if missing.is_empty() && summary.pending == 0 && summary.all_done() {
        Exit::Success
    } else {
        Exit::RowsFailed
    };
    print_summary(&Finished {
        summary,
        files,
        export: None,
        exit,
    });
    Ok(exit)
}

/// Reads a shard's journal header (first line only), report.json and summary.json.
fn read_shard(dir: &Path) -> Result<ShardDir> {
    let header = read_header(dir)?;
    let shard = header.run.shard.ok_or_else(|| {
        anyhow!(
            "{} holds a run without --shard: only shards of one manifest can be merged",
            dir.display()
        )
    })?;
    let read = |name: &str| -> Result<Vec<u8>> {
        std::fs::read(dir.join(name)).with_context(|| {
            format!(
                "cannot read {} (hint: `credrotate report --out {}` rebuilds it)",
                dir.join(name).display(),
                dir.display()
            )
        })
    };
    let rows: Vec<ReportRow> =
        serde_json::from_slice(&read("report.json")?).with_context(|| {
            format!(
                "{}: not a credrotate report",
                dir.join("report.json").display()
            )
        })?;
    let summary: Value = serde_json::from_slice(&read(SUMMARY_JSON)?).with_context(|| {
        format!(
            "{}: not a credrotate summary",
            dir.join(SUMMARY_JSON).display()
        )
    })?;
    Ok(ShardDir {
        dir: dir.to_owned(),
        shard,
        manifest_sha256: header.manifest.sha256,
        rows,
        summary,
    })
}

fn read_header(dir: &Path) -> Result<Header> {
    let path = dir.join(JOURNAL_FILE);
    let file = std::fs::File::open(&path).with_context(|| {
        format!(
            "{} holds no journal: not the output folder of a run",
            dir.display()
        )
    })?;
    let mut first = String::new();
    std::io::BufReader::new(file).read_line(&mut first)?;
    match serde_json::from_str(&first) {
        Ok(Record::Header(header)) => Ok(*header),
        _ => bail!("{}:1: not a journal header", path.display()),
    }
}

/// Same manifest, same N, each shard once; returns the shards not given.
fn check_shards(shards: &[ShardDir]) -> Result<Vec<String>> {
    let Some(first) = shards.first() else {
        bail!("--merge needs at least one shard folder");
    };
    let mut seen = BTreeSet::new();
    for s in shards {
        if s.manifest_sha256 != first.manifest_sha256 {
            bail!(
                "{} is a shard of another manifest than {} (sha256 {} vs {})",
                s.dir.display(),
                first.dir.display(),
                s.manifest_sha256,
                first.manifest_sha256
            );
        }
        if s.shard.count != first.shard.count {
            bail!(
                "{} is shard {} but {} is shard {}: the manifest was split differently",
                s.dir.display(),
                s.shard,
                first.dir.display(),
                first.shard
            );
        }
        if !seen.insert(s.shard.index) {
            bail!("shard {} is given twice ({})", s.shard, s.dir.display());
        }
    }
    let count = first.shard.count;
    Ok((0..count)
        .filter(|i| !seen.contains(i))
        .map(|index| Shard { index, count }.to_string())
        .collect())
}

/// Refuses to write the merge into a run's folder (its own report would be overwritten).
fn check_out(out: &Path, dirs: &[PathBuf]) -> Result<()> {
    if out.join(JOURNAL_FILE).exists() || dirs.iter().any(|d| d == out) {
        bail!("{} is the output folder of a run; write the merged report to a folder of its own (hint: --out DIR/merged)", out.display());
    }
    Ok(())
}

/// What the report rows do not hold: 429s, pending and uncertain rows, sessions, timing.
fn add_shard_figures(summary: &mut Summary, shards: &[ShardDir]) {
    let num = |s: &Value, key: &str| s[key].as_u64().unwrap_or(0);
    for s in shards {
        summary.manifest_rows += num(&s.summary, "manifest_rows");
        summary.pending += num(&s.summary, "pending");
        summary.uncertain += num(&s.summary, "uncertain");
        summary.sessions += num(&s.summary, "sessions") as u32;
        summary.totals.throttled += num(&s.summary, "throttled");
        if let Some(by) = s.summary["by_provider"].as_object() {
            for (name, counts) in by {
                summary
                    .by_provider
                    .entry(name.clone())
                    .or_default()
                    .throttled += num(counts, "throttled");
            }
        }
    }
    let started = times(shards, "started_at").min().unwrap_or_default();
    let finished = times(shards, "finished_at").max().unwrap_or_default();
    let longest = shards
        .iter()
        .filter_map(|s| s.summary["duration_seconds"].as_f64())
        .fold(0.0, f64::max);
    summary.set_timing(started, finished, longest);
}

/// The shards' RFC 3339 times under `key` (UTC, so they order as text).
fn times<'a>(shards: &'a [ShardDir], key: &'a str) -> impl Iterator<Item = String> + 'a {
    shards
        .iter()
        .filter_map(move |s| s.summary[key].as_str().map(str::to_owned))
}
