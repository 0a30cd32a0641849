//! `examples/okta.toml` and `examples/auth0.toml` (generic HTTP provider) against the sandbox's
//! Okta and Auth0 routes, whose 429s carry no `Retry-After` but the provider's own reset header
//! (epoch seconds): the run waits until the reset (the sandbox sees no request before it), and
//! the providers' error shapes land in report.csv's error_code, error_message and request_id.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::{assert_exit, user, Env};
use credrotate::sandbox::{OAuthOptions, Options, WindowLimit};
use serde_json::{json, Value};

/// A sandbox where `family` allows `limit` requests per 2 s window, and only `users` exist.
fn limited(family: &str, limit: u32, users: &[String]) -> Options {
    let mut opts = Options {
        users: Some(users.to_vec()),
        ..Options::default()
    };
    let window = Duration::from_secs(2);
    opts.reset_limits
        .insert(family.into(), WindowLimit { limit, window });
    opts
}

/// The example pointed at the sandbox, with the sandbox's OAuth2 client id.
fn example(env: &Env, name: &str, host: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("examples/{name}.toml"))
        .unwrap()
        .replace(host, &env.sandbox.base_url())
        .replace("your-m2m-client-id", &OAuthOptions::default().client_id);
    env.write(&format!("{name}.toml"), &text)
}

/// `n` users with passwords from the manifest; the one of `short` is too short for the sandbox.
fn manifest(env: &Env, users: &[String], short: &str) -> PathBuf {
    let lines: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let password = if u == short {
                "short".to_owned()
            } else {
                format!("Rotated-Passw0rd-{i:03}-x")
            };
            json!({"user": u, "new_password": password}).to_string() + "\n"
        })
        .collect();
    env.write("users.jsonl", &lines)
}

async fn run(env: &Env, config: &PathBuf, manifest: &PathBuf, var: (&str, &str)) -> Output {
    env.run_cmd()
        .manifest(manifest)
        .config(config)
        .args(["--rate", "unlimited", "--concurrency", "1"])
        .env(var.0, var.1)
        .output()
        .await
}

async fn ratelimits(env: &Env) -> Value {
    reqwest::get(format!("{}/_sandbox/ratelimits", env.sandbox.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The report.csv row of `user` as header -> value.
fn csv_row(env: &Env, user: &str) -> std::collections::HashMap<String, String> {
    let mut reader = csv::Reader::from_path(env.path("out").join("report.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| r.unwrap())
        .find(|r| r.iter().any(|v| v == user))
        .map(|r| {
            headers
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| panic!("no report.csv row for {user}"))
}

/// The wait was honoured: throttled at least once, and nothing arrived before an announced reset.
async fn assert_waited(env: &Env, family: &str) {
    let limits = ratelimits(env).await;
    let f = &limits[family];
    assert!(
        f["throttled"].as_u64().unwrap() >= 1,
        "never throttled: {limits}"
    );
    assert_eq!(
        f["early_requests"], 0,
        "requests before the reset: {limits}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_x_rate_limit_reset_is_honoured_and_errors_reported() {
    let users: Vec<String> = (1..=9).map(user).collect();
    let env = Env::start(limited("okta", 4, &users)).await;
    let m = manifest(&env, &users, &users[6]);
    let config = example(&env, "okta", "https://example.okta.com");
    let out = run(&env, &config, &m, ("OKTA_TOKEN", env.sandbox.token())).await;
    assert_exit(&out, 1);
    assert_waited(&env, "okta").await;
    env.assert_export_verifies(8).await;
    let row = csv_row(&env, &users[6]);
    assert_eq!(row["status"], "failed");
    assert_eq!(row["error_code"], "E0000001");
    assert!(
        row["error_message"].starts_with(
            "Api validation failed: password (password: Password requirements were not met"
        ),
        "{row:?}"
    );
    let id = &row["request_id"];
    assert!(
        id.len() == 48 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "X-Okta-Request-Id: {row:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_x_ratelimit_reset_is_honoured_and_errors_reported() {
    let mut users: Vec<String> = (1..=8).map(|i| format!("auth0|{}", user(i))).collect();
    let env = Env::start(limited("auth0", 3, &users)).await;
    users.push("auth0|ghost".into());
    let m = manifest(&env, &users, &users[2]);
    let config = example(&env, "auth0", "https://example.eu.auth0.com");
    let secret = env.sandbox.client_secret().to_owned();
    let out = run(&env, &config, &m, ("AUTH0_CLIENT_SECRET", &secret)).await;
    assert_exit(&out, 1);
    assert_waited(&env, "auth0").await;
    env.assert_export_verifies(7).await;
    let weak = csv_row(&env, &users[2]);
    assert_eq!(
        (weak["error_code"].as_str(), weak["error_message"].as_str()),
        ("Bad Request", "PasswordStrengthError: Password is too weak")
    );
    let ghost = csv_row(&env, "auth0|ghost");
    assert_eq!(
        (ghost["http_status"].as_str(), ghost["error_code"].as_str()),
        ("404", "inexistent_user")
    );
    assert_eq!(ghost["error_message"], "The user does not exist.");
    env.assert_secrets_absent(&out, &env.sandbox.issued_secrets());
}
