//! The `credrotate` binary: parse the command line, set up logging and the runtime, run the
//! command, exit with its code. No logic lives here.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match credrotate::parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    credrotate::init_logging(parsed.log_format, parsed.verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    ExitCode::from(runtime.block_on(credrotate::run(parsed.command)))
}
