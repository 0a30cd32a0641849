//! Flags of `run` and `validate` about trust and password policy: `--ca-file` and the
//! `--password-*` overrides of the config's `[password]` section.
//!
//! Invariant: none of these takes a secret value. `allow_short` has no flag on purpose: a
//! password shorter than 20 characters needs the config file to say so.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::PasswordOverrides;
use crate::password::Generate;

#[derive(Debug, Args)]
pub(super) struct SecurityArgs {
    /// Also trust the CA certificates in this PEM file (private CAs; the sandbox's --tls CA).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Length of generated passwords (default 24; below 20 needs allow_short = true in the config).
    #[arg(long, value_name = "N")]
    password_length: Option<usize>,
    /// Special characters generated passwords draw from (default !#$%&()*+,-./:;<=>?@[]^_{|}~).
    #[arg(long, value_name = "CHARS", allow_hyphen_values = true)]
    password_special: Option<String>,
    /// Characters never to use, e.g. the ambiguous 0O1lI.
    #[arg(long, value_name = "CHARS", allow_hyphen_values = true)]
    password_exclude: Option<String>,
    /// Who generates passwords: client (credrotate) or server (providers that can).
    #[arg(long, value_enum, value_name = "WHO")]
    password_generate: Option<GenerateArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GenerateArg {
    Client,
    Server,
}

impl SecurityArgs {
    pub(super) fn ca_file(&self) -> Option<PathBuf> {
        self.ca_file.clone()
    }

    pub(super) fn password(&self) -> PasswordOverrides {
        PasswordOverrides {
            length: self.password_length,
            special: self.password_special.clone(),
            exclude: self.password_exclude.clone(),
            generate: self.password_generate.map(|g| match g {
                GenerateArg::Client => Generate::Client,
                GenerateArg::Server => Generate::Server,
            }),
        }
    }
}
