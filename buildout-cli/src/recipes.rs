//! The `recipes` command: the recipe libraries on the search path, or one distribution's.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use buildout_core::engine::recipe_dist::{self, Python, PythonRecipe};
use buildout_core::loader::{self, Library, LoadError, Loader};
use buildout_core::python;

use crate::failure::Failure;

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
    if let Some((info, platform)) = buildout_core::recipe_wheel::origin(&lib.path) {
        out.push_str(&format!(
            "  from: the recipe wheel of {} {} for {platform} (recipe ABI {}), unpacked in eggs-directory\n",
            info.distribution, info.version, info.abi
        ));
    }
}

/// A Python recipe distribution, and the bridge that runs it.
fn describe_python(out: &mut String, recipe: &PythonRecipe, bridge: Result<&Library, &LoadError>) {
    out.push_str(&format!("{} {} (Python recipe distribution)\n", recipe.name, recipe.version));
    out.push_str(&format!("  entries: {}\n", recipe.entries.join(", ")));
    if !recipe.uninstall.is_empty() {
        out.push_str(&format!("  uninstall: {}\n", recipe.uninstall.join(", ")));
    }
    let from = match recipe.how {
        Python::Developed => "develop egg",
        Python::Installed => "egg",
    };
    out.push_str(&format!("  {from}: {}\n", recipe.dir.display()));
    match bridge {
        Ok(lib) => out.push_str(&format!(
            "  runs through: the Python bridge, {} {} (recipe ABI {}), {}\n",
            lib.metadata.distribution,
            lib.metadata.version,
            lib.abi,
            lib.path.display()
        )),
        Err(e) => out.push_str(&format!("  cannot run: {e}\n")),
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
                && let Some(provided) = buildout_core::recipe_wheel::installed_for(dist, settings)
            {
                loader.prepend([provided.dir]);
            }
            // Nor there: a Python recipe, served through the bridge.
            if let (Err(LoadError::NotFound { .. }), Some(settings)) = (loader.find(dist), settings)
                && let Some(recipe) = recipe_dist::python_recipe(dist, settings)
            {
                let bridge = loader.entry(&format!("{}:{}", loader::PYTHON_BRIDGE, loader::PYTHON_BRIDGE_ENTRY));
                describe_python(&mut out, &recipe, bridge.as_ref().map(|(lib, _)| &**lib));
                let _ = std::io::stdout().lock().write_all(out.as_bytes());
                return Ok(0);
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
