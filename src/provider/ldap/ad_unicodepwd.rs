//! Active Directory (and Samba AD): a password is set by a modify of `unicodePwd`, whose value
//! is the password in double quotes, encoded UTF-16LE. An admin reset replaces the value; with
//! the row's `old_password` it is a change (delete the old value, add the new), which AD checks
//! against the old password and the password history.
//!
//! Invariants: only ever sent over TLS (the config refuses `ad_unicodepwd` without LDAPS or
//! StartTLS, as AD does); the encoded values hold the password and are handed to ldap3, which
//! owns them from then on.

use std::collections::HashSet;
use std::time::Duration;

use ldap3::{Ldap, LdapError, Mod};

use crate::secret::{ExposeSecret, SecretString};

const ATTRIBUTE: &[u8] = b"unicodePwd";

/// `"password"` (with the quotes) as UTF-16LE bytes, encoded straight from the secret: no
/// quoted copy of the password is left behind in freed memory.
pub fn encode(password: &str) -> Vec<u8> {
    // UTF-16 never needs more units than UTF-8 has bytes, so this never reallocates (which
    // would leave a copy of the password in the freed buffer).
    let mut value = Vec::with_capacity(2 * (password.len() + 2));
    for part in ["\"", password, "\""] {
        value.extend(part.encode_utf16().flat_map(u16::to_le_bytes));
    }
    value
}

/// One modify of `unicodePwd`: a replace, or with `old` a delete-then-add (a change).
pub async fn modify(
    ldap: &mut Ldap,
    timeout: Duration,
    dn: &str,
    old: Option<&SecretString>,
    new: &SecretString,
) -> Result<(), LdapError> {
    let value = |p: &SecretString| HashSet::from([encode(p.expose_secret())]);
    let mods = match old {
        None => vec![Mod::Replace(ATTRIBUTE.to_vec(), value(new))],
        Some(old) => vec![
            Mod::Delete(ATTRIBUTE.to_vec(), value(old)),
            Mod::Add(ATTRIBUTE.to_vec(), value(new)),
        ],
    };
    ldap.with_timeout(timeout)
        .modify(dn, mods)
        .await?
        .success()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_quoted_password_in_utf16le() {
        assert_eq!(encode("ab"), vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
        // Outside the BMP: a surrogate pair, little-endian.
        assert_eq!(encode("😀")[2..6], [0x3d, 0xd8, 0x00, 0xde]);
        assert_eq!(encode("é"), vec![b'"', 0, 0xe9, 0, b'"', 0]);
        for p in ["ab", "😀x", "éé", ""] {
            assert_eq!(encode(p).capacity(), 2 * (p.len() + 2), "{p}: reallocated");
        }
    }
}
