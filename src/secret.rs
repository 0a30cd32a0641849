//! Secret values (passwords, tokens, client secrets, API keys).
//!
//! Every secret is a [`SecretString`]: it has no `Display`, its `Debug` prints `[REDACTED]`, and its
//! memory is zeroized on drop. Every place that reads the value goes through
//! [`ExposeSecret::expose_secret`], so `grep expose_secret` lists every exposure.

pub use secrecy::{ExposeSecret, SecretString};

/// Wraps an owned string as a secret, consuming it so no plain copy stays behind.
pub fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

/// Replaces every occurrence of any of `secrets` in `text` with `[REDACTED]`.
///
/// Used on provider error messages before they reach a report or log: a server that echoes the
/// rejected password back must not put it into our outputs.
pub fn redact(text: &str, secrets: &[&SecretString]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let value = s.expose_secret();
        if !value.is_empty() && out.contains(value) {
            out = out.replace(value, "[REDACTED]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_value() {
        let s = secret("hunter2-very-secret".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = secret("Pa$$w0rd".into());
        let msg = "password Pa$$w0rd rejected; Pa$$w0rd is too common";
        assert_eq!(
            redact(msg, &[&s]),
            "password [REDACTED] rejected; [REDACTED] is too common"
        );
    }
}
