//! Microsoft Graph's documented rules, end to end: the real binary against a sandbox that
//! enforces them (docs/DESIGN.md §7). Each test judges by what the sandbox observed: passwords
//! that sign in, users marked must-change, requests refused.

mod common;

use std::path::PathBuf;

use common::{assert_exit, text, Env};
use credrotate::sandbox::{Bucket, Faults, GraphMode, Options};
use serde_json::Value;

/// A config with one provider `graph` of `kind` at `base_url`, plus `extra` keys.
fn config(env: &Env, kind: &str, base_url: &str, extra: &str) -> PathBuf {
    let poll = if kind == "graph" {
        "poll_interval = \"10ms\"\n"
    } else {
        ""
    };
    let text =
        format!("[providers.graph]\nkind = \"{kind}\"\nbase_url = \"{base_url}\"\n{poll}{extra}\n");
    env.write("credrotate.toml", &text)
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dollar_ids_are_addressed_by_key_and_every_request_is_traced() {
    let env = Env::start(Options::default()).await;
    let manifest = env.write("users.csv", "user\n$x1\n$o'neil\nalice@contoso.test\n");
    let config = env.config("", "");
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(3).await;
    let report = env.report_json();
    let ids: Vec<&str> = report
        .iter()
        .map(|r| r["client_request_id"].as_str().unwrap_or_default())
        .collect();
    assert!(ids.iter().all(|id| is_uuid(id)), "{ids:?}");
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), 3, "one client-request-id per row: {ids:?}");
    assert!(
        report.iter().all(|r| r["request_id"].is_string()),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_password_methods_reset_and_users_must_change() {
    let env = Env::start(Options::default()).await;
    let manifest = env.write(
        "users.csv",
        "user,require_change\nu1@x.test,false\nu2@x.test,\nu3@x.test,false\n",
    );
    let base = format!("{}/beta", env.sandbox.base_url());
    let config = config(
        &env,
        "graph",
        &base,
        "api_version = \"beta\"\nmethod_collection = \"passwordMethods\"",
    );
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 row(s) say require_change = false")
            && stderr.contains("always makes the user change"),
        "{stderr}"
    );
    env.assert_export_verifies(3).await;
    let stats = env.stats().await;
    assert_eq!(
        stats["must_change_users"],
        serde_json::json!(["u1@x.test", "u2@x.test", "u3@x.test"]),
        "Graph prompts a change whatever the row said: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_mismatch_or_app_only_graph_is_refused_and_software_oath_is_experimental() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(2);
    let graph_url = env.sandbox.graph_url();
    let validate = |config: PathBuf| {
        let manifest = manifest.clone();
        let env = &env;
        async move {
            let args = [
                "validate",
                "--manifest",
                manifest.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ];
            env.credrotate(&args, &[]).await
        }
    };
    let out = validate(config(&env, "graph", &graph_url, "api_version = \"beta\"")).await;
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("does not match base_url"),
        "{}",
        text(&out.stderr)
    );

    let beta = format!("{}/beta", env.sandbox.base_url());
    let oath =
        "api_version = \"beta\"\nmethod_collection = \"softwareOathMethods\"\nmethod = \"m1\"";
    let out = validate(config(&env, "graph", &beta, oath)).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("experimental"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.stats().await["requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_rows_name_the_throttle_scope() {
    let env = Env::start(Options {
        faults: Faults {
            throttle: Some(Bucket {
                rate: 0.01,
                capacity: 1,
            }),
            ..Faults::default()
        },
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let manifest = env.users_csv(3);
    let config = env.config("", "");
    let out = env
        .run(&manifest, &config, &["--max-retry-after", "1s"])
        .await;
    assert_exit(&out, 1);
    let report = env.report_json();
    let throttled: Vec<&Value> = report.iter().filter(|r| r["http_status"] == 429).collect();
    assert!(!throttled.is_empty(), "{report:?}");
    for r in throttled {
        let message = r["error_message"].as_str().unwrap();
        assert!(
            message.contains("x-ms-throttle-scope: Tenant_Application"),
            "{message}"
        );
        assert!(is_uuid(r["client_request_id"].as_str().unwrap()), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_profile_without_the_directory_role_fails_every_row_visibly() {
    let env = Env::start(Options {
        faults: Faults {
            profile_missing_role: true,
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let manifest = env.users_csv(3);
    let config = config(&env, "graph-profile", &env.sandbox.graph_url(), "");
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 1);
    for r in env.report_json() {
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["error_code"], "Authorization_RequestDenied", "{r}");
    }
    assert_eq!(env.stats().await["resets_total"], 0);
}
