//! The commands: `annotate`, `query`, `resolve`, `init`, `bootstrap`, and `install` once the
//! engine exists.

use std::io::Write;

use std::rc::Rc;

use buildout_core::config::pytext::repr;
use buildout_core::config::{Buildout, Environment, LoadOptions, Startup, pypath, render};
use buildout_core::engine::{self, lock::DirectoryLock};
use buildout_core::log::{BUILDOUT_LOGGER, Level, Log, Silent};

use crate::args::Invocation;
use crate::failure::Failure;
use crate::output::Console;
use crate::recipes;

fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The absolute path of `python3` on PATH: the default `executable`, as zc.buildout's default is
/// the Python running it.
fn default_python() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_owned))
        .unwrap_or_else(|| "python3".to_owned())
}

fn current_dir() -> Result<String, Failure> {
    std::env::current_dir()
        .ok()
        .and_then(|d| d.to_str().map(str::to_owned))
        .ok_or_else(|| Failure::plain("The current directory is not accessible or not valid UTF-8."))
}

fn load_options(inv: &Invocation) -> Result<LoadOptions, Failure> {
    let home = std::env::var("HOME").ok();
    let user_config = match std::env::var("BUILDOUT_HOME") {
        Ok(dir) => Some(pypath::join(&dir, "default.cfg")),
        Err(_) => home.as_ref().map(|h| pypath::join(&pypath::join(h, ".buildout"), "default.cfg")),
    };
    Ok(LoadOptions {
        config_file: inv.config_file.clone(),
        cwd: current_dir()?,
        user_config,
        use_user_defaults: inv.use_user_defaults,
        home,
        assignments: inv.assignments.clone(),
        executable: default_python(),
    })
}

pub(crate) fn dispatch(inv: &Invocation, console: &Rc<Console>) -> Result<u8, Failure> {
    // Packaging a recipe crate needs no buildout.
    if inv.command == "recipes" && inv.args.first().is_some_and(|a| a == "package") {
        return crate::package::run(&inv.args[1..]);
    }
    let opts = load_options(inv)?;
    let env = Environment::current();
    if inv.command == "init" {
        init_config(&opts, &inv.args, console)?;
    }
    // `resolve` only looks: no directories, no log output, nothing but the configuration.
    // `recipes` only looks too: it creates no directory (zc.buildout's commands all do).
    let (startup, log): (Startup, &dyn Log) = match inv.command.as_str() {
        "resolve" => (Startup::ReadOnly, &Silent),
        "recipes" | "plan" => (Startup::ReadOnly, &**console),
        _ => (Startup::CreateDirectories, &**console),
    };
    let loaded = Buildout::load(&opts, env, log, startup);
    if inv.command == "recipes" {
        return recipes_command(loaded, inv, console);
    }
    let mut buildout = loaded?;
    // zc.buildout works from the buildout directory once it is loaded.
    let _ = std::env::set_current_dir(&buildout.directory);
    let result = run_command(inv, &mut buildout, console);
    // The process ends right after; freeing a large configuration piece by piece would only
    // cost time (a tenth of a no-op run at 1000 parts).
    std::mem::forget(buildout);
    result
}

fn run_command(inv: &Invocation, buildout: &mut Buildout, console: &Rc<Console>) -> Result<u8, Failure> {
    match inv.command.as_str() {
        "annotate" => {
            let verbose = buildout.verbose_output()?;
            out(&render::annotate(&buildout.annotated, verbose, &inv.args, &buildout.directory));
            Ok(0)
        }
        "query" => query(buildout, &inv.args),
        "resolve" => {
            let (text, ok) = render::resolve(buildout, &inv.args);
            out(&text);
            Ok(if ok { 0 } else { 1 })
        }
        "bootstrap" => bootstrap(buildout, console).map(|()| 0),
        "plan" => plan(buildout, &inv.args, console),
        "init" => {
            bootstrap(buildout, console)?;
            if inv.args.is_empty() { Ok(0) } else { install(buildout, &[], console) }
        }
        "setup" | "runsetup" => Err(Failure::plain(format!(
            "The {} command runs Python setup scripts, which this buildout does not do.",
            inv.command
        ))),
        _ => install(buildout, &inv.args, console),
    }
}

/// `recipes` works with or without a configuration: without one the search path has no
/// `recipe-path` and the current directory stands for the buildout directory.
fn recipes_command(
    loaded: Result<Buildout, buildout_core::config::Error>,
    inv: &Invocation,
    console: &Console,
) -> Result<u8, Failure> {
    let verbose = inv.verbose();
    let mut settings = None;
    let mut loader = match loaded {
        Ok(mut buildout) => {
            // Recipe distributions already in eggs-directory are found too (nothing is fetched).
            settings = Some(buildout_core::engine::recipe_dist::settings(&mut buildout.sections)?);
            recipes::develop_and_load(&mut buildout, console)?.0
        }
        Err(e) if matches!(e.kind, buildout_core::config::ErrorKind::CouldNotOpen(_)) => {
            let cwd = std::path::PathBuf::from(current_dir()?);
            let env_path = std::env::var_os("BUILDOUT_RECIPE_PATH");
            let exe = std::env::current_exe().ok();
            buildout_core::loader::Loader::new(buildout_core::loader::search_path(
                None,
                &cwd,
                env_path.as_deref(),
                exe.as_deref(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    recipes::list(&mut loader, &inv.args, verbose, settings.as_ref())
}

/// `plan [--json] [parts]`: what `install [parts]` would do and why, changing nothing (no lock,
/// no directory, no develop build, no recipe run but constructors, no record).
fn plan(buildout: &mut Buildout, args: &[String], console: &Rc<Console>) -> Result<u8, Failure> {
    let json = args.iter().any(|a| a == "--json");
    if let Some(other) = args.iter().find(|a| a.starts_with('-') && *a != "--json") {
        return Err(Failure::plain(format!(
            "Invalid option for the plan command: {other} (it takes --json and part names)"
        )));
    }
    let parts: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
    if json {
        console.records_to_stderr();
    }
    let log: Rc<dyn Log> = console.clone();
    let prepare = Box::new(|b: &mut Buildout| recipes::load_without_building(b).map_err(Failure::into_error));
    let plan = engine::plan(buildout, log, Environment::current(), &parts, prepare)?;
    if json {
        out(&format!("{}\n", plan.to_json()));
    } else {
        out(&plan.describe());
    }
    Ok(0)
}

/// `install [parts]`, holding the buildout directory's lock.
fn install(buildout: &mut Buildout, parts: &[String], console: &Rc<Console>) -> Result<u8, Failure> {
    let dir = std::path::PathBuf::from(&buildout.directory);
    let _lock = DirectoryLock::acquire(&dir, |path| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "Another buildout is running in {}; waiting for it to finish (lock {}).",
            dir.display(),
            path.display()
        );
    })
    .map_err(|e| Failure::plain(format!("Couldn't lock {}: {e}", dir.display())))?;
    let log: Rc<dyn Log> = console.clone();
    let prepare_log = console.clone();
    let prepare =
        Box::new(move |b: &mut Buildout| recipes::develop_and_load(b, &*prepare_log).map_err(Failure::into_error));
    engine::install(buildout, log, Environment::current(), parts, prepare)?;
    Ok(0)
}

fn query(buildout: &mut Buildout, args: &[String]) -> Result<u8, Failure> {
    let [arg] = args else {
        return Err(Failure::plain("The query command requires a single argument."));
    };
    let parts: Vec<&str> = arg.split(':').collect();
    let (section, option) = match parts.as_slice() {
        [option] => ("buildout", *option),
        [section, option] => (*section, *option),
        _ => return Err(Failure::plain(format!("Invalid option: {arg}"))),
    };
    if buildout.verbose_output()? {
        out(&format!("${{{section}:{option}}}\n"));
    }
    let Some(raw) = buildout.sections.raw(section) else {
        return Err(Failure::plain(format!("Section not found: {section}")));
    };
    let Some(value) = raw.get(option) else {
        return Err(Failure::plain(format!("Key not found: {option}")));
    };
    out(&format!("{value}\n"));
    Ok(0)
}

/// `init`: write a minimal configuration (with a `py` interpreter part when requirements are
/// given) unless one exists.
fn init_config(opts: &LoadOptions, requirements: &[String], console: &Console) -> Result<(), Failure> {
    let path = pypath::abspath(&opts.config_file, &opts.cwd);
    if std::path::Path::new(&path).exists() {
        return Err(Failure::doing(&["Initializing."], format!("{} already exists.", repr(&path))));
    }
    console.print(&format!("Creating {}.", repr(&path)));
    let is_path = |r: &&String| r.contains(['/', '\\']);
    let text = if requirements.is_empty() {
        "[buildout]\nparts =\n".to_owned()
    } else {
        let mut text =
            String::from("[buildout]\nparts = py\n\n[py]\nrecipe = zc.recipe.egg\ninterpreter = py\neggs =\n");
        let eggs: Vec<&str> = requirements.iter().filter(|r| !is_path(r)).map(String::as_str).collect();
        if !eggs.is_empty() {
            text.push_str(&format!("  {}\n", eggs.join("\n  ")));
        }
        let paths: Vec<&str> = requirements.iter().filter(is_path).map(String::as_str).collect();
        if !paths.is_empty() {
            text.push_str(&format!("extra-paths =\n  {}\n", paths.join("\n  ")));
            for p in &paths {
                let dir = pypath::abspath(p, &opts.cwd);
                if !std::path::Path::new(&dir).exists() {
                    std::fs::create_dir(&dir).map_err(|e| Failure::plain(format!("Couldn't create {dir}: {e}")))?;
                }
            }
        }
        text
    };
    std::fs::write(&path, text).map_err(|e| Failure::doing(&["Initializing."], format!("Couldn't write {path}: {e}")))
}

/// `bootstrap`: the standard directories, and `bin/buildout` pointing at this program so the
/// buildout can be rebuilt from inside it.
fn bootstrap(buildout: &mut Buildout, console: &Console) -> Result<(), Failure> {
    let step = |e: buildout_core::config::Error| Failure::from(e.within("Bootstrapping."));
    let develop = buildout.sections.require("buildout", "develop-eggs-directory").map_err(step)?;
    if std::path::Path::new(&develop).is_dir() {
        std::fs::remove_dir_all(&develop).map_err(|e| Failure::plain(format!("Couldn't remove {develop}: {e}")))?;
    }
    for name in ["bin-directory", "parts-directory", "develop-eggs-directory"] {
        let dir = buildout.sections.require("buildout", name).map_err(step)?;
        if !std::path::Path::new(&dir).exists() {
            console.log(Level::Info, BUILDOUT_LOGGER, &format!("Creating directory {}.", repr(&dir)));
            std::fs::create_dir(&dir).map_err(|e| {
                Failure::doing(
                    &["Bootstrapping.", "Setting up buildout directories"],
                    format!("Couldn't create {dir}: {e}"),
                )
            })?;
        }
    }
    let bin = buildout.sections.require("buildout", "bin-directory").map_err(step)?;
    let script = pypath::join(&bin, "buildout");
    let exe =
        std::env::current_exe().map_err(|e| Failure::plain(format!("Cannot locate the buildout program: {e}")))?;
    if std::fs::read_link(&script).ok().as_deref() != Some(exe.as_path()) {
        let _ = std::fs::remove_file(&script);
        std::os::unix::fs::symlink(&exe, &script)
            .map_err(|e| Failure::plain(format!("Couldn't create {script}: {e}")))?;
        console.log(Level::Info, BUILDOUT_LOGGER, &format!("Generated script {}.", repr(&script)));
    }
    Ok(())
}
