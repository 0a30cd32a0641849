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

/// Longest provider message kept in a report, journal or log line.
pub const MESSAGE_MAX: usize = 500;

/// Redacts, then truncates: a password echoed across the cut is whole when it is redacted, so
/// no part of it survives the cut.
pub fn redact_and_truncate(text: &str, secrets: &[&SecretString]) -> String {
    truncate(redact(text, secrets), MESSAGE_MAX)
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
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

    #[test]
    fn a_password_across_the_cut_is_redacted_whole() {
        let s = secret("CorrectHorseBatteryStaple".into());
        let msg = format!("{}{}", "x".repeat(MESSAGE_MAX - 10), s.expose_secret());
        let out = redact_and_truncate(&msg, &[&s]);
        assert!(!out.contains("CorrectHo"), "{out}");
        assert!(out.len() <= MESSAGE_MAX + '…'.len_utf8());
    }
}
