//! JSON array and JSON Lines reading: element scanning, locations, value types.

use super::{graph_rules, Manifest};
use crate::manifest::input::MAX_ROW;

fn locations(m: &Manifest) -> Vec<(u64, Option<u64>)> {
    m.rows(&graph_rules())
        .iter()
        .map(|r| {
            let loc = match r {
                Ok(t) => &t.location,
                Err(p) => &p.location,
            };
            (loc.line, loc.column)
        })
        .collect()
}

#[test]
fn array_elements_are_located_at_their_opening_brace() {
    let text = "\u{feff}[\n  {\"user\": \"a\"},\n    {\n      \"user\": \"b\"\n    }  ,  {\"user\":\"c\"}\n]\n";
    let m = Manifest::new("m.json", text);
    assert_eq!(locations(&m), [(2, Some(3)), (3, Some(5)), (5, Some(11))]);
    assert_eq!(m.plan(&graph_rules()).rows, 3);
}

#[test]
fn strings_with_brackets_commas_and_escapes_stay_in_their_element() {
    let text = r#"[{"user": "a\"},] {[", "method": "x\\"}, {"user": "é,]}"}]"#;
    let m = Manifest::new("m.json", text);
    let users: Vec<String> = m
        .rows(&graph_rules())
        .into_iter()
        .map(|r| r.expect("row").user)
        .collect();
    assert_eq!(users, ["a\"},] {[", "é,]}"]);
    // Columns count characters: `é` is two bytes but one column.
    assert_eq!(locations(&m)[1], (1, Some(42)));
}

#[test]
fn syntax_error_is_located_absolutely_and_ends_reading() {
    let text = "[\n  {\"user\": \"a\"},\n  {\"user\": \"é\", \"method\": x},\n  {\"user\": 5}\n]\n";
    let m = Manifest::new("m.json", text);
    let problems = m.problems(&graph_rules());
    // The `x` is at line 3, column 27 (`é` is one column); the number user on line 4 is never reached.
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("m.json:3:27: invalid JSON: expected value"),
        "{problems:#?}"
    );
}

#[test]
fn syntax_error_on_a_later_line_of_an_element() {
    let text = "[{\"user\": \"a\",\n  \"method\": \"m\"\n  \"provider\": \"graph\"}]";
    let m = Manifest::new("m.json", text);
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("m.json:3:3: invalid JSON: expected `,` or `}`"));
}

#[test]
fn non_objects_are_problems_and_reading_goes_on() {
    let m = Manifest::new(
        "m.json",
        "[1, null, {\"user\": \"a\"}, [\"b\"], {\"usr\": 1}]",
    );
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems[0].starts_with("m.json:1:2: expected a JSON object, got a number"));
    assert!(problems[1].starts_with("m.json:1:5: expected a JSON object, got null"));
    assert!(problems[2].starts_with("m.json:1:26: expected a JSON object, got an array"));
    assert!(problems[3]
        .starts_with("m.json:1:33: field `usr`: unknown key (hint: did you mean `user`?)"));
    assert!(problems[4].starts_with("m.json:1:33: field `user`: is required"));
    let rows: Vec<u64> = m
        .rows(&graph_rules())
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|t| t.row))
        .collect();
    assert_eq!(rows, [3]);
}

#[test]
fn top_level_must_be_an_array() {
    for text in ["{\"user\": \"a\"}", "  \"a\"", "42"] {
        let m = Manifest::new("m.json", text);
        let problems = m.problems(&graph_rules());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("expected an array of objects"),
            "{problems:#?}"
        );
        assert!(problems[0].contains("JSON Lines"));
    }
}

#[test]
fn array_ending_problems() {
    let cases = [
        (
            "[{\"user\": \"a\"}] x",
            "m.json:1:17: unexpected content after the closing `]`",
        ),
        (
            "[{\"user\": \"a\"},,{\"user\": \"b\"}]",
            "m.json:1:16: expected an object, found `,`",
        ),
        (
            "[{\"user\": \"a\"}",
            "m.json:1:15: unexpected end of file: the array is not closed",
        ),
        (
            "[{\"user\": \"a\"",
            "m.json:1:13: invalid JSON: EOF while parsing an object",
        ),
        ("[]", "m.json:1: manifest has no rows"),
        ("", "m.json:1: manifest has no rows"),
    ];
    for (text, want) in cases {
        let problems = Manifest::new("m.json", text).problems(&graph_rules());
        assert!(
            problems.iter().any(|p| p.starts_with(want)),
            "{text}: {problems:#?}"
        );
    }
}

#[test]
fn value_types() {
    let text = r#"[
{"user": "a", "method": null, "require_change": null, "old_password": null},
{"user": 7, "method": 5, "require_change": "yes", "provider": true},
{"user": "b", "require_change": [], "email_auth_code": 123456}
]"#;
    let problems = Manifest::new("m.json", text).problems(&graph_rules());
    let want = [
        "m.json:3:1: field `user`: expected a string, got the number 7 (hint: quote it: \"7\")",
        "m.json:3:1: field `method`: expected a string, got the number 5 (hint: quote it: \"5\")",
        "m.json:3:1: field `require_change`: expected a JSON boolean, got the string \"yes\" (hint: write true or false without quotes)",
        "m.json:3:1: field `provider`: expected a string, got a boolean (hint: write the value as a quoted JSON string)",
        "m.json:4:1: field `require_change`: expected a JSON boolean, got an array (hint: write true or false)",
        // A secret's value is never quoted, not even a number.
        "m.json:4:1: field `email_auth_code`: expected a string, got a number (hint: write the value as a quoted JSON string)",
    ];
    let mut got = problems.clone();
    got.sort();
    let mut want = want.map(str::to_owned).to_vec();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_missing_brace_in_a_long_file_is_found_without_buffering_it() {
    let mut text = String::from("[\n{\"user\": \"a\",\n");
    while text.len() < 2 * MAX_ROW {
        text.push_str("{\"user\": \"b\"},\n");
    }
    text.push_str("{\"user\": \"c\"}]\n");
    let problems = Manifest::new("m.json", &text).problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("m.json:3:1: invalid JSON: key must be a string"),
        "{problems:#?}"
    );

    let huge = format!("[{{\"user\": \"{}\"}}]", "x".repeat(2 * MAX_ROW));
    let problems = Manifest::new("m.json", huge).problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("m.json:1:2: this element is larger than"),
        "{problems:#?}"
    );
}

#[test]
fn jsonl_lines_are_independent() {
    let text = "\u{feff}{\"user\": \"a\"}\r\n\n   \n  {\"user\": \"b\",}\n{\"user\" \"c\"}\n\t{\"user\": \"d\"}";
    let m = Manifest::new("m.jsonl", text);
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.jsonl:4:16: invalid JSON: trailing comma"));
    assert!(
        problems[1].starts_with("m.jsonl:5:9: invalid JSON: expected `:`"),
        "{problems:#?}"
    );
    assert_eq!(
        locations(&m),
        [(1, Some(1)), (4, Some(16)), (5, Some(9)), (6, Some(2))]
    );
    let rows: Vec<u64> = m
        .rows(&graph_rules())
        .iter()
        .map(|r| match r {
            Ok(t) => t.row,
            Err(_) => 0,
        })
        .collect();
    assert_eq!(rows, [1, 0, 0, 4]);
}

#[test]
fn jsonl_overlong_line_is_skipped() {
    let text = format!(
        "{{\"user\": \"{}\"}}\n{{\"user\": \"b\"}}\n",
        "x".repeat(MAX_ROW)
    );
    let m = Manifest::new("m.ndjson", text);
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("m.ndjson:1:1: line is longer than"));
    assert_eq!(
        m.rows(&graph_rules())[1]
            .as_ref()
            .map(|t| t.user.as_str())
            .ok(),
        Some("b")
    );
}

/// Regression companion of the CSV fix: CRLF line ends and a BOM leave JSON lines and columns
/// as an editor shows them (the BOM is no column, `\r` ends no line of its own).
#[test]
fn crlf_and_bom_keep_json_locations() {
    let text = "\u{feff}[\r\n  {\"user\": \"a\", \"require_change\": 1},\r\n  {\"user\": \"b\",\r\n   \"method\" \"m\"}\r\n]\r\n";
    let problems = Manifest::new("m.json", text).problems(&graph_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.json:2:3: field `require_change`"));
    assert!(problems[1].starts_with("m.json:4:13: invalid JSON: expected `:`"));

    let text = "\u{feff}{\"user\": 1}\r\n\r\n{\"user\": \"b\"}\r\n  {\"user\" \"c\"}\r\n";
    let problems = Manifest::new("m.jsonl", text).problems(&graph_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.jsonl:1:1: field `user`: expected a string"));
    assert!(problems[1].starts_with("m.jsonl:4:11: invalid JSON: expected `:`"));
}

/// serde_json's `Value` keeps the last of repeated keys silently; a manifest must not.
#[test]
fn repeated_keys_are_problems() {
    let text = "{\"user\": \"a\", \"method\": \"m\", \"user\": \"b\", \"x\": 1, \"x\": 2}\n";
    let problems = Manifest::new("m.jsonl", text).problems(&graph_rules());
    assert_eq!(
        problems,
        [
            "m.jsonl:1:1: field `user`: key appears twice in this object (hint: keep one of them)",
            "m.jsonl:1:1: field `x`: unknown key (hint: known columns are user, method, provider, require_change, old_password, confirmation_token, email_auth_code, password_reset_code, request_code, verification_code, new_password)",
            "m.jsonl:1:1: field `x`: key appears twice in this object (hint: keep one of them)",
        ]
    );
    // The first value is the one kept (and reported on), never a mix.
    let m = Manifest::new("m.json", "[{\"user\": \"a\", \"user\": 5}]");
    assert_eq!(m.problems(&graph_rules()).len(), 1);
}
