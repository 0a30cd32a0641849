//! End-to-end tests of the sandbox over real HTTP (reqwest against 127.0.0.1:0).
//!
//! These tests speak the wire like an outside client would, with their own URLs and JSON, and
//! never assert tight timings: anything time-based waits in a bounded loop with a deadline, so a
//! loaded 2-core machine only makes them slower, not flaky.

mod admin;
mod configured;
mod faults;
mod graph_rules;
mod graph_v1;
mod hostile;
mod limits;
mod oauth_rfc;
mod okta_auth0;
mod providers;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Options, Sandbox};

pub(super) const PASSWORD_METHOD: &str = "28c10230-6103-485e-b985-444c60001490";

/// Generous bound for anything that should happen "soon".
pub(super) const DEADLINE: Duration = Duration::from_secs(30);

pub(super) async fn start(opts: Options) -> Sandbox {
    Sandbox::start(opts).await.expect("sandbox starts")
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

pub(super) fn users(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|s| s.to_string()).collect())
}

pub(super) fn reset_url(sb: &Sandbox, user: &str) -> String {
    format!(
        "{}/users/{user}/authentication/methods/{PASSWORD_METHOD}/resetPassword",
        sb.graph_url()
    )
}

/// POSTs a reset for `user` with `body`, authenticated with the sandbox's token.
pub(super) async fn reset(
    c: &reqwest::Client,
    sb: &Sandbox,
    user: &str,
    body: Value,
) -> reqwest::Response {
    c.post(reset_url(sb, user))
        .bearer_auth(sb.token())
        .json(&body)
        .send()
        .await
        .expect("reset request")
}

pub(super) async fn stats(c: &reqwest::Client, sb: &Sandbox) -> Value {
    let url = format!("{}/_sandbox/stats", sb.base_url());
    c.get(url)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// Asks the sandbox which of these (user, password) sign-ins would succeed now.
pub(super) async fn verify(c: &reqwest::Client, sb: &Sandbox, pairs: &[(&str, &str)]) -> Vec<bool> {
    let body: Vec<Value> = pairs
        .iter()
        .map(|(u, p)| json!({"user": u, "password": p}))
        .collect();
    let url = format!("{}/_sandbox/verify", sb.base_url());
    let answers: Vec<Value> = c
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("verify json");
    assert_eq!(answers.len(), pairs.len());
    answers
        .iter()
        .zip(pairs)
        .map(|(a, (u, _))| {
            assert_eq!(a["user"], json!(u), "answers keep the order");
            a["ok"].as_bool().expect("ok is a bool")
        })
        .collect()
}

/// Polls an operation `Location` until it is no longer running; returns the last body.
pub(super) async fn poll_until_done(c: &reqwest::Client, sb: &Sandbox, location: &str) -> Value {
    let start = Instant::now();
    loop {
        let resp = c
            .get(location)
            .bearer_auth(sb.token())
            .send()
            .await
            .expect("poll");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("operation json");
        let status = body["status"].as_str().unwrap_or_default().to_owned();
        if status != "running" && status != "notStarted" {
            return body;
        }
        assert!(start.elapsed() < DEADLINE, "operation still {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls verify until `pred` holds for the answers, or fails at the deadline.
pub(super) async fn eventually_verify(
    c: &reqwest::Client,
    sb: &Sandbox,
    pairs: &[(&str, &str)],
    want: &[bool],
) {
    let start = Instant::now();
    loop {
        let got = verify(c, sb, pairs).await;
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "verify gave {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks Graph's error envelope and returns `error.code`.
pub(super) async fn graph_error(resp: reqwest::Response) -> (String, String) {
    let request_id = resp
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("request-id header");
    let body: Value = resp.json().await.expect("error json");
    let err = &body["error"];
    assert_eq!(err["innerError"]["request-id"], json!(request_id), "{body}");
    assert!(err["innerError"]["client-request-id"].is_string(), "{body}");
    assert!(err["innerError"]["date"].is_string(), "{body}");
    let code = err["code"].as_str().expect("error.code").to_owned();
    let message = err["message"].as_str().expect("error.message").to_owned();
    (code, message)
}
