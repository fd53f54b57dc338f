//! Console output the way zc.buildout's logging set-up produces it: records go to standard
//! output, `zc.buildout`'s own as bare messages, everyone else's as `name: message`, unless
//! `log-format` says otherwise; the threshold is `log-level` minus verbosity.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use buildout_core::log::{BUILDOUT_LOGGER, Level, Log};

/// Writes log records and plain text to standard output, and shows progress on a terminal.
pub(crate) struct Console {
    settings: RefCell<Settings>,
    /// Whether standard error is a terminal: the progress bar's only condition besides the
    /// default verbosity, so that piped output stays exactly zc.buildout's.
    terminal: bool,
    /// The bar or spinner shown, and whether it is a spinner.
    bar: RefCell<Option<(bool, ProgressBar)>>,
    /// Log records go to standard error, where standard output is machine-read (`plan --json`).
    records_to_stderr: std::cell::Cell<bool>,
}

struct Settings {
    threshold: i64,
    format: Option<String>,
    configured: bool,
}

impl Console {
    pub(crate) fn new() -> Console {
        Console {
            settings: RefCell::new(Settings { threshold: Level::Warning as i64, format: None, configured: false }),
            terminal: std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
            records_to_stderr: std::cell::Cell::new(false),
        }
    }

    /// A line of output ends the progress display: the bar is transient, never interleaved.
    fn clear_progress(&self) {
        if let Some((_, bar)) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

/// Progress only at the default verbosity (INFO) on a configured console writing to a terminal.
fn shows_progress(terminal: bool, configured: bool, threshold: i64) -> bool {
    terminal && configured && threshold == Level::Info as i64
}

/// Applies a Python logging format string (`%(name)s`, `%(message)s`, `%(levelname)s`,
/// `%(levelno)s`, `%%`); unknown fields are left as written.
fn format_record(format: &str, level: Level, logger: &str, message: &str) -> String {
    let mut out = String::with_capacity(format.len() + message.len());
    let mut rest = format;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("%%") {
            out.push('%');
            rest = after;
            continue;
        }
        let field = rest
            .strip_prefix("%(")
            .and_then(|r| r.find(')').map(|end| (&r[..end], &r[end + 1..])))
            .and_then(|(name, r)| r.strip_prefix(['s', 'd', 'r']).map(|after| (name, after)));
        let value = field.and_then(|(name, after)| {
            let v = match name {
                "name" => logger.to_owned(),
                "message" => message.to_owned(),
                "levelname" => level.name().to_owned(),
                "levelno" => (level as i64).to_string(),
                _ => return None,
            };
            Some((v, after))
        });
        match value {
            Some((v, after)) => {
                out.push_str(&v);
                rest = after;
            }
            None => {
                out.push('%');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Console {
    /// Sends log records to standard error from now on, so that standard output holds only what
    /// a program reads (`plan --json`).
    pub(crate) fn records_to_stderr(&self) {
        self.records_to_stderr.set(true);
    }
}

impl Log for Console {
    fn configure(&self, threshold: i64, format: Option<&str>) {
        let mut s = self.settings.borrow_mut();
        s.threshold = threshold;
        s.format = format.map(str::to_owned);
        s.configured = true;
    }

    fn log(&self, level: Level, logger: &str, message: &str) {
        let s = self.settings.borrow();
        if (level as i64) < s.threshold {
            return;
        }
        // zc.buildout's own loggers (`zc.buildout.easy_install`, ...) print bare messages.
        let own = logger == BUILDOUT_LOGGER || logger.strip_prefix(BUILDOUT_LOGGER).is_some_and(|r| r.starts_with('.'));
        let line = match (&s.format, own) {
            (Some(f), _) => format_record(f, level, logger, message),
            (None, true) => message.to_owned(),
            (None, false) => format!("{logger}: {message}"),
        };
        self.clear_progress();
        // Before logging is configured Python's last-resort handler writes to stderr.
        if s.configured && !self.records_to_stderr.get() {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    fn print(&self, text: &str) {
        self.clear_progress();
        if self.records_to_stderr.get() {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
            return;
        }
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// A bar, or with a `total` of 0 a spinner that turns on its own while something of
    /// unknown length (a resolver) runs.
    fn progress(&self, done: u64, total: u64, message: &str) {
        let s = self.settings.borrow();
        if !shows_progress(self.terminal, s.configured, s.threshold) {
            return;
        }
        let spinner = total == 0;
        let mut slot = self.bar.borrow_mut();
        if slot.as_ref().is_some_and(|(was_spinner, _)| *was_spinner != spinner)
            && let Some((_, old)) = slot.take()
        {
            old.finish_and_clear();
        }
        let (_, bar) = slot.get_or_insert_with(|| {
            let bar = if spinner {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg:.dim}") {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                bar
            } else {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{bar:20} [{pos}/{len}] {wide_msg:.dim}") {
                    bar.set_style(style);
                }
                bar
            };
            (spinner, bar)
        });
        bar.set_message(message.to_owned());
        if !spinner {
            bar.set_length(total);
            bar.set_position(done);
            if done >= total {
                bar.finish_and_clear();
                *slot = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_on_a_terminal_at_default_verbosity() {
        let info = Level::Info as i64;
        let cases = [
            (true, true, info, true),
            (false, true, info, false),
            (true, false, info, false),
            (true, true, info - 10, false),
            (true, true, info + 10, false),
        ];
        for (terminal, configured, threshold, expected) in cases {
            assert_eq!(
                shows_progress(terminal, configured, threshold),
                expected,
                "{terminal} {configured} {threshold}"
            );
        }
    }

    #[test]
    fn python_logging_formats() {
        let cases = [
            ("%(message)s", "hello"),
            ("%(name)s: %(message)s", "part: hello"),
            ("%(levelname)s %(name)s %(message)s", "INFO part hello"),
            ("%(levelno)d|%%|%(unknown)s", "20|%|%(unknown)s"),
        ];
        for (format, expected) in cases {
            assert_eq!(format_record(format, Level::Info, "part", "hello"), expected, "{format}");
        }
    }
}
