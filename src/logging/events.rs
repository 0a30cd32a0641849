//! The stderr lines written without a tracing macro because they carry structure tracing fields
//! cannot (the summary object) or must appear whatever the log filter says (fatal errors):
//! plain text, or with `--log-format json` one JSON object per line in the shape of the tracing
//! JSON lines (`timestamp`, `level`, `target`, `message`, then fields).
//!
//! Invariant: these lines carry messages and counts only, never a secret (the summary is built
//! from redacted report rows).

use serde_json::{json, Map, Value};

use super::{format, writer, LogFormat};
use crate::report::Summary;

/// A fatal error ending the command with `exit_code`. Exit 2 means nothing was sent, and the
/// line says so.
pub fn fatal(message: &str, exit_code: u8) {
    let nothing_sent = exit_code == 2;
    match format() {
        LogFormat::Text => {
            writer::line(&format!("error: {message}"));
            if nothing_sent {
                writer::line("nothing was sent.");
            }
        }
        LogFormat::Json => {
            let fields = json!({"exit_code": exit_code, "nothing_sent": nothing_sent});
            writer::line(&object("ERROR", message, fields));
        }
    }
}

/// One problem of a list (e.g. a manifest's), before the fatal error that sums them up.
pub fn problem(message: &str) {
    match format() {
        LogFormat::Text => writer::line(&format!("error: {message}")),
        LogFormat::Json => writer::line(&object("ERROR", message, json!({}))),
    }
}

/// A block of text for the operator (the plan, the per-provider table): as is, or with JSON
/// logs one object whose `text` field holds it, so every stderr line stays one JSON object.
pub fn block(message: &str, text: &str) {
    match format() {
        LogFormat::Text => text.lines().for_each(writer::line),
        LogFormat::Json => writer::line(&object("INFO", message, json!({ "text": text }))),
    }
}

/// The last line of a run: its exit code, and with JSON logs the whole summary (text logs have
/// it on stdout already).
pub fn run_finished(exit_code: u8, summary: &Summary) {
    match format() {
        LogFormat::Text => tracing::info!(exit_code, "run finished"),
        LogFormat::Json => {
            let summary = serde_json::to_value(summary).unwrap_or(Value::Null);
            let fields = json!({"exit_code": exit_code, "summary": summary});
            writer::line(&object("INFO", "run finished", fields));
        }
    }
}

/// A JSON log line: the common keys and `fields` (an object).
fn object(level: &str, message: &str, fields: Value) -> String {
    let mut line = Map::new();
    let now = crate::outcome::timestamp(std::time::SystemTime::now());
    line.insert("timestamp".into(), Value::String(now));
    line.insert("level".into(), level.into());
    line.insert("target".into(), "credrotate".into());
    line.insert("message".into(), message.into());
    if let Value::Object(fields) = fields {
        line.extend(fields);
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_with_the_common_keys() {
        let line = object("ERROR", "bad \"thing\"\nhere", json!({"exit_code": 2}));
        assert!(!line.contains('\n'), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["message"], "bad \"thing\"\nhere");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(
            (v["level"].as_str(), v["target"].as_str()),
            (Some("ERROR"), Some("credrotate"))
        );
    }
}
