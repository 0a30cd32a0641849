//! Checks of `[providers.NAME.http]`, the generic HTTP provider's table, at load time: a mistake
//! in a template is a config error (exit 2), never a failed row.
//!
//! Invariants: the password only ever goes into the JSON body (never the path, where it would be
//! logged by proxies, nor headers); headers carry no credentials (those come from `[auth]`, i.e.
//! files or the environment); `password_pointer` and `generate = "server"` go together.

use anyhow::{bail, Result};

use super::HttpSection;
use crate::provider::kind::HttpMethod;
use crate::provider::template::{BodyTemplate, Template};

/// Validates the table; `server` says whether the server is to generate passwords.
pub(super) fn check(h: &HttpSection, server: bool) -> Result<()> {
    HttpMethod::read(h.method.as_deref(), "http.method")?;
    let path = Template::parse(&h.path).map_err(|e| anyhow::anyhow!("http.path: {e}"))?;
    if path.vars().any(|v| v == "password") {
        bail!("http.path must not contain {{password}}: URLs end up in logs (hint: put it in http.body)");
    }
    let body_vars = match &h.body {
        Some(text) => BodyTemplate::parse(text)
            .map_err(|e| anyhow::anyhow!("http.body: {e}"))?
            .vars(),
        None => Vec::new(),
    };
    let sends_password = body_vars.contains(&"password");
    match (server, sends_password, &h.password_pointer) {
        (false, false, _) => bail!("http.body must contain \"{{password}}\" (or set generate = \"server\" with http.password_pointer)"),
        (false, true, Some(_)) => bail!("http.password_pointer needs generate = \"server\" for this provider"),
        (true, true, _) => bail!("http.body contains {{password}} but the server generates passwords (generate = \"server\")"),
        (true, false, None) => bail!("generate = \"server\" needs http.password_pointer, the JSON pointer to the password in the response (e.g. \"/password\")"),
        _ => {}
    }
    if let Some(p) = &h.password_pointer {
        if !p.starts_with('/') {
            bail!("http.password_pointer {p:?} is not a JSON pointer (it starts with `/`, e.g. \"/password\")");
        }
    }
    check_headers(h)?;
    if let Some(statuses) = &h.success_statuses {
        if statuses.is_empty() || statuses.iter().any(|s| !(200..300).contains(s)) {
            bail!("http.success_statuses must list 2xx statuses, e.g. [200, 204]");
        }
    }
    Ok(())
}

fn check_headers(h: &HttpSection) -> Result<()> {
    for (name, value) in &h.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "authorization" | "proxy-authorization" | "cookie"
        ) || lower.contains("api-key")
            || lower.contains("token")
        {
            bail!("http.headers.{name}: credentials do not belong in the config file (hint: use an [providers.NAME.auth] table, which reads them from a file or the environment)");
        }
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(value).is_err()
        {
            bail!("http.headers.{name}: not a valid HTTP header");
        }
    }
    Ok(())
}
