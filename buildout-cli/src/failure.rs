//! A failed command as the user sees it: zc.buildout's `While:` steps and `Error:` line, and with
//! `-D` what more is known (the detail, the chain of causes). The text is made here, once.

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

    /// The error as zc.buildout prints it; with `debug` (`-D`, `-v`) what more is known.
    pub(crate) fn render(&self, debug: bool) -> String {
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
