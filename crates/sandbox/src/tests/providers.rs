//! The non-v1.0 routes over raw HTTP: the validation each documentation implies.

use serde_json::{json, Value};

use super::{client, start, stats, verify};
use crate::{Options, DEFAULT_CLIENT_ID};

async fn status_and_body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn pingone_checks_basic_auth_and_old_xor_token() {
    let sb = start(Options::default()).await;
    let c = client();
    let url = format!("{}/directory/users/password-reset", sb.pingone_url());
    let post = |user: &str, key: &str, body: Value| {
        c.post(&url).basic_auth(user, Some(key)).json(&body).send()
    };
    let ok_body = json!({"id": "u1", "newPassword": "New-Pass-1", "confirmationToken": "t"});
    let (s, b) = status_and_body(
        post(DEFAULT_CLIENT_ID, "wrong", ok_body.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let both =
        json!({"id": "u1", "newPassword": "x", "oldPassword": "a", "confirmationToken": "t"});
    let neither = json!({"id": "u1", "newPassword": "x"});
    for body in [both, neither] {
        let (s, b) =
            status_and_body(post(DEFAULT_CLIENT_ID, sb.token(), body).await.unwrap()).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_DATA")), "{b}");
    }
    let (s, _) = status_and_body(post(DEFAULT_CLIENT_ID, sb.token(), ok_body).await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(verify(&c, &sb, &[("u1", "New-Pass-1")]).await, vec![true]);
}

#[tokio::test]
async fn wristband_checks_code_combinations_and_spends_codes() {
    let sb = start(Options::default()).await;
    let c = client();
    let codes: Value = c
        .post(format!("{}/_sandbox/wristband/codes", sb.base_url()))
        .json(&json!({"user": "w1", "form": "otp"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{}/api/v1/password-reset/reset-password", sb.base_url());
    let send = |body: Value| c.post(&url).bearer_auth(sb.token()).json(&body).send();
    let (req, ver) = (
        codes["requestCode"].clone(),
        codes["verificationCode"].clone(),
    );
    for wrong in [
        json!({"requestCode": req, "newPassword": "p"}),
        json!({"requestCode": req, "verificationCode": ver, "emailAuthCode": "e", "newPassword": "p"}),
        json!({"newPassword": "p"}),
    ] {
        let (s, b) = status_and_body(send(wrong).await.unwrap()).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (400, Some("invalid_request")),
            "{b}"
        );
    }
    let good = json!({"requestCode": req, "verificationCode": ver, "newPassword": "W-Pass-1"});
    let (s, b) = status_and_body(send(good.clone()).await.unwrap()).await;
    assert_eq!((s, b["result"].as_str()), (200, Some("SUCCESS")));
    let (s, b) = status_and_body(send(good).await.unwrap()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_code")),
        "a code works once"
    );
    assert!(b["error_description"].is_string());
    assert_eq!(verify(&c, &sb, &[("w1", "W-Pass-1")]).await, vec![true]);
    let st = stats(&c, &sb).await;
    assert_eq!(st["families"]["wristband"]["requests"], 5);
    assert_eq!(st["revocations_per_user"]["w1"], 1);
}

#[tokio::test]
async fn graph_beta_profile_and_revoke_routes() {
    let sb = start(Options::default()).await;
    let c = client();
    let beta = format!(
        "{}/users/b1/authentication/softwareOathMethods/m1/resetPassword",
        sb.graph_beta_url()
    );
    let r = c
        .post(&beta)
        .bearer_auth(sb.token())
        .json(&json!({"requireChangeOnNextSignIn": true}))
        .send()
        .await
        .unwrap();
    let (s, b) = status_and_body(r).await;
    assert_eq!(s, 200);
    let generated = b["value"]["newPassword"].as_str().unwrap().to_owned();
    assert_eq!(verify(&c, &sb, &[("b1", &generated)]).await, vec![true]);
    let profile = format!("{}/users/b1", sb.graph_url());
    let weak =
        json!({"passwordProfile": {"password": "short", "forceChangePasswordNextSignIn": false}});
    let (s, b) = status_and_body(
        c.patch(&profile)
            .bearer_auth(sb.token())
            .json(&weak)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("Request_BadRequest"))
    );
    let good = json!({"passwordProfile": {"password": "Long-Enough-1", "forceChangePasswordNextSignIn": false}});
    let r = c
        .patch(&profile)
        .bearer_auth(sb.token())
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let revoke = format!("{}/users/b1/revokeSignInSessions", sb.graph_url());
    let (s, b) = status_and_body(
        c.post(&revoke)
            .bearer_auth(sb.token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["value"].as_bool()), (200, Some(true)));
    let st = stats(&c, &sb).await;
    assert_eq!(st["revocations_per_user"]["b1"], 1);
    assert_eq!(st["must_change_users"], json!([]));
}
