//! After SIGTERM no new reset leaves: workers take no further rows (queued ones included) and
//! retries waiting for their backoff stop; only requests already on the wire finish.

mod common;

use std::time::Duration;

use common::{assert_exit, Env};
use credrotate::sandbox::{Faults, Options};

async fn wait_for_requests(env: &Env, n: u64) {
    // Generous: a loaded machine, and a lane sends one request at a time until its credential
    // is proven (the breaker's probe).
    for _ in 0..3000 {
        if env.stats().await["reset_requests_total"]
            .as_u64()
            .unwrap_or(0)
            >= n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the run did not start");
}

/// Starts `run` of `users` users with `extra`, sends SIGTERM once the sandbox has seen
/// `requests` resets, and waits for the exit, which must be 143: the resets the sandbox had
/// counted at the signal, and how long the exit took after it.
async fn terminated_after(
    env: &Env,
    users: usize,
    extra: &[&str],
    requests: u64,
) -> (u64, Duration) {
    let (manifest, config) = (env.users_csv(users), env.config("", ""));
    let child = env.spawn(&env.run_args(&manifest, &config, extra));
    wait_for_requests(env, requests).await;
    common::signal(&child, "-TERM");
    let at_signal = env.stats().await["reset_requests_total"].as_u64().unwrap();
    let started = std::time::Instant::now();
    let done = child.wait_with_output().await.unwrap();
    assert_exit(&done, 143);
    (at_signal, started.elapsed())
}

/// A sandbox whose answers take 400 ms, so a run has requests on the wire when a signal comes.
async fn answering_in_400ms() -> Env {
    Env::start(Options {
        faults: Faults {
            latency: Duration::from_millis(400),
            ..Faults::default()
        },
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_new_request_leaves_after_sigterm() {
    // Answers take 400 ms, so at any moment about `concurrency` requests are on the wire and
    // twice as many rows wait in the lane's queue.
    let env = answering_in_400ms().await;
    let extra = ["--rate", "unlimited", "--concurrency", "8"];
    let (at_signal, _) = terminated_after(&env, 2000, &extra, 20).await;
    let after = env.stats().await["reset_requests_total"].as_u64().unwrap();
    assert!(
        after - at_signal <= 2,
        "{} resets started after SIGTERM ({at_signal} before, {after} after)",
        after - at_signal
    );
    let summary = env.summary();
    assert_eq!(
        summary["uncertain"], 0,
        "in-flight requests finished: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_waiting_for_its_backoff_is_not_sent_after_sigterm() {
    // Every reset is answered 503: each row sends once, then waits for its backoff.
    let env = Env::start(Options {
        faults: Faults {
            error_ratio: 1.0,
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let extra = [
        "--rate",
        "unlimited",
        "--max-attempts",
        "50",
        "--max-failure-rate",
        "1",
    ];
    let (at_signal, exit_took) = terminated_after(&env, 4, &extra, 8).await;
    assert!(
        exit_took < Duration::from_secs(10),
        "the backoff sleeps were cut short"
    );
    let after = env.stats().await["reset_requests_total"].as_u64().unwrap();
    assert!(
        after - at_signal <= 1,
        "{at_signal} before, {after} after SIGTERM"
    );
    // A 503 may have come after the password was applied: the rows are uncertain, exported.
    assert_eq!(env.summary()["uncertain"], 4);
    assert_eq!(env.export().len(), 4, "each row's candidate is exported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_waiting_for_a_request_slot_is_not_sent_after_sigterm_and_resume_resets_it() {
    // Answers take 400 ms and the lane has 4 request slots: while 4 requests are on the wire,
    // 4 more rows have durable intents and wait for a slot (pipeline::wire).
    let env = answering_in_400ms().await;
    let users = 40;
    let extra = ["--rate", "unlimited", "--concurrency", "4"];
    let (at_signal, _) = terminated_after(&env, users, &extra, 6).await;
    let stats = env.stats().await;
    assert!(stats["reset_requests_total"].as_u64().unwrap() - at_signal <= 1);
    assert!(stats["peak_concurrency"].as_u64().unwrap() <= 4);

    // The rows that waited for a slot: failed, nothing sent, nothing exported, no candidate.
    let report = env.report_json();
    let stopped: Vec<&serde_json::Value> = report
        .iter()
        .filter(|r| r["error_code"] == "stopped")
        .collect();
    assert!(!stopped.is_empty(), "no row waited for a slot: {report:?}");
    let applied = &stats["resets_per_user"];
    for row in &stopped {
        assert_eq!(row["status"], "failed", "{row}");
        assert!(applied.get(row["user"].as_str().unwrap()).is_none());
    }
    assert_eq!(
        env.summary()["uncertain"],
        0,
        "no intent is left unanswered"
    );
    let exported: Vec<String> = env.export().into_iter().map(|r| r[0].clone()).collect();
    assert!(stopped
        .iter()
        .all(|r| !exported.contains(&r["user"].as_str().unwrap().to_owned())));

    // Resume resets every row that is not done, each user exactly once in all.
    let resumed = env.resume(&[]).await;
    assert_exit(&resumed, 0);
    let stats = env.stats().await;
    let applied = stats["resets_per_user"].as_object().unwrap();
    assert_eq!(applied.len(), users, "{stats}");
    assert!(applied.values().all(|n| n == 1), "{stats}");
    assert_eq!(env.summary()["succeeded"], users);
}
