//! The per-user cache every buildout on the machine shares: interpreter probes, and wheels
//! unpacked once. An egg directory is then made of hard links into the cache, as uv installs
//! from its own cache: creating a file costs the file system far more than linking one, and
//! ZEO's 15 wheels hold over a thousand files.
//!
//! The cache is `$BUILDOUT_CACHE_DIR` (empty turns it off), else `$XDG_CACHE_HOME/buildout`,
//! else `~/.cache/buildout`. Deleting it at any time is safe: egg directories keep their files
//! (a hard link is a file), and what is missing is unpacked again.

use std::path::{Path, PathBuf};

use crate::stable_hash::StableHash;

pub use crate::user_cache::dir;

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
    if let Ok(text) = serde_json::to_string(&record) {
        write_whole(&file, &text);
    }
}

/// Writes a cache record whole or not at all (a reader never sees half of one), making its
/// directory. Best effort: a record the cache lacks is only work done again.
pub(super) fn write_whole(file: &Path, text: &str) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_ok()
        && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
    {
        use std::io::Write;
        if tmp.write_all(text.as_bytes()).is_ok() {
            let _ = tmp.persist(file);
        }
    }
}

/// The egg directories this process made of links into the cache, each with the cache entry it
/// was linked from.
static LINKED: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());

/// Notes that the egg directory `egg` was made of links to the cache entry `entry`.
pub(super) fn note_linked(egg: &Path, entry: &Path) {
    if let Ok(mut linked) = LINKED.lock() {
        linked.push((egg.to_owned(), entry.to_owned()));
    }
}

/// Gives the cache entry an egg directory of this process was linked from the bytecode Python
/// has since written into it (`__pycache__/*.pyc`, each beside a source file that is a link to
/// the entry's), so that the next egg directory linked from the entry has it from the start:
/// the modules an import of zc.buildout loads take longer to compile than to run. Best effort;
/// returns how many files it linked. A `.pyc` names its source's modification time and size,
/// which a hard link shares, so it is as valid beside the cache's source as beside the egg's.
pub fn share_bytecode(egg: &Path) -> usize {
    let entry = LINKED.lock().ok().and_then(|l| l.iter().find(|(dir, _)| dir == egg).map(|(_, entry)| entry.clone()));
    entry.map_or(0, |entry| share_dir(egg, &entry))
}

fn share_dir(from: &Path, to: &Path) -> usize {
    let mut shared = 0;
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        if name == "__pycache__" {
            shared += share_pycache(&entry.path(), from, &to.join(&name), to);
        } else {
            shared += share_dir(&entry.path(), &to.join(&name));
        }
    }
    shared
}

/// Links each `.pyc` of `pycache` (in `source_dir`) into `cached` (in `cached_source_dir`) when
/// its source file there is the same file and the cache has no bytecode for it yet.
fn share_pycache(pycache: &Path, source_dir: &Path, cached: &Path, cached_source_dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let same_file = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    };
    let mut shared = 0;
    for entry in std::fs::read_dir(pycache).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `module.cpython-311.pyc`, `module.cpython-311.opt-1.pyc`: the module is before the tag.
        let Some(module) = name.strip_suffix(".pyc").and_then(|n| n.split('.').next()) else { continue };
        let source = format!("{module}.py");
        let target = cached.join(&name);
        if target.exists() || !same_file(&source_dir.join(&source), &cached_source_dir.join(&source)) {
            continue;
        }
        if std::fs::create_dir_all(cached).is_ok() && std::fs::hard_link(entry.path(), &target).is_ok() {
            shared += 1;
        }
    }
    shared
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
    fn bytecode_written_into_a_linked_egg_goes_back_to_its_cache_entry() {
        let root = tempfile::tempdir().expect("temp dir");
        let (entry, egg) = (root.path().join("cache/unpacked/k/demo-1.0.egg"), root.path().join("eggs/demo-1.0.egg"));
        std::fs::create_dir_all(entry.join("demo")).expect("mkdir");
        for file in ["demo/__init__.py", "demo/linked.py", "demo/copied.py"] {
            std::fs::write(entry.join(file), file).expect("write");
        }
        super::super::tree::link_tree(&entry, &egg).expect("link");
        assert_eq!(share_bytecode(&egg), 0, "not noted as linked: nothing is shared");
        note_linked(&egg, &entry);
        // A source that is a copy, not a link, keeps its bytecode to itself.
        std::fs::remove_file(egg.join("demo/copied.py")).expect("rm");
        std::fs::write(egg.join("demo/copied.py"), "demo/copied.py").expect("write");
        let pycache = egg.join("demo/__pycache__");
        std::fs::create_dir_all(&pycache).expect("mkdir");
        for pyc in [
            "__init__.cpython-311.pyc",
            "linked.cpython-311.opt-1.pyc",
            "copied.cpython-311.pyc",
            "gone.cpython-311.pyc",
        ] {
            std::fs::write(pycache.join(pyc), pyc).expect("write");
        }
        assert_eq!(share_bytecode(&egg), 2);
        let mut shared: Vec<String> = std::fs::read_dir(entry.join("demo/__pycache__"))
            .expect("the entry's __pycache__")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        shared.sort();
        assert_eq!(shared, ["__init__.cpython-311.pyc", "linked.cpython-311.opt-1.pyc"]);
        assert_eq!(share_bytecode(&egg), 0, "shared once");
        // The next egg linked from the entry has the bytecode from the start.
        let next = root.path().join("other-eggs/demo-1.0.egg");
        super::super::tree::link_tree(&entry, &next).expect("link");
        assert!(next.join("demo/__pycache__/__init__.cpython-311.pyc").is_file());
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
}
