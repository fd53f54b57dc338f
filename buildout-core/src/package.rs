//! Writing wheels (PEP 427) of native code, and the platform rules that go with them: which
//! `manylinux` tag a library or program earns from the glibc symbol versions it needs, and which
//! tags this machine runs.
//!
//! Two kinds of wheel are written with it: a *recipe wheel* (`buildout recipes package`), one
//! recipe library at the root with `<dist>.dist-info/buildout_recipe.json` saying which recipe
//! ABI it speaks, which buildout installs by name as it installs eggs (see
//! [`crate::recipe_wheel`]); and the wheel of buildout itself (`cargo xtask wheel`), the binary
//! as a script and the shipped recipe libraries as data, as ruff and uv ship on PyPI.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The file in a recipe wheel's `.dist-info` that says what it carries.
pub const RECIPE_INFO: &str = "buildout_recipe.json";

/// The oldest glibc a tag names: manylinux2014's, what Rust's own targets need.
pub const MIN_GLIBC: (u32, u32) = (2, 17);

/// The trove classifier recipe wheels carry (zc.buildout recipes on PyPI use it too).
pub const RECIPE_CLASSIFIER: &str = "Framework :: Buildout :: Recipe";

/// Why a wheel could not be written, or a file's platform could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{}: {reason}", .path.display())]
    Io { path: PathBuf, reason: String },
    #[error("{} is not an ELF file", .path.display())]
    NotElf { path: PathBuf },
    #[error("{} cannot be read as an ELF file: {reason}", .path.display())]
    Elf { path: PathBuf, reason: String },
    #[error("{} is built for {machine}, for which there is no manylinux tag", .path.display())]
    Architecture { path: PathBuf, machine: String },
    #[error(
        "Invalid distribution name {0:?}: letters, digits and `-_.` only, starting and ending with a letter or digit"
    )]
    Name(String),
    #[error("Invalid version {version:?} of {name}: {reason}")]
    Version { name: String, version: String, reason: String },
    #[error("Invalid path in a wheel: {0:?}")]
    ArchivePath(String),
    #[error("Couldn't run cargo: {0}")]
    Cargo(String),
    #[error("Building the recipe crate {} failed ({status})", .dir.display())]
    Build { dir: PathBuf, status: String },
    #[error("The crate {} builds no recipe library: add crate-type = [\"cdylib\"] to its [lib]", .dir.display())]
    NoLibrary { dir: PathBuf },
    #[error(transparent)]
    Load(#[from] crate::loader::LoadError),
    #[error(
        "{} provides {dist}, which buildout looks up as {expected}: set `name = \"{lib_name}\"` in the [lib] section of the crate's Cargo.toml",
        .path.display()
    )]
    LibraryName { path: PathBuf, dist: String, expected: String, lib_name: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> PackageError {
    PackageError::Io { path: path.to_owned(), reason: e.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Names

/// The distribution name as wheel file names and `.dist-info` directories spell it: lower
/// case, each run of `-_.` as `_` (`hello.recipes` → `hello_recipes`).
pub fn escaped_name(name: &str) -> Result<String, PackageError> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(PackageError::Name(name.to_owned()));
    }
    Ok(crate::loader::normalize(name))
}

/// A version in its PEP 440 normal form (`1.0-rc1` → `1.0rc1`).
pub fn normal_version(name: &str, version: &str) -> Result<String, PackageError> {
    use std::str::FromStr;
    pep440_rs::Version::from_str(version.trim()).map(|v| v.to_string()).map_err(|e| PackageError::Version {
        name: name.to_owned(),
        version: version.to_owned(),
        reason: e.to_string(),
    })
}

/// The `(name, version, python, abi, platform)` of a wheel file name, the optional build tag
/// dropped; `None` for anything else.
pub fn parse_wheel_name(file: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let parts: Vec<&str> = file.strip_suffix(".whl")?.split('-').collect();
    match parts.as_slice() {
        [name, version, python, abi, platform] | [name, version, _, python, abi, platform] => {
            Some((name, version, python, abi, platform))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Platforms

/// What an ELF file needs of the machine that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfNeeds {
    /// The architecture as manylinux tags name it (`x86_64`, `aarch64`, `i686`, `ppc64le`).
    pub arch: String,
    /// The highest `GLIBC_2.N` symbol version it needs, if any.
    pub glibc: Option<(u32, u32)>,
}

impl ElfNeeds {
    /// The platform tag these needs earn: `manylinux_2_N_<arch>`, N at least 17.
    pub fn platform_tag(&self) -> String {
        let (major, minor) = self.glibc.unwrap_or(MIN_GLIBC).max(MIN_GLIBC);
        format!("manylinux_{major}_{minor}_{}", self.arch)
    }

    /// What several files need together (a binary and its libraries): the highest glibc. The
    /// architecture is the first one's.
    pub fn combine(all: &[ElfNeeds]) -> Option<ElfNeeds> {
        let first = all.first()?;
        Some(ElfNeeds { arch: first.arch.clone(), glibc: all.iter().filter_map(|n| n.glibc).max() })
    }
}

/// `GLIBC_2.17` → `(2, 17)`, `GLIBC_2.2.5` → `(2, 2)`; anything else (`GLIBC_PRIVATE`,
/// `GLIBC_ABI_DT_RELR`, `GCC_3.0`) → `None`.
pub fn glibc_version(symbol_version: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(symbol_version).ok()?.strip_prefix("GLIBC_")?;
    let mut numbers = text.split('.');
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    numbers.all(|n| n.parse::<u32>().is_ok()).then_some((major, minor))
}

/// The architecture of an ELF header as manylinux tags name it.
fn manylinux_arch(machine: object::elf::Machine, is_64: bool, little_endian: bool) -> Option<&'static str> {
    use object::elf;
    Some(match (machine, is_64) {
        (elf::EM_X86_64, true) => "x86_64",
        (elf::EM_386, false) => "i686",
        (elf::EM_AARCH64, true) => "aarch64",
        (elf::EM_ARM, false) => "armv7l",
        (elf::EM_PPC64, true) if little_endian => "ppc64le",
        (elf::EM_PPC64, true) => "ppc64",
        (elf::EM_S390, true) => "s390x",
        (elf::EM_RISCV, true) => "riscv64",
        (elf::EM_LOONGARCH, true) => "loongarch64",
        _ => return None,
    })
}

/// Which symbol versions to collect from an ELF file.
#[derive(Clone, Copy)]
enum Versions {
    /// Those it needs from other files (`.gnu.version_r`).
    Needed,
    /// Those it defines (`.gnu.version_d`): what a libc provides.
    Defined,
}

/// Reads what an ELF file (a library or a program) needs: its architecture, and the highest
/// glibc among the symbol versions it needs.
pub fn elf_needs(path: &Path) -> Result<ElfNeeds, PackageError> {
    elf_versions(path, Versions::Needed)
}

/// The highest `GLIBC_2.N` version an ELF file defines (a glibc's `libc.so.6`: its version).
fn elf_defines(path: &Path) -> Result<ElfNeeds, PackageError> {
    elf_versions(path, Versions::Defined)
}

fn elf_versions(path: &Path, which: Versions) -> Result<ElfNeeds, PackageError> {
    use object::elf::{ELFCLASS32, ELFCLASS64, ELFMAG, FileHeader32, FileHeader64};
    use object::{Endianness, ReadRef};
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    // Only the headers and version sections are read: binaries with debug information are large.
    let cache = object::read::ReadCache::new(file);
    let ident = cache.read_bytes_at(0, 16).map_err(|()| PackageError::NotElf { path: path.to_owned() })?;
    if !ident.starts_with(&ELFMAG) {
        return Err(PackageError::NotElf { path: path.to_owned() });
    }
    match ident.get(4).copied().map(object::elf::FileClass) {
        Some(ELFCLASS64) => versions_of::<FileHeader64<Endianness>>(path, &cache, which),
        Some(ELFCLASS32) => versions_of::<FileHeader32<Endianness>>(path, &cache, which),
        _ => Err(PackageError::Elf { path: path.to_owned(), reason: "unknown ELF class".to_owned() }),
    }
}

fn versions_of<H>(
    path: &Path,
    data: &object::read::ReadCache<std::fs::File>,
    which: Versions,
) -> Result<ElfNeeds, PackageError>
where
    H: object::read::elf::FileHeader<Endian = object::Endianness>,
{
    let bad = |e: object::read::Error| PackageError::Elf { path: path.to_owned(), reason: e.to_string() };
    let header = H::parse(data).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let machine = header.e_machine(endian);
    let arch = manylinux_arch(machine, header.is_class_64(), header.is_little_endian()).ok_or_else(|| {
        PackageError::Architecture { path: path.to_owned(), machine: format!("ELF machine {machine}") }
    })?;
    let sections = header.sections(endian, data).map_err(bad)?;
    let mut glibc: Option<(u32, u32)> = None;
    let mut note = |name: &[u8]| {
        if let Some(v) = glibc_version(name) {
            glibc = glibc.max(Some(v));
        }
    };
    match which {
        Versions::Needed => {
            if let Some((mut needs, link)) = sections.gnu_verneed(endian, data).map_err(bad)? {
                let strings = sections.strings(endian, data, link).map_err(bad)?;
                while let Some((_, mut aux)) = needs.next().map_err(bad)? {
                    while let Some(version) = aux.next().map_err(bad)? {
                        note(version.name(endian, strings).map_err(bad)?);
                    }
                }
            }
        }
        Versions::Defined => {
            if let Some((mut defs, link)) = sections.gnu_verdef(endian, data).map_err(bad)? {
                let strings = sections.strings(endian, data, link).map_err(bad)?;
                while let Some((_, mut aux)) = defs.next().map_err(bad)? {
                    // The first auxiliary entry names the version; the others its parents.
                    if let Some(version) = aux.next().map_err(bad)? {
                        note(version.name(endian, strings).map_err(bad)?);
                    }
                }
            }
        }
    }
    Ok(ElfNeeds { arch: arch.to_owned(), glibc })
}

/// The machine a wheel is installed on: the architecture as tags name it, and the glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub arch: String,
    /// `None` on a system without glibc (musl, or not Linux): no manylinux wheel runs there.
    pub glibc: Option<(u32, u32)>,
}

impl Platform {
    /// This machine (found once per process): the glibc version is the highest `GLIBC_2.N`
    /// version that the `libc.so.6` mapped into this process defines, which needs no Python,
    /// no subprocess and no unsafe call.
    pub fn host() -> &'static Platform {
        static HOST: std::sync::OnceLock<Platform> = std::sync::OnceLock::new();
        HOST.get_or_init(|| Platform { arch: host_arch().to_owned(), glibc: host_glibc() })
    }

    /// `linux x86_64 with glibc 2.36`, for messages.
    pub fn describe(&self) -> String {
        match self.glibc {
            Some((major, minor)) => format!("linux {} with glibc {major}.{minor}", self.arch),
            None => format!("{} {} without glibc", std::env::consts::OS, self.arch),
        }
    }
}

/// This process's architecture as manylinux tags name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

#[cfg(target_os = "linux")]
fn host_glibc() -> Option<(u32, u32)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let libc = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| {
        Path::new(p).file_name().is_some_and(|n| n == "libc.so.6" || n.to_string_lossy().starts_with("libc-2."))
    })?;
    elf_defines(Path::new(libc)).ok()?.glibc
}

#[cfg(not(target_os = "linux"))]
fn host_glibc() -> Option<(u32, u32)> {
    None
}

/// The glibc version a platform tag needs and its architecture: `manylinux_2_17_x86_64` →
/// `(Some((2, 17)), "x86_64")`, `manylinux2014_aarch64` → `(Some((2, 17)), "aarch64")`,
/// `linux_x86_64` → `(None, "x86_64")`. `None` for tags of other systems (`macosx_…`,
/// `musllinux_…`, `win_amd64`, `any`).
pub fn parse_platform_tag(tag: &str) -> Option<(Option<(u32, u32)>, &str)> {
    if let Some(arch) = tag.strip_prefix("linux_") {
        return Some((None, arch));
    }
    for (legacy, glibc) in [("manylinux1_", (2, 5)), ("manylinux2010_", (2, 12)), ("manylinux2014_", (2, 17))] {
        if let Some(arch) = tag.strip_prefix(legacy) {
            return Some((Some(glibc), arch));
        }
    }
    let mut parts = tag.strip_prefix("manylinux_")?.splitn(3, '_');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let arch = parts.next().filter(|a| !a.is_empty())?;
    Some((Some((major, minor)), arch))
}

/// Whether a (possibly compressed, `a.b`) platform tag runs on `platform`.
pub fn platform_runs_on(tag: &str, platform: &Platform) -> bool {
    tag.split('.').any(|one| match parse_platform_tag(one) {
        Some((needs, arch)) if arch == platform.arch => match (needs, platform.glibc) {
            (None, _) => true,
            (Some(needs), Some(have)) => needs <= have,
            (Some(_), None) => false,
        },
        _ => false,
    })
}

/// A platform tag in words, for messages: `aarch64 with glibc 2.17 or later`, `linux x86_64`,
/// or the tag itself when it is not a Linux one.
pub fn describe_platform_tag(tag: &str) -> String {
    let described: Vec<String> = tag
        .split('.')
        .map(|one| match parse_platform_tag(one) {
            Some((Some((major, minor)), arch)) => format!("linux {arch} with glibc {major}.{minor} or later"),
            Some((None, arch)) => format!("linux {arch}"),
            None => one.to_owned(),
        })
        .collect();
    described.join(" or ")
}

/// Whether a wheel's python and abi tags say it needs no Python at all: `py3-none` (also
/// `py2.py3`), which is what native recipe wheels are tagged.
pub fn python_free(python: &str, abi: &str) -> bool {
    python.split('.').any(|p| p == "py3") && abi.split('.').any(|a| a == "none")
}

// ---------------------------------------------------------------------------------------------
// Recipe wheels

/// `<dist>.dist-info/buildout_recipe.json`: what a recipe wheel carries. Unknown fields are
/// ignored, so later buildouts can add some.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RecipeInfo {
    /// The distribution its recipes are named by (`hello.recipes`).
    pub distribution: String,
    pub version: String,
    /// The recipe ABI the library speaks (`1.0.0`).
    pub abi: String,
    /// The library's file name at the root of the wheel (`libhello_recipes.so`).
    pub library: String,
    /// Its install entries, for people reading the file.
    pub entries: Vec<String>,
}

/// The major version of an ABI version string (`1.0.0` → 1).
pub fn abi_major(abi: &str) -> Option<u32> {
    abi.trim().split('.').next()?.parse().ok()
}

/// Whether this buildout loads libraries of recipe ABI `abi` (see
/// [`crate::abi::LOADABLE_MAJORS`]).
pub fn abi_accepted(abi: &str) -> bool {
    abi_major(abi).is_some_and(|m| crate::abi::LOADABLE_MAJORS.contains(&m))
}

// ---------------------------------------------------------------------------------------------
// Writing wheels

enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

struct Member {
    path: String,
    source: Source,
    mode: u32,
}

/// A wheel being put together: files added, then [`Wheel::write`].
pub struct Wheel {
    name: String,
    version: String,
    escaped: String,
    tag: String,
    headers: Vec<(String, String)>,
    members: Vec<Member>,
    dist_info_files: Vec<(String, Vec<u8>)>,
    /// Deflate the members (else store them).
    compress: bool,
}

impl Wheel {
    /// A wheel of distribution `name` (as its metadata spells it) at `version`, tagged `tag`
    /// (`py3-none-manylinux_2_17_x86_64`).
    pub fn new(name: &str, version: &str, tag: &str) -> Result<Wheel, PackageError> {
        let escaped = escaped_name(name)?;
        let version = normal_version(name, version)?;
        Ok(Wheel {
            name: name.to_owned(),
            version,
            escaped,
            tag: tag.to_owned(),
            headers: Vec::new(),
            members: Vec::new(),
            dist_info_files: Vec::new(),
            compress: true,
        })
    }

    /// A `METADATA` header after `Name` and `Version` (`Summary`, `Classifier`, ...); empty
    /// values are left out.
    pub fn header(&mut self, key: &str, value: &str) -> &mut Wheel {
        let value = value.trim();
        if !value.is_empty() {
            // Continuation lines would make another header of the rest.
            self.headers.push((key.to_owned(), value.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        self
    }

    /// Adds the file `source` as `path` in the wheel, with permissions `mode`.
    pub fn file(&mut self, path: &str, source: &Path, mode: u32) -> Result<&mut Wheel, PackageError> {
        check_archive_path(path)?;
        self.members.push(Member { path: path.to_owned(), source: Source::File(source.to_owned()), mode });
        Ok(self)
    }

    /// Adds `bytes` as `path` in the wheel.
    pub fn bytes(&mut self, path: &str, bytes: Vec<u8>, mode: u32) -> Result<&mut Wheel, PackageError> {
        check_archive_path(path)?;
        self.members.push(Member { path: path.to_owned(), source: Source::Bytes(bytes), mode });
        Ok(self)
    }

    /// Adds a file to the `.dist-info` directory (besides `METADATA`, `WHEEL` and `RECORD`).
    pub fn dist_info_file(&mut self, name: &str, bytes: Vec<u8>) -> Result<&mut Wheel, PackageError> {
        check_archive_path(name)?;
        self.dist_info_files.push((name.to_owned(), bytes));
        Ok(self)
    }

    /// Whether members are deflated (the default) or stored: a debug build for tests is
    /// written faster stored.
    pub fn compress(&mut self, compress: bool) -> &mut Wheel {
        self.compress = compress;
        self
    }

    /// `hello_recipes-0.1.0-py3-none-manylinux_2_17_x86_64.whl`
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.whl", self.escaped, self.version, self.tag)
    }

    /// `hello_recipes-0.1.0.dist-info`
    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.escaped, self.version)
    }

    /// `hello_recipes-0.1.0.data`: its `scripts/` go to the environment's `bin/`, its `data/`
    /// to the environment's root.
    pub fn data_dir(&self) -> String {
        format!("{}-{}.data", self.escaped, self.version)
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    fn metadata(&self) -> String {
        let mut text = format!("Metadata-Version: 2.1\nName: {}\nVersion: {}\n", self.name, self.version);
        for (k, v) in &self.headers {
            text.push_str(&format!("{k}: {v}\n"));
        }
        text
    }

    fn wheel_file(&self) -> String {
        format!(
            "Wheel-Version: 1.0\nGenerator: buildout {}\nRoot-Is-Purelib: false\nTag: {}\n",
            env!("CARGO_PKG_VERSION"),
            self.tag
        )
    }

    /// Writes the wheel into `out_dir` (created if need be), atomically: it appears complete or
    /// not at all. Returns its path. Entries carry a fixed date, so the same inputs give the
    /// same wheel.
    pub fn write(&self, out_dir: &Path) -> Result<PathBuf, PackageError> {
        std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
        let dest = out_dir.join(self.file_name());
        let staged = tempfile::Builder::new()
            .prefix(&format!(".{}-", self.file_name()))
            .tempfile_in(out_dir)
            .map_err(|e| io(out_dir, e))?;
        let zip_error = |e: zip::result::ZipError| io(&dest, e);
        let mut zip = zip::ZipWriter::new(staged.as_file());
        let options = |mode: u32| {
            let method = if self.compress { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
            zip::write::SimpleFileOptions::default()
                .compression_method(method)
                .unix_permissions(mode)
                .last_modified_time(zip::DateTime::default())
                .large_file(true)
        };
        let mut record = String::new();
        for member in &self.members {
            zip.start_file(member.path.as_str(), options(member.mode)).map_err(zip_error)?;
            let (hash, size) = match &member.source {
                Source::File(path) => {
                    let mut file = std::fs::File::open(path).map_err(|e| io(path, e))?;
                    copy_hashed(&mut file, &mut zip).map_err(|e| io(path, e))?
                }
                Source::Bytes(bytes) => copy_hashed(&mut bytes.as_slice(), &mut zip).map_err(|e| io(&dest, e))?,
            };
            record.push_str(&record_line(&member.path, &hash, size));
        }
        let dist_info = self.dist_info();
        let mut generated = vec![
            ("METADATA".to_owned(), self.metadata().into_bytes()),
            ("WHEEL".to_owned(), self.wheel_file().into_bytes()),
        ];
        generated.extend(self.dist_info_files.iter().cloned());
        for (name, bytes) in &generated {
            let path = format!("{dist_info}/{name}");
            zip.start_file(path.as_str(), options(0o644)).map_err(zip_error)?;
            let (hash, size) = copy_hashed(&mut bytes.as_slice(), &mut zip).map_err(|e| io(&dest, e))?;
            record.push_str(&record_line(&path, &hash, size));
        }
        let record_path = format!("{dist_info}/RECORD");
        record.push_str(&format!("{},,\n", csv_field(&record_path)));
        zip.start_file(record_path.as_str(), options(0o644)).map_err(zip_error)?;
        zip.write_all(record.as_bytes()).map_err(|e| io(&dest, e))?;
        zip.finish().map_err(zip_error)?;
        staged.as_file().sync_all().map_err(|e| io(&dest, e))?;
        // A temporary file is private; a wheel is for others to read (an index serves it).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(staged.path(), std::fs::Permissions::from_mode(0o644))
                .map_err(|e| io(staged.path(), e))?;
        }
        staged.persist(&dest).map_err(|e| io(&dest, e.error))?;
        Ok(dest)
    }
}

/// Paths inside a wheel are relative, `/`-separated, without `.` or `..` parts.
fn check_archive_path(path: &str) -> Result<(), PackageError> {
    let valid = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if valid { Ok(()) } else { Err(PackageError::ArchivePath(path.to_owned())) }
}

/// Copies `from` into `to`, returning the SHA-256 and the size of what was copied.
fn copy_hashed(from: &mut dyn Read, to: &mut dyn Write) -> std::io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// A RECORD line: `path,sha256=<urlsafe base64, no padding>,size`.
fn record_line(path: &str, hash: &[u8; 32], size: u64) -> String {
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash);
    format!("{},sha256={digest},{size}\n", csv_field(path))
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

// ---------------------------------------------------------------------------------------------
// Recipe crates

/// What cargo says about a crate: where it builds, and what its manifest describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrateInfo {
    /// The package's name and version (`hello-recipes`, `0.1.0`).
    pub name: String,
    pub version: String,
    pub manifest: PathBuf,
    pub target_directory: PathBuf,
    pub description: String,
    pub license: String,
    pub homepage: String,
    pub repository: String,
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The package of the crate in `dir`, from `cargo metadata`.
pub fn crate_info(dir: &Path) -> Result<CrateInfo, PackageError> {
    let manifest = dir.join("Cargo.toml");
    let output = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| PackageError::Cargo(e.to_string()))?;
    if !output.status.success() {
        return Err(PackageError::Cargo(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| PackageError::Cargo(format!("unreadable `cargo metadata` output: {e}")))?;
    let canonical = manifest.canonicalize().map_err(|e| io(&manifest, e))?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().is_some_and(|m| Path::new(m) == canonical))
        .ok_or_else(|| {
            PackageError::Cargo(format!(
                "{} has no [package] (a workspace?): name the crate's directory",
                manifest.display()
            ))
        })?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Ok(CrateInfo {
        name: text(&package["name"]),
        version: text(&package["version"]),
        manifest: canonical,
        target_directory: PathBuf::from(text(&metadata["target_directory"])),
        description: text(&package["description"]),
        license: text(&package["license"]),
        homepage: text(&package["homepage"]),
        repository: text(&package["repository"]),
    })
}

/// Builds the library of the crate whose manifest is `manifest` with `cargo build --lib` in
/// `profile` (`release`, `dev`, ...). Cargo's progress and diagnostics go to `stderr`.
pub fn build_cdylib(manifest: &Path, profile: &str, stderr: Stdio) -> Result<PathBuf, PackageError> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut child = Command::new(cargo())
        .args(["build", "--lib", "--profile", profile, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| PackageError::Cargo(e.to_string()))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).map_err(|e| PackageError::Cargo(e.to_string()))?;
    }
    let status = child.wait().map_err(|e| PackageError::Cargo(e.to_string()))?;
    if !status.success() {
        return Err(PackageError::Build { dir: dir.to_owned(), status: status.to_string() });
    }
    crate::develop::built_library(&stdout, Some(manifest))
        .ok_or_else(|| PackageError::NoLibrary { dir: dir.to_owned() })
}

/// A recipe wheel that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    pub wheel: PathBuf,
    pub info: RecipeInfo,
    pub platform_tag: String,
}

/// Makes the recipe wheel of a built library: its distribution, version and entries from the
/// library itself (loaded, as `buildout recipes` loads it), its platform from the glibc symbol
/// versions it needs, its summary and license from `crate_info`.
pub fn package_library(library: &Path, crate_info: &CrateInfo, out_dir: &Path) -> Result<Packaged, PackageError> {
    let loaded = crate::loader::Library::load(library)?;
    let meta = &loaded.metadata;
    let expected = crate::loader::library_file_name(&meta.distribution);
    let file_name = library.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if file_name != expected {
        return Err(PackageError::LibraryName {
            path: library.to_owned(),
            dist: meta.distribution.clone(),
            expected,
            lib_name: crate::loader::normalize(&meta.distribution),
        });
    }
    let needs = elf_needs(library)?;
    let platform_tag = needs.platform_tag();
    let mut wheel = Wheel::new(&meta.distribution, &meta.version, &format!("py3-none-{platform_tag}"))?;
    // The ABI the library speaks (a library of an older ABI this buildout still loads keeps
    // its own).
    let abi = loaded.abi.clone();
    let mut entries = meta.entries.clone();
    entries.sort();
    let info = RecipeInfo {
        distribution: meta.distribution.clone(),
        version: wheel.version().to_owned(),
        abi: abi.clone(),
        library: expected.clone(),
        entries,
    };
    let summary = match crate_info.description.trim() {
        "" => format!("Buildout recipes {} ({})", meta.distribution, info.entries.join(", ")),
        text => text.to_owned(),
    };
    let abi_major = abi_major(&abi).unwrap_or_default();
    wheel
        .header("Summary", &summary)
        .header("Home-page", &crate_info.homepage)
        .header("License", &crate_info.license)
        .header("Keywords", &format!("buildout,buildout-recipe,buildout-recipe-abi-{abi_major}"))
        .header("Classifier", RECIPE_CLASSIFIER)
        .header("Classifier", "Programming Language :: Rust");
    if !crate_info.repository.is_empty() {
        wheel.header("Project-URL", &format!("Repository, {}", crate_info.repository));
    }
    wheel.file(&expected, library, 0o755)?;
    let json = serde_json::to_vec_pretty(&info).map_err(|e| io(library, e))?;
    wheel.dist_info_file(RECIPE_INFO, json)?;
    let written = wheel.write(out_dir)?;
    Ok(Packaged { wheel: written, info, platform_tag })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        let names: [(&str, Option<&str>); 7] = [
            ("hello.recipes", Some("hello_recipes")),
            ("Hello-Recipes", Some("hello_recipes")),
            ("zc.recipe.egg", Some("zc_recipe_egg")),
            ("a__b..c", Some("a_b_c")),
            ("", None),
            ("-x", None),
            ("a b", None),
        ];
        for (name, expected) in names {
            assert_eq!(escaped_name(name).ok().as_deref(), expected, "{name}");
        }
        let versions: [(&str, Option<&str>); 5] = [
            ("0.1.0", Some("0.1.0")),
            ("1.0-rc1", Some("1.0rc1")),
            ("2.0.post1", Some("2.0.post1")),
            ("1.0+local.1", Some("1.0+local.1")),
            ("latest", None),
        ];
        for (version, expected) in versions {
            assert_eq!(normal_version("x", version).ok().as_deref(), expected, "{version}");
        }
        type Parts<'a> = Option<(&'a str, &'a str, &'a str, &'a str, &'a str)>;
        let files: [(&str, Parts<'_>); 4] = [
            (
                "hello_recipes-0.1.0-py3-none-manylinux_2_17_x86_64.whl",
                Some(("hello_recipes", "0.1.0", "py3", "none", "manylinux_2_17_x86_64")),
            ),
            ("demo-1.0-1-py2.py3-none-any.whl", Some(("demo", "1.0", "py2.py3", "none", "any"))),
            ("demo-1.0.tar.gz", None),
            ("demo-1.0.whl", None),
        ];
        for (file, expected) in files {
            assert_eq!(parse_wheel_name(file), expected, "{file}");
        }
    }

    #[test]
    fn symbol_versions() {
        let cases: [(&str, Option<(u32, u32)>); 8] = [
            ("GLIBC_2.17", Some((2, 17))),
            ("GLIBC_2.2.5", Some((2, 2))),
            ("GLIBC_2.34", Some((2, 34))),
            ("GLIBC_PRIVATE", None),
            ("GLIBC_ABI_DT_RELR", None),
            ("GCC_3.0", None),
            ("GLIBC_2", None),
            ("GLIBC_2.x", None),
        ];
        for (name, expected) in cases {
            assert_eq!(glibc_version(name.as_bytes()), expected, "{name}");
        }
    }

    #[test]
    fn platform_tags_from_needs() {
        let tag = |arch: &str, glibc: Option<(u32, u32)>| ElfNeeds { arch: arch.into(), glibc }.platform_tag();
        let cases = [
            (tag("x86_64", Some((2, 2))), "manylinux_2_17_x86_64"),
            (tag("x86_64", None), "manylinux_2_17_x86_64"),
            (tag("x86_64", Some((2, 34))), "manylinux_2_34_x86_64"),
            (tag("aarch64", Some((2, 17))), "manylinux_2_17_aarch64"),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
        let combined = ElfNeeds::combine(&[
            ElfNeeds { arch: "x86_64".into(), glibc: Some((2, 28)) },
            ElfNeeds { arch: "x86_64".into(), glibc: None },
            ElfNeeds { arch: "x86_64".into(), glibc: Some((2, 33)) },
        ]);
        assert_eq!(combined.map(|n| n.platform_tag()).as_deref(), Some("manylinux_2_33_x86_64"));
        assert_eq!(ElfNeeds::combine(&[]), None);
    }

    /// What real files need, against what `objdump -T` style tools say: the highest GLIBC_2.N
    /// among their needed versions, computed here independently from the raw strings.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn needs_of_real_files() {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
        let mapped = |prefix: &str| {
            maps.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .map(PathBuf::from)
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                .unwrap_or_else(|| panic!("{prefix} is mapped into the test process"))
        };
        // Independently: the highest `GLIBC_2.N` string in the file's bytes. That counts what
        // a file defines as well as what it needs, so it is an upper bound for libraries that
        // define versions and exact for files that define none.
        let highest_string = |path: &Path| {
            let bytes = std::fs::read(path).expect("read");
            bytes.split(|b| *b == 0).filter_map(glibc_version).max()
        };
        let test_binary = std::env::current_exe().expect("this test binary");
        let cases: Vec<(PathBuf, bool)> = vec![
            (PathBuf::from("/bin/ls"), true),
            (test_binary, true),
            (mapped("libgcc_s.so"), false),
            (mapped("libc.so.6"), false),
        ];
        for (path, exact) in cases {
            let needs = elf_needs(&path).expect("readable");
            assert_eq!(needs.arch, "x86_64", "{}", path.display());
            let needed = needs.glibc.expect("needs some glibc");
            let bound = highest_string(&path).expect("has GLIBC_ strings");
            if exact {
                assert_eq!(needed, bound, "{}", path.display());
            } else {
                assert!(needed <= bound, "{}: {needed:?} > {bound:?}", path.display());
            }
            assert!(needs.platform_tag().starts_with("manylinux_2_"), "{}", path.display());
        }
        // glibc's own libc defines every version up to its own: the host's glibc.
        let host = Platform::host();
        assert_eq!(elf_defines(&mapped("libc.so.6")).expect("libc").glibc, host.glibc);
        // And `getconf` agrees, where there is one.
        if let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output()
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            let version = text.trim().strip_prefix("glibc ").and_then(|v| v.split_once('.'));
            let expected = version.and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            assert_eq!(host.glibc, expected, "getconf says {text}");
        }
        for not_elf in [Path::new("/etc/hostname"), Path::new("/proc/self/cmdline")] {
            if not_elf.exists() {
                assert!(matches!(elf_needs(not_elf), Err(PackageError::NotElf { .. })), "{}", not_elf.display());
            }
        }
    }

    /// A constructed case: a copy of a real file whose only `GLIBC_` needed version is patched
    /// to a higher one, and to another machine.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn needs_of_a_patched_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = std::fs::read("/bin/ls").expect("/bin/ls");
        let needs = elf_needs(Path::new("/bin/ls")).expect("ls");
        let (major, minor) = needs.glibc.expect("ls needs glibc");
        // Rewrite every `GLIBC_2.N` string to `GLIBC_2.9x` with the same length, so that the
        // string table stays valid: the highest must then be 2.9x.
        let old = format!("GLIBC_{major}.{minor}");
        let new: String = format!("GLIBC_{major}.{}", "9".repeat(minor.to_string().len()));
        let mut patched = original.clone();
        let mut at = 0;
        while let Some(pos) = patched[at..].windows(old.len()).position(|w| w == old.as_bytes()) {
            let start = at + pos;
            let end = start + old.len();
            // Only whole strings (`GLIBC_2.3` is a prefix of `GLIBC_2.34`).
            if patched.get(end) == Some(&0) {
                patched[start..end].copy_from_slice(new.as_bytes());
            }
            at = end;
        }
        let path = dir.path().join("patched");
        std::fs::write(&path, &patched).expect("write");
        let expected_minor: u32 = "9".repeat(minor.to_string().len()).parse().expect("nines");
        assert_eq!(elf_needs(&path).expect("patched").glibc, Some((major, expected_minor)));
        // e_machine is bytes 18-19: aarch64 (183).
        let mut foreign = original;
        foreign[18..20].copy_from_slice(&183u16.to_le_bytes());
        let path = dir.path().join("foreign");
        std::fs::write(&path, &foreign).expect("write");
        let foreign_needs = elf_needs(&path).expect("foreign");
        assert_eq!((foreign_needs.arch.as_str(), foreign_needs.glibc), ("aarch64", needs.glibc));
        // Another machine nobody tags.
        let mut unknown = std::fs::read("/bin/ls").expect("/bin/ls");
        unknown[18..20].copy_from_slice(&0x1234u16.to_le_bytes());
        let path = dir.path().join("unknown");
        std::fs::write(&path, &unknown).expect("write");
        assert!(matches!(elf_needs(&path), Err(PackageError::Architecture { .. })));
    }

    #[test]
    fn tags_and_this_machine() {
        let glibc_236 = Platform { arch: "x86_64".into(), glibc: Some((2, 36)) };
        let musl = Platform { arch: "x86_64".into(), glibc: None };
        let arm = Platform { arch: "aarch64".into(), glibc: Some((2, 17)) };
        let cases: [(&str, &Platform, bool); 14] = [
            ("manylinux_2_17_x86_64", &glibc_236, true),
            ("manylinux_2_36_x86_64", &glibc_236, true),
            ("manylinux_2_37_x86_64", &glibc_236, false),
            ("manylinux_2_17_aarch64", &glibc_236, false),
            ("manylinux2014_x86_64", &glibc_236, true),
            ("manylinux1_x86_64", &glibc_236, true),
            ("manylinux_2_39_x86_64.manylinux_2_17_x86_64", &glibc_236, true),
            ("linux_x86_64", &glibc_236, true),
            ("linux_x86_64", &musl, true),
            ("manylinux_2_17_x86_64", &musl, false),
            ("musllinux_1_2_x86_64", &musl, false),
            ("any", &glibc_236, false),
            ("manylinux_2_17_aarch64", &arm, true),
            ("macosx_11_0_arm64", &arm, false),
        ];
        for (tag, platform, expected) in cases {
            assert_eq!(platform_runs_on(tag, platform), expected, "{tag} on {platform:?}");
        }
        let described = [
            ("manylinux_2_17_aarch64", "linux aarch64 with glibc 2.17 or later"),
            ("manylinux2014_x86_64", "linux x86_64 with glibc 2.17 or later"),
            ("linux_x86_64", "linux x86_64"),
            ("win_amd64", "win_amd64"),
        ];
        for (tag, expected) in described {
            assert_eq!(describe_platform_tag(tag), expected);
        }
        let py: [(&str, &str, bool); 5] = [
            ("py3", "none", true),
            ("py2.py3", "none", true),
            ("cp311", "cp311", false),
            ("py3", "abi3", false),
            ("py311", "none", false),
        ];
        for (python, abi, expected) in py {
            assert_eq!(python_free(python, abi), expected, "{python}-{abi}");
        }
        assert_eq!(glibc_236.describe(), "linux x86_64 with glibc 2.36");
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(Platform::host().glibc.is_some_and(|g| g >= MIN_GLIBC), "{:?}", Platform::host());
        }
    }

    #[test]
    fn abi_versions() {
        let cases =
            [("1.0.0", true), ("1.4.2", true), ("2.0.0", true), ("9.0.0", false), ("0.1.0", false), ("", false)];
        for (abi, expected) in cases {
            assert_eq!(abi_accepted(abi), expected, "{abi}");
        }
        assert!(abi_accepted(crate::abi::ABI_VERSION), "this buildout loads its own ABI");
    }

    #[test]
    fn wheels_are_complete_and_reproducible() {
        let dir = tempfile::tempdir().expect("temp dir");
        let payload = dir.path().join("payload");
        std::fs::write(&payload, b"\x7fELF not really").expect("write");
        let make = |out: &Path| {
            let mut wheel = Wheel::new("Hello.Recipes", "1.0-rc1", "py3-none-manylinux_2_17_x86_64").expect("wheel");
            wheel.header("Summary", "A summary\nwith a second line").header("License", "");
            wheel.file("libhello_recipes.so", &payload, 0o755).expect("file");
            wheel.bytes("hello_recipes-1.0rc1.data/data/lib/x, y.txt", b"data".to_vec(), 0o644).expect("bytes");
            wheel.dist_info_file(RECIPE_INFO, b"{}".to_vec()).expect("info");
            assert_eq!(wheel.file_name(), "hello_recipes-1.0rc1-py3-none-manylinux_2_17_x86_64.whl");
            wheel.write(out).expect("write")
        };
        let first = make(&dir.path().join("a"));
        let second = make(&dir.path().join("b"));
        assert_eq!(std::fs::read(&first).expect("a"), std::fs::read(&second).expect("b"), "reproducible");

        let mut zip = zip::ZipArchive::new(std::fs::File::open(&first).expect("open")).expect("zip");
        let mut read = |name: &str| {
            let mut text = String::new();
            zip.by_name(name).expect(name).read_to_string(&mut text).expect("read");
            text
        };
        assert_eq!(
            read("hello_recipes-1.0rc1.dist-info/METADATA"),
            "Metadata-Version: 2.1\nName: Hello.Recipes\nVersion: 1.0rc1\nSummary: A summary with a second line\n"
        );
        assert!(read("hello_recipes-1.0rc1.dist-info/WHEEL").contains("\nTag: py3-none-manylinux_2_17_x86_64\n"));
        let record = read("hello_recipes-1.0rc1.dist-info/RECORD");
        let lines: Vec<&str> = record.lines().collect();
        // sha256 of b"data", urlsafe base64 without padding.
        assert!(lines.contains(
            &"\"hello_recipes-1.0rc1.data/data/lib/x, y.txt\",sha256=Om6weQ85rIfJTzhWst0sXREOaBFgImGpqSPTuyOtyLc,4"
        ));
        assert_eq!(lines.last(), Some(&"hello_recipes-1.0rc1.dist-info/RECORD,,"));
        assert_eq!(lines.len(), 6, "{record}");
        for line in &lines[..lines.len() - 1] {
            // `sha256=` and 43 characters of base64 without its `=` padding, then the size.
            let hash = line.rsplit(',').nth(1).and_then(|h| h.strip_prefix("sha256=")).unwrap_or_default();
            assert!(hash.len() == 43 && !hash.contains(['=', '+', '/']), "{line}");
        }
        let mode = zip.by_name("libhello_recipes.so").expect("library").unix_mode();
        assert_eq!(mode.map(|m| m & 0o777), Some(0o755));

        // Paths that would leave the install directory, and invalid names and versions.
        for bad in ["/abs", "a/../b", "", "a//b", "a\\b"] {
            assert!(matches!(check_archive_path(bad), Err(PackageError::ArchivePath(_))), "{bad:?}");
        }
        assert!(Wheel::new("bad name", "1", "py3-none-any").is_err());
        assert!(Wheel::new("good", "not a version", "py3-none-any").is_err());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a")).expect("list").flatten().collect();
        assert_eq!(leftovers.len(), 1, "only the wheel: no staging file left");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first).expect("wheel").permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "readable by others");

        // Stored instead of deflated: the same members.
        let mut stored = Wheel::new("plain", "1", "py3-none-linux_x86_64").expect("wheel");
        stored.compress(false).bytes("a.txt", b"text".to_vec(), 0o644).expect("bytes");
        let stored = stored.write(&dir.path().join("c")).expect("write");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&stored).expect("open")).expect("zip");
        assert_eq!(zip.by_name("a.txt").expect("a.txt").compression(), zip::CompressionMethod::Stored);
    }

    #[test]
    fn cargo_messages() {
        let manifest = Path::new("/src/hello/Cargo.toml");
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/src/dep/Cargo.toml","target":{"kind":["cdylib"]},"filenames":["/t/release/libdep.so"]}
{"reason":"compiler-artifact","manifest_path":"/src/hello/Cargo.toml","target":{"kind":["cdylib","rlib"]},"filenames":["/t/release/libhello_recipes.rlib","/t/release/libhello_recipes.so"]}
not json
{"reason":"build-finished","success":true}"#;
        if std::env::consts::DLL_SUFFIX == ".so" {
            assert_eq!(
                crate::develop::built_library(messages, Some(manifest)),
                Some(PathBuf::from("/t/release/libhello_recipes.so"))
            );
        }
        assert_eq!(crate::develop::built_library(messages, Some(Path::new("/src/other/Cargo.toml"))), None);
    }
}
