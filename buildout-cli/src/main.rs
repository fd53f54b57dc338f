//! The `buildout` command.

mod args;
mod commands;
mod failure;
mod output;
mod package;
mod recipes;
mod run;

use std::process::ExitCode;

/// Evaluation follows `${}` references recursively; give it room for very long chains.
const STACK_SIZE: usize = 256 << 20;

/// How long a run may take to stop after Ctrl-C or SIGTERM before it is ended as `kill -9`
/// would end it (which the journal of `.installed.cfg` makes safe).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn main() -> ExitCode {
    // First of all: from here on Ctrl-C and SIGTERM only raise a flag (the run stops at the next
    // step, children and temporary files removed), so something must end a run that does not
    // notice: the watchdog, after STOP_GRACE or on a second signal.
    buildout_core::interrupt::watch();
    // Without a watchdog (no thread or socket to be had) a signal still stops the run at its
    // next step; only a run stuck elsewhere would need `kill -9`.
    let _ = buildout_core::interrupt::watchdog(STOP_GRACE, run::farewell);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let worker = std::thread::Builder::new().stack_size(STACK_SIZE).spawn(move || run::run(args));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => ExitCode::from(code),
        _ => ExitCode::from(1),
    }
}
