//! The secret path template (`path = "credrotate/{provider}/{user}"`) and how a row fills it.
//!
//! Invariants: a template is checked once, when the config is loaded: its fixed parts are
//! path segments of safe characters (no empty, `.` or `..` segment), it names `{user}` (else
//! every row would overwrite one secret), and it knows only `{provider}`, `{user}` and
//! `{method}`. A placeholder's value is escaped for one path segment: every byte outside
//! RFC 3986's unreserved characters and `@` becomes `%XX` in the secret's name, so a user can
//! never add, remove or climb segments; the URL then encodes that name once more.

use std::fmt::Write;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A checked template, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PathTemplate(String);

/// The values a row fills in.
pub struct PathValues<'a> {
    pub provider: &'a str,
    pub user: &'a str,
    pub method: &'a str,
}

const PLACEHOLDERS: [&str; 3] = ["provider", "user", "method"];

impl PathTemplate {
    pub fn parse(text: &str) -> Result<PathTemplate> {
        let trimmed = text.trim_matches('/');
        if !trimmed.contains("{user}") {
            bail!("{text:?} does not name {{user}}, so every row would overwrite one secret (hint: e.g. \"credrotate/{{provider}}/{{user}}\")");
        }
        for segment in trimmed.split('/') {
            check_segment(text, segment)?;
        }
        Ok(PathTemplate(trimmed.to_owned()))
    }

    /// The secret's name for a row (below the mount, segments joined by `/`).
    pub fn render(&self, v: &PathValues<'_>) -> String {
        self.0
            .replace("{provider}", &escape(v.provider))
            .replace("{user}", &escape(v.user))
            .replace("{method}", &escape(v.method))
    }
}

fn check_segment(text: &str, segment: &str) -> Result<()> {
    if segment.is_empty() || segment == "." || segment == ".." {
        bail!("{text:?} has an empty, `.` or `..` segment (hint: e.g. \"credrotate/{{provider}}/{{user}}\")");
    }
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        check_fixed(text, &rest[..open])?;
        let Some(close) = rest[open..].find('}') else {
            bail!("{text:?}: an unclosed `{{`");
        };
        let name = &rest[open + 1..open + close];
        if !PLACEHOLDERS.contains(&name) {
            bail!("{text:?}: unknown placeholder {{{name}}} (known: {{provider}}, {{user}}, {{method}})");
        }
        rest = &rest[open + close + 1..];
    }
    check_fixed(text, rest)
}

fn check_fixed(text: &str, fixed: &str) -> Result<()> {
    if let Some(c) = fixed.chars().find(|c| !safe(*c)) {
        bail!("{text:?}: the character {c:?} is not allowed in a path (letters, digits, '-', '_', '.', '~', '@')");
    }
    Ok(())
}

fn safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~@".contains(c)
}

/// Escapes a value for one path segment (see the module docs). `.` and `..` as whole values
/// cannot occur (the manifest refuses them), but are escaped anyway.
pub fn escape(value: &str) -> String {
    if value == "." || value == ".." {
        return value.replace('.', "%2E");
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b if safe(b as char) => out.push(b as char),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

impl TryFrom<String> for PathTemplate {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        PathTemplate::parse(&s)
    }
}

impl From<PathTemplate> for String {
    fn from(t: PathTemplate) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, user: &str) -> String {
        let v = PathValues {
            provider: "graph",
            user,
            method: "m",
        };
        PathTemplate::parse(t).unwrap().render(&v)
    }

    #[test]
    fn users_stay_one_segment() {
        let t = "credrotate/{provider}/{user}";
        assert_eq!(render(t, "a@example.com"), "credrotate/graph/a@example.com");
        assert_eq!(render(t, "a/../b"), "credrotate/graph/a%2F..%2Fb");
        assert_eq!(render(t, ".."), "credrotate/graph/%2E%2E");
        assert_eq!(
            render(t, "cn=x, ou=é"),
            "credrotate/graph/cn%3Dx%2C%20ou%3D%C3%A9"
        );
        assert_eq!(render("/x/{user}-pw/", "u"), "x/u-pw");
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "credrotate/{provider}",
            "a//{user}",
            "../{user}",
            "{usr}/{user}",
            "a b/{user}",
            "x/{user",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
