//! `develop =`: recipe crates built with cargo and Python projects installed editable, before
//! anything is installed; and the recipe search path, built here and nowhere else.

use std::path::{Path, PathBuf};

use crate::config::pytext::{self, repr};
use crate::config::{Buildout, Error, pypath};
use crate::loader::{self, Loader};
use crate::log::{BUILDOUT_LOGGER, Level, Log};

/// zc.buildout's step for the `develop` option.
const DEVELOP: &str = "Processing directories listed in the develop option";

/// Whether [`prepare`] builds what `develop` names, or only looks (`buildout plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Yes,
    No,
}

/// The recipe search path of a buildout in `directory` whose `[buildout] recipe-path` is
/// `recipe_path` (none without a configuration): see [`loader::search_path`]; the environment's
/// `BUILDOUT_RECIPE_PATH` and the running program's directory are read here.
pub fn search_path(recipe_path: Option<&str>, directory: &Path) -> Vec<PathBuf> {
    let env_path = std::env::var_os("BUILDOUT_RECIPE_PATH");
    let exe = std::env::current_exe().ok();
    loader::search_path(recipe_path, directory, env_path.as_deref(), exe.as_deref())
}

/// Matches one path component against a pattern with `*` and `?`.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The directories a `develop` entry names: itself, or the matches of a glob in its last part.
fn expand(entry: &str, base: &str) -> Vec<PathBuf> {
    let path = pypath::join(base, entry);
    let name = pypath::basename(&path);
    if !name.contains(['*', '?']) {
        return if Path::new(&path).exists() { vec![PathBuf::from(path)] } else { Vec::new() };
    }
    let parent = pypath::dirname(&path);
    let mut found: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| wildcard(name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The loader for a buildout's recipe search path, and the develop eggs made (recorded in
/// `.installed.cfg`). With [`Build::Yes`] the `develop` recipe crates are built (when their
/// sources changed) and Python projects installed editable; with [`Build::No`] nothing is built
/// and `develop-eggs` simply comes first when `develop` names recipe crates.
pub fn prepare(buildout: &mut Buildout, log: &dyn Log, build: Build) -> crate::config::Result<(Loader, Vec<String>)> {
    let recipe_path = buildout.sections.get("buildout", "recipe-path")?;
    let mut loader = Loader::new(search_path(recipe_path.as_deref(), Path::new(&buildout.directory)));
    let develop = buildout.sections.get("buildout", "develop")?.unwrap_or_default();
    if develop.trim().is_empty() {
        return Ok((loader, Vec::new()));
    }
    let develop_eggs = PathBuf::from(buildout.sections.require("buildout", "develop-eggs-directory")?);
    if build == Build::No {
        let crates = pytext::split_ws(&develop)
            .flat_map(|entry| expand(entry, &buildout.directory))
            .any(|path| crate::develop::is_recipe_crate(&path));
        if crates {
            loader.prepend([develop_eggs]);
        }
        return Ok((loader, Vec::new()));
    }
    let mut built = Vec::new();
    let mut crates = false;
    for entry in pytext::split_ws(&develop) {
        let matches = expand(entry, &buildout.directory);
        if matches.is_empty() {
            log.log(Level::Warning, BUILDOUT_LOGGER, &format!("Couldn't develop {} (not found)", repr(entry)));
        }
        for path in matches {
            let shown = path.display().to_string();
            log.log(Level::Info, BUILDOUT_LOGGER, &format!("Develop: {}", repr(&shown)));
            if crate::develop::is_recipe_crate(&path) {
                let library = crate::develop::develop_recipe_crate(&path, &develop_eggs)
                    .map_err(|e| Error::other(e).within(DEVELOP))?;
                built.push(library.display().to_string());
                crates = true;
                continue;
            }
            let doing = format!("Processing develop directory {}.", repr(&shown));
            // `develop = project/setup.py` names the project by its setup script.
            let path = match path.parent() {
                Some(parent) if path.is_file() => parent.to_owned(),
                _ => path,
            };
            if !crate::python::develop::is_python_project(&path) {
                return Err(Error::user(format!(
                    "Couldn't develop {}: it has no setup.py or pyproject.toml (a Python project) and no \
                     Cargo.toml (a recipe crate)",
                    repr(&shown)
                ))
                .within(doing));
            }
            let executable = buildout.sections.require("buildout", "executable")?;
            let made = crate::python::develop::develop(&path, &develop_eggs, &executable)
                .map_err(|e| Error::other(e).within(doing))?;
            built.extend(made.iter().map(|p| p.display().to_string()));
        }
    }
    if crates {
        loader.prepend([develop_eggs]);
    }
    Ok((loader, built))
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "abc", true),
            ("a*c", "abc", true),
            ("a?c", "abc", true),
            ("a*d", "abc", false),
            ("*.x", "a.x", true),
            ("", "a", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(wildcard(pattern, name), expected, "{pattern} {name}");
        }
    }
}
