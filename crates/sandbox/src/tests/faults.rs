//! Faults over the wire: throttling, 503s, dropped connections, latency.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::*;
use crate::{Bucket, Faults, GraphMode};

fn sync_with(faults: Faults) -> Options {
    Options {
        graph_mode: GraphMode::Sync204,
        initial_password: Some("Old-1".into()),
        faults,
        ..Options::default()
    }
}

/// A bucket that refills so slowly (one token per 1000 s) that no test run sees a refill.
fn slow_bucket(capacity: u32) -> Faults {
    Faults {
        throttle: Some(Bucket {
            rate: 0.001,
            capacity,
        }),
        ..Faults::default()
    }
}

#[tokio::test]
async fn drained_bucket_gives_429_with_retry_after_and_no_change() {
    let sb = start(sync_with(slow_bucket(2))).await;
    let c = client();
    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "A-1"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        reset(&c, &sb, "bob", json!({"newPassword": "B-1"}))
            .await
            .status(),
        204
    );
    let resp = reset(&c, &sb, "carol", json!({"newPassword": "C-1"})).await;
    assert_eq!(resp.status(), 429);
    let secs: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("delay-seconds");
    assert!((1..=3600).contains(&secs), "{secs}");
    let (code, _) = graph_error(resp).await;
    assert_eq!(code, "TooManyRequests");

    let got = verify(
        &c,
        &sb,
        &[("carol", "C-1"), ("carol", "Old-1"), ("alice", "A-1")],
    )
    .await;
    assert_eq!(got, [false, true, true]);
    let s = stats(&c, &sb).await;
    assert_eq!(s["requests_by_status"]["429"], 1);
    assert_eq!(
        s["throttled_series"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_u64())
            .sum::<u64>(),
        1
    );
    let first = s["first_throttle_second"]
        .as_u64()
        .expect("a throttle second") as usize;
    assert_eq!(s["throttled_series"][first], 1);
    assert_eq!(s["reset_requests_total"], 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_writes_cost_no_token() {
    let sb = start(sync_with(slow_bucket(1))).await;
    let c = client();
    for _ in 0..3 {
        let resp = c
            .post(reset_url(&sb, "alice"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "A-1"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "A-2"}))
            .await
            .status(),
        429
    );
    let s = stats(&c, &sb).await;
    assert_eq!(s["reset_requests_total"], 5, "401s count as arrivals too");
    sb.shutdown().await;
}

#[tokio::test]
async fn retry_after_can_be_an_http_date() {
    let mut faults = slow_bucket(1);
    faults.retry_after_http_date = true;
    let sb = start(sync_with(faults)).await;
    let c = client();
    assert_eq!(reset(&c, &sb, "alice", json!({})).await.status(), 200);
    let before = SystemTime::now();
    let resp = reset(&c, &sb, "alice", json!({})).await;
    assert_eq!(resp.status(), 429);
    let value = resp.headers()["retry-after"].to_str().unwrap().to_owned();
    let date = httpdate::parse_http_date(&value).expect("an HTTP-date");
    assert!(date > before, "{value}");
    sb.shutdown().await;
}

#[tokio::test]
async fn error_ratio_one_gives_503_and_no_change() {
    let sb = start(sync_with(Faults {
        error_ratio: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let resp = reset(&c, &sb, "alice", json!({"newPassword": "A-1"})).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(graph_error(resp).await.0, "serviceNotAvailable");
    assert_eq!(
        verify(&c, &sb, &[("alice", "A-1"), ("alice", "Old-1")]).await,
        [false, true]
    );
    assert_eq!(stats(&c, &sb).await["requests_by_status"]["503"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_loses_the_answer_but_not_the_reset() {
    let sb = start(sync_with(Faults {
        drop_ratio: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let result = c
        .post(reset_url(&sb, "alice"))
        .bearer_auth(sb.token())
        .json(&json!({"newPassword": "A-1"}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    assert_eq!(verify(&c, &sb, &[("alice", "A-1")]).await, [true]);
    let s = stats(&c, &sb).await;
    assert_eq!(s["dropped_total"], 1);
    assert_eq!(s["requests_by_status"]["204"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn latency_delays_api_answers() {
    let latency = Duration::from_millis(200);
    let sb = start(sync_with(Faults {
        latency,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let t = Instant::now();
    assert_eq!(reset(&c, &sb, "alice", json!({})).await.status(), 200);
    assert!(t.elapsed() >= latency, "{:?}", t.elapsed());
    sb.shutdown().await;
}

#[tokio::test]
async fn nonsense_fault_settings_are_refused() {
    let bad = [
        Faults {
            error_ratio: 1.5,
            ..Faults::default()
        },
        Faults {
            drop_ratio: f64::NAN,
            ..Faults::default()
        },
        Faults {
            throttle: Some(Bucket {
                rate: 0.0,
                capacity: 1,
            }),
            ..Faults::default()
        },
        Faults {
            throttle: Some(Bucket {
                rate: 1.0,
                capacity: 0,
            }),
            ..Faults::default()
        },
    ];
    for faults in bad {
        let err = Sandbox::start(sync_with(faults.clone())).await.err();
        assert!(err.is_some(), "{faults:?} was accepted");
    }
    let forever = Options {
        op_delay: Duration::MAX,
        ..Options::default()
    };
    assert!(Sandbox::start(forever).await.is_err());
}
