//! `run --resume-unfinished`, the command a schedule repeats: a finished run is not run again
//! (the sandbox sees no request), an interrupted run is completed (every user reset exactly
//! once, every exported password signs in), and a folder of another manifest is refused.

mod common;

use std::path::Path;
use std::time::Duration;

use common::run_cmd::RunCmd;
use common::{assert_exit, text, Env};
use credrotate::sandbox::{Faults, Options};
use serde_json::Value;

/// `run --resume-unfinished` into `out` with a 10 s grace period.
fn scheduled<'e>(env: &'e Env, manifest: &Path, config: &Path) -> RunCmd<'e> {
    env.run_cmd()
        .manifest(manifest)
        .config(config)
        .args(["--resume-unfinished", "--grace", "10s"])
        .args(["--rate", "unlimited", "--concurrency", "4"])
}

/// The sandbox's count of applied resets per user.
async fn resets_per_user(env: &Env) -> Value {
    env.stats().await["resets_per_user"].clone()
}

fn assert_each_reset_once(resets: &Value, users: usize) {
    let per_user = resets.as_object().expect("resets_per_user is an object");
    assert_eq!(per_user.len(), users, "every user was reset: {resets}");
    assert!(
        per_user.values().all(|n| n == 1),
        "every user was reset exactly once: {resets}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_is_not_run_again() {
    let env = Env::start(Options::default()).await;
    let (manifest, config) = (env.users_csv(20), env.config("", ""));
    let first = scheduled(&env, &manifest, &config).output().await;
    assert_exit(&first, 0);
    let before = env.stats().await;
    assert_each_reset_once(&before["resets_per_user"], 20);

    let again = scheduled(&env, &manifest, &config).output().await;
    assert_exit(&again, 0);
    assert!(
        text(&again.stdout).contains("already complete"),
        "{}",
        text(&again.stdout)
    );
    let after = env.stats().await;
    assert_eq!(
        after["requests_total"], before["requests_total"],
        "nothing was sent the second time"
    );
    assert_each_reset_once(&after["resets_per_user"], 20);
    env.assert_export_verifies(20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_is_completed_by_the_same_command() {
    let env = Env::start(Options {
        faults: Faults {
            latency: Duration::from_millis(100),
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let (users, manifest, config) = (300, env.users_csv(300), env.config("", ""));
    let child = scheduled(&env, &manifest, &config).spawn();
    wait_for_resets(&env, 10).await;
    common::signal(&child, "-TERM");
    let stopped = child.wait_with_output().await.unwrap();
    assert_exit(&stopped, 143);
    let partial = resets_per_user(&env).await;
    let done_before = partial.as_object().map_or(0, |m| m.len());
    assert!(done_before < users, "the run was interrupted: {partial}");

    let resumed = scheduled(&env, &manifest, &config).output().await;
    assert_exit(&resumed, 0);
    assert_each_reset_once(&resets_per_user(&env).await, users);
    env.assert_export_verifies(users).await;
    assert_eq!(
        env.summary()["sessions"],
        2,
        "the second call resumed the run"
    );

    let third = scheduled(&env, &manifest, &config).output().await;
    assert_exit(&third, 0);
    assert!(text(&third.stdout).contains("already complete"));
    assert_each_reset_once(&resets_per_user(&env).await, users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_holding_another_manifests_run_is_refused() {
    let env = Env::start(Options::default()).await;
    let config = env.config("", "");
    let first = scheduled(&env, &env.users_csv(3), &config).output().await;
    assert_exit(&first, 0);
    let before = env.stats().await["requests_total"].clone();
    let other = scheduled(&env, &env.users_csv(4), &config).output().await;
    assert_exit(&other, 2);
    let stderr = text(&other.stderr);
    assert!(stderr.contains("another manifest"), "{stderr}");
    assert_eq!(env.stats().await["requests_total"], before, "nothing sent");
}

/// Waits until the sandbox has applied at least `n` resets.
async fn wait_for_resets(env: &Env, n: u64) {
    for _ in 0..1000 {
        if env.stats().await["resets_total"].as_u64().unwrap_or(0) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the run did not start");
}
