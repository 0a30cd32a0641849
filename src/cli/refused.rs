//! Flags people reach for that would put a secret in argv (visible to every user in `ps`):
//! accepted by the parser only to be refused with the safe alternative.

use anyhow::{bail, Result};
use clap::Args;

/// Flags people reach for that would put a secret in argv: accepted by the parser only to be
/// refused with the safe alternative.
#[derive(Debug, Args)]
pub(super) struct RefusedSecrets {
    #[arg(long, hide = true, value_name = "VALUE")]
    token: Option<String>,
    #[arg(long, hide = true, value_name = "VALUE")]
    password: Option<String>,
    #[arg(long, hide = true, value_name = "VALUE")]
    client_secret: Option<String>,
    #[arg(long, hide = true, value_name = "VALUE")]
    api_key: Option<String>,
}

impl RefusedSecrets {
    pub(super) fn check(&self) -> Result<()> {
        let refused = [
            (
                self.token.is_some(),
                "--token",
                "token_file in the config, or the environment variable CREDROTATE_TOKEN",
            ),
            (
                self.password.is_some(),
                "--password",
                "a new_password column in the manifest (or let credrotate generate them)",
            ),
            (
                self.client_secret.is_some(),
                "--client-secret",
                "client_secret_file in the config",
            ),
            (
                self.api_key.is_some(),
                "--api-key",
                "a key file or environment variable named in the config",
            ),
        ];
        for (given, flag, instead) in refused {
            if given {
                bail!("{flag} is refused: secrets on the command line are visible to every user in `ps` (hint: use {instead})");
            }
        }
        Ok(())
    }
}
