//! Flags and subcommands for running unattended: `run --resume-unfinished`, and the
//! `completions` and `man` subcommands, whose text is generated here from the clap definition
//! (the only module that knows clap).
//!
//! Invariant: the generated completions and man page describe exactly the parser in use: they
//! are built from `Cli::command()`, never written by hand.

use clap::{Args, CommandFactory, ValueEnum};

use crate::commands::unattended::Unattended;
use crate::values::Shard;

/// `run` flags for schedules (cron, systemd timers, Kubernetes Jobs).
#[derive(Debug, Args)]
pub(super) struct UnattendedArgs {
    /// Run or resume: resume an unfinished run of the same manifest and config in --out, exit
    /// 0 saying so (nothing sent) if --out holds a finished one, otherwise start. For schedules
    /// with a stable --out folder per period.
    #[arg(long)]
    resume_unfinished: bool,
    /// Take only shard I of N (0 <= I < N) of the manifest, by a stable hash of each row's
    /// provider, user and method: N processes with --shard 0/N ... N-1/N together take every
    /// row exactly once (a Kubernetes Indexed Job: --shard $(JOB_COMPLETION_INDEX)/N).
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Keep the run's figures in this file in Prometheus text format (node_exporter's textfile
    /// collector): rewritten atomically every 10 s and at the end, with the exit code.
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<std::path::PathBuf>,
}

impl UnattendedArgs {
    pub(super) fn into_options(self) -> Unattended {
        Unattended {
            resume_unfinished: self.resume_unfinished,
            shard: self.shard,
            metrics_file: self.metrics_file,
        }
    }
}

/// `credrotate completions SHELL`.
#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl CompletionsArgs {
    /// The completion script for the shell, as the shell expects to source it.
    pub(super) fn script(&self) -> String {
        let shell = match self.shell {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        };
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut super::Cli::command(), "credrotate", &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The man page (roff) of `credrotate`: the main page, then each subcommand's synopsis and
/// options as a section of its own, so one `man credrotate` shows every flag.
pub(super) fn man_page() -> std::io::Result<String> {
    let command = super::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        page += &subcommand_section(sub)?;
    }
    Ok(page)
}

/// `.SH "CREDROTATE RUN"` with the subcommand's synopsis and an `Options` subsection.
fn subcommand_section(sub: &clap::Command) -> std::io::Result<String> {
    let name = format!("credrotate {}", sub.get_name());
    let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
    let mut out = Vec::new();
    man.render_synopsis_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let text = String::from_utf8_lossy(&out)
        .replace(".SH SYNOPSIS", &format!(".SH \"{}\"", name.to_uppercase()))
        .replace(".SH OPTIONS", ".SS Options");
    Ok(text)
}
