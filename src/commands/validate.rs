//! `credrotate validate`: the whole pre-flight check of `run`, sending nothing, then the plan.

use std::path::PathBuf;

use super::run::{check_manifest, load_config, ConfigSource};
use super::{Exit, Fatal};
use crate::config::{Config, Overrides};
use crate::manifest::{Format, Plan};

#[derive(Debug)]
pub struct ValidateOptions {
    pub manifest: PathBuf,
    pub format: Option<Format>,
    pub config: ConfigSource,
    pub overrides: Overrides,
    /// `--shard I/N`: plan this shard's rows.
    pub shard: Option<crate::values::Shard>,
}

pub fn validate(opts: ValidateOptions) -> Result<Exit, Fatal> {
    let config = match &opts.config {
        ConfigSource::File(None) if !std::path::Path::new("credrotate.toml").exists() => {
            // Without a config, still check the manifest itself; providers are not checked.
            let spec = crate::config::ConfigSpec {
                default_provider: opts.overrides.default_provider.clone(),
                ..Default::default()
            };
            Config::from_spec(spec)?
        }
        source => load_config(source, &opts.overrides)?,
    };
    let plan = check_manifest(&opts.manifest, opts.format, &config)?;
    let whole = plan.rows;
    let plan = super::shard::narrow(plan, opts.shard, &opts.manifest, opts.format, &config)?;
    if let Some(shard) = opts.shard {
        println!(
            "shard {shard}: {} of the manifest's {whole} row(s)",
            plan.rows
        );
    }
    print!("{}", describe(&plan, &config));
    Ok(Exit::Success)
}

/// The plan as text: rows per provider and the estimated duration at each provider's rate.
pub fn describe(plan: &Plan, config: &Config) -> String {
    let mut out = format!(
        "manifest OK: {} row(s), sha256 {}\n",
        plan.rows, plan.sha256
    );
    for (name, rows) in &plan.rows_by_provider {
        match config.spec.providers.get(name).map(|p| &p.shared) {
            Some(p) => {
                let credential = p.auth.describe();
                let eta = match p.rate.per_second() {
                    Some(r) => humantime::format_duration(std::time::Duration::from_secs(
                        (*rows as f64 / r).ceil() as u64,
                    ))
                    .to_string(),
                    None => "unbounded rate".to_owned(),
                };
                out += &format!(
                    "  {name}: {rows} row(s) at {} (burst {}, concurrency {}) → at least {eta}; {credential}\n",
                    p.rate, p.burst, p.concurrency
                );
                if let Some(note) = config.spec.providers[name].kind.experimental() {
                    out += &format!("    {name} is {note}\n");
                }
            }
            None => out += &format!("  {name}: {rows} row(s) (no config loaded: rate unknown)\n"),
        }
    }
    out
}
