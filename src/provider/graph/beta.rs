//! Microsoft Graph beta, software OATH method:
//! `POST {base}/users/{id}/authentication/softwareOathMethods/{methodId}/resetPassword`.
//!
//! Body `{"newPassword", "requireChangeOnNextSignIn"}` (`newPassword` left out when the server
//! generates it). The page documents only `200 OK` with a `passwordResetResponse` (a generated
//! stub), so the answer is handled exactly like v1.0's: 202 + `Location` is polled, 200/204 are
//! success, a server-generated password is read from `newPassword` or `value.newPassword`.
//!
//! Invariants: the method id is the user's software OATH method id, which has no default: a row
//! without one fails before any request; `requireChangeOnNextSignIn` is the row's
//! `require_change`, else the provider's `require_change` setting.

use serde_json::{Map, Value};

use super::address::{traced, user_url, with_client_request_id};
use super::client::Graph;
use crate::manifest::Target;
use crate::provider::http_util::{not_sent, secret_json};
use crate::provider::Attempt;
use crate::secret::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct GraphBeta {
    graph: Graph,
    require_change: bool,
}

impl GraphBeta {
    pub fn new(graph: Graph, require_change: bool) -> GraphBeta {
        GraphBeta {
            graph,
            require_change,
        }
    }

    pub fn server_generates(&self) -> bool {
        self.graph.server_generates()
    }

    pub(super) fn graph(&self) -> &Graph {
        &self.graph
    }

    /// One reset attempt (polling a 202's operation to its end).
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        if target.method.is_empty() {
            return not_sent(
                "no_method",
                "softwareOathMethods needs the user's software OATH method id: put it in the manifest's `method` column (or set `method` in the provider's config)".into(),
            );
        }
        let url = user_url(
            self.graph.base(),
            &target.user,
            &[
                "authentication",
                "softwareOathMethods",
                &target.method,
                "resetPassword",
            ],
        );
        let mut body = Map::new();
        if let Some(p) = password {
            body.insert("newPassword".into(), p.expose_secret().into());
        }
        let require = target.require_change.unwrap_or(self.require_change);
        body.insert("requireChangeOnNextSignIn".into(), Value::Bool(require));
        let (request, id) = traced(secret_json(
            self.graph.client().post(url),
            Value::Object(body),
        ));
        with_client_request_id(self.graph.submit(request).await, id)
    }
}
