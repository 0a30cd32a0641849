//! `kind = "graph-profile"`: `PATCH /users/{id}` with a passwordProfile, against the sandbox.

mod common;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, user, Env};
use credrotate::sandbox::Options;

fn config(env: &Env, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "[providers.entra]\nkind = \"graph-profile\"\nbase_url = \"{}\"\n{extra}\n",
        env.sandbox.graph_url()
    );
    env.write("credrotate.toml", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_resets_set_force_change_and_verify() {
    let env = Env::start(Options::default()).await;
    let manifest = env.write(
        "users.csv",
        &format!(
            "user,require_change\n{},\n{},false\n{},\n",
            user(1),
            user(2),
            user(3)
        ),
    );
    let out = env
        .run(
            &manifest,
            &config(&env, "require_change = true"),
            &["--rate", "unlimited"],
        )
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(3).await;
    let report = env.report_json();
    assert!(report
        .iter()
        .all(|r| r["status"] == "succeeded" && r["http_status"] == 204));
    let stats = env.stats().await;
    assert_eq!(
        stats["must_change_users"],
        serde_json::json!([user(1), user(3)])
    );
    assert_eq!(stats["families"]["graph"]["requests"], 3);
    let exported: Vec<String> = env.export().into_iter().map(|r| r[3].clone()).collect();
    env.assert_secrets_absent(&out, &exported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_password_and_unknown_user_are_clear_row_errors() {
    let env = Env::start(Options {
        users: Some(vec![user(1), user(2)]),
        ..Options::default()
    })
    .await;
    let manifest = env.write(
        "users.csv",
        &format!("user,new_password\n{},short\n{},Long-Enough-Passw0rd!\nnobody@example.test,Another-Passw0rd!!\n", user(1), user(2)),
    );
    let out = env.run(&manifest, &config(&env, ""), &[]).await;
    assert_exit(&out, 1);
    let weak = env.report_row(&user(1));
    assert_eq!(weak["error_code"], "Request_BadRequest");
    assert!(
        weak["error_message"]
            .as_str()
            .unwrap()
            .contains("complexity"),
        "{weak}"
    );
    assert_eq!(
        env.report_row("nobody@example.test")["error_code"],
        "Request_ResourceNotFound"
    );
    assert_eq!(env.report_row(&user(2))["status"], "succeeded");
    env.assert_export_verifies(1).await;
    env.assert_secrets_absent(&out, &["short".into(), "Long-Enough-Passw0rd!".into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_survives_429_and_503() {
    let env = Env::start(flaky(30.0, 3, 0.15)).await;
    let manifest = env.users_csv(60);
    let out = env
        .run(
            &manifest,
            &config(&env, ""),
            &[
                "--rate",
                "100/s",
                "--max-attempts",
                "10",
                "--max-failure-rate",
                "1",
            ],
        )
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(60).await;
    assert_saw_429_and_503(&env.stats().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_mistakes_for_the_kind_exit_2() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(1);
    for (extra, expected) in [
        ("generate = \"server\"", "cannot have the server generate"),
        (
            "region = \"eu\"",
            "field `region` does not apply to kind \"graph-profile\"",
        ),
    ] {
        let out = env.run(&manifest, &config(&env, extra), &[]).await;
        assert_exit(&out, 2);
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(env.stats().await["requests_total"], 0);
}
