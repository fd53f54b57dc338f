//! Finding and loading recipe libraries (host side).
//!
//! `recipe = zc.zodbrecipes:server` names distribution `zc.zodbrecipes`, entry `server`. The
//! distribution name is normalised (lower case, runs of `-_.` → `_`) to the library file
//! `libzc_zodbrecipes.so`, searched in order, first hit wins, without scanning directories
//! (loading a library runs its code): `[buildout] recipe-path`, `BUILDOUT_RECIPE_PATH`,
//! `<buildout>/recipes/`, the directory of the `buildout` program, then
//! `<program dir>/../lib/buildout/recipes/`. Every library stays loaded until the process ends.

#![allow(unsafe_code)] // Opening a library and reading its recipe table.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use abi_stable::library::{LibraryError, RawLibrary, lib_header_from_raw_library};
use abi_stable::std_types::RResult;

use crate::abi::v1;
use crate::abi::wire::{self, ErrorKind, RecipeError};
use crate::abi::{self, ABI_VERSION, HostService};

/// The distribution of the Python bridge: the recipe library that runs recipes which are Python
/// distributions (their `[zc.buildout]` entry points), all of a run in one Python process.
pub const PYTHON_BRIDGE: &str = "buildout.pythonbridge";
/// The bridge's one entry; it reads the part's `recipe` option to know which recipe to run.
pub const PYTHON_BRIDGE_ENTRY: &str = "python";

/// Why a recipe library could not be used. Each message is one line; [`LoadError::detail`] has
/// the full report where there is one (shown with `-v`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("Couldn't find the recipe library for {dist} ({file}); searched: {}", display_dirs(.searched))]
    NotFound { dist: String, file: String, searched: Vec<PathBuf> },
    #[error("{} is not a buildout recipe library: {reason}", .path.display())]
    NotARecipe { path: PathBuf, reason: String },
    #[error("{} was built against recipe ABI {library}, this buildout speaks {} (and loads 1.x): rebuild it", .path.display(), ABI_VERSION)]
    AbiMismatch { path: PathBuf, library: String, detail: String },
    #[error("{} was built against an incompatible recipe ABI ({summary}); this buildout speaks {}: rebuild it", .path.display(), ABI_VERSION)]
    AbiLayout { path: PathBuf, summary: String, detail: String },
    #[error("{} provides recipes for {found}, not {expected}", .path.display())]
    WrongDistribution { path: PathBuf, expected: String, found: String },
    #[error("{dist} has no recipe entry {entry:?} ({}); it offers: {}", .path.display(), .entries.join(", "))]
    UnknownEntry { dist: String, entry: String, path: PathBuf, entries: Vec<String> },
    #[error("{dist} is a Python distribution, and the Python bridge that runs Python recipes ({file}) is not on the recipe search path; searched: {}", display_dirs(.searched))]
    NoBridge { dist: String, file: String, searched: Vec<PathBuf> },
    #[error("Invalid recipe specification {0:?}: expected <distribution>[:<entry>]")]
    BadSpec(String),
    // What `check_library` finds wrong with a file before it is mapped.
    #[error("{} cannot be read: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{} is empty", .path.display())]
    Empty { path: PathBuf },
    #[error("{} is not an ELF file", .path.display())]
    NotElf { path: PathBuf },
    #[error("{} is not a complete shared library: {what} ends at byte {end} but the file has {size} bytes (truncated?)", .path.display())]
    Truncated { path: PathBuf, what: String, end: u64, size: u64 },
    #[error("{} was built for {built_for}, this buildout runs on {host}", .path.display())]
    ForeignArchitecture { path: PathBuf, built_for: String, host: String },
    #[error("{} is {what}, not a shared library", .path.display())]
    NotSharedLibrary { path: PathBuf, what: String },
    #[error("{} is not a valid shared library: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
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
    /// The recipe ABI the library was built for (`2.0.0`, `1.0.0`).
    pub abi: String,
    table: Table,
}

/// The functions of a library, in the ABI it was built for.
enum Table {
    V2(&'static abi::RecipeLibrary),
    V1(v1::RecipeLibraryRef),
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

/// Reads the recipe table a library exports under [`abi::LIBRARY_SYMBOL`], if it exports one.
fn table_v2(
    path: &Path,
    library: &'static RawLibrary,
) -> Result<Option<(&'static abi::RecipeLibrary, u32)>, LoadError> {
    let symbol = format!("{}\0", abi::LIBRARY_SYMBOL);
    // SAFETY: the symbol is the address of the library's static table; reading it as a pointer
    // is what `get` does for data symbols.
    let Ok(table) = (unsafe { library.get::<*const abi::RecipeLibrary>(symbol.as_bytes()) }) else {
        return Ok(None);
    };
    let table: *const abi::RecipeLibrary = *table;
    let not_a_table = || LoadError::NotARecipe {
        path: path.to_owned(),
        reason: format!("its {} is not a recipe table", abi::LIBRARY_SYMBOL),
    };
    if table.is_null() {
        return Err(not_a_table());
    }
    // SAFETY: a symbol of this name is a table of some ABI 2 minor, whose header every minor
    // shares; the header is all that is read before its version is known.
    let Some((major, minor, size)) = (unsafe { abi::RecipeLibrary::header(table) }) else {
        return Err(not_a_table());
    };
    if major != abi::ABI_MAJOR {
        return Err(LoadError::AbiMismatch {
            path: path.to_owned(),
            library: format!("{major}.{minor}"),
            detail: String::new(),
        });
    }
    if size < size_of::<abi::RecipeLibrary>() {
        return Err(LoadError::NotARecipe {
            path: path.to_owned(),
            reason: format!(
                "its recipe table has {size} bytes, ABI {major}.{minor} has at least {}",
                size_of::<abi::RecipeLibrary>()
            ),
        });
    }
    // SAFETY: a table of ABI 2.0 or a later minor, which starts with every function of 2.0, in
    // a library that is never unloaded.
    Ok(Some((unsafe { &*table }, minor)))
}

impl Library {
    /// Whether this is the Python bridge (see [`PYTHON_BRIDGE`]).
    pub fn is_python_bridge(&self) -> bool {
        self.metadata.distribution == PYTHON_BRIDGE
    }

    /// Loads a library file, checking that it speaks a recipe ABI this buildout loads.
    pub fn load(path: &Path) -> Result<Library, LoadError> {
        check_library(path)?;
        // Never unloaded: a library's code may still be referenced (its panic hook, thread-local
        // destructors) until the process ends.
        let raw: &'static RawLibrary =
            Box::leak(Box::new(RawLibrary::load_at(path).map_err(|e| library_error(path, e))?));
        let (table, text, abi) = match table_v2(path, raw)? {
            Some((table, minor)) => (Table::V2(table), table.metadata(), format!("{}.{minor}.0", abi::ABI_MAJOR)),
            None => {
                // SAFETY: the header stays valid: the library is never unloaded.
                let header = unsafe { lib_header_from_raw_library(raw) }.map_err(|e| library_error(path, e))?;
                let module = header.init_root_module::<v1::RecipeLibraryRef>().map_err(|e| library_error(path, e))?;
                let text: String = (module.metadata())().into();
                (Table::V1(module), text, header.version_strings().to_string())
            }
        };
        let metadata: wire::Metadata = serde_json::from_str(&text).map_err(|e| LoadError::NotARecipe {
            path: path.to_owned(),
            reason: format!("unreadable metadata: {e}"),
        })?;
        Ok(Library { path: path.to_owned(), metadata, abi, table })
    }

    /// Constructs the recipe of `request.entry`.
    pub fn construct(
        self: &Rc<Self>,
        host: &dyn HostService,
        request: &wire::Construct,
    ) -> Result<(Recipe, wire::Constructed), RecipeError> {
        let payload = serde_json::to_string(request).map_err(|e| RecipeError::internal(e.to_string()))?;
        let (instance, reply) = match &self.table {
            Table::V2(table) => {
                let (instance, reply) = table.construct(host, &payload).map_err(|e| RecipeError::from_json(&e))?;
                (Instance::V2(instance), reply)
            }
            Table::V1(module) => match v1::with_host(host, |h| (module.construct())(h, payload.as_str().into())) {
                RResult::ROk(c) => (Instance::V1(c.recipe), c.reply.into()),
                RResult::RErr(e) => return Err(RecipeError::from_json(&e)),
            },
        };
        let recipe = Recipe { library: Rc::clone(self), instance: Some(instance) };
        let reply = serde_json::from_str(&reply)
            .map_err(|e| RecipeError::internal(format!("bad reply from {}: {e}", self.path.display())))?;
        Ok((recipe, reply))
    }

    /// Runs the uninstall entry of `request.entry`, if the library has one.
    pub fn uninstall(&self, host: &dyn HostService, request: &wire::Uninstall) -> Result<bool, RecipeError> {
        if !self.metadata.uninstall.contains(&request.entry) {
            return Ok(false);
        }
        let payload = serde_json::to_string(request).map_err(|e| RecipeError::internal(e.to_string()))?;
        let result = match &self.table {
            Table::V2(table) => table.uninstall(host, &payload).map(drop),
            Table::V1(module) => match v1::with_host(host, |h| (module.uninstall())(h, payload.as_str().into())) {
                RResult::ROk(_) => Ok(()),
                RResult::RErr(e) => Err(e.into()),
            },
        };
        result.map(|()| true).map_err(|e: String| RecipeError::from_json(&e))
    }
}

/// A recipe instance, in its library's ABI.
enum Instance {
    V2(abi::Instance),
    V1(v1::RecipeHandle),
}

/// A constructed recipe; released when dropped.
pub struct Recipe {
    library: Rc<Library>,
    /// Taken when released.
    instance: Option<Instance>,
}

impl Recipe {
    /// Runs `install` or `update`. `update` of a recipe without one fails with
    /// [`ErrorKind::NoUpdate`].
    pub fn call(&self, host: &dyn HostService, method: &str) -> Result<wire::Installed, RecipeError> {
        let reply = match (&self.library.table, &self.instance) {
            (Table::V2(table), Some(Instance::V2(instance))) => table.call(instance, host, method),
            (Table::V1(module), Some(Instance::V1(handle))) => {
                match v1::with_host(host, |h| (module.call())(*handle, h, method.into())) {
                    RResult::ROk(reply) => Ok(reply.into()),
                    RResult::RErr(e) => Err(e.into()),
                }
            }
            _ => return Err(RecipeError::internal("a recipe was called after its release")),
        };
        let reply = reply.map_err(|e| RecipeError::from_json(&e))?;
        serde_json::from_str(&reply)
            .map_err(|e| RecipeError::internal(format!("bad reply from {}: {e}", self.library.path.display())))
    }

    pub fn library(&self) -> &Library {
        &self.library
    }
}

impl Drop for Recipe {
    fn drop(&mut self) {
        match (&self.library.table, self.instance.take()) {
            (Table::V2(table), Some(Instance::V2(instance))) => table.release(instance),
            (Table::V1(module), Some(Instance::V1(handle))) => (module.release())(handle),
            _ => {}
        }
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
    /// Every copy of `dist`'s library on the search path, in search order: the first is the
    /// one [`Loader::find`] takes, the others are shadowed by it. The same file reached through
    /// two directories (a link) counts once.
    pub fn find_all(&self, dist: &str) -> Vec<PathBuf> {
        let file = library_file_name(dist);
        let mut seen = std::collections::HashSet::new();
        self.dirs
            .iter()
            .map(|d| d.join(&file))
            .filter(|p| p.is_file())
            .filter(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())))
            .collect()
    }

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

/// Checks, from its headers alone, that `path` is a complete shared library of this platform.
///
/// `dlopen` maps every segment the ELF headers promise: a truncated file (a copy cut short, a
/// full disk) gets mapped past its end and the first access kills the process with SIGBUS, before
/// any error could be reported. A file of another architecture or an executable is refused here
/// too, with a message that says so rather than the dynamic loader's. The file may still change
/// between this check and `dlopen`; nothing short of copying it could prevent that.
#[cfg(all(unix, not(target_vendor = "apple")))]
pub fn check_library(path: &Path) -> Result<(), LoadError> {
    use object::elf::{ELFCLASS32, ELFCLASS64, ELFMAG, FileHeader32, FileHeader64};
    use object::{Endianness, ReadRef};

    let unreadable = |e: std::io::Error| LoadError::Unreadable { path: path.to_owned(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size == 0 {
        return Err(LoadError::Empty { path: path.to_owned() });
    }
    // Reads only the ranges asked for: libraries built with debug information run to many MB.
    let cache = object::read::ReadCache::new(file);
    let data = &cache;
    let ident = data.read_bytes_at(0, size.min(16)).map_err(|()| LoadError::Unreadable {
        path: path.to_owned(),
        reason: "reading its first bytes failed".to_owned(),
    })?;
    if !ident.starts_with(&ELFMAG) {
        return Err(LoadError::NotElf { path: path.to_owned() });
    }
    match ident.get(4).copied().map(object::elf::FileClass) {
        Some(ELFCLASS64) => check_elf::<FileHeader64<Endianness>>(path, data, size),
        Some(ELFCLASS32) => check_elf::<FileHeader32<Endianness>>(path, data, size),
        Some(class) => {
            Err(LoadError::Malformed { path: path.to_owned(), reason: format!("unknown ELF class {class}") })
        }
        None => Err(LoadError::Truncated { path: path.to_owned(), what: "its ELF header".to_owned(), end: 16, size }),
    }
}

/// Other platforms' libraries are Mach-O or PE, which this check does not read: they go to the
/// dynamic loader unchecked.
#[cfg(not(all(unix, not(target_vendor = "apple"))))]
pub fn check_library(_path: &Path) -> Result<(), LoadError> {
    Ok(())
}

#[cfg(all(unix, not(target_vendor = "apple")))]
fn check_elf<H>(path: &Path, data: &object::read::ReadCache<std::fs::File>, size: u64) -> Result<(), LoadError>
where
    H: object::read::elf::FileHeader<Endian = object::Endianness>,
{
    use object::elf;
    use object::read::elf::{ProgramHeader, SectionHeader};

    let malformed = |reason: &str| LoadError::Malformed { path: path.to_owned(), reason: reason.to_owned() };
    let truncated = |what: String, end: u64| LoadError::Truncated { path: path.to_owned(), what, end, size };
    // The end of a table of `count` entries of `entry` bytes at `offset`, saturating: a value
    // past the end of the file is all that matters.
    let table_end = |offset: u64, count: u64, entry: u64| offset.saturating_add(count.saturating_mul(entry));

    let header_size = std::mem::size_of::<H>() as u64;
    if size < header_size {
        return Err(truncated("its ELF header".to_owned(), header_size));
    }
    let header = H::parse(data).map_err(|e| malformed(&e.to_string()))?;
    let endian = header.endian().map_err(|e| malformed(&e.to_string()))?;

    let built_for = elf_architecture(header, endian);
    let big_endian = header.is_big_endian();
    if let Some(host) = host_architecture()
        && (built_for != host || big_endian != cfg!(target_endian = "big"))
    {
        let order = |big: bool| if big { " (big-endian)" } else { " (little-endian)" };
        let (built_order, host_order) =
            if big_endian == cfg!(target_endian = "big") { ("", "") } else { (order(big_endian), order(!big_endian)) };
        let machine = header.e_machine(endian);
        return Err(LoadError::ForeignArchitecture {
            path: path.to_owned(),
            built_for: format!("{}{built_order}", architecture_name(built_for, machine)),
            host: format!("{}{host_order}", std::env::consts::ARCH),
        });
    }

    let not_shared = |what: &str| LoadError::NotSharedLibrary { path: path.to_owned(), what: what.to_owned() };
    match header.e_type(endian) {
        elf::ET_DYN => {}
        elf::ET_EXEC => return Err(not_shared("an executable")),
        elf::ET_REL => return Err(not_shared("an object file")),
        elf::ET_CORE => return Err(not_shared("a core dump")),
        other => return Err(not_shared(&format!("an ELF file of type {other}"))),
    }

    let phoff: u64 = header.e_phoff(endian).into();
    let phnum = u64::from(header.phnum(endian, data).map_err(|e| malformed(&e.to_string()))?);
    let phentsize = u64::from(header.e_phentsize(endian));
    if phnum > 0 {
        let end = table_end(phoff, phnum, phentsize);
        if end > size {
            return Err(truncated("its program header table".to_owned(), end));
        }
    }
    let segments = header.program_headers(endian, data).map_err(|e| malformed(&e.to_string()))?;
    // A PIE executable is ET_DYN too; what sets it apart is the interpreter it asks for.
    if segments.iter().any(|s| s.p_type(endian) == elf::PT_INTERP) {
        return Err(not_shared("an executable"));
    }
    if !segments.iter().any(|s| s.p_type(endian) == elf::PT_DYNAMIC) {
        return Err(not_shared("an ELF file without a dynamic section"));
    }
    for (i, segment) in segments.iter().enumerate() {
        let end = table_end(segment.p_offset(endian).into(), segment.p_filesz(endian).into(), 1);
        if end > size {
            return Err(truncated(format!("segment {i}"), end));
        }
    }

    // dlopen does not map sections, but a file whose sections run past its end was cut short.
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff != 0 {
        let shentsize = u64::from(header.e_shentsize(endian));
        // Section 0 holds the real count when there are too many for e_shnum.
        let first_end = table_end(shoff, 1, shentsize);
        if first_end > size {
            return Err(truncated("its section header table".to_owned(), first_end));
        }
        let shnum = u64::from(header.shnum(endian, data).map_err(|e| malformed(&e.to_string()))?);
        let end = table_end(shoff, shnum, shentsize);
        if end > size {
            return Err(truncated("its section header table".to_owned(), end));
        }
        let sections = header.section_headers(endian, data).map_err(|e| malformed(&e.to_string()))?;
        for (i, section) in sections.iter().enumerate() {
            if section.sh_type(endian) == elf::SHT_NOBITS {
                continue; // .bss and the like occupy no bytes of the file
            }
            let end = table_end(section.sh_offset(endian).into(), section.sh_size(endian).into(), 1);
            if end > size {
                return Err(truncated(format!("section {i}"), end));
            }
        }
    }
    Ok(())
}

/// The architecture an ELF file was built for, as object's `ElfFile::architecture` maps it
/// (without parsing the rest of the file, as `ElfFile::parse` would).
#[cfg(all(unix, not(target_vendor = "apple")))]
fn elf_architecture<H: object::read::elf::FileHeader>(header: &H, endian: H::Endian) -> object::Architecture {
    use object::Architecture as A;
    use object::elf;
    let is_64 = header.is_class_64();
    match (header.e_machine(endian), is_64) {
        (elf::EM_AARCH64, true) => A::Aarch64,
        (elf::EM_AARCH64, false) => A::Aarch64_Ilp32,
        (elf::EM_ARM, _) => A::Arm,
        (elf::EM_386, _) => A::I386,
        (elf::EM_X86_64, true) => A::X86_64,
        (elf::EM_X86_64, false) => A::X86_64_X32,
        (elf::EM_LOONGARCH, true) => A::LoongArch64,
        (elf::EM_LOONGARCH, false) => A::LoongArch32,
        (elf::EM_MIPS, true) => A::Mips64,
        (elf::EM_MIPS, false) if header.e_flags(endian).contains(elf::EF_MIPS_ABI2) => A::Mips64_N32,
        (elf::EM_MIPS, false) => A::Mips,
        (elf::EM_PPC, _) => A::PowerPc,
        (elf::EM_PPC64, _) => A::PowerPc64,
        (elf::EM_RISCV, true) => A::Riscv64,
        (elf::EM_RISCV, false) => A::Riscv32,
        (elf::EM_S390, true) => A::S390x,
        (elf::EM_SPARCV9, true) => A::Sparc64,
        (elf::EM_68K, false) => A::M68k,
        _ => A::Unknown,
    }
}

/// This process's architecture (`std::env::consts::ARCH`), where the check knows it; elsewhere
/// the architecture is left to the dynamic loader rather than refuse a good library.
#[cfg(all(unix, not(target_vendor = "apple")))]
fn host_architecture() -> Option<object::Architecture> {
    use object::Architecture as A;
    let wide = cfg!(target_pointer_width = "64");
    Some(match std::env::consts::ARCH {
        "x86" => A::I386,
        "x86_64" if wide => A::X86_64,
        "x86_64" => A::X86_64_X32,
        "aarch64" if wide => A::Aarch64,
        "aarch64" => A::Aarch64_Ilp32,
        "arm" => A::Arm,
        "loongarch64" => A::LoongArch64,
        "mips" | "mips32r6" => A::Mips,
        "mips64" | "mips64r6" if wide => A::Mips64,
        "mips64" | "mips64r6" => A::Mips64_N32,
        "powerpc" => A::PowerPc,
        "powerpc64" => A::PowerPc64,
        "riscv32" => A::Riscv32,
        "riscv64" => A::Riscv64,
        "s390x" => A::S390x,
        "sparc64" => A::Sparc64,
        "m68k" => A::M68k,
        _ => return None,
    })
}

/// An architecture as Rust names it (`std::env::consts::ARCH`), which is how users know them.
#[cfg(all(unix, not(target_vendor = "apple")))]
fn architecture_name(arch: object::Architecture, machine: object::elf::Machine) -> String {
    use object::Architecture as A;
    match arch {
        A::I386 => "x86",
        A::X86_64 => "x86_64",
        A::X86_64_X32 => "x86_64 (x32)",
        A::Aarch64 => "aarch64",
        A::Aarch64_Ilp32 => "aarch64 (ilp32)",
        A::Arm => "arm",
        A::LoongArch32 => "loongarch32",
        A::LoongArch64 => "loongarch64",
        A::Mips => "mips",
        A::Mips64 => "mips64",
        A::Mips64_N32 => "mips64 (n32)",
        A::PowerPc => "powerpc",
        A::PowerPc64 => "powerpc64",
        A::Riscv32 => "riscv32",
        A::Riscv64 => "riscv64",
        A::S390x => "s390x",
        A::Sparc64 => "sparc64",
        A::M68k => "m68k",
        _ => return format!("ELF machine {machine}"),
    }
    .to_owned()
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

    /// A real shared library to cut up: libgcc_s, which every Rust program built for linux-gnu
    /// with unwinding (as tests are) has mapped; read from /proc/self/maps rather than guessed
    /// from a distribution's directory layout.
    #[cfg(target_os = "linux")]
    fn mapped_shared_library() -> PathBuf {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
        maps.lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .map(PathBuf::from)
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libgcc_s.so")))
            .expect("libgcc_s is mapped into the test process")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hostile_files_are_refused_before_mapping() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intact = std::fs::read(mapped_shared_library()).expect("read the library");
        let size = intact.len();
        let patched = |offset: usize, value: u16| {
            let mut bytes = intact.clone();
            bytes[offset..offset + 2].copy_from_slice(&value.to_ne_bytes());
            bytes
        };
        // Another architecture than this one, whichever this is.
        let (foreign, foreign_name) =
            if std::env::consts::ARCH == "aarch64" { (62, "x86_64") } else { (183, "aarch64") };
        let arch = std::env::consts::ARCH;
        type Check = fn(&LoadError) -> bool;
        let cases: Vec<(&str, Vec<u8>, Check, String)> = vec![
            ("intact", intact.clone(), |_| false, String::new()),
            ("empty", Vec::new(), |e| matches!(e, LoadError::Empty { .. }), "is empty".into()),
            (
                "magic only",
                b"\x7fELF".to_vec(),
                |e| matches!(e, LoadError::Truncated { end: 16, size: 4, .. }),
                "its ELF header ends at byte 16 but the file has 4 bytes".into(),
            ),
            (
                "text",
                b"not an ELF file\n".to_vec(),
                |e| matches!(e, LoadError::NotElf { .. }),
                "is not an ELF file".into(),
            ),
            (
                "ten bytes",
                intact[..10].to_vec(),
                |e| matches!(e, LoadError::Truncated { size: 10, .. }),
                format!(
                    "is not a complete shared library: its ELF header ends at byte {} but the file has 10 bytes \
                     (truncated?)",
                    if cfg!(target_pointer_width = "64") { 64 } else { 52 }
                ),
            ),
            (
                "4 KiB",
                intact[..4096].to_vec(),
                |e| matches!(e, LoadError::Truncated { size: 4096, .. }),
                "but the file has 4096 bytes (truncated?)".into(),
            ),
            (
                "half",
                intact[..size / 2].to_vec(),
                |e| matches!(e, LoadError::Truncated { .. }),
                format!("but the file has {} bytes (truncated?)", size / 2),
            ),
            (
                "all but the last byte",
                intact[..size - 1].to_vec(),
                |e| matches!(e, LoadError::Truncated { .. }),
                "is not a complete shared library: ".into(),
            ),
            (
                "foreign",
                patched(18, foreign),
                |e| matches!(e, LoadError::ForeignArchitecture { .. }),
                format!("was built for {foreign_name}, this buildout runs on {arch}"),
            ),
            (
                "ET_EXEC",
                patched(16, 2),
                |e| matches!(e, LoadError::NotSharedLibrary { .. }),
                "is an executable, not a shared library".into(),
            ),
            (
                "ET_REL",
                patched(16, 1),
                |e| matches!(e, LoadError::NotSharedLibrary { .. }),
                "is an object file, not a shared library".into(),
            ),
        ];
        for (name, bytes, check, fragment) in cases {
            let path = dir.path().join(format!("{name}.so"));
            std::fs::write(&path, bytes).expect("write");
            let result = check_library(&path);
            if name == "intact" {
                assert_eq!(result, Ok(()), "{name}");
                continue;
            }
            let err = result.expect_err(name);
            let message = err.to_string();
            assert!(check(&err), "{name}: {err:?}");
            assert!(message.starts_with(&format!("{} ", path.display())), "{name}: names the file: {message}");
            assert!(message.contains(&fragment), "{name}: {fragment:?} in {message:?}");
            assert_eq!(message.lines().count(), 1, "{name}: one line: {message:?}");
            // Library::load refuses it the same way, before dlopen could fault on it.
            assert_eq!(Library::load(&path).map(drop), Err(err), "{name}");
        }

        // PIE executables are ET_DYN too: the interpreter they ask for gives them away.
        for exe in [PathBuf::from("/bin/true"), PathBuf::from("/proc/self/exe")] {
            let err = check_library(&exe).expect_err("an executable");
            assert_eq!(err.to_string(), format!("{} is an executable, not a shared library", exe.display()));
        }
        let missing = dir.path().join("missing.so");
        assert!(matches!(check_library(&missing), Err(LoadError::Unreadable { .. })));
    }
}
