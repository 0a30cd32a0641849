//! `--shard I/N`: which share of a manifest one process of a sharded rotation (a Kubernetes
//! Indexed Job pod) takes.
//!
//! Invariants: a row belongs to exactly one of the N shards, chosen by a stable hash of its
//! (provider, user, method): the same row lands in the same shard on every machine, in every
//! version and whatever the manifest's order, so shards are disjoint, their union is the whole
//! manifest, and a resumed shard takes the same rows. `I` counts from 0 (Kubernetes'
//! `JOB_COMPLETION_INDEX`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Most shards a rotation may be split into (a Kubernetes Indexed Job allows 100,000 pods).
pub const MAX_SHARDS: u32 = 100_000;

impl Shard {
    /// Whether the row (provider, user, method) is this shard's.
    pub fn contains(&self, provider: &str, user: &str, method: &str) -> bool {
        shard_of(provider, user, method, self.count) == self.index
    }
}

/// The shard (of `count`) a row belongs to: SHA-256 over the three fields, each prefixed by its
/// length (so `("ab","c")` and `("a","bc")` differ), read as a big-endian u64, modulo `count`.
pub fn shard_of(provider: &str, user: &str, method: &str, count: u32) -> u32 {
    let mut hash = Sha256::new();
    for field in [provider, user, method] {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let hint = "expected I/N with 0 <= I < N, e.g. 0/4 (I counts from 0, like Kubernetes' JOB_COMPLETION_INDEX)";
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("shard {text:?}: {hint}"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("shard {text:?}: {hint}"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(format!("shard {text:?}: {hint}"));
        }
        if count > MAX_SHARDS {
            return Err(format!("shard {text:?}: at most {MAX_SHARDS} shards"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Shard {
    type Error = String;

    fn try_from(s: String) -> Result<Shard, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard { index: 0, count: 1 }.to_string(), "0/1");
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3", "0/100001"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_stable_across_versions() {
        // Changing the hash would move rows between shards of a rotation under way.
        assert_eq!(
            shard_of("graph", "alice@example.test", "", 1000),
            shard_of("graph", "alice@example.test", "", 1000)
        );
        let spread: std::collections::BTreeSet<u32> = (0..200)
            .map(|i| shard_of("graph", &format!("u{i}"), "", 8))
            .collect();
        assert_eq!(spread.len(), 8, "200 users reach every one of 8 shards");
    }

    proptest! {
        /// Every row is in exactly one shard: disjoint, and the union is the manifest.
        #[test]
        fn each_row_is_in_exactly_one_shard(
            rows in proptest::collection::vec(("[a-c]{1,3}", "[a-z0-9@.]{0,12}", "[0-9a-f-]{0,6}"), 1..50),
            count in 1u32..17,
        ) {
            for (provider, user, method) in &rows {
                let owners = (0..count)
                    .filter(|&index| Shard { index, count }.contains(provider, user, method))
                    .count();
                prop_assert_eq!(owners, 1);
            }
        }
    }
}
