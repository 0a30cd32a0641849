//! What the sandbox takes from its own configuration where the documentation is silent: PingOne's
//! HTTP method, Wristband's field names and `result`; and PingOne's documented error shape.

use serde_json::{json, Value};

use super::{client, start, stats, verify};
use crate::{Options, PingOneMethod, Sandbox, WristbandOptions, DEFAULT_CLIENT_ID};

fn ping_url(sb: &Sandbox) -> String {
    format!("{}/directory/users/password-reset", sb.pingone_url())
}

async fn ping(sb: &Sandbox, method: reqwest::Method, body: &Value) -> reqwest::Response {
    client()
        .request(method, ping_url(sb))
        .basic_auth(DEFAULT_CLIENT_ID, Some(sb.token()))
        .json(body)
        .send()
        .await
        .expect("pingone request")
}

/// The documented envelope: `id`, `code`, `message`; returns the body.
async fn ping_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.expect("error json");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["id"].as_str().is_some_and(|s| s.len() >= 32), "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

/// A POST the sandbox refuses with 400 `INVALID_DATA`: its body.
async fn invalid_data(sb: &Sandbox, body: &Value) -> Value {
    let resp = ping(sb, reqwest::Method::POST, body).await;
    ping_error(resp, 400, "INVALID_DATA").await
}

#[tokio::test]
async fn pingone_takes_only_the_configured_method() {
    let sb = start(Options {
        pingone_method: PingOneMethod::Put,
        ..Options::default()
    })
    .await;
    let body = json!({"id": "p1", "newPassword": "Ping-Pass-1", "confirmationToken": "t"});
    for wrong in [reqwest::Method::POST, reqwest::Method::PATCH] {
        let resp = ping(&sb, wrong, &body).await;
        assert_eq!(resp.headers()["allow"], "PUT");
        ping_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    }
    assert_eq!(
        verify(&client(), &sb, &[("p1", "Ping-Pass-1")]).await,
        [false]
    );
    let resp = ping(&sb, reqwest::Method::PUT, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        verify(&client(), &sb, &[("p1", "Ping-Pass-1")]).await,
        [true]
    );
    let st = stats(&client(), &sb).await;
    assert_eq!(st["families"]["pingone"]["requests"], 3);
    assert_eq!(st["requests_by_status"]["405"], 2);
    assert_eq!(st["resets_total"], 1);

    let default = start(Options::default()).await;
    let resp = ping(&default, reqwest::Method::PUT, &body).await;
    assert_eq!(resp.headers()["allow"], "POST");
    ping_error(resp, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn pingone_errors_have_the_documented_shape() {
    let sb = start(Options {
        initial_password: Some("Old-Pass-1".into()),
        ..Options::default()
    })
    .await;
    let wrong_old = json!({"id": "p2", "newPassword": "N-1", "oldPassword": "nope"});
    let body = invalid_data(&sb, &wrong_old).await;
    assert_eq!(
        body["message"],
        "The request could not be completed. One or more validation errors were in the request."
    );
    let detail = &body["details"][0];
    assert_eq!(
        (&detail["code"], &detail["target"]),
        (&json!("INVALID_VALUE"), &json!("oldPassword"))
    );
    assert!(detail["message"].as_str().unwrap().contains("old password"));
    let missing = json!({"id": "p2", "oldPassword": "Old-Pass-1"});
    let body = invalid_data(&sb, &missing).await;
    assert_eq!(body["details"][0]["code"], "REQUIRED_VALUE");
    assert_eq!(body["details"][0]["target"], "newPassword");
    let resp = client()
        .post(ping_url(&sb))
        .basic_auth(DEFAULT_CLIENT_ID, Some("wrong"))
        .json(&missing)
        .send()
        .await
        .unwrap();
    ping_error(resp, 401, "UNAUTHORIZED").await;
}

async fn wristband_reset(sb: &Sandbox, user: &str, extra: Value) -> (u16, Value) {
    let c = client();
    let codes: Value = c
        .post(format!("{}/_sandbox/wristband/codes", sb.base_url()))
        .json(&json!({"user": user, "form": "password_reset_code"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut body = extra;
    body["passwordResetCode"] = codes["passwordResetCode"].clone();
    let resp = c
        .post(format!(
            "{}/api/v1/password-reset/reset-password",
            sb.base_url()
        ))
        .bearer_auth(sb.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn wristband_takes_its_configured_field_names_only() {
    let sb = start(Options {
        wristband: WristbandOptions {
            password_field: "password".into(),
            suppress_email_field: "skipEmail".into(),
            ..WristbandOptions::default()
        },
        ..Options::default()
    })
    .await;
    for guessed in [
        json!({"newPassword": "W-1"}),
        json!({"password": "W-1", "suppressPasswordUpdatedEmail": true}),
    ] {
        let (s, b) = wristband_reset(&sb, "w1", guessed).await;
        assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
        assert!(b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Unknown field"));
    }
    let (s, b) = wristband_reset(&sb, "w1", json!({"password": "W-2", "skipEmail": true})).await;
    assert_eq!((s, b), (200, json!({"result": "SUCCESS"})));
    assert_eq!(verify(&client(), &sb, &[("w1", "W-2")]).await, [true]);
}

#[tokio::test]
async fn wristband_answers_its_configured_result() {
    let pending = WristbandOptions {
        result: Some("PENDING".into()),
        applies: false,
        ..WristbandOptions::default()
    };
    let sb = start(Options {
        wristband: pending,
        ..Options::default()
    })
    .await;
    let (s, b) = wristband_reset(&sb, "w2", json!({"newPassword": "W-3"})).await;
    assert_eq!((s, b), (200, json!({"result": "PENDING"})));
    assert_eq!(verify(&client(), &sb, &[("w2", "W-3")]).await, [false]);
    assert_eq!(stats(&client(), &sb).await["resets_total"], 0);

    let none = WristbandOptions {
        result: None,
        ..WristbandOptions::default()
    };
    let sb = start(Options {
        wristband: none,
        ..Options::default()
    })
    .await;
    let (s, b) = wristband_reset(&sb, "w3", json!({"newPassword": "W-4"})).await;
    assert_eq!((s, b), (200, json!({})));
    assert_eq!(verify(&client(), &sb, &[("w3", "W-4")]).await, [true]);
}

#[tokio::test]
async fn unusable_wristband_names_are_refused_at_start() {
    for (password_field, suppress_email_field) in
        [("", "x"), ("emailAuthCode", "x"), ("same", "same")]
    {
        let opts = Options {
            wristband: WristbandOptions {
                password_field: password_field.into(),
                suppress_email_field: suppress_email_field.into(),
                ..WristbandOptions::default()
            },
            ..Options::default()
        };
        assert!(Sandbox::start(opts).await.is_err(), "{password_field:?}");
    }
}
