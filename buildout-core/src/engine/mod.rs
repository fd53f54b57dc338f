//! The install engine: decides which parts to uninstall, update or install by comparing the
//! configuration with `.installed.cfg`, runs the recipes, and records the outcome so that the
//! next run converges, whatever happened to this one.

pub mod installed;
pub mod lock;
pub mod picked;
pub mod plan;
pub mod recipe_dist;
pub mod recipes;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::abi::wire::{self, ErrorKind as WireKind};
use crate::config::error::Doing;
use crate::config::pytext::repr;
use crate::config::{Buildout, Environment, Error, ErrorKind, pypath};
use crate::loader::Loader;
use crate::log::{BUILDOUT_LOGGER, Level, Log};

use crate::stable_hash;
use installed::{INSTALLED, Installed, PartOptions, SIGNATURE, Step};
use recipes::{PartHost, Recipes, recipe_error};

/// Builds the `develop` recipe crates and returns the loader for the recipe search path, with
/// the paths of the libraries built (recorded as develop eggs).
pub type Prepare<'a> = dyn FnOnce(&mut Buildout) -> crate::config::Result<(Loader, Vec<String>)> + 'a;

struct Run<'a> {
    buildout: &'a mut Buildout,
    recipes: Option<Rc<Recipes>>,
    log: Rc<dyn Log>,
    env: &'a Environment,
    /// `.installed.cfg`, or `None` when `installed` is empty (nothing is recorded).
    path: Option<PathBuf>,
    state: Installed,
    /// The state as it was read, to know at the end whether anything changed.
    initial: Installed,
    changed: bool,
    mode: Mode,
    /// The plan, in [`Mode::Plan`].
    plan: Option<plan::Plan>,
}

/// Whether a run does what it decides, or only decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Install,
    /// Decide, change nothing: no directory is created, no develop egg recorded or removed, no
    /// recipe runs but its constructor, nothing is recorded.
    Plan,
}

fn info(log: &dyn Log, message: &str) {
    log.log(Level::Info, BUILDOUT_LOGGER, message);
}

/// Runs `buildout install`: the configured parts, or only `parts` when some are named (then
/// nothing else is uninstalled).
pub fn install(
    buildout: &mut Buildout,
    log: Rc<dyn Log>,
    env: &Environment,
    parts: &[String],
    prepare: Box<Prepare<'_>>,
) -> crate::config::Result<()> {
    let mut run = Run::new(buildout, log, env, Mode::Install);
    let result = run.run(parts, prepare);
    // Whatever happened, what finished is recorded.
    let saved = run.finish(result.is_err());
    result.and(saved)
}

/// What `buildout install [parts]` would do, and why, changing nothing: the parts are
/// constructed (their recipes loaded, their constructors run) but no directory is created and
/// nothing installed, updated, uninstalled or recorded. `prepare` must not build anything either.
pub fn plan(
    buildout: &mut Buildout,
    log: Rc<dyn Log>,
    env: &Environment,
    parts: &[String],
    prepare: Box<Prepare<'_>>,
) -> crate::config::Result<plan::Plan> {
    let mut run = Run::new(buildout, log, env, Mode::Plan);
    run.run(parts, prepare)?;
    Ok(run.plan.take().unwrap_or_default())
}

impl<'a> Run<'a> {
    fn new(buildout: &'a mut Buildout, log: Rc<dyn Log>, env: &'a Environment, mode: Mode) -> Run<'a> {
        Run {
            buildout,
            recipes: None,
            log,
            env,
            path: None,
            state: Installed::default(),
            initial: Installed::default(),
            changed: false,
            mode,
            plan: None,
        }
    }

    fn option(&mut self, name: &str) -> crate::config::Result<String> {
        self.buildout.sections.require("buildout", name)
    }

    fn setup_directories(&mut self) -> crate::config::Result<()> {
        for name in ["bin-directory", "parts-directory", "develop-eggs-directory"] {
            let dir = self.option(name)?;
            if !Path::new(&dir).exists() {
                info(&*self.log, &format!("Creating directory {}.", repr(&dir)));
                std::fs::create_dir(&dir).map_err(|e| Error::file("create", dir.clone(), e))?;
            }
        }
        Ok(())
    }

    fn recipes(&self) -> crate::config::Result<Rc<Recipes>> {
        self.recipes.clone().ok_or_else(|| Error::user("recipes are used before they are loaded"))
    }

    fn run(&mut self, parts: &[String], prepare: Box<Prepare<'_>>) -> crate::config::Result<()> {
        if self.mode == Mode::Install {
            self.setup_directories()
                .doing(|| "Setting up buildout directories".into())
                .doing(|| "Installing.".into())?;
        }
        let installed = self.option("installed").doing(|| "Installing.".into())?;
        if !installed.is_empty() {
            let path = PathBuf::from(&installed);
            let read = Installed::read(&path, self.env).map_err(|e| Error::other(e).within("Installing."))?;
            self.state = read.unwrap_or_default();
            self.initial = self.state.clone();
            self.path = Some(path);
        }
        let (loader, developed) = prepare(self.buildout).doing(|| "Installing.".into())?;
        let recipes = match self.mode {
            Mode::Install => Recipes::new(loader, Rc::clone(&self.log)),
            Mode::Plan => Recipes::new(loader, Rc::clone(&self.log)).without_fetching(),
        };
        let recipes = Rc::new(recipes);
        self.recipes = Some(recipes.clone());
        self.buildout.sections.set_hook(recipes.clone()).doing(|| "Installing.".into())?;
        if self.mode == Mode::Install {
            self.develop(&developed)?;
        }
        self.install_parts(parts)
    }

    /// Records the develop libraries; old ones no longer built are removed.
    fn develop(&mut self, developed: &[String]) -> crate::config::Result<()> {
        let now = developed.join("\n");
        for old in self.state.develop_eggs.split('\n').filter(|p| !p.is_empty()) {
            if !developed.iter().any(|p| p == old) {
                remove_path(old, &self.buildout.directory, &*self.log, "develop-eggs");
            }
        }
        if self.state.develop_eggs != now {
            self.record(Step::Develop { eggs: &now })?;
            self.state.develop_eggs = now;
        }
        Ok(())
    }

    fn record(&mut self, step: Step<'_>) -> crate::config::Result<()> {
        self.changed = true;
        if let Some(path) = &self.path {
            installed::journal(path, step).map_err(|e| Error::new(ErrorKind::Record(Box::new(e))))?;
        }
        Ok(())
    }

    /// Records the state the run leaves. A failed first run that installed no part leaves no
    /// `.installed.cfg`, as in zc.buildout (which records develop eggs only with a part): the
    /// next run develops them again.
    fn finish(&mut self, failed: bool) -> crate::config::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let first_run_failed = failed && self.state.parts.is_empty() && !path.exists();
        let result = if first_run_failed {
            installed::remove_journal(path)
        } else if self.state.parts.is_empty() && self.state.develop_eggs.is_empty() {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(installed::InstalledError::Io { path: path.clone(), source: e })
                }
                _ => installed::remove_journal(path),
            }
        } else if self.changed || self.state != self.initial {
            self.state.save(path)
        } else {
            Ok(())
        };
        result.map_err(|e| Error::new(ErrorKind::Record(Box::new(e))))
    }

    fn install_parts(&mut self, requested: &[String]) -> crate::config::Result<()> {
        let conf_parts: Vec<String> =
            self.option("parts").doing(|| "Installing.".into())?.split_whitespace().map(str::to_owned).collect();
        // Named parts are installed once each, in the order given (zc.buildout trips over a
        // repeated name with an internal error).
        let mut named: Vec<String> = Vec::new();
        for part in requested {
            if !named.contains(part) {
                named.push(part.clone());
            }
        }
        let (mut install_parts, uninstall_missing) =
            if requested.is_empty() { (conf_parts, true) } else { (named, false) };
        for part in &install_parts {
            self.buildout.sections.require(part, "recipe").doing(|| "Installing.".into())?;
        }
        if requested.is_empty() {
            install_parts = self.buildout.sections.parts().to_vec();
        }
        if self.buildout.log_threshold < 10 {
            self.dump_configuration()?;
        }
        self.compute_signatures(&install_parts)?;
        // A recorded part's options are compared the way zc.buildout compares them, which reads
        // (and so uses) every one; a new part's are only looked at, so that the options no
        // recipe reads are still reported as unused after its install.
        let mut constructed = Vec::with_capacity(install_parts.len());
        for part in &install_parts {
            let options = if self.state.parts.contains(part) {
                self.current_options(part)?
            } else {
                self.buildout.sections.snapshot(part)?
            };
            constructed.push(plan::Constructed { name: part.clone(), options });
        }
        let directory = self.buildout.directory.clone();
        let exists = |path: &str| Path::new(&pypath::join(&directory, path)).exists();
        let plan = plan::plan(&self.state, &constructed, !uninstall_missing, &exists);
        if self.mode == Mode::Plan {
            self.plan = Some(plan);
            return Ok(());
        }
        // Worded only when shown (a no-op run of 1000 parts would format 1000 lines for nothing).
        if self.buildout.log_threshold <= Level::Debug as i64 {
            for step in &plan.steps {
                self.log.log(Level::Debug, BUILDOUT_LOGGER, &format!("Plan: {}", step.describe()));
            }
        }

        for step in plan.steps.iter().filter(|s| s.action == plan::Action::Uninstall) {
            let part = step.part.as_str();
            if self.buildout.log_threshold < 10
                && let Some(new_options) = constructed.iter().find(|c| c.name == part).map(|c| &c.options)
            {
                let mut old_options = self.state.options.get(part).cloned().unwrap_or_default();
                old_options.remove(INSTALLED);
                if old_options != *new_options {
                    self.explain_changes(part, &old_options, new_options);
                }
            }
            interrupted().doing(|| "Installing.".into())?;
            self.uninstall_part(part).doing(|| "Installing.".into())?;
            self.state.parts.retain(|p| p != part);
            self.state.options.remove(part);
            self.record(Step::Uninstalled { part })?;
        }

        self.check_unused("buildout");

        for step in plan.steps.iter().filter(|s| s.action != plan::Action::Uninstall) {
            interrupted().doing(|| "Installing.".into())?;
            self.install_part(&step.part)?;
        }
        self.print_picked_versions()
    }

    /// `show-picked-versions` and `update-versions-file`: what recipes installed without a pin,
    /// all parts together, once at the end of the run.
    fn print_picked_versions(&mut self) -> crate::config::Result<()> {
        let show = self.buildout.sections.get("buildout", "show-picked-versions")?.as_deref() == Some("true");
        let file = self.buildout.sections.get("buildout", "update-versions-file")?.filter(|f| !f.is_empty());
        if !show && file.is_none() {
            return Ok(());
        }
        let reported = self.recipes()?.picked.borrow().clone();
        if reported.is_empty() {
            return Ok(());
        }
        let output = picked::format(&reported);
        if show {
            let text = format!(
                "Versions had to be automatically picked.\nThe following part definition lists the versions picked:\n{}",
                output.join("\n")
            );
            info(&*self.log, &text);
        }
        if let Some(file) = file {
            picked::append(Path::new(&file), output).map_err(|e| {
                crate::config::Error::new(crate::config::ErrorKind::Io { path: file.clone(), source: e })
                    .within("Writing picked versions.")
            })?;
            info(&*self.log, &format!("Picked versions have been written to {file}"));
        }
        Ok(())
    }

    /// Every option of a part as zc.buildout compares them with the saved ones (reading them all,
    /// which also makes them "used").
    fn current_options(&mut self, part: &str) -> crate::config::Result<PartOptions> {
        let mut out = PartOptions::new();
        for key in self.buildout.sections.keys(part) {
            if let Some(v) = self.buildout.sections.get(part, &key)? {
                out.insert(key, v);
            }
        }
        Ok(out)
    }

    fn explain_changes(&self, part: &str, old: &PartOptions, new: &PartOptions) {
        let log = &*self.log;
        for (k, v) in old {
            match new.get(k) {
                None => log.log(Level::Debug, BUILDOUT_LOGGER, &format!("Part {part}, dropped option {k}.")),
                Some(n) if n != v => log.log(
                    Level::Debug,
                    BUILDOUT_LOGGER,
                    &format!("Part {part}, option {k} changed:\n{} != {}", repr(n), repr(v)),
                ),
                _ => {}
            }
        }
        for k in new.keys().filter(|k| !old.contains_key(*k)) {
            log.log(Level::Debug, BUILDOUT_LOGGER, &format!("Part {part}, new option {k}."));
        }
    }

    fn dump_configuration(&mut self) -> crate::config::Result<()> {
        let mut text = String::from("\nConfiguration data:\n");
        for name in self.buildout.sections.evaluated_names() {
            let options = self.current_options(&name)?;
            text.push_str(&format!("[{name}]\n"));
            for (k, v) in options {
                text.push_str(&format!("{k} = {}\n", installed::encode_value(&v)));
            }
        }
        self.log.print(&text);
        Ok(())
    }

    /// The signature records the recipe library's distribution and version; a library built
    /// from a `develop` crate records a hash of its content instead, so rebuilding it reinstalls
    /// its parts.
    fn compute_signatures(&mut self, parts: &[String]) -> crate::config::Result<()> {
        let develop_eggs = self.option("develop-eggs-directory")?;
        let recipes = self.recipes()?;
        for part in parts {
            let Some(p) = recipes.part(part) else {
                continue;
            };
            let meta = &p.library.metadata;
            let signature = if let Some(signature) = &p.signature {
                signature.clone()
            } else if p.library.path.starts_with(&develop_eggs) {
                let content = std::fs::read(&p.library.path).unwrap_or_default();
                let signature = format!("{}-{}", meta.distribution, stable_hash::hex16(&content));
                // Recorded by a buildout before stable hashes, for this very library: the same
                // signature, written anew.
                let legacy = format!("{}-{:016x}", meta.distribution, stable_hash::legacy(&content));
                if let Some(recorded) = self.state.options.get_mut(part)
                    && recorded.get(SIGNATURE) == Some(&legacy)
                {
                    recorded.insert(SIGNATURE.to_owned(), signature.clone());
                }
                signature
            } else {
                format!("{}-{}", meta.distribution, meta.version)
            };
            self.buildout.sections.set(part, SIGNATURE, signature)?;
        }
        Ok(())
    }

    fn check_unused(&mut self, section: &str) {
        let mut unused = self.buildout.sections.unused(section);
        if unused.is_empty() {
            return;
        }
        unused.sort();
        let names: Vec<String> = unused.iter().map(|k| repr(k)).collect();
        self.log.log(
            Level::Warning,
            BUILDOUT_LOGGER,
            &format!(
                "Section `{section}` contains unused option(s): {}.\nThis may be an indication for either a typo in the option's name or a bug in the used recipe.",
                names.join(" ")
            ),
        );
    }

    fn uninstall_part(&mut self, part: &str) -> crate::config::Result<()> {
        let what = format!("Uninstalling {part}.");
        info(&*self.log, &what);
        let options = self.state.options.get(part).cloned().unwrap_or_default();
        let spec = options.get("recipe").cloned().unwrap_or_default();
        // A library that cannot be loaded any more has no uninstall entry to run.
        let recipes_handle = self.recipes()?;
        if let Ok((library, entry)) = recipes_handle.library(&spec, &mut self.buildout.sections) {
            if library.metadata.uninstall.contains(&entry) {
                // The bridge says itself whether the Python recipe has an uninstall entry.
                if !library.is_python_bridge() {
                    info(&*self.log, "Running uninstall recipe.");
                }
                let request = wire::Uninstall { entry, part: part.to_owned(), options: options.clone() };
                let host = PartHost::new(&mut self.buildout.sections, &*self.log, &recipes_handle.picked, part);
                library.uninstall(&host, &request).map_err(|e| recipe_error(part, e).within(what.clone()))?;
            } else {
                // What zc.buildout logs when a recipe has no uninstall entry (shown from -vv on).
                let dist = &library.metadata.distribution;
                self.log.log(
                    Level::Detail,
                    BUILDOUT_LOGGER,
                    &format!(
                        "Couldn't load zc.buildout.uninstall entry point {entry}\nfrom {dist}:\nEntry point ('zc.buildout.uninstall', '{entry}') not found."
                    ),
                );
            }
        }
        for path in options.get(INSTALLED).map(String::as_str).unwrap_or("").split('\n').filter(|p| !p.is_empty()) {
            remove_path(path, &self.buildout.directory, &*self.log, part);
        }
        Ok(())
    }

    /// Runs the part's `update` (or, for a recipe without one, with zc.buildout's warning, its
    /// `install`) or `install`; on failure what the call registered as created is removed.
    fn call_recipe(
        &mut self,
        part: &str,
        recipe: &recipes::Part,
        updating: bool,
    ) -> crate::config::Result<wire::Installed> {
        let recipes_handle = self.recipes()?;
        let mut method = if updating { "update" } else { "install" };
        loop {
            let host = PartHost::new(&mut self.buildout.sections, &*self.log, &recipes_handle.picked, part);
            let result = recipe.recipe.call(&host, method);
            let created = host.created.take();
            drop(host);
            match result {
                Err(e) if e.kind == WireKind::NoUpdate && method == "update" => {
                    self.log.log(
                        Level::Warning,
                        BUILDOUT_LOGGER,
                        &format!("The recipe for {part} doesn't define an update method. Using its install method."),
                    );
                    method = "install";
                }
                Err(e) => {
                    for path in &created {
                        remove_created(path, &*self.log);
                    }
                    return Err(recipe_error(part, e));
                }
                Ok(reply) => return Ok(reply),
            }
        }
    }

    fn install_part(&mut self, part: &str) -> crate::config::Result<()> {
        let signature = self.buildout.sections.peek(part, SIGNATURE)?.unwrap_or_default();
        let mut saved = self.buildout.sections.snapshot(part)?;
        saved.remove(SIGNATURE);
        let Some(recipe) = self.recipes()?.part(part) else {
            return Err(Error::user(format!("Missing option: {part}:recipe")).within("Installing."));
        };
        let position = self.state.parts.iter().position(|p| p == part);
        let updating = position.is_some();
        let what = format!("{} {part}.", if updating { "Updating" } else { "Installing" });
        info(&*self.log, &what);
        let old_files: Vec<String> = self
            .state
            .options
            .get(part)
            .and_then(|o| o.get(INSTALLED))
            .map(|f| f.split('\n').filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();

        let reply = match self.call_recipe(part, &recipe, updating) {
            Ok(reply) => reply,
            Err(e) => {
                if updating {
                    // A failed update leaves the part in an unknown state: forget it, so that
                    // the next run installs it afresh.
                    for path in &old_files {
                        remove_path(path, &self.buildout.directory, &*self.log, part);
                    }
                    self.state.parts.retain(|p| p != part);
                    self.state.options.remove(part);
                    self.record(Step::Uninstalled { part })?;
                }
                return Err(e.within(what));
            }
        };
        self.buildout.sections.mark_used(part, &reply.used);
        let files = recorded_paths(old_files, reply.paths, updating);
        saved.insert(INSTALLED.to_owned(), files.join("\n"));
        saved.insert(SIGNATURE.to_owned(), signature);
        self.check_unused(part);
        // An update that changed nothing only moves the part to the end of the list; that is
        // folded into .installed.cfg at the end without a journal record.
        if !updating || self.state.options.get(part) != Some(&saved) {
            self.record(Step::Installed { part, options: &saved })?;
        }
        // In a run the part being installed is usually first in the list: updates move each part
        // to the end in turn.
        if let Some(i) = position {
            self.state.parts.remove(i);
        }
        self.state.parts.push(part.to_owned());
        self.state.options.insert(part.to_owned(), saved);
        Ok(())
    }
}

/// The paths a part records after `install` or `update` answered `answered`: an update's
/// `None` keeps the recorded ones and its paths are added to them; an install's replace them.
fn recorded_paths(recorded: Vec<String>, answered: Option<Vec<String>>, updating: bool) -> Vec<String> {
    match answered {
        None => recorded,
        Some(paths) if updating => {
            let mut all = recorded;
            for p in paths {
                if !all.contains(&p) {
                    all.push(p);
                }
            }
            all
        }
        Some(paths) => paths,
    }
}

/// Stops the run between two parts once a signal has arrived, as a failure would: the parts
/// finished so far stay recorded, and no other is started.
fn interrupted() -> crate::config::Result<()> {
    crate::interrupt::check().map_err(|e| Error::new(ErrorKind::Interrupted(e)))
}

/// Removes a path a failing recipe registered as created.
fn remove_created(path: &str, log: &dyn Log) {
    let p = Path::new(path);
    let result = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else if p.is_file() || p.is_symlink() {
        std::fs::remove_file(p)
    } else {
        log.log(Level::Warning, BUILDOUT_LOGGER, &format!("Couldn't clean up {}.", repr(path)));
        return;
    };
    if result.is_err() {
        log.log(Level::Warning, BUILDOUT_LOGGER, &format!("Couldn't clean up {}.", repr(path)));
    }
}

/// Why a recorded path must not be deleted, if it must not: the filesystem root, a top-level
/// directory, the home directory, or the buildout directory or one of its parents.
fn protected(path: &Path, buildout_dir: &Path) -> Option<&'static str> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let buildout = buildout_dir.canonicalize().unwrap_or_else(|_| buildout_dir.to_path_buf());
    let home = std::env::var_os("HOME").map(PathBuf::from).and_then(|h| h.canonicalize().ok());
    if canonical.parent().is_none() {
        return Some("the filesystem root");
    }
    if canonical.parent() == Some(Path::new("/")) {
        return Some("a top-level system directory");
    }
    if buildout.starts_with(&canonical) {
        return Some("the buildout directory or one that contains it");
    }
    if home.is_some_and(|h| h == canonical) {
        return Some("the home directory");
    }
    None
}

/// Removes a path recorded in `.installed.cfg` (relative paths are relative to the buildout),
/// refusing the ones no part could own.
fn remove_path(recorded: &str, buildout_dir: &str, log: &dyn Log, part: &str) {
    let path = PathBuf::from(pypath::join(buildout_dir, recorded));
    if let Some(why) = protected(&path, Path::new(buildout_dir)) {
        log.log(
            Level::Warning,
            BUILDOUT_LOGGER,
            &format!("Not removing {} recorded for {part}: it is {why}.", repr(&path.display().to_string())),
        );
        return;
    }
    let result = if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(&path)
    } else if path.is_file() || path.is_symlink() {
        std::fs::remove_file(&path)
    } else {
        Ok(())
    };
    if let Err(e) = result {
        log.log(Level::Warning, BUILDOUT_LOGGER, &format!("Couldn't remove {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let buildout = dir.path().join("b");
        std::fs::create_dir_all(buildout.join("parts/x")).expect("mkdir");
        let cases: [(PathBuf, bool); 5] = [
            (PathBuf::from("/"), true),
            (PathBuf::from("/usr"), true),
            (buildout.clone(), true),
            (dir.path().to_path_buf(), true),
            (buildout.join("parts/x"), false),
        ];
        for (path, refused) in cases {
            assert_eq!(protected(&path, &buildout).is_some(), refused, "{}", path.display());
        }
    }

    #[test]
    fn paths_recorded_after_install_and_update() {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (recorded, answered, updating, recorded afterwards)
        type Case<'a> = (&'a [&'a str], Option<&'a [&'a str]>, bool, &'a [&'a str]);
        let cases: [Case<'_>; 5] = [
            (&["a"], None, true, &["a"]),
            (&["a", "b"], Some(&["b", "c"]), true, &["a", "b", "c"]),
            (&["a"], Some(&[]), true, &["a"]),
            (&["a"], Some(&["c"]), false, &["c"]),
            (&[], None, false, &[]),
        ];
        for (recorded, answered, updating, expected) in cases {
            let got = recorded_paths(strings(recorded), answered.map(strings), updating);
            assert_eq!(got, strings(expected), "{recorded:?} {answered:?} {updating}");
        }
    }
}
