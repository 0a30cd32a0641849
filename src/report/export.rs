//! The password export: `passwords.csv.age`, a standard age file whose plaintext is
//! `user,method,provider,password,state` (`state`: `confirmed`, or `candidate` for a row whose
//! reset answer was lost), encrypted to the run's recipients (age X25519 or SSH keys);
//! or, only with `--export-plaintext`, `passwords.csv` in the clear (0600).
//!
//! Invariants: passwords reach the file only through this module, streamed (memory does not grow
//! with the row count); the file appears under its final name only once complete; each CSV line
//! is built in one zeroizing buffer, wiped after it is handed to the encryptor (age's own chunk
//! buffer is beyond our reach). Cells are exact (a password may start with `=`): the export is
//! data to import, not a sheet to open.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use zeroize::{Zeroize, Zeroizing};

use super::files::AtomicFile;
use crate::secret::{ExposeSecret, SecretString};
use crate::values::recipient::parse_recipient;

pub const EXPORT_AGE: &str = "passwords.csv.age";
pub const EXPORT_PLAIN: &str = "passwords.csv";
/// `state` is `confirmed` (the provider confirmed this password) or `candidate` (a reset whose
/// answer was lost: one of the row's candidates is in force; try them in order).
const HEADER: [&str; 5] = ["user", "method", "provider", "password", "state"];

enum Sink {
    Age(age::stream::StreamWriter<AtomicFile>),
    Plain(AtomicFile),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Age(w) => w.write(buf),
            Sink::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Age(w) => w.flush(),
            Sink::Plain(w) => w.flush(),
        }
    }
}

/// Where exported passwords go.
pub enum Destination<'a> {
    Encrypted(&'a [String]),
    Plaintext,
}

pub struct Export {
    sink: Sink,
    /// One CSV line at a time; wiped after each.
    line: Zeroizing<Vec<u8>>,
}

impl Export {
    pub fn create(dir: &Path, to: Destination<'_>) -> Result<Export> {
        let sink = match to {
            Destination::Encrypted(recipients) => Sink::Age(
                encryptor(recipients)?.wrap_output(AtomicFile::create(dir.join(EXPORT_AGE))?)?,
            ),
            Destination::Plaintext => Sink::Plain(AtomicFile::create(dir.join(EXPORT_PLAIN))?),
        };
        let mut export = Export {
            sink,
            line: Zeroizing::new(Vec::with_capacity(256)),
        };
        export.put(HEADER)?;
        Ok(export)
    }

    /// One export line; `state` is `confirmed` or `candidate`.
    pub fn write(&mut self, row: [&str; 3], password: &SecretString, state: &str) -> Result<()> {
        let [user, method, provider] = row;
        self.put([user, method, provider, password.expose_secret(), state])
    }

    /// Encodes one CSV line, hands it on, and wipes the buffer (its whole capacity).
    fn put(&mut self, cells: [&str; 5]) -> Result<()> {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            encode_cell(&mut self.line, cell);
        }
        self.line.push(b'\n');
        let written = self.sink.write_all(&self.line);
        self.line.zeroize();
        Ok(written?)
    }

    /// Completes the file (age trailer, sync) and renames it into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.sink.flush()?;
        let file = match self.sink {
            Sink::Age(w) => w.finish()?,
            Sink::Plain(f) => f,
        };
        file.commit()
    }
}

/// Appends one RFC 4180 cell: quoted (quotes doubled) when it holds a comma, quote, CR or LF, or
/// starts or ends with a space, so any CSV reader gets the exact text back.
fn encode_cell(out: &mut Vec<u8>, cell: &str) {
    let quote =
        cell.contains([',', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ');
    if !quote {
        out.extend_from_slice(cell.as_bytes());
        return;
    }
    out.push(b'"');
    for b in cell.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn encryptor(recipients: &[String]) -> Result<age::Encryptor> {
    let parsed = recipients
        .iter()
        .map(|r| parse_recipient(r))
        .collect::<Result<Vec<_>>>()?;
    if parsed.is_empty() {
        bail!("no export recipient (hint: pass --recipient age1... or --recipients-file PATH)");
    }
    age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
        .map_err(|e| anyhow!("cannot encrypt to these recipients: {e}"))
}

/// Decrypts an export with an age identity (tests and the demo's self-check).
pub fn decrypt(path: &Path, identity: &age::x25519::Identity) -> Result<Vec<Vec<String>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file))?;
    let reader = decryptor.decrypt(std::iter::once(identity as &dyn age::Identity))?;
    let mut csv = csv::Reader::from_reader(reader);
    let mut rows = Vec::new();
    for rec in csv.records() {
        let rec = rec?;
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn roundtrip_to_x25519() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let recipients = vec![id.to_public().to_string()];
        let mut e = Export::create(dir.path(), Destination::Encrypted(&recipients)).unwrap();
        e.write(
            ["alice", "m", "graph"],
            &secret("p,w\"1".into()),
            "confirmed",
        )
        .unwrap();
        let path = e.finish().unwrap();
        let rows = decrypt(&path, &id).unwrap();
        let expected = vec![["alice", "m", "graph", "p,w\"1", "confirmed"]
            .map(String::from)
            .to_vec()];
        assert_eq!(rows, expected);
        let raw = std::fs::read(&path).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("alice"));
    }

    #[test]
    fn awkward_cells_come_back_exact() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let recipients = vec![id.to_public().to_string()];
        let mut e = Export::create(dir.path(), Destination::Encrypted(&recipients)).unwrap();
        let awkward = [
            "=1+1",
            " lead",
            "trail ",
            "a\"b",
            "x\r\ny",
            "",
            "caf\u{e9},\t",
        ];
        for pw in awkward {
            e.write(["u", "m", "p"], &secret(pw.into()), "candidate")
                .unwrap();
        }
        let rows = decrypt(&e.finish().unwrap(), &id).unwrap();
        let got: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(got, awkward);
        assert!(rows.iter().all(|r| r.len() == 5 && r[4] == "candidate"));
    }

    #[test]
    fn rejects_bad_recipients() {
        assert!(parse_recipient("age1notakey").is_err());
        assert!(parse_recipient("hello").is_err());
        let id = age::x25519::Identity::generate();
        assert!(parse_recipient(&id.to_public().to_string()).is_ok());
    }
}
