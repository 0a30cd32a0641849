//! Okta's and Auth0's user routes over raw HTTP: their documented bodies, error shapes and
//! rate-limit headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{client, start, verify};
use crate::{OAuthOptions, Options, Sandbox, WindowLimit};

fn limited(family: &str, limit: u32) -> Options {
    let mut opts = Options::default();
    opts.reset_limits.insert(
        family.into(),
        WindowLimit {
            limit,
            window: Duration::from_secs(3),
        },
    );
    opts
}

async fn okta(sb: &Sandbox, bearer: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/api/v1/users/o1", sb.base_url()))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn auth0(sb: &Sandbox, bearer: &str, body: Value) -> reqwest::Response {
    client()
        .patch(format!("{}/api/v2/users/auth0%7Ca1", sb.base_url()))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn limits(sb: &Sandbox) -> Value {
    let url = format!("{}/_sandbox/ratelimits", sb.base_url());
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn okta_password(value: &str) -> Value {
    json!({"credentials": {"password": {"value": value}}})
}

#[tokio::test]
async fn okta_validates_the_documented_body() {
    let sb = start(Options::default()).await;
    let (s, b) = json_of(okta(&sb, "nope", okta_password("Okta-Pass-1")).await).await;
    assert_eq!((s, b["errorCode"].as_str()), (401, Some("E0000011")));
    let extra = json!({"credentials": {"password": {"value": "Okta-Pass-1"}, "x": 1}});
    let (s, b) = json_of(okta(&sb, sb.token(), extra).await).await;
    assert_eq!((s, b["errorCode"].as_str()), (400, Some("E0000003")), "{b}");
    let flat = json!({"password": "Okta-Pass-1"});
    assert_eq!(json_of(okta(&sb, sb.token(), flat).await).await.0, 400);
    let (s, b) = json_of(okta(&sb, sb.token(), okta_password("short")).await).await;
    assert_eq!((s, b["errorCode"].as_str()), (400, Some("E0000001")));
    assert!(b["errorCauses"][0]["errorSummary"]
        .as_str()
        .unwrap()
        .contains("8 characters"));
    let resp = okta(&sb, sb.token(), okta_password("Okta-Pass-1")).await;
    assert!(resp.headers().contains_key("x-okta-request-id"));
    let (s, b) = json_of(resp).await;
    assert_eq!((s, b["id"].as_str()), (200, Some("o1")));
    assert_eq!(
        verify(&client(), &sb, &[("o1", "Okta-Pass-1")]).await,
        vec![true]
    );
}

#[tokio::test]
async fn okta_refuses_custom_authorization_server_tokens() {
    let sb = start(Options::default()).await;
    let grant: Value = client()
        .post(format!("{}/oauth2/default/v1/token", sb.base_url()))
        .basic_auth(OAuthOptions::default().client_id, Some(sb.client_secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", "custom")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = grant["access_token"].as_str().unwrap();
    assert_eq!(
        json_of(okta(&sb, token, okta_password("Okta-Pass-2")).await)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn okta_throttles_with_x_rate_limit_reset_and_counts_early_requests() {
    let sb = start(limited("okta", 2)).await;
    for _ in 0..2 {
        let r = okta(&sb, sb.token(), okta_password("Okta-Pass-3")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit-limit"], "2");
    }
    let r = okta(&sb, sb.token(), okta_password("Okta-Pass-4")).await;
    assert!(r.headers().get("retry-after").is_none());
    let reset: u64 = r.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now && reset <= now + 4, "{reset} vs {now}");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    let (s, b) = json_of(r).await;
    assert_eq!((s, b["errorCode"].as_str()), (429, Some("E0000047")));
    okta(&sb, sb.token(), okta_password("Okta-Pass-5")).await;
    let l = limits(&sb).await;
    assert_eq!(
        (&l["okta"]["throttled"], &l["okta"]["early_requests"]),
        (&json!(2), &json!(1)),
        "{l}"
    );
    assert_eq!(
        verify(&client(), &sb, &[("o1", "Okta-Pass-3")]).await,
        vec![true]
    );
}

#[tokio::test]
async fn auth0_validates_the_documented_body_and_throttles_its_way() {
    let sb = start(limited("auth0", 4)).await;
    let unknown = json!({"password": "Auth0-Pass-1", "connection": "db", "pwd": "x"});
    let (s, b) = json_of(auth0(&sb, sb.token(), unknown).await).await;
    assert_eq!(
        (s, b["errorCode"].as_str()),
        (400, Some("invalid_body")),
        "{b}"
    );
    assert_eq!(b["statusCode"], 400);
    let no_connection = json!({"password": "Auth0-Pass-1"});
    assert_eq!(
        json_of(auth0(&sb, sb.token(), no_connection).await).await.0,
        400
    );
    let weak = json!({"password": "weak", "connection": "db"});
    let (s, b) = json_of(auth0(&sb, sb.token(), weak).await).await;
    assert_eq!(s, 400);
    assert!(b["message"]
        .as_str()
        .unwrap()
        .starts_with("PasswordStrengthError"));
    let r = auth0(
        &sb,
        sb.token(),
        json!({"password": "Auth0-Pass-1", "connection": "db"}),
    )
    .await;
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let r = auth0(
        &sb,
        sb.token(),
        json!({"password": "Auth0-Pass-2", "connection": "db"}),
    )
    .await;
    assert!(r.headers().contains_key("x-ratelimit-reset"));
    let (s, b) = json_of(r).await;
    assert_eq!(
        (s, b["errorCode"].as_str()),
        (429, Some("too_many_requests"))
    );
    assert_eq!(
        verify(&client(), &sb, &[("auth0|a1", "Auth0-Pass-1")]).await,
        vec![true]
    );
    let (s, b) = json_of(auth0(&sb, "nope", json!({})).await).await;
    assert_eq!((s, b["message"].as_str()), (401, Some("Invalid token")));
}
