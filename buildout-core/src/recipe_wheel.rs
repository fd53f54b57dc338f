//! Recipe libraries by distribution name, installed the way eggs are: when no library for
//! `recipe = acme.recipes` is on the recipe search path, the distribution `acme.recipes` is
//! taken from `eggs-directory` or got from the index and `find-links`, as a *recipe wheel*
//! (`py3-none-manylinux_2_N_<arch>`, one recipe library at its root and
//! `<dist>.dist-info/buildout_recipe.json`, as `buildout recipes package` writes it), under the
//! `[versions]` pins, offline and newest modes and caches that eggs obey. No Python is needed.
//!
//! A recipe wheel is unpacked, like any wheel, into its own egg directory
//! (`acme.recipes-1.0-py3-manylinux_2_17_x86_64.egg/`), which then goes first on the recipe
//! search path.

use std::path::{Path, PathBuf};

use crate::config::pytext::repr;
use crate::log::Level;
use crate::package::{self, Platform, RECIPE_INFO, RecipeInfo};
use crate::python::egg::{egg_dir_name, unpack_wheel, wheel_info};
use crate::python::index::{DistFile, Index, IndexError, Sources};
use crate::python::install::{Logger, Settings};
use crate::python::requirement::{Requirement, canonical_name, parse_version};
use crate::python::{PythonError, io};

/// A recipe distribution in `eggs-directory`, ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provided {
    /// The distribution as its metadata spells it.
    pub name: String,
    pub version: String,
    /// Its egg directory, which holds the library.
    pub dir: PathBuf,
    pub library: PathBuf,
    pub info: RecipeInfo,
    /// The wheel's platform tag (`manylinux_2_17_x86_64`).
    pub platform: String,
}

/// Why a recipe distribution could not be had. Each is one line (zc.buildout's own text where
/// it has one).
#[derive(Debug, thiserror::Error)]
pub enum RecipeWheelError {
    #[error("We don't have a distribution for {requirement}\nand can't install one in offline (no-install) mode.\n")]
    Offline { requirement: String },
    /// Not in `eggs-directory`, and only that may be used (planning).
    #[error(
        "We don't have a distribution for {requirement} yet, and planning gets none: `buildout` would get it first."
    )]
    NotYet { requirement: String },
    /// The index and `find-links` know nothing of the project: the caller adds this to what
    /// the search path said.
    #[error("{}", unknown_text(.dist, .index.as_deref(), .find_links))]
    Unknown { dist: String, index: Option<String>, find_links: Vec<String> },
    #[error("Couldn't find a distribution for {}.", repr(.requirement))]
    Missing { requirement: String },
    /// `wheels`: (file name, platform tag) of the best version's wheels.
    #[error(
        "There is no recipe wheel of {name} {version} for this machine ({host}): {}",
        .wheels.iter().map(|(w, p)| format!("{w} is for {}", package::describe_platform_tag(p))).collect::<Vec<_>>().join("; ")
    )]
    OtherPlatform { name: String, version: String, wheels: Vec<(String, String)>, host: String },
    #[error(
        "{name} {version} is a Python distribution ({}), not a recipe library: this buildout runs recipe libraries only",
        .files.join(", ")
    )]
    Python { name: String, version: String, files: Vec<String> },
    #[error("{wheel} is not a recipe wheel: {reason}")]
    NotRecipe { wheel: String, reason: String },
    #[error(
        "{wheel} needs recipe ABI {abi}, this buildout speaks {} (and loads recipe libraries of ABI {}): use a release of {name} built for one of those",
        crate::abi::ABI_VERSION,
        crate::abi::LOADABLE_MAJORS.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
    )]
    Abi { wheel: String, name: String, abi: String },
    #[error(
        "Picked: {name} = {version}\n\nThe `{name}` egg does not have a version pin and `allow-picked-versions = false`.\n\nTo resolve this, add\n\n    {name} = {version}\n\nto the [versions] section,\n\nOR set `allow-picked-versions = true`."
    )]
    Picked { name: String, version: String },
    #[error("Couldn't read the index for {dist}: {source}")]
    Index { dist: String, source: IndexError },
    #[error("Couldn't download {file}: {reason}")]
    Download { file: String, reason: String },
    #[error(transparent)]
    Egg(#[from] PythonError),
}

fn unknown_text(dist: &str, index: Option<&str>, find_links: &[String]) -> String {
    let links = find_links.join(", ");
    match (index, find_links.is_empty()) {
        (Some(index), true) => format!("and the index {index} has no distribution {dist}"),
        (Some(index), false) => {
            format!("and neither the index {index} nor find-links ({links}) has a distribution {dist}")
        }
        (None, false) => format!("and find-links ({links}) has no distribution {dist}"),
        (None, true) => format!("and there is no index or find-links to get {dist} from"),
    }
}

impl RecipeWheelError {
    /// The requirement being fetched when it failed (zc.buildout's `Getting distribution for
    /// ...` step), if any.
    pub fn requirement(&self) -> Option<&str> {
        match self {
            RecipeWheelError::Offline { requirement }
            | RecipeWheelError::NotYet { requirement }
            | RecipeWheelError::Missing { requirement } => Some(requirement),
            _ => None,
        }
    }
}

/// The recipe distributions of `dist` in `eggs_dir` that run here, best first: the highest
/// version `req` allows, final releases before pre-releases (zc.buildout's `prefer-final`).
pub fn installed(dist: &str, req: Option<&Requirement>, eggs_dir: &Path) -> Vec<Provided> {
    let key = canonical_name(dist);
    let host = Platform::host();
    let mut found: Vec<(Provided, pep440_rs::Version)> = std::fs::read_dir(eggs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let base = name.strip_suffix(".egg").filter(|_| !name.starts_with('.'))?;
            // `acme.recipes-1.0-py3-<platform>`: project names in egg directories have no `-`.
            let mut parts = base.splitn(4, '-');
            let (project, _, python, platform) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            if canonical_name(project) != key || python != "py3" || !package::platform_runs_on(platform, host) {
                return None;
            }
            let provided = read_installed(&entry.path(), dist, platform)?;
            let version = parse_version(&provided.version)?;
            req.is_none_or(|r| r.allows_version(&version)).then_some((provided, version))
        })
        .collect();
    found.sort_by(|(_, a), (_, b)| (!b.any_prerelease()).cmp(&!a.any_prerelease()).then_with(|| b.cmp(a)));
    found.into_iter().map(|(p, _)| p).collect()
}

/// The best recipe distribution of `dist` in `eggs-directory` that the `[versions]` pins of
/// `settings` allow, without the network (what `buildout recipes <dist>` shows).
pub fn installed_for(dist: &str, settings: &Settings) -> Option<Provided> {
    let req = Requirement::parse(dist).ok()?;
    installed(dist, Some(&settings.constrained(&req)), &settings.eggs_dir).into_iter().next()
}

/// An unpacked recipe wheel, if `dir` is one whose library this buildout can load.
fn read_installed(dir: &Path, dist: &str, platform: &str) -> Option<Provided> {
    let info = recipe_info_in(dir)?;
    let library = dir.join(crate::loader::library_file_name(dist));
    (package::abi_accepted(&info.abi) && library.is_file()).then(|| Provided {
        name: info.distribution.clone(),
        version: info.version.clone(),
        dir: dir.to_owned(),
        library,
        info,
        platform: platform.to_owned(),
    })
}

/// The `buildout_recipe.json` of an unpacked recipe wheel.
fn recipe_info_in(dir: &Path) -> Option<RecipeInfo> {
    // Unpacking names the metadata directory after the egg.
    let base = dir.file_name()?.to_str()?.strip_suffix(".egg")?;
    let text = std::fs::read_to_string(dir.join(format!("{base}.dist-info")).join(RECIPE_INFO)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Where a loaded library came from, if it is an unpacked recipe wheel: what the wheel says,
/// and its platform tag.
pub fn origin(library: &Path) -> Option<(RecipeInfo, String)> {
    let dir = library.parent()?;
    let name = dir.file_name()?.to_str()?;
    let platform = name.strip_suffix(".egg")?.splitn(4, '-').nth(3)?.to_owned();
    Some((recipe_info_in(dir)?, platform))
}

/// The recipe distribution `dist`, from `eggs-directory` or fetched and unpacked there, under
/// `settings` (pins, offline and newest modes, `index`, `find-links`, `download-cache`,
/// `allow-picked-versions`), as zc.buildout gets a recipe egg. `log` gets zc.buildout's
/// `Getting distribution for ...` and `Got ...` lines when it is fetched.
pub fn provide(dist: &str, settings: &Settings, log: Logger<'_>) -> Result<Provided, RecipeWheelError> {
    provide_with(dist, settings, crate::python::cache::dir().as_deref(), log)
}

/// [`provide`] with the user cache `cache` (pages and unpacked wheels; `None`: none).
fn provide_with(
    dist: &str,
    settings: &Settings,
    cache: Option<&Path>,
    log: Logger<'_>,
) -> Result<Provided, RecipeWheelError> {
    let req = Requirement::parse(dist)?;
    let constrained = settings.constrained(&req);
    let requirement = constrained.to_string();
    let pinned = settings.pin(&req.key()).is_some();
    let exact = settings.pin(&req.key()).is_some_and(|p| p.starts_with("==") && !p.contains([',', '*']));
    let have = installed(dist, Some(&constrained), &settings.eggs_dir).into_iter().next();
    let refuse_unpinned = |name: &str, version: &str| match pinned || settings.allow_picked_versions {
        true => Ok(()),
        false => Err(RecipeWheelError::Picked { name: name.to_owned(), version: version.to_owned() }),
    };
    if settings.offline {
        let have = have.ok_or(RecipeWheelError::Offline { requirement })?;
        refuse_unpinned(&have.name, &have.version)?;
        return Ok(have);
    }
    // zc.buildout takes an installed distribution without asking the index when it is pinned
    // to that version, or when it is not looking for newer ones.
    if let Some(have) = have.as_ref().filter(|_| exact || !settings.newest) {
        refuse_unpinned(&have.name, &have.version)?;
        return Ok(have.clone());
    }
    let index = new_index(settings, cache);
    let project = index.project(dist);
    index.warn_unreadable(log);
    let files = match project {
        Ok(files) => files,
        // What is installed serves when the index cannot say whether there is better.
        Err(e) if have.is_some() => {
            log(Level::Debug, &format!("Couldn't read the index for {dist}, using what is installed: {e}"));
            Vec::new()
        }
        Err(source) => return Err(RecipeWheelError::Index { dist: dist.to_owned(), source }),
    };
    let host = Platform::host();
    let allowed: Vec<&DistFile> =
        files.iter().filter(|f| constrained.allows_version(&f.version) && (!f.yanked || exact)).collect();
    let recipe_wheels: Vec<(&DistFile, &str)> = allowed
        .iter()
        .filter_map(|f| {
            let (python, abi, platform) = f.wheel_tags.as_ref()?;
            (package::python_free(python, abi) && platform != "any").then_some((*f, platform.as_str()))
        })
        .collect();
    let usable = best(recipe_wheels.iter().filter(|(_, p)| package::platform_runs_on(p, host)).map(|(f, _)| *f));
    if let Some(have) = &have
        && usable.is_none_or(|u| parse_version(&have.version).is_some_and(|v| v >= u.version))
    {
        refuse_unpinned(&have.name, &have.version)?;
        return Ok(have.clone());
    }
    let Some(file) = usable else {
        return Err(explain_missing(dist, &requirement, &files, &allowed, &recipe_wheels, settings, host));
    };
    refuse_unpinned(dist, &file.version.to_string())?;
    log(Level::Info, &format!("Getting distribution for {}.", repr(&requirement)));
    let provided = fetch(file, dist, settings, &index, cache)?;
    log(Level::Info, &format!("Got {} {}.", crate::python::egg::safe_name(&provided.name), provided.version));
    Ok(provided)
}

/// The best of some files: the highest version, final releases first.
fn best<'a>(files: impl Iterator<Item = &'a DistFile>) -> Option<&'a DistFile> {
    files.max_by(|a, b| {
        (!a.version.any_prerelease()).cmp(&!b.version.any_prerelease()).then_with(|| a.version.cmp(&b.version))
    })
}

/// Why nothing the index lists can be installed here, in one line.
fn explain_missing(
    dist: &str,
    requirement: &str,
    files: &[DistFile],
    allowed: &[&DistFile],
    recipe_wheels: &[(&DistFile, &str)],
    settings: &Settings,
    host: &Platform,
) -> RecipeWheelError {
    if files.is_empty() {
        let index = index_url(settings);
        return RecipeWheelError::Unknown { dist: dist.to_owned(), index, find_links: settings.find_links.clone() };
    }
    // Recipe wheels, but for other machines: the best version's.
    if let Some(top) = best(recipe_wheels.iter().map(|(f, _)| *f)) {
        let wheels = recipe_wheels
            .iter()
            .filter(|(f, _)| f.version == top.version)
            .map(|(f, p)| (f.filename.clone(), (*p).to_owned()))
            .collect();
        return RecipeWheelError::OtherPlatform {
            name: dist.to_owned(),
            version: top.version.to_string(),
            wheels,
            host: host.describe(),
        };
    }
    // Only what Python needs (pure-Python wheels, source distributions): a Python recipe.
    if let Some(top) = best(allowed.iter().copied()) {
        let files = allowed.iter().filter(|f| f.version == top.version).map(|f| f.filename.clone()).collect();
        return RecipeWheelError::Python { name: dist.to_owned(), version: top.version.to_string(), files };
    }
    RecipeWheelError::Missing { requirement: requirement.to_owned() }
}

/// The index a buildout uses, as it names it (`None`: no index at all, only `find-links`).
fn index_url(settings: &Settings) -> Option<String> {
    match settings.index.as_deref().map(str::trim) {
        None | Some("") => Some(crate::python::index::PYPI.to_owned()),
        Some(url) if crate::http::file_path(url).is_some_and(|p| !p.exists()) => None,
        Some(url) => Some(url.to_owned()),
    }
}

/// The index and `find-links` of a buildout, through the HTTP cache in the user cache;
/// `find-links` paths that do not exist are passed over, as eggs pass over them.
fn new_index(settings: &Settings, cache: Option<&Path>) -> Index {
    let client = crate::http::Client::new(crate::http::ClientOptions {
        cache_dir: cache.map(Path::to_owned),
        offline: settings.offline,
        ..crate::http::ClientOptions::default()
    });
    let missing = |link: &String| {
        let path = link.strip_prefix("file://").unwrap_or(link);
        !path.contains("://") && !Path::new(path).exists()
    };
    let find_links = settings.find_links.iter().filter(|l| !missing(l)).cloned().collect();
    let index = settings.index.clone().filter(|i| !i.is_empty());
    Index::new(client, Sources { index, find_links })
}

/// Gets `file` (a local one where it is; a remote one into `download-cache`'s `dist/`, else a
/// temporary directory), checks that it is a recipe wheel of an ABI this buildout loads, and
/// unpacks it into its egg directory.
fn fetch(
    file: &DistFile,
    dist: &str,
    settings: &Settings,
    index: &Index,
    cache: Option<&Path>,
) -> Result<Provided, RecipeWheelError> {
    std::fs::create_dir_all(&settings.eggs_dir).map_err(|e| io(&settings.eggs_dir, e))?;
    // A download without a download cache is kept beside the eggs until unpacked; a killed
    // run's is swept by the next one (its pid is in the name).
    crate::interrupt::sweep(&settings.eggs_dir);
    let mut scratch = None;
    let wheel = match crate::http::file_path(&file.url) {
        Some(path) => path,
        None => {
            let dir = match &settings.download_cache {
                Some(cache) => cache.join("dist"),
                None => {
                    let prefix = crate::interrupt::temp_prefix("fetching");
                    let tmp = tempfile::Builder::new()
                        .prefix(&prefix)
                        .tempdir_in(&settings.eggs_dir)
                        .map_err(|e| io(&settings.eggs_dir, e))?;
                    scratch.insert(tmp).path().to_owned()
                }
            };
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            let dest = dir.join(&file.filename);
            if !dest.is_file() {
                let stop = || crate::interrupt::signal().is_some();
                index
                    .client()
                    .download(&file.url, &dest, file.sha256.as_deref(), &stop)
                    .map_err(|e| RecipeWheelError::Download { file: file.filename.clone(), reason: e.to_string() })?;
            }
            dest
        }
    };
    let info = check_recipe_wheel(&wheel, &file.filename, dist)?;
    let platform = file.wheel_tags.as_ref().map(|t| t.2.clone()).unwrap_or_default();
    let meta = wheel_info(&wheel)?;
    let dest = settings.eggs_dir.join(egg_dir_name(&meta.name, &meta.version, "py3", &platform));
    if !dest.is_dir() {
        unpack_wheel(&wheel, &dest, cache.map(|c| (c, meta.key.as_str())))?;
    }
    drop(scratch);
    let library = dest.join(crate::loader::library_file_name(dist));
    if !library.is_file() {
        return Err(RecipeWheelError::NotRecipe {
            wheel: file.filename.clone(),
            reason: format!("{} holds no {}", dest.display(), crate::loader::library_file_name(dist)),
        });
    }
    Ok(Provided { name: meta.name, version: meta.version, dir: dest, library, info, platform })
}

/// Reads a wheel's `buildout_recipe.json` and checks it: an ABI this buildout loads, and the
/// library recipes of `dist` are looked up by, at the root of the wheel.
pub fn check_recipe_wheel(wheel: &Path, file_name: &str, dist: &str) -> Result<RecipeInfo, RecipeWheelError> {
    use std::io::Read;
    let not_recipe = |reason: String| RecipeWheelError::NotRecipe { wheel: file_name.to_owned(), reason };
    let opened = std::fs::File::open(wheel).map_err(|e| io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(opened).map_err(|e| not_recipe(format!("not a zip file ({e})")))?;
    let names: Vec<String> = zip.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    let info_path = names
        .iter()
        .find(|n| n.split('/').count() == 2 && n.ends_with(&format!(".dist-info/{RECIPE_INFO}")))
        .ok_or_else(|| not_recipe(format!("it has no .dist-info/{RECIPE_INFO}")))?;
    let mut text = String::new();
    zip.by_name(info_path)
        .map_err(|e| not_recipe(format!("{info_path}: {e}")))?
        .read_to_string(&mut text)
        .map_err(|e| not_recipe(format!("{info_path}: {e}")))?;
    let info: RecipeInfo = serde_json::from_str(&text).map_err(|e| not_recipe(format!("{info_path}: {e}")))?;
    if !package::abi_accepted(&info.abi) {
        return Err(RecipeWheelError::Abi { wheel: file_name.to_owned(), name: dist.to_owned(), abi: info.abi });
    }
    let expected = crate::loader::library_file_name(dist);
    if canonical_name(&info.distribution) != canonical_name(dist) {
        return Err(not_recipe(format!("it carries the recipes of {}, not {dist}", info.distribution)));
    }
    if info.library != expected || !names.contains(&expected) {
        return Err(not_recipe(format!("it does not hold {expected} at its root")));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_server::{Reply, Server};
    use std::collections::BTreeMap;

    /// A recipe wheel as `buildout recipes package` writes it, around a stand-in library.
    fn recipe_wheel(dir: &Path, name: &str, version: &str, platform: &str, abi: &str) -> PathBuf {
        let library_name = crate::loader::library_file_name(name);
        let library = dir.join(format!("{library_name}.{version}"));
        std::fs::write(&library, format!("library {version}")).expect("write");
        let mut wheel = package::Wheel::new(name, version, &format!("py3-none-{platform}")).expect("wheel");
        wheel.file(&library_name, &library, 0o755).expect("file");
        let info = RecipeInfo {
            distribution: name.into(),
            version: version.into(),
            abi: abi.into(),
            library: library_name,
            entries: vec!["default".into()],
        };
        wheel.dist_info_file(RECIPE_INFO, serde_json::to_vec(&info).expect("json")).expect("info");
        wheel.write(dir).expect("write the wheel")
    }

    fn host_tag() -> String {
        let host = Platform::host();
        match host.glibc {
            Some(_) => format!("manylinux_2_17_{}", host.arch),
            None => format!("linux_{}", host.arch),
        }
    }

    fn settings(eggs: &Path, links: &[&Path], versions: &[(&str, &str)]) -> Settings {
        Settings {
            eggs_dir: eggs.to_owned(),
            find_links: links.iter().map(|l| l.display().to_string()).collect(),
            index: Some("file:///nonexistent/index".to_owned()),
            newest: true,
            allow_picked_versions: true,
            versions: versions.iter().map(|(k, v)| (canonical_name(k), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
            ..Settings::default()
        }
    }

    /// [`provide`] with a user cache beside the eggs (never the real one), and the lines it logs.
    fn provide_logged(dist: &str, settings: &Settings) -> (Result<Provided, RecipeWheelError>, Vec<String>) {
        let mut lines = Vec::new();
        let cache = settings.eggs_dir.with_file_name("user-cache");
        let result = provide_with(dist, settings, Some(&cache), &mut |_, m: &str| lines.push(m.to_owned()));
        (result, lines)
    }

    fn provided(dist: &str, settings: &Settings) -> Result<Provided, RecipeWheelError> {
        provide_logged(dist, settings).0
    }

    #[test]
    fn from_find_links_with_pins_offline_and_newest() {
        let root = tempfile::tempdir().expect("temp dir");
        let (links, eggs) = (root.path().join("links"), root.path().join("eggs"));
        std::fs::create_dir_all(&links).expect("mkdir");
        let tag = host_tag();
        for version in ["0.1.0", "0.2.0", "0.3b1"] {
            recipe_wheel(&links, "acme.recipes", version, &tag, "1.0.0");
        }
        let newest = settings(&eggs, &[&links], &[]);
        let (got, lines) = provide_logged("acme.recipes", &newest);
        let got = got.expect("provided");
        assert_eq!((got.name.as_str(), got.version.as_str()), ("acme.recipes", "0.2.0"), "final releases first");
        assert_eq!(lines, ["Getting distribution for 'acme.recipes'.", "Got acme.recipes 0.2.0."]);
        assert_eq!(got.dir, eggs.join(format!("acme.recipes-0.2.0-py3-{tag}.egg")));
        assert_eq!(std::fs::read_to_string(&got.library).expect("library"), "library 0.2.0");
        assert_eq!(origin(&got.library).map(|(i, p)| (i.version, p)), Some(("0.2.0".to_owned(), tag.clone())));

        // Installed and the best there is: nothing fetched again.
        let (again, lines) = provide_logged("acme.recipes", &newest);
        assert_eq!(again.expect("again").dir, got.dir);
        assert!(lines.is_empty(), "{lines:?}");

        // A pin: that version, fetched once; then, offline, from eggs-directory.
        let pinned = settings(&eggs, &[&links], &[("Acme.Recipes", "0.1.0")]);
        let (old, lines) = provide_logged("acme.recipes", &pinned);
        assert_eq!(old.expect("pinned").version, "0.1.0");
        assert_eq!(lines, ["Getting distribution for 'acme.recipes==0.1.0'.", "Got acme.recipes 0.1.0."]);
        let offline = Settings { offline: true, newest: false, find_links: vec![], ..pinned.clone() };
        let (old, lines) = provide_logged("acme.recipes", &offline);
        assert_eq!(old.expect("offline").version, "0.1.0");
        assert!(lines.is_empty());
        let missing = Settings { versions: [("acme-recipes".to_owned(), "0.3b1".to_owned())].into(), ..offline };
        let err = provided("acme.recipes", &missing).expect_err("not there offline");
        assert_eq!(
            err.to_string(),
            "We don't have a distribution for acme.recipes==0.3b1\nand can't install one in offline (no-install) mode.\n"
        );
        // A pre-release when pinned to one.
        let pre = settings(&eggs, &[&links], &[("acme.recipes", "0.3b1")]);
        assert_eq!(provided("acme.recipes", &pre).expect("pre-release").version, "0.3b1");
        // Non-newest: whatever is installed that the pins allow.
        let non_newest = Settings { newest: false, ..settings(&eggs, &[&links], &[("acme.recipes", "<0.3")]) };
        assert_eq!(provided("acme.recipes", &non_newest).expect("installed").version, "0.2.0");

        // allow-picked-versions = false refuses an unpinned one, installed or not.
        let strict = Settings { allow_picked_versions: false, ..newest };
        let err = provided("acme.recipes", &strict).expect_err("unpinned");
        assert!(err.to_string().starts_with("Picked: acme.recipes = 0.2.0\n"), "{err}");
    }

    #[test]
    fn refusals_are_one_line() {
        let root = tempfile::tempdir().expect("temp dir");
        let (links, eggs) = (root.path().join("links"), root.path().join("eggs"));
        std::fs::create_dir_all(&links).expect("mkdir");
        let host = Platform::host();
        let foreign_arch = if host.arch == "aarch64" { "x86_64" } else { "aarch64" };
        recipe_wheel(&links, "foreign.recipes", "1.0", &format!("manylinux_2_17_{foreign_arch}"), "1.0.0");
        recipe_wheel(&links, "newer.glibc", "1.0", &format!("manylinux_9_99_{}", host.arch), "1.0.0");
        recipe_wheel(&links, "other.abi", "1.0", &host_tag(), "9.0.0");
        recipe_wheel(&links, "abi.two", "1.0", &host_tag(), "2.1.0");
        std::fs::write(links.join("python.recipe-2.2.tar.gz"), "").expect("write");
        std::fs::write(links.join("python.recipe-2.2-py3-none-any.whl"), "").expect("write");
        let mut not_recipe = package::Wheel::new("plain.wheel", "1.0", &format!("py3-none-{}", host_tag())).expect("w");
        not_recipe.bytes("x.txt", b"x".to_vec(), 0o644).expect("x");
        not_recipe.write(&links).expect("write");
        let s = settings(&eggs, &[&links], &[]);
        let describe = host.describe();
        let cases: Vec<(&str, String)> = vec![
            (
                "foreign.recipes",
                format!(
                    "There is no recipe wheel of foreign.recipes 1.0 for this machine ({describe}): \
                     foreign_recipes-1.0-py3-none-manylinux_2_17_{foreign_arch}.whl is for linux {foreign_arch} with \
                     glibc 2.17 or later"
                ),
            ),
            (
                "newer.glibc",
                format!(
                    "There is no recipe wheel of newer.glibc 1.0 for this machine ({describe}): \
                     newer_glibc-1.0-py3-none-manylinux_9_99_{0}.whl is for linux {0} with glibc 9.99 or later",
                    host.arch
                ),
            ),
            (
                "other.abi",
                format!(
                    "other_abi-1.0-py3-none-{}.whl needs recipe ABI 9.0.0, this buildout speaks {} (and loads recipe \
                     libraries of ABI 1 and 2): use a release of other.abi built for one of those",
                    host_tag(),
                    crate::abi::ABI_VERSION
                ),
            ),
            (
                "python.recipe",
                "python.recipe 2.2 is a Python distribution (python.recipe-2.2-py3-none-any.whl, \
                 python.recipe-2.2.tar.gz), not a recipe library: this buildout runs recipe libraries only"
                    .to_owned(),
            ),
            (
                "plain.wheel",
                format!(
                    "plain_wheel-1.0-py3-none-{}.whl is not a recipe wheel: it has no .dist-info/{RECIPE_INFO}",
                    host_tag()
                ),
            ),
            ("nothing.here", format!("and find-links ({}) has no distribution nothing.here", links.display())),
        ];
        for (dist, expected) in cases {
            let err = provided(dist, &s).expect_err(dist);
            assert_eq!(err.to_string(), expected, "{dist}");
            assert_eq!(err.to_string().lines().count(), 1, "{dist}");
        }
        let pinned = settings(&eggs, &[&links], &[("foreign.recipes", "2.0")]);
        let err = provided("foreign.recipes", &pinned).expect_err("no 2.0");
        assert_eq!(err.to_string(), "Couldn't find a distribution for 'foreign.recipes==2.0'.");
        // ABI 2 is loaded as well as 1.
        assert_eq!(provided("abi.two", &s).expect("ABI 2").info.abi, "2.1.0");
        assert!(!eggs.join("other.abi").exists());
    }

    /// A PEP 503 index over HTTP: pages and files, downloads checked against their SHA-256
    /// and kept in the download cache; the page comes from the HTTP cache offline.
    #[test]
    fn from_an_http_index() {
        let root = tempfile::tempdir().expect("temp dir");
        let files = root.path().join("files");
        std::fs::create_dir_all(&files).expect("mkdir");
        let wheel = recipe_wheel(&files, "acme.recipes", "1.0", &host_tag(), "1.0.0");
        let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).expect("name");
        let sha = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(std::fs::read(&wheel).expect("read"));
            digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let (page_name, files_dir) = (name.clone(), files.clone());
        let server = Server::start(move |request| match request.path.as_str() {
            "/simple/acme-recipes/" => Reply::new(
                200,
                &[("Content-Type", "text/html"), ("Cache-Control", "max-age=600")],
                format!("<a href=\"/files/{page_name}#sha256={sha}\">{page_name}</a>"),
            ),
            path => match path.strip_prefix("/files/").map(|f| files_dir.join(f)) {
                Some(file) if file.is_file() => Reply::new(200, &[], std::fs::read(file).expect("read")),
                _ => Reply::new(404, &[], "not found"),
            },
        });
        let s = Settings {
            index: Some(server.url("/simple")),
            find_links: vec![],
            download_cache: Some(root.path().join("downloads")),
            ..settings(&root.path().join("eggs"), &[], &[])
        };
        let got = provided("acme.recipes", &s).expect("from the index");
        assert_eq!(got.version, "1.0");
        assert!(root.path().join("downloads/dist").join(&name).is_file(), "kept in the download cache");
        assert!(server.requests().iter().any(|r| r.path.starts_with("/files/")));
        let offline = Settings { offline: true, ..s };
        assert_eq!(provided("acme.recipes", &offline).expect("offline").dir, got.dir);
    }
}
