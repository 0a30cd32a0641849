//! Incident-response rails against the sandbox (issue 11): confirmation, break-glass
//! exclusions, the canary, the circuit breaker (wrong token, failure storm), and finishing the
//! failures with `--retry-from`. Every check is what the sandbox observed.

mod common;

use common::{assert_exit, text, user, Env};
use credrotate::sandbox::{Faults, GraphMode, Options};
use serde_json::{json, Value};

/// A Graph sandbox answering resets synchronously (204), knowing only `known` users when given.
fn sandbox(known: Option<Vec<String>>, error_ratio: f64) -> Options {
    Options {
        users: known,
        graph_mode: GraphMode::Sync204,
        faults: Faults {
            error_ratio,
            ..Faults::default()
        },
        ..Options::default()
    }
}

/// Users 1..=n but those in `missing`.
fn users_but(n: usize, missing: &[usize]) -> Option<Vec<String>> {
    Some((1..=n).filter(|i| !missing.contains(i)).map(user).collect())
}

async fn admin(env: &Env, path: &str, body: Value) {
    let url = format!("{}/_sandbox/{path}", env.sandbox.base_url());
    let answer = reqwest::Client::new().post(url).json(&body).send().await;
    assert!(answer.unwrap().status().is_success(), "{path}");
}

fn resets_of(stats: &Value, u: &str) -> u64 {
    stats["resets_per_user"][u].as_u64().unwrap_or(0)
}

async fn resume(env: &Env, out: &str) -> std::process::Output {
    let args = ["resume", "--out", out, "--yes", "--progress", "never"];
    env.credrotate(&args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_and_without_a_terminal_nothing_is_sent() {
    let env = Env::start(sandbox(None, 0.0)).await;
    let run = env
        .run_cmd()
        .manifest(env.users_csv(5))
        .config(env.config("", ""))
        .no_yes();
    let out = run.output().await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("plan: 5 of 5 manifest row(s)"), "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    let stats = env.stats().await;
    assert_eq!(stats["requests_total"], 0, "{stats}");
    assert_eq!(stats["resets_total"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_users_are_never_sent_and_reported_excluded() {
    let env = Env::start(sandbox(None, 0.0)).await;
    let manifest = env.users_csv(10);
    let exclude = env.write("break-glass.txt", "# break-glass\nUSER00003@EXAMPLE.TEST\n");
    let config = env.config(
        "exclude = [\"user00007@example.test\"]",
        "exclude = [\"User00005@Example.Test\"]",
    );
    let exclude_arg = exclude.to_str().unwrap();
    let validate = [
        "validate",
        "--manifest",
        manifest.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--exclude-file",
        exclude_arg,
    ];
    let plan = env.credrotate(&validate, &[]).await;
    assert_exit(&plan, 0);
    assert!(
        text(&plan.stdout).contains("graph: 7 row(s) to reset, 3 excluded"),
        "{}",
        text(&plan.stdout)
    );
    let out = env
        .run(&manifest, &config, &["--exclude-file", exclude_arg])
        .await;
    assert_exit(&out, 0);
    let stats = env.stats().await;
    assert_eq!(stats["resets_total"], 7, "{stats}");
    for excluded in [3, 5, 7] {
        assert_eq!(resets_of(&stats, &user(excluded)), 0, "{stats}");
        assert_eq!(env.report_row(&user(excluded))["status"], "excluded");
    }
    assert_eq!(env.report_json().len(), 10, "one line per manifest row");
    let summary = env.summary();
    assert_eq!(summary["excluded"], 3, "{summary}");
    assert_eq!(summary["by_provider"]["graph"]["excluded"], 3, "{summary}");
    assert_eq!(summary["pending"], 0, "{summary}");
    assert_eq!(summary["run_state"], "complete", "{summary}");
    assert_eq!(summary["exit_code"], 0, "{summary}");
    env.assert_export_verifies(7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_canary_row_stops_the_run_and_resume_finishes_it() {
    // User 2 does not exist yet: the canary's second row fails (404).
    let env = Env::start(sandbox(users_but(20, &[2]), 0.0)).await;
    let manifest = env.users_csv(20);
    let config = env.config("", "");
    let args = ["--canary", "3", "--concurrency", "2"];
    let out = env.run(&manifest, &config, &args).await;
    assert_exit(&out, 3);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("canary: 1 canary row(s) did not succeed (row 2"),
        "{stdout}"
    );
    assert!(stdout.contains("credrotate resume --out"), "{stdout}");
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 3,
        "only the canary's rows: {stats}"
    );
    assert_eq!(stats["resets_total"], 2, "{stats}");
    let summary = env.summary();
    assert_eq!(summary["run_state"], "stopped_by_canary", "{summary}");
    assert_eq!(summary["exit_code"], 3, "{summary}");
    assert_eq!(summary["pending"], 17, "{summary}");

    admin(&env, "users", json!({"user": user(2)})).await;
    let out = resume(&env, env.path("out").to_str().unwrap()).await;
    assert_exit(&out, 0);
    let stats = env.stats().await;
    for i in 1..=20 {
        assert_eq!(resets_of(&stats, &user(i)), 1, "user {i}: {stats}");
    }
    env.assert_export_verifies(20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_trips_the_breaker_after_five_requests_and_resume_finishes() {
    let env = Env::start(sandbox(None, 0.0)).await;
    let manifest = env.users_csv(200);
    let config = env.config("", "");
    let out = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .args(["--rate", "unlimited", "--concurrency", "8"])
        .env("CREDROTATE_TOKEN", "not-the-token")
        .output()
        .await;
    assert_exit(&out, 3);
    let stats = env.stats().await;
    assert_eq!(stats["requests_total"], 5, "{stats}");
    assert_eq!(stats["requests_by_status"]["401"], 5, "{stats}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "5 consecutive 401 InvalidAuthenticationToken from graph: check the credential"
        ),
        "{stderr}"
    );
    let warned = stderr.matches("reset failed").count();
    assert!(
        warned <= 3,
        "{warned} WARN lines for failed rows:\n{stderr}"
    );
    let summary = env.summary();
    assert_eq!(summary["run_state"], "stopped_by_breaker", "{summary}");
    assert_eq!(
        summary["failures_by_code"]["401 InvalidAuthenticationToken"], 5,
        "{summary}"
    );
    assert_eq!(summary["pending"], 195, "{summary}");

    let out = resume(&env, env.path("out").to_str().unwrap()).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_storm_trips_the_breaker_and_the_run_resumes_after_it() {
    let env = Env::start(sandbox(None, 0.3)).await;
    let n = 400;
    let manifest = env.users_csv(n);
    let config = env.config("", "");
    let args = ["--rate", "unlimited", "--concurrency", "4"];
    let out = env.run(&manifest, &config, &args).await;
    assert_exit(&out, 3);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--max-failure-rate 20 %"), "{stderr}");
    let summary = env.summary();
    assert_eq!(summary["run_state"], "stopped_by_breaker", "{summary}");
    let stats = env.stats().await;
    assert!(
        stats["resets_total"].as_u64().unwrap() < n as u64,
        "stopped before the end: {stats}"
    );

    admin(&env, "faults", json!({"error_ratio": 0.0})).await;
    let out = resume(&env, env.path("out").to_str().unwrap()).await;
    assert_exit(&out, 0);
    env.assert_export_verifies(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_from_resets_exactly_the_failed_rows() {
    let env = Env::start(sandbox(users_but(12, &[4, 7]), 0.0)).await;
    let manifest = env.users_csv(12);
    let config = env.config("", "");
    let first = env.run(&manifest, &config, &[]).await;
    assert_exit(&first, 1);
    for missing in [4, 7] {
        admin(&env, "users", json!({"user": user(missing)})).await;
    }
    let out_dir = env.path("out");
    let retry = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .out(env.path("retry"))
        .args(["--retry-from", out_dir.to_str().unwrap()])
        .output()
        .await;
    assert_exit(&retry, 0);
    assert!(
        text(&retry.stderr).contains("plan: 2 of 12 manifest row(s) to reset"),
        "{}",
        text(&retry.stderr)
    );
    let stats = env.stats().await;
    assert_eq!(stats["resets_total"], 12, "{stats}");
    for i in 1..=12 {
        assert_eq!(resets_of(&stats, &user(i)), 1, "user {i}: {stats}");
    }
    let export = env.decrypt(&env.path("retry").join("passwords.csv.age"));
    // The export lists rows in the order they settled, which two concurrent rows do not fix.
    let mut users: Vec<&str> = export.iter().map(|r| r[0].as_str()).collect();
    users.sort_unstable();
    assert_eq!(users, [user(4), user(7)]);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(env.path("retry").join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["run_state"], "complete", "{summary}");
    assert_eq!(summary["succeeded"], 2, "{summary}");

    // A run that succeeded everywhere has nothing to retry: refused, nothing sent.
    let again = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .out(env.path("again"))
        .args(["--retry-from", env.path("retry").to_str().unwrap()])
        .output()
        .await;
    assert_exit(&again, 2);
    assert_eq!(env.stats().await["resets_total"], 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_needs_the_config_and_prints_the_plan() {
    let env = Env::start(sandbox(None, 0.0)).await;
    let manifest = env.users_csv(40);
    let m = manifest.to_str().unwrap();
    // No --config and no ./credrotate.toml: the error run would give, nothing sent.
    let out = env.credrotate(&["validate", "--manifest", m], &[]).await;
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("no config"),
        "{}",
        text(&out.stderr)
    );

    let config = env.config("rate = \"20/s\"", "");
    let recipient = env.recipient();
    let args = [
        "validate",
        "--manifest",
        m,
        "--config",
        config.to_str().unwrap(),
        "--recipient",
        &recipient,
    ];
    let out = env.credrotate(&args, &[]).await;
    assert_exit(&out, 0);
    let plan = text(&out.stdout);
    for expected in [
        "plan: 40 of 40 manifest row(s) to reset, 0 excluded",
        "graph: 40 row(s) to reset, 0 excluded (kind graph)",
        &format!("base URL {}", env.sandbox.graph_url()),
        "bearer token from env CREDROTATE_TOKEN; must be delegated",
        "rate 20/s (burst 1, concurrency 8): at least 2s",
        &recipient[..12],
        "circuit breaker (exit 3): 5 consecutive 401/403",
    ] {
        assert!(
            plan.contains(expected),
            "{expected:?} missing from:\n{plan}"
        );
    }
    assert_eq!(env.stats().await["requests_total"], 0);
}
