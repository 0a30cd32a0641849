//! The `credrotate` binary: parse the command line, set up logging and the runtime, run the
//! command, exit with its code. No logic lives here.
#![forbid(unsafe_code)]

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let parsed = credrotate::parse();
    credrotate::init_logging(parsed.log_format, parsed.verbosity);
    let command = match parsed.command {
        Ok(c) => c,
        Err(e) => {
            credrotate::log_fatal(&format!("{e:#}"), 2);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            credrotate::log_fatal(&format!("cannot start the async runtime: {e}"), 1);
            return ExitCode::from(1);
        }
    };
    ExitCode::from(runtime.block_on(credrotate::run(command)))
}
