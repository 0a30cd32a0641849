//! RFC 3062, the Password Modify extended operation (OpenLDAP, 389-ds): `userIdentity` (the
//! DN), `oldPasswd` (the row's `old_password`, self-service style) and `newPasswd`; without
//! `newPasswd` the server generates the password and returns it as `genPasswd`.
//!
//! Invariants: the server's `genPasswd` is read by a parser that cannot panic (ldap3's own
//! does on a malformed answer); a success that should carry a password but does not is
//! [`Changed::GeneratedUnreadable`]: the password changed to something nobody knows.

use std::time::Duration;

use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapError};

use crate::secret::{secret, ExposeSecret, SecretString};

/// What a successful operation changed the password to.
#[derive(Debug)]
pub enum Changed {
    /// The password sent.
    Sent,
    /// The server generated it and said which.
    Generated(SecretString),
    /// The server generated it but its answer does not say which.
    GeneratedUnreadable,
}

/// One Password Modify request; `new` `None` asks the server to generate the password.
pub async fn modify(
    ldap: &mut Ldap,
    timeout: Duration,
    dn: &str,
    old: Option<&SecretString>,
    new: Option<&SecretString>,
) -> Result<Changed, LdapError> {
    let request = PasswordModify {
        user_id: Some(dn),
        old_pass: old.map(|p| p.expose_secret()),
        new_pass: new.map(|p| p.expose_secret()),
    };
    let ldap3::result::ExopResult(exop, result) =
        ldap.with_timeout(timeout).extended(request).await?;
    result.success()?;
    if new.is_some() {
        return Ok(Changed::Sent);
    }
    Ok(exop
        .val
        .as_deref()
        .and_then(gen_passwd)
        .map_or(Changed::GeneratedUnreadable, Changed::Generated))
}

/// `PasswdModifyResponseValue ::= SEQUENCE { genPasswd [0] OCTET STRING OPTIONAL }`.
fn gen_passwd(value: &[u8]) -> Option<SecretString> {
    let (tag, body, _) = element(value)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, password, _) = element(body)?;
    if tag != 0x80 {
        return None;
    }
    let text = String::from_utf8(password.to_vec()).ok()?;
    (!text.is_empty()).then(|| secret(text))
}

/// One BER element with a definite length: (tag, contents, rest).
fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_passwd_is_read_and_malformed_answers_are_none() {
        let good = [0x30, 0x06, 0x80, 0x04, b'a', b'b', b'c', b'd'];
        assert_eq!(gen_passwd(&good).unwrap().expose_secret(), "abcd");
        let mut long = vec![0x30, 0x81, 0x83, 0x80, 0x81, 0x80];
        long.extend(std::iter::repeat_n(b'x', 128));
        assert_eq!(gen_passwd(&long).unwrap().expose_secret().len(), 128);
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x80, 0x04, b'a'],
            &[0x31, 0x03, 0x80, 0x01, b'a'],
            &[0x30, 0x03, 0x81, 0x01, b'a'],
            &[0x30, 0x02, 0x80, 0x00],
            &[0x30, 0x85, 0, 0, 0, 0, 1],
            &[0x30, 0x04, 0x80, 0x02, 0xff, 0xfe],
        ] {
            assert!(gen_passwd(bad).is_none(), "{bad:?}");
        }
    }
}
