//! How the library reports progress: zc.buildout logs through Python's logging, where the
//! `zc.buildout` logger prints bare messages and every other logger (recipes log under the part
//! name) prints `<name>: <message>`. The library emits records; the binary decides what to show.

/// Python logging levels, whose numbers matter: the threshold is `log-level - verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Our own tracing, below anything zc.buildout prints: shown from `-vvv` on, so the output of
    /// `-vv` stays zc.buildout's.
    Trace = -5,
    /// zc.buildout's level 1: details of recipe loading, shown from `-vv` on.
    Detail = 1,
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "Level -5",
            Level::Detail => "Level 1",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// The logger name of buildout's own messages.
pub const BUILDOUT_LOGGER: &str = "zc.buildout";

/// Where records go. `configure` is called once the `[buildout]` section says how to log.
pub trait Log {
    /// `threshold`: records below it are dropped. `format`: a Python logging format string, or
    /// `None` for zc.buildout's default (bare messages for buildout, `name: message` for others).
    fn configure(&self, threshold: i64, format: Option<&str>);
    fn log(&self, level: Level, logger: &str, message: &str);
    /// Text zc.buildout prints directly to standard output, whatever the log level.
    fn print(&self, text: &str);
    /// Progress of a long step (`done` of `total`), for a progress display. zc.buildout prints
    /// nothing for it, so sinks that mirror its output ignore it.
    fn progress(&self, _done: u64, _total: u64, _message: &str) {}
}

/// A sink that drops everything, for callers that only want the result.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Log for Silent {
    fn configure(&self, _threshold: i64, _format: Option<&str>) {}
    fn log(&self, _level: Level, _logger: &str, _message: &str) {}
    fn print(&self, _text: &str) {}
}
