//! The error a recipe returns: opaque, made by its constructors, so that what crosses to the host
//! is always well formed.

use std::path::Path;

use crate::abi::wire::{self, ErrorKind};

/// Why a recipe failed. [`RecipeError::user`] is what users should see (zc.buildout's
/// `UserError`: printed as `Error: <message>`, no traceback); [`RecipeError::internal`] is a bug.
/// Errors the recipe gets back from the host (evaluating another section) keep their kind and
/// `While:` steps when passed on with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeError(wire::RecipeError);

impl RecipeError {
    /// Something the user can fix: a missing or invalid option, a file that cannot be written.
    pub fn user(message: impl Into<String>) -> RecipeError {
        RecipeError(wire::RecipeError::user(message))
    }

    /// A bug or an unexpected failure, shown with its detail.
    pub fn internal(message: impl Into<String>) -> RecipeError {
        RecipeError(wire::RecipeError::internal(message))
    }

    /// A user error for a failed file operation: `<what> <path>: <reason>`, without Rust's
    /// `(os error N)` suffix.
    pub fn io(what: &str, path: &Path, error: &std::io::Error) -> RecipeError {
        let text = error.to_string();
        let reason = text.split(" (os error").next().unwrap_or(&text);
        RecipeError::user(format!("{what} {}: {reason}", path.display()))
    }

    /// Adds what shows with `buildout -D` (a cause chain, the input that was rejected).
    pub fn with_detail(mut self, detail: impl Into<String>) -> RecipeError {
        self.0.detail = Some(detail.into());
        self
    }

    /// Adds a `While:` step (what the recipe was doing), outermost last: buildout prints the
    /// steps between its own and the error.
    pub fn within(mut self, step: impl Into<String>) -> RecipeError {
        self.0.doing.insert(0, step.into());
        self
    }

    /// What [`Recipe::update`](super::Recipe::update) answers for a recipe without an update:
    /// buildout warns, as zc.buildout does, and calls `install` instead.
    pub fn no_update() -> RecipeError {
        RecipeError(wire::RecipeError { kind: ErrorKind::NoUpdate, ..wire::RecipeError::default() })
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// The `While:` steps, outermost first.
    pub fn steps(&self) -> &[String] {
        &self.0.doing
    }

    pub(crate) fn from_wire(error: wire::RecipeError) -> RecipeError {
        RecipeError(error)
    }

    pub(crate) fn into_wire(self) -> wire::RecipeError {
        self.0
    }
}

impl std::fmt::Display for RecipeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for RecipeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_make_well_formed_errors() {
        let missing = std::io::Error::from_raw_os_error(2);
        // (error, kind, message, detail, steps)
        type Case<'a> = (RecipeError, ErrorKind, &'a str, Option<&'a str>, &'a [&'a str]);
        let cases: [Case<'_>; 4] = [
            (RecipeError::user("Missing option: p:x"), ErrorKind::User, "Missing option: p:x", None, &[]),
            (
                RecipeError::internal("bad reply").with_detail("line 3"),
                ErrorKind::Internal,
                "bad reply",
                Some("line 3"),
                &[],
            ),
            (
                RecipeError::io("write", Path::new("/nope/x"), &missing),
                ErrorKind::User,
                "write /nope/x: No such file or directory",
                None,
                &[],
            ),
            (
                RecipeError::user("conflict").within("Getting distribution for 'a'.").within("Installing p."),
                ErrorKind::User,
                "conflict",
                None,
                &["Installing p.", "Getting distribution for 'a'."],
            ),
        ];
        for (error, kind, message, detail, steps) in cases {
            assert_eq!((error.kind(), error.message(), error.detail()), (kind, message, detail));
            assert_eq!(error.steps(), steps);
            assert_eq!(error.to_string(), message);
        }
    }
}
