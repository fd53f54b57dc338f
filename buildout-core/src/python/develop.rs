//! Python develop eggs: `develop = <dir>` naming a project with a `setup.py` or `pyproject.toml`
//! installs it editable, as zc.buildout 6 does: `pip install --no-deps -e` into a temporary
//! directory inside `develop-eggs`, whose metadata (`*.dist-info`, `*.pth`, setuptools' editable
//! finder modules) moves into `develop-eggs`, beside a `<Name>.egg-link` naming the source
//! directory. Scripts put that source directory on `sys.path`, so they import the project's
//! code as it is edited.
//!
//! zc.buildout runs pip on every run. We run it again only when a file that holds the project's
//! metadata (`setup.py`, `setup.cfg`, `pyproject.toml`) changed: editing code needs no rerun.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::egg::Egg;
use super::requirement::canonical_name;
use super::{PythonError, io};
use crate::stable_hash::StableHash;

/// The files whose content decides what pip records about a project.
const METADATA_FILES: [&str; 3] = ["setup.py", "setup.cfg", "pyproject.toml"];

/// Whether `dir` is a Python project pip can install editable.
pub fn is_python_project(dir: &Path) -> bool {
    dir.join("setup.py").is_file() || dir.join("pyproject.toml").is_file()
}

/// The size and modification time of each metadata file.
fn metadata_files(dir: &Path) -> Vec<(&'static str, Option<u64>, Option<std::time::SystemTime>)> {
    METADATA_FILES
        .iter()
        .map(|name| {
            let meta = std::fs::metadata(dir.join(name)).ok();
            (*name, meta.as_ref().map(|m| m.len()), meta.and_then(|m| m.modified().ok()))
        })
        .collect()
}

/// What decides whether pip must run again for `dir` (its real path, the interpreter, and the
/// size and modification time of each metadata file), as a stable hash: it is kept on disk.
fn fingerprint(dir: &Path, python: &str) -> String {
    let mut h = StableHash::default();
    h.field(dir.as_os_str().as_encoded_bytes()).field(python.as_bytes());
    for (name, len, mtime) in metadata_files(dir) {
        let mtime = mtime.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.field(name.as_bytes()).field(&len.map_or(Vec::new(), |l| l.to_le_bytes().to_vec())).field(
            &mtime.map_or(Vec::new(), |t| {
                [t.as_secs().to_le_bytes(), u64::from(t.subsec_nanos()).to_le_bytes()].concat()
            }),
        );
    }
    h.hex(32)
}

/// The stamp file of the project in `dir` (its real path).
fn stamp_path(develop_eggs: &Path, real: &Path) -> PathBuf {
    develop_eggs.join(format!(".develop-{}.json", crate::stable_hash::hex16(real.as_os_str().as_encoded_bytes())))
}

/// A stamp written before stable hashes, taken over when it still describes the project: its
/// name and fingerprint were `DefaultHasher` values. Answers the recorded paths, with the stamp
/// renamed to its stable name and rewritten with the stable fingerprint.
fn take_over_legacy_stamp(develop_eggs: &Path, real: &Path, python: &str, stamp: &Path) -> Option<Vec<PathBuf>> {
    struct Legacy<'a>(&'a Path, &'a str, Vec<(&'static str, Option<u64>, Option<std::time::SystemTime>)>);
    impl std::hash::Hash for Legacy<'_> {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            (self.0, self.1).hash(h);
            for file in &self.2 {
                file.hash(h);
            }
        }
    }
    let old = develop_eggs.join(format!(".develop-{:016x}.json", crate::stable_hash::legacy(&real.to_path_buf())));
    let legacy_print = crate::stable_hash::legacy(&Legacy(real, python, metadata_files(real))).to_string();
    let paths: Vec<PathBuf> =
        unchanged(&old, &legacy_print)?.into_iter().map(|p| if p == old { stamp.to_path_buf() } else { p }).collect();
    let record = serde_json::json!({ "fingerprint": fingerprint(real, python), "paths": paths }).to_string();
    write_atomically(stamp, &record).ok()?;
    let _ = std::fs::remove_file(&old);
    Some(paths)
}

/// Installs the project in `dir` editable into `develop_eggs` with `python`'s pip, unless it is
/// there already from unchanged metadata. Returns the paths it made in `develop_eggs` (for
/// `.installed.cfg`, which removes them once the project is no longer developed).
pub fn develop(dir: &Path, develop_eggs: &Path, python: &str) -> Result<Vec<PathBuf>, PythonError> {
    let real = dir.canonicalize().map_err(|e| io(dir, e))?;
    std::fs::create_dir_all(develop_eggs).map_err(|e| io(develop_eggs, e))?;
    let stamp = stamp_path(develop_eggs, &real);
    let print = fingerprint(&real, python);
    if let Some(paths) = unchanged(&stamp, &print) {
        return Ok(paths);
    }
    if !stamp.exists()
        && let Some(paths) = take_over_legacy_stamp(develop_eggs, &real, python, &stamp)
    {
        return Ok(paths);
    }
    let tmp = tempfile::Builder::new()
        .prefix("tmp")
        .suffix("build")
        .tempdir_in(develop_eggs)
        .map_err(|e| io(develop_eggs, e))?;
    let output = crate::interrupt::output(
        Command::new(python)
            // PEP 660 even where an older pip would fall back to `setup.py develop`, which leaves
            // no `.dist-info` to read.
            .args(["-m", "pip", "install", "--no-deps", "--use-pep517", "-q", "-t"])
            .arg(tmp.path())
            .arg("-e")
            .arg(format!("file://{}", real.display()))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1"),
    )
    .map_err(super::run_error(python))?;
    if !output.status.success() {
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        return Err(PythonError::Develop { dir: dir.display().to_string(), output: text.trim_end().to_owned() });
    }
    let mut paths = Vec::new();
    let mut name = None;
    for entry in std::fs::read_dir(tmp.path()).map_err(|e| io(tmp.path(), e))?.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let kept = file.ends_with(".dist-info")
            || file.ends_with(".egg-info")
            || file.ends_with(".pth")
            || (file.starts_with("__editable__") && file.ends_with(".py"));
        if !kept {
            continue;
        }
        if file.ends_with(".dist-info") {
            let metadata = std::fs::read_to_string(entry.path().join("METADATA")).unwrap_or_default();
            name = Some(Egg::from_metadata(&real, &metadata, "").name);
        }
        let target = develop_eggs.join(&file);
        remove(&target);
        std::fs::rename(entry.path(), &target).map_err(|e| io(&target, e))?;
        paths.push(target);
    }
    let name = name.filter(|n| !n.is_empty()).ok_or_else(|| PythonError::Develop {
        dir: dir.display().to_string(),
        output: "pip installed no .dist-info metadata".to_owned(),
    })?;
    // setuptools' `develop` convention, which zc.buildout keeps: the source directory (its
    // `src/` when there is one), then the way back to the project.
    let (location, back) = if real.join("src").is_dir() { (real.join("src"), "..") } else { (real.clone(), ".") };
    let link = develop_eggs.join(format!("{name}.egg-link"));
    write_atomically(&link, &format!("{}\n{back}", location.display()))?;
    paths.push(link);
    paths.push(stamp.clone());
    paths.sort();
    let record = serde_json::json!({ "fingerprint": print, "paths": paths }).to_string();
    write_atomically(&stamp, &record)?;
    Ok(paths)
}

/// The paths recorded by the last run, if the project's metadata did not change since and they
/// are all still there.
fn unchanged(stamp: &Path, print: &str) -> Option<Vec<PathBuf>> {
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(stamp).ok()?).ok()?;
    if record["fingerprint"].as_str()? != print {
        return None;
    }
    let paths: Vec<PathBuf> =
        record["paths"].as_array()?.iter().filter_map(|p| p.as_str().map(PathBuf::from)).collect();
    paths.iter().all(|p| p.exists()).then_some(paths)
}

fn remove(path: &Path) {
    let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
}

fn write_atomically(path: &Path, text: &str) -> Result<(), PythonError> {
    let dir = path.parent().ok_or_else(|| io(path, "no parent directory"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| io(path, e))?;
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(|e| io(path, e))
}

/// A digest of the files of a develop project (names and contents, without version-control
/// directories, dot files and compiled Python), as zc.buildout signs a part whose recipe is
/// developed: editing the recipe's code reinstalls its parts.
pub fn tree_digest(dir: &Path) -> String {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") || name.ends_with(".pyo") {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files.sort();
    let mut h = StableHash::default();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap_or(&file);
        h.field(relative.as_os_str().as_encoded_bytes()).field(&std::fs::read(&file).unwrap_or_default());
    }
    h.hex(32)
}

/// The develop eggs in `develop_eggs`: one per `<Name>.egg-link`, located at the source
/// directory it names, with the metadata pip left beside it (or, for a link made by older
/// tools, the `*.egg-info` in the source directory).
pub fn develop_eggs(develop_eggs: &Path) -> Vec<Egg> {
    let Ok(entries) = std::fs::read_dir(develop_eggs) else { return Vec::new() };
    let mut links = Vec::new();
    let mut infos = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".egg-link") {
            links.push((canonical_name(name), entry.path()));
        } else if file.ends_with(".dist-info")
            && let Ok(metadata) = std::fs::read_to_string(entry.path().join("METADATA"))
        {
            let entry_points = std::fs::read_to_string(entry.path().join("entry_points.txt")).unwrap_or_default();
            infos.push(Egg::from_metadata(Path::new(""), &metadata, &entry_points));
        }
    }
    links.sort();
    let mut eggs = Vec::new();
    for (key, link) in links {
        let Some(location) = std::fs::read_to_string(&link)
            .ok()
            .and_then(|t| t.lines().next().map(str::trim).filter(|l| !l.is_empty()).map(PathBuf::from))
        else {
            continue;
        };
        let from_info = infos.iter().find(|egg| egg.key() == key).cloned();
        let egg = from_info.or_else(|| Egg::read(&location).ok());
        if let Some(egg) = egg {
            eggs.push(Egg { dir: location, develop: true, ..egg });
        }
    }
    eggs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn develop_eggs_are_read_from_links_and_metadata() {
        let root = tempfile::tempdir().expect("temp dir");
        let de = root.path().join("develop-eggs");
        let project = root.path().join("demo");
        std::fs::create_dir_all(de.join("demo-1.0.dist-info")).expect("mkdir");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::write(
            de.join("demo-1.0.dist-info/METADATA"),
            "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nRequires-Dist: zc.lockfile\n",
        )
        .expect("write");
        std::fs::write(de.join("demo-1.0.dist-info/entry_points.txt"), "[console_scripts]\ndemo = demo:main\n")
            .expect("write");
        std::fs::write(de.join("demo.egg-link"), format!("{}\n.", project.display())).expect("write");
        // A link whose metadata is gone is not a distribution.
        std::fs::write(de.join("gone.egg-link"), "/nowhere\n.").expect("write");
        let eggs = develop_eggs(&de);
        assert_eq!(eggs.len(), 1);
        let egg = &eggs[0];
        assert_eq!((egg.name.as_str(), egg.version.as_str(), egg.dir.as_path()), ("demo", "1.0", project.as_path()));
        assert!(egg.develop);
        assert_eq!(egg.requires.len(), 1);
        assert_eq!(egg.console_scripts, [("demo".into(), "demo".into(), "main".into())]);
    }

    #[test]
    fn projects_and_fingerprints() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path();
        assert!(!is_python_project(dir));
        std::fs::write(dir.join("pyproject.toml"), "[project]\nname = 'x'\n").expect("write");
        assert!(is_python_project(dir));
        let before = fingerprint(dir, "/usr/bin/python3");
        std::fs::write(dir.join("x.py"), "code = 1\n").expect("write");
        assert_eq!(fingerprint(dir, "/usr/bin/python3"), before, "code is not metadata");
        assert_ne!(fingerprint(dir, "/usr/bin/python3.12"), before);
        std::fs::write(dir.join("setup.cfg"), "[metadata]\n").expect("write");
        assert_ne!(fingerprint(dir, "/usr/bin/python3"), before);
    }

    /// A stamp written before stable hashes (its name and fingerprint `DefaultHasher` values)
    /// still describes the project: taken over without running pip, renamed and rewritten.
    #[test]
    fn legacy_stamps_are_taken_over() {
        use std::hash::{Hash, Hasher};
        let root = tempfile::tempdir().expect("temp dir");
        let project = root.path().join("project");
        let eggs = root.path().join("develop-eggs");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::create_dir_all(&eggs).expect("mkdir");
        std::fs::write(project.join("setup.py"), "setup()\n").expect("write");
        let real = project.canonicalize().expect("real path");
        let python = "/usr/bin/python3";

        // What the release before wrote, computed as it did.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        real.hash(&mut h);
        let old = eggs.join(format!(".develop-{:016x}.json", h.finish()));
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (real.as_path(), python).hash(&mut h);
        for name in METADATA_FILES {
            let meta = std::fs::metadata(real.join(name)).ok();
            (name, meta.as_ref().map(|m| m.len()), meta.and_then(|m| m.modified().ok())).hash(&mut h);
        }
        let link = eggs.join("project.egg-link");
        std::fs::write(&link, format!("{}\n.", real.display())).expect("write");
        let record = serde_json::json!({ "fingerprint": h.finish().to_string(), "paths": [link, old] });
        std::fs::write(&old, record.to_string()).expect("write");

        let stamp = stamp_path(&eggs, &real);
        let mut expected = vec![link.clone(), stamp.clone()];
        expected.sort();
        let mut taken = take_over_legacy_stamp(&eggs, &real, python, &stamp).expect("taken over");
        taken.sort();
        assert_eq!(taken, expected);
        assert!(!old.exists(), "the legacy stamp is gone");
        assert_eq!(
            unchanged(&stamp, &fingerprint(&real, python)).map(|mut p| {
                p.sort();
                p
            }),
            Some(expected)
        );

        // Another interpreter's stamp is not this one's.
        assert_eq!(take_over_legacy_stamp(&eggs, &real, "/usr/bin/python3.12", &stamp), None);
    }
}
