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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_new_request_leaves_after_sigterm() {
    // Answers take 400 ms, so at any moment about `concurrency` requests are on the wire and
    // twice as many rows wait in the lane's queue.
    let env = Env::start(Options {
        faults: Faults {
            latency: Duration::from_millis(400),
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let (manifest, config) = (env.users_csv(2000), env.config("", ""));
    let extra = ["--rate", "unlimited", "--concurrency", "8"];
    let child = env.spawn(&env.run_args(&manifest, &config, &extra));
    wait_for_requests(&env, 20).await;
    common::signal(&child, "-TERM");
    let at_signal = env.stats().await["reset_requests_total"].as_u64().unwrap();
    let done = child.wait_with_output().await.unwrap();
    assert_exit(&done, 143);
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
    let (manifest, config) = (env.users_csv(4), env.config("", ""));
    let extra = [
        "--rate",
        "unlimited",
        "--max-attempts",
        "50",
        "--max-failure-rate",
        "1",
    ];
    let child = env.spawn(&env.run_args(&manifest, &config, &extra));
    wait_for_requests(&env, 8).await;
    common::signal(&child, "-TERM");
    let at_signal = env.stats().await["reset_requests_total"].as_u64().unwrap();
    let started = std::time::Instant::now();
    let done = child.wait_with_output().await.unwrap();
    assert_exit(&done, 143);
    assert!(
        started.elapsed() < Duration::from_secs(10),
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
