//! Proof that nothing leaks: every command path (success, retries, permanent failures, a worker
//! panic, server-generated passwords, dry run, validate, report rebuild; bearer, OAuth2 client
//! credentials with tokens dying mid-run, device code with refreshes; text and JSON logs at
//! debug/trace level, progress bar forced on) is driven through the real binary, and stdout,
//! stderr, report, summary and journal are searched for every password that was generated (read
//! back from the journal's sealed intents and the export) and every token, refresh token, device
//! code and client secret the sandbox issued or accepts. Zero hits allowed.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{assert_exit, text, user, Env};
use credrotate::sandbox::{Bucket, Faults, OAuthOptions, Options};
use serde_json::Value;

/// Everything collected from the runs.
#[derive(Default)]
struct Scan {
    outputs: Vec<(String, String)>,
    passwords: BTreeSet<String>,
    secrets: BTreeSet<String>,
}

/// Opens an armored age text sealed to the test identity.
fn open_sealed(sealed: &str, identity: &age::x25519::Identity) -> String {
    let reader = age::armor::ArmoredReader::new(sealed.as_bytes());
    let decryptor = age::Decryptor::new(reader).expect("a sealed journal password");
    let mut plain = String::new();
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .expect("sealed to the export recipient")
        .read_to_string(&mut plain)
        .unwrap();
    plain
}

/// Every sealed password in a journal, opened.
fn journal_passwords(journal: &str, identity: &age::x25519::Identity) -> Vec<String> {
    let mut out = Vec::new();
    for line in journal.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let record = record
            .as_object()
            .and_then(|o| o.values().next())
            .unwrap_or(&record);
        if let Some(sealed) = record.get("password").and_then(Value::as_str) {
            out.push(open_sealed(sealed, identity));
        }
    }
    out
}

/// Keeps a finished command's stdout and stderr for the scan.
fn keep(scan: &mut Scan, label: &str, out: Output) -> Output {
    scan.outputs
        .push((format!("{label} stdout"), text(&out.stdout)));
    scan.outputs
        .push((format!("{label} stderr"), text(&out.stderr)));
    out
}

/// Runs `credrotate` with `args`, keeps its stdout and stderr.
async fn command(
    env: &Env,
    scan: &mut Scan,
    label: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Output {
    keep(scan, label, env.credrotate(args, envs).await)
}

/// A `-vv run` with the progress bar forced on into `env.path(name)`, then `report` on it;
/// collects every output and password. `flags` go after the usual `run` flags.
async fn run(
    env: &Env,
    scan: &mut Scan,
    name: &str,
    config: &Path,
    flags: &[&str],
    envs: &[(&str, &str)],
    exit: i32,
) {
    let dir = env.path(name);
    let cmd = env
        .run_cmd()
        .global("-vv")
        .manifest(env.path("users.csv"))
        .config(config)
        .out(&dir)
        .progress("always")
        .args(flags)
        .envs(envs);
    let out = keep(scan, name, cmd.output().await);
    assert_exit(&out, exit);
    for file in ["report.csv", "report.json", "summary.json", "journal.jsonl"] {
        let content = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if file == "journal.jsonl" {
            scan.passwords
                .extend(journal_passwords(&content, &env.identity));
        }
        scan.outputs.push((format!("{name}/{file}"), content));
    }
    let rebuilt = ["-vv", "report", "--out", dir.to_str().unwrap()];
    command(env, scan, &format!("{name} report"), &rebuilt, envs).await;
    let export = dir.join("passwords.csv.age");
    let file = std::fs::File::open(&export).expect("export");
    let reader = age::Decryptor::new(std::io::BufReader::new(file))
        .unwrap()
        .decrypt(std::iter::once(&env.identity as &dyn age::Identity))
        .unwrap();
    for row in csv::Reader::from_reader(reader).records() {
        scan.passwords.insert(row.unwrap()[3].to_owned());
    }
}

fn oauth_section(env: &Env, kind: &str) -> String {
    let secret_file = env.path("client-secret");
    std::fs::write(&secret_file, env.sandbox.client_secret()).unwrap();
    let secret = if kind == "client_credentials" {
        format!("client_secret_file = \"{}\"\n", secret_file.display())
    } else {
        String::new()
    };
    format!(
        "[providers.graph.auth]\ntype = \"{kind}\"\ntenant = \"contoso\"\nclient_id = \"credrotate-sandbox\"\nauthority = \"{}\"\n{secret}",
        env.sandbox.base_url()
    )
}

/// Bearer token; 503s, 429s, unknown users (404), a panicking row; text and JSON logs; server
/// generated passwords; dry run and validate.
async fn bearer_paths(scan: &mut Scan) {
    let faults = Faults {
        error_ratio: 0.2,
        throttle: Some(Bucket {
            rate: 100.0,
            capacity: 5,
        }),
        ..Faults::default()
    };
    let users = Some((1..=50).map(user).collect());
    let env = Env::start(Options {
        faults,
        users,
        ..Options::default()
    })
    .await;
    env.users_csv(60);
    let config = env.config("", "");
    let trace = [("RUST_LOG", "trace"), ("CREDROTATE_TEST_PANIC_ROW", "7")];
    let plain = ["--rate", "60/s", "--max-failure-rate", "1"];
    run(&env, scan, "text", &config, &plain, &trace, 1).await;
    let json = [
        "--rate",
        "60/s",
        "--log-format",
        "json",
        "--max-failure-rate",
        "1",
    ];
    run(&env, scan, "json", &config, &json, &trace, 1).await;
    let report = std::fs::read_to_string(env.path("json").join("report.json")).unwrap();
    let row7: Vec<Value> = serde_json::from_str(&report).unwrap();
    assert!(
        row7.iter()
            .any(|r| r["row"] == 7 && r["status"] == "failed"),
        "row 7 panicked"
    );
    let server = [
        "--rate",
        "60/s",
        "--log-format",
        "json",
        "--password-generate",
        "server",
        "--max-failure-rate",
        "1",
    ];
    run(
        &env,
        scan,
        "server",
        &config,
        &server,
        &[("RUST_LOG", "debug")],
        1,
    )
    .await;
    let manifest = env.path("users.csv");
    let validate = [
        "-vv",
        "validate",
        "--manifest",
        manifest.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    command(&env, scan, "validate", &validate, &[("RUST_LOG", "trace")]).await;
    let dry_run = env
        .run_cmd()
        .global("-vv")
        .manifest(&manifest)
        .config(&config)
        .out(env.path("dry"))
        .no_recipient()
        .no_yes()
        .no_progress()
        .arg("--dry-run")
        .env("RUST_LOG", "trace");
    let out = keep(scan, "dry-run", dry_run.output().await);
    assert_exit(&out, 0);
    scan.secrets.extend(env.sandbox.issued_secrets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_in_any_output() {
    let mut scan = Scan::default();
    bearer_paths(&mut scan).await;
    oauth_paths(&mut scan).await;
    assert!(
        scan.passwords.len() >= 250,
        "passwords collected: {}",
        scan.passwords.len()
    );
    assert!(
        scan.secrets.len() >= 8,
        "secrets collected: {}",
        scan.secrets.len()
    );
    let text_stderr = scan
        .outputs
        .iter()
        .find(|(l, _)| l == "text stderr")
        .unwrap();
    assert!(
        text_stderr.1.len() > 10_000,
        "trace logs were written: a scan of nothing proves nothing"
    );
    let mut hits = Vec::new();
    for (label, content) in &scan.outputs {
        for p in &scan.passwords {
            if content.contains(p.as_str()) {
                hits.push(format!("a password in {label}"));
            }
        }
        for s in &scan.secrets {
            if content.contains(s.as_str()) {
                hits.push(format!("a token or secret in {label}"));
            }
        }
    }
    assert!(hits.is_empty(), "leaks: {hits:#?}");
}

/// OAuth2: client credentials whose tokens die before their announced expiry (401 → renewal),
/// and device code with 1 s tokens (refresh-token grant), at trace level.
async fn oauth_paths(scan: &mut Scan) {
    let oauth = OAuthOptions {
        token_ttl: Duration::from_secs(1),
        token_ttl_claimed: Some(Duration::from_secs(3600)),
        ..OAuthOptions::default()
    };
    let env = Env::start(Options {
        oauth,
        ..Options::default()
    })
    .await;
    env.users_csv(60);
    // Client credentials are app-only: the Graph kind they serve is graph-profile.
    let profile = format!(
        "[providers.graph]\nkind = \"graph-profile\"\nbase_url = \"{}\"\n{}\n",
        env.sandbox.graph_url(),
        oauth_section(&env, "client_credentials")
    );
    let config = env.write("credrotate.toml", &profile);
    run(&env, scan, "cc", &config, &[], &[("RUST_LOG", "trace")], 0).await;
    assert!(
        env.stats().await["requests_by_status"]["401"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    );
    scan.secrets.extend(env.sandbox.issued_secrets());

    let oauth = OAuthOptions {
        token_ttl: Duration::from_secs(1),
        ..OAuthOptions::default()
    };
    let env = Env::start(Options {
        oauth,
        ..Options::default()
    })
    .await;
    env.users_csv(60);
    let config = env.config(&oauth_section(&env, "device_code"), "");
    run(
        &env,
        scan,
        "device",
        &config,
        &["--log-format", "json"],
        &[("RUST_LOG", "trace")],
        0,
    )
    .await;
    scan.secrets.extend(env.sandbox.issued_secrets());
}
