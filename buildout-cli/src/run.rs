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
use crate::output::Console;

/// zc.buildout's usage text, recorded from `buildout -h` (it is part of the compatible output).
const USAGE: &str = include_str!("usage.txt");

/// A failed command: the steps it was in (outermost first) and the message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) doing: Vec<String>,
    pub(crate) message: String,
    /// Shown with `-D`: where a recipe panicked, or more about the cause.
    pub(crate) detail: Option<String>,
}

impl From<buildout_core::config::Error> for Failure {
    /// The message in zc.buildout's words; `-D` adds the error's detail and its chain of causes
    /// (the operating system's own error, with its number).
    fn from(e: buildout_core::config::Error) -> Failure {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&e.kind);
        while let Some(cause) = source {
            causes.push(format!("Caused by: {cause}"));
            source = cause.source();
        }
        let detail = match (e.detail, causes.is_empty()) {
            (detail, true) => detail,
            (None, false) => Some(causes.join("\n")),
            (Some(detail), false) => Some(format!("{detail}\n{}", causes.join("\n"))),
        };
        Failure { message: e.kind.to_string(), doing: e.doing, detail }
    }
}

impl Failure {
    /// An error zc.buildout reports without a `While:` trail (usage and `query` errors).
    pub(crate) fn plain(message: impl Into<String>) -> Failure {
        Failure { doing: Vec::new(), message: message.into(), detail: None }
    }

    /// A failure during the given steps (outermost first).
    pub(crate) fn doing(steps: &[&str], message: impl Into<String>) -> Failure {
        Failure { doing: steps.iter().map(|s| (*s).to_owned()).collect(), message: message.into(), detail: None }
    }

    /// Back into a library error, for failures of CLI steps run inside the engine.
    pub(crate) fn into_error(self) -> buildout_core::config::Error {
        buildout_core::config::Error {
            doing: self.doing,
            kind: buildout_core::config::ErrorKind::User(self.message),
            detail: self.detail,
        }
    }

    fn render(&self, debug: bool) -> String {
        let mut out = String::new();
        if !self.doing.is_empty() {
            out.push_str("While:\n");
            for step in &self.doing {
                out.push_str("  ");
                out.push_str(step);
                out.push('\n');
            }
        }
        out.push_str("Error: ");
        out.push_str(&self.message);
        out.push('\n');
        if let (true, Some(detail)) = (debug, &self.detail) {
            out.push_str("Detail: ");
            out.push_str(detail);
            out.push('\n');
        }
        out
    }
}

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

#[cfg(test)]
mod tests {
    use super::Failure;
    use buildout_core::config::Error;

    /// The message is zc.buildout's; `-D` adds the causes, down to the operating system's error.
    #[test]
    fn errors_keep_their_causes_for_debug() {
        let denied = std::io::Error::from_raw_os_error(13);
        let failure = Failure::from(Error::file("create", "/srv/app/parts", denied).within("Installing."));
        assert_eq!(
            failure.render(false),
            "While:\n  Installing.\nError: Couldn't create /srv/app/parts: Permission denied\n"
        );
        assert_eq!(
            failure.render(true),
            "While:\n  Installing.\nError: Couldn't create /srv/app/parts: Permission denied\n\
             Detail: Caused by: Permission denied (os error 13)\n"
        );
        let plain = Failure::from(Error::user("Missing option: a:b"));
        assert_eq!(plain.render(true), "Error: Missing option: a:b\n");
    }
}
