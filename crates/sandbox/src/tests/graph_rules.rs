//! Graph's documented rules the sandbox enforces, over the wire: delegated tokens only on
//! resetPassword, `users('$id')` addressing, beta's passwordMethods action, must-change after a
//! reset, throttled polls, and the passwordProfile role fault.

use serde_json::{json, Value};

use super::*;
use crate::GraphMode;

/// An app-only token from the client-credentials grant.
async fn app_only_token(c: &reqwest::Client, sb: &Sandbox) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "credrotate-sandbox"),
        ("client_secret", sb.client_secret()),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        sb.base_url()
    );
    let answer: Value = c
        .post(url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn reset_password_refuses_app_only_tokens_and_profile_takes_them() {
    let sb = start(Options::default()).await;
    let c = client();
    let token = app_only_token(&c, &sb).await;
    let resp = c
        .post(reset_url(&sb, "alice@contoso.com"))
        .bearer_auth(&token)
        .json(&json!({"newPassword": "New-password-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(graph_error(resp).await.0, "accessDenied");
    let resp = c
        .patch(format!("{}/users/alice@contoso.com", sb.graph_url()))
        .bearer_auth(&token)
        .json(&json!({"passwordProfile": {"password": "New-password-2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(stats(&c, &sb).await["resets_total"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn dollar_ids_need_the_key_form() {
    let sb = start(Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    let body = json!({"newPassword": "New-password-2"});
    let plain = reset(&c, &sb, "$x1", body.clone()).await;
    assert_eq!(plain.status(), 400);
    let keyed = format!(
        "{}/users('$x1')/authentication/methods/{PASSWORD_METHOD}/resetPassword",
        sb.graph_url()
    );
    let resp = c
        .post(keyed)
        .bearer_auth(sb.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(verify(&c, &sb, &[("$x1", "New-password-2")]).await, [true]);
    let s = stats(&c, &sb).await;
    assert_eq!(s["must_change_users"], json!(["$x1"]), "{s}");
    sb.shutdown().await;
}

#[tokio::test]
async fn beta_password_methods_reset_is_polled_like_v1() {
    let sb = start(Options::default()).await;
    let c = client();
    let url = format!(
        "{}/beta/users/alice@contoso.com/authentication/passwordMethods/{PASSWORD_METHOD}/resetPassword",
        sb.base_url()
    );
    let body = json!({"newPassword": "New-password-2"});
    let resp = c
        .post(url)
        .bearer_auth(sb.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/beta/users/alice@contoso.com/authentication/operations/"));
    assert_eq!(
        poll_until_done(&c, &sb, &location).await["status"],
        "succeeded"
    );
    assert_eq!(
        verify(&c, &sb, &[("alice@contoso.com", "New-password-2")]).await,
        [true]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn polls_meet_the_bucket_and_the_profile_role_fault_answers_403() {
    let sb = start(Options {
        faults: crate::Faults {
            throttle: Some(crate::Bucket {
                rate: 0.5,
                capacity: 2,
            }),
            profile_missing_role: true,
            ..crate::Faults::default()
        },
        op_delay: std::time::Duration::from_secs(5),
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(
        &c,
        &sb,
        "alice@contoso.com",
        json!({"newPassword": "New-password-2"}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let poll = c
        .get(&location)
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 200, "the bucket's second token");
    let poll = c
        .get(&location)
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 429);
    assert!(poll.headers().contains_key("retry-after"));
    assert_eq!(stats(&c, &sb).await["polls_throttled"], 1);

    let sb2 = start(Options {
        faults: crate::Faults {
            profile_missing_role: true,
            ..crate::Faults::default()
        },
        ..Options::default()
    })
    .await;
    let resp = c
        .patch(format!("{}/users/alice@contoso.com", sb2.graph_url()))
        .bearer_auth(sb2.token())
        .json(&json!({"passwordProfile": {"password": "New-password-2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(graph_error(resp).await.0, "Authorization_RequestDenied");
    sb.shutdown().await;
    sb2.shutdown().await;
}

#[tokio::test]
async fn unavailable_answers_say_when_to_come_back() {
    let sb = start(Options {
        faults: crate::Faults {
            error_ratio: 1.0,
            ..crate::Faults::default()
        },
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(
        &c,
        &sb,
        "alice@contoso.com",
        json!({"newPassword": "New-password-2"}),
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    sb.shutdown().await;
}
