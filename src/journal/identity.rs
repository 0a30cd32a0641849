//! Operator identities for `resume --identity` and `report --identity`: an age identity file
//! (`age-keygen` output, as `age -i` takes it) or an SSH private key (ed25519 or RSA), so a run
//! whose `journal.key` is gone can still be finished or its export rebuilt.
//!
//! Invariants: the file's text is held only in a zeroizing buffer; errors name the file (and
//! line), never its contents; a passphrase-protected or unsupported key is refused with what to
//! do instead, before anything is sent.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use zeroize::Zeroizing;

/// An identity that can open sealed passwords, shareable across tasks.
pub type Identity = Box<dyn age::Identity + Send + Sync>;

/// Reads every identity in `path`.
pub fn load_identities(path: &Path) -> Result<Vec<Identity>> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .with_context(|| format!("cannot read the identity file {}", path.display()))?,
    );
    if text.trim_start().starts_with("-----BEGIN") {
        return Ok(vec![ssh_identity(path, &text)?]);
    }
    age_identities(path, &text)
}

/// An age identity file: age's own parser checks it (comments, one key per line, errors that
/// quote no key material).
fn age_identities(path: &Path, text: &str) -> Result<Vec<Identity>> {
    let not_identity = |e: &dyn std::fmt::Display| {
        anyhow!(
            "{} is neither an age identity file nor an SSH private key: {e} (hint: pass the private key the export is encrypted to, e.g. the key.txt from age-keygen or ~/.ssh/id_ed25519)",
            path.display()
        )
    };
    let checked = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| not_identity(&e))?;
    let count = checked
        .into_identities()
        .map_err(|e| not_identity(&e))?
        .len();
    // age hands back identities that are not `Send`; without plugins (not enabled here) every
    // line it accepted is an X25519 key, so the same lines are parsed again as such.
    let identities: Vec<Identity> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| age::x25519::Identity::from_str(l).map(|i| Box::new(i) as Identity))
        .collect::<Result<_, _>>()
        .map_err(|e| not_identity(&e))?;
    if identities.is_empty() || identities.len() != count {
        return Err(not_identity(&"it holds no age identity"));
    }
    Ok(identities)
}

/// An unencrypted OpenSSH or PEM private key.
fn ssh_identity(path: &Path, text: &str) -> Result<Identity> {
    let name = path.display().to_string();
    let identity = age::ssh::Identity::from_buffer(text.as_bytes(), Some(name.clone()))
        .map_err(|e| anyhow!("{name} is not a readable SSH private key: {e}"))?;
    match identity {
        age::ssh::Identity::Unencrypted(_) => Ok(Box::new(identity)),
        age::ssh::Identity::Encrypted(_) => bail!(
            "{name} is passphrase-protected, and credrotate does not prompt for passphrases (hint: make an unprotected copy on a private disk with `cp {name} COPY && ssh-keygen -p -N '' -f COPY`, pass COPY, then delete it)"
        ),
        age::ssh::Identity::Unsupported(_) => {
            bail!("{name}: this kind of SSH key cannot decrypt age files (hint: age supports ssh-ed25519 and ssh-rsa keys)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Binding, DataKey};
    use crate::secret::{secret, ExposeSecret};

    /// A throwaway unencrypted ed25519 key (made with ssh-keygen for these tests) and its public key.
    const SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBu0pz7pORdYRdHOXBXPIVH4NFDH9h9HLUooj856dXyuQAAAJi6waoWusGq
FgAAAAtzc2gtZWQyNTUxOQAAACBu0pz7pORdYRdHOXBXPIVH4NFDH9h9HLUooj856dXyuQ
AAAEDDpXefRAc21beiin0EZOvn7TUUVI7fyfzFIY5oSoYhoG7SnPuk5F1hF0c5cFc8hUfg
0UMf2H0ctSiiPznp1fK5AAAAD2NyZWRyb3RhdGUtdGVzdAECAwQFBg==
-----END OPENSSH PRIVATE KEY-----
";
    const SSH_PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7SnPuk5F1hF0c5cFc8hUfg0UMf2H0ctSiiPznp1fK5 credrotate-test";

    fn opens(identities: Vec<Identity>, recipient: &str) -> String {
        let run = age::x25519::Identity::generate().to_public().to_string();
        let key = DataKey::generate();
        let wrapped = key.wrap(&[recipient.to_owned()], &run).expect("wraps");
        let at = Binding::intent(1, 1, 1);
        let sealed = key
            .seal(&secret("pw-for-operator".into()), at)
            .expect("seals");
        let unwrapped = DataKey::unwrap(&wrapped, &identities).expect("unwraps");
        let opened = unwrapped.open(&sealed, at).expect("opens");
        opened.expose_secret().to_owned()
    }

    #[test]
    fn reads_an_age_identity_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = age::x25519::Identity::generate();
        let path = dir.path().join("key.txt");
        let text = format!(
            "# created: now\n# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        );
        fs::write(&path, text).expect("write");
        let ids = load_identities(&path).expect("loads");
        assert_eq!(opens(ids, &id.to_public().to_string()), "pw-for-operator");
    }

    #[test]
    fn reads_an_ssh_ed25519_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("id_ed25519");
        fs::write(&path, SSH_KEY).expect("write");
        let ids = load_identities(&path).expect("loads");
        assert_eq!(opens(ids, SSH_PUBLIC), "pw-for-operator");
    }

    #[test]
    fn refuses_what_is_not_a_private_key_without_quoting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.txt");
        for text in [
            SSH_PUBLIC,
            "AGE-SECRET-KEY-NOPE-very-secret\n",
            "# nothing\n",
        ] {
            fs::write(&path, text).expect("write");
            let msg = format!("{:#}", load_identities(&path).err().expect("refused"));
            assert!(msg.contains("neither an age identity file"), "{msg}");
            assert!(
                !msg.contains("very-secret") && !msg.contains("AAAAC3"),
                "{msg}"
            );
        }
        let missing = format!(
            "{:#}",
            load_identities(&dir.path().join("no")).err().expect("none")
        );
        assert!(
            missing.contains("cannot read the identity file"),
            "{missing}"
        );
    }
}
