//! `kind = "http"`: the generic HTTP provider, run with `examples/keycloak.toml` against the
//! sandbox's Keycloak route; the other examples must at least validate.

mod common;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, user, Env};
use credrotate::sandbox::Options;

/// `examples/keycloak.toml` pointed at the sandbox (and its token), plus `extra` in the section.
fn keycloak(env: &Env, extra: &str) -> std::path::PathBuf {
    let example = std::fs::read_to_string("examples/keycloak.toml").unwrap();
    let text = example
        .replace("https://keycloak.example.com", &env.sandbox.base_url())
        .replace("KEYCLOAK_TOKEN", "CREDROTATE_TOKEN")
        .replace(
            "require_change = false",
            &format!("require_change = false\n{extra}"),
        );
    env.write("keycloak.toml", &text)
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
    let out = env.run(&m, &keycloak(&env, ""), &[]).await;
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
    let out = env.run(&m, &keycloak(&env, ""), &[]).await;
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
    let args = ["--rate", "100/s", "--max-attempts", "10"];
    let out = env
        .run(&env.users_csv(40), &keycloak(&env, ""), &args)
        .await;
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
        ("auth0", "AUTH0_TOKEN"),
        ("keycloak", "KEYCLOAK_TOKEN"),
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
