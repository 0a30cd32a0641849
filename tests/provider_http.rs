//! `kind = "http"`: the generic HTTP provider, run with `examples/keycloak.toml` (client
//! credentials at the realm's token endpoint, tokens renewed as they expire) against the
//! sandbox's Keycloak routes; the other examples must at least validate.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, user, Env};
use credrotate::sandbox::{OAuthOptions, Options};
use serde_json::Value;

/// `examples/keycloak.toml` pointed at the sandbox (its token endpoint and OAuth2 client), plus
/// `extra` in the provider section.
fn keycloak(env: &Env, extra: &str) -> PathBuf {
    let example = std::fs::read_to_string("examples/keycloak.toml").unwrap();
    let client_id = OAuthOptions::default().client_id;
    let text = example
        .replace("https://keycloak.example.com", &env.sandbox.base_url())
        .replace(
            "client_id = \"credrotate\"",
            &format!("client_id = \"{client_id}\""),
        )
        .replace(
            "require_change = false",
            &format!("require_change = false\n{extra}"),
        );
    env.write("keycloak.toml", &text)
}

/// `run` with the Keycloak client secret in the environment the example names.
async fn run_kc(env: &Env, manifest: &Path, config: &Path, args: &[&str]) -> Output {
    env.run_cmd()
        .manifest(manifest)
        .config(config)
        .args(args)
        .env("KEYCLOAK_CLIENT_SECRET", env.sandbox.client_secret())
        .output()
        .await
}

async fn oauth_stats(env: &Env) -> Value {
    reqwest::get(format!("{}/_sandbox/oauth", env.sandbox.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_example_resets_and_verifies() {
    let env = Env::start(Options::default()).await;
    let m = env.write(
        "users.csv",
        &format!(
            "user,require_change\n{},true\n{},\n{},false\n",
            user(1),
            user(2),
            user(3)
        ),
    );
    let out = run_kc(&env, &m, &keycloak(&env, ""), &[]).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(3).await;
    assert!(env.report_json().iter().all(|r| r["http_status"] == 204));
    let stats = env.stats().await;
    assert_eq!(stats["must_change_users"], serde_json::json!([user(1)]));
    assert_eq!(stats["families"]["keycloak"]["requests"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_json_escaped_and_policy_errors_are_row_errors() {
    let env = Env::start(Options {
        users: Some(vec![user(1), user(2), "a/b?c".into()]),
        ..Options::default()
    })
    .await;
    let tricky = r#"q"uo\te,"admin":true-Passw0rd"#;
    let m = env.write(
        "users.jsonl",
        &[
            serde_json::json!({"user": user(1), "new_password": tricky}),
            serde_json::json!({"user": user(2), "new_password": "short"}),
            serde_json::json!({"user": "a/b?c", "new_password": "Slash-User-Passw0rd"}),
            serde_json::json!({"user": "ghost", "new_password": "Ghost-User-Passw0rd"}),
        ]
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect::<String>(),
    );
    let out = run_kc(&env, &m, &keycloak(&env, ""), &[]).await;
    assert_exit(&out, 1);
    assert_eq!(
        env.report_row(&user(2))["error_code"],
        "invalidPasswordMinLengthMessage"
    );
    assert_eq!(env.report_row("ghost")["http_status"], 404);
    assert_eq!(
        env.report_row("a/b?c")["status"],
        "succeeded",
        "user ids are percent-encoded"
    );
    let rows = env.assert_export_verifies(2).await;
    assert!(rows.iter().any(|r| r[3] == tricky));
    env.assert_secrets_absent(&out, &[tricky.into(), "short".into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_survives_429_and_503() {
    let env = Env::start(flaky(30.0, 3, 0.15)).await;
    let args = [
        "--rate",
        "100/s",
        "--max-attempts",
        "10",
        "--max-failure-rate",
        "1",
    ];
    let out = run_kc(&env, &env.users_csv(40), &keycloak(&env, ""), &args).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(40).await;
    assert_saw_429_and_503(&env.stats().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_mistakes_are_config_errors() {
    let env = Env::start(Options::default()).await;
    let m = env.users_csv(1);
    let base = format!(
        "[providers.h]\nkind = \"http\"\nbase_url = \"{}\"\n[providers.h.http]\n",
        env.sandbox.base_url()
    );
    let cases = [
        (
            "path = \"/u/{usr}\"\nbody = '{\"p\":\"{password}\"}'",
            "unknown placeholder {usr}",
        ),
        (
            "path = \"/u/{user}/{password}\"\nbody = '{\"p\":\"{password}\"}'",
            "must not contain {password}",
        ),
        (
            "path = \"/u/{user}\"\nbody = '{\"p\": 1}'",
            "must contain \"{password}\"",
        ),
        (
            "path = \"/u/{user}\"\nbody = '{\"p\":\"{password}\"'",
            "not valid JSON",
        ),
        (
            "path = \"/u\"\nbody = '{\"p\":\"{password}\"}'\nheaders = { Authorization = \"x\" }",
            "credentials do not belong",
        ),
    ];
    for (i, (table, expected)) in cases.into_iter().enumerate() {
        let cfg = env.write(&format!("h{i}.toml"), &format!("{base}{table}\n"));
        let out = env.run(&m, &cfg, &[]).await;
        assert_exit(&out, 2);
        assert!(
            text(&out.stderr).contains(expected),
            "case {i}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(env.stats().await["requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_and_auth0_examples_validate() {
    let env = Env::start(Options::default()).await;
    let m = env.users_csv(2);
    for (example, var) in [
        ("okta", "OKTA_TOKEN"),
        ("auth0", "AUTH0_CLIENT_SECRET"),
        ("keycloak", "KEYCLOAK_CLIENT_SECRET"),
    ] {
        let cfg = format!("examples/{example}.toml");
        let cfg = std::fs::canonicalize(cfg).unwrap();
        let args = [
            "validate",
            "--manifest",
            m.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ];
        let out = env.credrotate(&args, &[(var, "example-token")]).await;
        assert_exit(&out, 0);
    }
}

/// Issue 9's done-when: a 400-user Keycloak run whose client-credentials tokens expire every 3 s
/// completes with every password in force, the token renewed along the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_400_users_with_tokens_expiring_every_3s() {
    let env = Env::start(Options {
        oauth: OAuthOptions {
            token_ttl: Duration::from_secs(3),
            ..OAuthOptions::default()
        },
        ..Options::default()
    })
    .await;
    let manifest = env.users_csv(400);
    let args = ["--rate", "100/s", "--concurrency", "8"];
    let out = run_kc(&env, &manifest, &keycloak(&env, ""), &args).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(400).await;
    let stats = env.stats().await;
    assert_eq!(stats["resets_total"], 400, "{stats}");
    let oauth = oauth_stats(&env).await;
    assert!(
        oauth["client_credentials"].as_u64().unwrap() > 1,
        "the token was renewed: {oauth}"
    );
    assert_eq!(oauth["client_auth_form"], oauth["client_credentials"]);
    env.assert_secrets_absent(&out, &env.sandbox.issued_secrets());
}

/// `client_auth = "basic"` authenticates with HTTP Basic (RFC 6749 §2.3.1), and a token that the
/// sandbox kills before its announced expiry is renewed once after the 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_basic_client_auth_and_renewal_after_401() {
    let env = Env::start(Options {
        oauth: OAuthOptions {
            token_ttl: Duration::from_secs(1),
            token_ttl_claimed: Some(Duration::from_secs(300)),
            ..OAuthOptions::default()
        },
        ..Options::default()
    })
    .await;
    let config = keycloak(&env, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("# client_auth = \"basic\"", "client_auth = \"basic\"");
    std::fs::write(&config, text).unwrap();
    let args = ["--rate", "40/s", "--concurrency", "4"];
    let out = run_kc(&env, &env.users_csv(100), &config, &args).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(100).await;
    let oauth = oauth_stats(&env).await;
    assert!(oauth["client_auth_basic"].as_u64().unwrap() >= 2, "{oauth}");
    assert_eq!(oauth["client_auth_form"], 0, "{oauth}");
    let stats = env.stats().await;
    assert!(
        stats["requests_by_status"]["401"].as_u64().unwrap_or(0) >= 1,
        "tokens died mid-run: {stats}"
    );
}

/// The sandbox's Keycloak takes only its realm's tokens: a bearer token that is not one (here the
/// sandbox's fixed token) fails every row with 401 and nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_refuses_tokens_its_realm_did_not_issue() {
    let env = Env::start(Options::default()).await;
    let config = keycloak(&env, "");
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[providers.keycloak.auth]").unwrap();
    let end = text.find("[providers.keycloak.http]").unwrap();
    let bearer = "[providers.keycloak.auth]\ntype = \"bearer\"\n\n";
    std::fs::write(
        &config,
        format!("{}{bearer}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let out = run_kc(&env, &env.users_csv(3), &config, &[]).await;
    assert_exit(&out, 1);
    assert!(env.report_json().iter().all(|r| r["http_status"] == 401));
    assert_eq!(env.stats().await["resets_total"], 0);
}
