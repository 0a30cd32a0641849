//! Several providers in one run: the manifest's `provider` column picks a lane per row; each lane
//! keeps its own rate (the sandbox's per-family series confirm it) and a 429 from one provider
//! pauses only that one.

mod common;

use std::collections::BTreeMap;

use common::{assert_exit, user, Env};
use credrotate::sandbox::{Bucket, GraphMode, Options};
use serde_json::Value;

/// graph (v1.0), ping (PingOne) and kc (Keycloak via the generic HTTP provider, client
/// credentials at the realm's token endpoint), with rates.
fn config(env: &Env, graph: u32, ping: u32, kc: u32) -> std::path::PathBuf {
    let text = format!(
        r#"
[providers.graph]
kind = "graph"
base_url = "{graph_url}"
rate = "{graph}/s"
concurrency = 4

[providers.ping]
kind = "pingone"
base_url = "{ping_url}"
rate = "{ping}/s"
concurrency = 2
[providers.ping.auth]
type = "basic"
username = "{client}"
password_env = "CREDROTATE_TOKEN"
{kc_provider}"#,
        graph_url = env.sandbox.graph_url(),
        ping_url = env.sandbox.pingone_url(),
        client = env.sandbox.client_id(),
        kc_provider = env.keycloak_provider(&format!("{kc}/s"), 6),
    );
    env.write("mixed.toml", &text)
}

/// Interleaved rows: `n` per provider name, PingOne rows with a confirmation token.
fn manifest(env: &Env, counts: &[(&str, usize)]) -> std::path::PathBuf {
    let mut text = String::from("user,provider,confirmation_token\n");
    let mut i = 0;
    let most = counts.iter().map(|c| c.1).max().unwrap_or(0);
    for k in 0..most {
        for (name, n) in counts {
            if k < *n {
                i += 1;
                let token = if *name == "ping" {
                    format!("tok-{i}")
                } else {
                    String::new()
                };
                text += &format!("{},{name},{token}\n", user(i));
            }
        }
    }
    env.write("mixed.csv", &text)
}

fn family<'a>(stats: &'a Value, name: &str) -> &'a Value {
    &stats["families"][name]
}

fn series(stats: &Value, name: &str, key: &str) -> Vec<u64> {
    family(stats, name)[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

fn sync() -> Options {
    Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_providers_each_keep_their_own_rate() {
    let env = Env::start(sync()).await;
    let counts = [("graph", 24), ("ping", 12), ("kc", 36)];
    let out = env
        .run(&manifest(&env, &counts), &config(&env, 8, 4, 12), &[])
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(72).await;
    let stats = env.stats().await;
    for ((name, n), (fam, rate)) in
        counts
            .iter()
            .zip([("graph", 8u64), ("pingone", 4), ("keycloak", 12)])
    {
        let s = series(&stats, fam, "rps_series");
        assert_eq!(s.iter().sum::<u64>(), *n as u64, "{name}: {s:?}");
        // Pacing: at most rate + burst (1) per whole second, +1 for scheduling noise.
        assert!(
            s.iter().all(|c| *c <= rate + 2),
            "{fam} exceeded {rate}/s: {s:?}"
        );
        let active = s.iter().filter(|c| **c > 0).count() as u64;
        assert!(active * (rate + 2) >= *n as u64, "{fam} too fast: {s:?}");
    }
    assert!(
        family(&stats, "pingone")["peak_rps"].as_u64()
            < family(&stats, "keycloak")["peak_rps"].as_u64()
    );
    let summary = env.summary();
    let by: BTreeMap<&str, u64> = counts
        .iter()
        .map(|(name, _)| {
            (
                *name,
                summary["by_provider"][name]["succeeded"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, counts.iter().map(|(k, v)| (*k, *v as u64)).collect());
    let report = env.report_json();
    for (name, n) in counts {
        assert_eq!(report.iter().filter(|r| r["provider"] == name).count(), n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_one_provider_pauses_only_that_one() {
    let mut options = sync();
    options.family_throttle.insert(
        "pingone".into(),
        Bucket {
            rate: 2.0,
            capacity: 1,
        },
    );
    let env = Env::start(options).await;
    let counts = [("graph", 30), ("ping", 10), ("kc", 30)];
    let args = ["--max-attempts", "10"];
    let out = env
        .run(&manifest(&env, &counts), &config(&env, 30, 10, 30), &args)
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(70).await;
    let stats = env.stats().await;
    assert!(
        series(&stats, "pingone", "throttled_series")
            .iter()
            .sum::<u64>()
            > 0
    );
    for fam in ["graph", "keycloak"] {
        assert_eq!(
            series(&stats, fam, "throttled_series").iter().sum::<u64>(),
            0
        );
    }
    let last = |fam: &str| {
        series(&stats, fam, "rps_series")
            .iter()
            .rposition(|c| *c > 0)
            .unwrap()
    };
    assert!(
        last("graph") < last("pingone"),
        "graph was held up by PingOne's 429s: {stats}"
    );
    assert!(
        last("keycloak") < last("pingone"),
        "keycloak was held up by PingOne's 429s: {stats}"
    );
    let summary = env.summary();
    assert!(
        summary["by_provider"]["ping"]["throttled"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(summary["by_provider"]["graph"]["throttled"], 0);
    assert_eq!(summary["by_provider"]["kc"]["throttled"], 0);
}
