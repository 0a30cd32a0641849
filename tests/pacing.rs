//! Pacing against a limit credrotate is not told (issue 16): after a 429 the lane resumes at the
//! rate the provider accepted, one request at a time (never a herd), nothing is sent inside an
//! announced `Retry-After`, and one provider's 429s leave another's rate alone. Assertions are
//! on the shape of the sandbox's per-second series, never on tight timings.

mod common;

use common::{assert_exit, user, Env};
use credrotate::sandbox::{Bucket, GraphMode, Options};
use serde_json::Value;

fn sync_with_bucket(family: &str, rate: f64, capacity: u32) -> Options {
    let mut options = Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    };
    options
        .family_throttle
        .insert(family.into(), Bucket { rate, capacity });
    options
}

fn series(stats: &Value, family: &str, key: &str) -> Vec<u64> {
    stats["families"][family][key]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_the_lane_resumes_at_the_learned_rate_one_by_one() {
    let env = Env::start(sync_with_bucket("graph", 20.0, 5)).await;
    let config = env.config("rate = \"60/s\"\nconcurrency = 48", "");
    let out = env
        .run(&env.users_csv(160), &config, &["--max-attempts", "10"])
        .await;
    assert_exit(&out, 0);
    let stats = env.stats().await;
    assert_eq!(
        stats["inside_retry_after"], 0,
        "sent inside Retry-After: {stats}"
    );
    let (sent, throttled) = (
        series(&stats, "graph", "rps_series"),
        series(&stats, "graph", "throttled_series"),
    );
    assert!(
        throttled.iter().sum::<u64>() > 0,
        "the limit was met: {stats}"
    );
    let summary = env.summary();
    let learned = summary["pacing"]["graph"]["learned_rate"].as_f64().unwrap();
    assert!(
        (5.0..=40.0).contains(&learned),
        "learned {learned}/s of 20/s"
    );
    assert!(
        summary["pacing"]["graph"]["paused_seconds"]
            .as_f64()
            .unwrap()
            >= 1.0
    );
    // A herd would put most of the 48 workers into the second after a 429.
    let bound = (learned * 1.5).ceil() as u64 + 1 + 2;
    for (i, t) in throttled.iter().enumerate() {
        if let (true, Some(next)) = (*t > 0, sent.get(i + 1)) {
            assert!(
                *next <= bound,
                "second {} after a 429: {next} > {bound}: {sent:?}",
                i + 1
            );
        }
    }
    let line = common::text(&out.stdout);
    assert!(
        line.contains("pacing: graph:") && line.contains("learned"),
        "{line}"
    );
    // `report` rebuilds the summary from the journal alone: the pacing comes along.
    let mut report = env.command();
    report.args(["report", "--out", env.path("out").to_str().unwrap()]);
    common::run_cmd::assert(report).await.code(0);
    assert_eq!(env.summary()["pacing"], summary["pacing"]);
}

/// graph (throttled: a bucket of 5/s) and kc (Keycloak, not throttled) at 20/s each.
fn two_providers(env: &Env) -> std::path::PathBuf {
    let text = format!(
        r#"
[providers.graph]
kind = "graph"
base_url = "{graph_url}"
rate = "20/s"
concurrency = 16
{kc_provider}"#,
        graph_url = env.sandbox.graph_url(),
        kc_provider = env.keycloak_provider("20/s", 16),
    );
    env.write("two.toml", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_providers_429s_leave_anothers_rate_untouched() {
    let env = Env::start(sync_with_bucket("graph", 5.0, 2)).await;
    let mut manifest = String::from("user,provider\n");
    for i in 1..=160 {
        manifest += &format!("{},kc\n", user(i));
        if i <= 60 {
            manifest += &format!("{},graph\n", user(1000 + i));
        }
    }
    let manifest = env.write("two.csv", &manifest);
    let out = env
        .run(&manifest, &two_providers(&env), &["--max-attempts", "10"])
        .await;
    assert_exit(&out, 0);
    let stats = env.stats().await;
    assert!(
        series(&stats, "graph", "throttled_series")
            .iter()
            .sum::<u64>()
            > 0
    );
    assert_eq!(
        series(&stats, "keycloak", "throttled_series")
            .iter()
            .sum::<u64>(),
        0
    );
    let kc = series(&stats, "keycloak", "rps_series");
    let first = kc.iter().position(|c| *c > 0).unwrap();
    let last = kc.iter().rposition(|c| *c > 0).unwrap();
    let steady = &kc[first + 1..last];
    let mean = steady.iter().sum::<u64>() as f64 / steady.len() as f64;
    assert!(
        (17.0..=22.0).contains(&mean),
        "keycloak slowed: {mean}/s {kc:?}"
    );
    let summary = env.summary();
    assert_eq!(summary["pacing"]["kc"]["throttled"], 0);
    assert_eq!(summary["pacing"]["kc"]["learned_rate"], Value::Null);
    assert!(summary["pacing"]["graph"]["throttled"].as_u64().unwrap() > 0);
}
