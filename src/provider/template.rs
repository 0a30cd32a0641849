//! Templates of the generic HTTP provider: `{name}` placeholders in a URL path and in the string
//! values of a JSON body.
//!
//! Invariants (what makes substitution safe):
//! - Path values are percent-encoded (everything but RFC 3986 unreserved characters and `@`),
//!   so a user id can never add a path segment, a query or a fragment.
//! - Body templates are parsed as JSON *before* substitution and values are put into the parsed
//!   tree, then serialised: a password with quotes or backslashes is JSON-escaped, never spliced
//!   into the text. A string that is exactly one placeholder becomes a typed value
//!   (`{require_change}` a boolean, others strings).
//! - Only the names in [`NAMES`] exist; `{{` and `}}` are literal braces.

use serde_json::{Map, Value};

/// Placeholders a template may use.
pub const NAMES: &[&str] = &["user", "method", "provider", "require_change", "password"];

/// The values of one row.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub user: &'a str,
    pub method: &'a str,
    pub provider: &'a str,
    pub require_change: bool,
    /// `None` when the server generates the password.
    pub password: Option<&'a str>,
}

impl Values<'_> {
    fn text(&self, name: &str) -> String {
        match name {
            "user" => self.user.to_owned(),
            "method" => self.method.to_owned(),
            "provider" => self.provider.to_owned(),
            "require_change" => self.require_change.to_string(),
            "password" => self.password.unwrap_or_default().to_owned(),
            _ => String::new(),
        }
    }

    fn typed(&self, name: &str) -> Value {
        match name {
            "require_change" => Value::Bool(self.require_change),
            other => Value::String(self.text(other)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(&'static str),
}

/// A string with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; the error says which placeholder is wrong.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                lit.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if tail.starts_with('}') {
                return Err(format!(
                    "unmatched `}}` in {text:?} (write `}}}}` for a literal brace)"
                ));
            }
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in {text:?}"))?;
            let name = &tail[1..end];
            let known = NAMES.iter().find(|n| **n == name).ok_or_else(|| {
                format!(
                    "unknown placeholder {{{name}}} in {text:?} (known: {})",
                    NAMES.join(", ")
                )
            })?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(known));
            rest = &tail[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// The placeholders used.
    pub fn vars(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(*v),
            Part::Lit(_) => None,
        })
    }

    /// For a URL path: every value percent-encoded.
    pub fn render_path(&self, values: &Values<'_>) -> String {
        self.render(|name| encode(&values.text(name)))
    }

    fn render(&self, value: impl Fn(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.clone(),
                Part::Var(v) => value(v),
            })
            .collect()
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters and `@`.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON body with placeholders in its string values.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Text(Template),
    Plain(Value),
}

impl BodyTemplate {
    pub fn parse(text: &str) -> Result<BodyTemplate, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("the body template is not valid JSON: {e}"))?;
        Ok(BodyTemplate { root: node(value)? })
    }

    pub fn vars(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.root.vars(&mut out);
        out
    }

    pub fn render(&self, values: &Values<'_>) -> Value {
        self.root.render(values)
    }
}

fn node(value: Value) -> Result<Node, String> {
    Ok(match value {
        Value::Object(map) => Node::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, node(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Node::Array(items.into_iter().map(node).collect::<Result<_, _>>()?),
        Value::String(s) => Node::Text(Template::parse(&s)?),
        other => Node::Plain(other),
    })
}

impl Node {
    fn vars(&self, out: &mut Vec<&'static str>) {
        match self {
            Node::Object(fields) => fields.iter().for_each(|(_, n)| n.vars(out)),
            Node::Array(items) => items.iter().for_each(|n| n.vars(out)),
            Node::Text(t) => out.extend(t.vars()),
            Node::Plain(_) => {}
        }
    }

    fn render(&self, values: &Values<'_>) -> Value {
        match self {
            Node::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, n)| (k.clone(), n.render(values)))
                    .collect();
                Value::Object(map)
            }
            Node::Array(items) => Value::Array(items.iter().map(|n| n.render(values)).collect()),
            Node::Text(t) => match t.parts.as_slice() {
                [Part::Var(v)] => values.typed(v),
                _ => Value::String(t.render(|name| values.text(name))),
            },
            Node::Plain(v) => v.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(password: &str) -> Values<'_> {
        Values {
            user: "a b/../c?d",
            method: "m",
            provider: "kc",
            require_change: true,
            password: Some(password),
        }
    }

    #[test]
    fn path_values_are_encoded() {
        let t = Template::parse("/users/{user}/reset?x={{y}}").unwrap();
        assert_eq!(
            t.render_path(&values("p")),
            "/users/a%20b%2F..%2Fc%3Fd/reset?x={y}"
        );
    }

    #[test]
    fn bad_placeholders_are_refused() {
        assert!(Template::parse("/u/{usr}").unwrap_err().contains("usr"));
        assert!(Template::parse("/u/{user").is_err());
        assert!(Template::parse("/u/}").is_err());
    }

    #[test]
    fn body_is_json_escaped_and_typed() {
        let t = BodyTemplate::parse(
            r#"{"type":"password","value":"{password}","temporary":"{require_change}","note":"for {user}","n":[1,"{method}"]}"#,
        )
        .unwrap();
        let evil = r#"p"w\d","admin":true,"x":""#;
        let body = t.render(&values(evil));
        assert_eq!(body["value"], evil);
        assert_eq!(body["temporary"], true);
        assert_eq!(body["note"], "for a b/../c?d");
        assert_eq!(body["n"][1], "m");
        assert!(body.get("admin").is_none());
        let text = body.to_string();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["value"], evil);
        let mut vars = t.vars();
        vars.sort_unstable();
        assert_eq!(vars, vec!["method", "password", "require_change", "user"]);
    }
}
