//! The walking skeleton end to end: the real binary against the in-process sandbox, judged by
//! what the sandbox observed (resets per user, request rate, concurrency, which passwords sign in).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{assert_exit, user, Env};
use credrotate::sandbox::{Bucket, Faults, GraphMode, Options};
use serde_json::Value;

/// Every exported password signs in at the sandbox, and the export has exactly these users.
async fn assert_export_verifies(env: &Env, users: usize) -> Vec<Vec<String>> {
    let rows = env.export();
    assert_eq!(rows.len(), users, "one exported password per user");
    let pairs: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[3].clone())).collect();
    let ok = env.verify(&pairs).await;
    let failed: Vec<&String> = pairs
        .iter()
        .zip(&ok)
        .filter(|(_, ok)| !**ok)
        .map(|(p, _)| &p.0)
        .collect();
    assert!(
        failed.is_empty(),
        "exported passwords that do not sign in: {failed:?}"
    );
    let distinct: HashSet<&String> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(distinct.len(), users);
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_users_no_faults() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(500);
    let config = env.config("", "");
    let out = env
        .run(
            &manifest,
            &config,
            &["--rate", "unlimited", "--concurrency", "16"],
        )
        .await;
    assert_exit(&out, 0);

    let rows = assert_export_verifies(&env, 500).await;
    assert_eq!(
        rows[0].len(),
        5,
        "export columns: user,method,provider,password,state"
    );
    assert!(rows.iter().all(|r| r[4] == "confirmed"));
    let stats = env.stats().await;
    let resets = stats["resets_per_user"].as_object().unwrap();
    assert_eq!(resets.len(), 500);
    assert!(
        resets.values().all(|v| v == 1),
        "each user reset exactly once"
    );
    let report = env.report_json();
    assert_eq!(report.len(), 500);
    assert!(report
        .iter()
        .all(|r| r["status"] == "succeeded" && r["attempts"] == 1));
    assert!(report
        .iter()
        .all(|r| r["operation_id"].is_string() && r["request_id"].is_string()));
    assert_eq!(env.summary()["succeeded"], 500);
    assert!(stats["peak_concurrency"].as_u64().unwrap() <= 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_503s_are_survived_within_the_bucket() {
    let (rate, capacity) = (40.0, 5u32);
    let faults = Faults {
        throttle: Some(Bucket { rate, capacity }),
        error_ratio: 0.1,
        ..Faults::default()
    };
    let env = Env::start(Options {
        faults,
        ..Options::default()
    })
    .await;
    let users = 200;
    let manifest = env.users_csv(users);
    let config = env.config("", "");
    let args = [
        "--rate",
        "100/s",
        "--concurrency",
        "8",
        "--max-attempts",
        "10",
        "--max-failure-rate",
        "1",
    ];
    let out = env.run(&manifest, &config, &args).await;
    assert_exit(&out, 0);

    assert_export_verifies(&env, users).await;
    let stats = env.stats().await;
    assert!(
        stats["requests_by_status"]["429"].as_u64().unwrap_or(0) > 0,
        "the bucket did throttle: {stats}"
    );
    assert!(
        stats["requests_by_status"]["503"].as_u64().unwrap_or(0) > 0,
        "503s were injected"
    );
    assert!(
        stats["peak_concurrency"].as_u64().unwrap() <= 8,
        "peak concurrency {}",
        stats["peak_concurrency"]
    );
    let first = stats["first_throttle_second"]
        .as_u64()
        .expect("a throttle second") as usize;
    let series: Vec<u64> = stats["rps_series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let limit = rate as u64 + u64::from(capacity);
    for (second, n) in series.iter().enumerate().skip(first + 1) {
        assert!(
            *n <= limit,
            "second {second}: {n} reset requests > bucket rate + capacity {limit}: {series:?}"
        );
    }
    let summary = env.summary();
    assert!(summary["throttled"].as_u64().unwrap() > 0 && summary["retries"].as_u64().unwrap() > 0);
    let resets = stats["resets_per_user"].as_object().unwrap();
    assert!(
        resets.values().all(|v| v == 1),
        "a row's retries reuse its password and reset it once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_generated_passwords_are_exported() {
    let env = Env::start(Options {
        op_delay: Duration::from_millis(20),
        ..Options::default()
    })
    .await;
    let manifest = env.users_csv(25);
    let config = env.config("", "[password]\ngenerate = \"server\"\n");
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 0);
    assert_export_verifies(&env, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_200_and_204_answers_are_success() {
    for mode in [GraphMode::Sync200, GraphMode::Sync204] {
        let env = Env::start(Options {
            graph_mode: mode,
            ..Options::default()
        })
        .await;
        let out = env.run(&env.users_csv(10), &env.config("", ""), &[]).await;
        assert_exit(&out, 0);
        assert_export_verifies(&env, 10).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_reported_with_the_providers_code() {
    let known: Vec<String> = (1..=8).map(user).collect();
    let env = Env::start(Options {
        users: Some(known),
        ..Options::default()
    })
    .await;
    let out = env.run(&env.users_csv(10), &env.config("", ""), &[]).await;
    assert_exit(&out, 1);
    let report = env.report_json();
    let failed: Vec<&Value> = report.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 2);
    for r in failed {
        assert_eq!(r["http_status"], 404);
        assert_eq!(r["error_code"], "Request_ResourceNotFound");
        assert_eq!(r["attempts"], 1, "permanent errors are not retried");
    }
    assert_export_verifies(&env, 8).await;
}

/// A proxy the environment names carries the requests: the base URL's port has no server, and
/// the sandbox, standing in as the proxy, receives every reset. (Answering 204: an operation's
/// Location would name the sandbox's origin, not the base URL's, and is rightly not polled.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_in_the_environment_carries_the_requests() {
    let env = Env::start(Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let manifest = env.users_csv(20);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/v1.0", closed.local_addr().unwrap());
    drop(closed);
    let config = env.write(
        "credrotate.toml",
        &format!("[providers.graph]\nkind = \"graph\"\nbase_url = \"{nowhere}\"\npoll_interval = \"10ms\"\n"),
    );
    let out = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .args(["--rate", "unlimited", "--max-attempts", "1"])
        .env("HTTP_PROXY", &env.sandbox.base_url())
        .output()
        .await;
    assert_exit(&out, 0);
    let stats = env.stats().await;
    let resets = stats["resets_per_user"].as_object().unwrap();
    assert_eq!(resets.len(), 20, "every reset went through the proxy");
    assert_export_verifies(&env, 20).await;
}
