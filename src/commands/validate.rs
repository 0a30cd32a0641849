//! `credrotate validate`: the whole pre-flight check of `run`, sending nothing, then the plan
//! (see [`super::plan`]).
//!
//! Invariants: it needs the config a run would use (a missing config is the same error as for
//! `run`, exit 2), so that a manifest that validates is one `run` will start on; it reads
//! credentials' sources but signs in nowhere and sends nothing.

use std::path::PathBuf;

use super::plan::PlanView;
use super::run::{check_manifest, load_config, ConfigSource};
use super::selection;
use super::{Exit, Fatal, UsageContext};
use crate::config::{Overrides, RunSpec};
use crate::manifest::Format;
use crate::values::exclude::read_exclude_file;
use crate::values::{recipient, ExcludeFile};

#[derive(Debug)]
pub struct ValidateOptions {
    pub manifest: PathBuf,
    pub format: Option<Format>,
    pub config: ConfigSource,
    pub overrides: Overrides,
    pub recipients: Vec<String>,
    pub recipients_file: Option<PathBuf>,
    pub exclude_file: Option<PathBuf>,
    /// `--shard I/N`: plan this shard's rows.
    pub shard: Option<crate::values::Shard>,
}

pub fn validate(opts: ValidateOptions) -> Result<Exit, Fatal> {
    let config = load_config(&opts.config, &opts.overrides)?;
    let recipients = recipients(&opts).usage()?;
    let plan = check_manifest(&opts.manifest, opts.format, &config)?;
    let whole = plan.rows;
    let plan = super::shard::narrow(plan, opts.shard, &opts.manifest, opts.format, &config)?;
    let exclude_file = match &opts.exclude_file {
        Some(path) => Some(ExcludeFile {
            path: path.clone(),
            users: read_exclude_file(path).usage()?,
        }),
        None => None,
    };
    let spec = RunSpec {
        manifest: opts.manifest.clone(),
        format: opts.format,
        config: config.spec.clone(),
        exclude_file,
        shard: opts.shard,
        ..RunSpec::default()
    };
    let rules = config.manifest_rules();
    let tally = selection::tally(&spec, &rules, &plan.rows_by_provider).usage()?;
    let view = PlanView {
        plan: &plan,
        tally: &tally,
        config: &config,
        spec: &spec,
        recipients: &recipients,
        dry_run: false,
    };
    crate::say!("manifest OK: {} row(s), sha256 {}", whole, plan.sha256);
    if let Some(shard) = opts.shard {
        crate::say!(
            "shard {shard}: {} of the manifest's {whole} row(s)",
            plan.rows
        );
    }
    crate::say_part!("{}", view.render());
    Ok(Exit::Success)
}

fn recipients(opts: &ValidateOptions) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for r in &opts.recipients {
        recipient::parse_recipient(r)?;
        all.push(r.trim().to_owned());
    }
    if let Some(path) = &opts.recipients_file {
        all.extend(recipient::read_recipients_file(path)?);
    }
    Ok(all)
}
