//! Recipe libraries from the command line's point of view: the search path of a buildout (with
//! `develop` recipe crates built first, and `develop` Python projects installed editable), and
//! the `recipes` command that lists what is found.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use buildout_core::config::{Buildout, pypath, pytext};
use buildout_core::loader::{self, Library, LoadError, Loader};
use buildout_core::log::{BUILDOUT_LOGGER, Level, Log};
use buildout_core::{develop, python};

use crate::failure::Failure;

const DEVELOP: &str = "Processing directories listed in the develop option";

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

/// The loader for a buildout's search path, building nothing: `develop-eggs` comes first when
/// `develop` names recipe crates, with the libraries the last install built there.
pub(crate) fn load_without_building(buildout: &mut Buildout) -> Result<(Loader, Vec<String>), Failure> {
    let recipe_path = buildout.sections.get("buildout", "recipe-path")?;
    let dir = PathBuf::from(&buildout.directory);
    let env_path = std::env::var_os("BUILDOUT_RECIPE_PATH");
    let exe = std::env::current_exe().ok();
    let mut loader =
        Loader::new(loader::search_path(recipe_path.as_deref(), &dir, env_path.as_deref(), exe.as_deref()));
    let develop = buildout.sections.get("buildout", "develop")?.unwrap_or_default();
    let crates = pytext::split_ws(&develop)
        .flat_map(|entry| expand(entry, &buildout.directory))
        .any(|path| develop::is_recipe_crate(&path));
    if crates {
        loader.prepend([PathBuf::from(buildout.sections.require("buildout", "develop-eggs-directory")?)]);
    }
    Ok((loader, Vec::new()))
}

/// Builds the buildout's `develop` recipe crates and returns the loader for its search path, and
/// the libraries built.
pub(crate) fn develop_and_load(buildout: &mut Buildout, log: &dyn Log) -> Result<(Loader, Vec<String>), Failure> {
    let recipe_path = buildout.sections.get("buildout", "recipe-path")?;
    let dir = PathBuf::from(&buildout.directory);
    let env_path = std::env::var_os("BUILDOUT_RECIPE_PATH");
    let exe = std::env::current_exe().ok();
    let mut loader =
        Loader::new(loader::search_path(recipe_path.as_deref(), &dir, env_path.as_deref(), exe.as_deref()));

    let develop = buildout.sections.get("buildout", "develop")?.unwrap_or_default();
    if develop.trim().is_empty() {
        return Ok((loader, Vec::new()));
    }
    let develop_eggs = PathBuf::from(buildout.sections.require("buildout", "develop-eggs-directory")?);
    let mut built = Vec::new();
    let mut crates = false;
    for entry in pytext::split_ws(&develop) {
        let matches = expand(entry, &buildout.directory);
        if matches.is_empty() {
            log.log(Level::Warning, BUILDOUT_LOGGER, &format!("Couldn't develop {} (not found)", pytext::repr(entry)));
        }
        for path in matches {
            let shown = path.display().to_string();
            log.log(Level::Info, BUILDOUT_LOGGER, &format!("Develop: {}", pytext::repr(&shown)));
            if develop::is_recipe_crate(&path) {
                let library = develop::develop_recipe_crate(&path, &develop_eggs)
                    .map_err(|e| Failure::doing(&[DEVELOP], e.to_string()))?;
                built.push(library.display().to_string());
                crates = true;
                continue;
            }
            let doing = format!("Processing develop directory {}.", pytext::repr(&shown));
            // `develop = project/setup.py` names the project by its setup script.
            let path = match path.parent() {
                Some(parent) if path.is_file() => parent.to_owned(),
                _ => path,
            };
            if !python::develop::is_python_project(&path) {
                return Err(Failure::doing(
                    &[doing.as_str()],
                    format!(
                        "Couldn't develop {}: it has no setup.py or pyproject.toml (a Python project) and no \
                         Cargo.toml (a recipe crate)",
                        pytext::repr(&shown)
                    ),
                ));
            }
            let executable = buildout.sections.require("buildout", "executable")?;
            let made = python::develop::develop(&path, &develop_eggs, &executable)
                .map_err(|e| Failure::doing(&[doing.as_str()], e.to_string()))?;
            built.extend(made.iter().map(|p| p.display().to_string()));
        }
    }
    if crates {
        loader.prepend([develop_eggs]);
    }
    Ok((loader, built))
}

fn describe(out: &mut String, lib: &Library, note: &str) {
    let m = &lib.metadata;
    out.push_str(&format!("{} {} (recipe ABI {}){note}\n", m.distribution, m.version, lib.abi));
    let mut entries = m.entries.clone();
    entries.sort();
    out.push_str(&format!("  entries: {}\n", entries.join(", ")));
    if !m.uninstall.is_empty() {
        out.push_str(&format!("  uninstall: {}\n", m.uninstall.join(", ")));
    }
    out.push_str(&format!("  file: {}\n", lib.path.display()));
    if let Some((info, platform)) = python::recipe_wheel::origin(&lib.path) {
        out.push_str(&format!(
            "  from: the recipe wheel of {} {} for {platform} (recipe ABI {}), unpacked in eggs-directory\n",
            info.distribution, info.version, info.abi
        ));
    }
}

fn load_failure(e: &LoadError) -> Failure {
    Failure::plain(e.to_string())
}

/// `buildout recipes [dist[:entry]]`.
/// `settings`: the buildout's, whose `eggs-directory` may hold recipe distributions.
pub(crate) fn list(
    loader: &mut Loader,
    args: &[String],
    verbose: bool,
    settings: Option<&python::Settings>,
) -> Result<u8, Failure> {
    let mut out = String::new();
    // Files on the search path that are not loadable recipe libraries: each is an `Error:` line
    // (as when a part needs it), and the listing exits 1 after showing the others.
    let mut errors = String::new();
    match args {
        [] => {
            let mut seen_files = HashSet::new();
            let mut seen_dists = HashSet::new();
            for dir in loader.dirs().to_vec() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        name.starts_with(std::env::consts::DLL_PREFIX)
                            && name.ends_with(std::env::consts::DLL_SUFFIX)
                            && p.is_file()
                    })
                    .collect();
                files.sort();
                for file in files {
                    let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
                    if !seen_files.insert(canonical) {
                        continue;
                    }
                    match loader.load_file(&file) {
                        Ok(lib) => {
                            let first = seen_dists.insert(loader::normalize(&lib.metadata.distribution));
                            describe(&mut out, &lib, if first { "" } else { " [shadowed by the one listed before]" });
                        }
                        Err(e) => {
                            errors.push_str(&format!("Error: {e}\n"));
                            if let (true, Some(detail)) = (verbose, e.detail()) {
                                errors.extend(detail.lines().map(|l| format!("    {l}\n")));
                            }
                        }
                    }
                }
            }
            if out.is_empty() && errors.is_empty() {
                out = format!(
                    "No recipe libraries found; searched: {}\n",
                    loader.dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                );
            }
        }
        [spec] => {
            let dist = spec.split(':').next().unwrap_or(spec);
            // Not on the search path: the recipe distribution eggs-directory has, as a run
            // would take it offline.
            if let (Err(LoadError::NotFound { .. }), Some(settings)) = (loader.find(dist), settings)
                && let Some(provided) = python::recipe_wheel::installed_for(dist, settings)
            {
                loader.prepend([provided.dir]);
            }
            let lib = if spec.contains(':') { loader.entry(spec).map(|(lib, _)| lib) } else { loader.library(spec) };
            let lib = lib.map_err(|e| {
                let mut failure = load_failure(&e);
                if let (true, Some(detail)) = (verbose, e.detail()) {
                    failure.message.push('\n');
                    failure.message.push_str(detail);
                }
                failure
            })?;
            describe(&mut out, &lib, "");
            // Copies further down the search path never load while this one is found: say where
            // they are, since a user who edits one of them would otherwise wonder why nothing
            // changes.
            // The loaded library's path is canonical; the search path's need not be
            // (`<program dir>/../lib/buildout/recipes`).
            let loaded = |p: &PathBuf| p.canonicalize().is_ok_and(|c| c == lib.path) || *p == lib.path;
            for shadowed in loader.find_all(dist).iter().filter(|p| !loaded(p)) {
                out.push_str(&format!("  shadowed: {}\n", shadowed.display()));
            }
        }
        _ => {
            return Err(Failure::plain(
                "The recipes command takes at most one argument: a distribution or dist:entry.",
            ));
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if errors.is_empty() {
        return Ok(0);
    }
    let _ = std::io::stderr().lock().write_all(errors.as_bytes());
    Ok(1)
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
