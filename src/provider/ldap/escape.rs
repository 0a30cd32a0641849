//! Putting manifest values into LDAP strings: a login name into a search filter (RFC 4515) and
//! the check that a manifest `user` holding `=` is a well-formed DN (RFC 4514).
//!
//! Invariants: a login name can never change a filter's structure (every `*`, `(`, `)`, `\` and
//! NUL is escaped as `\XX`, so `*` matches itself, not everyone); a filter template has exactly
//! the one `{user}` placeholder per occurrence and is checked to parse once filled.

use anyhow::{bail, Result};

/// The placeholder of `user_filter`.
pub const USER: &str = "{user}";

/// Escapes a value for use inside a filter (RFC 4515 §3: `*`, `(`, `)`, `\`, NUL).
pub fn filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u32)),
            other => out.push(other),
        }
    }
    out
}

/// The filter for one login name: every `{user}` of the template replaced by the escaped name.
pub fn fill_filter(template: &str, user: &str) -> String {
    template.replace(USER, &filter_value(user))
}

/// Checks a `user_filter` template: it names `{user}` and parses as a filter once filled.
pub fn check_filter(template: &str) -> Result<()> {
    if !template.contains(USER) {
        bail!("user_filter {template:?} has no {USER} placeholder (hint: \"(uid={USER})\", or \"(sAMAccountName={USER})\" for Active Directory)");
    }
    if ldap3::parse_filter(fill_filter(template, "x")).is_err() {
        bail!("user_filter {template:?} is not an LDAP filter (RFC 4515; hint: \"(uid={USER})\" or \"(&(objectClass=person)(uid={USER}))\")");
    }
    Ok(())
}

/// Whether a manifest `user` is meant as a DN rather than a login name: it holds `=`.
pub fn is_dn(user: &str) -> bool {
    user.contains('=')
}

/// Checks a DN's syntax (RFC 4514): `attr=value` pairs separated by unescaped `,` (or `+`
/// within an RDN), attribute types named by a letter-led name or a dotted OID, escapes whole.
pub fn check_dn(dn: &str) -> Result<(), String> {
    let mut rest = dn;
    loop {
        let Some(eq) = rest.find('=') else {
            return Err(format!(
                "{dn:?} is not a DN: {rest:?} has no attribute=value"
            ));
        };
        check_attribute_type(rest[..eq].trim(), dn)?;
        let value = &rest[eq + 1..];
        match value_end(value).map_err(|e| format!("{dn:?} is not a DN: {e}"))? {
            Some(end) => rest = &value[end + 1..],
            None => return Ok(()),
        }
    }
}

fn check_attribute_type(name: &str, dn: &str) -> Result<(), String> {
    let oid = !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let descr = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if oid || descr {
        Ok(())
    } else {
        Err(format!(
            "{dn:?} is not a DN: {name:?} is not an attribute type"
        ))
    }
}

/// The index of the separator (`,` `;` or `+`) ending a value, `None` at the end of the DN.
fn value_end(value: &str) -> Result<Option<usize>, String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let next = bytes.get(i + 1).ok_or("it ends in a lone backslash")?;
                let hex =
                    next.is_ascii_hexdigit() && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                i += if hex { 3 } else { 2 };
            }
            b',' | b';' | b'+' => return Ok(Some(i)),
            b'"' | b'<' | b'>' | b'\0' => {
                return Err(format!(
                    "{:?} must be escaped with a backslash",
                    bytes[i] as char
                ))
            }
            _ => i += 1,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_cannot_change_the_filter() {
        assert_eq!(filter_value("alice"), "alice");
        assert_eq!(filter_value("*"), "\\2a");
        assert_eq!(filter_value("a)(uid=*"), "a\\29\\28uid=\\2a");
        assert_eq!(filter_value("back\\slash\0"), "back\\5cslash\\00");
        assert_eq!(filter_value("zoë"), "zoë");
        assert_eq!(
            fill_filter("(|(uid={user})(mail={user}))", "x*"),
            "(|(uid=x\\2a)(mail=x\\2a))"
        );
    }

    #[test]
    fn filter_templates_are_checked() {
        assert!(check_filter("(uid={user})").is_ok());
        assert!(check_filter("(&(objectClass=user)(sAMAccountName={user}))").is_ok());
        let e = check_filter("(uid=alice)").unwrap_err().to_string();
        assert!(e.starts_with("user_filter") && e.contains("{user}"), "{e}");
        let e = check_filter("(uid={user}").unwrap_err().to_string();
        assert!(e.contains("not an LDAP filter"), "{e}");
    }

    #[test]
    fn dns_are_checked() {
        for ok in [
            "uid=alice,ou=people,dc=example,dc=com",
            "CN=Smith\\, John,CN=Users,DC=corp,DC=test",
            "cn=a+sn=b,dc=x",
            "2.5.4.3=x\\2cy,dc=x",
            "cn=,dc=x",
        ] {
            assert!(check_dn(ok).is_ok(), "{ok}");
        }
        for bad in [
            "uid=alice,ou",
            "=x",
            "u id=x",
            "cn=a\\",
            "cn=a\"b",
            "cn=x,1a=y",
        ] {
            assert!(check_dn(bad).is_err(), "{bad}");
        }
        assert!(is_dn("uid=a") && !is_dn("alice"));
    }
}
