//! Graph v1.0 resetPassword over the wire: modes, auth, validation, operations.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::GraphMode;

#[tokio::test]
async fn async_reset_is_accepted_then_succeeds() {
    let delay = Duration::from_secs(2);
    let sb = start(Options {
        op_delay: delay,
        op_retry_after: Some(1),
        initial_password: Some("Old-password-1".into()),
        users: users(&["alice@contoso.com"]),
        ..Options::default()
    })
    .await;
    let c = client();
    let sent = Instant::now();
    let resp = reset(
        &c,
        &sb,
        "alice@contoso.com",
        json!({"newPassword": "New-password-2"}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["retry-after"], "1");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!(
        "{}/users/alice@contoso.com/authentication/operations/",
        sb.graph_url()
    )));
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({}));

    let first = c
        .get(&location)
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    let first: Value = first.json().await.unwrap();
    if sent.elapsed() < delay {
        // Only meaningful if this machine was fast enough to ask before the delay ran out.
        assert!(
            first["status"] == "notStarted" || first["status"] == "running",
            "{first}"
        );
    }
    assert!(
        location.contains('?'),
        "Graph's Location has a query string: {location}"
    );
    let done = poll_until_done(&c, &sb, &location).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["id"], first["id"]);
    let path = location.split('?').next().unwrap();
    assert!(path.ends_with(done["id"].as_str().unwrap()));
    assert!(done["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/authentication/operations/$entity"));
    assert!(done["createdDateTime"].is_string() && done["lastActionDateTime"].is_string());
    assert!(done["statusDetail"].is_null());

    let user = "alice@contoso.com";
    let got = verify(
        &c,
        &sb,
        &[(user, "New-password-2"), (user, "Old-password-1")],
    )
    .await;
    assert_eq!(got, [true, false]);
    sb.shutdown().await;
}

#[tokio::test]
async fn server_generated_password_is_returned_and_works() {
    let sb = start(Options::default()).await;
    let c = client();
    let resp = reset(&c, &sb, "bob", json!({})).await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let password = body["newPassword"]
        .as_str()
        .expect("generated password")
        .to_owned();
    assert!(password.len() >= 16);
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| !c.is_ascii_alphanumeric()));
    assert_eq!(
        poll_until_done(&c, &sb, &location).await["status"],
        "succeeded"
    );
    assert_eq!(verify(&c, &sb, &[("bob", &password)]).await, [true]);
    sb.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_requests_get_401() {
    let sb = start(Options::default()).await;
    let c = client();
    let url = reset_url(&sb, "carol");
    let none = c
        .post(&url)
        .json(&json!({"newPassword": "x-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let (code, message) = graph_error(none).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidAuthenticationToken", "Access token is empty.")
    );

    let wrong = c
        .post(&url)
        .bearer_auth("not-the-token")
        .header("client-request-id", "my-correlation-id")
        .json(&json!({"newPassword": "x-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["client-request-id"], "my-correlation-id");
    let (code, message) = graph_error(wrong).await;
    assert_eq!(code, "InvalidAuthenticationToken");
    assert!(message.contains("validation failed"), "{message}");

    let poll = format!(
        "{}/users/carol/authentication/operations/whatever",
        sb.graph_url()
    );
    assert_eq!(c.get(poll).send().await.unwrap().status(), 401);
    assert_eq!(verify(&c, &sb, &[("carol", "x-1")]).await, [false]);
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_user_and_method_get_404() {
    let sb = start(Options {
        users: users(&["alice"]),
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(&c, &sb, "mallory", json!({"newPassword": "Pw-1"})).await;
    assert_eq!(resp.status(), 404);
    let (code, message) = graph_error(resp).await;
    assert_eq!(code, "Request_ResourceNotFound");
    assert!(
        message.starts_with("Resource 'mallory' does not exist"),
        "{message}"
    );

    let other_method = format!(
        "{}/users/alice/authentication/methods/not-a-method/resetPassword",
        sb.graph_url()
    );
    let resp = c
        .post(other_method)
        .bearer_auth(sb.token())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    assert_eq!(
        reset(&c, &sb, "alice", json!({"newPassword": "Pw-1"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        verify(&c, &sb, &[("alice", "Pw-1"), ("mallory", "Pw-1")]).await,
        [true, false]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn invalid_bodies_get_400_and_change_nothing() {
    let sb = start(Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    let bodies = [
        "not json",
        "[]",
        r#"{"newPassword": 5}"#,
        r#"{"newPassword": ""}"#,
        r#"{"password": "Pw-1"}"#,
        "",
    ];
    for body in bodies {
        let resp = c
            .post(reset_url(&sb, "dave"))
            .bearer_auth(sb.token())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(graph_error(resp).await.0, "invalidRequest", "{body}");
    }
    let s = stats(&c, &sb).await;
    assert_eq!(s["resets_total"], 0);
    assert_eq!(s["requests_by_status"]["400"], bodies.len());
    sb.shutdown().await;
}

#[tokio::test]
async fn sync200_answers_with_the_body_at_once() {
    let sb = start(Options {
        graph_mode: GraphMode::Sync200,
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(&c, &sb, "erin", json!({"newPassword": "Chosen-1"})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#microsoft.graph.passwordResetResponse"));
    assert!(body["newPassword"].is_null());
    assert_eq!(verify(&c, &sb, &[("erin", "Chosen-1")]).await, [true]);

    let body: Value = reset(&c, &sb, "erin", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let generated = body["newPassword"].as_str().expect("generated").to_owned();
    assert_eq!(
        verify(&c, &sb, &[("erin", &generated), ("erin", "Chosen-1")]).await,
        [true, false]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn sync204_has_no_body_unless_it_generated_one() {
    let sb = start(Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(&c, &sb, "frank", json!({"newPassword": "Chosen-1"})).await;
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().contains_key("request-id"));
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(verify(&c, &sb, &[("frank", "Chosen-1")]).await, [true]);

    let resp = reset(&c, &sb, "frank", json!({})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let generated = body["newPassword"].as_str().expect("generated");
    assert_eq!(verify(&c, &sb, &[("frank", generated)]).await, [true]);
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_or_foreign_operations_get_404() {
    let sb = start(Options::default()).await;
    let c = client();
    let resp = reset(&c, &sb, "gina", json!({"newPassword": "Pw-1"})).await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let op_id = location.rsplit('/').next().unwrap();
    for url in [
        format!(
            "{}/users/gina/authentication/operations/no-such-op",
            sb.graph_url()
        ),
        format!(
            "{}/users/hank/authentication/operations/{op_id}",
            sb.graph_url()
        ),
    ] {
        let resp = c.get(url).bearer_auth(sb.token()).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(graph_error(resp).await.0, "Request_ResourceNotFound");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn failed_operations_leave_the_old_password() {
    let sb = start(Options {
        initial_password: Some("Old-1".into()),
        faults: crate::Faults {
            op_failure_ratio: 1.0,
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let c = client();
    let resp = reset(&c, &sb, "ivan", json!({"newPassword": "New-1"})).await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let done = poll_until_done(&c, &sb, &location).await;
    assert_eq!(done["status"], "failed");
    assert!(done["statusDetail"].is_string());
    assert_eq!(
        verify(&c, &sb, &[("ivan", "New-1"), ("ivan", "Old-1")]).await,
        [false, true]
    );
    let s = stats(&c, &sb).await;
    assert_eq!(
        (s["resets_total"].clone(), s["operations_failed"].clone()),
        (json!(0), json!(1))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_get_a_graph_shaped_404() {
    let sb = start(Options::default()).await;
    let c = client();
    let resp = c
        .get(format!("{}/me", sb.graph_url()))
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (code, message) = graph_error(resp).await;
    assert_eq!(code, "UnknownRoute");
    assert!(message.contains("/v1.0/me"), "{message}");
    sb.shutdown().await;
}
