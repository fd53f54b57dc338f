//! Resolutions remembered in the user cache, for requirement sets where any versions that
//! satisfy them will do ([`Settings::remember`]): buildout's own distributions for Python
//! recipes, which zc.buildout has in its venv at whatever versions were installed there. A new
//! eggs directory then gets the set remembered from the last resolution on this machine, linked
//! from the cache, without asking a resolver (which reads the index) again.
//!
//! A record is used only while the cache has unpacked every wheel it names, so using one never
//! reaches the network; what it names is checked like any installed set (see
//! `install::from_remembered`), and a record that no longer settles the set is passed over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::interpreter::Interpreter;
use super::lock::{LockedFile, Picked};
use super::settings::Settings;
use crate::stable_hash::StableHash;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    picks: Vec<Pick>,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pick {
    name: String,
    version: String,
    url: String,
    sha256: String,
}

/// The record for `specs` under `settings` and `interp`, when the settings ask for one and
/// there is a user cache. Everything that may change what a resolver picks is in its name.
pub(super) fn path(
    cache: Option<&Path>,
    specs: &[String],
    settings: &Settings,
    interp: &Interpreter,
) -> Option<PathBuf> {
    let name = settings.remember.as_deref()?;
    let mut h = StableHash::default();
    for spec in specs {
        h.field(spec.as_bytes());
    }
    h.field(b"");
    h.field(interp.executable.as_bytes()).field(interp.info.full_version.as_bytes()).field(interp.platform.as_bytes());
    h.field(interp.libc.as_deref().unwrap_or_default().as_bytes());
    h.field(settings.index.as_deref().unwrap_or_default().as_bytes());
    for link in &settings.find_links {
        h.field(link.as_bytes());
    }
    h.field(b"");
    for (key, pin) in &settings.versions {
        h.field(key.as_bytes()).field(pin.trim().as_bytes());
    }
    let file_name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Some(cache?.join("resolved").join(format!("{file_name}-{}.json", h.hex(16))))
}

/// The picks of a record, if there is one and the cache has unpacked every wheel it names.
pub(super) fn read(record: &Path, cache: &Path) -> Option<Vec<Picked>> {
    let text = std::fs::read_to_string(record).ok()?;
    let record: Record = serde_json::from_str(&text).ok()?;
    if record.picks.is_empty() || !record.picks.iter().all(|p| super::cache::by_sha256(cache, &p.sha256).is_some()) {
        return None;
    }
    let picked = record
        .picks
        .into_iter()
        .map(|p| Picked {
            name: p.name,
            version: p.version,
            file: Some(LockedFile { url: p.url, sha256: Some(p.sha256) }),
            sdist: false,
            requirement: None,
        })
        .collect();
    Some(picked)
}

/// Remembers what a resolver picked, when every pick is a wheel with a SHA-256 (what [`read`]
/// can check against the cache). Best effort, written whole or not at all: without a record
/// the next new eggs directory is resolved again.
pub(super) fn write(record: &Path, picked: &[Picked]) {
    let picks: Option<Vec<Pick>> = picked
        .iter()
        .map(|p| {
            let file = p.file.as_ref().filter(|_| !p.sdist)?;
            Some(Pick {
                name: p.name.clone(),
                version: p.version.clone(),
                url: file.url.clone(),
                sha256: file.sha256.clone()?,
            })
        })
        .collect();
    if let Some(picks) = picks
        && let Ok(text) = serde_json::to_string_pretty(&Record { picks })
    {
        super::cache::write_whole(record, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Interpreter {
        super::super::interpreter::test_interpreter("cpython", "linux-x86_64", Some("glibc 2.36"))
    }

    fn pick(name: &str, sha: &str, sdist: bool) -> Picked {
        Picked {
            name: name.into(),
            version: "1.0".into(),
            file: Some(LockedFile {
                url: format!("https://files.example/{name}-1.0-py3-none-any.whl"),
                sha256: Some(sha.into()),
            }),
            sdist,
            requirement: None,
        }
    }

    #[test]
    fn the_name_changes_with_what_may_change_the_picks() {
        let cache = Path::new("/cache");
        let specs = ["zc.buildout==6.0.1".to_owned()];
        let base = Settings { remember: Some("buildout's own".into()), ..Settings::default() };
        let at = |settings: &Settings, specs: &[String]| path(Some(cache), specs, settings, &interp());
        let first = at(&base, &specs).expect("a record");
        assert!(first.starts_with("/cache/resolved"), "{}", first.display());
        assert!(first.file_name().is_some_and(|n| n.to_string_lossy().starts_with("buildout-s-own-")));
        assert_eq!(at(&base, &specs), Some(first.clone()), "stable");
        let others = [
            Settings { index: Some("https://mirror.example/simple".into()), ..base.clone() },
            Settings { find_links: vec!["/wheels".into()], ..base.clone() },
            Settings { versions: [("setuptools".to_owned(), "80.0".to_owned())].into(), ..base.clone() },
        ];
        for settings in &others {
            assert_ne!(at(settings, &specs), Some(first.clone()), "{settings:?}");
        }
        assert_ne!(at(&base, &["zc.buildout==6.0.0".to_owned()]), Some(first.clone()));
        let mut other_python = interp();
        other_python.info.full_version = "3.11.9".into();
        assert_ne!(path(Some(cache), &specs, &base, &other_python), Some(first));
        assert_eq!(at(&Settings::default(), &specs), None, "not asked for");
        assert_eq!(path(None, &specs, &base, &interp()), None, "no user cache");
    }

    #[test]
    fn a_record_is_read_only_while_the_cache_has_every_wheel() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, record) = (dir.path().join("cache"), dir.path().join("cache/resolved/own.json"));
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        write(&record, &[pick("zc.buildout", &a, false), pick("setuptools", &b, false)]);
        assert_eq!(read(&record, &cache).map(|p| p.len()), None, "nothing unpacked yet");
        let info = |name: &str| super::super::egg::WheelInfo {
            name: name.into(),
            version: "1.0".into(),
            key: format!("k-{name}"),
        };
        super::super::cache::remember_sha256(&cache, &a, &info("zc.buildout"));
        assert!(read(&record, &cache).is_none(), "one wheel is not in the cache");
        super::super::cache::remember_sha256(&cache, &b, &info("setuptools"));
        let picked = read(&record, &cache).expect("every wheel is in the cache");
        let read_back: Vec<(&str, &str, Option<&str>)> = picked
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.file.as_ref().and_then(|f| f.sha256.as_deref())))
            .collect();
        assert_eq!(read_back, [("zc.buildout", "1.0", Some(a.as_str())), ("setuptools", "1.0", Some(b.as_str()))]);

        // A set with a source distribution or a file without a SHA-256 is not remembered.
        let other = dir.path().join("cache/resolved/other.json");
        write(&other, &[pick("zc.buildout", &a, true)]);
        let mut unhashed = pick("setuptools", &b, false);
        unhashed.file = Some(LockedFile { url: "file:///wheels/setuptools-1.0-py3-none-any.whl".into(), sha256: None });
        write(&other, &[unhashed]);
        assert!(!other.exists());
        std::fs::write(&other, "not json").expect("write");
        assert!(read(&other, &cache).is_none(), "an unreadable record is passed over");
    }
}
