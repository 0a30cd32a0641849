//! The journal protocol end to end: interrupted runs (SIGTERM, SIGINT), resume, the lock, and the
//! refusals that keep a resume from resetting the wrong rows.

mod common;

use std::path::Path;
use std::time::Duration;

use common::run_cmd::RunCmd;
use common::{assert_exit, text, Env};
use credrotate::sandbox::{Faults, Options};

fn slow() -> Options {
    let faults = Faults {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(20),
        ..Faults::default()
    };
    Options {
        faults,
        ..Options::default()
    }
}

/// `run` (into `out`) at 100/s with `concurrency` rows at once and a 10 s grace period.
fn journaled<'e>(env: &'e Env, manifest: &Path, config: &Path, concurrency: &str) -> RunCmd<'e> {
    env.run_cmd()
        .manifest(manifest)
        .config(config)
        .args(["--rate", "100/s", "--concurrency", concurrency])
        .args(["--grace", "10s"])
}

use common::signal;

/// Waits until the journal holds at least `n` lines (the run is under way).
async fn wait_for_journal(env: &Env, n: usize) {
    let path = env.path("out").join("journal.jsonl");
    for _ in 0..600 {
        if std::fs::read_to_string(&path)
            .map(|t| t.lines().count())
            .unwrap_or(0)
            >= n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the run did not start");
}

async fn assert_complete_and_verified(env: &Env, users: usize) {
    let report = env.report_json();
    assert_eq!(
        report.len(),
        users,
        "every manifest row exactly once in the report"
    );
    let mut rows: Vec<u64> = report.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    rows.dedup();
    assert_eq!(rows.len(), users);
    assert!(report.iter().all(|r| r["status"] == "succeeded"));
    let export = env.export();
    let pairs: Vec<(String, String)> = export
        .iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    let ok = env.verify(&pairs).await;
    let mut verified: Vec<&String> = pairs
        .iter()
        .zip(&ok)
        .filter(|(_, ok)| **ok)
        .map(|(p, _)| &p.0)
        .collect();
    verified.sort();
    verified.dedup();
    assert_eq!(
        verified.len(),
        users,
        "every user's current password is in the export"
    );
    assert!(
        !env.path("out").join("journal.key").exists(),
        "the run key is removed once complete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_resume_completes() {
    let env = Env::start(slow()).await;
    let (manifest, config) = (env.users_csv(400), env.config("", ""));
    let out = env.path("out");
    let child = journaled(&env, &manifest, &config, "4").spawn();
    wait_for_journal(&env, 40).await;
    signal(&child, "-TERM");
    let first = child.wait_with_output().await.unwrap();
    assert_exit(&first, 143);
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(
        journal.lines().last().unwrap().contains("\"interrupted\""),
        "an end record says interrupted"
    );
    let summary = env.summary();
    assert!(
        summary["pending"].as_u64().unwrap() > 0,
        "the run stopped early: {summary}"
    );
    assert_eq!(
        summary["uncertain"], 0,
        "in-flight requests finished within the grace period"
    );
    assert!(
        out.join("journal.key").exists(),
        "the run key stays until the run is complete"
    );

    let again = env.run(&manifest, &config, &[]).await;
    assert_exit(&again, 2);
    assert!(
        text(&again.stderr).contains("credrotate resume"),
        "{}",
        text(&again.stderr)
    );

    assert_exit(&env.resume(&[]).await, 0);
    assert_complete_and_verified(&env, 400).await;
    let stats = env.stats().await;
    assert!(stats["resets_per_user"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_aborts_at_once_and_nothing_is_lost() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let env = Env::start(Options {
        faults,
        ..Options::default()
    })
    .await;
    let (manifest, config) = (env.users_csv(100), env.config("", ""));
    let child = journaled(&env, &manifest, &config, "8").spawn();
    wait_for_journal(&env, 12).await;
    signal(&child, "-INT");
    tokio::time::sleep(Duration::from_millis(50)).await;
    signal(&child, "-INT");
    let first = child.wait_with_output().await.unwrap();
    assert_exit(&first, 130);
    assert_exit(&env.resume(&[]).await, 0);
    assert_complete_and_verified(&env, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_changed_manifest_or_config_and_a_held_lock() {
    let env = Env::start(slow()).await;
    let (manifest, config) = (env.users_csv(200), env.config("", ""));
    let out = env.path("out");
    let child = journaled(&env, &manifest, &config, "4").spawn();
    wait_for_journal(&env, 20).await;
    signal(&child, "-TERM");
    assert_exit(&child.wait_with_output().await.unwrap(), 143);

    let original = std::fs::read(&manifest).unwrap();
    std::fs::write(
        &manifest,
        [original.as_slice(), b"late.user@example.test\n"].concat(),
    )
    .unwrap();
    let refused = env.resume(&[]).await;
    assert_exit(&refused, 2);
    assert!(
        text(&refused.stderr).contains("manifest") && text(&refused.stderr).contains("changed")
    );
    std::fs::write(&manifest, &original).unwrap();

    let toml = std::fs::read_to_string(&config).unwrap();
    // `burst` is not overridden on the command line, so this changes the effective config.
    std::fs::write(&config, format!("{toml}burst = 3\n")).unwrap();
    let refused = env.resume(&[]).await;
    assert_exit(&refused, 2);
    assert!(
        text(&refused.stderr).contains("config changed"),
        "{}",
        text(&refused.stderr)
    );
    std::fs::write(&config, &toml).unwrap();

    // Another process (this test) holding the flock: refused, naming what its lock file says.
    let held = std::fs::File::create(out.join("run.lock")).unwrap();
    held.try_lock().unwrap();
    std::fs::write(out.join("run.lock"), "pid 7\nhost elsewhere\nsince then\n").unwrap();
    let refused = env.resume(&[]).await;
    assert_exit(&refused, 2);
    assert!(
        text(&refused.stderr).contains("(pid 7 on host elsewhere) holds"),
        "{}",
        text(&refused.stderr)
    );
    // Released (the holder ended): the file it left behind does not block.
    drop(held);
    assert_exit(&env.resume(&[]).await, 0);
    assert_complete_and_verified(&env, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_rebuilds_from_the_journal_alone() {
    let env = Env::start(Options::default()).await;
    let (manifest, config) = (env.users_csv(30), env.config("", ""));
    assert_exit(&env.run(&manifest, &config, &[]).await, 0);
    let out = env.path("out");
    let report_before = std::fs::read_to_string(out.join("report.csv")).unwrap();
    for name in ["report.csv", "report.json", "summary.json"] {
        std::fs::remove_file(out.join(name)).unwrap();
    }
    let rebuilt = env
        .credrotate(&["report", "--out", out.to_str().unwrap()], &[])
        .await;
    assert_exit(&rebuilt, 0);
    assert_eq!(
        std::fs::read_to_string(out.join("report.csv")).unwrap(),
        report_before
    );
    assert_eq!(env.summary()["succeeded"], 30);
    // With the operator's identity the export can be rebuilt too.
    let key = env.path("key.txt");
    std::fs::write(
        &key,
        age::secrecy::ExposeSecret::expose_secret(&env.identity.to_string()),
    )
    .unwrap();
    std::fs::remove_file(out.join("passwords.csv.age")).unwrap();
    let rebuilt = env
        .credrotate(
            &[
                "report",
                "--out",
                out.to_str().unwrap(),
                "--identity",
                key.to_str().unwrap(),
            ],
            &[],
        )
        .await;
    assert_exit(&rebuilt, 0);
    assert_eq!(env.export().len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_row_fails_alone() {
    let env = Env::start(Options::default()).await;
    let (manifest, config) = (env.users_csv(20), env.config("", ""));
    let result = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .no_progress()
        .env("CREDROTATE_TEST_PANIC_ROW", "7")
        .output()
        .await;
    assert_exit(&result, 1);
    let report = env.report_json();
    assert_eq!(report.len(), 20);
    let failed: Vec<_> = report.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["row"], 7);
    assert_eq!(failed[0]["error_code"], "internal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_torn_mid_record_is_read_up_to_its_last_whole_record() {
    let env = Env::start(slow()).await;
    let (manifest, config) = (env.users_csv(150), env.config("", ""));
    let out = env.path("out");
    let mut child = journaled(&env, &manifest, &config, "4").spawn();
    wait_for_journal(&env, 30).await;
    child.kill().await.unwrap();
    // A crash while writing: the last record is cut in half.
    let journal = out.join("journal.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, &lines[..lines.len() - 40]).unwrap();

    let report = env
        .credrotate(&["report", "--out", out.to_str().unwrap()], &[])
        .await;
    assert_exit(&report, 1);
    assert!(
        text(&report.stderr).contains("torn last line"),
        "{}",
        text(&report.stderr)
    );
    assert_exit(&env.resume(&[]).await, 0);
    assert_complete_and_verified(&env, 150).await;
}
