//! Python distributions as eggs, the way zc.buildout keeps them: every distribution unpacked in
//! its own directory under `eggs-directory` (`<Name>-<version>-py3.11[-<platform>].egg/`, with
//! its `.dist-info`), shared between parts and buildouts; scripts list exactly the directories
//! they need. Resolving and downloading go through an installer already on the machine (`pip`);
//! unpacking wheels and writing scripts is ours. Any recipe library can use this module, as
//! zc.buildout's recipes use its `easy_install`.

pub mod egg;
pub mod install;
pub mod interpreter;
pub mod requirement;
pub mod scripts;

pub use egg::Egg;
pub use install::{Settings, working_set};
pub use interpreter::Interpreter;
pub use requirement::Requirement;

/// Why Python distributions could not be had. Messages are one line (or zc.buildout's own
/// multi-line text where it has one), naming the requirement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PythonError {
    #[error("Couldn't run the Python interpreter {executable}: {reason}")]
    Interpreter { executable: String, reason: String },
    #[error("Invalid requirement {text:?}: {reason}")]
    Requirement { text: String, reason: String },
    #[error("We don't have a distribution for {requirement}\nand can't install one in offline (no-install) mode.\n")]
    Offline { requirement: String },
    #[error("{0}")]
    Resolve(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not a usable wheel: {reason}")]
    BadWheel { path: String, reason: String },
    #[error("Picked versions are not allowed (allow-picked-versions = false); pin them in [versions]:\n{0}")]
    Picked(String),
}

fn io(path: &std::path::Path, e: impl std::fmt::Display) -> PythonError {
    PythonError::Io { path: path.display().to_string(), reason: e.to_string() }
}
