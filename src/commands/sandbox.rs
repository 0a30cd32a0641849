//! `credrotate sandbox`: the simulated identity provider as a foreground process. Prints one JSON
//! line (base URLs and the bearer token it accepts) when ready, serves until SIGINT/SIGTERM.

use super::{Exit, Fatal, RuntimeContext, UsageContext};
use crate::sandbox::{Options, Sandbox};

#[derive(Debug)]
pub struct SandboxCommand {
    pub options: Options,
}

pub async fn serve(cmd: SandboxCommand) -> Result<Exit, Fatal> {
    let sandbox = Sandbox::start(cmd.options).await.usage()?;
    println!("{}", sandbox.ready_line());
    wait_for_signal().await.runtime()?;
    sandbox.shutdown().await;
    Ok(Exit::Success)
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
