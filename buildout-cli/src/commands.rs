//! The commands, as a typed [`Command`]: each loads the configuration the way it needs (or not
//! at all), calls its operation in `buildout_core::ops` (or `config::render`), and prints.

use std::io::Write;

use std::rc::Rc;

use buildout_core::config::{Buildout, Environment, LoadOptions, Startup, pypath, render};
use buildout_core::log::{Log, Silent};
use buildout_core::ops;

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

/// A command and its arguments, from the words after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Install {
        parts: Vec<String>,
    },
    /// mr.developer's commands: `status`, `checkout`, `update`, then package names.
    Sources {
        action: String,
        names: Vec<String>,
    },
    Plan {
        json: bool,
        parts: Vec<String>,
    },
    Annotate {
        sections: Vec<String>,
    },
    /// The arguments as given: their number is checked once the configuration is loaded, as
    /// zc.buildout does.
    Query {
        args: Vec<String>,
    },
    Resolve {
        sections: Vec<String>,
    },
    Bootstrap,
    Init {
        requirements: Vec<String>,
    },
    Recipes {
        args: Vec<String>,
    },
    RecipesPackage {
        args: Vec<String>,
    },
    /// `setup` and `runsetup`, which run Python setup scripts: refused.
    Setup {
        name: String,
    },
}

impl Command {
    /// The command named `name` with its arguments; `name` is one of [`crate::args::COMMANDS`].
    pub(crate) fn new(name: &str, args: Vec<String>) -> Result<Command, Failure> {
        Ok(match name {
            "annotate" => Command::Annotate { sections: args },
            "query" => Command::Query { args },
            "resolve" => Command::Resolve { sections: args },
            "bootstrap" => Command::Bootstrap,
            "init" => Command::Init { requirements: args },
            "setup" | "runsetup" => Command::Setup { name: name.to_owned() },
            "recipes" if args.first().is_some_and(|a| a == "package") => {
                Command::RecipesPackage { args: args[1..].to_vec() }
            }
            "recipes" => Command::Recipes { args },
            "sources" => {
                let mut words = args.into_iter();
                let action = words.next().unwrap_or_else(|| "status".to_owned());
                Command::Sources { action, names: words.collect() }
            }
            "plan" => {
                if let Some(other) = args.iter().find(|a| a.starts_with('-') && *a != "--json") {
                    return Err(Failure::plain(format!(
                        "Invalid option for the plan command: {other} (it takes --json and part names)"
                    )));
                }
                let json = args.iter().any(|a| a == "--json");
                Command::Plan { json, parts: args.into_iter().filter(|a| a != "--json").collect() }
            }
            _ => Command::Install { parts: args },
        })
    }
}

pub(crate) fn dispatch(inv: &Invocation, console: &Rc<Console>) -> Result<u8, Failure> {
    let command = Command::new(&inv.command, inv.args.clone())?;
    // Packaging a recipe crate needs no buildout.
    if let Command::RecipesPackage { args } = &command {
        return crate::package::run(args);
    }
    let opts = load_options(inv)?;
    let env = Environment::current();
    if let Command::Init { requirements } = &command {
        let init = ops::setup::InitOptions {
            config_file: opts.config_file.clone(),
            cwd: opts.cwd.clone(),
            requirements: requirements.clone(),
        };
        ops::setup::init_config(&init, &**console)?;
    }
    // `resolve` only looks: no directories, no log output, nothing but the configuration.
    // `recipes` and `plan` only look too: they create no directory (zc.buildout's commands all
    // do).
    let (startup, log): (Startup, &dyn Log) = match &command {
        Command::Resolve { .. } => (Startup::ReadOnly, &Silent),
        Command::Recipes { .. } | Command::Plan { .. } | Command::Sources { .. } => (Startup::ReadOnly, &**console),
        _ => (Startup::CreateDirectories, &**console),
    };
    let loaded = Buildout::load(&opts, env, log, startup);
    if let Command::Recipes { args } = &command {
        return recipes_command(loaded, args, inv.verbose(), console);
    }
    let mut buildout = loaded?;
    // zc.buildout works from the buildout directory once it is loaded.
    let _ = std::env::set_current_dir(&buildout.directory);
    let result = run_command(&command, &mut buildout, console);
    // The process ends right after; freeing a large configuration piece by piece would only
    // cost time (a tenth of a no-op run at 1000 parts).
    std::mem::forget(buildout);
    result
}

fn run_command(command: &Command, buildout: &mut Buildout, console: &Rc<Console>) -> Result<u8, Failure> {
    match command {
        Command::Annotate { sections } => {
            let verbose = buildout.verbose_output()?;
            out(&render::annotate(&buildout.annotated, verbose, sections, &buildout.directory));
            Ok(0)
        }
        Command::Query { args } => {
            let [arg] = args.as_slice() else {
                return Err(Failure::plain("The query command requires a single argument."));
            };
            let (section, option) = ops::query_target(arg)?;
            if buildout.verbose_output()? {
                out(&format!("${{{section}:{option}}}\n"));
            }
            out(&format!("{}\n", ops::query(buildout, section, option)?));
            Ok(0)
        }
        Command::Resolve { sections } => {
            let (text, ok) = render::resolve(buildout, sections);
            out(&text);
            Ok(if ok { 0 } else { 1 })
        }
        Command::Bootstrap => bootstrap(buildout, console).map(|()| 0),
        Command::Plan { json, parts } => plan(buildout, *json, parts, console),
        Command::Init { requirements } => {
            bootstrap(buildout, console)?;
            if requirements.is_empty() { Ok(0) } else { install(buildout, &[], console) }
        }
        Command::Setup { name } => Err(Failure::plain(format!(
            "The {name} command runs Python setup scripts, which this buildout does not do."
        ))),
        Command::Install { parts } => install(buildout, parts, console),
        Command::Sources { action, names } => {
            out(&ops::sources::command(buildout, &**console, action, names)?);
            Ok(0)
        }
        Command::Recipes { .. } | Command::RecipesPackage { .. } => Ok(0),
    }
}

/// `recipes` works with or without a configuration: without one the search path has no
/// `recipe-path` and the current directory stands for the buildout directory.
fn recipes_command(
    loaded: Result<Buildout, buildout_core::config::Error>,
    args: &[String],
    verbose: bool,
    console: &Console,
) -> Result<u8, Failure> {
    let mut settings = None;
    let mut loader = match loaded {
        Ok(mut buildout) => {
            // Recipe distributions already in eggs-directory are found too (nothing is fetched).
            settings = Some(buildout_core::engine::recipe_dist::settings(&mut buildout.sections)?);
            ops::prepare(&mut buildout, console, ops::Build::Yes)?.0
        }
        Err(e) if matches!(e.kind, buildout_core::config::ErrorKind::CouldNotOpen(_)) => {
            let cwd = std::path::PathBuf::from(current_dir()?);
            buildout_core::loader::Loader::new(ops::search_path(None, &cwd))
        }
        Err(e) => return Err(e.into()),
    };
    recipes::list(&mut loader, args, verbose, settings.as_ref())
}

/// `plan [--json] [parts]`: what `install [parts]` would do and why, changing nothing.
fn plan(buildout: &mut Buildout, json: bool, parts: &[String], console: &Rc<Console>) -> Result<u8, Failure> {
    if json {
        console.records_to_stderr();
    }
    let plan = ops::plan(buildout, console.clone(), &ops::InstallOptions { parts: parts.to_vec() })?;
    if json {
        out(&format!("{}\n", plan.to_json()));
    } else {
        out(&plan.describe());
    }
    Ok(0)
}

/// `install [parts]`, holding the buildout directory's lock.
fn install(buildout: &mut Buildout, parts: &[String], console: &Rc<Console>) -> Result<u8, Failure> {
    let dir = buildout.directory.clone();
    ops::install(buildout, console.clone(), &ops::InstallOptions { parts: parts.to_vec() }, |path| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "Another buildout is running in {dir}; waiting for it to finish (lock {}).",
            path.display()
        );
    })?;
    Ok(0)
}

/// `bootstrap`, with `bin/buildout` linked to this program.
fn bootstrap(buildout: &mut Buildout, console: &Console) -> Result<(), Failure> {
    let program =
        std::env::current_exe().map_err(|e| Failure::plain(format!("Cannot locate the buildout program: {e}")))?;
    ops::setup::bootstrap(buildout, &program, console)?;
    Ok(())
}
