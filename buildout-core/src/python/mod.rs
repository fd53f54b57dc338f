//! Python distributions as eggs, the way zc.buildout keeps them: every distribution unpacked in
//! its own directory under `eggs-directory` (`<Name>-<version>-py3.11[-<platform>].egg/`, with
//! its `.dist-info`), shared between parts and buildouts; scripts list exactly the directories
//! they need. Develop eggs, installed eggs and the wheels of local `find-links` directories are
//! resolved here; what only an index can answer goes to an installer already on the machine
//! (uv, else pip). Unpacking wheels (through a per-user cache) and writing scripts is ours. Any
//! recipe library can use this module, as zc.buildout's recipes use its `easy_install`.

pub mod cache;
pub mod develop;
pub mod egg;
mod fetch;
pub mod index;
pub mod install;
pub mod interpreter;
pub mod links;
mod lock;
mod newest;
mod other_python;
mod pip;
mod remembered;
pub mod requirement;
mod resolve;
pub mod scripts;
mod settings;
pub mod tree;
pub mod uv;

pub use egg::Egg;
pub use install::{Settings, working_set};
pub use interpreter::Interpreter;
pub use requirement::Requirement;

/// Why Python distributions could not be had. Messages are one line (or zc.buildout's own
/// multi-line text where it has one), naming the requirement.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("Couldn't run the Python interpreter {executable}: {reason}")]
    Interpreter { executable: String, reason: String },
    #[error("Couldn't run {program}: {reason}")]
    Run { program: String, reason: String },
    /// A signal stopped the run (see [`crate::interrupt`]).
    #[error("Interrupted by {}", crate::interrupt::signal_name(*.signal))]
    Interrupted { signal: i32 },
    #[error("Invalid requirement {text:?}: {reason}")]
    Requirement { text: String, reason: String },
    #[error("We don't have a distribution for {requirement}\nand can't install one in offline (no-install) mode.\n")]
    Offline { requirement: String },
    /// `chain` leads from a requested distribution down to the requirement (see
    /// `resolve::Walk::chains`); empty when unknown or when it was requested itself.
    #[error("Couldn't find a distribution for {}.{}", crate::config::pytext::repr(.requirement), chain_line(.requirement, .chain))]
    Missing { requirement: String, chain: Vec<String> },
    /// `python` is `major.minor`.
    #[error("Couldn't find a distribution for {} that runs on Python {python}: {needs}.", crate::config::pytext::repr(.requirement))]
    OtherPython { requirement: String, python: String, needs: String },
    #[error("{0}")]
    Resolve(String),
    /// A version conflict; `pins` names the distributions whose `[versions]` pins are involved
    /// (canonical names), so that the caller can say where each is set.
    #[error("{message}")]
    Conflict { message: String, pins: Vec<String> },
    /// A file-system step on `path` failed; `source` is the operating system's error (or what
    /// was wrong, where no call failed).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("Couldn't develop {}: pip install -e failed:\n{output}", crate::config::pytext::repr(.dir))]
    Develop { dir: String, output: String },
    #[error("{path} is not a usable wheel: {reason}")]
    BadWheel { path: String, reason: String },
    /// A [`PythonError::BadWheel`] chosen for `requirement`.
    #[error("{source}")]
    BadWheelFor { requirement: String, source: Box<PythonError> },
    #[error(
        "Picked: {name} = {version}\n\nThe `{name}` egg does not have a version pin and `allow-picked-versions = false`.\n\nTo resolve this, add\n\n    {name} = {version}\n\nto the [versions] section,\n\nOR set `allow-picked-versions = true`."
    )]
    /// `fetched`: the distribution was fetched (and said so) before it was refused.
    Picked { name: String, version: String, requirement: String, fetched: bool },
}

impl From<crate::interrupt::Interrupted> for PythonError {
    fn from(i: crate::interrupt::Interrupted) -> PythonError {
        PythonError::Interrupted { signal: i.signal }
    }
}

impl PythonError {
    /// The requirement being fetched when it failed (zc.buildout's `Getting distribution for ...`
    /// step), if any.
    pub fn requirement(&self) -> Option<&str> {
        match self {
            PythonError::Missing { requirement, .. }
            | PythonError::OtherPython { requirement, .. }
            | PythonError::BadWheelFor { requirement, .. }
            | PythonError::Offline { requirement }
            | PythonError::Picked { requirement, .. } => Some(requirement),
            _ => None,
        }
    }

    /// Whether the `Getting distribution for ...` line of [`PythonError::requirement`] has been
    /// logged already.
    pub fn step_logged(&self) -> bool {
        matches!(self, PythonError::Picked { fetched: true, .. })
    }
}

/// Our addition to zc.buildout's message: how a missing requirement was reached.
fn chain_line(requirement: &str, chain: &[String]) -> String {
    if chain.len() < 2 {
        return String::new();
    }
    format!("\n{requirement} comes from: {}", chain.join(" -> "))
}

/// Runs a helper program (an interpreter, uv, pip) so that a signal stops it (see
/// [`crate::interrupt::output`]).
fn run(cmd: &mut std::process::Command, program: &std::path::Path) -> Result<std::process::Output, PythonError> {
    crate::interrupt::output(cmd).map_err(|e| match e {
        crate::interrupt::RunError::Interrupted(i) => PythonError::Interrupted { signal: i.signal },
        crate::interrupt::RunError::Spawn(e) => {
            PythonError::Run { program: program.display().to_string(), reason: e.to_string() }
        }
    })
}

/// The error of an installer or interpreter run by [`crate::interrupt::output`]: one that could
/// not be started names `executable`.
fn run_error(executable: &str) -> impl FnOnce(crate::interrupt::RunError) -> PythonError + '_ {
    move |e| match e {
        crate::interrupt::RunError::Spawn(e) => {
            PythonError::Interpreter { executable: executable.to_owned(), reason: e.to_string() }
        }
        crate::interrupt::RunError::Interrupted(i) => PythonError::Interrupted { signal: i.signal },
    }
}

pub(crate) fn io(path: &std::path::Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PythonError {
    PythonError::Io { path: path.display().to_string(), source: e.into() }
}
