//! Hostile answers over the wire: a redirect changes nothing and points at the trap listener;
//! the other odd answers come after the password was applied.

use serde_json::json;

use super::*;
use crate::{Faults, OddAnswers};

fn always(odd: OddAnswers) -> Options {
    Options {
        initial_password: Some("Old-1".into()),
        faults: Faults {
            odd,
            ..Faults::default()
        },
        ..Options::default()
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_redirect_applies_nothing_and_the_trap_counts_what_follows_it() {
    let sb = start(always(OddAnswers {
        redirect: 1.0,
        ..OddAnswers::default()
    }))
    .await;
    let c = no_redirects();
    let resp = reset(&c, &sb, "alice", json!({"newPassword": "New-1"})).await;
    assert_eq!(resp.status(), 307);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(!location.starts_with(&sb.base_url()), "{location}");
    assert_eq!(verify(&c, &sb, &[("alice", "Old-1")]).await, vec![true]);
    assert_eq!(stats(&c, &sb).await["trap_requests"], 0);
    c.post(&location)
        .json(&json!({"newPassword": "New-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stats(&c, &sb).await["trap_requests"], 1);
}

#[tokio::test]
async fn odd_answers_after_applying_leave_the_new_password_in_force() {
    let c = no_redirects();
    for (odd, status) in [
        (
            OddAnswers {
                text_200: 1.0,
                ..OddAnswers::default()
            },
            200,
        ),
        (
            OddAnswers {
                foreign_location: 1.0,
                ..OddAnswers::default()
            },
            202,
        ),
        (
            OddAnswers {
                poll_404: 1.0,
                ..OddAnswers::default()
            },
            202,
        ),
        (
            OddAnswers {
                unknown_state: 1.0,
                ..OddAnswers::default()
            },
            202,
        ),
    ] {
        let sb = start(always(odd)).await;
        let resp = reset(&c, &sb, "alice", json!({"newPassword": "New-1"})).await;
        assert_eq!(resp.status(), status);
        if status == 202 {
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            if location.starts_with(&sb.base_url()) {
                let op = c
                    .get(&location)
                    .bearer_auth(sb.token())
                    .send()
                    .await
                    .unwrap();
                let state = op.status();
                let body: serde_json::Value = op.json().await.unwrap_or_default();
                assert!(
                    state == 404 || body["status"] == "unknownFutureValue",
                    "{state} {body}"
                );
            }
        }
        assert_eq!(verify(&c, &sb, &[("alice", "New-1")]).await, vec![true]);
    }
}

#[tokio::test]
async fn an_error_after_applying_is_a_gateway_status() {
    let sb = start(always(OddAnswers {
        error_after_apply: 1.0,
        ..OddAnswers::default()
    }))
    .await;
    let c = client();
    let resp = reset(&c, &sb, "alice", json!({"newPassword": "New-1"})).await;
    assert!([500, 502, 504].contains(&resp.status().as_u16()));
    assert_eq!(verify(&c, &sb, &[("alice", "New-1")]).await, vec![true]);
}
