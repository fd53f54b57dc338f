//! Console output the way zc.buildout's logging set-up produces it: records go to standard
//! output, `zc.buildout`'s own as bare messages, everyone else's as `name: message`, unless
//! `log-format` says otherwise; the threshold is `log-level` minus verbosity.

use std::cell::RefCell;
use std::io::Write;

use buildout_core::log::{BUILDOUT_LOGGER, Level, Log};

/// Writes log records and plain text to standard output.
pub(crate) struct Console {
    settings: RefCell<Settings>,
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
        }
    }
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
        // Before logging is configured Python's last-resort handler writes to stderr.
        if s.configured {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    fn print(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
