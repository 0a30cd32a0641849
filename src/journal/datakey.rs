//! The run's data key: one random 32-byte key per run that encrypts every journaled password
//! with XChaCha20-Poly1305, wrapped once with age to the export recipients and the run key.
//!
//! A wrapped key is an armored age file (in the journal header's `data_key`), so whoever holds
//! `journal.key` or a recipient's private key unwraps it, and with it every password of the run.
//! A sealed password is `base64(nonce ‖ ciphertext ‖ tag)` with a random 24-byte nonce (from `ThreadRng`, a CSPRNG); its
//! associated data is a [`Binding`] (record kind, session, row, attempt), so a ciphertext moved
//! to another row, attempt or record fails to open instead of exporting a wrong password.
//!
//! Invariants: the key lives only in a zeroizing buffer and is never written unwrapped;
//! plaintext lives only in `SecretString` or `Zeroizing` buffers; errors never quote a password,
//! a sealed text or key material.

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use anyhow::{anyhow, bail, Context, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::b64;
use super::identity::Identity;
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::values::recipient::parse_recipient;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// Domain separation of the associated data (bumped with the journal format).
const AD_LABEL: &[u8] = b"credrotate journal v4 password\0";

/// Which record a sealed password sits in, and for which row and attempt: the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub kind: SealedIn,
    pub session: u32,
    pub row: u64,
    pub attempt: u32,
}

/// The record kind holding a sealed password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedIn {
    /// A client-chosen password, in the attempt's intent.
    Intent,
    /// A server-generated password, in the row's final outcome.
    Outcome,
}

impl Binding {
    pub fn intent(session: u32, row: u64, attempt: u32) -> Binding {
        Binding {
            kind: SealedIn::Intent,
            session,
            row,
            attempt,
        }
    }

    pub fn outcome(session: u32, row: u64, attempt: u32) -> Binding {
        Binding {
            kind: SealedIn::Outcome,
            session,
            row,
            attempt,
        }
    }

    fn associated_data(&self) -> Vec<u8> {
        let mut ad = AD_LABEL.to_vec();
        ad.push(match self.kind {
            SealedIn::Intent => b'i',
            SealedIn::Outcome => b'o',
        });
        ad.extend_from_slice(&self.session.to_be_bytes());
        ad.extend_from_slice(&self.row.to_be_bytes());
        ad.extend_from_slice(&self.attempt.to_be_bytes());
        ad
    }
}

/// The run's symmetric key.
pub struct DataKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    cipher: XChaCha20Poly1305,
}

impl DataKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> DataKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        DataKey::from_bytes(key)
    }

    fn from_bytes(key: Zeroizing<[u8; KEY_LEN]>) -> DataKey {
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        DataKey { key, cipher }
    }

    /// The key wrapped with age (armored) to every export recipient plus `run_recipient`.
    pub fn wrap(&self, recipients: &[String], run_recipient: &str) -> Result<String> {
        let run = age::x25519::Recipient::from_str(run_recipient)
            .map_err(|e| anyhow!("invalid run recipient {run_recipient:?}: {e}"))?;
        let mut all = recipients
            .iter()
            .map(|r| parse_recipient(r))
            .collect::<Result<Vec<_>>>()?;
        all.push(Box::new(run));
        let encryptor = age::Encryptor::with_recipients(all.iter().map(|r| r.as_ref() as _))
            .map_err(|e| anyhow!("cannot wrap the run's data key to these recipients: {e}"))?;
        let armor = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor)?;
        let mut writer = encryptor.wrap_output(armor)?;
        writer.write_all(self.key.as_slice())?;
        let bytes = writer.finish()?.finish()?;
        String::from_utf8(bytes).context("age armor produced non-ASCII output")
    }

    /// Unwraps a key wrapped by [`DataKey::wrap`] with any of `identities`.
    pub fn unwrap(wrapped: &str, identities: &[Identity]) -> Result<DataKey> {
        let decryptor = age::Decryptor::new(ArmoredReader::new(wrapped.as_bytes()))
            .map_err(|e| anyhow!("the journal's data key is not an age file: {e}"))?;
        if decryptor.is_scrypt() {
            bail!("the journal's data key is passphrase-encrypted, which credrotate never writes");
        }
        let mut stream = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                anyhow!("cannot unwrap the journal's data key with this key: {e} (hint: the key is neither this run's journal.key nor one of the export recipients it was started with)")
            })?;
        let mut plain = Zeroizing::new(Vec::with_capacity(KEY_LEN));
        stream
            .read_to_end(&mut plain)
            .map_err(|e| anyhow!("the journal's data key is damaged: {e}"))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            bail!("the journal's data key has the wrong length");
        }
        key.copy_from_slice(&plain);
        Ok(DataKey::from_bytes(key))
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)` of `password`, bound to `to`.
    pub fn seal(&self, password: &SecretString, to: Binding) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        // ThreadRng: ChaCha12 keyed from the OS and reseeded, one syscall per many nonces; a
        // 24-byte random nonce from it does not repeat.
        rand::thread_rng().fill_bytes(&mut nonce);
        let ad = to.associated_data();
        let payload = Payload {
            msg: password.expose_secret().as_bytes(),
            aad: &ad,
        };
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| anyhow!("cannot encrypt a password for the journal"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(b64::encode(&out))
    }

    /// The password in `sealed`, if it was sealed with this key for exactly `to`.
    pub fn open(&self, sealed: &str, to: Binding) -> Result<SecretString> {
        let bytes = b64::decode(sealed)
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(|| anyhow!("a sealed password in the journal is damaged (not base64)"))?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let ad = to.associated_data();
        let payload = Payload {
            msg: ciphertext,
            aad: &ad,
        };
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(XNonce::from_slice(nonce), payload)
                .map_err(|_| {
                    anyhow!("a sealed password in the journal does not open with the run's data key for row {} (session {}, attempt {}): the journal was damaged or edited", to.row, to.session, to.attempt)
                })?,
        );
        let text = std::str::from_utf8(&plain)
            .map_err(|_| anyhow!("a sealed password in the journal is not UTF-8 text"))?;
        Ok(secret(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_and_operator() -> (age::x25519::Identity, age::x25519::Identity) {
        (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        )
    }

    #[test]
    fn a_password_opens_only_where_it_was_bound() {
        let key = DataKey::generate();
        let at = Binding::intent(1, 7, 2);
        let sealed = key.seal(&secret("Tr0ub4dor&3".into()), at).expect("seals");
        assert!(
            !sealed.contains("Tr0ub4dor") && sealed.len() <= 96,
            "{sealed}"
        );
        assert_eq!(
            key.open(&sealed, at).expect("opens").expose_secret(),
            "Tr0ub4dor&3"
        );
        for other in [
            Binding::intent(1, 8, 2),
            Binding::intent(1, 7, 3),
            Binding::intent(2, 7, 2),
            Binding::outcome(1, 7, 2),
        ] {
            let msg = format!("{:#}", key.open(&sealed, other).expect_err("moved"));
            assert!(
                msg.contains("damaged or edited") && !msg.contains("Tr0ub"),
                "{msg}"
            );
        }
        let again = key.seal(&secret("Tr0ub4dor&3".into()), at).expect("seals");
        assert_ne!(again, sealed, "a random nonce per seal");
        assert!(
            DataKey::generate().open(&sealed, at).is_err(),
            "another run's key"
        );
        assert!(key.open("not base64!", at).is_err());
    }

    #[test]
    fn wrapped_for_the_run_key_and_each_recipient() {
        let (run, operator) = run_and_operator();
        let key = DataKey::generate();
        let wrapped = key
            .wrap(
                &[operator.to_public().to_string()],
                &run.to_public().to_string(),
            )
            .expect("wraps");
        assert!(wrapped.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        let sealed = key
            .seal(&secret("pw-1".into()), Binding::intent(1, 1, 1))
            .expect("seals");
        for id in [run, operator] {
            let unwrapped =
                DataKey::unwrap(&wrapped, &[Box::new(id) as Identity]).expect("unwraps");
            let pw = unwrapped
                .open(&sealed, Binding::intent(1, 1, 1))
                .expect("opens");
            assert_eq!(pw.expose_secret(), "pw-1");
        }
        let stranger: Identity = Box::new(age::x25519::Identity::generate());
        let msg = format!(
            "{:#}",
            DataKey::unwrap(&wrapped, &[stranger])
                .err()
                .expect("refused")
        );
        assert!(msg.contains("neither this run's journal.key"), "{msg}");
    }

    #[test]
    fn wraps_to_ssh_recipients_too() {
        let run = age::x25519::Identity::generate();
        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust";
        let wrapped = DataKey::generate()
            .wrap(&[ssh.into()], &run.to_public().to_string())
            .expect("wraps");
        DataKey::unwrap(&wrapped, &[Box::new(run) as Identity]).expect("run key unwraps");
        assert!(DataKey::generate()
            .wrap(
                &["age1nope".into()],
                &age::x25519::Identity::generate().to_public().to_string()
            )
            .is_err());
    }
}
