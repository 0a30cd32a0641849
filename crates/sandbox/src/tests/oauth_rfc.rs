//! The generic client-credentials token endpoints (Keycloak, Okta, Auth0, a custom path) and the
//! Keycloak admin route that takes only the tokens its realm issued.

use std::time::Duration;

use serde_json::{json, Value};

use super::{client, start, verify};
use crate::{OAuthOptions, Options, Sandbox};

fn kc_token_url(sb: &Sandbox, realm: &str) -> String {
    format!(
        "{}/realms/{realm}/protocol/openid-connect/token",
        sb.base_url()
    )
}

fn kc_reset_url(sb: &Sandbox, realm: &str, user: &str) -> String {
    format!(
        "{}/admin/realms/{realm}/users/{user}/reset-password",
        sb.base_url()
    )
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A token by form fields (`basic` false) or HTTP Basic.
async fn token(sb: &Sandbox, url: &str, basic: bool, extra: &[(&str, &str)]) -> (u16, Value) {
    let id = OAuthOptions::default().client_id;
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let request = client().post(url);
    let request = if basic {
        request
            .basic_auth(&id, Some(sb.client_secret()))
            .form(&form)
    } else {
        form.extend([
            ("client_id", id.as_str()),
            ("client_secret", sb.client_secret()),
        ]);
        request.form(&form)
    };
    answer(request.send().await.unwrap()).await
}

async fn kc_reset(sb: &Sandbox, realm: &str, bearer: &str, body: Value) -> (u16, Value) {
    let r = client()
        .put(kc_reset_url(sb, realm, "k1"))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    answer(r).await
}

#[tokio::test]
async fn keycloak_takes_only_unexpired_tokens_of_its_realm() {
    let sb = start(Options {
        oauth: OAuthOptions {
            token_ttl: Duration::from_millis(1500),
            ..OAuthOptions::default()
        },
        ..Options::default()
    })
    .await;
    let (s, form_grant) = token(&sb, &kc_token_url(&sb, "r"), false, &[]).await;
    assert_eq!(s, 200, "{form_grant}");
    let (s, basic_grant) = token(&sb, &kc_token_url(&sb, "r"), true, &[]).await;
    assert_eq!(
        (s, basic_grant["token_type"].as_str()),
        (200, Some("Bearer"))
    );
    let (_, other_realm) = token(&sb, &kc_token_url(&sb, "other"), true, &[]).await;
    let at = |g: &Value| g["access_token"].as_str().unwrap().to_owned();
    let body = json!({"type": "password", "value": "Kc-Pass-123", "temporary": false});
    assert_eq!(
        kc_reset(&sb, "r", &at(&form_grant), body.clone()).await.0,
        204
    );
    assert_eq!(
        kc_reset(&sb, "r", &at(&basic_grant), body.clone()).await.0,
        204
    );
    assert_eq!(
        kc_reset(&sb, "r", sb.token(), body.clone()).await.0,
        401,
        "fixed token"
    );
    assert_eq!(
        kc_reset(&sb, "r", &at(&other_realm), body.clone()).await.0,
        401
    );
    let string_temporary = json!({"type": "password", "value": "Kc-Pass-456", "temporary": "true"});
    let (s, b) = kc_reset(&sb, "r", &at(&form_grant), string_temporary).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "{b}"
    );
    assert_eq!(
        verify(&client(), &sb, &[("k1", "Kc-Pass-123")]).await,
        vec![true]
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        kc_reset(&sb, "r", &at(&form_grant), body).await.0,
        401,
        "expired"
    );
    let oauth: Value = client()
        .get(format!("{}/_sandbox/oauth", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&oauth["client_auth_form"], &oauth["client_auth_basic"]),
        (&json!(1), &json!(2)),
        "{oauth}"
    );
    assert!(oauth["expired_rejections"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn client_authentication_follows_rfc_6749() {
    let sb = start(Options::default()).await;
    let url = kc_token_url(&sb, "r");
    let id = OAuthOptions::default().client_id;
    let both = client()
        .post(&url)
        .basic_auth(&id, Some(sb.client_secret()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", sb.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer(both).await, (400, answer_error("invalid_request")));
    let wrong = client()
        .post(&url)
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"token\"");
    assert_eq!(answer(wrong).await.0, 401);
    let json_body = client()
        .post(&url)
        .json(&json!({"grant_type": "client_credentials", "client_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(json_body).await.0, 400, "Keycloak takes a form only");
    let (s, b) = token(&sb, &url, false, &[("grant_type", "password")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{b}"
    );
}

fn answer_error(error: &str) -> Value {
    json!({"error": error, "error_description": "the client must use one authentication method per request (RFC 6749 §2.3)"})
}

#[tokio::test]
async fn okta_and_auth0_token_endpoints_as_documented() {
    let sb = start(Options::default()).await;
    let okta_custom = format!("{}/oauth2/default/v1/token", sb.base_url());
    let (s, b) = token(&sb, &okta_custom, true, &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    let (s, b) = token(&sb, &okta_custom, true, &[("scope", "custom")]).await;
    assert_eq!((s, b["scope"].as_str()), (200, Some("custom")));
    let okta_org = format!("{}/oauth2/v1/token", sb.base_url());
    let (s, b) = token(&sb, &okta_org, false, &[("scope", "okta.users.manage")]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("private_key_jwt"));
    let auth0 = format!("{}/oauth/token", sb.base_url());
    let (s, b) = token(&sb, &auth0, false, &[]).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("access_denied")));
    let audience = format!("{}/api/v2/", sb.base_url());
    let (s, _) = token(&sb, &auth0, false, &[("audience", "https://other/api/v2/")]).await;
    assert_eq!(s, 403);
    let (s, _) = token(&sb, &auth0, true, &[("audience", &audience)]).await;
    assert_eq!(s, 200);
    let json_grant = client()
        .post(&auth0)
        .json(&json!({"grant_type": "client_credentials", "client_id": OAuthOptions::default().client_id,
                      "client_secret": sb.client_secret(), "audience": audience}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(json_grant).await.0, 200, "Auth0 also takes JSON");
}

#[tokio::test]
async fn a_custom_token_path_serves_the_generic_grant() {
    let path = "/auth/realms/r/protocol/openid-connect/token";
    let sb = start(Options {
        oauth: OAuthOptions {
            token_path: Some(path.into()),
            ..OAuthOptions::default()
        },
        ..Options::default()
    })
    .await;
    let (s, b) = token(&sb, &format!("{}{path}", sb.base_url()), true, &[]).await;
    assert_eq!(s, 200, "{b}");
    let bad = Sandbox::start(Options {
        oauth: OAuthOptions {
            token_path: Some("/_sandbox/stats".into()),
            ..OAuthOptions::default()
        },
        ..Options::default()
    })
    .await;
    assert!(bad.is_err());
}
