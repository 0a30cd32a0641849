//! `kind = "wristband"`: reset by emailed codes, against the sandbox (which "emails" them).

mod common;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, user, Env};
use credrotate::sandbox::{Options, WristbandOptions};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

fn config(env: &Env, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "[providers.wb]\nkind = \"wristband\"\nbase_url = \"{}\"\n{extra}\n",
        env.sandbox.base_url()
    );
    env.write("credrotate.toml", &text)
}

/// A CSV row for `user` with a freshly issued code of `form`.
async fn row(env: &Env, i: usize, form: &str) -> String {
    let c = env.wristband_code(&user(i), form).await;
    let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
    format!(
        "{},{},{},{},{}\n",
        user(i),
        s("emailAuthCode"),
        s("passwordResetCode"),
        s("requestCode"),
        s("verificationCode")
    )
}

const HEADER: &str = "user,email_auth_code,password_reset_code,request_code,verification_code\n";

async fn manifest(env: &Env, n: usize) -> std::path::PathBuf {
    let mut text = HEADER.to_owned();
    for i in 1..=n {
        let form = ["email_auth_code", "password_reset_code", "otp"][i % 3];
        text += &row(env, i, form).await;
    }
    env.write("users.csv", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_code_forms_succeed_and_result_is_reported() {
    let env = Env::start(Options::default()).await;
    let m = manifest(&env, 6).await;
    let out = env
        .run(
            &m,
            &config(&env, "suppress_password_updated_email = true"),
            &[],
        )
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(6).await;
    assert!(env
        .report_json()
        .iter()
        .all(|r| r["provider_result"] == "SUCCESS"));
    let csv = std::fs::read_to_string(env.path("out").join("report.csv")).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with("provider_result,revoke_sessions,client_request_id,delivery,kv_version"));
    let stats = env.stats().await;
    assert_eq!(
        stats["revocations_per_user"].as_object().unwrap().len(),
        6,
        "Wristband revokes sessions"
    );
    assert_eq!(stats["wristband_codes_outstanding"], 0);
    let codes: Vec<String> = std::fs::read_to_string(&m)
        .unwrap()
        .split([',', '\n'])
        .filter(|s| s.len() > 12 && !s.contains('@'))
        .map(str::to_owned)
        .collect();
    env.assert_secrets_absent(&out, &codes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_code_and_misnamed_field_are_clear_row_errors() {
    let env = Env::start(Options::default()).await;
    let mut text = HEADER.to_owned();
    text += &row(&env, 1, "password_reset_code").await;
    text += &format!("{},not-a-code,,,\n", user(2));
    let m = env.write("users.csv", &text);
    let out = env.run(&m, &config(&env, ""), &[]).await;
    assert_exit(&out, 1);
    let bad = env.report_row(&user(2));
    assert_eq!(
        (bad["http_status"].as_u64(), bad["error_code"].as_str()),
        (Some(400), Some("invalid_code"))
    );
    env.assert_export_verifies(1).await;

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let m = env.write(
        "users.csv",
        &format!("{HEADER}{}", row(&env, 3, "otp").await),
    );
    let out = env
        .run(
            &m,
            &config(&env, "suppress_email_field = \"sendNoEmail\""),
            &[],
        )
        .await;
    assert_exit(&out, 1);
    let r = env.report_row(&user(3));
    assert_eq!(r["error_code"], "invalid_request");
    assert!(
        r["error_message"].as_str().unwrap().contains("sendNoEmail"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_combinations_are_manifest_errors() {
    let env = Env::start(Options::default()).await;
    let m = env.write(
        "users.csv",
        &format!(
            "{HEADER}{},a,b,,\n{},,,req,\n{},,,,\n",
            user(1),
            user(2),
            user(3)
        ),
    );
    let out = env.run(&m, &config(&env, ""), &[]).await;
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    for line in ["users.csv:2", "users.csv:3", "users.csv:4"] {
        assert!(err.contains(line), "{line} not reported: {err}");
    }
    assert_eq!(env.stats().await["requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wristband_survives_429_and_503_and_checks_results() {
    let env = Env::start(flaky(30.0, 3, 0.15)).await;
    let m = manifest(&env, 40).await;
    let out = env
        .run(
            &m,
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
    env.assert_export_verifies(40).await;
    assert_saw_429_and_503(&env.stats().await);

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let m = manifest(&env, 1).await;
    let out = env
        .run(&m, &config(&env, "success_results = [\"DONE\"]"), &[])
        .await;
    assert_exit(&out, 1);
    let r: Value = env.report_row(&user(1));
    assert_eq!(r["error_code"], "unexpected_result");
}

fn sandbox_with(wristband: WristbandOptions) -> Options {
    Options {
        wristband,
        ..Options::default()
    }
}

/// The export's (user, state) pairs.
fn export_states(env: &Env) -> Vec<(String, String)> {
    env.export()
        .into_iter()
        .map(|r| (r[0].clone(), r[4].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_result_keeps_the_password_as_a_candidate() {
    let env = Env::start(sandbox_with(WristbandOptions {
        result: Some("PENDING".into()),
        ..WristbandOptions::default()
    }))
    .await;
    let out = env
        .run(&manifest(&env, 3).await, &config(&env, ""), &[])
        .await;
    assert_exit(&out, 1);
    for r in env.report_json() {
        assert_eq!(
            (r["status"].as_str(), r["error_code"].as_str()),
            (Some("uncertain"), Some("unexpected_result")),
            "{r}"
        );
        assert!(
            r["error_message"].as_str().unwrap().contains("\"PENDING\""),
            "{r}"
        );
    }
    assert!(export_states(&env).iter().all(|(_, s)| s == "candidate"));
    let acc = env.assert_no_password_lost(3).await;
    assert_eq!((acc.uncertain, acc.applied), (3, 3), "{acc:?}");
    assert_eq!(env.stats().await["resets_total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_without_result_is_uncertain_even_if_nothing_changed() {
    let env = Env::start(sandbox_with(WristbandOptions {
        result: None,
        applies: false,
        ..WristbandOptions::default()
    }))
    .await;
    let out = env
        .run(&manifest(&env, 2).await, &config(&env, ""), &[])
        .await;
    assert_exit(&out, 1);
    assert!(env.report_json().iter().all(|r| r["status"] == "uncertain"
        && r["http_status"] == 200
        && r["error_message"].as_str().unwrap().contains("no result")));
    let rows = env.export();
    assert_eq!(rows.len(), 2, "kept as candidates: {rows:?}");
    assert!(rows.iter().all(|r| r[4] == "candidate"), "{rows:?}");
    let pairs: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[3].clone())).collect();
    assert_eq!(
        env.verify(&pairs).await,
        [false, false],
        "the sandbox applied nothing"
    );
    assert_eq!(env.stats().await["resets_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_field_the_tenant_does_not_take_fails_visibly() {
    let env = Env::start(sandbox_with(WristbandOptions {
        password_field: "password".into(),
        ..WristbandOptions::default()
    }))
    .await;
    let out = env
        .run(&manifest(&env, 2).await, &config(&env, ""), &[])
        .await;
    assert_exit(&out, 1);
    for r in env.report_json() {
        assert_eq!(
            (r["status"].as_str(), r["http_status"].as_u64()),
            (Some("failed"), Some(400)),
            "{r}"
        );
        assert_eq!(r["error_code"], "invalid_request");
        assert!(
            r["error_message"]
                .as_str()
                .unwrap()
                .contains("'newPassword'"),
            "{r}"
        );
    }
    assert!(!export_states(&env).iter().any(|(_, s)| s == "confirmed"));
    assert_eq!(env.stats().await["resets_total"], 0);

    std::fs::remove_dir_all(env.path("out")).unwrap();
    let cfg = config(&env, "password_field = \"password\"");
    let out = env.run(&manifest(&env, 2).await, &cfg, &[]).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(2).await;
}

/// `credrotate sandbox` as a process: its ready line.
async fn sandbox_process(env: &Env, flags: &[&str]) -> (tokio::process::Child, Value) {
    let mut args = vec!["sandbox", "--listen", "127.0.0.1:0"];
    args.extend(flags);
    let mut child = env.spawn(&args);
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    (child, serde_json::from_str(&line).expect("ready line"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_flags_set_the_wristband_names_and_result() {
    let env = Env::start(Options::default()).await;
    let flags = [
        "--wristband-password-field",
        "password",
        "--wristband-suppress-email-field",
        "quiet",
        "--wristband-result",
        "PENDING",
    ];
    let (_child, ready) = sandbox_process(&env, &flags).await;
    let base = ready["wristband"].as_str().unwrap();
    let c = reqwest::Client::new();
    let send = |body: Value| {
        c.post(format!("{base}/api/v1/password-reset/reset-password"))
            .bearer_auth(ready["token"].as_str().unwrap())
            .json(&body)
            .send()
    };
    let body = json!({"passwordResetCode": "x", "newPassword": "P-1"});
    let resp = send(body).await.unwrap();
    assert_eq!(resp.status(), 400);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["error_description"], "Unknown field 'newPassword'.");
    let codes: Value = c
        .post(format!("{base}/_sandbox/wristband/codes"))
        .json(&json!({"user": "u1", "form": "password_reset_code"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body =
        json!({"passwordResetCode": codes["passwordResetCode"], "password": "P-1", "quiet": true});
    let answer: Value = send(body).await.unwrap().json().await.unwrap();
    assert_eq!(answer, json!({"result": "PENDING"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_validates_and_names_every_key() {
    let env = Env::start(Options::default()).await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/wristband.toml");
    let m = env.write(
        "codes.csv",
        &format!("{HEADER}a@x.test,e1,,,\nb@x.test,,p1,,\nc@x.test,,,r1,v1\n"),
    );
    let m = m.to_str().unwrap();
    let args = ["validate", "--config", example, "--manifest", m];
    let out = env.credrotate(&args, &[("WRISTBAND_TOKEN", "t")]).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("wristband: 3 row(s)"),
        "{}",
        text(&out.stdout)
    );
    let config = std::fs::read_to_string(example).unwrap();
    for key in [
        "base_url",
        "token_env",
        "rate",
        "password_field",
        "suppress_email_field",
        "suppress_password_updated_email",
        "success_results",
    ] {
        assert!(
            config.contains(&format!("\n{key} = ")),
            "{key} is not set in the example"
        );
    }
}
