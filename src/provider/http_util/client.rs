//! The HTTP providers' client: requests are built with reqwest's builder (URL, headers, JSON
//! body, credential) and sent by hyper's pooled client directly, under the same rules as the
//! reqwest client they are built with ([`crate::provider::build`]).
//!
//! Why not reqwest's `send`: its per-request layers (redirect and retry bookkeeping, two more
//! parses of the URL, a clone of the whole client per request) took a fifth of a large run's
//! CPU, for a redirect policy that must never act anyway.
//!
//! Invariants, the same as reqwest's client of the run:
//! - a redirect is never followed (hyper's client does not follow redirects);
//! - an `https` base URL is reached only over TLS (the connector refuses plain HTTP);
//! - the run's `--timeout` bounds the whole exchange, the answer's head and its body alike; the
//!   connection attempt gets at most 10 s of it;
//! - trust is [`Tls::rustls_config`]: the bundled Mozilla roots, the system's and `--ca-file`'s;
//!   HTTP/2 when the server offers it over TLS, HTTP/1.1 otherwise;
//! - at most `concurrency` idle connections per host are kept, each for up to 90 s;
//! - `User-Agent: credrotate/VERSION` and `Accept: */*` unless the request sets its own.
//!
//! When the environment names a proxy (`HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY`, either case),
//! requests go through reqwest's own `send`, which honours it as it always did.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{HeaderValue, ACCEPT, USER_AGENT};
use reqwest::{IntoUrl, Method, RequestBuilder, Response};
use tokio::time::{Instant, Sleep};

use super::{chain, failure_from_error};
use super::{verdict, Attempt, Failure};
use crate::auth::Tls;

/// Builds requests, and sends them (see the module documentation).
#[derive(Clone)]
pub struct Client {
    build: reqwest::Client,
    wire: Wire,
}

#[derive(Clone)]
enum Wire {
    Direct(Arc<Direct>),
    /// A proxy is configured in the environment: reqwest's `send` honours it.
    Reqwest,
}

type Hyper = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, reqwest::Body>;

struct Direct {
    hyper: Hyper,
    timeout: Duration,
    user_agent: HeaderValue,
}

/// What the run sets for every HTTP provider's client.
pub struct Options<'a> {
    pub https_only: bool,
    pub timeout: Duration,
    pub idle_per_host: usize,
    pub tls: &'a Tls,
}

const USER_AGENT_TEXT: &str = concat!("credrotate/", env!("CARGO_PKG_VERSION"));
/// How long an idle connection is kept (reqwest's default).
const IDLE: Duration = Duration::from_secs(90);

impl Client {
    pub fn new(options: &Options<'_>) -> Result<Client> {
        // Never follow a redirect: the body holds a password, and a 307/308 would carry it to
        // whatever host the Location names (docs/DESIGN.md §5). A 3xx is reported as not applied.
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(options.https_only)
            .timeout(options.timeout)
            .connect_timeout(connect_timeout(options.timeout))
            .pool_max_idle_per_host(options.idle_per_host)
            .user_agent(USER_AGENT_TEXT);
        if proxy_in_environment() {
            return Ok(Client {
                build: options.tls.apply(builder).build()?,
                wire: Wire::Reqwest,
            });
        }
        // This reqwest client only builds requests, so it needs no trust of its own: loading
        // the system's roots twice would only slow the start.
        Ok(Client {
            build: builder.tls_built_in_root_certs(false).build()?,
            wire: Wire::Direct(Arc::new(Direct::new(options)?)),
        })
    }

    /// A client for unit tests: plain HTTP allowed, system trust only, `timeout`.
    #[cfg(test)]
    pub(crate) fn plain(timeout: Duration) -> Client {
        Client::new(&Options {
            https_only: false,
            timeout,
            idle_per_host: 8,
            tls: &Tls::default(),
        })
        .expect("a plain HTTP client builds")
    }

    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.build.get(url)
    }

    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.build.post(url)
    }

    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.build.patch(url)
    }

    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        self.build.request(method, url)
    }

    /// Sends a request built by this client; an error is already classified.
    pub(super) async fn execute(&self, request: RequestBuilder) -> Result<Response, Attempt> {
        match &self.wire {
            Wire::Reqwest => request.send().await.map_err(failure_from_error),
            Wire::Direct(direct) => {
                let request = request.build().map_err(failure_from_error)?;
                direct.send(request).await
            }
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let wire = match self.wire {
            Wire::Direct(_) => "direct",
            Wire::Reqwest => "reqwest (proxy)",
        };
        f.debug_struct("Client").field("wire", &wire).finish()
    }
}

impl Direct {
    fn new(options: &Options<'_>) -> Result<Direct> {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout(options.timeout)));
        let tls = HttpsConnectorBuilder::new().with_tls_config(options.tls.rustls_config()?);
        let tls = if options.https_only {
            tls.https_only()
        } else {
            tls.https_or_http()
        };
        let connector = tls.enable_all_versions().wrap_connector(tcp);
        let hyper = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(options.idle_per_host)
            .pool_idle_timeout(IDLE)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Direct {
            hyper,
            timeout: options.timeout,
            user_agent: HeaderValue::from_static(USER_AGENT_TEXT),
        })
    }

    async fn send(&self, request: reqwest::Request) -> Result<Response, Attempt> {
        let deadline = Instant::now() + self.timeout;
        let mut request = http::Request::try_from(request).map_err(failure_from_error)?;
        let headers = request.headers_mut();
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        headers
            .entry(ACCEPT)
            .or_insert_with(|| HeaderValue::from_static("*/*"));
        match tokio::time::timeout_at(deadline, self.hyper.request(request)).await {
            Ok(Ok(response)) => {
                Ok(Response::from(response.map(|body| {
                    reqwest::Body::wrap(Deadline::new(body, deadline))
                })))
            }
            Ok(Err(e)) => Err(failure(&e)),
            Err(_) => Err(timed_out(self.timeout)),
        }
    }
}

/// The connection attempt's share of the run's timeout.
fn connect_timeout(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(10))
}

/// Does the environment name a proxy reqwest would use? (It reads these, either case; `NO_PROXY`
/// only narrows them, so reqwest's own sending is right whenever one is set.)
fn proxy_in_environment() -> bool {
    proxy_named(|name| std::env::var_os(name))
}

fn proxy_named(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .iter()
        .any(|name| {
            [name.to_string(), name.to_lowercase()]
                .iter()
                .any(|n| var(n).is_some_and(|v| !v.is_empty()))
        })
}

/// Classifies hyper's error: only a connection never made proves nothing reached the provider.
fn failure(err: &hyper_util::client::legacy::Error) -> Attempt {
    let connect = err.is_connect();
    Attempt::Transient {
        retry_after: None,
        failure: Failure {
            code: if connect { "connect" } else { "transport" }.into(),
            message: chain(err),
            ..Failure::default()
        },
        applied: verdict::for_transport(connect),
    }
}

fn timed_out(timeout: Duration) -> Attempt {
    Attempt::Transient {
        retry_after: None,
        failure: Failure {
            code: "timeout".into(),
            message: format!(
                "no answer within the timeout of {} s (--timeout)",
                timeout.as_secs_f64()
            ),
            ..Failure::default()
        },
        applied: verdict::for_transport(false),
    }
}

/// An answer's body that fails once the exchange's deadline has passed, as reqwest's does.
struct Deadline {
    body: hyper::body::Incoming,
    deadline: Instant,
    /// Armed on the first read that has to wait: most answers are read at once or are empty.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    fn new(body: hyper::body::Incoming, deadline: Instant) -> Deadline {
        Deadline {
            body,
            deadline,
            sleep: None,
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(
                "the answer's body did not arrive within the timeout (--timeout)".into(),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Applied;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that reads one request, hands its text back through the channel, and answers
    /// `answer` (then keeps the connection open, silent).
    async fn server(answer: &'static str) -> (String, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/users/u1", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            socket.write_all(answer.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_request_carries_the_runs_headers_and_its_own() {
        let (url, seen) = server("HTTP/1.1 204 No Content\r\n\r\n").await;
        let c = Client::plain(Duration::from_secs(5));
        let request = c.post(&url).header("authorization", "Bearer t").body("{}");
        let response = c.execute(request).await.unwrap();
        assert_eq!(response.status(), 204);
        let seen = seen.await.unwrap().to_ascii_lowercase();
        assert!(seen.starts_with("post /users/u1 http/1.1\r\n"), "{seen}");
        for header in [
            "host: 127.0.0.1:",
            "user-agent: credrotate/",
            "accept: */*",
            "authorization: bearer t",
            "content-length: 2",
        ] {
            assert!(seen.contains(header), "no {header} in {seen}");
        }
    }

    /// POSTs `{}` to `url`: the transient failure's code and whether it may have applied.
    async fn transient(url: &str, timeout: Duration) -> (String, Applied) {
        let c = Client::plain(timeout);
        let a = c.execute(c.post(url).body("{}")).await.unwrap_err();
        let Attempt::Transient {
            failure, applied, ..
        } = a
        else {
            panic!("expected transient: {a:?}")
        };
        (failure.code, applied)
    }

    #[tokio::test]
    async fn no_answer_within_the_timeout_may_have_applied() {
        let (url, _seen) = server("").await;
        let (code, applied) = transient(&url, Duration::from_millis(300)).await;
        assert_eq!((code.as_str(), applied), ("timeout", Applied::Maybe));
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_fails_at_the_deadline() {
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\"";
        let (url, _seen) = server(answer).await;
        let c = Client::plain(Duration::from_millis(300));
        let started = Instant::now();
        let response = c.execute(c.post(&url).body("{}")).await.unwrap();
        let a = super::super::read_json(response).await.unwrap_err();
        assert!(matches!(a, Attempt::Uncertain { .. }), "{a:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_refused_connection_sent_nothing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let (code, applied) = transient(&url, Duration::from_secs(5)).await;
        assert_eq!((code.as_str(), applied), ("connect", Applied::No));
    }

    #[tokio::test]
    async fn an_https_client_refuses_plain_http() {
        let (url, _seen) = server("HTTP/1.1 204 No Content\r\n\r\n").await;
        let c = Client::new(&Options {
            https_only: true,
            timeout: Duration::from_secs(5),
            idle_per_host: 1,
            tls: &Tls::default(),
        })
        .unwrap();
        let a = c.execute(c.post(&url).body("{}")).await.unwrap_err();
        assert!(
            matches!(
                &a,
                Attempt::NotApplied(_)
                    | Attempt::Transient {
                        applied: Applied::No,
                        ..
                    }
            ),
            "nothing is sent over plain HTTP: {a:?}"
        );
    }

    #[test]
    fn a_proxy_in_the_environment_is_found_in_either_case() {
        let only =
            |set: &'static str| move |n: &str| (n == set).then(|| "http://proxy:3128".into());
        assert!(proxy_named(only("HTTPS_PROXY")));
        assert!(proxy_named(only("all_proxy")));
        assert!(proxy_named(only("http_proxy")));
        assert!(!proxy_named(only("NO_PROXY")));
        assert!(!proxy_named(|_| Some("".into())));
    }
}
