//! zc.buildout's newest mode without an installer: when every distribution is installed, ask
//! the index (through the HTTP cache) whether a better version of any of them exists. Only
//! then does a resolver run; a run where nothing changed starts no other program.

use std::collections::HashMap;

use pep440_rs::Version;
use pep508_rs::MarkerEnvironment;

use super::egg::Egg;
use super::index::{DistFile, Index};
use super::interpreter::Interpreter;
use super::requirement::{Requirement, parse_version};
use super::settings::{Logger, Progress, Settings};
use crate::log::Level;

/// A distribution the index has a better version of than the one installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Newer {
    pub name: String,
    pub installed: String,
    pub available: String,
}

/// The first distribution of the working set `ws` (each with the requirement that added it)
/// that the index has a better version of, one that every requirement on it in the set
/// allows. A page that cannot be had is a warning (zc.buildout then keeps what it has).
pub(super) fn newer(
    index: &Index,
    interp: &Interpreter,
    ws: &[(Egg, String)],
    settings: &Settings,
    env: &MarkerEnvironment,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Option<Newer> {
    let exact = |e: &Egg| settings.pin(&e.key()).is_some_and(|p| p.starts_with("=="));
    let candidates: Vec<&Egg> = ws.iter().map(|(e, _)| e).filter(|e| !e.develop && !exact(e)).collect();
    if candidates.is_empty() {
        return None;
    }
    let names: Vec<String> = candidates.iter().map(|e| e.name.clone()).collect();
    let on = requirements_on(ws, settings, env);
    let python = parse_version(&interp.info.full_version);
    let pages = index.projects(&names, progress);
    let pages: HashMap<String, _> = pages.into_iter().map(|(name, page)| (name.to_lowercase(), page)).collect();
    let mut warned = false;
    for egg in candidates {
        let files = match pages.get(&egg.name.to_lowercase()) {
            Some(Ok(files)) => files,
            Some(Err(e)) => {
                if !warned {
                    log(Level::Warning, &format!("Couldn't check for newer distributions: {e}"));
                    warned = true;
                }
                continue;
            }
            None => continue,
        };
        let reqs = on.get(&egg.key()).map(Vec::as_slice).unwrap_or_default();
        let Some(best) = best(files, reqs, egg, interp, python.as_ref()) else { continue };
        if parse_version(&egg.version).is_none_or(|installed| best > installed) {
            return Some(Newer { name: egg.name.clone(), installed: egg.version.clone(), available: best.to_string() });
        }
    }
    None
}

/// Puts the index pages of `names` into the HTTP cache, a few at a time while the wheels
/// download: the next run's [`newer`] then answers from the cache. It stops at the first page
/// the cache cannot keep (a server that sends no cache headers: every page would be fetched
/// again anyway), and on Ctrl-C. Failures are left for the next run.
pub(super) fn prefetch(index: &Index, names: &[String]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Few: the wheels download at the same time.
    const WORKERS: usize = 8;
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(names.len()) {
            scope.spawn(|| {
                while !index.pages_unreusable() && crate::interrupt::signal().is_none() {
                    let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let _ = index.project(name);
                }
            });
        }
    });
}

/// Every requirement on each distribution of the set (canonical name → requirements, pins
/// applied): the requests themselves and what each distribution requires, with the extras
/// asked of it.
fn requirements_on(
    ws: &[(Egg, String)],
    settings: &Settings,
    env: &MarkerEnvironment,
) -> HashMap<String, Vec<Requirement>> {
    let mut on: HashMap<String, Vec<Requirement>> = HashMap::new();
    let added: Vec<Requirement> = ws.iter().filter_map(|(_, r)| Requirement::parse(r).ok()).collect();
    let mut extras: HashMap<String, Vec<String>> = HashMap::new();
    for r in &added {
        extras.entry(r.key()).or_default().extend(r.extras.iter().cloned());
    }
    for (egg, _) in ws {
        for r in egg.requires_for(&[], env) {
            extras.entry(r.key()).or_default().extend(r.extras.iter().cloned());
        }
    }
    for r in added {
        on.entry(r.key()).or_default().push(r);
    }
    for (egg, _) in ws {
        let asked = extras.get(&egg.key()).cloned().unwrap_or_default();
        for r in egg.requires_for(&asked, env) {
            on.entry(r.key()).or_default().push(settings.constrained(&r));
        }
    }
    on
}

/// The best version among `files` that every requirement allows and that can be installed
/// here: a wheel for this interpreter or a source distribution, not yanked, and
/// `Requires-Python` met. Final releases first (zc.buildout's `prefer-final`), unless what is
/// installed or asked for is a pre-release, or there is nothing else.
fn best(
    files: &[DistFile],
    reqs: &[Requirement],
    installed: &Egg,
    interp: &Interpreter,
    python: Option<&Version>,
) -> Option<Version> {
    let usable =
        |f: &&DistFile| !f.yanked && reqs.iter().all(|r| r.allows_version(&f.version)) && f.installable(interp, python);
    let versions: Vec<&Version> = files.iter().filter(usable).map(|f| &f.version).collect();
    let pre_ok = parse_version(&installed.version).is_some_and(|v| v.any_prerelease())
        || reqs.iter().any(Requirement::asks_for_prerelease);
    let finals = versions.iter().filter(|v| !v.any_prerelease()).max().copied();
    match (finals, pre_ok) {
        (Some(v), false) => Some(v.clone()),
        _ => versions.into_iter().max().cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, requires_python: Option<&str>, yanked: bool) -> DistFile {
        let (project, version, tags) = super::super::links::parse_file_name(name).expect("a distribution file");
        let _ = project;
        DistFile {
            filename: name.to_owned(),
            url: format!("https://files.example/{name}"),
            sha256: None,
            requires_python: requires_python.map(str::to_owned),
            yanked,
            version: parse_version(&version).expect("version"),
            wheel_tags: tags,
        }
    }

    #[test]
    fn the_best_version_one_could_install_here() {
        let interp = super::super::interpreter::test_interpreter("cpython", "linux-x86_64", Some("glibc 2.36"));
        let files = [
            file("demo-1.0-py3-none-any.whl", None, false),
            file("demo-1.1.tar.gz", None, false),
            file("demo-1.2-py3-none-any.whl", Some(">=3.99"), false),
            file("demo-1.3-py3-none-any.whl", None, true),
            file("demo-1.4-cp311-cp311-win_amd64.whl", None, false),
            file("demo-2.0b1-py3-none-any.whl", None, false),
            file("demo-1.0.post1-py3-none-any.whl", None, false),
        ];
        let egg = |v: &str| super::super::egg::test_egg("demo", v, &[], &[]);
        let python = parse_version("3.11.7");
        // (requirements, installed, best)
        let cases: [(&[&str], &str, Option<&str>); 5] = [
            (&["demo"], "1.0", Some("1.1")),
            (&["demo<1.1"], "1.0", Some("1.0.post1")),
            (&["demo>=2.0a1"], "1.0", Some("2.0b1")),
            (&["demo"], "2.0b1", Some("2.0b1")),
            (&["demo>3"], "1.0", None),
        ];
        for (reqs, installed, expected) in cases {
            let reqs: Vec<Requirement> = reqs.iter().map(|r| Requirement::parse(r).expect("req")).collect();
            let got = best(&files, &reqs, &egg(installed), &interp, python.as_ref());
            assert_eq!(got.map(|v| v.to_string()), expected.map(str::to_owned), "{reqs:?} {installed}");
        }
    }
}
