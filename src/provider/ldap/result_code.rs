//! LDAP answers and errors as attempts, by the ambiguity rule (docs/DESIGN.md §4.4).
//!
//! Invariants:
//! - Only a result code that says the server did not perform the operation makes an attempt
//!   [`Applied::No`]: the refusals of [`REFUSALS`] (password policy, access rights, no such
//!   object...) and the "try later" codes busy (51) and unavailable (52), which are retried.
//! - Everything else once the request has left — a dropped connection, our timeout,
//!   timeLimitExceeded (3), `other` (80), an unknown code — is [`Applied::Maybe`]: the password
//!   stays a candidate in the export.
//! - Errors before the request left (connect, TLS, bind, the login-name search) are
//!   [`Applied::No`]; a connection failure among them is retried.
//! - The server's diagnostic message goes to the report; Active Directory's leading hex code
//!   (`0000052D: Constraint violation - ...`) is kept in the error code as well.

use ldap3::{LdapError, LdapResult};

use crate::provider::{Applied, Attempt, Failure};

/// Result codes that prove the server refused the operation without applying it.
const REFUSALS: &[u32] = &[
    2,  // protocolError
    7,  // authMethodNotSupported
    8,  // strongerAuthRequired
    12, // unavailableCriticalExtension
    13, // confidentialityRequired
    16, // noSuchAttribute (AD: wrong old password)
    17, // undefinedAttributeType
    19, // constraintViolation (password policy; AD's 0000052D)
    21, // invalidAttributeSyntax
    32, // noSuchObject
    34, // invalidDNSyntax
    49, // invalidCredentials (a wrong old password)
    50, // insufficientAccessRights
    53, // unwillingToPerform (AD: unicodePwd without TLS)
    65, // objectClassViolation
];

/// "Try again later" codes: the server did not perform the operation.
const BUSY: &[u32] = &[51, 52];

/// The classification of a result that is not success.
pub fn from_result(result: &LdapResult) -> Attempt {
    let failure = result_failure(result);
    let busy = BUSY.contains(&result.rc) || (result.rc == 53 && retry_hint(&result.text));
    if busy {
        transient(failure, Applied::No)
    } else if REFUSALS.contains(&result.rc) {
        Attempt::NotApplied(failure)
    } else {
        // timeLimitExceeded, other, adminLimitExceeded, anything unlisted: it may have happened.
        transient(failure, Applied::Maybe)
    }
}

/// An unwillingToPerform that says to try later (some servers' overload answer).
fn retry_hint(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["try again", "retry", "busy", "too many", "temporarily"]
        .iter()
        .any(|hint| text.contains(hint))
}

/// An error of the client library for a request that had left: transient, maybe applied,
/// unless the request provably never reached the connection.
pub fn after_send(error: &LdapError) -> Attempt {
    match error {
        LdapError::LdapResult { result } => from_result(result),
        // The connection's task was gone before it took the request: nothing was written.
        LdapError::OpSend { .. } => {
            transient(error_failure("connection_closed", error), Applied::No)
        }
        LdapError::Timeout { .. } => transient(error_failure("timeout", error), Applied::Maybe),
        _ => transient(error_failure("connection", error), Applied::Maybe),
    }
}

/// An error before the reset request left (connect, TLS, bind, search): nothing applied.
/// Connection trouble is retried; a refused bind or search is the server's answer.
pub fn before_send(step: &str, error: &LdapError) -> Attempt {
    match error {
        LdapError::LdapResult { result } => match from_result(result) {
            Attempt::Transient {
                retry_after,
                failure,
                ..
            } => Attempt::Transient {
                retry_after,
                failure: in_step(step, failure),
                applied: Applied::No,
            },
            other => {
                Attempt::NotApplied(in_step(step, other.failure().cloned().unwrap_or_default()))
            }
        },
        LdapError::Rustls { .. } | LdapError::DNSName { .. } | LdapError::UrlParsing { .. } => {
            Attempt::NotApplied(in_step(step, error_failure("tls", error)))
        }
        // A certificate the trust roots refuse: retrying cannot help (hint: ca_file).
        LdapError::Io { source } if is_tls(source) => {
            let mut failure = error_failure("tls", error);
            failure.message +=
                " (hint: set ca_file to the CA that issued the server's certificate)";
            Attempt::NotApplied(in_step(step, failure))
        }
        _ => transient(in_step(step, error_failure("connect", error)), Applied::No),
    }
}

/// Whether an I/O error is rustls refusing the handshake (tokio-rustls wraps it in one).
fn is_tls(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
}

fn transient(failure: Failure, applied: Applied) -> Attempt {
    Attempt::Transient {
        retry_after: None,
        failure,
        applied,
    }
}

fn in_step(step: &str, mut failure: Failure) -> Failure {
    failure.message = format!("{step}: {}", failure.message);
    failure
}

/// The report's code: the result's name (`constraintViolation`), with AD's extended code.
fn result_failure(result: &LdapResult) -> Failure {
    let mut code = name(result.rc).map_or_else(|| format!("ldap_{}", result.rc), str::to_owned);
    if let Some(ad) = ad_code(&result.text) {
        code = format!("{code}:{ad}");
    }
    let message = match result.text.trim() {
        "" => format!("{code} ({})", result.rc),
        text => format!(
            "{text} ({}, result {})",
            name(result.rc).unwrap_or("unknown"),
            result.rc
        ),
    };
    Failure {
        code,
        message,
        ..Failure::default()
    }
}

fn error_failure(code: &str, error: &LdapError) -> Failure {
    Failure {
        code: code.to_owned(),
        message: error.to_string(),
        ..Failure::default()
    }
}

/// Active Directory's diagnostic starts with eight hex digits and a colon (`0000052D: ...`).
fn ad_code(text: &str) -> Option<&str> {
    let code = text.get(..8)?;
    let hex = code.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && text[8..].starts_with(':')).then_some(code)
}

/// RFC 4511's names of the result codes a password change may meet.
fn name(rc: u32) -> Option<&'static str> {
    Some(match rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        19 => "constraintViolation",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        65 => "objectClassViolation",
        80 => "other",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.into(),
            refs: vec![],
            ctrls: vec![],
        }
    }

    #[test]
    fn refusals_are_not_applied_with_the_servers_message() {
        let ad = "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!";
        let Attempt::NotApplied(f) = from_result(&result(19, ad)) else {
            panic!("a constraint violation is a refusal")
        };
        assert_eq!(f.code, "constraintViolation:0000052D");
        assert!(
            f.message.starts_with("0000052D: Constraint violation")
                && f.message.ends_with("(constraintViolation, result 19)"),
            "{}",
            f.message
        );
        for rc in [32, 50, 53, 49, 13] {
            assert!(
                matches!(from_result(&result(rc, "")), Attempt::NotApplied(_)),
                "{rc}"
            );
        }
    }

    #[test]
    fn busy_is_retried_and_never_applied_but_a_time_limit_may_be() {
        for (rc, text) in [(51, ""), (52, ""), (53, "server busy, try again later")] {
            let a = from_result(&result(rc, text));
            assert!(
                matches!(
                    a,
                    Attempt::Transient {
                        applied: Applied::No,
                        ..
                    }
                ),
                "{rc}"
            );
        }
        for rc in [3, 80, 1, 11, 99] {
            let a = from_result(&result(rc, ""));
            assert!(
                matches!(
                    a,
                    Attempt::Transient {
                        applied: Applied::Maybe,
                        ..
                    }
                ),
                "{rc}"
            );
        }
        let Attempt::Transient { failure, .. } = from_result(&result(99, "")) else {
            unreachable!()
        };
        assert_eq!(failure.code, "ldap_99");
    }

    #[test]
    fn lost_connections_after_sending_are_uncertain_before_sending_not_applied() {
        let io = LdapError::Io {
            source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        };
        assert!(matches!(
            after_send(&io),
            Attempt::Transient {
                applied: Applied::Maybe,
                ..
            }
        ));
        assert!(matches!(
            before_send("connect", &io),
            Attempt::Transient {
                applied: Applied::No,
                ..
            }
        ));
        let refused = LdapError::LdapResult {
            result: result(49, ""),
        };
        let Attempt::NotApplied(f) = before_send("bind as cn=x", &refused) else {
            panic!()
        };
        assert!(f.message.starts_with("bind as cn=x: "), "{}", f.message);
        assert_eq!(ad_code("0000052D: x"), Some("0000052D"));
        assert_eq!(ad_code("0000052: x"), None);
    }
}
