//! The sandbox's own routes and lifecycle: stats, verify, ready line, shutdown, load.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::{Faults, GraphMode};

#[tokio::test]
async fn stats_count_statuses_resets_and_rate() {
    let sb = start(Options {
        users: users(&["alice", "bob"]),
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    for (user, status) in [("alice", 204), ("alice", 204), ("bob", 204), ("zed", 404)] {
        assert_eq!(
            reset(&c, &sb, user, json!({"newPassword": "Pw-1"}))
                .await
                .status(),
            status
        );
    }
    let anon = c
        .post(reset_url(&sb, "bob"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let s = stats(&c, &sb).await;
    assert_eq!(s["resets_total"], 3);
    assert_eq!(s["resets_per_user"], json!({"alice": 2, "bob": 1}));
    assert_eq!(
        s["requests_by_status"],
        json!({"204": 3, "401": 1, "404": 1})
    );
    assert_eq!(s["requests_total"], 5);
    let series: Vec<u64> = serde_json::from_value(s["rps_series"].clone()).unwrap();
    assert_eq!(series.iter().sum::<u64>(), 5);
    assert_eq!(s["peak_rps"], json!(series.iter().max().copied().unwrap()));
    assert_eq!(
        s["throttled_series"].as_array().unwrap().len(),
        series.len()
    );
    assert!(s["first_throttle_second"].is_null());
    assert_eq!(s["polls_total"], 0);
    assert!(s["peak_concurrency"].as_u64().unwrap() >= 1);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_concurrency_sees_parallel_requests() {
    let sb = start(Options {
        graph_mode: GraphMode::Sync204,
        faults: Faults {
            latency: Duration::from_millis(400),
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let c = client();
    // Bounded retries: a badly loaded machine could serialize one batch, hardly three.
    for _ in 0..3 {
        let batch = (0..8).map(|i| {
            let (c, url, token) = (
                c.clone(),
                reset_url(&sb, &format!("u{i}")),
                sb.token().to_owned(),
            );
            tokio::spawn(
                async move { c.post(url).bearer_auth(token).json(&json!({})).send().await },
            )
        });
        for handle in batch.collect::<Vec<_>>() {
            assert_eq!(handle.await.unwrap().unwrap().status(), 200);
        }
        if stats(&c, &sb).await["peak_concurrency"].as_u64().unwrap() >= 2 {
            break;
        }
    }
    let s = stats(&c, &sb).await;
    assert!(s["peak_concurrency"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["in_flight"], 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn operations_complete_without_polling() {
    let sb = start(Options {
        op_delay: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let c = client();
    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "A-1"}))
            .await
            .status(),
        202
    );
    eventually_verify(&c, &sb, &[("alice", "A-1")], &[true]).await;
    let s = stats(&c, &sb).await;
    assert_eq!(
        (s["resets_total"].clone(), s["polls_total"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(s["operations_pending"], 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn verify_answers_in_order_and_rejects_garbage() {
    let sb = start(Options {
        users: users(&["alice", "bob"]),
        initial_password: Some("Start-1".into()),
        ..Options::default()
    })
    .await;
    let c = client();
    let got = verify(
        &c,
        &sb,
        &[
            ("bob", "Start-1"),
            ("alice", "nope"),
            ("nobody", "Start-1"),
            ("alice", "Start-1"),
        ],
    )
    .await;
    assert_eq!(got, [true, false, false, true]);
    assert!(verify(&c, &sb, &[]).await.is_empty());
    let url = format!("{}/_sandbox/verify", sb.base_url());
    for body in [r#"{"user":"a"}"#, r#"[{"user":"a"}]"#, "nope"] {
        let resp = c.post(&url).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert!(resp.json::<Value>().await.unwrap()["error"].is_string());
    }
    // The sandbox's own routes are not counted as API traffic.
    assert_eq!(stats(&c, &sb).await["requests_total"], 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn ready_line_and_shutdown() {
    let sb = start(Options {
        token: Some("fixed-token".into()),
        ..Options::default()
    })
    .await;
    let line: Value = serde_json::from_str(&sb.ready_line()).expect("one JSON line");
    assert!(!sb.ready_line().contains('\n'));
    assert_eq!(line["base_url"], json!(sb.base_url()));
    assert_eq!(line["graph_v1"], json!(format!("{}/v1.0", sb.base_url())));
    assert_eq!(line["token"], "fixed-token");
    assert_eq!(
        sb.base_url(),
        format!("http://127.0.0.1:{}", sb.addr.port())
    );

    let c = client();
    let url = format!("{}/_sandbox/stats", sb.base_url());
    assert!(c.get(&url).send().await.is_ok());
    sb.shutdown().await;
    let fresh = client();
    assert!(
        fresh.get(&url).send().await.is_err(),
        "still answering after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_many_clients() {
    let names: Vec<String> = (0..20_000).map(|i| format!("user{i:05}")).collect();
    let sb = start(Options {
        users: Some(names.clone()),
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    let per_worker = 8;
    let workers = (0..64).map(|w| {
        let (c, token, base) = (c.clone(), sb.token().to_owned(), sb.graph_url());
        tokio::spawn(async move {
            for i in 0..per_worker {
                let user = format!("user{:05}", w * per_worker + i);
                let url = format!(
                    "{base}/users/{user}/authentication/methods/{PASSWORD_METHOD}/resetPassword"
                );
                let body = json!({"newPassword": format!("Pw-{user}")});
                let resp = c
                    .post(url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 204);
            }
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await.unwrap();
    }
    let s = stats(&c, &sb).await;
    assert_eq!(s["resets_total"], 64 * per_worker);
    let pairs: Vec<(String, String)> = names[..2]
        .iter()
        .map(|u| (u.clone(), format!("Pw-{u}")))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    assert_eq!(verify(&c, &sb, &pairs).await, [true, true]);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_storm_ends_and_a_missing_account_appears_on_request() {
    let sb = start(Options {
        users: users(&["alice"]),
        graph_mode: GraphMode::Sync204,
        faults: Faults {
            error_ratio: 1.0,
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let c = client();
    let body = json!({"newPassword": "Pw-1"});
    assert_eq!(reset(&c, &sb, "alice", body.clone()).await.status(), 503);
    let admin = |path: &str, body: Value| {
        c.post(format!("{}/_sandbox/{path}", sb.base_url()))
            .json(&body)
            .send()
    };
    let calm = admin("faults", json!({"error_ratio": 0.0})).await.unwrap();
    assert_eq!(calm.status(), 200);
    assert_eq!(reset(&c, &sb, "alice", body.clone()).await.status(), 204);
    assert_eq!(reset(&c, &sb, "bob", body.clone()).await.status(), 404);
    assert_eq!(
        admin("users", json!({"user": "bob"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(reset(&c, &sb, "bob", body.clone()).await.status(), 204);
    let bad = admin("faults", json!({"error_ratio": 2})).await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad = admin("users", json!({"name": "x"})).await.unwrap();
    assert_eq!(bad.status(), 400);
    sb.shutdown().await;
}
