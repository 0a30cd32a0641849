//! The sliding-window model over the wire and the count of requests inside an announced
//! `Retry-After` (`limits`).

use serde_json::json;

use super::*;
use crate::{GraphMode, Window};

fn window(requests: u32, secs: u64) -> Options {
    let mut options = Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    };
    options.family_window.insert(
        "graph".into(),
        Window {
            requests,
            per: std::time::Duration::from_secs(secs),
        },
    );
    options
}

#[tokio::test]
async fn a_full_window_answers_429_until_it_frees_and_counts_requests_inside_it() {
    let sb = start(window(2, 30)).await;
    let c = client();
    for user in ["alice", "bob"] {
        let resp = reset(&c, &sb, user, json!({"newPassword": "N-1"})).await;
        assert_eq!(resp.status(), 204);
    }
    let resp = reset(&c, &sb, "carol", json!({"newPassword": "C-1"})).await;
    assert_eq!(resp.status(), 429);
    let secs: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (29..=30).contains(&secs),
        "time until the window frees: {secs}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A client that ignores Retry-After: counted.
    let resp = reset(&c, &sb, "carol", json!({"newPassword": "C-1"})).await;
    assert_eq!(resp.status(), 429);
    let s = stats(&c, &sb).await;
    assert_eq!(s["inside_retry_after"], 1, "{s}");
    assert_eq!(s["families"]["graph"]["inside_retry_after"], 1);
    assert_eq!(s["families"]["graph"]["in_flight_after_429"], 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn windows_are_per_family() {
    let sb = start(window(1, 30)).await;
    let c = client();
    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "N-1"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        reset(&c, &sb, "bob", json!({"newPassword": "N-2"}))
            .await
            .status(),
        429
    );
    let s = stats(&c, &sb).await;
    assert!(
        s["families"]["pingone"].is_null(),
        "no other family touched: {s}"
    );
    assert_eq!(s["inside_retry_after"], 0);
    sb.shutdown().await;
}
