//! One operation per command, as cargo splits `cargo::ops` from its command line: each takes
//! the loaded configuration (or what it needs) and returns its result or a typed error; the
//! `buildout` program parses arguments into a command, calls one of these, and prints.
//!
//! * [`install`] and [`plan`]: the engine, with the directory's lock and the recipe search path
//!   (after building `develop` crates, for `install`);
//! * [`develop`]: `develop =` (recipe crates built, Python projects installed editable) and the
//!   recipe search path, built in one place;
//! * [`setup`]: `init` and `bootstrap`;
//! * [`query`]: one raw value;
//! * [`extensions`] and [`sources`]: `extensions =` (mr.developer natively, any other refused)
//!   and `buildout sources`.

pub mod develop;
pub mod extensions;
pub mod setup;
pub mod sources;

use std::path::Path;
use std::rc::Rc;

use crate::config::{Buildout, Environment, Error, ErrorKind};
use crate::engine::{self, lock::DirectoryLock, plan::Plan};
use crate::log::Log;

pub use develop::{Build, prepare, search_path};

/// What `install` and `plan` are asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// The parts named on the command line; none for the configured `parts` (then parts no
    /// longer configured are uninstalled, else only the named ones are touched).
    pub parts: Vec<String>,
}

/// `install [parts]`, holding the buildout directory's lock (`waiting` is told when another
/// buildout holds it).
pub fn install(
    buildout: &mut Buildout,
    log: Rc<dyn Log>,
    options: &InstallOptions,
    waiting: impl FnOnce(&Path),
) -> crate::config::Result<()> {
    let dir = std::path::PathBuf::from(&buildout.directory);
    let _lock = DirectoryLock::acquire(&dir, waiting).map_err(|e| Error::file("lock", dir.display().to_string(), e))?;
    extensions::apply(buildout, &*log, Build::Yes).map_err(|e| e.within("Installing."))?;
    let prepare_log = Rc::clone(&log);
    let prepare = Box::new(move |b: &mut Buildout| develop::prepare(b, &*prepare_log, Build::Yes));
    engine::install(buildout, log, Environment::current(), &options.parts, prepare)
}

/// `plan [parts]`: what [`install`] would do and why, changing nothing (no lock, no directory,
/// no develop build, no recipe run but the constructors, nothing recorded).
pub fn plan(buildout: &mut Buildout, log: Rc<dyn Log>, options: &InstallOptions) -> crate::config::Result<Plan> {
    extensions::apply(buildout, &*log, Build::No).map_err(|e| e.within("Installing."))?;
    let prepare_log = Rc::clone(&log);
    let prepare = Box::new(move |b: &mut Buildout| develop::prepare(b, &*prepare_log, Build::No));
    engine::plan(buildout, log, Environment::current(), &options.parts, prepare)
}

/// The option `query [section:]option` names: `(section, option)`, `buildout` by default.
pub fn query_target(arg: &str) -> crate::config::Result<(&str, &str)> {
    match arg.split(':').collect::<Vec<_>>().as_slice() {
        [option] => Ok(("buildout", *option)),
        [section, option] => Ok((*section, *option)),
        _ => Err(Error::user(format!("Invalid option: {arg}"))),
    }
}

/// `query`: the raw (unevaluated) value of `section:option`, as zc.buildout prints it.
pub fn query(buildout: &Buildout, section: &str, option: &str) -> crate::config::Result<String> {
    let raw = buildout.sections.raw(section).ok_or_else(|| Error::user(format!("Section not found: {section}")))?;
    raw.get(option).cloned().ok_or_else(|| Error::new(ErrorKind::User(format!("Key not found: {option}"))))
}
