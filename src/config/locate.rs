//! Where in the config file an error is, so that every config error starts with
//! `file:line:column`: TOML syntax and type errors carry the parser's span; the checks that run
//! after parsing name a table (`[providers.NAME]`, `[password]`) and a key, found here by their
//! spans in the text.
//!
//! Invariants: locating never fails an error path: when the table or key cannot be found (a
//! default the file does not spell out), the error points at the table, else at line 1. Messages
//! quote at most one line of the file, cut short: config files hold no secrets (those come from
//! files or the environment), but a garbage file could hold anything.

use std::ops::Range;
use std::path::Path;

use anyhow::anyhow;

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = 1 + before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, 1 + before[start..].chars().count())
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A TOML parse or type error as `file:line:column: message (in `the line`)`.
pub(super) fn parse_error(path: &Path, text: &str, err: &toml::de::Error) -> anyhow::Error {
    let Some(span) = err.span() else {
        return anyhow!("{}: {}", path.display(), err.message().trim_end());
    };
    let (line, col) = line_col(text, span.start);
    let source = text.lines().nth(line - 1).unwrap_or_default().trim();
    let shown: String = source
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    let context = if shown.is_empty() {
        String::new()
    } else {
        format!(" (in `{shown}`)")
    };
    let message = err.message().trim_end().replace('\n', "; ");
    anyhow!("{}:{line}:{col}: {message}{context}", path.display())
}

/// `file:line:column` of what a post-parse check error (`err`) is about.
pub(super) fn position(path: &Path, text: &str, err: &anyhow::Error) -> String {
    let (line, col) = span_of(text, err).map_or((1, 1), |s| line_col(text, s.start));
    format!("{}:{line}:{col}", path.display())
}

/// The span of the key (or else the table) the error names.
fn span_of(text: &str, err: &anyhow::Error) -> Option<Range<usize>> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let messages: Vec<String> = err.chain().map(ToString::to_string).collect();
    let at = messages.iter().position(|m| m.starts_with('['))?;
    let table = table_path(&messages[at])?;
    let mut item = doc.as_table().get(table[0])?;
    for part in &table[1..] {
        item = item.get(*part)?;
    }
    let message = messages.get(at + 1).map_or("", String::as_str);
    // Checks start with the key (`rate: ...`), now and then after a word (`password length 8`).
    let mut keys = message.split_whitespace().take(3).map(leading_key);
    // A value of the wrong type or choice: point at the value, as the parser does.
    let at_value = ["invalid type", "unknown variant", "invalid value"]
        .iter()
        .any(|m| message.contains(m));
    keys.find_map(|key| match at_value {
        true => value_span(item, key).or_else(|| key_span(item, key)),
        false => key_span(item, key),
    })
    .or_else(|| item.span())
}

/// `[providers.NAME]...` -> ["providers", NAME]; `[password]...` -> ["password"].
fn table_path(context: &str) -> Option<Vec<&str>> {
    let inner = &context[1..context.find(']')?];
    Some(match inner.strip_prefix("providers.") {
        Some(name) => vec!["providers", name],
        None => vec![inner],
    })
}

/// The key a check's message starts with: `rate: ...`, `http.path: ...`, `method is ...`, or
/// names in backquotes after a word (`unknown field `rat`, ...`).
fn leading_key(message: &str) -> &str {
    let message = message.trim_start_matches('`');
    let end = message
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(message.len());
    &message[..end]
}

/// The span of dotted `key` below `item`, or of its longest prefix that exists.
fn key_span(item: &toml_edit::Item, key: &str) -> Option<Range<usize>> {
    let parts: Vec<&str> = key.split('.').filter(|p| !p.is_empty()).collect();
    let mut best = None;
    let mut here = item;
    for part in parts {
        let table = here.as_table_like()?;
        best = table.key(part).and_then(toml_edit::Key::span).or(best);
        here = table.get(part)?;
    }
    best
}

/// The span of the value of a plain `key` directly below `item`.
fn value_span(item: &toml_edit::Item, key: &str) -> Option<Range<usize>> {
    item.as_table_like()?.get(key)?.span()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[password]\nlength = 3\n\n[providers.g]\nkind = \"http\"\nrate = \"fast\"\n[providers.g.http]\npath = \"/x/{nope}\"\n";

    fn at(chain: &[&str]) -> String {
        let mut err = anyhow!("{}", chain[chain.len() - 1]);
        for c in chain[..chain.len() - 1].iter().rev() {
            err = err.context(c.to_string());
        }
        position(Path::new("c.toml"), TEXT, &err)
    }

    #[test]
    fn checks_point_at_the_key_they_name() {
        assert_eq!(at(&["[providers.g]", "rate: invalid rate"]), "c.toml:6:1");
        assert_eq!(
            at(&["[providers.g]", "http.path: unknown placeholder"]),
            "c.toml:8:1"
        );
        assert_eq!(
            at(&["[password] (with flags)", "password length 3 is below 20"]),
            "c.toml:2:1"
        );
        // A key the file does not spell out: the table.
        assert_eq!(
            at(&["[providers.g]", "concurrency must be at least 1"]),
            "c.toml:4:1"
        );
        assert_eq!(at(&["no table named"]), "c.toml:1:1");
        assert_eq!(
            at(&["[providers.g]", "unknown field `rate`, expected"]),
            "c.toml:6:1"
        );
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_col("é = 1\nab", 7), (2, 1));
        assert_eq!(line_col("éé = 1", 4), (1, 3));
        assert_eq!(line_col("x", 99), (1, 2));
    }
}
