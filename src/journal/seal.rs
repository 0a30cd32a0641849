//! Sealing passwords for the journal, and opening them again, with the run's [`DataKey`].
//!
//! The header's `data_key` holds the key wrapped with age to every export recipient plus the
//! run key; a [`Sealer`] encrypts each password with it (XChaCha20-Poly1305, bound to its row
//! and attempt: see [`Binding`]), and an [`Opener`] is made by unwrapping it with the run key
//! or an operator's identity. In plaintext mode (the header's `plaintext`), the sealed form is
//! the password.
//!
//! Invariants: plaintext lives only in [`SecretString`] or zeroizing buffers; errors never
//! contain a password, a sealed text or key material; an opener exists only once the data key
//! unwrapped, so a wrong identity fails before anything is sent.

use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::datakey::{Binding, DataKey};
use super::identity::Identity;
use super::record::Header;
use crate::secret::{secret, ExposeSecret, SecretString};

/// Seals passwords for the journal.
#[derive(Clone)]
pub struct Sealer {
    /// `None` in plaintext mode.
    key: Option<Arc<DataKey>>,
}

impl Sealer {
    #[cfg(test)]
    pub fn new(key: Arc<DataKey>) -> Sealer {
        Sealer { key: Some(key) }
    }

    /// Stores passwords as they are (`--export-plaintext` without recipients).
    #[cfg(test)]
    pub fn plaintext() -> Sealer {
        Sealer { key: None }
    }

    /// Whether [`Sealer::seal`] returns the password itself.
    #[cfg(test)]
    pub fn is_plaintext(&self) -> bool {
        self.key.is_none()
    }

    /// The sealed form of `password` for the record `to`, or the password in plaintext mode.
    pub fn seal(&self, password: &SecretString, to: Binding) -> Result<String> {
        match &self.key {
            None => Ok(password.expose_secret().to_owned()),
            Some(key) => key.seal(password, to),
        }
    }
}

/// Opens sealed passwords (or, in plaintext mode, hands them back).
#[derive(Clone)]
pub struct Opener {
    /// `None` in plaintext mode.
    key: Option<Arc<DataKey>>,
}

impl Opener {
    pub fn new(key: Arc<DataKey>) -> Opener {
        Opener { key: Some(key) }
    }

    pub fn plaintext() -> Opener {
        Opener { key: None }
    }

    /// Unwraps the header's data key with any of `identities` (age X25519 or SSH).
    pub fn for_header(header: &Header, identities: &[Identity]) -> Result<Opener> {
        if header.plaintext {
            return Ok(Opener::plaintext());
        }
        let wrapped = header
            .data_key
            .as_deref()
            .ok_or_else(|| anyhow!("the journal header holds no data key"))?;
        Ok(Opener::new(Arc::new(DataKey::unwrap(wrapped, identities)?)))
    }

    /// The password inside `sealed`, which must have been sealed for `to`.
    pub fn open(&self, sealed: &str, to: Binding) -> Result<SecretString> {
        match &self.key {
            None => Ok(secret(sealed.to_owned())),
            Some(key) => key.open(sealed, to),
        }
    }

    /// A sealer with the same key: a resumed run seals its new passwords like the first session.
    pub fn sealer(&self) -> Sealer {
        Sealer {
            key: self.key.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::tests::header;

    #[test]
    fn an_opener_from_the_header_opens_what_the_run_sealed() {
        let run = age::x25519::Identity::generate();
        let key = Arc::new(DataKey::generate());
        let mut h = header();
        h.recipients = vec![];
        h.data_key = Some(key.wrap(&[], &run.to_public().to_string()).expect("wraps"));
        let at = Binding::intent(1, 3, 1);
        let sealed = Sealer::new(key)
            .seal(&secret("pw-3".into()), at)
            .expect("seals");
        let opener = Opener::for_header(&h, &[Box::new(run)]).expect("unwraps");
        assert_eq!(
            opener.open(&sealed, at).expect("opens").expose_secret(),
            "pw-3"
        );
        let again = opener
            .sealer()
            .seal(&secret("pw-4".into()), at)
            .expect("seals");
        assert_eq!(
            opener.open(&again, at).expect("opens").expose_secret(),
            "pw-4"
        );
        let stranger: Identity = Box::new(age::x25519::Identity::generate());
        assert!(Opener::for_header(&h, &[stranger]).is_err());
    }

    #[test]
    fn plaintext_mode_is_identity() {
        let sealer = Sealer::plaintext();
        assert!(sealer.is_plaintext());
        let at = Binding::intent(1, 1, 1);
        let sealed = sealer.seal(&secret("plain-pw".into()), at).expect("seals");
        assert_eq!(sealed, "plain-pw");
        let opened = Opener::plaintext().open(&sealed, at).expect("opens");
        assert_eq!(opened.expose_secret(), "plain-pw");
    }
}
