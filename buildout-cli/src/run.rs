//! From the command line to an exit status: parse, run the command, report failures in
//! zc.buildout's `While:` / `Error:` form. Every failure exits with 1, as zc.buildout does.
//! An interrupted run (Ctrl-C, SIGTERM) says so in one line and exits 130 or 143, as a shell
//! reports a process those signals ended.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use buildout_core::config::COMPATIBLE_ZC_BUILDOUT;
use buildout_core::interrupt::Interrupted;

use crate::args::{self, Early};
use crate::commands;
use crate::failure::Failure;
use crate::output::Console;

/// zc.buildout's usage text, recorded from `buildout -h` (it is part of the compatible output).
const USAGE: &str = include_str!("usage.txt");

pub(crate) fn run(argv: Vec<String>) -> u8 {
    let invocation = match args::parse(&argv) {
        Ok(i) => i,
        Err(Early::Help) => {
            let _ = std::io::stdout().lock().write_all(USAGE.as_bytes());
            return 0;
        }
        Err(Early::Version) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "buildout {} (compatible with zc.buildout {COMPATIBLE_ZC_BUILDOUT})",
                env!("CARGO_PKG_VERSION")
            );
            return 0;
        }
        Err(Early::Usage(message)) => {
            let _ = std::io::stderr().lock().write_all(Failure::plain(message).render(false).as_bytes());
            return 1;
        }
    };
    let console = std::rc::Rc::new(Console::new());
    let result = commands::dispatch(&invocation, &console);
    // Interrupted, whatever the command made of it (an error from a stopped installer, or a
    // run that finished meanwhile), the outcome is the interruption.
    if let Err(interrupted) = buildout_core::interrupt::check() {
        let _ = std::io::stdout().lock().flush();
        farewell(interrupted);
        return interrupted.exit_status();
    }
    match result {
        Ok(status) => status,
        Err(failure) => {
            let _ = std::io::stdout().lock().flush();
            // The long form (a panic's location, abi_stable's layout report) with -D or -v.
            let _ =
                std::io::stderr().lock().write_all(failure.render(invocation.debug || invocation.verbose()).as_bytes());
            1
        }
    }
}

/// The one line an interrupted run ends with, said once: by the run when it stops in time, or
/// by the watchdog (see `main`) when it does not.
pub(crate) fn farewell(interrupted: Interrupted) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.swap(true, Ordering::SeqCst) {
        return;
    }
    use std::io::IsTerminal;
    use std::os::fd::AsFd;
    // On a terminal the line replaces a progress bar that may be showing.
    let clear = if std::io::stderr().is_terminal() { "\r\x1b[2K" } else { "" };
    let line = format!("{clear}Error: {interrupted}: stopped, and nothing recorded in .installed.cfg was lost.\n");
    // Through a duplicate of the descriptor, not `stderr().lock()`: the watchdog calls this
    // while the stuck run may hold that lock.
    if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
        let _ = std::fs::File::from(fd).write_all(line.as_bytes());
    }
}
