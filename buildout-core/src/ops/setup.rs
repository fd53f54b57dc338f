//! `init` and `bootstrap`: a minimal configuration, the standard directories, and
//! `bin/buildout` pointing at this program.

use std::path::Path;

use crate::config::pytext::repr;
use crate::config::{Buildout, Error, pypath};
use crate::log::{BUILDOUT_LOGGER, Level, Log};

/// What `init` is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// The configuration file to write (`-c`), relative to `cwd`.
    pub config_file: String,
    pub cwd: String,
    /// Distributions (and paths) for a `py` interpreter part.
    pub requirements: Vec<String>,
}

/// `init [requirements]`: writes a minimal configuration, with a `py` interpreter part when
/// requirements are given, unless one exists. A requirement that is a path becomes an
/// `extra-paths` entry (its directory created).
pub fn init_config(options: &InitOptions, log: &dyn Log) -> crate::config::Result<()> {
    let (cwd, requirements) = (options.cwd.as_str(), options.requirements.as_slice());
    let path = pypath::abspath(&options.config_file, cwd);
    if Path::new(&path).exists() {
        return Err(Error::user(format!("{} already exists.", repr(&path))).within("Initializing."));
    }
    log.print(&format!("Creating {}.", repr(&path)));
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
                let dir = pypath::abspath(p, cwd);
                if !Path::new(&dir).exists() {
                    std::fs::create_dir(&dir).map_err(|e| Error::file("create", dir.clone(), e))?;
                }
            }
        }
        text
    };
    std::fs::write(&path, text).map_err(|e| Error::file("write", path.clone(), e).within("Initializing."))
}

/// `bootstrap`: the standard directories (a fresh `develop-eggs`), and `bin/buildout` linked to
/// `program` so that the buildout can be rebuilt from inside it.
pub fn bootstrap(buildout: &mut Buildout, program: &Path, log: &dyn Log) -> crate::config::Result<()> {
    let step = |e: Error| e.within("Bootstrapping.");
    let develop = buildout.sections.require("buildout", "develop-eggs-directory").map_err(step)?;
    if Path::new(&develop).is_dir() {
        std::fs::remove_dir_all(&develop).map_err(|e| Error::file("remove", develop.clone(), e))?;
    }
    for name in ["bin-directory", "parts-directory", "develop-eggs-directory"] {
        let dir = buildout.sections.require("buildout", name).map_err(step)?;
        if !Path::new(&dir).exists() {
            log.log(Level::Info, BUILDOUT_LOGGER, &format!("Creating directory {}.", repr(&dir)));
            std::fs::create_dir(&dir).map_err(|e| {
                Error::file("create", dir.clone(), e).within("Setting up buildout directories").within("Bootstrapping.")
            })?;
        }
    }
    let bin = buildout.sections.require("buildout", "bin-directory").map_err(step)?;
    let script = pypath::join(&bin, "buildout");
    if std::fs::read_link(&script).ok().as_deref() != Some(program) {
        let _ = std::fs::remove_file(&script);
        std::os::unix::fs::symlink(program, &script).map_err(|e| Error::file("create", script.clone(), e))?;
        log.log(Level::Info, BUILDOUT_LOGGER, &format!("Generated script {}.", repr(&script)));
    }
    Ok(())
}
