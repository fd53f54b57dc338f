//! From the command line to an exit status: parse, run the command, report failures in
//! zc.buildout's `While:` / `Error:` form. Every failure exits with 1, as zc.buildout does.

use std::io::Write;

use buildout_core::config::COMPATIBLE_ZC_BUILDOUT;

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
    fn from(e: buildout_core::config::Error) -> Failure {
        Failure { message: e.kind.to_string(), doing: e.doing, detail: e.detail }
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
            let _ = writeln!(std::io::stdout().lock(), "buildout version {COMPATIBLE_ZC_BUILDOUT}");
            return 0;
        }
        Err(Early::Usage(message)) => {
            let _ = std::io::stderr().lock().write_all(Failure::plain(message).render(false).as_bytes());
            return 1;
        }
    };
    let console = std::rc::Rc::new(Console::new());
    match commands::dispatch(&invocation, &console) {
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
