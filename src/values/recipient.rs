//! Export recipients: an age X25519 public key or an SSH public key, as given on the command
//! line (`--recipient`), in a recipients file (`--recipients-file`, like age's `-R`) or in the
//! journal header.
//!
//! Invariants: a recipient that does not parse is refused with the forms that would; a
//! recipients file names the line of a bad entry and must hold at least one.

use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};

/// An export recipient: an age X25519 public key or an SSH public key.
pub type Recipient = Box<dyn age::Recipient + Send + Sync>;

/// Parses `age1...`, `ssh-ed25519 ...` or `ssh-rsa ...`.
pub fn parse_recipient(text: &str) -> Result<Recipient> {
    let text = text.trim();
    if text.starts_with("age1") {
        let r = age::x25519::Recipient::from_str(text)
            .map_err(|e| anyhow!("invalid age recipient {text:?}: {e}"))?;
        return Ok(Box::new(r));
    }
    if text.starts_with("ssh-") {
        let r = age::ssh::Recipient::from_str(text)
            .map_err(|e| anyhow!("invalid SSH recipient: {e:?} (hint: only ssh-ed25519 and ssh-rsa keys are supported)"))?;
        return Ok(Box::new(r));
    }
    bail!("unrecognised recipient {text:?} (hint: expected an age public key age1... or an SSH public key ssh-ed25519/ssh-rsa ...)")
}

/// Reads a recipients file like age's `-R`: one recipient per line, `#` comments and blank lines ignored.
pub fn read_recipients_file(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read recipients file {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        parse_recipient(line).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        out.push(line.to_owned());
    }
    if out.is_empty() {
        bail!("recipients file {} holds no recipient", path.display());
    }
    Ok(out)
}
