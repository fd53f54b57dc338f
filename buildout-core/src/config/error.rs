//! Errors of loading and evaluating a configuration. Each carries zc.buildout's `While:` trail
//! (what was being done, outermost first) and a message worded as zc.buildout words it.

use super::parser::ParseError;
use super::pytext::repr;

#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    /// The `While:` lines, outermost first (`Initializing.`, `Getting section x.`, ...).
    pub doing: Vec<String>,
    pub kind: ErrorKind,
    /// More about the error, shown with `-D` (where a recipe panicked, a cause chain).
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("Couldn't open {0}")]
    CouldNotOpen(String),
    #[error("[Errno 2] No such file or directory: {}", repr(.0))]
    FileNotFound(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file-system operation that failed: `Couldn't create /srv/app/parts: Permission denied`.
    #[error("Couldn't {operation} {path}: {}", describe_io(.source))]
    File {
        operation: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An error of a layer above the configuration (reading `.installed.cfg`, building a
    /// `develop` crate, installing Python distributions), shown as it is and kept whole, with
    /// its chain of causes, for `-D`. Boxed as a trait object so that this module names none of
    /// those layers (they all build on it).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// `.installed.cfg` (or its journal) could not be written.
    #[error("Couldn't record what was installed: {0}")]
    Record(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Ctrl-C or SIGTERM between two steps.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    #[error("{path}, line {line}: 'utf-8' codec can't decode byte 0x{byte:02x} in position {position}: {reason}")]
    NotUtf8 { path: String, line: usize, byte: u8, position: usize, reason: &'static str },
    #[error("Recursive file include {} {}", super::pytext::repr_list(.chain.iter().map(String::as_str)), .file)]
    RecursiveInclude { chain: Vec<String>, file: String },
    #[error("The referenced section, {}, was not defined.", repr(.0))]
    MissingSection(String),
    #[error("Referenced option does not exist: {0} {1}")]
    ReferencedOptionMissing(String, String),
    #[error("Missing option: {0}:{1}")]
    MissingOption(String, String),
    #[error("Circular reference in substitutions.\n")]
    CircularReference,
    #[error("Infinite extending loop {}", repr(.0))]
    InfiniteExtendingLoop(String),
    #[error("No section named {}", repr(.0))]
    NoSectionNamed(String),
    #[error("Invalid value for {} option: {}", repr(.0), repr(.1))]
    InvalidBool(String, String),
    #[error("The recipe of part {part} panicked: {message}")]
    RecipePanic { part: String, message: String },
    /// Any other message zc.buildout reports as a `UserError`.
    #[error("{0}")]
    User(String),
}

/// An I/O error's reason as people read it: without Rust's ` (os error N)`.
fn describe_io(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

impl Error {
    /// A failed file-system `operation` ("create", "write", ...) on `path`.
    pub fn file(operation: &'static str, path: impl Into<String>, source: std::io::Error) -> Error {
        Error::new(ErrorKind::File { operation, path: path.into(), source })
    }

    pub fn new(kind: impl Into<ErrorKind>) -> Error {
        Error { doing: Vec::new(), kind: kind.into(), detail: None }
    }

    /// An error of another layer, kept whole (see [`ErrorKind::Other`]).
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::new(ErrorKind::Other(Box::new(error)))
    }

    pub fn user(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::User(message.into()))
    }

    /// Records that the error happened while doing `what` (an outer step).
    pub fn within(mut self, what: impl Into<String>) -> Error {
        self.doing.insert(0, what.into());
        self
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a `While:` step to the error of a result.
pub(crate) trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Doing<T> for Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.within(what()))
    }
}
