//! Writing a recipe library: implement [`Recipe`] and export it with [`crate::export_recipes`].
//! No `unsafe`, no `extern`: the macro generates the ABI glue, catches panics and routes logging
//! to the host. (The glue exports one `no_mangle` static, so a recipe crate can `deny` but not
//! `forbid` `unsafe_code`.) [`testing`] runs a recipe in a unit test, without buildout.
//!
//! ```
//! use std::path::PathBuf;
//! use buildout_core::sdk::{Context, Options, Recipe, RecipeError};
//!
//! /// Writes `content` to `parts/<part>/<name>`.
//! struct Note {
//!     path: PathBuf,
//! }
//!
//! impl Recipe for Note {
//!     fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
//!         let dir = PathBuf::from(ctx.buildout_option("parts-directory")?).join(ctx.part());
//!         let path = dir.join(options.get("name").unwrap_or("note.txt"));
//!         // Options set here are what `${part:path}` and .installed.cfg see.
//!         options.set("path", path.display().to_string());
//!         options.require("content")?;
//!         Ok(Note { path })
//!     }
//!
//!     fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
//!         let dir = self.path.parent().map(PathBuf::from).unwrap_or_default();
//!         ctx.created(&[&dir])?;
//!         std::fs::create_dir_all(&dir).map_err(|e| RecipeError::user(format!("{}: {e}", dir.display())))?;
//!         std::fs::write(&self.path, options.require("content")?)
//!             .map_err(|e| RecipeError::user(format!("{}: {e}", self.path.display())))?;
//!         ctx.info(&format!("wrote {}", self.path.display()));
//!         Ok(vec![dir])
//!     }
//! }
//!
//! buildout_core::export_recipes! {
//!     distribution: "example.notes",
//!     version: "1.0.0",
//!     entries: { "default" => Note, "note" => Note },
//! }
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::abi::Host;
use crate::abi::wire;

pub use crate::abi::wire::{ErrorKind, Picked};

mod error;
mod export;
#[cfg(feature = "python")]
pub mod python;
pub mod testing;

pub use error::RecipeError;
#[doc(hidden)]
pub use export::{Factory, call_impl, construct_impl, factory, metadata_impl, release_impl, uninstall_impl};

/// How much a log record matters: Python's logging levels, which `-q`/`-v` and `log-level`
/// compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    /// Python's number for the level, as records travel to the host.
    pub fn number(self) -> u8 {
        match self {
            LogLevel::Debug => 10,
            LogLevel::Info => 20,
            LogLevel::Warning => 30,
            LogLevel::Error => 40,
            LogLevel::Critical => 50,
        }
    }

    /// The level of Python's number `n`: the highest level at or below it (`25` is info).
    pub fn from_number(n: u8) -> LogLevel {
        match n {
            50.. => LogLevel::Critical,
            40.. => LogLevel::Error,
            30.. => LogLevel::Warning,
            20.. => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }
}

#[cfg(feature = "python")]
impl From<crate::log::Level> for LogLevel {
    fn from(level: crate::log::Level) -> LogLevel {
        use crate::log::Level;
        match level {
            Level::Trace | Level::Detail | Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warning => LogLevel::Warning,
            Level::Error => LogLevel::Error,
            Level::Critical => LogLevel::Critical,
        }
    }
}

/// The options of the part being built. Reading an option marks it as used (zc.buildout warns
/// about configured options no recipe read); setting one makes it visible to other parts and
/// records it in `.installed.cfg` (when done in [`Recipe::new`]).
#[derive(Debug, Clone)]
pub struct Options {
    part: String,
    values: BTreeMap<String, String>,
    used: RefCell<BTreeSet<String>>,
}

impl Options {
    pub fn new(part: impl Into<String>, values: BTreeMap<String, String>) -> Options {
        Options { part: part.into(), values, used: RefCell::new(BTreeSet::new()) }
    }

    /// The part (section) name.
    pub fn part(&self) -> &str {
        &self.part
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let value = self.values.get(key)?;
        self.used.borrow_mut().insert(key.to_owned());
        Some(value)
    }

    /// An option that must be there: `Missing option: <part>:<key>` otherwise.
    pub fn require(&self, key: &str) -> Result<&str, RecipeError> {
        self.get(key).ok_or_else(|| RecipeError::user(format!("Missing option: {}:{key}", self.part)))
    }

    /// A `true`/`false` option, zc.buildout's rule (`query_bool`: exactly those two words);
    /// anything else is `Invalid value for <part>:<key> option: <value>`.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, RecipeError> {
        match self.get(key) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(RecipeError::user(format!("Invalid value for {}:{key} option: {other}", self.part))),
        }
    }

    /// A multi-line option as its lines, each trimmed, blank lines left out (`eggs =`,
    /// `scripts =` and the like); none when the option is absent.
    pub fn lines(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        self.used.borrow_mut().insert(key.clone());
        self.values.insert(key, value.into());
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }

    /// All options, without marking them used.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }

    /// The options read or set so far (what buildout counts as used).
    pub fn used(&self) -> Vec<String> {
        self.take_used()
    }

    fn take_used(&self) -> Vec<String> {
        self.used.borrow().iter().cloned().collect()
    }
}

/// What a recipe can ask of buildout while it runs.
pub struct Context<'a> {
    host: Host<'a>,
    part: &'a str,
    buildout: &'a BTreeMap<String, String>,
}

impl Context<'_> {
    /// The part being built.
    pub fn part(&self) -> &str {
        self.part
    }

    /// An option of `[buildout]` as evaluated (absolute directories, `eggs-directory` with its
    /// version suffix); `Missing option: buildout:<name>` if absent.
    pub fn buildout_option(&self, name: &str) -> Result<String, RecipeError> {
        // The standard directories come with every call; anything else is asked for.
        if let Some(v) = self.buildout.get(name) {
            return Ok(v.clone());
        }
        self.get("buildout", name)?.ok_or_else(|| RecipeError::user(format!("Missing option: buildout:{name}")))
    }

    /// A path option's value taken against the buildout directory, as zc.buildout's recipes
    /// join it (an absolute value stays as it is).
    pub fn path(&self, value: &str) -> Result<PathBuf, RecipeError> {
        Ok(Path::new(&self.buildout_option("directory")?).join(value))
    }

    /// Any option of any section, evaluated on demand (zc.buildout's `buildout[section][option]`:
    /// a section with a recipe becomes a part). `None` when the section has no such option.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, RecipeError> {
        let request = wire::GetOption { section: section.to_owned(), option: option.to_owned() };
        let reply = self.invoke("get", &request)?;
        serde_json::from_str(&reply).map_err(|e| RecipeError::internal(format!("bad reply from buildout: {e}")))
    }

    /// Every option of a section, evaluated (`None` if there is no such section).
    pub fn section(&self, section: &str) -> Result<Option<BTreeMap<String, String>>, RecipeError> {
        let reply = self.invoke("section", &wire::GetOption { section: section.to_owned(), option: String::new() })?;
        serde_json::from_str(&reply).map_err(|e| RecipeError::internal(format!("bad reply from buildout: {e}")))
    }

    /// Every option of a section, evaluated, without marking any as used (`None` if there is
    /// no such section; recipe ABI 2.1): for a recipe that reports what it reads with [`get`](Self::get).
    pub fn peek_section(&self, section: &str) -> Result<Option<BTreeMap<String, String>>, RecipeError> {
        let reply = self.invoke("peek", &wire::GetOption { section: section.to_owned(), option: String::new() })?;
        serde_json::from_str(&reply).map_err(|e| RecipeError::internal(format!("bad reply from buildout: {e}")))
    }

    /// Where an option is set: `/abs/versions.cfg, line 7` (or `the command line`), for
    /// messages that send the user to it. `None` when no file set it, or the host cannot say.
    pub fn origin(&self, section: &str, option: &str) -> Option<String> {
        let request = wire::GetOption { section: section.to_owned(), option: option.to_owned() };
        self.invoke("origin", &request).ok().and_then(|reply| serde_json::from_str(&reply).ok()).flatten()
    }

    /// Registers paths about to be created, so that they are removed if the call then fails
    /// (in `install` and in `update` alike: register only what the call itself creates).
    pub fn created<P: AsRef<Path>>(&self, paths: &[P]) -> Result<(), RecipeError> {
        let paths = paths.iter().map(|p| p.as_ref().display().to_string()).collect();
        self.invoke("created", &wire::Created { paths }).map(drop)
    }

    /// Sets an option of another section, as `buildout[section][option] = value` does in
    /// zc.buildout (recipe ABI 2.1). The part's own options are set through [`Options::set`].
    pub fn set(&self, section: &str, option: &str, value: &str) -> Result<(), RecipeError> {
        let request =
            wire::SetOption { section: section.to_owned(), option: option.to_owned(), value: value.to_owned() };
        self.invoke("set", &request).map(drop)
    }

    /// Reports versions picked without a pin in `[versions]`; buildout lists them at the end of
    /// the run when `show-picked-versions` is on.
    pub fn picked(&self, versions: &[Picked]) -> Result<(), RecipeError> {
        self.invoke("picked", &versions).map(drop)
    }

    /// Reports progress of a long step (`done` of `total`); buildout may show a progress bar.
    /// Best effort: a host without a progress display ignores it.
    pub fn progress(&self, done: u64, total: u64, message: &str) {
        let _ = self.invoke("progress", &wire::Progress { done, total, message: message.to_owned() });
    }

    /// Logs under the part's name (shown as `<part>: <message>`).
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, self.part, message);
    }

    /// Logs at info level under another logger (`zc.buildout.easy_install`, ...).
    pub fn info_as(&self, logger: &str, message: &str) {
        self.log(LogLevel::Info, logger, message);
    }

    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warning, self.part, message);
    }

    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, self.part, message);
    }

    /// Logs at `level` under any logger name (`zc.zodbrecipes`, ...).
    pub fn log(&self, level: LogLevel, logger: &str, message: &str) {
        self.log_number(level.number(), logger, message);
    }

    /// Logs at Python's level number `level`, for records that come from Python's logging
    /// (zc.buildout logs details of recipe loading at level 1, shown from `-vv` on).
    pub fn log_number(&self, level: u8, logger: &str, message: &str) {
        let record = wire::LogRecord { level, logger: logger.to_owned(), message: message.to_owned() };
        let _ = self.invoke("log", &record);
    }

    fn invoke(&self, method: &str, payload: &impl serde::Serialize) -> Result<String, RecipeError> {
        let payload = serde_json::to_string(payload).map_err(|e| RecipeError::internal(e.to_string()))?;
        self.host.call(method, &payload).map_err(|e| RecipeError::from_wire(wire::RecipeError::from_json(&e)))
    }
}

/// A recipe: constructed once per part and run, zc.buildout style.
pub trait Recipe: Sized + 'static {
    /// Checks the options and computes derived ones; options set here are recorded.
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError>;

    /// Installs the part; returns the paths it created (removed on uninstall).
    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError>;

    /// Updates an installed part whose options did not change. `Ok(None)` keeps the recorded
    /// paths. Not overriding it makes buildout warn and call `install`, as zc.buildout does for
    /// recipes without an `update` method.
    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        let _ = (ctx, options);
        Err(RecipeError::no_update())
    }

    /// What the part's `__buildout_signature__` records instead of this library's distribution
    /// and version; a change reinstalls the part. Only a recipe that runs other distributions'
    /// code (the Python bridge) needs one.
    fn signature(&self) -> Option<String> {
        None
    }
}

/// An uninstall entry: runs before the part's recorded paths are removed.
pub type UninstallFn = fn(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError>;

/// Writes `contents` to `path` only if the file does not hold them already, atomically (a
/// temporary file beside it, renamed into place): a reader never sees half a file, and an
/// unchanged file keeps its time stamp. Returns whether it changed anything. `mode` sets the file's
/// permissions (`0o755` for a script); `None` keeps an existing file's, and gives a new file the
/// permissions `std::fs::write` would (0666 less the umask).
pub fn write_if_changed(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<bool, RecipeError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        let current = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).ok();
        return match mode {
            Some(mode) if current != Some(mode) => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map(|()| true)
                    .map_err(|e| RecipeError::io("set the mode of", path, &e))
            }
            _ => Ok(false),
        };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (tmp, mut file) = temporary_file(path).map_err(|e| RecipeError::io("create a file in", dir, &e))?;
    let permissions = match mode {
        Some(mode) => Some(std::fs::Permissions::from_mode(mode)),
        None => std::fs::metadata(path).ok().map(|m| m.permissions()),
    };
    let written = file.write_all(contents).map_err(|e| RecipeError::io("write", path, &e)).and_then(|()| {
        if let Some(permissions) = permissions {
            file.set_permissions(permissions).map_err(|e| RecipeError::io("set the mode of", path, &e))?;
        }
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| RecipeError::io("write", path, &e))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| true)
}

/// A new file beside `path` (mode 0666 less the umask), named so that it cannot collide with
/// another writer's: `.<name>.<pid>.<n>.tmp`.
fn temporary_file(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name =
        path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let tmp = path.with_file_name(tmp_name);
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o666).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // Left behind by a process with our pid that was killed: take the next number.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::testing::TestHost;
    use super::{Context, Options, Recipe, RecipeError};

    struct Greeter {
        out: PathBuf,
    }

    impl Recipe for Greeter {
        fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
            let out = PathBuf::from(ctx.buildout_option("directory")?).join(options.require("file")?);
            let who = ctx.get("people", "name")?.unwrap_or_else(|| "nobody".into());
            options.set("greeting", format!("hello {who}"));
            Ok(Greeter { out })
        }

        fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
            ctx.created(&[&self.out])?;
            std::fs::write(&self.out, options.require("greeting")?)
                .map_err(|e| RecipeError::io("write", &self.out, &e))?;
            ctx.info("greeted");
            Ok(vec![self.out.clone()])
        }
    }

    #[test]
    fn a_recipe_runs_against_the_test_host() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut host = TestHost::default();
        host.buildout.insert("directory".into(), dir.path().display().to_string());
        host.sections.insert(("people".into(), "name".into()), "world".into());
        let (mut recipe, options) =
            host.construct::<Greeter>("g", &[("file", "out.txt"), ("extra", "x")]).expect("constructs");
        assert_eq!(options.get("greeting"), Some("hello world"));
        assert!(!options.used().contains(&"extra".to_owned()), "unread options are not used");
        let paths = host.with_context("g", |ctx| recipe.install(ctx, &options)).expect("installs");
        assert_eq!(paths, [dir.path().join("out.txt")]);
        assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).expect("written"), "hello world");
        assert_eq!(host.logs.borrow().as_slice(), ["g: greeted"]);
        assert_eq!(host.created.borrow().len(), 1);

        let missing = host.construct::<Greeter>("g", &[]).map(drop).expect_err("file is required");
        assert_eq!(missing.message(), "Missing option: g:file");
        let err = RecipeError::io("write", std::path::Path::new("/nope/x"), &std::io::Error::from_raw_os_error(2));
        assert_eq!(err.message(), "write /nope/x: No such file or directory");
    }

    #[test]
    fn option_helpers() {
        let options = Options::new(
            "web",
            [("on", "true"), ("off", "false"), ("odd", "yes"), ("eggs", "  ZEO\n\n   ZODB >= 6 \n")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        let cases: [(&str, bool, Result<bool, &str>); 4] = [
            ("on", false, Ok(true)),
            ("off", true, Ok(false)),
            ("absent", true, Ok(true)),
            ("odd", false, Err("Invalid value for web:odd option: yes")),
        ];
        for (key, default, expected) in cases {
            let got = options.bool(key, default).map_err(|e| e.message().to_owned());
            assert_eq!(got, expected.map_err(str::to_owned), "{key}");
        }
        assert_eq!(options.lines("eggs"), ["ZEO", "ZODB >= 6"]);
        assert!(options.lines("absent").is_empty());
    }

    #[test]
    fn writing_only_what_changed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("script");
        let mode = |path: &std::path::Path| std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777;
        // What `std::fs::write` gives a new file here (0666 less the umask).
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").expect("write");
        // (contents, mode, written, mode afterwards)
        let steps: [(&[u8], Option<u32>, bool, u32); 4] = [
            (b"#!/bin/sh\n", Some(0o755), true, 0o755),
            (b"#!/bin/sh\n", Some(0o755), false, 0o755),
            (b"#!/bin/sh -e\n", None, true, 0o755),
            (b"#!/bin/sh -e\n", Some(0o640), true, 0o640),
        ];
        for (contents, new_mode, written, after) in steps {
            assert_eq!(super::write_if_changed(&file, contents, new_mode).expect("write"), written);
            assert_eq!(std::fs::read(&file).expect("read"), contents);
            assert_eq!(mode(&file), after, "{contents:?} {new_mode:?}");
        }
        let fresh = dir.path().join("fresh");
        assert!(super::write_if_changed(&fresh, b"x", None).expect("write"));
        assert_eq!(mode(&fresh), mode(&plain), "a new file without a mode");
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").flatten().collect();
        assert_eq!(names.len(), 3, "no temporary file is left");
        let blocked = super::write_if_changed(&dir.path().join("no/such/dir/x"), b"x", None);
        assert!(blocked.is_err_and(|e| e.message().starts_with("create a file in ")));
    }

    #[test]
    fn paths_against_the_buildout_directory() {
        let mut host = TestHost::default();
        host.buildout.insert("directory".into(), "/srv/app".into());
        host.with_context("p", |ctx| {
            assert_eq!(ctx.path("parts/x").expect("path"), PathBuf::from("/srv/app/parts/x"));
            assert_eq!(ctx.path("/srv/x").expect("path"), PathBuf::from("/srv/x"));
        });
    }

    struct Flaky {
        boom: bool,
    }

    impl Recipe for Flaky {
        fn new(_: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
            Ok(Flaky { boom: options.bool("boom", false)? })
        }

        fn install(&mut self, ctx: &Context<'_>, _: &Options) -> Result<Vec<PathBuf>, RecipeError> {
            ctx.warn("installing");
            if self.boom {
                panic!("the recipe broke");
            }
            Ok(vec![PathBuf::from("/srv/x")])
        }
    }

    fn forget(ctx: &Context<'_>, options: &std::collections::BTreeMap<String, String>) -> Result<(), RecipeError> {
        ctx.debug(&format!("forgetting {}", options.get("name").map_or("?", String::as_str)));
        Ok(())
    }

    #[test]
    fn the_test_host_runs_every_entry_as_buildout_does() {
        let host = TestHost::default();
        let (mut ok, options) = host.construct::<Flaky>("p", &[]).expect("constructs");
        assert_eq!(host.install(&mut ok, &options).expect("installs"), [PathBuf::from("/srv/x")]);
        let no_update = host.update(&mut ok, &options).expect_err("no update method");
        assert_eq!(no_update.kind(), super::ErrorKind::NoUpdate);
        host.uninstall(forget, "p", &[("name", "x")]).expect("uninstalls");
        assert_eq!(
            *host.records.borrow(),
            [
                (super::LogLevel::Warning, "p".to_owned(), "installing".to_owned()),
                (super::LogLevel::Debug, "p".to_owned(), "forgetting x".to_owned())
            ]
        );
        let (mut broken, options) = host.construct::<Flaky>("p", &[("boom", "true")]).expect("constructs");
        let panicked = host.install(&mut broken, &options).expect_err("a panic is an error");
        assert_eq!((panicked.kind(), panicked.message()), (super::ErrorKind::Panic, "the recipe broke"));
    }
}
