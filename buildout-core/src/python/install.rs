//! Getting the distributions a requirement set needs: from develop eggs and the eggs directory
//! when they are all there (no network), else from the wheels of local `find-links`
//! directories, else resolved by an installer (`uv pip compile`, `pip install --dry-run
//! --report`) and fetched as wheels (`pip wheel`, which also builds sdists); wheels are unpacked
//! into egg directories by us.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::egg::{Egg, egg_dir_name, unpack_wheel, wheel_info};
use super::interpreter::Interpreter;
use super::requirement::{Requirement, canonical_name, compare_versions};
use super::resolve::{Shortfall, request_information, walk};
use super::{PythonError, io};
use crate::log::Level;

/// Where distributions come from and which versions are allowed.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub eggs_dir: PathBuf,
    pub find_links: Vec<String>,
    pub index: Option<String>,
    pub offline: bool,
    pub newest: bool,
    /// `[versions]` pins by canonical name: `1.0` (exact) or a specifier such as `>=6.0.1`.
    pub versions: BTreeMap<String, String>,
    pub allow_picked_versions: bool,
    pub show_picked_versions: bool,
    /// `allow-unknown-extras`: a requirement may name extras its distribution does not provide.
    pub allow_unknown_extras: bool,
    /// `download-cache`: wheels are kept in its `dist/` subdirectory.
    pub download_cache: Option<PathBuf>,
    /// `develop-eggs-directory`, whose develop eggs are chosen over any other distribution.
    pub develop_eggs_dir: Option<PathBuf>,
}

impl Settings {
    pub(super) fn pin(&self, key: &str) -> Option<String> {
        let pin = self.versions.get(key)?.trim();
        if pin.is_empty() {
            return None;
        }
        Some(if pin.starts_with(['<', '>', '=', '!', '~']) { pin.to_owned() } else { format!("=={pin}") })
    }

    /// zc.buildout's `_constrain`: an exact pin replaces the specifier (the requirement must
    /// allow the pinned version); a pin that is itself a specifier is added to it.
    pub(super) fn constrained(&self, req: &Requirement) -> Requirement {
        let mut r = req.clone();
        if let Some(pin) = self.pin(&req.key()) {
            match pin.strip_prefix("==").filter(|v| !v.contains([',', '*'])) {
                Some(exact) if req.allows(exact) => r.specifier = pin,
                Some(_) => {}
                None => r.specifier = if r.specifier.is_empty() { pin } else { format!("{},{pin}", r.specifier) },
            }
        }
        r
    }

    /// The pin a requirement violates, if it does (`demo>=0.4` with `demo = 0.3`).
    pub(super) fn violated_pin(&self, req: &Requirement) -> Option<String> {
        let pin = self.pin(&req.key())?;
        let exact = pin.strip_prefix("==").filter(|v| !v.contains([',', '*']))?;
        (!req.allows(exact)).then(|| exact.to_owned())
    }
}

/// Log records go to the caller (a recipe logs through its host).
pub type Logger<'a> = &'a mut dyn FnMut(Level, &str);

/// Where fetching and unpacking report how far they have got: `(done, total, message)`.
pub type Progress<'a> = &'a dyn Fn(u64, u64, &str);

/// The distributions there are without fetching any: develop eggs and the eggs directory's.
fn installed(settings: &Settings) -> HashMap<String, Vec<Egg>> {
    let mut by_key: HashMap<String, Vec<Egg>> = HashMap::new();
    if let Some(dir) = &settings.develop_eggs_dir {
        for egg in super::develop::develop_eggs(dir) {
            by_key.entry(egg.key()).or_default().push(egg);
        }
    }
    for entry in std::fs::read_dir(&settings.eggs_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".egg") || name.starts_with('.') {
            continue;
        }
        if let Ok(egg) = Egg::read(&entry.path()) {
            by_key.entry(egg.key()).or_default().push(egg);
        }
    }
    for eggs in by_key.values_mut() {
        // A develop egg first (zc.buildout takes it whenever it satisfies), then the highest
        // version: that is the one chosen when several satisfy.
        eggs.sort_by(|a, b| b.develop.cmp(&a.develop).then_with(|| compare_versions(&b.version, &a.version)));
    }
    by_key
}

/// The requirements an installer must meet for `reqs`: a requirement a develop egg satisfies
/// is replaced by that egg's own requirements (an index knows nothing of develop eggs).
fn without_develop(
    reqs: &[Requirement],
    settings: &Settings,
    env: &crate::config::Environment,
    eggs: &HashMap<String, Vec<Egg>>,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<Requirement> = reqs.iter().rev().cloned().collect();
    while let Some(req) = stack.pop() {
        match installed_for(eggs, settings, &req).filter(|e| e.develop) {
            Some(egg) => {
                if seen.insert((egg.key(), req.extras.clone())) {
                    stack.extend(egg.requires_for(&req.extras, env).into_iter().rev());
                }
            }
            None => out.push(req),
        }
    }
    out
}

/// zc.buildout's error for a requirement naming an extra its distribution does not provide.
const UNKNOWN_EXTRA: &str = "Couldn't find the required extra. This means the requirement is incorrect. If the \
                             requirement is itself from software you requested, then there might be a bug in \
                             requested software. You can ignore this by using 'allow-unknown-extras=true', \
                             however that may simply cause needed software to be omitted.";

/// The installed egg for `req` under the pins: the highest version allowed.
fn installed_for(eggs: &HashMap<String, Vec<Egg>>, settings: &Settings, req: &Requirement) -> Option<Egg> {
    let r = settings.constrained(req);
    eggs.get(&r.key())?.iter().find(|e| r.allows(&e.version)).cloned()
}

/// The working-set walk over installed eggs.
fn resolve_local(
    specs: &[String],
    reqs: &[Requirement],
    settings: &Settings,
    env: &crate::config::Environment,
    eggs: &HashMap<String, Vec<Egg>>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Egg, String)>, Shortfall> {
    walk(specs, reqs, settings, env, &|req| installed_for(eggs, settings, req), warnings)
}

fn pip(interp: &Interpreter) -> Command {
    let mut cmd = Command::new(&interp.executable);
    cmd.args(["-m", "pip"]).env("PIP_DISABLE_PIP_VERSION_CHECK", "1").env("PIP_NO_INPUT", "1");
    cmd
}

fn sources(cmd: &mut Command, settings: &Settings) {
    for link in &settings.find_links {
        cmd.args(["--find-links", link]);
    }
    if let Some(index) = settings.index.as_deref().filter(|i| !i.is_empty()) {
        cmd.args(["--index-url", index]);
    }
}

/// What pip says went wrong, without its noise.
fn pip_failure(output: &std::process::Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let mut lines: Vec<String> = stderr
        .lines()
        .map(|l| l.trim_start_matches("ERROR: ").trim_end())
        .filter(|l| !l.is_empty() && !l.starts_with("WARNING") && !l.starts_with("[notice]"))
        .map(str::to_owned)
        .collect();
    // Which requirements conflict goes to standard output, among what pip did before it failed.
    if let Some(at) = stdout.find("The conflict is caused by:") {
        let block = stdout[at..].split("\nTo fix this").next().unwrap_or_default();
        let block = block.lines().map(str::trim_end).filter(|l| !l.is_empty()).map(str::to_owned);
        let after = lines.len().min(1);
        lines.splice(after..after, block);
    }
    // The message goes after `Error: `.
    lines.join("\n").trim_start().to_owned()
}

/// What uv says went wrong: its explanation without the `error:` and `cause:` labels.
fn uv_failure(output: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end())
        .filter(|l| !l.is_empty() && !l.starts_with("warning:"))
        .map(|l| {
            let l = l.strip_prefix("error: ").unwrap_or(l);
            let inner = l.trim_start();
            match inner.strip_prefix("cause: ").or_else(|| inner.strip_prefix("╰─▶ ")) {
                Some(cause) => format!("  {cause}"),
                None if inner.len() < l.len() => format!("  {inner}"),
                None => l.to_owned(),
            }
        })
        .collect();
    lines.join("\n")
}

/// The `[versions]` pins (canonical names) an installer's explanation mentions, in the order
/// it mentions them, so that the user is told where each is set.
fn pins_mentioned(text: &str, settings: &Settings) -> Vec<String> {
    let mut found = Vec::new();
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)));
    for word in words.map(|w| canonical_name(w.trim_matches(['.', '-', '_']))) {
        if settings.pin(&word).is_some() && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

struct Picked {
    name: String,
    version: String,
    url: String,
    /// The (constrained) requirement it was picked for, when picked in zc.buildout's walk.
    requirement: Option<String>,
}

/// The `[versions]` pins as a constraints file. Pins of the requested distributions are in the
/// requirements themselves; as constraints too, a missing version would be reported as a
/// conflict.
fn constraints_text(settings: &Settings, reqs: &[Requirement]) -> String {
    let requested: HashSet<String> = reqs.iter().map(Requirement::key).collect();
    settings
        .versions
        .keys()
        .filter(|k| !requested.contains(*k))
        .filter_map(|k| settings.pin(k).map(|p| format!("{k}{p}\n")))
        .collect()
}

/// Resolves with pip, without installing anything.
fn resolve_with_pip(
    interp: &Interpreter,
    reqs: &[Requirement],
    settings: &Settings,
    work: &Path,
) -> Result<Vec<Picked>, PythonError> {
    let report = work.join("report.json");
    let constraints = work.join("constraints.txt");
    let pins = constraints_text(settings, reqs);
    std::fs::write(&constraints, pins).map_err(|e| io(&constraints, e))?;
    let mut cmd = pip(interp);
    // Not quiet: a quiet pip leaves out which requirements conflict.
    cmd.args(["install", "--dry-run", "--ignore-installed", "--progress-bar", "off", "--report"])
        .arg(&report)
        .arg("-c")
        .arg(&constraints);
    sources(&mut cmd, settings);
    cmd.args(reqs.iter().map(|r| settings.constrained(r).to_string()));
    let out = crate::interrupt::output(&mut cmd).map_err(super::run_error(&interp.executable))?;
    if !out.status.success() {
        let failure = pip_failure(&out);
        let missing = failure.lines().find_map(|l| l.strip_prefix("No matching distribution found for "));
        return Err(match missing {
            Some(r) => PythonError::Missing { requirement: r.trim().to_owned(), chain: Vec::new() },
            None if failure.contains("ResolutionImpossible") => {
                PythonError::Conflict { pins: pins_mentioned(&failure, settings), message: failure }
            }
            None => PythonError::Resolve(failure),
        });
    }
    let text = std::fs::read_to_string(&report).map_err(|e| io(&report, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&report, e))?;
    Ok(json["install"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| Picked {
                    name: i["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                    version: i["metadata"]["version"].as_str().unwrap_or_default().to_owned(),
                    url: i["download_info"]["url"].as_str().unwrap_or_default().to_owned(),
                    requirement: None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Resolves with uv when it is on PATH: much faster than pip, whose start-up dominates a cold
/// install. uv gives names and versions; wheels are then taken from local `find-links`
/// directories, or fetched by pip.
fn resolve_with_uv(
    interp: &Interpreter,
    reqs: &[Requirement],
    settings: &Settings,
    work: &Path,
) -> Option<Result<Vec<Picked>, PythonError>> {
    let uv =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("uv")).find(|u| u.is_file()))?;
    let constraints = work.join("uv-constraints.txt");
    let pins = constraints_text(settings, reqs);
    std::fs::write(&constraints, pins).ok()?;
    let mut cmd = Command::new(uv);
    cmd.args(["pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python"]).arg(&interp.executable);
    cmd.arg("-c").arg(&constraints);
    for link in &settings.find_links {
        cmd.args(["--find-links", link]);
    }
    match settings.index.as_deref().filter(|i| !i.is_empty()) {
        // An index that is a missing local directory means "no index" (a common offline idiom).
        Some(i) if i.strip_prefix("file://").is_some_and(|p| !Path::new(p).exists()) => {
            cmd.arg("--no-index");
        }
        Some(i) => {
            cmd.args(["--index-url", i]);
        }
        None => {}
    }
    let input = work.join("uv-requirements.in");
    let lines: String = reqs.iter().map(|r| format!("{}\n", settings.constrained(r))).collect();
    std::fs::write(&input, lines).ok()?;
    cmd.arg(&input);
    // Any failure falls back to pip; when interrupted, pip is not started and says so.
    let out = crate::interrupt::output(&mut cmd).ok()?;
    if !out.status.success() {
        let failure = uv_failure(&out);
        if failure.starts_with("No solution found") {
            return Some(Err(PythonError::Conflict { pins: pins_mentioned(&failure, settings), message: failure }));
        }
        // Let pip resolve (and explain) what uv could not.
        return None;
    }
    let picked = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(name, version)| {
            let (name, version) = (name.trim().to_owned(), version.trim().to_owned());
            let url = find_wheel(&settings.find_links, &name, &version)
                .map(|p| format!("file://{}", p.display()))
                .unwrap_or_default();
            Picked { name, version, url, requirement: None }
        })
        .collect();
    Some(Ok(picked))
}

/// Resolves from the eggs directory and the wheels in local `find-links` directories, without
/// an installer, when that picks what an index would: when those directories are all the
/// sources there are, or when every distribution taken from them is pinned to one version.
/// `None` leaves it to an installer (a missing distribution, the best version only as a source
/// distribution, a link or index on the network).
fn resolve_with_links(
    interp: &Interpreter,
    specs: &[String],
    reqs: &[Requirement],
    settings: &Settings,
    env: &crate::config::Environment,
    eggs: &HashMap<String, Vec<Egg>>,
) -> Option<Result<Vec<Picked>, PythonError>> {
    if settings.offline || settings.find_links.is_empty() {
        return None;
    }
    let local = super::links::all_local(&settings.find_links, settings.index.as_deref());
    let links = super::links::Links::scan(&settings.find_links, interp);
    // Egg directory → the wheel it would be unpacked from.
    let from_wheels: RefCell<HashMap<PathBuf, PathBuf>> = RefCell::default();
    // Set when the best distribution is there, but not as a wheel for this Python.
    let needs_installer = std::cell::Cell::new(false);
    // A wheel that cannot be read: an error whoever resolves (pip would stop at it too).
    let broken: RefCell<Option<PythonError>> = RefCell::default();
    // Versions passed over because they need another Python, by name.
    let other_python: RefCell<HashMap<String, Vec<String>>> = RefCell::default();
    let find = |req: &Requirement| -> Option<Egg> {
        let have = installed_for(eggs, settings, req);
        if let Some(egg) = &have
            && (egg.develop || !settings.newest)
        {
            return have;
        }
        for found in links.candidates(&settings.constrained(req)) {
            if let Some(egg) = &have
                && compare_versions(&found.version, &egg.version).is_le()
            {
                return have;
            }
            // A source distribution needs an installer to build it.
            let Some(wheel) = &found.wheel else {
                needs_installer.set(true);
                return None;
            };
            let mut egg = match Egg::from_wheel(wheel, Path::new("")) {
                Ok(egg) => egg,
                Err(e) => {
                    let requirement = settings.constrained(req).to_string();
                    broken.borrow_mut().get_or_insert(PythonError::BadWheelFor { requirement, source: Box::new(e) });
                    return None;
                }
            };
            // pip passes over a version for another Python and takes an older one.
            if !egg.runs_on(&interp.info.full_version) {
                let needs = format!(
                    "{} {} requires Python {}",
                    super::egg::safe_name(&egg.name),
                    egg.version,
                    egg.requires_python.as_deref().unwrap_or_default()
                );
                other_python.borrow_mut().entry(req.key()).or_default().push(needs);
                continue;
            }
            egg.dir = settings.eggs_dir.join(egg_dir_name(&egg.name, &egg.version, &interp.py_tag(), &interp.platform));
            from_wheels.borrow_mut().insert(egg.dir.clone(), wheel.clone());
            return Some(egg);
        }
        have
    };
    let walked = walk(specs, reqs, settings, env, &find, &mut Vec::new());
    if let Some(e) = broken.into_inner() {
        // With an index too, pip may well take another file than the broken one.
        return local.then_some(Err(e));
    }
    let ws = match walked {
        Ok(ws) => ws,
        Err(Shortfall::Missing { req, .. }) if local && other_python.borrow().contains_key(&req.key()) => {
            let mut needs = other_python.borrow_mut().remove(&req.key()).unwrap_or_default();
            needs.dedup();
            return Some(Err(PythonError::OtherPython {
                requirement: settings.constrained(&req).to_string(),
                python: format!("{}.{}", interp.major, interp.minor),
                needs: needs.join(", "),
            }));
        }
        // zc.buildout fetches what it walked through before it finds a conflict; so do we,
        // and the walk over the installed eggs then explains the conflict.
        Err(
            Shortfall::Conflict { added, .. } | Shortfall::Missing { added, .. } | Shortfall::UnknownExtras(added, _),
        ) if local && !needs_installer.get() => added,
        Err(_) => return None,
    };
    let from_wheels = from_wheels.into_inner();
    let exact = |e: &Egg| settings.pin(&e.key()).is_some_and(|p| p.starts_with("=="));
    let as_an_index_would = ws
        .iter()
        .all(|(e, _)| local || e.develop || exact(e) || (!settings.newest && !from_wheels.contains_key(&e.dir)));
    if !as_an_index_would {
        return None;
    }
    let picked = ws
        .into_iter()
        .map(|(e, requirement)| Picked {
            url: from_wheels.get(&e.dir).map(|w| format!("file://{}", w.display())).unwrap_or_default(),
            name: e.name,
            version: e.version,
            requirement: Some(requirement),
        })
        .collect();
    Some(Ok(picked))
}

/// A wheel for `name` `version` in a local `find-links` directory.
fn find_wheel(links: &[String], name: &str, version: &str) -> Option<PathBuf> {
    let prefix = format!("{}-{version}-", canonical_name(name).replace('-', "_"));
    links.iter().map(|l| PathBuf::from(l.strip_prefix("file://").unwrap_or(l))).filter(|d| d.is_dir()).find_map(|d| {
        std::fs::read_dir(&d).ok()?.flatten().map(|e| e.path()).find(|p| {
            let file = p.file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
            file.ends_with(".whl") && file.starts_with(&prefix.to_lowercase())
        })
    })
}

fn local_wheel(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://")?;
    path.ends_with(".whl").then(|| PathBuf::from(path))
}

/// The eggs for `specs` (requirement strings), in working-set order, installing what is missing.
pub fn working_set(
    interp: &Interpreter,
    specs: &[String],
    settings: &Settings,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Result<Vec<Egg>, PythonError> {
    // What killed runs left in the eggs directory (one listing: cheap).
    crate::interrupt::sweep(&settings.eggs_dir);
    let env = interp.environment();
    let reqs: Vec<Requirement> = specs
        .iter()
        .map(|s| Requirement::parse(s))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|r| r.applies(&env, ""))
        .collect();
    for req in &reqs {
        if let Some(pin) = settings.violated_pin(req) {
            log(Level::Info, &request_information(&req.key(), specs, settings));
            let message = format!(
                "The requirement ({}) is not allowed by your [versions] constraint ({pin})",
                crate::config::pytext::repr(&req.to_string())
            );
            return Err(PythonError::Conflict { message, pins: vec![req.key()] });
        }
    }
    let eggs = installed(settings);
    let mut warnings = Vec::new();
    match resolve_local(specs, &reqs, settings, &env, &eggs, &mut warnings) {
        // Everything is here: no network when not looking for newer versions, or when every
        // distribution is pinned (nothing newer could be chosen).
        Ok(ws)
            if !settings.newest
                || settings.offline
                || ws.iter().all(|(e, _)| e.develop || settings.pin(&e.key()).is_some_and(|p| p.starts_with("=="))) =>
        {
            warn_all(&warnings, log);
            return finish(ws, &HashSet::new(), settings, log);
        }
        Err(Shortfall::UnknownExtras(_, warnings)) => {
            warn_all(&warnings, log);
            return Err(PythonError::Resolve(UNKNOWN_EXTRA.to_owned()));
        }
        Err(Shortfall::Conflict { message, information, pins, .. }) if settings.offline => {
            log(Level::Info, &information);
            return Err(PythonError::Conflict { message, pins });
        }
        Err(Shortfall::Missing { req, .. }) if settings.offline => {
            return Err(PythonError::Offline { requirement: settings.constrained(&req).to_string() });
        }
        _ => {}
    }
    let work = tempfile::tempdir().map_err(|e| io(Path::new("temporary directory"), e))?;
    let mut picked = match resolve_with_links(interp, specs, &reqs, settings, &env, &eggs) {
        Some(result) => result?,
        None => {
            let reqs = without_develop(&reqs, settings, &env, &eggs);
            match resolve_with_uv(interp, &reqs, settings, work.path()) {
                Some(result) => result?,
                None => resolve_with_pip(interp, &reqs, settings, work.path())?,
            }
        }
    };
    let have =
        |p: &Picked| eggs.get(&canonical_name(&p.name)).is_some_and(|v| v.iter().any(|e| e.version == p.version));
    let unpinned = |p: &Picked| {
        settings.pin(&canonical_name(&p.name)).is_none()
            && !eggs.get(&canonical_name(&p.name)).is_some_and(|v| v.iter().any(|e| e.develop))
    };
    let mut refused = None;
    if !settings.allow_picked_versions
        && let Some(at) = picked.iter().position(|p| unpinned(p) && !have(p))
    {
        let p = &picked[at];
        match &p.requirement {
            // In zc.buildout's walk, it fetches what it walks through up to the unpinned
            // distribution, that one too, and then refuses it.
            Some(requirement) => {
                refused = Some((p.name.clone(), p.version.clone(), requirement.clone()));
                picked.truncate(at + 1);
            }
            // An installer's picks come in no useful order: refuse before fetching any.
            None => {
                let requirement = reqs
                    .iter()
                    .find(|r| r.key() == canonical_name(&p.name))
                    .map_or_else(|| p.name.clone(), |r| r.to_string());
                let (name, version) = (p.name.clone(), p.version.clone());
                return Err(PythonError::Picked { name, version, requirement, fetched: false });
            }
        }
    }
    let mut fetch = Vec::new();
    let mut unpack: Vec<PathBuf> = Vec::new();
    for p in picked.iter().filter(|p| !have(p)) {
        match local_wheel(&p.url) {
            Some(wheel) => unpack.push(wheel),
            None => fetch.push(format!("{}=={}", p.name, p.version)),
        }
    }
    if !fetch.is_empty() {
        let dir = match &settings.download_cache {
            Some(cache) => cache.join("dist"),
            None => work.path().join("wheels"),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        progress(0, fetch.len() as u64, &format!("Fetching {} distributions", fetch.len()));
        let mut cmd = pip(interp);
        cmd.args(["wheel", "--no-deps", "--quiet", "-w"]).arg(&dir);
        sources(&mut cmd, settings);
        cmd.args(&fetch);
        let out = crate::interrupt::output(&mut cmd).map_err(super::run_error(&interp.executable))?;
        if !out.status.success() {
            return Err(PythonError::Resolve(pip_failure(&out)));
        }
        let wanted: HashSet<String> =
            fetch.iter().map(|f| canonical_name(f.split("==").next().unwrap_or(""))).collect();
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let project = name.split('-').next().unwrap_or("");
            if name.ends_with(".whl") && wanted.contains(&canonical_name(project)) {
                unpack.push(entry.path());
            }
        }
    }
    unpack_all(interp, settings, &unpack, progress)?;
    if let Some((name, version, requirement)) = refused {
        for p in picked.iter().filter(|p| !have(p)) {
            log_fetched(log, p.requirement.as_deref().unwrap_or(&p.name), &p.name, &p.version);
        }
        return Err(PythonError::Picked { name, version, requirement, fetched: true });
    }
    let before: HashSet<PathBuf> = eggs.values().flatten().map(|e| e.dir.clone()).collect();
    let eggs = installed(settings);
    let mut warnings = Vec::new();
    let fetched_messages = |ws: &[(Egg, String)], log: Logger<'_>| {
        // What was fetched, in the order zc.buildout fetches it.
        for (egg, req) in ws.iter().filter(|(e, _)| !before.contains(&e.dir)) {
            log_fetched(log, req, &egg.name, &egg.version);
        }
    };
    match resolve_local(specs, &reqs, settings, &env, &eggs, &mut warnings) {
        Ok(ws) => {
            fetched_messages(&ws, log);
            warn_all(&warnings, log);
            let fetched: HashSet<PathBuf> =
                ws.iter().map(|(e, _)| e.dir.clone()).filter(|d| !before.contains(d)).collect();
            finish(ws, &fetched, settings, log)
        }
        Err(Shortfall::Conflict { message, information, added, pins }) => {
            fetched_messages(&added, log);
            log(Level::Info, &information);
            Err(PythonError::Conflict { message, pins })
        }
        Err(Shortfall::UnknownExtras(added, warnings)) => {
            fetched_messages(&added, log);
            warn_all(&warnings, log);
            Err(PythonError::Resolve(UNKNOWN_EXTRA.to_owned()))
        }
        Err(Shortfall::Missing { req, chain, added }) => {
            fetched_messages(&added, log);
            let requirement = settings.constrained(&req).to_string();
            Err(PythonError::Missing { requirement, chain })
        }
    }
}

/// zc.buildout's two lines for a distribution it fetched for `requirement`.
fn log_fetched(log: Logger<'_>, requirement: &str, name: &str, version: &str) {
    log(Level::Info, &format!("Getting distribution for {}.", crate::config::pytext::repr(requirement)));
    log(Level::Info, &format!("Got {} {version}.", super::egg::safe_name(name)));
}

fn warn_all(warnings: &[String], log: Logger<'_>) {
    for w in warnings {
        log(Level::Warning, w);
    }
}

/// Unpacks wheels into egg directories, several at a time.
fn unpack_all(
    interp: &Interpreter,
    settings: &Settings,
    wheels: &[PathBuf],
    progress: Progress<'_>,
) -> Result<(), PythonError> {
    let total = wheels.len() as u64;
    let cache = super::cache::dir();
    let cache = &cache;
    let unpack = |wheel: &Path| -> Result<String, PythonError> {
        let info = wheel_info(wheel)?;
        let dest = settings.eggs_dir.join(egg_dir_name(&info.name, &info.version, &interp.py_tag(), &interp.platform));
        if !dest.is_dir() {
            unpack_wheel(wheel, &dest, cache.as_deref().map(|c| (c, info.key.as_str())))?;
        }
        Ok(format!("{} {}", info.name, info.version))
    };
    let results: Vec<Result<(), PythonError>> = std::thread::scope(|scope| {
        // Workers say which wheel they finished; this thread reports, as the host is not Sync.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<String>();
        let handles: Vec<_> = wheels
            .chunks(wheels.len().div_ceil(4).max(1))
            .map(|chunk| {
                let done_tx = done_tx.clone();
                let unpack = &unpack;
                scope.spawn(move || {
                    chunk.iter().try_for_each(|wheel| {
                        let done = unpack(wheel)?;
                        let _ = done_tx.send(done);
                        Ok(())
                    })
                })
            })
            .collect();
        drop(done_tx);
        progress(0, total, "Unpacking");
        for (n, name) in done_rx.iter().enumerate() {
            progress(n as u64 + 1, total, &name);
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(PythonError::Resolve("unpacking a wheel panicked".into()))))
            .collect()
    });
    results.into_iter().collect()
}

/// Checks picked versions against `allow-picked-versions`, reports them if asked, and returns
/// the working set in zc.buildout's order: a distribution it just fetched goes in front of the
/// others, one it found installed goes after them (pkg_resources' `add` with and without
/// `replace`).
fn finish(
    added: Vec<(Egg, String)>,
    fetched: &HashSet<PathBuf>,
    settings: &Settings,
    log: Logger<'_>,
) -> Result<Vec<Egg>, PythonError> {
    let mut ws: std::collections::VecDeque<Egg> = std::collections::VecDeque::new();
    for (egg, _) in added {
        if fetched.contains(&egg.dir) {
            ws.push_front(egg);
        } else {
            ws.push_back(egg);
        }
    }
    let ws: Vec<Egg> = ws.into();
    let picked: Vec<&Egg> = ws.iter().filter(|e| !e.develop && settings.pin(&e.key()).is_none()).collect();
    if let (false, Some(first)) = (settings.allow_picked_versions, picked.first()) {
        return Err(PythonError::Picked {
            name: first.name.clone(),
            version: first.version.clone(),
            requirement: first.name.clone(),
            fetched: false,
        });
    }
    let _ = log;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egg(name: &str, version: &str, requires: &[&str]) -> Egg {
        super::super::egg::test_egg(name, version, requires, &["x"])
    }

    fn output(stdout: &str, stderr: &str) -> std::process::Output {
        use std::os::unix::process::ExitStatusExt;
        std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn installer_failures_keep_the_explanation() {
        let pip_stdout = "Collecting ZEO==6.2\n  Downloading zeo-6.2-py3-none-any.whl (247 kB)\n\nThe conflict is caused by:\n    \
                          zeo 6.2 depends on ZODB>=5.1.1\n    The user requested (constraint) zodb==4.0.0\n\nTo fix this you \
                          could try to:\n1. loosen the range\n";
        let pip_stderr = "ERROR: Cannot install zeo==6.2 because these package versions have conflicting dependencies.\n\
                          ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/\n[notice] A new release\n";
        assert_eq!(
            pip_failure(&output(pip_stdout, pip_stderr)),
            "Cannot install zeo==6.2 because these package versions have conflicting dependencies.\nThe conflict is \
             caused by:\n    zeo 6.2 depends on ZODB>=5.1.1\n    The user requested (constraint) zodb==4.0.0\n\
             ResolutionImpossible: for help visit https://pip.pypa.io/"
        );
        assert_eq!(
            pip_failure(&output("Collecting nothing\n", "ERROR: No matching distribution found for nothing\n")),
            "No matching distribution found for nothing"
        );
        let uv_stderr = "warning: something\nerror: No solution found when resolving dependencies:\n  cause: Because zeo>=6.2 \
                         depends on zodb>=5.1.1 and zodb==4.0.0, we can conclude that zeo>=6.2 cannot be used.\n         \
                         And because you require zeo==6.2, we can conclude that your requirements are unsatisfiable.\n";
        let uv = uv_failure(&output("", uv_stderr));
        assert_eq!(
            uv,
            "No solution found when resolving dependencies:\n  Because zeo>=6.2 depends on zodb>=5.1.1 and zodb==4.0.0, we \
             can conclude that zeo>=6.2 cannot be used.\n  And because you require zeo==6.2, we can conclude that your \
             requirements are unsatisfiable."
        );
        let settings = Settings {
            versions: [("zeo", "6.2"), ("zodb", "4.0.0"), ("zope-interface", "8.7"), ("transaction", "")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..Settings::default()
        };
        let cases: [(&str, &[&str]); 4] = [
            (&uv, &["zeo", "zodb"]),
            ("zope.interface==8.7 conflicts with transaction", &["zope-interface"]),
            ("The user requested (constraint) ZODB==4.0.0.", &["zodb"]),
            ("nothing pinned here: zeodb", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(pins_mentioned(text, &settings), *expected, "{text}");
        }
    }

    #[test]
    fn unknown_extras_are_refused_unless_allowed() {
        let env = crate::config::Environment::current();
        let eggs: HashMap<String, Vec<Egg>> =
            [("a".to_owned(), vec![egg("A", "1", &["B ; extra == 'x'"])]), ("b".to_owned(), vec![egg("B", "2", &[])])]
                .into_iter()
                .collect();
        let reqs = [Requirement::parse("A[x,NoSuch]").expect("req")];
        let mut warnings = Vec::new();
        let refused = resolve_local(&[], &reqs, &Settings::default(), env, &eggs, &mut warnings);
        let Err(Shortfall::UnknownExtras(added, warned)) = refused else { panic!("refused") };
        assert_eq!(added.len(), 1);
        assert_eq!(warned, ["A 1 does not provide the extra 'nosuch'"]);
        let allowed = Settings { allow_unknown_extras: true, ..Settings::default() };
        let mut warnings = Vec::new();
        let Ok(ws) = resolve_local(&[], &reqs, &allowed, env, &eggs, &mut warnings) else { panic!("allowed") };
        let names: Vec<&str> = ws.iter().map(|(e, _)| e.name.as_str()).collect();
        assert_eq!(names, ["A", "B"], "the provided extra still brings B");
        assert_eq!(warnings, ["A 1 does not provide the extra 'nosuch'"]);
    }

    #[test]
    fn working_set_order_and_pins() {
        let mut eggs: HashMap<String, Vec<Egg>> = HashMap::new();
        for e in [
            egg("A", "1", &["B", "C"]),
            egg("B", "2", &["D"]),
            egg("C", "1", &[]),
            egg("D", "1", &[]),
            egg("D", "2", &[]),
        ] {
            eggs.entry(e.key()).or_default().push(e);
        }
        for list in eggs.values_mut() {
            list.reverse();
        }
        let settings =
            Settings { versions: [("d".to_owned(), "1".to_owned())].into_iter().collect(), ..Settings::default() };
        let env = crate::config::Environment::current();
        let reqs = [Requirement::parse("A").expect("req")];
        let Ok(ws) = resolve_local(&[], &reqs, &settings, env, &eggs, &mut Vec::new()) else { panic!("resolves") };
        let names: Vec<String> = ws.iter().map(|(e, r)| format!("{}-{} {r}", e.name, e.version)).collect();
        // zc.buildout's stack: requirements are taken from the front and each one's own
        // requirements pushed in reverse order; pins constrain what is asked for.
        assert_eq!(names, ["A-1 A", "C-1 C", "B-2 B", "D-1 D==1"]);
        let missing =
            resolve_local(&[], &[Requirement::parse("Z").expect("req")], &settings, env, &eggs, &mut Vec::new());
        assert!(matches!(missing, Err(Shortfall::Missing { .. })));
    }
}
