//! Distributions in local `find-links` directories, found by their file names: what lets a
//! buildout whose wheels sit in a directory resolve without starting an installer, as
//! zc.buildout reads its find-links itself. Only wheels this interpreter can run count; a
//! source distribution is seen (it may be the best version) but needs an installer to build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::interpreter::Interpreter;
use super::requirement::parse_version;
use super::requirement::{Requirement, canonical_name};

/// One distribution file in a `find-links` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub version: String,
    /// A wheel this interpreter can run; `None` for a source distribution (or wheels for
    /// other interpreters only).
    pub wheel: Option<PathBuf>,
}

/// The distributions in local `find-links` directories, by canonical project name.
#[derive(Debug, Default)]
pub struct Links {
    by_key: HashMap<String, Vec<Found>>,
}

/// Whether every source of distributions is a local directory: then the distributions
/// [`Links`] sees are all there are. That is so when `index` is a `file://` URL of a directory
/// that does not exist (zc.buildout's idiom for "no index") and every `find-links` entry is a
/// local directory.
pub fn all_local(find_links: &[String], index: Option<&str>) -> bool {
    let no_index = index.and_then(|i| i.strip_prefix("file://")).is_some_and(|p| !Path::new(p).exists());
    no_index && find_links.iter().all(|l| local_dir(l).is_some())
}

fn local_dir(link: &str) -> Option<PathBuf> {
    let path = link.strip_prefix("file://").unwrap_or(link);
    (!path.contains("://") && Path::new(path).is_dir()).then(|| PathBuf::from(path))
}

impl Links {
    /// Lists the local directories among `find_links`.
    pub fn scan(find_links: &[String], interp: &Interpreter) -> Links {
        let mut links = Links::default();
        for dir in find_links.iter().filter_map(|l| local_dir(l)) {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for path in files {
                let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
                let Some((name, version, tags)) = parse_file_name(file) else { continue };
                let wheel = tags.filter(|t| compatible(t, interp)).map(|_| path.clone());
                let found = links.by_key.entry(canonical_name(&name)).or_default();
                match found.iter_mut().find(|f| f.version == version) {
                    // A usable wheel beats a source distribution of the same version.
                    Some(f) if f.wheel.is_none() => f.wheel = wheel,
                    Some(_) => {}
                    None => found.push(Found { version, wheel }),
                }
            }
        }
        links
    }

    /// The version of `req`'s project pip would choose here: the highest `req` allows, final
    /// releases before pre-releases (zc.buildout's `prefer-final`).
    pub fn best(&self, req: &Requirement) -> Option<&Found> {
        self.candidates(req).into_iter().next()
    }

    /// The versions `req` allows, in the order pip would try them (see [`Links::best`]): when
    /// the first needs another Python, the next.
    pub fn candidates(&self, req: &Requirement) -> Vec<&Found> {
        let mut allowed: Vec<(&Found, pep440_rs::Version)> = self
            .by_key
            .get(&req.key())
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f, parse_version(&f.version)?)))
            .filter(|(_, v)| req.allows_version(v))
            .collect();
        allowed.sort_by(|(_, a), (_, b)| (!b.any_prerelease()).cmp(&!a.any_prerelease()).then_with(|| b.cmp(a)));
        allowed.into_iter().map(|(f, _)| f).collect()
    }
}

/// A wheel's `(python, abi, platform)` tags, each possibly compressed (`py2.py3`).
pub type Tags = (String, String, String);

/// `name`, `version` and, for a wheel, its tags, from a distribution's file name:
/// `zope.interface-8.7-cp311-cp311-manylinux_2_17_x86_64.whl`, `demo-0.3.tar.gz`.
pub fn parse_file_name(file: &str) -> Option<(String, String, Option<Tags>)> {
    if let Some(stem) = file.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        // name-version[-build]-python-abi-platform
        if !(5..=6).contains(&parts.len()) {
            return None;
        }
        let n = parts.len();
        let tags = (parts[n - 3].to_owned(), parts[n - 2].to_owned(), parts[n - 1].to_owned());
        return Some((parts[0].to_owned(), parts[1].to_owned(), Some(tags)));
    }
    let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"].iter().find_map(|ext| file.strip_suffix(ext))?;
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && parse_version(version).is_some()).then(|| (name.to_owned(), version.to_owned(), None))
}

/// Whether `interp` can run a wheel with these tags (CPython and PyPy on glibc Linux; on other
/// platforms only pure-Python wheels).
pub fn compatible((python, abi, platform): &Tags, interp: &Interpreter) -> bool {
    let cpython = interp.info.implementation_name == "cpython";
    let (major, minor) = (interp.major, interp.minor);
    let exact = format!("cp{major}{minor}");
    let python_ok = |py: &str, abi: &str| match abi {
        "none" => {
            py == format!("py{major}")
                || py
                    .strip_prefix(&format!("py{major}"))
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m <= minor)
                || (cpython && py == exact)
        }
        "abi3" => {
            cpython
                && py
                    .strip_prefix(&format!("cp{major}"))
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m <= minor)
        }
        _ => cpython && py == exact && abi == exact,
    };
    let tags_ok = python.split('.').any(|py| abi.split('.').any(|a| python_ok(py, a)));
    tags_ok && platform.split('.').any(|p| platform_ok(p, interp))
}

fn platform_ok(tag: &str, interp: &Interpreter) -> bool {
    if tag == "any" {
        return true;
    }
    let Some(arch) = interp.platform.strip_prefix("linux-") else { return false };
    let arch = arch.replace('-', "_");
    let Some(rest) = tag.strip_suffix(&format!("_{arch}")) else { return false };
    if rest == "linux" {
        return true;
    }
    let Some(glibc) = interp.glibc() else { return false };
    let needs = match rest {
        "manylinux1" => Some((2, 5)),
        "manylinux2010" => Some((2, 12)),
        "manylinux2014" => Some((2, 17)),
        _ => rest
            .strip_prefix("manylinux_")
            .and_then(|v| v.split_once('_'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))),
    };
    needs.is_some_and(|needs| needs <= glibc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::interpreter::test_interpreter as python;

    #[test]
    fn file_names() {
        type Parsed<'a> = Option<(&'a str, &'a str, Option<(&'a str, &'a str, &'a str)>)>;
        let cases: [(&str, Parsed<'_>); 8] = [
            ("ZEO-6.2-py3-none-any.whl", Some(("ZEO", "6.2", Some(("py3", "none", "any"))))),
            ("demo-1.0-1-py2.py3-none-any.whl", Some(("demo", "1.0", Some(("py2.py3", "none", "any"))))),
            (
                "zope_interface-8.7-cp311-cp311-manylinux_2_17_x86_64.whl",
                Some(("zope_interface", "8.7", Some(("cp311", "cp311", "manylinux_2_17_x86_64")))),
            ),
            ("demo-0.3.tar.gz", Some(("demo", "0.3", None))),
            ("python-dateutil-2.8.2.tar.gz", Some(("python-dateutil", "2.8.2", None))),
            ("demo-0.3.zip", Some(("demo", "0.3", None))),
            ("README.txt", None),
            ("broken-1.0.whl", None),
        ];
        for (file, expected) in cases {
            let expected = expected
                .map(|(n, v, t)| (n.to_owned(), v.to_owned(), t.map(|(a, b, c)| (a.into(), b.into(), c.into()))));
            assert_eq!(parse_file_name(file), expected, "{file}");
        }
    }

    #[test]
    fn wheel_tags() {
        let linux = python("cpython", "linux-x86_64", Some("glibc 2.36"));
        let musl = python("cpython", "linux-x86_64", None);
        let mac = python("cpython", "macosx-11.0-arm64", None);
        let pypy = python("pypy", "linux-x86_64", Some("glibc 2.36"));
        let cases: [(&str, &Interpreter, bool); 18] = [
            ("py3-none-any", &linux, true),
            ("py2.py3-none-any", &linux, true),
            ("py2-none-any", &linux, false),
            ("py38-none-any", &linux, true),
            ("py312-none-any", &linux, false),
            ("cp311-cp311-manylinux_2_17_x86_64", &linux, true),
            ("cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64", &linux, true),
            ("cp311-cp311-manylinux_2_39_x86_64", &linux, false),
            ("cp311-cp311-manylinux_2_17_aarch64", &linux, false),
            ("cp311-cp311-musllinux_1_1_x86_64", &linux, false),
            ("cp310-cp310-manylinux1_x86_64", &linux, false),
            ("cp38-abi3-manylinux1_x86_64", &linux, true),
            ("cp312-abi3-manylinux1_x86_64", &linux, false),
            ("cp311-cp311-linux_x86_64", &linux, true),
            ("cp311-cp311-manylinux1_x86_64", &musl, false),
            ("cp311-cp311-macosx_11_0_arm64", &mac, false),
            ("py3-none-any", &mac, true),
            ("cp311-cp311-manylinux1_x86_64", &pypy, false),
        ];
        for (tags, interp, expected) in cases {
            let mut t = tags.splitn(3, '-').map(str::to_owned);
            let tags = (t.next().unwrap_or_default(), t.next().unwrap_or_default(), t.next().unwrap_or_default());
            assert_eq!(compatible(&tags, interp), expected, "{tags:?} on {}", interp.platform);
        }
    }

    #[test]
    fn best_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in [
            "demo-0.3-py3-none-any.whl",
            "demo-0.4-py3-none-any.whl",
            "demo-0.5b1-py3-none-any.whl",
            "demo-0.4.1.tar.gz",
            "other-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
        ] {
            std::fs::write(dir.path().join(file), "").expect("write");
        }
        let links =
            Links::scan(&[dir.path().display().to_string()], &python("cpython", "linux-x86_64", Some("glibc 2.36")));
        let best = |req: &str| {
            links.best(&Requirement::parse(req).expect("requirement")).map(|f| (f.version.clone(), f.wheel.is_some()))
        };
        let cases: [(&str, Option<(&str, bool)>); 6] = [
            ("demo", Some(("0.4.1", false))),
            ("demo<0.4.1", Some(("0.4", true))),
            ("demo==0.3", Some(("0.3", true))),
            ("demo>=0.5b1", Some(("0.5b1", true))),
            ("other", Some(("1.0", false))),
            ("missing", None),
        ];
        for (req, expected) in cases {
            assert_eq!(best(req), expected.map(|(v, w)| (v.to_owned(), w)), "{req}");
        }
    }

    #[test]
    fn local_sources() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display().to_string();
        let cases: [(Vec<String>, Option<&str>, bool); 5] = [
            (vec![d.clone()], Some("file:///nonexistent"), true),
            (vec![format!("file://{d}")], Some("file:///nonexistent"), true),
            (vec![d.clone()], None, false),
            (vec![d.clone()], Some("https://pypi.org/simple"), false),
            (vec![d.clone(), "https://example.com/links".into()], Some("file:///nonexistent"), false),
        ];
        for (links, index, expected) in cases {
            assert_eq!(all_local(&links, index), expected, "{links:?} {index:?}");
        }
    }
}
