//! The `buildout` command.

mod args;
mod commands;
mod output;
mod recipes;
mod run;

use std::process::ExitCode;

/// Evaluation follows `${}` references recursively; give it room for very long chains.
const STACK_SIZE: usize = 256 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let worker = std::thread::Builder::new().stack_size(STACK_SIZE).spawn(move || run::run(args));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => ExitCode::from(code),
        _ => ExitCode::from(1),
    }
}
