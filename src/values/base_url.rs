//! The rule for provider and token-endpoint base URLs: https, or plain http only on a loopback
//! host (the sandbox).
//!
//! Invariants: no URL that fails here is ever sent a credential or a password.

use anyhow::{bail, Context, Result};

/// Accepts https URLs, and http only for loopback hosts (the sandbox).
pub fn check_base_url(text: &str) -> Result<reqwest::Url> {
    let url =
        reqwest::Url::parse(text).with_context(|| format!("base_url {text:?} is not a URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => bail!(
            "base_url {text}: plain http is only allowed for loopback hosts (hint: use https://)"
        ),
        other => bail!("base_url {text}: unsupported scheme {other:?} (hint: use https://)"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert!(check_base_url("https://graph.microsoft.com/v1.0").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/v1.0").is_ok());
        assert!(check_base_url("http://[::1]:8080/").is_ok());
        assert!(check_base_url("http://localhost:1/").is_ok());
        assert!(check_base_url("http://graph.microsoft.com/v1.0").is_err());
        assert!(check_base_url("ftp://127.0.0.1/").is_err());
    }
}
