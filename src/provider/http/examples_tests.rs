//! Every `[providers.NAME.http]` body in `examples/*.toml` renders to the JSON its provider
//! documents, with the documented types: Keycloak's `temporary` a boolean (a string is refused
//! with 400), Okta's nested password value and Auth0's password and connection strings. A new
//! example with a body must get its documented shape here.

use serde_json::Value;

use crate::provider::template::{BodyTemplate, Values};

/// `(provider name, body)` of every http body in the examples.
fn example_bodies() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut bodies = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let providers = doc.get("providers").and_then(|p| p.as_table());
        for (name, section) in providers.into_iter().flatten() {
            if let Some(body) = section.get("http").and_then(|h| h.get("body")) {
                bodies.push((name.clone(), body.as_str().unwrap().to_owned()));
            }
        }
    }
    bodies.sort();
    bodies
}

fn render(body: &str, require_change: bool) -> Value {
    let values = Values {
        user: "u-1",
        method: "",
        provider: "p",
        require_change,
        password: Some(r#"Pa"ss\word-1"#),
    };
    let rendered = BodyTemplate::parse(body).unwrap().render(&values);
    // What goes on the wire parses back to the same JSON.
    serde_json::from_str(&rendered.to_string()).unwrap()
}

/// Checks one rendered body against its provider's documented shape.
fn check(provider: &str, body: &Value, require_change: bool) {
    let password = Value::from(r#"Pa"ss\word-1"#);
    match provider {
        "keycloak" => {
            assert_eq!(body["type"], "password");
            assert_eq!(body["value"], password);
            assert_eq!(
                body["temporary"],
                Value::Bool(require_change),
                "a JSON boolean"
            );
            assert_eq!(body.as_object().unwrap().len(), 3);
        }
        "okta" => {
            assert_eq!(body["credentials"]["password"]["value"], password);
            assert_eq!(body.as_object().unwrap().len(), 1);
        }
        "auth0" => {
            assert_eq!(body["password"], password);
            assert!(body["connection"].as_str().is_some_and(|c| !c.is_empty()));
            assert_eq!(body.as_object().unwrap().len(), 2);
        }
        other => panic!("examples: no documented body shape for provider {other:?}"),
    }
}

#[test]
fn example_bodies_render_to_the_documented_json() {
    let bodies = example_bodies();
    let names: Vec<&str> = bodies.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["auth0", "keycloak", "okta"]);
    for (provider, body) in &bodies {
        for require_change in [true, false] {
            check(provider, &render(body, require_change), require_change);
        }
    }
}
