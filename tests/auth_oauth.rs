//! OAuth2 credentials end to end: the real binary against the sandbox's token endpoint, whose
//! access tokens really expire. Judged by what the sandbox saw (tokens issued, refreshes, 401s)
//! and by every row succeeding.

mod common;

use std::time::Duration;

use common::{assert_exit, text, Env};
use credrotate::sandbox::{OAuthOptions, Options};
use serde_json::Value;

fn sandbox(oauth: OAuthOptions) -> Options {
    Options {
        oauth,
        ..Options::default()
    }
}

/// `[providers.graph.auth]` for client credentials with the secret in a file.
fn client_credentials_auth(env: &Env, secret: &str) -> String {
    let secret_file = env.path("client-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    format!(
        "[providers.graph.auth]\ntype = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"credrotate-sandbox\"\nclient_secret_file = \"{}\"\nauthority = \"{}\"\n",
        secret_file.display(),
        env.sandbox.base_url()
    )
}

/// Client credentials are app-only: the Graph kind they serve is `graph-profile`.
fn profile_config(env: &Env, auth: &str) -> std::path::PathBuf {
    let text = format!(
        "[providers.graph]\nkind = \"graph-profile\"\nbase_url = \"{}\"\n{auth}\n",
        env.sandbox.graph_url()
    );
    let path = env.path("credrotate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn device_code_auth(env: &Env) -> String {
    format!(
        "[providers.graph.auth]\ntype = \"device_code\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"credrotate-sandbox\"\nauthority = \"{}\"\n",
        env.sandbox.base_url()
    )
}

async fn oauth_stats(env: &Env) -> Value {
    reqwest::get(format!("{}/_sandbox/oauth", env.sandbox.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn all_succeeded(env: &Env, rows: usize) {
    let report = env.report_json();
    assert_eq!(report.len(), rows);
    let failed: Vec<&Value> = report
        .iter()
        .filter(|r| r["status"] != "succeeded")
        .collect();
    assert!(failed.is_empty(), "rows that did not succeed: {failed:?}");
}

fn count_401(stats: &Value) -> u64 {
    stats["requests_by_status"]["401"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_is_cached_and_used() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(40);
    let auth = client_credentials_auth(&env, env.sandbox.client_secret());
    let config = profile_config(&env, &auth);
    let out = env
        .run(
            &manifest,
            &config,
            &["--rate", "unlimited", "--concurrency", "8"],
        )
        .await;
    assert_exit(&out, 0);
    all_succeeded(&env, 40);
    let oauth = oauth_stats(&env).await;
    assert_eq!(
        oauth["client_credentials"], 1,
        "one token for the whole run: {oauth}"
    );
    assert_eq!(count_401(&env.stats().await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_renews_before_expiry_mid_run() {
    let env = Env::start(sandbox(OAuthOptions {
        token_ttl: Duration::from_secs(1),
        ..OAuthOptions::default()
    }))
    .await;
    let manifest = env.users_csv(120);
    let auth = client_credentials_auth(&env, env.sandbox.client_secret());
    let config = profile_config(&env, &auth);
    let out = env
        .run(
            &manifest,
            &config,
            &["--rate", "40/s", "--concurrency", "4"],
        )
        .await;
    assert_exit(&out, 0);
    all_succeeded(&env, 120);
    let oauth = oauth_stats(&env).await;
    let issued = oauth["client_credentials"].as_u64().unwrap();
    assert!(
        issued >= 3,
        "a 3 s run with 1 s tokens renews them: {oauth}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_renews_once_on_401_when_a_token_dies_early() {
    // The sandbox announces an hour but kills tokens after one second: only 401s tell.
    let env = Env::start(sandbox(OAuthOptions {
        token_ttl: Duration::from_secs(1),
        token_ttl_claimed: Some(Duration::from_secs(3600)),
        ..OAuthOptions::default()
    }))
    .await;
    let manifest = env.users_csv(100);
    let auth = client_credentials_auth(&env, env.sandbox.client_secret());
    let config = profile_config(&env, &auth);
    let out = env
        .run(
            &manifest,
            &config,
            &["--rate", "40/s", "--concurrency", "8"],
        )
        .await;
    assert_exit(&out, 0);
    all_succeeded(&env, 100);
    let (oauth, stats) = (oauth_stats(&env).await, env.stats().await);
    let issued = oauth["client_credentials"].as_u64().unwrap();
    assert!(count_401(&stats) >= 1, "tokens expired mid-run: {stats}");
    assert!(issued >= 2, "renewed after the 401s: {oauth}");
    assert!(
        issued <= 1 + count_401(&stats),
        "at most one renewal per 401: {oauth} {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_secret_is_a_start_up_error() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(50);
    let auth = client_credentials_auth(&env, "not-the-secret-0123456789");
    let config = profile_config(&env, &auth);
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(stderr.contains("client_secret_file"), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(!stderr.contains("not-the-secret-0123456789"), "{stderr}");
    assert_eq!(env.stats().await["reset_requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_waits_for_the_sign_in_then_refreshes_mid_run() {
    let env = Env::start(sandbox(OAuthOptions {
        token_ttl: Duration::from_secs(1),
        device_pending_polls: 2,
        ..OAuthOptions::default()
    }))
    .await;
    let manifest = env.users_csv(100);
    let config = env.config(&device_code_auth(&env), "");
    let out = env
        .run(
            &manifest,
            &config,
            &["--rate", "40/s", "--concurrency", "4"],
        )
        .await;
    assert_exit(&out, 0);
    all_succeeded(&env, 100);
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("To sign in"))
        .unwrap_or_else(|| panic!("no sign-in prompt on stderr: {stderr}"));
    let url = format!("{}/devicelogin", env.sandbox.base_url());
    assert!(
        line.contains(&url) && line.contains("enter the code"),
        "{line}"
    );
    let oauth = oauth_stats(&env).await;
    assert_eq!(oauth["device_codes"], 1, "{oauth}");
    assert_eq!(
        oauth["pending_answers"], 2,
        "authorization_pending twice: {oauth}"
    );
    assert!(
        oauth["refreshes"].as_u64().unwrap() >= 1,
        "refreshed: {oauth}"
    );
    assert_eq!(count_401(&env.stats().await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_device_code_is_a_start_up_error() {
    let env = Env::start(sandbox(OAuthOptions {
        device_pending_polls: 100,
        device_code_ttl: Duration::from_secs(2),
        ..OAuthOptions::default()
    }))
    .await;
    let manifest = env.users_csv(3);
    let config = env.config(&device_code_auth(&env), "");
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("device code sign-in failed"), "{stderr}");
    assert_eq!(env.stats().await["reset_requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_http_authority_is_refused() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(1);
    let auth = client_credentials_auth(&env, "s")
        .replace(&env.sandbox.base_url(), "http://login.example.com");
    let config = profile_config(&env, &auth);
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("authority") && stderr.contains("https"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_on_reset_password_are_refused_before_anything_is_sent() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(5);
    let auth = client_credentials_auth(&env, env.sandbox.client_secret());
    let config = env.config(&auth, "");
    for args in [vec![
        "validate",
        "--manifest",
        manifest.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]] {
        let out = env.credrotate(&args, &[]).await;
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(stderr.contains("needs a delegated token"), "{stderr}");
        assert!(stderr.contains("kind = \"graph-profile\""), "{stderr}");
    }
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    assert_eq!(env.stats().await["requests_total"], 0, "no reset was sent");
    assert_eq!(
        oauth_stats(&env).await["client_credentials"],
        0,
        "no token was asked for"
    );
}

/// A `token_url` server's refusal (Auth0 without the Management API audience, a wrong secret by
/// HTTP Basic) stops the run before anything is sent, naming the keys to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_url_refusals_are_start_up_errors() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(2);
    let base = env.sandbox.base_url();
    let cases = [
        (
            "oauth/token",
            "",
            env.sandbox.client_secret(),
            "access_denied",
        ),
        (
            "realms/r/protocol/openid-connect/token",
            "client_auth = \"basic\"\n",
            "wrong-secret-0123456789",
            "invalid_client",
        ),
    ];
    for (path, extra, secret, expected) in cases {
        let auth = format!(
            "[providers.kc.auth]\ntype = \"client_credentials\"\ntoken_url = \"{base}/{path}\"\nclient_id = \"credrotate-sandbox\"\nclient_secret_env = \"KC_SECRET\"\n{extra}"
        );
        let config = env.write(
            "kc.toml",
            &format!(
                "[providers.kc]\nkind = \"http\"\nbase_url = \"{base}\"\n{auth}[providers.kc.http]\nmethod = \"PUT\"\npath = \"/admin/realms/r/users/{{user}}/reset-password\"\nbody = '{{\"type\": \"password\", \"value\": \"{{password}}\"}}'\n"
            ),
        );
        let out = env
            .run_cmd()
            .manifest(&manifest)
            .config(&config)
            .env("KC_SECRET", secret)
            .output()
            .await;
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains("check token_url"), "{stderr}");
        assert!(stderr.contains("nothing was sent"), "{stderr}");
        assert!(!stderr.contains(secret), "{stderr}");
    }
    assert_eq!(env.stats().await["requests_total"], 0);
}
