//! One distribution in its own directory: reading its metadata (`*.dist-info/METADATA`,
//! `entry_points.txt`, or an older `EGG-INFO`), naming its directory, and unpacking a wheel
//! into one.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::requirement::{Requirement, canonical_name};
use super::{PythonError, io};

/// An installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egg {
    pub dir: PathBuf,
    /// `Name:` from the metadata (canonical spelling, `ZEO`, `zc.lockfile`).
    pub name: String,
    pub version: String,
    pub requires: Vec<Requirement>,
    /// The extras it provides (`Provides-Extra`, or the `[extra]` sections of `requires.txt`).
    pub extras: Vec<String>,
    /// `console_scripts` entry points: (script name, module, attributes), in file order.
    pub console_scripts: Vec<(String, String, String)>,
    /// A develop egg: `dir` is the project's source directory (see [`super::develop`]). It is
    /// chosen over any other distribution of its name, and never fetched.
    pub develop: bool,
    /// `Requires-Python` (`>=3.9`), if the metadata says.
    pub requires_python: Option<String>,
}

/// setuptools' `safe_name(name).replace('-', '_')`: runs of characters other than letters,
/// digits and `.` become `_`.
fn egg_project_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
            run = false;
        } else if !run {
            out.push('_');
            run = true;
        }
    }
    out
}

/// pkg_resources' `safe_name`: runs of characters other than letters, digits and `.` become `-`
/// (`Mixed.Case_Name` → `Mixed.Case-Name`), the project name zc.buildout reports.
pub fn safe_name(name: &str) -> String {
    egg_project_name(name).replace('_', "-")
}

/// The directory name zc.buildout 6 gives a distribution it installs from a wheel:
/// `ZEO-6.2-py3.11-linux-x86_64.egg` (with the platform even for pure-Python wheels).
pub fn egg_dir_name(name: &str, version: &str, py_tag: &str, platform: &str) -> String {
    format!("{}-{}-{py_tag}-{platform}.egg", egg_project_name(name), version.replace('-', "_"))
}

/// Reads RFC 822 style headers (METADATA, PKG-INFO), stopping at the body.
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn console_scripts(text: &str) -> Vec<(String, String, String)> {
    let Ok(ini) = ini::Ini::load_from_str_opt(
        text,
        ini::ParseOption { enabled_quote: false, enabled_escape: false, ..Default::default() },
    ) else {
        return Vec::new();
    };
    let Some(section) = ini.section(Some("console_scripts")) else { return Vec::new() };
    section
        .iter()
        .filter_map(|(name, target)| {
            let target = target.split('[').next().unwrap_or("").trim();
            let (module, attrs) = target.split_once(':').unwrap_or((target, ""));
            (!attrs.is_empty()).then(|| (name.trim().to_owned(), module.trim().to_owned(), attrs.trim().to_owned()))
        })
        .collect()
}

impl Egg {
    /// Reads an egg directory's metadata.
    pub fn read(dir: &Path) -> Result<Egg, PythonError> {
        let entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
        let mut info = None;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".dist-info") {
                info = Some((entry.path(), "METADATA"));
                break;
            }
            if name == "EGG-INFO" || name.ends_with(".egg-info") {
                info = Some((entry.path(), "PKG-INFO"));
            }
        }
        let (info, metadata_file) = info.ok_or_else(|| io(dir, "no .dist-info or EGG-INFO metadata"))?;
        let metadata = std::fs::read_to_string(info.join(metadata_file)).map_err(|e| io(&info, e))?;
        let entry_points = std::fs::read_to_string(info.join("entry_points.txt")).unwrap_or_default();
        let mut egg = Egg::from_metadata(dir, &metadata, &entry_points);
        if metadata_file == "PKG-INFO" {
            egg.requires = egg_info_requires(&info);
            egg.extras = egg_info_extras(&info);
        }
        Ok(egg)
    }

    /// The egg a wheel becomes once unpacked into `dir`, read from the wheel itself.
    pub fn from_wheel(wheel: &Path, dir: &Path) -> Result<Egg, PythonError> {
        let (mut zip, dist_info) = open_wheel(wheel)?;
        let metadata = read_member(&mut zip, wheel, &format!("{dist_info}/METADATA"))?;
        let entry_points = read_member(&mut zip, wheel, &format!("{dist_info}/entry_points.txt")).unwrap_or_default();
        Ok(Egg::from_metadata(dir, &metadata, &entry_points))
    }

    /// An egg from its core metadata (`METADATA` or `PKG-INFO`) and `entry_points.txt`.
    pub(super) fn from_metadata(dir: &Path, metadata: &str, entry_points: &str) -> Egg {
        let mut egg = Egg {
            dir: dir.to_owned(),
            name: String::new(),
            version: String::new(),
            requires: Vec::new(),
            extras: Vec::new(),
            console_scripts: console_scripts(entry_points),
            develop: false,
            requires_python: None,
        };
        for (k, v) in headers(metadata) {
            match k.as_str() {
                "Name" => egg.name = v,
                "Version" => egg.version = v,
                "Provides-Extra" => egg.extras.push(v),
                "Requires-Python" if !v.is_empty() => egg.requires_python = Some(v),
                "Requires-Dist" => {
                    if let Ok(r) = Requirement::parse(&v) {
                        egg.requires.push(r);
                    }
                }
                _ => {}
            }
        }
        egg
    }

    /// Whether this distribution runs on Python `version` (`3.11.7`), as `Requires-Python`
    /// says; one whose specifier cannot be read is taken to run.
    pub fn runs_on(&self, version: &str) -> bool {
        let (Some(spec), Some(version)) = (&self.requires_python, super::requirement::parse_version(version)) else {
            return true;
        };
        super::requirement::specifiers_allow(spec, &version)
    }

    pub fn key(&self) -> String {
        canonical_name(&self.name)
    }

    /// The extras of `requested` this distribution does not provide, sorted, as setuptools
    /// spells them (lower case).
    pub fn missing_extras(&self, requested: &[String]) -> Vec<String> {
        let provided: Vec<String> = self.extras.iter().map(|e| canonical_name(e)).collect();
        let mut missing: Vec<String> =
            requested.iter().filter(|e| !provided.contains(&canonical_name(e))).map(|e| e.to_lowercase()).collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// The requirements that apply for `extras` in `env`, in the order the metadata lists them.
    pub fn requires_for(&self, extras: &[String], env: &pep508_rs::MarkerEnvironment) -> Vec<Requirement> {
        self.requires.iter().filter(|r| r.applies(env, extras)).cloned().collect()
    }
}

/// The extras named by `EGG-INFO/requires.txt`'s `[extra]` and `[extra:marker]` sections.
fn egg_info_extras(info: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(info.join("requires.txt")).unwrap_or_default();
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']').map(str::to_owned))
        .map(|s| s.split_once(':').map_or(s.clone(), |(e, _)| e.to_owned()))
        .filter(|e| !e.is_empty())
        .collect();
    out.dedup();
    out
}

/// `EGG-INFO/requires.txt`: unconditional lines first, then `[extra]` / `[:marker]` sections.
fn egg_info_requires(info: &Path) -> Vec<Requirement> {
    let text = std::fs::read_to_string(info.join("requires.txt")).unwrap_or_default();
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = Some(s.to_owned());
            continue;
        }
        let text = match &section {
            Some(s) => {
                let (extra, marker) = s.split_once(':').unwrap_or((s, ""));
                let mut parts = Vec::new();
                if !extra.is_empty() {
                    parts.push(format!("extra == '{extra}'"));
                }
                if !marker.is_empty() {
                    parts.push(format!("({marker})"));
                }
                match parts.is_empty() {
                    true => line.to_owned(),
                    false => format!("{line}; {}", parts.join(" and ")),
                }
            }
            None => line.to_owned(),
        };
        if let Ok(r) = Requirement::parse(&text) {
            out.push(r);
        }
    }
    out
}

/// What a wheel says about itself.
#[derive(Debug, Clone)]
pub struct WheelInfo {
    pub name: String,
    pub version: String,
    /// Its content's name in the user cache (see [`content_key`]).
    pub key: String,
}

pub(super) type Zip = zip::ZipArchive<std::fs::File>;

/// Opens a wheel, and finds its `.dist-info` directory.
fn open_wheel(path: &Path) -> Result<(Zip, String), PythonError> {
    let bad = |reason: String| PythonError::BadWheel { path: path.display().to_string(), reason };
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let dist_info = zip
        .file_names()
        .filter_map(|n| n.ok())
        .filter_map(|n| n.split('/').next().map(str::to_owned))
        .find(|d| d.ends_with(".dist-info"))
        .ok_or_else(|| bad("no .dist-info directory".into()))?;
    Ok((zip, dist_info))
}

fn read_member(zip: &mut Zip, path: &Path, member: &str) -> Result<String, PythonError> {
    let bad = |reason: String| PythonError::BadWheel { path: path.display().to_string(), reason };
    let mut f = zip.by_name(member).map_err(|e| bad(format!("{member}: {e}")))?;
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(|e| bad(format!("{member}: {e}")))?;
    Ok(text)
}

/// A stable name for a wheel's content: the member names, sizes and CRCs its zip directory
/// lists. A wheel downloaded again, or copied elsewhere, maps to the same entry; a rebuilt wheel
/// with other content does not.
pub fn content_key(zip: &mut Zip, wheel: &Path) -> Result<String, PythonError> {
    let bad = |reason: String| PythonError::BadWheel { path: wheel.display().to_string(), reason };
    let mut h = crate::stable_hash::StableHash::default();
    for i in 0..zip.len() {
        let member = zip.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        let name = member.name().map_err(|e| bad(e.to_string()))?;
        h.field(name.as_bytes());
        h.field(&member.size().to_le_bytes());
        h.field(&member.crc32().to_le_bytes());
        h.field(&member.unix_mode().unwrap_or(u32::MAX).to_le_bytes());
    }
    Ok(h.hex(16))
}

/// Reads a wheel's name and version from its `.dist-info`, and names its content.
pub fn wheel_info(path: &Path) -> Result<WheelInfo, PythonError> {
    let (mut zip, dist_info) = open_wheel(path)?;
    let metadata = headers(&read_member(&mut zip, path, &format!("{dist_info}/METADATA"))?);
    let get = |k: &str| metadata.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
    Ok(WheelInfo { name: get("Name"), version: get("Version"), key: content_key(&mut zip, path)? })
}

/// Makes the egg directory `dest` (which must not exist) from a wheel, atomically, so a killed
/// run never leaves a half-unpacked egg behind. With a `cache` (see [`super::cache`]) and the
/// wheel's [`WheelInfo::key`] the wheel is unpacked there once and `dest` is hard-linked to it;
/// without one, or when the cache cannot be written, it is unpacked straight into `dest`.
pub fn unpack_wheel(wheel: &Path, dest: &Path, cache: Option<(&Path, &str)>) -> Result<(), PythonError> {
    if let Some((cache, key)) = cache {
        let name = dest.file_name().ok_or_else(|| io(dest, "no directory name"))?;
        // Named as the egg is: the `.dist-info` directory is renamed after it.
        let entry = cache.join("unpacked").join(key).join(name);
        if !entry.is_dir()
            && let Some(dir) = entry.parent()
        {
            // What killed runs left where this run unpacks (see `unpack_into`).
            crate::interrupt::sweep(dir);
        }
        if entry.is_dir() || unpack_into(wheel, &entry).is_ok() {
            super::tree::link_tree(&entry, dest)?;
            super::cache::note_linked(dest, &entry);
            return Ok(());
        }
    }
    unpack_into(wheel, dest)
}

/// Unpacks a wheel into `dest` (which must not exist): into a temporary directory beside it,
/// then renamed.
fn unpack_into(wheel: &Path, dest: &Path) -> Result<(), PythonError> {
    let bad = |reason: String| PythonError::BadWheel { path: wheel.display().to_string(), reason };
    let parent = dest.parent().ok_or_else(|| io(dest, "no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let prefix = crate::interrupt::temp_prefix("unpacking");
    let tmp = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).map_err(|e| io(parent, e))?;
    let file = std::fs::File::open(wheel).map_err(|e| io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    for i in 0..zip.len() {
        // Returning drops `tmp`, which removes the partial directory.
        crate::interrupt::check()?;
        let mut member = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(relative) = member.enclosed_name() else {
            return Err(bad(format!("unsafe path {:?}", member.name().map(|n| n.into_owned()).unwrap_or_default())));
        };
        // `<name>.data/purelib|platlib/...` goes to the top; scripts and headers are not needed.
        let mut parts = relative.components();
        let first = parts.next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
        let target = if first.ends_with(".data") {
            let kind = parts.next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
            if kind != "purelib" && kind != "platlib" {
                continue;
            }
            tmp.path().join(parts.as_path())
        } else {
            tmp.path().join(&relative)
        };
        if member.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| io(&target, e))?;
            continue;
        }
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|e| io(&target, e))?;
        std::io::copy(&mut member, &mut out).map_err(|e| bad(format!("{}: {e}", target.display())))?;
        if let Some(mode) = member.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o777));
        }
    }
    // zc.buildout names the metadata directory after the egg (`demo-0.4-py3.11-linux-x86_64.dist-info`).
    if let (Some(base), Ok(entries)) =
        (dest.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".egg")), std::fs::read_dir(tmp.path()))
    {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".dist-info") {
                let renamed = tmp.path().join(format!("{base}.dist-info"));
                std::fs::rename(entry.path(), &renamed).map_err(|e| io(&renamed, e))?;
                break;
            }
        }
    }
    super::tree::put_in_place(tmp, dest)
}

/// A distribution for tests: `name` `version` requiring `requires`, providing `extras`.
#[cfg(test)]
pub(super) fn test_egg(name: &str, version: &str, requires: &[&str], extras: &[&str]) -> Egg {
    Egg {
        dir: PathBuf::from(format!("/eggs/{name}-{version}")),
        name: name.into(),
        version: version.into(),
        requires: requires.iter().map(|r| Requirement::parse(r).expect("requirement")).collect(),
        extras: extras.iter().map(|e| (*e).to_owned()).collect(),
        console_scripts: Vec::new(),
        develop: false,
        requires_python: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egg_names() {
        let cases = [
            ("ZEO", "6.2", "ZEO-6.2-py3.11-linux-x86_64.egg"),
            ("zc.lockfile", "4.0", "zc.lockfile-4.0-py3.11-linux-x86_64.egg"),
            ("dashed-name", "1.0", "dashed_name-1.0-py3.11-linux-x86_64.egg"),
            ("Mixed.Case_Name", "1.0", "Mixed.Case_Name-1.0-py3.11-linux-x86_64.egg"),
        ];
        for (name, version, expected) in cases {
            assert_eq!(egg_dir_name(name, version, "py3.11", "linux-x86_64"), expected);
        }
    }

    /// A small wheel: a module and its `.dist-info`.
    fn wheel(dir: &Path) -> PathBuf {
        use std::io::Write;
        let path = dir.join("demo-0.4-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let options = zip::write::SimpleFileOptions::default();
        for (name, text) in [
            ("eggrecipedemo.py", "def main():\n    pass\n"),
            ("demo-0.4.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 0.4\n"),
            ("demo-0.4.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"),
        ] {
            zip.start_file(name, options).expect("start");
            zip.write_all(text.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
        path
    }

    #[test]
    fn unpacking_with_and_without_a_usable_cache() {
        let root = tempfile::tempdir().expect("temp dir");
        let whl = wheel(root.path());
        let blocked = root.path().join("not-a-directory");
        std::fs::write(&blocked, "").expect("write");
        let cases: [(&str, Option<PathBuf>, bool); 3] = [
            ("no cache", None, false),
            ("cache", Some(root.path().join("cache")), true),
            ("unwritable cache", Some(blocked.join("cache")), false),
        ];
        for (label, cache, linked) in cases {
            let dest = root.path().join(label).join("demo-0.4-py3.11-linux-x86_64.egg");
            let key = wheel_info(&whl).expect("wheel").key;
            unpack_wheel(&whl, &dest, cache.as_deref().map(|c| (c, key.as_str()))).expect(label);
            let egg = Egg::read(&dest).expect(label);
            assert_eq!((egg.name.as_str(), egg.version.as_str()), ("demo", "0.4"), "{label}");
            assert!(dest.join("demo-0.4-py3.11-linux-x86_64.dist-info").is_dir(), "{label}: named after the egg");
            use std::os::unix::fs::MetadataExt;
            let links = std::fs::metadata(dest.join("eggrecipedemo.py")).expect(label).nlink();
            assert_eq!(links > 1, linked, "{label}");
        }
    }

    #[test]
    fn metadata_and_entry_points() {
        let dir = tempfile::tempdir().expect("temp dir");
        let info = dir.path().join("demo-0.3.dist-info");
        std::fs::create_dir_all(&info).expect("mkdir");
        std::fs::write(
            info.join("METADATA"),
            "Metadata-Version: 2.1\nName: demo\nVersion: 0.3\nRequires-Dist: demoneeded\nRequires-Dist: extra-only ; extra == 'x'\n\nbody\nName: not-a-header\n",
        )
        .expect("write");
        std::fs::write(
            info.join("entry_points.txt"),
            "[console_scripts]\ndemo = eggrecipedemo:main\nother = eggrecipedemo:other\n\n[other]\nx = y:z\n",
        )
        .expect("write");
        let egg = Egg::read(dir.path()).expect("reads");
        assert_eq!((egg.name.as_str(), egg.version.as_str()), ("demo", "0.3"));
        assert_eq!(
            egg.console_scripts,
            [
                ("demo".into(), "eggrecipedemo".into(), "main".into()),
                ("other".into(), "eggrecipedemo".into(), "other".into())
            ]
        );
        let env = super::super::requirement::test_environment();
        assert_eq!(egg.requires_for(&[], &env).len(), 1);
        assert_eq!(egg.requires_for(&["x".to_owned()], &env).len(), 2);
    }

    #[test]
    fn content_key_follows_content() {
        use std::io::Write;
        let root = tempfile::tempdir().expect("temp dir");
        let key = |name: &str, body: &str| {
            let path = root.path().join(name);
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
            zip.start_file("demo/__init__.py", zip::write::SimpleFileOptions::default()).expect("start");
            zip.write_all(body.as_bytes()).expect("write");
            zip.finish().expect("finish");
            let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).expect("open")).expect("zip");
            content_key(&mut archive, &path).expect("key")
        };
        let a = key("a.whl", "x = 1\n");
        assert_eq!(a, key("copy.whl", "x = 1\n"));
        assert_ne!(a, key("b.whl", "x = 2\n"));
        let broken = root.path().join("broken.whl");
        std::fs::write(&broken, "not a zip").expect("write");
        assert!(matches!(wheel_info(&broken), Err(PythonError::BadWheel { .. })));
    }
}
