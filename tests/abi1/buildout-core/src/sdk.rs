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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;

use abi_stable::std_types::{RResult, RStr, RString};

use crate::abi::wire::{self, ErrorKind};
use crate::abi::{self, Constructed, HostHandle, RecipeHandle};

pub use crate::abi::wire::RecipeError;

impl RecipeError {
    /// A user error for a failed file operation: `<what> <path>: <reason>`, without Rust's
    /// `(os error N)` suffix.
    pub fn io(what: &str, path: &Path, error: &std::io::Error) -> RecipeError {
        let text = error.to_string();
        let reason = text.split(" (os error").next().unwrap_or(&text);
        RecipeError::user(format!("{what} {}: {reason}", path.display()))
    }
}

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
    host: HostHandle,
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

    /// Reports versions picked without a pin in `[versions]`; buildout lists them at the end of
    /// the run when `show-picked-versions` is on.
    pub fn picked(&self, versions: &[wire::Picked]) -> Result<(), RecipeError> {
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
        let record = wire::LogRecord { level: level.number(), logger: logger.to_owned(), message: message.to_owned() };
        let _ = self.invoke("log", &record);
    }

    fn invoke(&self, method: &str, payload: &impl serde::Serialize) -> Result<String, RecipeError> {
        let payload = serde_json::to_string(payload).map_err(|e| RecipeError::internal(e.to_string()))?;
        self.host.invoke(method, &payload).map_err(|e| RecipeError::from_json(&e))
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
        Err(RecipeError { kind: ErrorKind::NoUpdate, ..RecipeError::default() })
    }
}

/// An uninstall entry: runs before the part's recorded paths are removed.
pub type UninstallFn = fn(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError>;

#[doc(hidden)]
pub trait DynRecipe {
    fn run(&mut self, method: &str, ctx: &Context<'_>) -> Result<wire::Installed, RecipeError>;
}

struct Instance<R> {
    recipe: R,
    options: Options,
}

impl<R: Recipe> DynRecipe for Instance<R> {
    fn run(&mut self, method: &str, ctx: &Context<'_>) -> Result<wire::Installed, RecipeError> {
        let paths = match method {
            "install" => Some(self.recipe.install(ctx, &self.options)?),
            "update" => self.recipe.update(ctx, &self.options)?,
            other => {
                return Err(RecipeError::internal(format!("unknown recipe method '{other}'")));
            }
        };
        let paths = paths.map(|p| p.iter().map(|p| p.display().to_string()).collect());
        Ok(wire::Installed { paths, used: self.options.take_used() })
    }
}

/// Constructs a recipe of type `R`; one per entry in the export table.
#[doc(hidden)]
pub type Factory = fn(HostHandle, wire::Construct) -> Result<(Box<dyn DynRecipe>, wire::Constructed), RecipeError>;

#[doc(hidden)]
pub fn factory<R: Recipe>(
    host: HostHandle,
    request: wire::Construct,
) -> Result<(Box<dyn DynRecipe>, wire::Constructed), RecipeError> {
    let mut options = Options::new(request.part.clone(), request.options);
    let ctx = Context { host, part: &request.part, buildout: &request.buildout };
    let recipe = R::new(&ctx, &mut options)?;
    let reply = wire::Constructed { options: options.values.clone(), used: options.take_used() };
    Ok((Box::new(Instance { recipe, options }), reply))
}

struct Boxed {
    recipe: Box<dyn DynRecipe>,
    part: String,
    buildout: BTreeMap<String, String>,
}

thread_local! {
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics in a recipe become errors naming the part; the library's own hook would print a
/// backtrace to stderr, so replace it with one that keeps the message for the error.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{location}")));
        }));
    });
}

fn guarded<T>(body: impl FnOnce() -> Result<T, RecipeError>) -> Result<T, RecipeError> {
    quiet_panics();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(_) => {
            let detail = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            let message = detail.split(" at ").next().unwrap_or_default().to_owned();
            Err(RecipeError { kind: ErrorKind::Panic, message, detail: Some(detail), doing: Vec::new() })
        }
    }
}

fn reply<T>(result: Result<T, RecipeError>) -> RResult<T, RString> {
    match result {
        Ok(v) => RResult::ROk(v),
        Err(e) => RResult::RErr(e.to_json().into()),
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<RString, RecipeError> {
    serde_json::to_string(value).map(RString::from).map_err(|e| RecipeError::internal(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(text: RStr<'_>) -> Result<T, RecipeError> {
    serde_json::from_str(text.as_str()).map_err(|e| RecipeError::internal(format!("bad request from buildout: {e}")))
}

#[doc(hidden)]
pub fn metadata_impl(
    distribution: &str,
    version: &str,
    entries: &[(&str, Factory)],
    uninstall: &[(&str, UninstallFn)],
) -> RString {
    let metadata = wire::Metadata {
        distribution: distribution.to_owned(),
        version: version.to_owned(),
        entries: entries.iter().map(|(name, _)| (*name).to_owned()).collect(),
        uninstall: uninstall.iter().map(|(name, _)| (*name).to_owned()).collect(),
    };
    to_json(&metadata).unwrap_or_default()
}

#[doc(hidden)]
pub fn construct_impl(
    entries: &[(&str, Factory)],
    host: HostHandle,
    request: RStr<'_>,
) -> RResult<Constructed, RString> {
    reply(guarded(|| {
        let request: wire::Construct = parse(request)?;
        let factory = entries
            .iter()
            .find(|(name, _)| *name == request.entry)
            .map(|(_, f)| *f)
            .ok_or_else(|| RecipeError::internal(format!("no recipe entry '{}'", request.entry)))?;
        let part = request.part.clone();
        let buildout = request.buildout.clone();
        let (recipe, constructed) = factory(host, request)?;
        let reply = to_json(&constructed)?;
        Ok(Constructed { recipe: abi::into_handle(Box::new(Boxed { recipe, part, buildout })), reply })
    }))
}

#[doc(hidden)]
pub fn call_impl(handle: RecipeHandle, host: HostHandle, method: RStr<'_>) -> RResult<RString, RString> {
    reply(guarded(|| {
        // SAFETY: the host only passes handles `construct_impl` made and has not released.
        #[allow(unsafe_code)]
        let boxed: &mut Boxed = unsafe { abi::handle_mut(handle) };
        let ctx = Context { host, part: &boxed.part, buildout: &boxed.buildout };
        let installed = boxed.recipe.run(method.as_str(), &ctx)?;
        to_json(&installed)
    }))
}

#[doc(hidden)]
pub fn release_impl(handle: RecipeHandle) {
    // SAFETY: as in `call_impl`; the host releases each handle once.
    #[allow(unsafe_code)]
    let result = catch_unwind(|| unsafe { abi::release_handle::<Boxed>(handle) });
    drop(result);
}

#[doc(hidden)]
pub fn uninstall_impl(
    uninstall: &[(&str, UninstallFn)],
    host: HostHandle,
    request: RStr<'_>,
) -> RResult<RString, RString> {
    reply(guarded(|| {
        let request: wire::Uninstall = parse(request)?;
        let Some((_, f)) = uninstall.iter().find(|(name, _)| *name == request.entry) else {
            return Ok(RString::new());
        };
        let empty = BTreeMap::new();
        let ctx = Context { host, part: &request.part, buildout: &empty };
        f(&ctx, &request.options)?;
        Ok(RString::new())
    }))
}

/// Exports a recipe library: its distribution name, version, install entries and optional
/// uninstall entries. See the [`sdk`](crate::sdk) module for an example.
#[macro_export]
macro_rules! export_recipes {
    (
        distribution: $dist:expr,
        version: $version:expr,
        entries: { $($entry:literal => $recipe:ty),* $(,)? }
        $(, uninstall: { $($uentry:literal => $ufn:path),* $(,)? })?
        $(,)?
    ) => {
        // A panic must unwind to the SDK's guard, which turns it into an error naming the part;
        // with `panic = "abort"` it would kill buildout itself, silently.
        #[cfg(panic = "abort")]
        compile_error!(
            "a buildout recipe library must be built with panic = \"unwind\" (the default): with \
             panic = \"abort\" a panicking recipe would kill buildout instead of failing its part; \
             remove `panic = \"abort\"` from the profile (or `-C panic=abort` from RUSTFLAGS)"
        );
        const _: () = {
            use $crate::abi::reexport::std_types::{RResult, RStr, RString};
            use $crate::abi::{Constructed, HostHandle, RecipeHandle};

            const ENTRIES: &[(&str, $crate::sdk::Factory)] = &[$(($entry, $crate::sdk::factory::<$recipe>)),*];
            const UNINSTALL: &[(&str, $crate::sdk::UninstallFn)] = &[$($(($uentry, $ufn)),*)?];

            extern "C" fn metadata() -> RString {
                $crate::sdk::metadata_impl($dist, $version, ENTRIES, UNINSTALL)
            }
            extern "C" fn construct(host: HostHandle, request: RStr<'_>) -> RResult<Constructed, RString> {
                $crate::sdk::construct_impl(ENTRIES, host, request)
            }
            extern "C" fn call(recipe: RecipeHandle, host: HostHandle, method: RStr<'_>) -> RResult<RString, RString> {
                $crate::sdk::call_impl(recipe, host, method)
            }
            extern "C" fn release(recipe: RecipeHandle) {
                $crate::sdk::release_impl(recipe)
            }
            extern "C" fn uninstall(host: HostHandle, request: RStr<'_>) -> RResult<RString, RString> {
                $crate::sdk::uninstall_impl(UNINSTALL, host, request)
            }
            fn root_module() -> $crate::abi::RecipeLibraryRef {
                $crate::abi::library(metadata, construct, call, release, uninstall)
            }
            extern "C" fn loader() -> $crate::abi::reexport::library::RootModuleResult {
                $crate::abi::root_module_result(root_module)
            }
            #[allow(unsafe_code, non_upper_case_globals)]
            #[unsafe(no_mangle)]
            pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi::reexport::library::LibHeader =
                $crate::abi::lib_header(loader);
        };
    };
}

