//! Finding and loading recipe libraries (host side).
//!
//! `recipe = zc.zodbrecipes:server` names distribution `zc.zodbrecipes`, entry `server`. The
//! distribution name is normalised (lower case, runs of `-_.` → `_`) to the library file
//! `libzc_zodbrecipes.so`, searched in order, first hit wins, without scanning directories
//! (loading a library runs its code): `[buildout] recipe-path`, `BUILDOUT_RECIPE_PATH`,
//! `<buildout>/recipes/`, the directory of the `buildout` program, then
//! `<program dir>/../lib/buildout/recipes/`. Every library stays loaded until the process ends.

#![allow(unsafe_code)] // Only to hand the host context to the library for the length of a call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use abi_stable::library::{LibraryError, lib_header_from_path};
use abi_stable::std_types::RResult;

use crate::abi::wire::{self, ErrorKind, RecipeError};
use crate::abi::{self, ABI_VERSION, HostService, RecipeHandle, RecipeLibraryRef};

/// Why a recipe library could not be used. Each message is one line; [`LoadError::detail`] has
/// the full report where there is one (shown with `-v`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("Couldn't find the recipe library for {dist} ({file}); searched: {}", display_dirs(.searched))]
    NotFound { dist: String, file: String, searched: Vec<PathBuf> },
    #[error("{} is not a buildout recipe library: {reason}", .path.display())]
    NotARecipe { path: PathBuf, reason: String },
    #[error("{} was built against recipe ABI {library}, this buildout speaks {}: rebuild it", .path.display(), ABI_VERSION)]
    AbiMismatch { path: PathBuf, library: String, detail: String },
    #[error("{} was built against an incompatible recipe ABI ({summary}); this buildout speaks {}: rebuild it", .path.display(), ABI_VERSION)]
    AbiLayout { path: PathBuf, summary: String, detail: String },
    #[error("{} provides recipes for {found}, not {expected}", .path.display())]
    WrongDistribution { path: PathBuf, expected: String, found: String },
    #[error("{dist} has no recipe entry {entry:?} ({}); it offers: {}", .path.display(), .entries.join(", "))]
    UnknownEntry { dist: String, entry: String, path: PathBuf, entries: Vec<String> },
    #[error("Invalid recipe specification {0:?}: expected <distribution>[:<entry>]")]
    BadSpec(String),
}

impl LoadError {
    /// The long form of the error (abi_stable's layout report), if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            LoadError::AbiLayout { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories".to_owned();
    }
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `zc.zodbrecipes` → `zc_zodbrecipes`: lower case, every run of `-`, `_`, `.` becomes `_`.
pub fn normalize(dist: &str) -> String {
    crate::python::requirement::canonical_name(dist).replace('-', "_")
}

/// The file a distribution's recipes live in (`libzc_zodbrecipes.so` on Linux).
pub fn library_file_name(dist: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, normalize(dist), std::env::consts::DLL_SUFFIX)
}

/// Splits `dist[:entry]` (entry `default` when absent); extras and version specifiers of the
/// requirement are not part of the name.
pub fn parse_spec(spec: &str) -> Result<(String, String), LoadError> {
    let spec = spec.trim();
    let (req, entry) = match spec.split_once(':') {
        Some((r, e)) if !e.contains(':') => (r, e.trim()),
        Some(_) => return Err(LoadError::BadSpec(spec.to_owned())),
        None => (spec, "default"),
    };
    let name_end = req.find(|c: char| !(c.is_alphanumeric() || "-_.".contains(c))).unwrap_or(req.len());
    let dist = req[..name_end].trim();
    if dist.is_empty() || entry.is_empty() {
        return Err(LoadError::BadSpec(spec.to_owned()));
    }
    Ok((dist.to_owned(), entry.to_owned()))
}

/// The search path, in order. `recipe_path`: `[buildout] recipe-path` (relative to
/// `buildout_dir`); `env_path`: `BUILDOUT_RECIPE_PATH`; `exe`: the running program.
pub fn search_path(
    recipe_path: Option<&str>,
    buildout_dir: &Path,
    env_path: Option<&std::ffi::OsStr>,
    exe: Option<&Path>,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in recipe_path.unwrap_or("").split_whitespace() {
        dirs.push(buildout_dir.join(d));
    }
    if let Some(p) = env_path {
        dirs.extend(std::env::split_paths(p).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs.push(buildout_dir.join("recipes"));
    if let Some(exe_dir) = exe.and_then(Path::parent) {
        dirs.push(exe_dir.to_path_buf());
        dirs.push(exe_dir.join("../lib/buildout/recipes"));
    }
    dirs
}

/// A loaded recipe library.
pub struct Library {
    pub path: PathBuf,
    pub metadata: wire::Metadata,
    module: RecipeLibraryRef,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).field("metadata", &self.metadata).finish()
    }
}

fn library_error(path: &Path, e: LibraryError) -> LoadError {
    match e {
        LibraryError::OpenError { err, .. } => LoadError::NotARecipe { path: path.to_owned(), reason: err.to_string() },
        LibraryError::GetSymbolError { .. } => {
            LoadError::NotARecipe { path: path.to_owned(), reason: "it exports no recipe root module".to_owned() }
        }
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
            LoadError::AbiMismatch { path: path.to_owned(), library: actual_version.to_string(), detail: String::new() }
        }
        LibraryError::RootModule { err, .. } => {
            LoadError::NotARecipe { path: path.to_owned(), reason: format!("its root module failed to load: {err}") }
        }
        other => {
            let detail = other.to_string();
            LoadError::AbiLayout { path: path.to_owned(), summary: layout_summary(&detail), detail }
        }
    }
}

/// abi_stable's layout report runs to hundreds of lines; its last `Error:` block says what
/// differs (`mismatched type`, then what was expected and found).
fn layout_summary(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let Some(start) = lines.iter().rposition(|l| l.starts_with("Error:")) else {
        return "different layout".to_owned();
    };
    let mut summary = lines[start].trim_start_matches("Error:").trim().to_owned();
    let rest: Vec<&str> = lines[start + 1..].iter().copied().filter(|l| !l.is_empty()).take(4).collect();
    if let [expected_label, expected, found_label, found] = rest.as_slice()
        && expected_label.starts_with("Expected")
        && found_label.starts_with("Found")
    {
        summary.push_str(&format!(": expected {expected}, found {found}"));
    }
    summary
}

impl Library {
    /// Loads a library file, checking that it speaks this recipe ABI.
    pub fn load(path: &Path) -> Result<Library, LoadError> {
        let header = lib_header_from_path(path).map_err(|e| library_error(path, e))?;
        let module = header.init_root_module::<RecipeLibraryRef>().map_err(|e| library_error(path, e))?;
        let text: String = (module.metadata())().into();
        let metadata: wire::Metadata = serde_json::from_str(&text).map_err(|e| LoadError::NotARecipe {
            path: path.to_owned(),
            reason: format!("unreadable metadata: {e}"),
        })?;
        Ok(Library { path: path.to_owned(), metadata, module })
    }

    /// Constructs the recipe of `request.entry`.
    pub fn construct(
        self: &Rc<Self>,
        host: &dyn HostService,
        request: &wire::Construct,
    ) -> Result<(Recipe, wire::Constructed), RecipeError> {
        let payload = serde_json::to_string(request).map_err(|e| RecipeError::internal(e.to_string()))?;
        let handle_ref: &dyn HostService = host;
        let handle = abi::host_handle(&handle_ref);
        match (self.module.construct())(handle, payload.as_str().into()) {
            RResult::ROk(c) => {
                let recipe = Recipe { library: Rc::clone(self), handle: c.recipe };
                let reply = serde_json::from_str(c.reply.as_str())
                    .map_err(|e| RecipeError::internal(format!("bad reply from {}: {e}", self.path.display())))?;
                Ok((recipe, reply))
            }
            RResult::RErr(e) => Err(RecipeError::from_json(&e)),
        }
    }

    /// Runs the uninstall entry of `request.entry`, if the library has one.
    pub fn uninstall(&self, host: &dyn HostService, request: &wire::Uninstall) -> Result<bool, RecipeError> {
        if !self.metadata.uninstall.contains(&request.entry) {
            return Ok(false);
        }
        let payload = serde_json::to_string(request).map_err(|e| RecipeError::internal(e.to_string()))?;
        let handle_ref: &dyn HostService = host;
        match (self.module.uninstall())(abi::host_handle(&handle_ref), payload.as_str().into()) {
            RResult::ROk(_) => Ok(true),
            RResult::RErr(e) => Err(RecipeError::from_json(&e)),
        }
    }
}

/// A constructed recipe; released when dropped.
pub struct Recipe {
    library: Rc<Library>,
    handle: RecipeHandle,
}

impl Recipe {
    /// Runs `install` or `update`. `update` of a recipe without one fails with
    /// [`ErrorKind::NoUpdate`].
    pub fn call(&self, host: &dyn HostService, method: &str) -> Result<wire::Installed, RecipeError> {
        let handle_ref: &dyn HostService = host;
        match (self.library.module.call())(self.handle, abi::host_handle(&handle_ref), method.into()) {
            RResult::ROk(reply) => serde_json::from_str(reply.as_str())
                .map_err(|e| RecipeError::internal(format!("bad reply from {}: {e}", self.library.path.display()))),
            RResult::RErr(e) => Err(RecipeError::from_json(&e)),
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }
}

impl Drop for Recipe {
    fn drop(&mut self) {
        (self.library.module.release())(self.handle);
    }
}

/// Finds and loads libraries, each once per process.
#[derive(Debug, Default)]
pub struct Loader {
    dirs: Vec<PathBuf>,
    by_dist: HashMap<String, Rc<Library>>,
    by_path: HashMap<PathBuf, Rc<Library>>,
}

impl Loader {
    pub fn new(dirs: Vec<PathBuf>) -> Loader {
        Loader { dirs, ..Loader::default() }
    }

    /// Puts directories first on the search path (develop recipe crates).
    pub fn prepend(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        let mut new: Vec<PathBuf> = dirs.into_iter().collect();
        new.append(&mut self.dirs);
        self.dirs = new;
    }

    /// How many library files have been loaded.
    pub fn loaded(&self) -> usize {
        self.by_path.len()
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The first library file for `dist` on the search path.
    pub fn find(&self, dist: &str) -> Result<PathBuf, LoadError> {
        let file = library_file_name(dist);
        self.dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()).ok_or_else(|| LoadError::NotFound {
            dist: dist.to_owned(),
            file,
            searched: self.dirs.clone(),
        })
    }

    /// Loads a library file (once per canonical path).
    pub fn load_file(&mut self, path: &Path) -> Result<Rc<Library>, LoadError> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        if let Some(lib) = self.by_path.get(&canonical) {
            return Ok(Rc::clone(lib));
        }
        let lib = Rc::new(Library::load(&canonical)?);
        self.by_path.insert(canonical, Rc::clone(&lib));
        Ok(lib)
    }

    /// The library of a distribution, checked to be the one it claims.
    pub fn library(&mut self, dist: &str) -> Result<Rc<Library>, LoadError> {
        let key = normalize(dist);
        if let Some(lib) = self.by_dist.get(&key) {
            return Ok(Rc::clone(lib));
        }
        let path = self.find(dist)?;
        let lib = self.load_file(&path)?;
        if normalize(&lib.metadata.distribution) != key {
            return Err(LoadError::WrongDistribution {
                path,
                expected: dist.to_owned(),
                found: lib.metadata.distribution.clone(),
            });
        }
        self.by_dist.insert(key, Rc::clone(&lib));
        Ok(lib)
    }

    /// The library and entry for a `recipe = dist[:entry]` value.
    pub fn entry(&mut self, spec: &str) -> Result<(Rc<Library>, String), LoadError> {
        let (dist, entry) = parse_spec(spec)?;
        let lib = self.library(&dist)?;
        if !lib.metadata.entries.contains(&entry) {
            return Err(LoadError::UnknownEntry {
                dist,
                entry,
                path: lib.path.clone(),
                entries: lib.metadata.entries.clone(),
            });
        }
        Ok((lib, entry))
    }
}

/// Whether an error came from a recipe panicking (the run must stop, naming the part).
pub fn is_panic(e: &RecipeError) -> bool {
    e.kind == ErrorKind::Panic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_specs() {
        let names =
            [("zc.zodbrecipes", "zc_zodbrecipes"), ("zc.recipe.egg", "zc_recipe_egg"), ("Foo--Bar._x", "foo_bar_x")];
        for (dist, expected) in names {
            assert_eq!(normalize(dist), expected);
        }
        type Parsed<'a> = Result<(&'a str, &'a str), ()>;
        let specs: [(&str, Parsed); 6] = [
            ("zc.zodbrecipes:server", Ok(("zc.zodbrecipes", "server"))),
            ("zc.recipe.egg", Ok(("zc.recipe.egg", "default"))),
            ("zc.recipe.egg[extra]>=2:script", Ok(("zc.recipe.egg", "script"))),
            (" x : y ", Ok(("x", "y"))),
            ("a:b:c", Err(())),
            (":x", Err(())),
        ];
        for (spec, expected) in specs {
            let got = parse_spec(spec).map_err(drop);
            let got = got.as_ref().map(|(d, e)| (d.as_str(), e.as_str()));
            assert_eq!(got, expected.as_ref().map(|(d, e)| (*d, *e)), "{spec}");
        }
    }

    #[test]
    fn search_order() {
        let dirs =
            search_path(Some("a b"), Path::new("/bo"), Some("/e1:/e2".as_ref()), Some(Path::new("/usr/bin/buildout")));
        let expected = ["/bo/a", "/bo/b", "/e1", "/e2", "/bo/recipes", "/usr/bin", "/usr/bin/../lib/buildout/recipes"];
        assert_eq!(dirs, expected.iter().map(PathBuf::from).collect::<Vec<_>>());
    }

    #[test]
    fn missing_library_lists_every_directory() {
        let loader = Loader::new(vec![PathBuf::from("/nowhere/a"), PathBuf::from("/nowhere/b")]);
        let err = loader.find("zc.zodbrecipes").expect_err("not there");
        assert_eq!(
            err.to_string(),
            format!(
                "Couldn't find the recipe library for zc.zodbrecipes ({}); searched: /nowhere/a, /nowhere/b",
                library_file_name("zc.zodbrecipes")
            )
        );
    }

    #[test]
    fn layout_reports_are_summarised() {
        let report =
            "lots\nof\nlines\n\nError:mismatched type\nExpected:\n    RecipeLibrary\nFound:\n    OtherLibrary\n";
        assert_eq!(layout_summary(report), "mismatched type: expected RecipeLibrary, found OtherLibrary");
        assert_eq!(layout_summary("nothing useful"), "different layout");
    }

    #[test]
    fn garbage_is_not_a_recipe_library() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(library_file_name("junk"));
        std::fs::write(&path, b"not an ELF file").expect("write");
        let err = Library::load(&path).expect_err("garbage");
        assert!(matches!(err, LoadError::NotARecipe { .. }), "{err}");
    }
}
