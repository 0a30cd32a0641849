//! Property tests ("fuzzing" without a nightly toolchain) of every provider's response parsing:
//! the real clients against a stand-in server that answers whatever proptest generates: any
//! status, odd headers, and bodies from garbage to near-valid JSON. No answer may panic a client,
//! and the ambiguity rule must hold: a refusal or redirect is `NotApplied`, a 5xx may have
//! applied the password, and nothing but a documented success status is `Succeeded`.
//!
//! Cases per property: `PROPTEST_CASES` (default 64 here, so CI stays quick); a long run is
//! `PROPTEST_CASES=1000000 cargo test --release --lib fuzz_tests`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;
use reqwest::Url;

use super::verdict::NOT_APPLIED_STATUSES;
use super::{graph, http, pingone, wristband, Applied, Attempt};
use crate::auth::Credential;
use crate::manifest::{Inputs, Location, Target};
use crate::secret::{secret, SecretString};

/// One scripted answer.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

type Script = Arc<Mutex<VecDeque<Answer>>>;

fn render(answer: Option<Answer>) -> Response {
    let Some(a) = answer else {
        return StatusCode::GONE.into_response();
    };
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, a.body).into_response();
    for (name, value) in a.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    resp
}

/// A loopback server that pops one scripted answer per request, whatever the path.
async fn stand_in(script: Script) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        let script = script.clone();
        async move { render(script.lock().unwrap().pop_front()) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}/v1.0")).unwrap()
}

fn target() -> Target {
    Target {
        row: 1,
        location: Location {
            file: Arc::new("fuzz.csv".into()),
            line: 2,
            column: None,
        },
        user: "alice@example.test".into(),
        provider: "p".into(),
        method: "28c10230-6103-485e-b985-444c60001490".into(),
        require_change: None,
        inputs: Inputs {
            old_password: Some(secret("old-Secret-1".into())),
            email_auth_code: Some(secret("code-1".into())),
            ..Inputs::default()
        },
        new_password: None,
    }
}

fn client() -> crate::provider::http_util::Client {
    crate::provider::http_util::Client::plain(Duration::from_secs(5))
}

fn header() -> impl Strategy<Value = (&'static str, String)> {
    let names = prop::sample::select(vec![
        "location",
        "retry-after",
        "content-type",
        "request-id",
        "x-ms-throttle-scope",
    ]);
    let values = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[ -~]{0,40}",
        Just("/v1.0/users/alice/authentication/operations/op1".to_owned()),
        Just("http://127.0.0.1:9/elsewhere".to_owned()),
        Just("Wed, 21 Oct 2099 07:28:00 GMT".to_owned()),
    ];
    (names, values)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let json_ish = prop_oneof![
        Just(r#"{}"#.to_owned()),
        "[a-zA-Z]{0,12}".prop_map(|s| format!(r#"{{"status":"{s}"}}"#)),
        "[ -~]{0,30}".prop_map(|s| format!(r#"{{"newPassword":"{s}"}}"#)),
        "[ -~]{0,30}".prop_map(|s| format!(r#"{{"value":{{"newPassword":{s}}}}}"#)),
        "[ -~]{0,30}".prop_map(|s| format!(r#"{{"result":"{s}"}}"#)),
        ("[ -~]{0,20}", "[ -~]{0,80}")
            .prop_map(|(c, m)| format!(r#"{{"error":{{"code":"{c}","message":"{m}"}}}}"#)),
        Just(r#"{"status":"succeeded"}"#.to_owned()),
        Just(r#"{"status":"failed","statusDetail":5}"#.to_owned()),
        Just(r#"{"status":"unknownFutureValue"}"#.to_owned()),
    ];
    prop_oneof![
        json_ish.prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    let status = prop_oneof![
        prop::sample::select(vec![
            200u16, 202, 204, 301, 307, 308, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504
        ]),
        // Not 1xx: the stand-in (hyper) cannot send an interim status as a final answer.
        200u16..600,
    ];
    (status, prop::collection::vec(header(), 0..4), body()).prop_map(|(status, headers, body)| {
        Answer {
            status,
            headers,
            body,
        }
    })
}

/// The ambiguity rule, checked on the first answer of an attempt.
fn check(first: &Answer, attempt: &Attempt, success_statuses: &[u16]) -> Result<(), TestCaseError> {
    let s = first.status;
    if (300..400).contains(&s) || NOT_APPLIED_STATUSES.contains(&s) {
        prop_assert!(
            matches!(
                attempt,
                Attempt::NotApplied(_)
                    | Attempt::Transient {
                        applied: Applied::No,
                        ..
                    }
            ),
            "{s} must be not applied: {attempt:?}"
        );
    }
    if [500, 502, 503, 504].contains(&s) {
        prop_assert!(
            attempt.may_be_applied(),
            "{s} may have applied: {attempt:?}"
        );
    }
    if let Attempt::Succeeded(_) = attempt {
        prop_assert!(
            success_statuses.contains(&s),
            "{s} taken for success: {attempt:?}"
        );
    }
    Ok(())
}

fn run_case(
    rt: &tokio::runtime::Runtime,
    script: &Script,
    answers: Vec<Answer>,
    reset: impl std::future::Future<Output = Attempt>,
) -> Attempt {
    *script.lock().unwrap() = answers.into();
    rt.block_on(reset)
}

struct Bench {
    rt: tokio::runtime::Runtime,
    script: Script,
    base: Url,
    password: SecretString,
}

fn bench() -> Bench {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let script: Script = Arc::default();
    let base = rt.block_on(stand_in(script.clone()));
    Bench {
        rt,
        script,
        base,
        password: secret("New-Password-123".into()),
    }
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
    )
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn graph_parses_any_answer(answers in prop::collection::vec(answer(), 1..5), server in any::<bool>()) {
        thread_local!(static B: Bench = bench());
        B.with(|b| {
            let polling = graph::Polling {
                interval: Duration::from_millis(1),
                max_interval: Duration::from_millis(2),
                timeout: Duration::from_millis(50),
            };
            let g = graph::Graph::new(client(), b.base.clone(), Credential::from_bearer(secret("t".into())), server, polling);
            let t = target();
            let pw = (!server).then_some(&b.password);
            let first = answers[0].clone();
            let attempt = run_case(&b.rt, &b.script, answers, g.reset(&t, pw));
            check(&first, &attempt, &[200, 202, 204])
        })?;
    }

    #[test]
    fn pingone_wristband_and_http_parse_any_answer(answer in answer()) {
        thread_local!(static B: Bench = bench());
        B.with(|b| {
            let bearer = || Credential::from_bearer(secret("t".into()));
            let t = target();
            let p = pingone::PingOne::new(client(), &b.base, reqwest::Method::POST, bearer());
            let a = run_case(&b.rt, &b.script, vec![answer.clone()], p.reset(&t, Some(&b.password)));
            check(&answer, &a, &(200..300).collect::<Vec<_>>())?;
            let options = crate::provider::wristband::WristbandOptions {
                password_field: "newPassword".into(),
                suppress_email_field: "suppressEmail".into(),
                suppress_email: true,
                success_results: vec!["SUCCESS".into()],
            };
            let w = wristband::Wristband::new(client(), &b.base, bearer(), options);
            let a = run_case(&b.rt, &b.script, vec![answer.clone()], w.reset(&t, Some(&b.password)));
            check(&answer, &a, &(200..300).collect::<Vec<_>>())?;
            let section = crate::provider::http::HttpSection {
                method: Some("PUT".into()),
                path: "/users/{user}/password".into(),
                body: Some(r#"{"value":"{password}"}"#.into()),
                headers: Default::default(),
                success_statuses: Some(vec![204]),
                password_pointer: None,
            };
            let h = http::Http::new(client(), &b.base, bearer(), &section, false).unwrap();
            let a = run_case(&b.rt, &b.script, vec![answer.clone()], h.reset(&t, Some(&b.password)));
            check(&answer, &a, &[204])
        })?;
    }
}
