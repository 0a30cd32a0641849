//! The journal header's MAC: HMAC-SHA256 keyed by the run key, so `resume` and `report` notice a
//! header whose recipients or settings were changed after the run started (an altered recipient
//! list would have a resume seal new passwords to someone else).
//!
//! The MAC covers the header line exactly as it is on disk (not a re-serialisation, whose number
//! formatting could drift), with the MAC's own 64 hex digits read as zeros. Its key is derived
//! from the run key's secret with a fixed label, so it is never stored and goes with
//! `journal.key`: without the run key a header cannot be checked, and callers say so.
//!
//! Invariants: [`authenticate_header`] is the last change made to a header before it is written;
//! [`verify_header`] accepts a header only if the first line of the journal parses to exactly that
//! header and its MAC matches (compared in constant time).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::record::{Header, Record};
use super::{RunKey, JOURNAL_FILE};
use crate::secret::ExposeSecret;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: this key authenticates journal headers and nothing else.
const LABEL: &[u8] = b"credrotate journal header MAC v2";
/// Hex digits of an HMAC-SHA256.
const MAC_HEX: usize = 64;

/// Sets `header.mac` to the MAC of the line the journal writer will write for it.
pub fn authenticate_header(header: &mut Header, key: &RunKey) -> Result<()> {
    header.mac = "0".repeat(MAC_HEX);
    let line = serde_json::to_vec(&Record::Header(Box::new(header.clone())))
        .context("cannot serialise the journal header")?;
    header.mac = hex(&mac(key, &line)?);
    Ok(())
}

/// Checks that the first line of `DIR/journal.jsonl` is `header` and carries a valid MAC.
pub fn verify_header(dir: &Path, header: &Header, key: &RunKey) -> Result<()> {
    let path = dir.join(JOURNAL_FILE);
    let mut line = first_line(&path)?;
    let parsed: Record = serde_json::from_slice(&line)
        .map_err(|_| anyhow!("{}:1: the journal header is damaged", path.display()))?;
    if parsed != Record::Header(Box::new(header.clone())) {
        bail!("{} changed while it was being read", path.display());
    }
    zero_mac(&mut line, &header.mac).map_err(|why| tampered(&path, why))?;
    let mut check = keyed(key)?;
    check.update(&line);
    let expected = unhex(&header.mac).ok_or_else(|| tampered(&path, "its MAC is not hex"))?;
    check
        .verify_slice(&expected)
        .map_err(|_| tampered(&path, "its MAC does not match"))
}

fn tampered(path: &Path, why: &str) -> anyhow::Error {
    anyhow!(
        "the journal header in {} was changed after the run started ({why}): its recipients or settings cannot be trusted, and resuming could seal new passwords to someone else (hint: restore journal.jsonl from a backup, or rebuild the export with `credrotate report --identity KEY` and start a new run)",
        path.display()
    )
}

/// The journal's first line, without its newline.
fn first_line(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut line = Vec::new();
    BufReader::new(file)
        .read_until(b'\n', &mut line)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(line)
}

/// Replaces the one `"mac":"<hex>"` of the line with zeros, as it was when the MAC was computed.
fn zero_mac(line: &mut [u8], mac: &str) -> Result<(), &'static str> {
    if mac.len() != MAC_HEX {
        return Err("it has no MAC");
    }
    let field = format!("\"mac\":\"{mac}\"");
    let found: Vec<usize> = line
        .windows(field.len())
        .enumerate()
        .filter(|(_, w)| *w == field.as_bytes())
        .map(|(i, _)| i)
        .collect();
    let [at] = found[..] else {
        return Err("its MAC field is ambiguous");
    };
    let digits = at + "\"mac\":\"".len();
    line[digits..digits + MAC_HEX].fill(b'0');
    Ok(())
}

/// An HMAC keyed for journal headers of this run.
fn keyed(key: &RunKey) -> Result<HmacSha256> {
    let secret = key.identity().to_string();
    let mut derive = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|e| anyhow!("cannot key the header MAC: {e}"))?;
    derive.update(LABEL);
    let derived = Zeroizing::new(<[u8; 32]>::from(derive.finalize().into_bytes()));
    HmacSha256::new_from_slice(derived.as_slice())
        .map_err(|e| anyhow!("cannot key the header MAC: {e}"))
}

fn mac(key: &RunKey, line: &[u8]) -> Result<Vec<u8>> {
    let mut m = keyed(key)?;
    m.update(line);
    Ok(m.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::tests::header;
    use crate::journal::{read_journal, JournalWriter};

    async fn journal(dir: &Path, key: &RunKey) -> Header {
        let mut h = header();
        h.run.manifest = "/data/üsers.csv".into();
        h.run.timeout = std::time::Duration::from_millis(1500);
        authenticate_header(&mut h, key).expect("mac");
        let w = JournalWriter::create(dir, &h, false).expect("journal");
        w.close().await.expect("closed");
        read_journal(dir).expect("reads").header
    }

    #[tokio::test]
    async fn an_untouched_header_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = RunKey::create(dir.path()).expect("key");
        let h = journal(dir.path(), &key).await;
        assert_eq!(h.mac.len(), MAC_HEX);
        verify_header(dir.path(), &h, &key).expect("verifies");
    }

    #[tokio::test]
    async fn changed_recipients_or_config_or_another_key_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = RunKey::create(dir.path()).expect("key");
        let h = journal(dir.path(), &key).await;
        let path = dir.path().join(JOURNAL_FILE);
        let original = std::fs::read_to_string(&path).expect("read");
        for (from, to) in [("age1example", "age1attacker"), ("sers.csv", "sers2.csv")] {
            std::fs::write(&path, original.replacen(from, to, 1)).expect("tamper");
            let changed = read_journal(dir.path()).expect("reads").header;
            let err = verify_header(dir.path(), &changed, &key).expect_err("tampered");
            assert!(format!("{err:#}").contains("was changed after the run started"));
        }
        std::fs::write(&path, &original).expect("restore");
        let other = tempfile::tempdir().expect("tempdir");
        let other_key = RunKey::create(other.path()).expect("key");
        assert!(verify_header(dir.path(), &h, &other_key).is_err());
        let mut no_mac = h.clone();
        no_mac.mac = String::new();
        std::fs::write(
            &path,
            serde_json::to_string(&Record::Header(Box::new(no_mac.clone()))).expect("json") + "\n",
        )
        .expect("write");
        assert!(verify_header(dir.path(), &no_mac, &key).is_err());
    }
}
