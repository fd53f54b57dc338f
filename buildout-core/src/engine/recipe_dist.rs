//! Recipe distributions during a run (issue 11): a recipe whose library is on no directory of
//! the search path is had as zc.buildout has a recipe egg, from `eggs-directory` or the index
//! and `find-links`, under the buildout's `[versions]` pins, offline and newest modes and
//! `allow-picked-versions` (see [`crate::recipe_wheel`]); its egg directory then goes
//! first on the search path. An unpinned one is reported with the picked versions.
//!
//! The part's signature in `.installed.cfg` names the library's distribution and version, so a
//! pin that changes the version loaded reinstalls the parts that use it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::abi::wire::Picked;
use crate::config::pytext::repr;
use crate::config::{Error, Sections, pypath};
use crate::loader::{self, Library, LoadError, Loader};
use crate::log::Log;
use crate::python::Settings;
use crate::python::requirement::canonical_name;
use crate::recipe_wheel::{self, RecipeWheelError};

/// What loading a recipe entry gave.
pub type Loaded = Result<(Rc<Library>, String), LoadError>;

/// zc.buildout's logger for getting distributions: printed as bare messages.
const LOGGER: &str = "zc.buildout.easy_install";

/// When `loaded` says the library is on no directory of the search path, gets the recipe
/// distribution (see the module's documentation) and loads the entry from it; otherwise
/// `loaded` as it is. An error getting the distribution is the run's error. `(picked, fetch)`:
/// where unpinned versions are reported, and whether the index may be asked (else, as for
/// `buildout plan`, only what eggs-directory has is taken).
pub fn or_from_eggs(
    loaded: Loaded,
    loader: &RefCell<Loader>,
    sections: &mut Sections,
    (picked, fetch): (&RefCell<Vec<Picked>>, bool),
    log: &dyn Log,
    spec: &str,
) -> crate::config::Result<Loaded> {
    if let Err(LoadError::UnknownEntry { dist, entry, .. }) = &loaded
        && python_only_entry(dist, entry)
    {
        return Ok(bridge(loader, dist));
    }
    let Err(not_found @ LoadError::NotFound { .. }) = loaded else { return Ok(loaded) };
    let Ok((dist, entry)) = loader::parse_spec(spec) else { return Ok(Err(not_found)) };
    let mut settings = settings(sections)?;
    // A Python recipe at hand needs no index: a develop egg always wins (as in zc.buildout), an
    // installed one when no newer release is looked for.
    match python_at_hand(&dist, &settings) {
        Some(Python::Developed) => return Ok(bridge(loader, &dist)),
        Some(Python::Installed) if settings.offline || !settings.newest || !fetch => return Ok(bridge(loader, &dist)),
        _ => {}
    }
    let got = if fetch {
        let mut logger = |level, message: &str| log.log(level, LOGGER, message);
        recipe_wheel::provide(&dist, &settings, &mut logger)
    } else {
        settings.offline = true;
        recipe_wheel::provide(&dist, &settings, &mut |_, _| {}).map_err(|e| match e {
            RecipeWheelError::Offline { requirement } => RecipeWheelError::NotYet { requirement },
            e => e,
        })
    };
    let provided = match got {
        // Only what Python can use: the bridge gets and runs it.
        Err(RecipeWheelError::Python { .. }) => return Ok(bridge(loader, &dist)),
        // The index cannot be read, but an installed Python recipe serves.
        Err(RecipeWheelError::Index { .. }) if python_at_hand(&dist, &settings).is_some() => {
            return Ok(bridge(loader, &dist));
        }
        got => got.map_err(|e| error(e, &not_found, &dist, &entry, &settings))?,
    };
    if settings.versions.get(&canonical_name(&dist)).is_none_or(|v| v.trim().is_empty()) {
        let version = provided.version.clone();
        picked.borrow_mut().push(Picked { name: provided.name.clone(), version, required_by: Vec::new() });
    }
    loader.borrow_mut().prepend([provided.dir]);
    Ok(loader.borrow_mut().entry(spec))
}

/// Entries of shipped recipe libraries that only their Python distribution has: the bridge runs
/// them with the real package (zc.recipe.egg's `custom` and `develop`, which build C extensions
/// with setuptools).
const PYTHON_ONLY_ENTRIES: [(&str, &[&str]); 1] = [("zc.recipe.egg", &["custom", "develop"])];

fn python_only_entry(dist: &str, entry: &str) -> bool {
    let key = canonical_name(dist);
    PYTHON_ONLY_ENTRIES.iter().any(|(d, entries)| canonical_name(d) == key && entries.contains(&entry))
}

/// How a Python distribution is at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    Developed,
    Installed,
}

/// A Python recipe distribution at hand (what `buildout recipes <dist>` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonRecipe {
    pub how: Python,
    pub name: String,
    pub version: String,
    /// Its egg directory (a develop egg's source directory).
    pub dir: PathBuf,
    /// The names in its `[zc.buildout]` and `[zc.buildout.uninstall]` entry-point groups.
    pub entries: Vec<String>,
    pub uninstall: Vec<String>,
}

/// The Python distribution `dist` when it is at hand without the index: a develop egg, or an
/// egg in eggs-directory that the pins allow and that is not a recipe wheel (those are native
/// libraries); the best version when several are installed.
pub fn python_recipe(dist: &str, settings: &Settings) -> Option<PythonRecipe> {
    let key = canonical_name(dist);
    let develop_eggs = settings.develop_eggs_dir.as_deref();
    let develop = develop_eggs.map(crate::python::develop::develop_eggs).unwrap_or_default();
    let (how, egg) = match develop.into_iter().find(|e| e.key() == key) {
        Some(egg) => (Python::Developed, egg),
        None => {
            let req = crate::python::Requirement::parse(dist).ok()?;
            let constrained = settings.constrained(&req);
            if !recipe_wheel::installed(dist, Some(&constrained), &settings.eggs_dir).is_empty() {
                return None;
            }
            let best = std::fs::read_dir(&settings.eggs_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.ends_with(".egg") && name.split('-').next().is_some_and(|p| canonical_name(p) == key)
                })
                .filter_map(|entry| crate::python::Egg::read(&entry.path()).ok())
                .filter(|egg| constrained.allows(&egg.version))
                .max_by(|a, b| crate::python::requirement::compare_versions(&a.version, &b.version))?;
            (Python::Installed, best)
        }
    };
    let text = entry_points_text(&egg.dir, develop_eggs, &key).unwrap_or_default();
    Some(PythonRecipe {
        how,
        entries: entry_point_names(&text, "zc.buildout"),
        uninstall: entry_point_names(&text, "zc.buildout.uninstall"),
        name: egg.name,
        version: egg.version,
        dir: egg.dir,
    })
}

/// The `entry_points.txt` of an egg: in its `.dist-info` or `EGG-INFO`, or for a develop egg
/// in the metadata beside its link in `develop-eggs` or the project's `.egg-info`.
fn entry_points_text(dir: &Path, develop_eggs: Option<&Path>, key: &str) -> Option<String> {
    let metadata_dirs = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = name.strip_suffix(".dist-info").or_else(|| name.strip_suffix(".egg-info"));
                name == "EGG-INFO" || stem.is_some_and(|s| canonical_name(s.split('-').next().unwrap_or(s)) == key)
            })
            .collect()
    };
    let mut candidates = metadata_dirs(dir);
    if let Some(develop_eggs) = develop_eggs {
        candidates.extend(metadata_dirs(develop_eggs));
    }
    candidates.into_iter().find_map(|d| std::fs::read_to_string(d.join("entry_points.txt")).ok())
}

/// The names in one group of an `entry_points.txt`, in file order.
fn entry_point_names(text: &str, group: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == group;
        } else if inside
            && !line.starts_with(['#', ';'])
            && let Some((name, _)) = line.split_once('=')
        {
            names.push(name.trim().to_owned());
        }
    }
    names
}

/// How `dist` is at hand as a Python distribution, if it is (see [`python_recipe`]).
fn python_at_hand(dist: &str, settings: &Settings) -> Option<Python> {
    python_recipe(dist, settings).map(|recipe| recipe.how)
}

/// The Python bridge, which runs the Python recipe `dist` (see [`loader::PYTHON_BRIDGE`]).
fn bridge(loader: &RefCell<Loader>, dist: &str) -> Loaded {
    let spec = format!("{}:{}", loader::PYTHON_BRIDGE, loader::PYTHON_BRIDGE_ENTRY);
    loader.borrow_mut().entry(&spec).map_err(|e| match e {
        LoadError::NotFound { file, searched, .. } => LoadError::NoBridge { dist: dist.to_owned(), file, searched },
        e => e,
    })
}

/// For a recipe that is not constructed (a part being uninstalled): when `loaded` says the
/// library is on no directory of the search path, the recipe distribution of its name that
/// `eggs-directory` has (the best the pins allow), or the bridge for a Python recipe that is
/// installed or developed, without the network.
pub fn or_installed(loaded: Loaded, loader: &RefCell<Loader>, sections: &mut Sections, spec: &str) -> Loaded {
    let Err(LoadError::NotFound { .. }) = &loaded else { return loaded };
    let (Ok((dist, _)), Ok(settings)) = (loader::parse_spec(spec), settings(sections)) else {
        return loaded;
    };
    match recipe_wheel::installed_for(&dist, &settings) {
        Some(provided) => {
            loader.borrow_mut().prepend([provided.dir]);
            loader.borrow_mut().entry(spec)
        }
        // A Python recipe that was installed: the bridge runs its uninstall entry, if it has one.
        None if python_at_hand(&dist, &settings).is_some() => bridge(loader, &dist),
        None => loaded,
    }
}

/// The error of a recipe distribution that could not be had, with zc.buildout's steps.
fn error(e: RecipeWheelError, not_found: &LoadError, dist: &str, entry: &str, settings: &Settings) -> Error {
    match e {
        // Neither on the search path nor anywhere to be got: one line saying what was tried.
        RecipeWheelError::Unknown { .. } => {
            Error::user(format!("{not_found}; {e}")).within(format!("Loading zc.buildout recipe entry {dist}:{entry}."))
        }
        e => {
            let requirement = e.requirement().map(str::to_owned).unwrap_or_else(|| {
                match settings.versions.get(&canonical_name(dist)).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    Some(pin) if pin.starts_with(['<', '>', '=', '!', '~']) => format!("{dist}{pin}"),
                    Some(pin) => format!("{dist}=={pin}"),
                    None => dist.to_owned(),
                }
            });
            Error::user(e.to_string())
                .within(format!("Getting distribution for {}.", repr(&requirement)))
                .within(format!("Installing recipe {dist}."))
        }
    }
}

/// The `[buildout]` settings that say where distributions come from, as eggs read them.
pub fn settings(sections: &mut Sections) -> crate::config::Result<Settings> {
    let mut option = |name: &str| -> crate::config::Result<String> {
        Ok(sections.get("buildout", name)?.unwrap_or_default().trim().to_owned())
    };
    let directory = option("directory")?;
    let offline = option("offline")? == "true";
    let newest = !offline && option("newest")? == "true";
    let eggs_dir = PathBuf::from(option("eggs-directory")?);
    let find_links = option("find-links")?.split_whitespace().map(str::to_owned).collect();
    let index = Some(option("index")?).filter(|i| !i.is_empty());
    let allow_picked_versions = option("allow-picked-versions")? != "false";
    let show_picked_versions = option("show-picked-versions")? == "true";
    let develop_eggs_dir = Some(PathBuf::from(option("develop-eggs-directory")?));
    let download_cache =
        Some(option("download-cache")?).filter(|d| !d.is_empty()).map(|d| PathBuf::from(pypath::join(&directory, &d)));
    let versions_section = option("versions")?;
    let versions = match versions_section.is_empty() || !sections.contains(&versions_section) {
        true => Default::default(),
        false => sections.snapshot(&versions_section)?.into_iter().map(|(k, v)| (canonical_name(&k), v)).collect(),
    };
    Ok(Settings {
        eggs_dir,
        find_links,
        index,
        offline,
        newest,
        versions,
        allow_picked_versions,
        show_picked_versions,
        download_cache,
        develop_eggs_dir,
        remember: None,
        ..Settings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_point_groups_are_read_by_name() {
        let text = "[console_scripts]\nx = a:b\n\n[zc.buildout]\ndefault = t:Recipe\n# note\ngenshi = t:G\n\n\
                    [zc.buildout.uninstall]\n default = t:uninstall \n";
        let cases: [(&str, &[&str]); 3] =
            [("zc.buildout", &["default", "genshi"]), ("zc.buildout.uninstall", &["default"]), ("nothing", &[])];
        for (group, names) in cases {
            assert_eq!(entry_point_names(text, group), names, "{group}");
        }
    }

    fn egg(eggs: &Path, dir: &str, name: &str, version: &str, entry_points: &str) {
        let info = eggs.join(dir).join(format!("{name}-{version}.dist-info"));
        std::fs::create_dir_all(&info).expect("mkdir");
        std::fs::write(info.join("METADATA"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"))
            .expect("write METADATA");
        std::fs::write(info.join("entry_points.txt"), entry_points).expect("write entry points");
    }

    #[test]
    fn python_recipes_at_hand() {
        let root = tempfile::tempdir().expect("temp dir");
        let (eggs, develop) = (root.path().join("eggs"), root.path().join("develop-eggs"));
        std::fs::create_dir_all(&develop).expect("mkdir");
        let recipe = "[zc.buildout]\ndefault = r:R\n\n[zc.buildout.uninstall]\ndefault = r:u\n";
        egg(&eggs, "py.recipe-1.0-py3.11.egg", "py.recipe", "1.0", recipe);
        egg(&eggs, "py.recipe-2.0-py3.11.egg", "py.recipe", "2.0", recipe);
        let project = root.path().join("src/dev.recipe");
        egg(&project, ".", "dev.recipe", "0.1", "[zc.buildout]\nmain = d:D\n");
        std::fs::write(develop.join("dev.recipe.egg-link"), format!("{}\n.", project.display())).expect("link");
        let settings = |pins: &[(&str, &str)]| Settings {
            eggs_dir: eggs.clone(),
            develop_eggs_dir: Some(develop.clone()),
            versions: pins.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Settings::default()
        };
        // (dist, pins, how and version found)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<(Python, &'a str)>);
        let cases: [Case<'_>; 5] = [
            ("py.recipe", &[], Some((Python::Installed, "2.0"))),
            ("Py_Recipe", &[("py-recipe", "1.0")], Some((Python::Installed, "1.0"))),
            ("py.recipe", &[("py-recipe", "3.0")], None),
            ("dev.recipe", &[("dev-recipe", "9.9")], Some((Python::Developed, "0.1"))),
            ("other", &[], None),
        ];
        for (dist, pins, want) in cases {
            let got = python_recipe(dist, &settings(pins));
            assert_eq!(got.as_ref().map(|r| (r.how, r.version.as_str())), want, "{dist} {pins:?}");
        }
        let found = python_recipe("py.recipe", &settings(&[])).expect("found");
        assert_eq!((found.entries, found.uninstall), (vec!["default".to_owned()], vec!["default".to_owned()]));
        let developed = python_recipe("dev.recipe", &settings(&[])).expect("found");
        assert_eq!(developed.entries, ["main"]);
    }
}
