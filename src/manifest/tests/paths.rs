//! Path safety: values that a URL path would misread (`.`, `..`, control characters, overlong, or
//! an empty method where the provider's path needs one) are problems in `validate` and errors in
//! `open`, so the run never builds a request from them.

use super::{graph_rules, rules_with, Manifest, GRAPH_METHOD};
use crate::manifest::{InputRule, Rules};

/// Graph plus an http provider whose path template holds `{method}` and has no default method.
fn rules() -> Rules {
    let mut rules = rules_with(
        &[
            ("graph", GRAPH_METHOD, InputRule::None),
            ("okta", "", InputRule::None),
            ("tmpl", "", InputRule::None),
        ],
        Some("graph"),
    );
    for name in ["graph", "tmpl"] {
        if let Some(p) = rules.providers.get_mut(name) {
            p.method_in_path = true;
        }
    }
    rules
}

#[test]
fn dot_users_are_refused_in_every_format() {
    let csv = Manifest::new("m.csv", "user,provider\n..,\n.,okta\n . ,\nalice,\n");
    assert_eq!(
        csv.problems(&rules()),
        [
            "m.csv:2: field `user`: is `..`, which a URL reads as a relative path, not an id (hint: write the real id; `.` and `..` would send the request to another endpoint)",
            "m.csv:3: field `user`: is `.`, which a URL reads as a relative path, not an id (hint: write the real id; `.` and `..` would send the request to another endpoint)",
            "m.csv:4: field `user`: is `.`, which a URL reads as a relative path, not an id (hint: write the real id; `.` and `..` would send the request to another endpoint)",
        ]
    );
    let jsonl = Manifest::new(
        "m.jsonl",
        "{\"user\": \"..\"}\n{\"user\": \"b\", \"method\": \".\"}\n",
    );
    let problems = jsonl.problems(&rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.jsonl:1:1: field `user`: is `..`"));
    assert!(problems[1].starts_with("m.jsonl:2:1: field `method`: is `.`"));
    let json = Manifest::new("m.json", "[{\"user\": \"a\", \"provider\": \"..\"}]");
    let problems = json.problems(&rules());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("m.json:1:2: field `provider`: is `..`"));
}

#[test]
fn control_characters_are_refused_and_not_quoted() {
    let text = "user,method\n\"ali\nce\",\nbob\u{0},\ncarol,m\u{1b}[2J\n";
    let problems = Manifest::new("m.csv", text).problems(&rules());
    assert_eq!(
        problems,
        [
            "m.csv:2: field `user`: contains the control character U+000A at character 4 (hint: remove it; ids never contain tabs, line breaks or other control characters)",
            "m.csv:4: field `user`: contains the control character U+0000 at character 4 (hint: remove it; ids never contain tabs, line breaks or other control characters)",
            "m.csv:5: field `method`: contains the control character U+001B at character 2 (hint: remove it; ids never contain tabs, line breaks or other control characters)",
        ]
    );
    let json = Manifest::new(
        "m.jsonl",
        "{\"user\": \"a\\tb\"}\n{\"user\": \"c\", \"provider\": \"g\\u0000\"}\n",
    );
    let problems = json.problems(&rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("field `user`: contains the control character U+0009"));
    // The provider check comes before the name lookup, whose message would quote the value.
    assert!(problems[1].contains("field `provider`: contains the control character U+0000"));
}

#[test]
fn method_is_required_where_the_path_holds_it() {
    let text = "user,provider,method\na,tmpl,\nb,tmpl,m-1\nc,okta,\nd,graph,\n";
    let problems = Manifest::new("m.csv", text).problems(&rules());
    assert_eq!(
        problems,
        ["m.csv:2: field `method`: is required: provider `tmpl` puts the method id in the request path (hint: fill the `method` column, or set `method = \"...\"` in [providers.tmpl])"]
    );
}

#[test]
fn open_never_yields_an_unsafe_target() {
    let m = Manifest::new("m.csv", "user,method\n..,\nalice,..\nbob,\n");
    let rows = m.rows(&graph_rules());
    assert_eq!(rows.len(), 3);
    let users: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|t| t.user.as_str())
        .collect();
    assert_eq!(users, ["bob"]);
    let err = rows[1].as_ref().expect_err("alice's method");
    assert_eq!(err.field.as_deref(), Some("method"));
}

#[test]
fn unconfigured_providers_are_checked_too() {
    let open = Rules {
        providers: Default::default(),
        default_provider: None,
    };
    let m = Manifest::new("m.csv", "user,provider\na,..\nb,x\n");
    let problems = m.problems(&open);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("m.csv:2: field `provider`: is `..`"));
}

#[test]
fn overlong_users_are_refused_without_quoting_them() {
    let long = "u".repeat(crate::manifest::segment::MAX_CHARS + 1);
    let m = Manifest::new("m.csv", format!("user\n{long}\n"));
    let problems = m.problems(&rules());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("m.csv:2: field `user`: is 1025 characters long"));
    assert!(problems[0].len() < 300, "{}", problems[0]);
}
