//! Sealing passwords for the journal, and opening them again.
//!
//! A sealed password is a complete ASCII-armored age file (`-----BEGIN AGE ENCRYPTED FILE-----`,
//! newlines included) encrypted to every export recipient plus the run's ephemeral key. So the
//! operator decrypts any journal password with `age -d -i key.txt`, and a resuming process with
//! `journal.key`. In plaintext mode (the header's `plaintext`), the sealed form is the password.
//!
//! Invariants: plaintext lives only in [`SecretString`] or [`Zeroizing`] buffers (age's own
//! encryption buffer aside); errors never contain a password or a sealed text.

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use anyhow::{anyhow, bail, Context, Result};
use zeroize::Zeroizing;

use super::identity::Identity;
use super::record::Header;
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::values::recipient::{parse_recipient, Recipient};

/// Seals passwords for the journal.
pub struct Sealer {
    /// `None` in plaintext mode.
    recipients: Option<Vec<Recipient>>,
}

impl Sealer {
    /// Seals to every export recipient plus `run_recipient` (the run key's `age1...` public key).
    pub fn new(recipients: &[String], run_recipient: &str) -> Result<Sealer> {
        let run = age::x25519::Recipient::from_str(run_recipient)
            .map_err(|e| anyhow!("invalid run recipient {run_recipient:?}: {e}"))?;
        let mut parsed = recipients
            .iter()
            .map(|r| parse_recipient(r))
            .collect::<Result<Vec<_>>>()?;
        parsed.push(Box::new(run));
        Ok(Sealer {
            recipients: Some(parsed),
        })
    }

    /// Stores passwords as they are (`--export-plaintext` without recipients).
    pub fn plaintext() -> Sealer {
        Sealer { recipients: None }
    }

    /// The sealer a journal's header calls for.
    pub fn for_header(header: &Header) -> Result<Sealer> {
        if header.plaintext {
            return Ok(Sealer::plaintext());
        }
        Sealer::new(&header.recipients, &header.run_recipient)
    }

    /// Whether [`Sealer::seal`] returns the password itself.
    #[cfg(test)]
    pub fn is_plaintext(&self) -> bool {
        self.recipients.is_none()
    }

    /// The sealed form of `password`: an armored age file, or the password in plaintext mode.
    pub fn seal(&self, password: &SecretString) -> Result<String> {
        let Some(recipients) = &self.recipients else {
            return Ok(password.expose_secret().to_owned());
        };
        let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref() as _))
            .map_err(|e| anyhow!("cannot seal a password to these recipients: {e}"))?;
        let armor = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor)?;
        let mut writer = encryptor.wrap_output(armor)?;
        writer.write_all(password.expose_secret().as_bytes())?;
        let bytes = writer.finish()?.finish()?;
        String::from_utf8(bytes).context("age armor produced non-ASCII output")
    }
}

/// Opens sealed passwords: with the run key and/or operator identities (age X25519 or SSH), or
/// in plaintext mode.
pub struct Opener {
    /// `None` in plaintext mode.
    identities: Option<Vec<Identity>>,
}

impl Opener {
    pub fn new(identity: age::x25519::Identity) -> Opener {
        Opener::with(vec![Box::new(identity)])
    }

    /// An opener trying each identity in turn (as `age -d -i A -i B` does).
    pub fn with(identities: Vec<Identity>) -> Opener {
        Opener {
            identities: Some(identities),
        }
    }

    pub fn plaintext() -> Opener {
        Opener { identities: None }
    }

    /// Tries `identity` too (nothing changes in plaintext mode).
    pub fn add(&mut self, identity: Identity) {
        if let Some(identities) = &mut self.identities {
            identities.push(identity);
        }
    }

    /// The password inside `sealed`.
    pub fn open(&self, sealed: &str) -> Result<SecretString> {
        let Some(identities) = &self.identities else {
            return Ok(secret(sealed.to_owned()));
        };
        let mut plain = decrypt(identities, sealed.as_bytes())?;
        // Moved, not copied, into the secret; a non-UTF-8 buffer is zeroized on the way out.
        let text = String::from_utf8(std::mem::take(&mut *plain)).map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            anyhow!("a sealed password in the journal is not UTF-8 text")
        })?;
        Ok(secret(text))
    }

    /// Checks, before anything is sent, that this opener reads what `sealer` seals: a probe
    /// sealed and opened again.
    pub fn check(&self, sealer: &Sealer) -> Result<()> {
        let probe = secret("credrotate key probe".into());
        self.open(&sealer.seal(&probe)?).map(drop)
    }
}

/// Decrypts an armored (or binary) age file into a buffer that is zeroized on drop.
fn decrypt(identities: &[Identity], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let reader = ArmoredReader::new(sealed);
    let decryptor = age::Decryptor::new(reader)
        .map_err(|e| anyhow!("a sealed password in the journal is not an age file: {e}"))?;
    if decryptor.is_scrypt() {
        bail!("a sealed password in the journal is passphrase-encrypted, which credrotate never writes");
    }
    let mut stream = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            anyhow!("cannot open a sealed password with this key: {e} (hint: the key is neither this run's journal.key nor one of the export recipients it was started with)")
        })?;
    let mut out = Zeroizing::new(Vec::new());
    stream
        .read_to_end(&mut out)
        .map_err(|e| anyhow!("a sealed password in the journal is damaged: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

    #[test]
    fn sealed_for_run_key_and_operator() {
        let run = age::x25519::Identity::generate();
        let operator = age::x25519::Identity::generate();
        let sealer = Sealer::new(
            &[operator.to_public().to_string()],
            &run.to_public().to_string(),
        )
        .expect("sealer");
        let sealed = sealer
            .seal(&secret("Tr0ub4dor&3-xyzzy".into()))
            .expect("seals");
        assert!(sealed.starts_with(ARMOR_BEGIN) && !sealed.contains("Tr0ub4dor"));
        let by_run = Opener::new(run).open(&sealed).expect("run key opens");
        assert_eq!(by_run.expose_secret(), "Tr0ub4dor&3-xyzzy");
        // What `age -d -i operator.txt` does: a standalone identity, the plain age library API.
        let decryptor =
            age::Decryptor::new(ArmoredReader::new(sealed.as_bytes())).expect("age file");
        let mut plain = String::new();
        decryptor
            .decrypt(std::iter::once(&operator as &dyn age::Identity))
            .expect("operator key opens")
            .read_to_string(&mut plain)
            .expect("reads");
        assert_eq!(plain, "Tr0ub4dor&3-xyzzy");
    }

    #[test]
    fn seals_with_ssh_recipients_too() {
        let run = age::x25519::Identity::generate();
        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust";
        let sealer = Sealer::new(&[ssh.into()], &run.to_public().to_string()).expect("sealer");
        let sealed = sealer.seal(&secret("pw-ssh".into())).expect("seals");
        assert_eq!(
            Opener::new(run)
                .open(&sealed)
                .expect("opens")
                .expose_secret(),
            "pw-ssh"
        );
    }

    #[test]
    fn wrong_key_is_a_clear_error_without_secrets() {
        let run = age::x25519::Identity::generate();
        let sealer = Sealer::new(&[], &run.to_public().to_string()).expect("sealer");
        let sealed = sealer.seal(&secret("never-shown".into())).expect("seals");
        let err = Opener::new(age::x25519::Identity::generate())
            .open(&sealed)
            .expect_err("other key");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("neither this run's journal.key") && !msg.contains("never-shown"),
            "{msg}"
        );
        assert!(Opener::new(run).open("not an age file").is_err());
    }

    #[test]
    fn plaintext_mode_is_identity() {
        let sealer = Sealer::plaintext();
        assert!(sealer.is_plaintext());
        let sealed = sealer.seal(&secret("plain-pw".into())).expect("seals");
        assert_eq!(sealed, "plain-pw");
        assert_eq!(
            Opener::plaintext()
                .open(&sealed)
                .expect("opens")
                .expose_secret(),
            "plain-pw"
        );
    }

    #[test]
    fn bad_recipients_are_refused() {
        let run = age::x25519::Identity::generate().to_public().to_string();
        assert!(Sealer::new(&["age1nope".into()], &run).is_err());
        assert!(Sealer::new(&[], "ssh-ed25519 AAAA").is_err());
    }
}
