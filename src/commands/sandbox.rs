//! `credrotate sandbox`: the simulated identity provider as a foreground process. Prints one JSON
//! line (base URLs and the bearer token it accepts) when ready, serves until SIGINT/SIGTERM.

use super::{Exit, Fatal, UsageContext};
use crate::sandbox::Options;

#[derive(Debug)]
pub struct SandboxCommand {
    /// Boxed: the options are large beside the other commands.
    pub options: Box<Options>,
}

pub async fn serve(cmd: SandboxCommand) -> Result<Exit, Fatal> {
    crate::sandbox::serve_until_signal(*cmd.options)
        .await
        .usage()?;
    Ok(Exit::Success)
}
