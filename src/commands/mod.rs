//! The commands behind the CLI, taking typed options (no clap here) and returning an exit code.
//!
//! Exit codes (docs/DESIGN.md §2, a public interface): 0 every row succeeded · 1 the run finished and
//! some rows failed · 2 usage, config or manifest error (nothing was sent) · 3 aborted by canary
//! or circuit breaker · 130/143 interrupted by SIGINT/SIGTERM.

pub mod demo;
pub mod failure_log;
pub mod finale;
pub mod merge;
pub mod plan;
pub mod report;
pub mod resume;
pub mod run;
pub mod run_or_resume;
pub mod sandbox;
pub mod selection;
pub mod session;
pub mod shard;
pub mod signals;
pub mod unattended;
pub mod validate;

use std::fmt;

/// A process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    RowsFailed,
    Usage,
    /// Stopped on purpose by the circuit breaker or the canary (resumable).
    Aborted,
    Interrupted(i32),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::RowsFailed => 1,
            Exit::Usage => 2,
            Exit::Aborted => 3,
            Exit::Interrupted(signal) => (128 + signal) as u8,
        }
    }
}

/// An error that ends the command, with the exit code it deserves.
#[derive(Debug)]
pub struct Fatal {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// A layer's error ends the command with the exit code its class means.
impl<E> From<E> for Fatal
where
    E: crate::exit_class::Classified + std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Fatal {
        let exit = match error.exit_class() {
            crate::exit_class::ExitClass::Usage => Exit::Usage,
            crate::exit_class::ExitClass::Runtime => Exit::RowsFailed,
        };
        Fatal {
            exit,
            error: error.into(),
        }
    }
}

/// Marks errors found before anything was sent: exit 2 (for errors of no classified type).
pub trait UsageContext<T> {
    fn usage(self) -> Result<T, Fatal>;
}

impl<T, E: Into<anyhow::Error>> UsageContext<T> for Result<T, E> {
    fn usage(self) -> Result<T, Fatal> {
        self.map_err(|e| Fatal {
            exit: Exit::Usage,
            error: e.into(),
        })
    }
}

/// Errors during or after sending: exit 1 (some rows may not have been processed).
pub trait RuntimeContext<T> {
    fn runtime(self) -> Result<T, Fatal>;
}

impl<T, E: Into<anyhow::Error>> RuntimeContext<T> for Result<T, E> {
    fn runtime(self) -> Result<T, Fatal> {
        self.map_err(|e| Fatal {
            exit: Exit::RowsFailed,
            error: e.into(),
        })
    }
}

/// A parsed command line.
#[derive(Debug)]
pub enum Command {
    Run(run::RunOptions),
    Resume(resume::ResumeOptions),
    Report(report::ReportOptions),
    Validate(validate::ValidateOptions),
    Sandbox(sandbox::SandboxCommand),
    Demo(demo::DemoOptions),
    /// Print generated text (completions, man page) on stdout.
    Print(String),
}

/// Runs a command and reports a fatal error on stderr. Returns the process exit code.
pub async fn execute(command: Command) -> u8 {
    let result = match command {
        Command::Run(o) => run::run(o).await,
        Command::Resume(o) => resume::resume(o).await,
        Command::Report(o) => report::report(o).await,
        Command::Validate(o) => validate::validate(o),
        Command::Sandbox(o) => sandbox::serve(o).await,
        Command::Demo(o) => demo::demo(o).await,
        Command::Print(text) => {
            crate::say_part!("{text}");
            Ok(Exit::Success)
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(fatal) => {
            crate::logging::fatal(&fatal.to_string(), fatal.exit.code());
            fatal.exit.code()
        }
    }
}
