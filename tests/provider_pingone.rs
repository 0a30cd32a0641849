//! `kind = "pingone"`: PingOne Directory API password reset, HTTP Basic, against the sandbox.

mod common;

use std::collections::HashMap;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, user, Env};
use credrotate::sandbox::{Options, PingOneMethod, DEFAULT_CLIENT_ID};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

const INITIAL: &str = "Initial-Passw0rd!";

fn config(env: &Env, extra: &str, key_env: &str) -> std::path::PathBuf {
    let text = format!(
        "[providers.ping]\nkind = \"pingone\"\nbase_url = \"{}\"\n{extra}\n[providers.ping.auth]\ntype = \"basic\"\nusername = \"{DEFAULT_CLIENT_ID}\"\npassword_env = \"{key_env}\"\n",
        env.sandbox.pingone_url()
    );
    env.write("credrotate.toml", &text)
}

fn options() -> Options {
    Options {
        initial_password: Some(INITIAL.into()),
        ..Options::default()
    }
}

/// A sandbox whose PingOne route takes only `method`.
fn taking(method: PingOneMethod) -> Options {
    Options {
        pingone_method: method,
        ..options()
    }
}

/// Odd rows by old password, even rows by confirmation token.
fn manifest(env: &Env, n: usize) -> std::path::PathBuf {
    let mut text = String::from("user,old_password,confirmation_token\n");
    for i in 1..=n {
        match i % 2 {
            1 => text += &format!("{},{INITIAL},\n", user(i)),
            _ => text += &format!("{},,token-{i}\n", user(i)),
        }
    }
    env.write("users.csv", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingone_resets_by_old_password_or_token_with_configured_method() {
    let env = Env::start(taking(PingOneMethod::Put)).await;
    let cfg = config(&env, "http_method = \"PUT\"", "CREDROTATE_TOKEN");
    let out = env.run(&manifest(&env, 6), &cfg, &[]).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(6).await;
    assert!(env.report_json().iter().all(|r| r["http_status"] == 200));
    assert_eq!(env.stats().await["families"]["pingone"]["requests"], 6);
    env.assert_secrets_absent(
        &out,
        &[INITIAL.into(), "token-2".into(), env.sandbox.token().into()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_old_password_and_bad_api_key_are_row_errors() {
    let env = Env::start(options()).await;
    let m = env.write(
        "users.csv",
        &format!(
            "user,old_password\n{},Wrong-Old-Pass\n{},{INITIAL}\n",
            user(1),
            user(2)
        ),
    );
    let out = env
        .run(&m, &config(&env, "", "CREDROTATE_TOKEN"), &[])
        .await;
    assert_exit(&out, 1);
    assert_old_password_refusal_reported(&env, &user(1));
    env.assert_export_verifies(1).await;
    env.assert_secrets_absent(&out, &["Wrong-Old-Pass".into()]);

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let cfg = config(&env, "", "PING_KEY");
    let out = env
        .run_cmd()
        .manifest(&m)
        .config(&cfg)
        .env("PING_KEY", "not-the-api-key")
        .output()
        .await;
    assert_exit(&out, 1);
    assert!(env
        .report_json()
        .iter()
        .all(|r| r["http_status"] == 401 && r["error_code"] == "UNAUTHORIZED"));
    env.assert_secrets_absent(&out, &["not-the-api-key".into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_or_neither_input_is_a_manifest_error_before_sending() {
    let env = Env::start(options()).await;
    let m = env.write(
        "users.csv",
        &format!(
            "user,old_password,confirmation_token\n{},{INITIAL},tok\n{},,\n",
            user(1),
            user(2)
        ),
    );
    let out = env
        .run(&m, &config(&env, "", "CREDROTATE_TOKEN"), &[])
        .await;
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("users.csv:2") && err.contains("has both"),
        "{err}"
    );
    assert!(
        err.contains("users.csv:3") && err.contains("has neither"),
        "{err}"
    );
    assert_eq!(env.stats().await["requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingone_needs_basic_auth_and_survives_429_503() {
    let mut opts = flaky(30.0, 3, 0.15);
    opts.initial_password = Some(INITIAL.into());
    let env = Env::start(opts).await;
    let bearer = env.write(
        "bearer.toml",
        &format!(
            "[providers.ping]\nkind = \"pingone\"\nbase_url = \"{}\"\n",
            env.sandbox.pingone_url()
        ),
    );
    let out = env.run(&manifest(&env, 1), &bearer, &[]).await;
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("HTTP Basic"),
        "{}",
        text(&out.stderr)
    );

    let out = env
        .run(
            &manifest(&env, 40),
            &config(&env, "", "CREDROTATE_TOKEN"),
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
    env.assert_export_verifies(40).await;
    assert_saw_429_and_503(&env.stats().await);
}

/// report.csv shows PingOne's refusal of `user`'s old password: its code, its generic message
/// and the detail that says what is wrong.
fn assert_old_password_refusal_reported(env: &Env, user: &str) {
    let row = report_csv_row(env, user);
    assert_eq!(
        (row["http_status"].as_str(), row["error_code"].as_str()),
        ("400", "INVALID_DATA")
    );
    assert!(
        row["error_message"].starts_with("The request could not be completed.")
            && row["error_message"]
                .contains("oldPassword: The old password is not the user's current password."),
        "PingOne's details reach the report: {row:?}"
    );
}

/// The report.csv row of `user`, by column name.
fn report_csv_row(env: &Env, user: &str) -> HashMap<String, String> {
    let mut reader = csv::Reader::from_path(env.path("out").join("report.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .find(|row: &HashMap<String, String>| row["user"] == user)
        .unwrap_or_else(|| panic!("no report.csv row for {user}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_the_server_does_not_take_is_a_visible_refusal() {
    let env = Env::start(taking(PingOneMethod::Put)).await;
    let m = manifest(&env, 4);
    let out = env
        .run(&m, &config(&env, "", "CREDROTATE_TOKEN"), &[])
        .await;
    assert_exit(&out, 1);
    for r in env.report_json() {
        assert_eq!(
            (
                r["status"].as_str(),
                r["http_status"].as_u64(),
                r["error_code"].as_str()
            ),
            (Some("failed"), Some(405), Some("METHOD_NOT_ALLOWED")),
            "{r}"
        );
        assert!(r["error_message"].as_str().unwrap().contains("POST"), "{r}");
    }
    assert!(
        env.export().is_empty(),
        "nothing was applied, nothing exported"
    );
    let stats = env.stats().await;
    assert_eq!(stats["requests_by_status"]["405"], 4, "{stats}");
    assert_eq!(stats["resets_total"], 0);

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let cfg = config(&env, "http_method = \"put\"", "CREDROTATE_TOKEN");
    let out = env.run(&m, &cfg, &[]).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(4).await;
}

/// `credrotate sandbox FLAGS` as a process (killed when dropped) and its ready line.
async fn sandbox_process(env: &Env, flags: &[&str]) -> (tokio::process::Child, Value) {
    let mut args = vec!["sandbox", "--listen", "127.0.0.1:0"];
    args.extend(flags);
    let mut child = env.spawn(&args);
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let mut reader = tokio::io::BufReader::new(stdout);
    reader.read_line(&mut line).await.unwrap();
    (child, serde_json::from_str(&line).expect("ready line"))
}

/// A config for the sandbox process of `ready`, its API key in `PING_KEY`, plus `extra`.
fn process_config(env: &Env, ready: &Value, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "[providers.ping]\nkind = \"pingone\"\nbase_url = \"{}\"\n{extra}\n[providers.ping.auth]\ntype = \"basic\"\nusername = \"{}\"\npassword_env = \"PING_KEY\"\n",
        ready["pingone"].as_str().unwrap(),
        ready["client_id"].as_str().unwrap()
    );
    env.write("process.toml", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_flag_sets_the_method_pingone_takes() {
    let env = Env::start(options()).await;
    let (_child, ready) = sandbox_process(&env, &["--pingone-method", "patch"]).await;
    let row = format!("user,confirmation_token\n{},tok\n", user(1));
    let m = env.write("users.csv", &row);
    let key = ready["token"].as_str().unwrap();
    let cfg = process_config(&env, &ready, "");
    let run = env.run_cmd().manifest(&m).config(&cfg).env("PING_KEY", key);
    assert_exit(&run.output().await, 1);
    assert_eq!(env.report_row(&user(1))["http_status"], 405);

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let cfg = process_config(&env, &ready, "http_method = \"PATCH\"");
    let run = env.run_cmd().manifest(&m).config(&cfg).env("PING_KEY", key);
    assert_exit(&run.output().await, 0);
    assert_eq!(env.report_row(&user(1))["http_status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_validates() {
    let env = Env::start(options()).await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pingone.toml");
    let m = manifest(&env, 4);
    let args = [
        "validate",
        "--config",
        example,
        "--manifest",
        m.to_str().unwrap(),
    ];
    let out = env.credrotate(&args, &[("PINGONE_API_KEY", "k")]).await;
    assert_exit(&out, 0);
    let plan = text(&out.stdout);
    assert!(
        plan.contains("ping: 4 row(s)") && plan.contains("basic auth"),
        "{plan}"
    );
    let config = std::fs::read_to_string(example).unwrap();
    for key in [
        "region",
        "http_method",
        "type = \"basic\"",
        "username",
        "password_env",
    ] {
        assert!(
            config.contains(&format!("\n{key}")),
            "{key} is not in the example"
        );
    }
}
