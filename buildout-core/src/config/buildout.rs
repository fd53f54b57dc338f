//! A loaded buildout: the assembled configuration plus the start-up work zc.buildout does before
//! any command runs (evaluating `[buildout]`, checking its options, setting up logging, creating
//! the cache directories).

use super::annotated::Annotated;
use super::condition::Environment;
use super::error::{Error, Result};
use super::evaluate::Sections;
use super::load::{LoadOptions, assemble, default_option_names};
use super::pypath;
use super::pytext::repr;
use crate::log::{BUILDOUT_LOGGER, Level, Log};

/// A configuration loaded and initialised as zc.buildout's `Buildout` constructor leaves it.
#[derive(Debug, Clone)]
pub struct Buildout {
    /// The merged configuration with history, for `annotate` (and shared with `sections`).
    pub annotated: std::rc::Rc<Annotated>,
    /// The sections, evaluated lazily.
    pub sections: Sections,
    /// The name of the versions section (may be empty).
    pub versions_section: String,
    /// The buildout directory.
    pub directory: String,
    pub offline: bool,
    pub newest: bool,
    /// `-v`/`-q` as zc.buildout counts them (10 per `-v`).
    pub verbosity: i64,
    /// Records below this logging level are not shown (`log-level` minus verbosity).
    pub log_threshold: i64,
}

/// What start-up may do besides computing: `resolve` only looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Startup {
    /// Create missing cache directories and report them, as every zc.buildout command does.
    CreateDirectories,
    /// Touch nothing on disk.
    ReadOnly,
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::new(super::error::ErrorKind::InvalidBool(name.to_owned(), other.to_owned()))),
    }
}

impl Buildout {
    /// Loads the configuration and runs zc.buildout's initialisation; errors carry the
    /// `Initializing.` step.
    pub fn load(opts: &LoadOptions, env: &Environment, log: &dyn Log, startup: Startup) -> Result<Buildout> {
        let assembled = assemble(opts, env, log)?;
        let annotated = std::rc::Rc::new(assembled.annotated);
        let mut sections = Sections::new(assembled.raw);
        sections.set_history(annotated.clone());
        let mut b = Buildout {
            annotated,
            sections,
            versions_section: assembled.versions_section,
            directory: String::new(),
            offline: false,
            newest: true,
            verbosity: 0,
            log_threshold: 20,
        };
        b.initialize(opts, log, startup).map_err(|e| e.within("Initializing."))?;
        Ok(b)
    }

    fn option(&mut self, name: &str) -> Result<String> {
        self.sections.require("buildout", name)
    }

    fn bool_option(&mut self, name: &str) -> Result<bool> {
        let value = self.option(name)?;
        parse_bool(name, &value)
    }

    fn initialize(&mut self, opts: &LoadOptions, log: &dyn Log, startup: Startup) -> Result<()> {
        // zc.buildout checks these two on the unsubstituted values, before anything else.
        let raw = |b: &Buildout, name: &str| {
            b.sections.raw("buildout").and_then(|s| s.get(name)).cloned().unwrap_or_default()
        };
        self.offline = parse_bool("offline", &raw(self, "offline"))?;
        self.newest = !self.offline && parse_bool("newest", &raw(self, "newest"))?;

        self.sections.section("buildout")?;
        self.sections.get("buildout", "find-links")?;
        self.option("allow-hosts")?;
        self.directory = self.option("directory")?;
        for name in ["bin-directory", "parts-directory", "eggs-directory", "develop-eggs-directory"] {
            let value = self.option(name)?;
            let joined = if value.contains("${") { value } else { pypath::join(&self.directory, &value) };
            self.sections.set("buildout", name, joined)?;
        }
        let installed = self.option("installed")?;
        if !installed.is_empty() {
            self.sections.set("buildout", "installed", pypath::join(&self.directory, &installed))?;
        }

        self.setup_logging(log)?;
        self.setup_socket_timeout(log)?;

        if !self.versions_section.is_empty() {
            let name = self.versions_section.clone();
            self.sections.section(&name)?;
        }
        self.option("versions")?;
        for name in ["prefer-final", "use-dependency-links"] {
            self.bool_option(name)?;
        }
        self.sections.get("buildout", "index")?;
        for name in ["allow-picked-versions", "show-picked-versions"] {
            self.bool_option(name)?;
        }
        self.option("update-versions-file")?;

        let download_cache = self.sections.get("buildout", "download-cache")?;
        let extends_cache = self.sections.get("buildout", "extends-cache")?;
        let version = self.option("eggs-directory-version")?;
        if !version.is_empty() {
            let eggs = pypath::join(&self.option("eggs-directory")?, &version);
            self.sections.set("buildout", "eggs-directory", eggs)?;
        }
        let abi_tag = self.sections.get("buildout", "abi-tag-eggs")?.unwrap_or_else(|| "false".into());
        if parse_bool("abi-tag-eggs", &abi_tag)? {
            let eggs = pypath::join(&self.option("eggs-directory")?, &python_abi_tag()?);
            self.sections.set("buildout", "eggs-directory", eggs)?;
        }
        let eggs_cache = self.sections.get("buildout", "eggs-directory")?;
        if startup == Startup::CreateDirectories {
            for cache in [&download_cache, &extends_cache, &eggs_cache].into_iter().flatten() {
                if cache.is_empty() {
                    continue;
                }
                let path = pypath::join(&self.directory, cache);
                let abs = pypath::abspath(&path, &opts.cwd);
                if !std::path::Path::new(&abs).exists() {
                    log.log(Level::Info, BUILDOUT_LOGGER, &format!("Creating directory {}.", repr(&path)));
                    std::fs::create_dir_all(&abs).map_err(|e| Error::file("create", path.clone(), e))?;
                }
            }
            if let Some(cache) = download_cache.as_deref().filter(|c| !c.is_empty()) {
                let dist = pypath::abspath(&pypath::join(&pypath::join(&self.directory, cache), "dist"), &opts.cwd);
                if !std::path::Path::new(&dist).exists() {
                    std::fs::create_dir(&dist).map_err(|e| Error::file("create", dist.clone(), e))?;
                }
            }
        }
        if self.bool_option("install-from-cache")? && self.offline {
            return Err(Error::user(
                "install-from-cache can't be used with offline mode.\n\
                 Nothing is installed, even from cache, in offline\n\
                 mode, which might better be called 'no-install mode'.\n",
            ));
        }
        for name in default_option_names() {
            self.option(&name)?;
        }
        Ok(())
    }

    fn setup_logging(&mut self, log: &dyn Log) -> Result<()> {
        let format = self.option("log-format")?;
        let level = self.option("log-level")?;
        let numeric = match level.as_str() {
            "DEBUG" => 10,
            "INFO" => 20,
            "WARNING" => 30,
            "ERROR" => 40,
            "CRITICAL" => 50,
            other => parse_python_int(other).ok_or_else(|| Error::user(format!("Invalid logging level {level}")))?,
        };
        let verbosity = match self.sections.get("buildout", "verbosity")? {
            None => 0,
            Some(v) => parse_python_int(&v).ok_or_else(|| Error::user(format!("Invalid verbosity {v}")))?,
        };
        self.verbosity = verbosity;
        self.log_threshold = numeric - verbosity;
        log.configure(numeric - verbosity, Some(format.as_str()).filter(|f| !f.is_empty()));
        Ok(())
    }

    fn setup_socket_timeout(&mut self, log: &dyn Log) -> Result<()> {
        let timeout = self.option("socket-timeout")?;
        if timeout.is_empty() {
            return Ok(());
        }
        match parse_python_int(&timeout) {
            Some(seconds) => {
                log.log(Level::Info, BUILDOUT_LOGGER, &format!("Setting socket time out to {seconds} seconds."))
            }
            None => log.log(
                Level::Warning,
                BUILDOUT_LOGGER,
                &format!("Default socket timeout is used !\nValue in configuration is not numeric: [{timeout}].\n"),
            ),
        }
        Ok(())
    }

    /// Whether `-v`/`-q` or a `verbosity` option asked for the verbose forms of `annotate` and
    /// `query` (zc.buildout compares the option's text with the number 0, so any value counts).
    pub fn verbose_output(&mut self) -> Result<bool> {
        Ok(self.sections.get("buildout", "verbosity")?.is_some())
    }
}

/// Python's `int()` of a string: surrounding whitespace, a sign, digits and underscores.
pub(crate) fn parse_python_int(s: &str) -> Option<i64> {
    let t = super::pytext::strip(s);
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i64 = clean.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// The ABI tag `abi-tag-eggs` adds to the eggs directory (`cp311` for CPython 3.11).
fn python_abi_tag() -> Result<String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys;print('cp%d%d' % sys.version_info[:2] if sys.implementation.name == 'cpython' else sys.implementation.cache_tag)"])
        .output()
        .map_err(|e| Error::user(format!("Cannot run python3 to compute the ABI tag for abi-tag-eggs: {e}")))?;
    let tag = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if tag.is_empty() {
        return Err(Error::user("python3 did not report its ABI tag (needed by abi-tag-eggs)"));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::parse_python_int;

    #[test]
    fn python_int() {
        let cases = [
            ("5", Some(5)),
            (" 7 ", Some(7)),
            ("-10", Some(-10)),
            ("1_000", Some(1000)),
            ("5s", None),
            ("", None),
            ("1.5", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_python_int(input), expected, "{input:?}");
        }
    }
}
