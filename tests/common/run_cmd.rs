//! Running the real binary from a test: [`RunCmd`], a builder of the `credrotate run` argument
//! list with the usual test flags as defaults, and [`Env::command`] / [`assert`] for
//! `assert_cmd`. Every child gets the sandbox token as `CREDROTATE_TOKEN`, no `RUST_LOG` from the
//! test's own environment, the env's scratch folder as its working directory, and no terminal on
//! stdin.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use super::{Env, BIN};

/// `credrotate run` with, unless told otherwise, the out folder `out` in the scratch folder, the
/// env's age recipient, `--yes` and `--progress never`. Arguments come out in this order:
/// global flags, `run`, `--manifest`, `--config`, `--out`, `--recipient`..., `--yes`,
/// `--progress`, then whatever [`RunCmd::arg`] added.
#[derive(Clone)]
pub struct RunCmd<'e> {
    env: &'e Env,
    global: Vec<String>,
    manifest: Option<String>,
    config: Option<String>,
    out: String,
    recipients: Vec<String>,
    yes: bool,
    progress: Option<String>,
    extra: Vec<String>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
}

impl Env {
    /// The `run` builder with the usual defaults (see [`RunCmd`]).
    pub fn run_cmd(&self) -> RunCmd<'_> {
        RunCmd {
            env: self,
            global: Vec::new(),
            manifest: None,
            config: None,
            out: path_str(&self.path("out")),
            recipients: vec![self.recipient()],
            yes: true,
            progress: Some("never".to_owned()),
            extra: Vec::new(),
            envs: Vec::new(),
            dir: self.dir.path().to_owned(),
        }
    }

    /// The real binary as a blocking `assert_cmd` command with the env's environment; run it
    /// with [`assert`] so the in-process sandbox keeps answering meanwhile.
    pub fn command(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(BIN);
        cmd.env("CREDROTATE_TOKEN", self.sandbox.token())
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path());
        cmd
    }

    /// The real binary as a tokio command with the env's environment (see the module docs).
    pub(crate) fn tokio_command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.env("CREDROTATE_TOKEN", self.sandbox.token())
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs a blocking `assert_cmd` command on tokio's blocking pool and returns its `Assert`, so
/// the sandbox, which runs on this test's runtime, is not starved while the child talks to it.
pub async fn assert(mut cmd: assert_cmd::Command) -> assert_cmd::assert::Assert {
    tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .expect("credrotate runs")
}

impl RunCmd<'_> {
    pub fn manifest(mut self, path: impl AsRef<Path>) -> Self {
        self.manifest = Some(path_str(path.as_ref()));
        self
    }

    pub fn config(mut self, path: impl AsRef<Path>) -> Self {
        self.config = Some(path_str(path.as_ref()));
        self
    }

    pub fn out(mut self, path: impl AsRef<Path>) -> Self {
        self.out = path_str(path.as_ref());
        self
    }

    /// One more `--recipient` besides those already there (the env's, by default).
    pub fn recipient(mut self, recipient: impl AsRef<str>) -> Self {
        self.recipients.push(recipient.as_ref().to_owned());
        self
    }

    /// No `--recipient` at all (add others after this to replace the env's).
    pub fn no_recipient(mut self) -> Self {
        self.recipients.clear();
        self
    }

    /// Leaves out `--yes`.
    pub fn no_yes(mut self) -> Self {
        self.yes = false;
        self
    }

    /// `--progress MODE` instead of `never`.
    pub fn progress(mut self, mode: &str) -> Self {
        self.progress = Some(mode.to_owned());
        self
    }

    /// Leaves out `--progress`.
    pub fn no_progress(mut self) -> Self {
        self.progress = None;
        self
    }

    /// A flag before the `run` subcommand, such as `-vv`.
    pub fn global(mut self, flag: &str) -> Self {
        self.global.push(flag.to_owned());
        self
    }

    /// An argument after the usual ones.
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.extra.push(arg.as_ref().to_owned());
        self
    }

    /// Arguments after the usual ones.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.extra
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the child.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Environment variables of the child.
    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter().fold(self, |cmd, (k, v)| cmd.env(k, v))
    }

    /// The child's working directory instead of the scratch folder.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_owned();
        self
    }

    /// The whole argument list, starting with the global flags and `run`.
    pub fn args_vec(&self) -> Vec<String> {
        let mut args = self.global.clone();
        args.push("run".to_owned());
        for (flag, value) in [("--manifest", &self.manifest), ("--config", &self.config)] {
            if let Some(value) = value {
                args.extend([flag.to_owned(), value.clone()]);
            }
        }
        args.extend(["--out".to_owned(), self.out.clone()]);
        for r in &self.recipients {
            args.extend(["--recipient".to_owned(), r.clone()]);
        }
        if self.yes {
            args.push("--yes".to_owned());
        }
        if let Some(mode) = &self.progress {
            args.extend(["--progress".to_owned(), mode.clone()]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    fn tokio_command(&self) -> tokio::process::Command {
        let mut cmd = self.env.tokio_command();
        cmd.args(self.args_vec())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir);
        cmd
    }

    /// Runs to the end and returns its exit status, stdout and stderr.
    pub async fn output(&self) -> Output {
        self.tokio_command()
            .output()
            .await
            .expect("credrotate runs")
    }

    /// Starts in the background (stdout and stderr piped, killed if dropped).
    pub fn spawn(&self) -> tokio::process::Child {
        self.tokio_command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("credrotate starts")
    }

    /// The same command for `assert_cmd`; run it with [`assert`] (or [`RunCmd::assert`]).
    pub fn assert_cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.env.command();
        cmd.args(self.args_vec())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir);
        cmd
    }

    /// Runs to the end off the async runtime and returns the `assert_cmd` `Assert`.
    pub async fn assert(&self) -> assert_cmd::assert::Assert {
        assert(self.assert_cmd()).await
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("test paths are UTF-8").to_owned()
}
