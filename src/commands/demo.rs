//! `credrotate demo`: a complete rehearsal on one machine. Starts the sandbox in-process, rotates
//! the example manifest through the real pipeline into a fresh output folder with a throwaway age
//! identity, then decrypts the export and asks the sandbox whether every password signs in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use secrecy::ExposeSecret;

use super::run::{rotate, ConfigSource, RunOptions};
use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::auth::Credential;
use crate::config::{Config, ConfigSpec, Overrides};
use crate::pipeline::Backoff;
use crate::progress::ProgressMode;
use crate::report::{self, export};
use crate::sandbox::{Faults, Options, Sandbox};
use crate::secret::secret;

/// The example manifest, built in so the demo also works outside a checkout.
const EXAMPLE_USERS: &str = include_str!("../../examples/users.csv");
pub const IDENTITY_FILE: &str = "demo-identity.txt";

#[derive(Debug, Default)]
pub struct DemoOptions {
    /// Output folder; a fresh `credrotate-demo/run-<time>` when not given.
    pub out: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    pub progress: ProgressMode,
}

pub async fn demo(opts: DemoOptions) -> Result<Exit, Fatal> {
    let out = opts.out.clone().unwrap_or_else(default_out);
    report::prepare_out_dir(&out).usage()?;
    let manifest = demo_manifest(opts.manifest.clone(), &out).usage()?;
    let identity = age::x25519::Identity::generate();
    let key_file = report::write_atomic(
        out.join(IDENTITY_FILE),
        identity.to_string().expose_secret().as_bytes(),
    )
    .usage()?;
    let sandbox = Sandbox::start(sandbox_options()).await.usage()?;
    crate::say!("sandbox listening at {}", sandbox.base_url());
    let run = RunOptions {
        manifest,
        format: None,
        out: out.clone(),
        config: ConfigSource::Loaded(Box::new(demo_config(&sandbox).usage()?)),
        overrides: Overrides::default(),
        recipients: vec![identity.to_public().to_string()],
        recipients_file: None,
        export_plaintext: false,
        backoff: Backoff::default(),
        timeout: Duration::from_secs(10),
        dry_run: false,
        yes: true,
        progress: opts.progress,
        grace: Duration::from_secs(20),
        fsync: true,
        rails: super::run::Rails::default(),
        unattended: Default::default(),
    };
    let finished = rotate(run).await?;
    let export = finished
        .export
        .clone()
        .ok_or_else(|| anyhow!("no export written"))
        .runtime()?;
    let (ok, total) = verify_export(&sandbox, &export, &identity)
        .await
        .runtime()?;
    sandbox.shutdown().await;
    print_result(&finished, &out, &key_file, &export, ok, total);
    let all_good = finished.exit == Exit::Success
        && ok == total
        && total as u64 == finished.summary.totals.rows;
    Ok(if all_good {
        Exit::Success
    } else {
        Exit::RowsFailed
    })
}

fn default_out() -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    PathBuf::from("credrotate-demo").join(format!("run-{}", now.replace(':', "")))
}

fn demo_manifest(given: Option<PathBuf>, out: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let in_checkout = PathBuf::from("examples/users.csv");
    if in_checkout.exists() {
        return Ok(in_checkout);
    }
    report::write_atomic(out.join("users.csv"), EXAMPLE_USERS.as_bytes())
}

/// A little latency and a slow operation, so the demo shows real polling and pacing.
fn sandbox_options() -> Options {
    Options {
        faults: Faults {
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(8),
            ..Faults::default()
        },
        op_delay: Duration::from_millis(30),
        ..Options::default()
    }
}

/// The demo's provider, written as an operator would write it, through the same loader; only
/// the credential is in-process (the sandbox's token).
fn demo_config(sandbox: &Sandbox) -> anyhow::Result<Config> {
    let text = format!(
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"{}\"\nrate = \"100/s\"\nburst = 10\nconcurrency = 16\npoll_interval = \"20ms\"\npoll_timeout = \"30s\"\n",
        sandbox.graph_url()
    );
    let spec = ConfigSpec::from_file(toml::from_str(&text)?, &Overrides::default())?;
    let credential = Credential::from_bearer(secret(sandbox.token().to_owned()));
    Ok(Config {
        spec,
        credentials: BTreeMap::from([("graph".to_owned(), credential)]),
        tls: Default::default(),
    })
}

/// Decrypts the export and asks the sandbox which passwords sign in. Returns (ok, total).
pub async fn verify_export(
    sandbox: &Sandbox,
    export: &Path,
    identity: &age::x25519::Identity,
) -> anyhow::Result<(usize, usize)> {
    let rows = export::decrypt(export, identity)?;
    let body: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::json!({ "user": r[0], "password": r[3] }))
        .collect();
    let answer: Vec<serde_json::Value> = reqwest::Client::new()
        .post(format!("{}/_sandbox/verify", sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .context("sandbox verify request failed")?
        .json()
        .await?;
    let ok = answer
        .iter()
        .filter(|a| a["ok"] == serde_json::Value::Bool(true))
        .count();
    Ok((ok, rows.len()))
}

fn print_result(
    f: &super::session::Finished,
    out: &Path,
    key: &Path,
    export: &Path,
    ok: usize,
    total: usize,
) {
    let t = &f.summary.totals;
    crate::say!(
        "demo: {} row(s): {} succeeded, {} failed; {} retries; {:.1}s at {:.1} resets/s",
        t.rows,
        t.succeeded,
        t.failed,
        t.retries,
        f.summary.duration_seconds,
        f.summary.achieved_rate
    );
    crate::say!("verified at the sandbox: {ok}/{total} exported passwords sign in");
    crate::say!("output folder: {}", out.display());
    for file in &f.files {
        crate::say!("  {}", file.display());
    }
    crate::say!("  {} (throwaway demo identity)", key.display());
    crate::say!(
        "decrypt with: age -d -i {} {}",
        key.display(),
        export.display()
    );
}
