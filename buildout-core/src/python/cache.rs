//! The per-user cache every buildout on the machine shares: interpreter probes, and wheels
//! unpacked once. An egg directory is then made of hard links into the cache, as uv installs
//! from its own cache: creating a file costs the file system far more than linking one, and
//! ZEO's 15 wheels hold over a thousand files.
//!
//! The cache is `$BUILDOUT_CACHE_DIR` (empty turns it off), else `$XDG_CACHE_HOME/buildout`,
//! else `~/.cache/buildout`. Deleting it at any time is safe: egg directories keep their files
//! (a hard link is a file), and what is missing is unpacked again.

use std::path::{Path, PathBuf};

use super::{PythonError, io};
use crate::stable_hash::StableHash;

/// Where the cache is, or `None` when it is turned off or there is no home directory.
pub fn dir() -> Option<PathBuf> {
    dir_from(|name| std::env::var_os(name))
}

fn dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(explicit) = var("BUILDOUT_CACHE_DIR") {
        return (!explicit.is_empty()).then(|| PathBuf::from(explicit));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(xdg).join("buildout"));
    }
    var("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("buildout"))
}

/// A stable name for a wheel's content: the member names, sizes and CRCs its zip directory
/// lists. A wheel downloaded again, or copied elsewhere, maps to the same entry; a rebuilt wheel
/// with other content does not.
pub fn content_key(zip: &mut super::egg::Zip, wheel: &Path) -> Result<String, PythonError> {
    let bad = |reason: String| PythonError::BadWheel { path: wheel.display().to_string(), reason };
    let mut h = StableHash::default();
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

/// A wheel the cache has unpacked, found by the SHA-256 of its file (which an index or a lock
/// file gives before anything is downloaded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedWheel {
    /// The unpacked content's name (see [`content_key`]).
    pub key: String,
    pub name: String,
    pub version: String,
}

impl CachedWheel {
    /// The egg directory name this wheel gets for `interp`.
    pub fn egg_name(&self, interp: &super::Interpreter) -> String {
        super::egg::egg_dir_name(&self.name, &self.version, &interp.py_tag(), &interp.platform)
    }

    /// Where the unpacked egg is in the cache `cache`.
    pub fn path(&self, cache: &Path, interp: &super::Interpreter) -> PathBuf {
        cache.join("unpacked").join(&self.key).join(self.egg_name(interp))
    }
}

fn sha256_record(cache: &Path, sha256: &str) -> Option<PathBuf> {
    let sha = sha256.to_ascii_lowercase();
    let valid = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| cache.join("wheels-v1").join(&sha[..2]).join(sha))
}

/// The wheel with this SHA-256, if the cache has unpacked it before.
pub fn by_sha256(cache: &Path, sha256: &str) -> Option<CachedWheel> {
    let text = std::fs::read_to_string(sha256_record(cache, sha256)?).ok()?;
    serde_json::from_str(&text).ok()
}

/// Remembers which unpacked content the wheel with this SHA-256 has. Best effort: without
/// the record the wheel is only downloaded once more.
pub fn remember_sha256(cache: &Path, sha256: &str, info: &super::egg::WheelInfo) {
    let Some(file) = sha256_record(cache, sha256) else { return };
    let record = CachedWheel { key: info.key.clone(), name: info.name.clone(), version: info.version.clone() };
    let (Some(dir), Ok(text)) = (file.parent(), serde_json::to_string(&record)) else { return };
    if std::fs::create_dir_all(dir).is_ok()
        && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
    {
        use std::io::Write;
        if tmp.write_all(text.as_bytes()).is_ok() {
            let _ = tmp.persist(&file);
        }
    }
}

/// Fills `dest` (which must not exist) with a copy of the tree `from`: directories are made,
/// files hard-linked (copied where the file system cannot link them). Built beside `dest` and
/// renamed into place, so a killed run leaves no half-made `dest`.
pub fn link_tree(from: &Path, dest: &Path) -> Result<(), PythonError> {
    let parent = dest.parent().ok_or_else(|| io(dest, "no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let prefix = crate::interrupt::temp_prefix("linking");
    let tmp = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).map_err(|e| io(parent, e))?;
    let mut can_link = true;
    link_dir(from, tmp.path(), &mut can_link)?;
    super::egg::put_in_place(tmp, dest)
}

fn link_dir(from: &Path, to: &Path, can_link: &mut bool) -> Result<(), PythonError> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        // Returning drops the staging directory of `link_tree`, which removes it.
        crate::interrupt::check()?;
        let entry = entry.map_err(|e| io(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io(&source, e))?;
        if kind.is_dir() {
            std::fs::create_dir(&target).map_err(|e| io(&target, e))?;
            link_dir(&source, &target, can_link)?;
            continue;
        }
        if *can_link && std::fs::hard_link(&source, &target).is_ok() {
            continue;
        }
        // Another file system, or one without hard links: copy from here on.
        *can_link = false;
        std::fs::copy(&source, &target).map_err(|e| io(&target, e))?;
    }
    Ok(())
}

/// A probe file name for `executable`: its path, size and modification time and, when it is a
/// script (a version manager's shim), what such shims choose the interpreter by.
pub fn probe_key(executable: &Path) -> Option<String> {
    let meta = std::fs::metadata(executable).ok()?;
    let mut h = StableHash::default();
    h.field(executable.as_os_str().as_encoded_bytes());
    h.field(&meta.len().to_le_bytes());
    let modified = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok());
    h.field(&modified.map_or(u128::MAX, |d| d.as_nanos()).to_le_bytes());
    if is_script(executable) {
        let cwd = std::env::current_dir().ok()?;
        for (path, content) in shim_choice(&cwd, |name| std::env::var_os(name)) {
            h.field(path.as_os_str().as_encoded_bytes());
            h.field(content.as_bytes());
        }
    }
    Some(format!("python-{}.json", h.hex(16)))
}

/// What pyenv and asdf shims choose the interpreter by, from `dir`: `PYENV_VERSION`, the
/// nearest `.python-version` or `.tool-versions` above `dir` (path and content), and the global
/// choices (`$PYENV_ROOT/version`, `~/.tool-versions`).
fn shim_choice(dir: &Path, var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<(PathBuf, String)> {
    let read = |p: &Path| std::fs::read_to_string(p).ok().map(|t| (p.to_owned(), t));
    let mut choice =
        vec![(PathBuf::from("PYENV_VERSION"), var("PYENV_VERSION").unwrap_or_default().to_string_lossy().into_owned())];
    let local =
        dir.ancestors().find_map(|d| read(&d.join(".python-version")).or_else(|| read(&d.join(".tool-versions"))));
    choice.extend(local);
    let home = var("HOME").map(PathBuf::from);
    let pyenv_root = var("PYENV_ROOT").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".pyenv")));
    choice.extend(pyenv_root.and_then(|r| read(&r.join("version"))));
    choice.extend(home.and_then(|h| read(&h.join(".tool-versions"))));
    choice
}

fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut start)).is_ok() && &start == b"#!"
}

/// `name` as found on `PATH` when it has no directory part, as a shell would run it.
pub fn on_path(name: &str) -> PathBuf {
    if name.contains('/') {
        return PathBuf::from(name);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    found.unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_cache_is() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars<'_>, Option<&str>); 6] = [
            (&[("BUILDOUT_CACHE_DIR", "/c"), ("HOME", "/h")], Some("/c")),
            (&[("BUILDOUT_CACHE_DIR", ""), ("HOME", "/h")], None),
            (&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], Some("/x/buildout")),
            (&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")], Some("/h/.cache/buildout")),
            (&[("HOME", "/h")], Some("/h/.cache/buildout")),
            (&[], None),
        ];
        for (vars, expected) in cases {
            let got = dir_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).into()));
            assert_eq!(got, expected.map(PathBuf::from), "{vars:?}");
        }
    }

    #[test]
    fn what_a_shim_chooses_by() {
        let root = tempfile::tempdir().expect("temp dir");
        let (home, project) = (root.path().join("home"), root.path().join("home/work/project"));
        std::fs::create_dir_all(home.join(".pyenv")).expect("mkdir");
        std::fs::create_dir_all(&project).expect("mkdir");
        let vars = |name: &str| match name {
            "HOME" => Some(home.clone().into_os_string()),
            _ => None,
        };
        let base = shim_choice(&project, vars);
        assert_eq!(shim_choice(&home.join("work"), vars), base, "no local choice: the same everywhere below");
        std::fs::write(home.join(".pyenv/version"), "3.11.7\n").expect("write");
        let global = shim_choice(&project, vars);
        assert_ne!(global, base);
        std::fs::write(home.join("work/.python-version"), "3.12.1\n").expect("write");
        let local = shim_choice(&project, vars);
        assert_ne!(local, global);
        assert_eq!(shim_choice(&home.join("work"), vars), local, "found from below as from beside it");
        let pinned = shim_choice(&project, |name| match name {
            "PYENV_VERSION" => Some("3.10.0".into()),
            _ => vars(name),
        });
        assert_ne!(pinned, local);
    }

    #[test]
    fn linked_tree_shares_files_and_not_directories() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().expect("temp dir");
        let from = root.path().join("from");
        std::fs::create_dir_all(from.join("pkg/sub")).expect("mkdir");
        std::fs::write(from.join("pkg/__init__.py"), "x = 1\n").expect("write");
        std::fs::write(from.join("pkg/sub/data.txt"), "data").expect("write");
        let dest = root.path().join("eggs/pkg-1.0.egg");
        link_tree(&from, &dest).expect("links");
        let linked = std::fs::metadata(dest.join("pkg/__init__.py")).expect("linked file");
        assert_eq!(linked.ino(), std::fs::metadata(from.join("pkg/__init__.py")).expect("source").ino());
        assert_eq!(std::fs::read_to_string(dest.join("pkg/sub/data.txt")).expect("read"), "data");
        // Python writes `__pycache__` into the egg; that must not reach the cache.
        std::fs::create_dir(dest.join("pkg/__pycache__")).expect("mkdir");
        assert!(!from.join("pkg/__pycache__").exists());
        // No staging directory is left beside the egg.
        let names: Vec<_> = std::fs::read_dir(root.path().join("eggs")).expect("list").flatten().collect();
        assert_eq!(names.len(), 1);
        // A second linker finding the directory made keeps it.
        link_tree(&from, &dest).expect("already there");
    }

    #[test]
    fn stable_hash_values_are_pinned() {
        // On-disk names: these values must never change (a change misses every cache entry).
        // Computed independently with Python: sha256 over (u64 LE length, bytes) per field.
        let cases: [(&[&[u8]], &str); 3] =
            [(&[], "e3b0c44298fc1c14"), (&[b"ab", b"c"], "43ee655579de01ca"), (&[b"a", b"bc"], "9a8acca1b6c6c0be")];
        for (fields, expected) in cases {
            let mut h = StableHash::default();
            for f in fields {
                h.field(f);
            }
            assert_eq!(h.hex(16), expected, "{fields:?}");
        }
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
        assert!(matches!(super::super::egg::wheel_info(&broken), Err(PythonError::BadWheel { .. })));
    }
}
