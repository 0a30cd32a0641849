//! Which candidate passwords of an uncertain row were exported already, so a password journaled
//! by several attempts (each sealed anew, so their ciphertexts differ) is exported once.
//!
//! Invariants: holds no password, only a keyed digest (HMAC-SHA256 under a random per-process
//! key, cut to 128 bits) per exported candidate, and only for uncertain rows: memory grows with
//! the candidates exported, not with the run.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::{ExposeSecret, SecretString};

type Digest = [u8; 16];

pub struct Candidates {
    key: Zeroizing<[u8; 32]>,
    seen: HashMap<u64, Vec<Digest>>,
}

impl Default for Candidates {
    fn default() -> Candidates {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        Candidates {
            key,
            seen: HashMap::new(),
        }
    }
}

impl Candidates {
    /// True the first time `password` is seen for `row`.
    pub fn is_new(&mut self, row: u64, password: &SecretString) -> bool {
        let digest = self.digest(password);
        let seen = self.seen.entry(row).or_default();
        if seen.contains(&digest) {
            return false;
        }
        seen.push(digest);
        true
    }

    fn digest(&self, password: &SecretString) -> Digest {
        let mut mac = <Hmac<Sha256>>::new_from_slice(self.key.as_slice()).expect("any key length");
        mac.update(password.expose_secret().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn each_password_once_per_row() {
        let mut c = Candidates::default();
        assert!(c.is_new(1, &secret("A".into())));
        assert!(!c.is_new(1, &secret("A".into())));
        assert!(c.is_new(1, &secret("B".into())));
        assert!(c.is_new(2, &secret("A".into())), "rows are apart");
    }
}
