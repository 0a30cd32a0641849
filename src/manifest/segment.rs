//! Path safety of manifest values: `user`, `method` and `provider` become URL path segments
//! (Graph's `users/{id}/authentication/methods/{methodId}`, the http provider's `{user}`,
//! `{method}`, `{provider}` placeholders), so a value that a URL reads as something other than
//! one opaque segment is refused before anything is sent.
//!
//! Invariants:
//! - `.` and `..` are refused: URL libraries drop or resolve them as dot segments, so
//!   `users/../authentication` turns into `authentication` (another endpoint, possibly "create
//!   user"). Percent-encoding does not help, since `.` is an unreserved character.
//! - Control characters (Unicode category Cc: NUL, tab, newline, DEL, C1) are refused: no identity
//!   provider id holds one, and they would corrupt logs and reports.
//! - A value longer than [`MAX_CHARS`] characters is refused: no provider's id is that long, and
//!   the URL would exceed what servers accept.
//! - Emptiness is the caller's business: an absent `method` is fine for providers that do not put
//!   it in the path.
//! - Messages quote no part of the value (it could be anything); they name the offending
//!   character by code point and position.

/// Longest value accepted, in characters (Entra UPNs stop at 113, LDAP DNs rarely pass 500).
pub(crate) const MAX_CHARS: usize = 1024;

/// Why `value` cannot be a URL path segment, as (message, hint); `None` when it can.
pub(crate) fn unsafe_segment(value: &str) -> Option<(String, String)> {
    if value == "." || value == ".." {
        return Some((
            format!("is `{value}`, which a URL reads as a relative path, not an id"),
            "write the real id; `.` and `..` would send the request to another endpoint".into(),
        ));
    }
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Some((
            format!(
                "contains the control character U+{:04X} at character {}",
                u32::from(c),
                i + 1
            ),
            "remove it; ids never contain tabs, line breaks or other control characters".into(),
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_CHARS {
        return Some((
            format!("is {chars} characters long, more than the {MAX_CHARS} allowed"),
            "check the column: this is not an id (a shifted column or a pasted file?)".into(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused() {
        for v in [".", ".."] {
            let (message, _) = unsafe_segment(v).expect(v);
            assert!(message.contains(&format!("`{v}`")), "{message}");
        }
        for ok in [
            "...",
            ".a",
            "a.",
            "a..b",
            "./x",
            "%2e%2e",
            "alice@example.com",
        ] {
            assert_eq!(unsafe_segment(ok), None, "{ok}");
        }
    }

    #[test]
    fn control_characters_are_named_by_code_point() {
        let (message, _) = unsafe_segment("ali\u{0}ce").expect("nul");
        assert_eq!(
            message,
            "contains the control character U+0000 at character 4"
        );
        for v in ["a\tb", "a\nb", "a\rb", "\u{7f}", "x\u{85}", "é\u{1b}[31m"] {
            assert!(unsafe_segment(v).is_some(), "{v:?}");
        }
        let (message, _) = unsafe_segment("é\u{1b}").expect("esc");
        assert!(message.ends_with("U+001B at character 2"), "{message}");
    }

    #[test]
    fn values_quote_nothing_of_themselves() {
        let secretish = "Hunter2-Secret\u{7}";
        let (message, hint) = unsafe_segment(secretish).expect("bell");
        assert!(!message.contains("Hunter2") && !hint.contains("Hunter2"));
    }

    #[test]
    fn overlong_values_are_refused() {
        assert_eq!(unsafe_segment(&"a".repeat(MAX_CHARS)), None);
        let (message, _) = unsafe_segment(&"é".repeat(MAX_CHARS + 1)).expect("long");
        assert!(message.starts_with("is 1025 characters long"), "{message}");
    }
}
