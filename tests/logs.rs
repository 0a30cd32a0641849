//! Logs as a schedule reads them: piped stderr carries no ANSI escape; with `--log-format json`
//! every stderr line is one JSON object, fatal errors included (with their exit code), and the
//! last is a "run finished" event carrying the summary; a failure shared by many rows is logged
//! once with a count; a secret file readable by others is warned about.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;
use serde_json::Value;

/// A sandbox where only the first `known` of the manifest's users exist (others: Graph's 404).
async fn with_unknown_users(known: usize) -> Env {
    Env::start(Options {
        users: Some((1..=known).map(common::user).collect()),
        ..Options::default()
    })
    .await
}

/// Every stderr line parsed as JSON (panics naming the first line that is not).
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    text(stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stderr_has_no_ansi_escapes() {
    let env = with_unknown_users(2).await;
    let (manifest, config) = (env.users_csv(5), env.config("", ""));
    let out = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .global("-v")
        .output()
        .await;
    assert_exit(&out, 1);
    assert!(out.stderr.contains(&b'W'), "warnings were logged");
    assert!(
        !out.stderr.contains(&0x1b) && !out.stdout.contains(&0x1b),
        "ESC in piped output:\n{}",
        text(&out.stderr)
    );
}

/// `run` of `manifest` with `--log-format json`.
async fn run_logging_json(
    env: &Env,
    manifest: &std::path::Path,
    config: &std::path::Path,
) -> std::process::Output {
    env.run_cmd()
        .manifest(manifest)
        .config(config)
        .global("--log-format")
        .global("json")
        .output()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_ending_with_the_summary() {
    let env = with_unknown_users(2).await;
    let (manifest, config) = (env.users_csv(6), env.config("", ""));
    let out = run_logging_json(&env, &manifest, &config).await;
    assert_exit(&out, 1);
    let lines = json_lines(&out.stderr);
    let last = lines.last().expect("log lines");
    assert_eq!(last["message"], "run finished", "{last}");
    assert_eq!(last["exit_code"], 1);
    assert_eq!(last["summary"]["succeeded"], 2, "{last}");
    assert_eq!(last["summary"]["failed"], 4, "{last}");
    // Four rows failed the same way: the first three are logged, then that further ones are
    // counted, then the count.
    let warnings: Vec<&Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    let count = warnings[4]["message"].as_str().unwrap_or_default();
    assert!(count.starts_with("4 rows in all failed"), "{warnings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_is_a_json_line_with_its_exit_code() {
    let env = Env::start(Options::default()).await;
    let manifest = env.write("bad.csv", "user,colour\nalice@example.test,blue\n");
    let config = env.config("", "");
    let out = run_logging_json(&env, &manifest, &config).await;
    assert_exit(&out, 2);
    let lines = json_lines(&out.stderr);
    let fatal = lines.last().expect("log lines");
    assert_eq!(fatal["level"], "ERROR");
    assert_eq!(fatal["exit_code"], 2);
    assert_eq!(fatal["nothing_sent"], true);
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap_or("").contains("colour")),
        "the problem is named: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_readable_by_others_is_warned_about() {
    let env = Env::start(Options::default()).await;
    let token = env.write("token", env.sandbox.token());
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = env.config(&format!("token_file = \"{}\"", token.display()), "");
    let out = env
        .run_cmd()
        .manifest(env.users_csv(2))
        .config(&config)
        .output()
        .await;
    assert_exit(&out, 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("readable by its group and others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(env.sandbox.token()),
        "the token is never logged"
    );
}
