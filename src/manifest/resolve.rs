//! Per-row checks against the run's [`Rules`]: a user is present, the provider and method
//! resolve, and the row carries exactly the provider-specific inputs its provider takes.
//!
//! Invariants: the same function serves `validate` and `open`, so a row that validated is built
//! into the same [`Target`] by the run. Messages name columns, never secret values. A row whose
//! `user`, `method` or `provider` could not be one URL path segment ([`unsafe_segment`]), or whose
//! method is empty where its provider puts the method in the path, is a problem: nothing is sent
//! for it.

use super::column::closest;
use super::record::{problem, shorten, RawRow};
use super::segment::unsafe_segment;
use super::types::{InputRule, Inputs, Problem, ProviderRules, Rules, Target};

/// A row checked against the rules: the target it describes and everything wrong with it.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Usable only when `problems` is empty; otherwise `user` or `provider` may be "".
    pub target: Target,
    pub problems: Vec<Problem>,
}

/// Checks `raw` (data row number `row`) and builds its [`Target`], with every problem of the
/// row (those found while reading it first).
pub(crate) fn resolve(raw: RawRow, row: u64, rules: &Rules) -> Checked {
    let mut problems = raw.problems;
    let loc = &raw.location;
    // A `user` of the wrong type was already reported while reading: say it once.
    let reported = problems.iter().any(|p| p.field.as_deref() == Some("user"));
    match raw.user.as_deref().map(unsafe_segment) {
        None if !reported => {
            let hint = "every row needs the user's object id, UPN or DN".into();
            let message = "is required and must not be empty";
            problems.push(problem(loc, Some("user"), message, Some(hint)));
        }
        Some(Some((message, hint))) => {
            problems.push(problem(loc, Some("user"), message, Some(hint)));
        }
        _ => {}
    }
    let (provider, provider_rules) = match resolve_provider(raw.provider, rules) {
        Ok(found) => found,
        Err((message, hint)) => {
            problems.push(problem(loc, Some("provider"), message, Some(hint)));
            (String::new(), None)
        }
    };
    if let Some(pr) = provider_rules {
        for (field, message, hint) in check_inputs(pr.input_rule, &provider, &raw.inputs) {
            problems.push(problem(loc, field, message, Some(hint)));
        }
    }
    let method = raw
        .method
        .or_else(|| provider_rules.map(|p| p.default_method.clone()))
        .unwrap_or_default();
    if let Some((message, hint)) = check_method(&method, &provider, provider_rules) {
        problems.push(problem(loc, Some("method"), message, Some(hint)));
    }
    let target = Target {
        row,
        location: raw.location,
        user: raw.user.unwrap_or_default(),
        provider,
        method,
        require_change: raw.require_change,
        inputs: raw.inputs,
        new_password: raw.new_password,
    };
    Checked { target, problems }
}

/// The row's provider name and, when providers are configured, its rules.
/// Err holds (message, hint).
fn resolve_provider(
    named: Option<String>,
    rules: &Rules,
) -> Result<(String, Option<&ProviderRules>), (String, String)> {
    let Some(name) = named.or_else(|| rules.default_provider.clone()) else {
        return Err((
            "no provider for this row".into(),
            "add a `provider` column or pass --provider NAME".into(),
        ));
    };
    // Checked first, also without configured providers: `{provider}` can be a path segment, and
    // an unknown-provider message would quote the value.
    if let Some(unsafe_name) = unsafe_segment(&name) {
        return Err(unsafe_name);
    }
    if rules.providers.is_empty() {
        return Ok((name, None));
    }
    if let Some(pr) = rules.providers.get(&name) {
        return Ok((name, Some(pr)));
    }
    let configured: Vec<&str> = rules.providers.keys().map(String::as_str).collect();
    let hint = match closest(&name, configured.iter().copied()) {
        Some(c) => format!(
            "did you mean `{c}`? configured providers: {}",
            configured.join(", ")
        ),
        None => format!("configured providers: {}", configured.join(", ")),
    };
    Err((format!("unknown provider {:?}", shorten(&name)), hint))
}

/// Why the resolved `method` cannot be sent, as (message, hint): a value no path may hold, or
/// none at all where the provider puts the method id in the path.
fn check_method(
    method: &str,
    provider: &str,
    rules: Option<&ProviderRules>,
) -> Option<(String, String)> {
    if !method.is_empty() {
        return unsafe_segment(method);
    }
    if !rules.is_some_and(|r| r.method_in_path) {
        return None;
    }
    Some((
        format!("is required: provider `{provider}` puts the method id in the request path"),
        format!("fill the `method` column, or set `method = \"...\"` in [providers.{provider}]"),
    ))
}

/// (field, message, hint) for each way the row's inputs break its provider's rule.
type InputProblem = (Option<&'static str>, String, String);

/// The provider-specific input columns, in [`COLUMNS`](super::column::COLUMNS) order, with whether this
/// row has a value for each.
fn present(inputs: &Inputs) -> [(&'static str, bool); 6] {
    [
        ("old_password", inputs.old_password.is_some()),
        ("confirmation_token", inputs.confirmation_token.is_some()),
        ("email_auth_code", inputs.email_auth_code.is_some()),
        ("password_reset_code", inputs.password_reset_code.is_some()),
        ("request_code", inputs.request_code.is_some()),
        ("verification_code", inputs.verification_code.is_some()),
    ]
}

fn check_inputs(rule: InputRule, provider: &str, inputs: &Inputs) -> Vec<InputProblem> {
    let allowed: &[&str] = match rule {
        InputRule::None => &[],
        InputRule::OptionalOldPassword => &["old_password"],
        InputRule::OldPasswordXorConfirmationToken => &["old_password", "confirmation_token"],
        InputRule::WristbandCodes => &[
            "email_auth_code",
            "password_reset_code",
            "request_code",
            "verification_code",
        ],
    };
    let present = present(inputs);
    // A value the provider ignores is most likely meant for another provider: say so rather
    // than silently carry a secret the run will never use.
    let mut out: Vec<InputProblem> = present
        .iter()
        .filter(|(name, has)| *has && !allowed.contains(name))
        .map(|(name, _)| {
            (
                Some(*name),
                format!("provider `{provider}` does not take this input"),
                "leave it empty, or set `provider` to the provider it is meant for".into(),
            )
        })
        .collect();
    let has = |name: &str| present.iter().any(|(n, h)| *h && *n == name);
    match rule {
        InputRule::None | InputRule::OptionalOldPassword => {}
        InputRule::OldPasswordXorConfirmationToken => out.extend(check_xor(provider, &has)),
        InputRule::WristbandCodes => out.extend(check_wristband(provider, &has)),
    }
    out
}

/// PingOne: exactly one of `old_password` / `confirmation_token`.
fn check_xor(provider: &str, has: &dyn Fn(&str) -> bool) -> Option<InputProblem> {
    let (old, token) = (has("old_password"), has("confirmation_token"));
    let found = match (old, token) {
        (true, false) | (false, true) => return None,
        (true, true) => "both",
        (false, false) => "neither",
    };
    Some((
        None,
        format!(
            "provider `{provider}` needs exactly one of old_password or confirmation_token; \
             this row has {found}"
        ),
        "fill exactly one of the two columns on each row".into(),
    ))
}

/// Wristband: exactly one of `email_auth_code`, `password_reset_code`, or `request_code` with
/// `verification_code`.
fn check_wristband(provider: &str, has: &dyn Fn(&str) -> bool) -> Option<InputProblem> {
    const FORMS: &str =
        "email_auth_code, password_reset_code, or request_code with verification_code";
    let (request, verification) = (has("request_code"), has("verification_code"));
    if request != verification {
        let (have, missing) = if request {
            ("request_code", "verification_code")
        } else {
            ("verification_code", "request_code")
        };
        return Some((
            Some(missing),
            format!("missing: {have} is given, and it only works together with {missing}"),
            format!("add {missing} to this row, or use one of: {FORMS}"),
        ));
    }
    let names = [
        ("email_auth_code", "email_auth_code"),
        ("password_reset_code", "password_reset_code"),
        ("request_code", "request_code with verification_code"),
    ];
    let forms: Vec<&str> = names
        .into_iter()
        .filter(|(column, _)| has(column))
        .map(|(_, form)| form)
        .collect();
    let found = match forms.as_slice() {
        [_] => return None,
        [] => "none".to_owned(),
        many => many.join(" and "),
    };
    Some((
        None,
        format!("provider `{provider}` needs exactly one of {FORMS}; this row has {found}"),
        "fill exactly one of these forms on each row".into(),
    ))
}
