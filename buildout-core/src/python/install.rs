//! Getting the distributions a requirement set needs: from develop eggs and the eggs directory
//! when they are all there (asking the index, through the HTTP cache, only whether anything
//! newer exists), else from the wheels of local `find-links` directories, else resolved by uv
//! (pip when there is no uv) and fetched by us (see [`super::fetch`]); wheels are unpacked into
//! egg directories by us.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::egg::{Egg, egg_dir_name};
use super::fetch::{Builder, Fetcher, Job};
use super::index::{Index, Sources};
use super::interpreter::Interpreter;
use super::lock::LockedFile;
pub(super) use super::lock::Picked;
use super::requirement::{Requirement, canonical_name, compare_versions};
use super::resolve::{Shortfall, request_information, walk};
pub use super::settings::{Logger, Progress, Settings};
use super::{PythonError, io};
use crate::log::Level;

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
    env: &pep508_rs::MarkerEnvironment,
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
    env: &pep508_rs::MarkerEnvironment,
    eggs: &HashMap<String, Vec<Egg>>,
    chosen: &HashMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Egg, String)>, Shortfall> {
    // A version a resolver chose wins over a higher one installed for another buildout, as
    // long as the requirement allows it: the resolver saw every requirement at once.
    let find = |req: &Requirement| {
        let r = settings.constrained(req);
        chosen
            .get(&r.key())
            .and_then(|v| eggs.get(&r.key())?.iter().find(|e| &e.version == v && r.allows(&e.version)).cloned())
            .or_else(|| installed_for(eggs, settings, req))
    };
    walk(specs, reqs, settings, env, &find, warnings)
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

/// Finds each requirement's distribution among the installed eggs and the wheels of local
/// `find-links` directories, for zc.buildout's walk, noting along the way what only an installer
/// could settle.
struct LinkFinder<'a> {
    interp: &'a Interpreter,
    settings: &'a Settings,
    eggs: &'a HashMap<String, Vec<Egg>>,
    links: super::links::Links,
    /// Egg directory → the wheel it would be unpacked from.
    from_wheels: RefCell<HashMap<PathBuf, PathBuf>>,
    /// Set when the best distribution is there, but not as a wheel for this Python.
    needs_installer: std::cell::Cell<bool>,
    /// A wheel that cannot be read: an error whoever resolves (pip would stop at it too).
    broken: RefCell<Option<PythonError>>,
    /// Versions passed over because they need another Python, by name.
    other_python: RefCell<HashMap<String, Vec<String>>>,
}

impl LinkFinder<'_> {
    /// The distribution for `req`: the installed one when it will do (a develop egg, not newest
    /// mode, or nothing better among the wheels), else the best wheel for this Python.
    fn find(&self, req: &Requirement) -> Option<Egg> {
        let settings = self.settings;
        let have = installed_for(self.eggs, settings, req);
        if let Some(egg) = &have
            && (egg.develop || !settings.newest)
        {
            return have;
        }
        for found in self.links.candidates(&settings.constrained(req)) {
            if let Some(egg) = &have
                && compare_versions(&found.version, &egg.version).is_le()
            {
                return have;
            }
            // A source distribution needs an installer to build it.
            let Some(wheel) = &found.wheel else {
                self.needs_installer.set(true);
                return None;
            };
            let mut egg = match Egg::from_wheel(wheel, Path::new("")) {
                Ok(egg) => egg,
                Err(e) => {
                    let requirement = settings.constrained(req).to_string();
                    self.broken
                        .borrow_mut()
                        .get_or_insert(PythonError::BadWheelFor { requirement, source: Box::new(e) });
                    return None;
                }
            };
            // pip passes over a version for another Python and takes an older one.
            if !egg.runs_on(&self.interp.info.full_version) {
                let needs = format!(
                    "{} {} requires Python {}",
                    super::egg::safe_name(&egg.name),
                    egg.version,
                    egg.requires_python.as_deref().unwrap_or_default()
                );
                self.other_python.borrow_mut().entry(req.key()).or_default().push(needs);
                continue;
            }
            let interp = self.interp;
            egg.dir = settings.eggs_dir.join(egg_dir_name(&egg.name, &egg.version, &interp.py_tag(), &interp.platform));
            self.from_wheels.borrow_mut().insert(egg.dir.clone(), wheel.clone());
            return Some(egg);
        }
        have
    }
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
    env: &pep508_rs::MarkerEnvironment,
    eggs: &HashMap<String, Vec<Egg>>,
) -> Option<Result<Vec<Picked>, PythonError>> {
    if settings.offline || settings.find_links.is_empty() {
        return None;
    }
    let local = super::links::all_local(&settings.find_links, settings.index.as_deref());
    let finder = LinkFinder {
        interp,
        settings,
        eggs,
        links: super::links::Links::scan(&settings.find_links, interp),
        from_wheels: RefCell::default(),
        needs_installer: std::cell::Cell::new(false),
        broken: RefCell::default(),
        other_python: RefCell::default(),
    };
    let walked = walk(specs, reqs, settings, env, &|req: &Requirement| finder.find(req), &mut Vec::new());
    if let Some(e) = finder.broken.into_inner() {
        // With an index too, pip may well take another file than the broken one.
        return local.then_some(Err(e));
    }
    let ws = match walked {
        Ok(ws) => ws,
        Err(Shortfall::Missing { req, .. }) if local && finder.other_python.borrow().contains_key(&req.key()) => {
            let mut needs = finder.other_python.borrow_mut().remove(&req.key()).unwrap_or_default();
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
        ) if local && !finder.needs_installer.get() => added,
        Err(_) => return None,
    };
    let from_wheels = finder.from_wheels.into_inner();
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
            file: from_wheels.get(&e.dir).map(|w| LockedFile { url: format!("file://{}", w.display()), sha256: None }),
            sdist: false,
            name: e.name,
            version: e.version,
            requirement: Some(requirement),
        })
        .collect();
    Some(Ok(picked))
}

/// The eggs for `specs` (requirement strings), in working-set order, installing what is missing:
/// settled from what is installed when that is enough, else resolved (see [`resolve`]),
/// fetched, and walked again over what is then installed.
pub fn working_set(
    interp: &Interpreter,
    specs: &[String],
    settings: &Settings,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Result<Vec<Egg>, PythonError> {
    let env = interp.environment()?;
    for link in settings.unreadable_links() {
        log(
            Level::Warning,
            &format!("Couldn't read {link}: buildout reads find-links of http(s) URLs and local paths only"),
        );
    }
    let settings = &settings.without_missing_links();
    let reqs = requested(specs, settings, &env, log)?;
    // What killed runs left behind (their pid is in the name) goes first.
    crate::interrupt::sweep(&settings.eggs_dir);
    let eggs = installed(settings);
    let cell = std::cell::OnceCell::new();
    let result = from_installed_or_fetched(interp, specs, settings, (&env, &reqs, &eggs), &cell, log, progress);
    if let Some(index) = cell.get() {
        index.warn_unreadable(log);
    }
    result
}

/// [`working_set`] once the requirements are parsed and the installed eggs read; `cell` holds
/// the index once one is needed.
fn from_installed_or_fetched(
    interp: &Interpreter,
    specs: &[String],
    settings: &Settings,
    (env, reqs, eggs): (&pep508_rs::MarkerEnvironment, &[Requirement], &HashMap<String, Vec<Egg>>),
    cell: &std::cell::OnceCell<Index>,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Result<Vec<Egg>, PythonError> {
    let index = || cell.get_or_init(|| new_index(settings));
    let ask = Ask { interp, specs, reqs, settings, env };
    // Only the sets that ask to be remembered look at the user cache here.
    let cache = settings.remember.as_ref().and_then(|_| super::cache::dir());
    let record = super::remembered::path(cache.as_deref(), specs, settings, interp);
    let settled = settle_locally(&ask, eggs, &index, log, progress);
    // Offline too: a remembered set is linked from the cache, without the network.
    if matches!(settled, Ok(None) | Err(PythonError::Offline { .. }))
        && let (Some(record), Some(cache)) = (&record, &cache)
        && let Some(ws) = from_remembered(&ask, eggs, record, cache, index(), log, progress)
    {
        return Ok(ws);
    }
    if let Some(ws) = settled? {
        return Ok(ws);
    }
    // The installer stops at a find-links page it cannot read; setuptools passes over one with
    // a warning. So read remote ones first, and leave out those that fail.
    let readable;
    let ask = match readable_links(index(), reqs, settings, log) {
        Some(settings) => {
            readable = settings;
            Ask { settings: &readable, ..ask }
        }
        None => ask,
    };
    let settings = ask.settings;
    let work = tempfile::tempdir().map_err(|e| io(Path::new("temporary directory"), e))?;
    let (mut picked, resolver) = resolve(&ask, eggs, &index, work.path(), log, progress)?;
    let have = |p: &Picked| is_installed(eggs, p);
    let refused = refuse_picked(&mut picked, reqs, settings, eggs, &have)?;
    let mut jobs = Vec::new();
    for p in picked.iter().filter(|p| !have(p)) {
        let file = p.file.clone().ok_or_else(|| {
            PythonError::Resolve(format!("The resolver chose {} {} but no file to get it from.", p.name, p.version))
        })?;
        jobs.push(Job { label: format!("{} {}", p.name, p.version), file, sdist: p.sdist });
    }
    let builder = match &resolver {
        Resolver::Uv(binary) => Builder::Uv(binary),
        Resolver::Links | Resolver::Pip => Builder::Pip,
    };
    // The next run's newest check asks the index about what was just resolved: the resolver
    // read those pages, but through its own cache, not ours. Fetching them into ours while the
    // wheels download lets that run answer from it (no request at all while they are fresh).
    let unpinned: Vec<String> = if !matches!(resolver, Resolver::Links) && settings.newest && !settings.offline {
        let exact = |p: &Picked| settings.pin(&canonical_name(&p.name)).is_some_and(|v| v.starts_with("=="));
        picked.iter().filter(|p| !exact(p)).map(|p| p.name.clone()).collect()
    } else {
        Vec::new()
    };
    let index = index();
    let fetcher = Fetcher { client: index.client(), interp, settings, work: work.path(), builder };
    std::thread::scope(|scope| {
        scope.spawn(|| super::newest::prefetch(index, &unpinned));
        fetcher.run(&jobs, progress)
    })?;
    if let Some((name, version, requirement)) = refused {
        // Named as the distribution names itself (`mr.developer`), not as the resolver
        // normalizes it (`mr-developer`): what zc.buildout says, and what a pin may be written as.
        let now = installed(settings);
        let named = |p: &Picked| {
            now.get(&canonical_name(&p.name))
                .and_then(|v| v.iter().find(|e| same_version(e, p)))
                .map_or_else(|| p.name.clone(), |e| e.name.clone())
        };
        for p in picked.iter().filter(|p| !have(p)) {
            log_fetched(log, p.requirement.as_deref().unwrap_or(&p.name), &named(p), &p.version);
        }
        let refused = Picked { name, version, requirement: None, file: None, sdist: false };
        // zc.buildout names it by its project name (`safe_name`), as in its `Got` line.
        let name = super::egg::safe_name(&named(&refused));
        return Err(PythonError::Picked { name, version: refused.version, requirement, fetched: true });
    }
    let ws = walk_picked(&ask, eggs, &picked, log)?;
    if let (Some(record), false) = (&record, matches!(resolver, Resolver::Links)) {
        super::remembered::write(record, &picked);
    }
    Ok(ws)
}

/// The working set from the resolution remembered in `record` (see [`super::remembered`]),
/// linked from the user cache `cache`; `None` when there is none, or when it no longer settles
/// the set (then nothing it would have logged is logged).
fn from_remembered(
    ask: &Ask<'_>,
    eggs: &HashMap<String, Vec<Egg>>,
    record: &Path,
    cache: &Path,
    index: &Index,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Option<Vec<Egg>> {
    let Ask { interp, settings, .. } = *ask;
    let picked = super::remembered::read(record, cache)?;
    let jobs: Vec<Job> = picked
        .iter()
        .filter(|p| !is_installed(eggs, p))
        .filter_map(|p| Some(Job { label: format!("{} {}", p.name, p.version), file: p.file.clone()?, sdist: false }))
        .collect();
    let work = tempfile::tempdir().ok()?;
    // Only cached wheels: the builder is never asked for.
    let fetcher = Fetcher { client: index.client(), interp, settings, work: work.path(), builder: Builder::Pip };
    fetcher.run(&jobs, progress).ok()?;
    let mut lines = Vec::new();
    let ws = walk_picked(ask, eggs, &picked, &mut |level, line| lines.push((level, line.to_owned()))).ok()?;
    for (level, line) in lines {
        log(level, &line);
    }
    Some(ws)
}

/// Whether a picked distribution is installed already (`eggs`, read before fetching).
fn is_installed(eggs: &HashMap<String, Vec<Egg>>, p: &Picked) -> bool {
    eggs.get(&canonical_name(&p.name)).is_some_and(|v| v.iter().any(|e| same_version(e, p)))
}

/// [`walk_fetched`] once `picked` is fetched: what `eggs` had before is not logged as fetched,
/// and the walk takes what was picked where several versions are installed.
fn walk_picked(
    ask: &Ask<'_>,
    eggs: &HashMap<String, Vec<Egg>>,
    picked: &[Picked],
    log: Logger<'_>,
) -> Result<Vec<Egg>, PythonError> {
    let before: HashSet<PathBuf> = eggs.values().flatten().map(|e| e.dir.clone()).collect();
    let chosen: HashMap<String, String> = picked.iter().map(|p| (canonical_name(&p.name), p.version.clone())).collect();
    walk_fetched(ask.specs, ask.reqs, ask.settings, ask.env, &before, &chosen, log)
}

/// `settings` without the remote `find-links` pages that cannot be read (each logged with
/// setuptools' warning), or `None` when every one can.
fn readable_links(index: &Index, reqs: &[Requirement], settings: &Settings, log: Logger<'_>) -> Option<Settings> {
    if !settings.find_links.iter().any(|l| l.starts_with("http://") || l.starts_with("https://")) {
        return None;
    }
    // Any project reads every find-links page (once: the index keeps them).
    let _ = index.project(reqs.first().map_or("pip", |r| r.name.as_str()));
    let unreadable = index.warn_unreadable(log);
    if unreadable.is_empty() {
        return None;
    }
    let find_links = settings.find_links.iter().filter(|l| !unreadable.contains(l)).cloned().collect();
    Some(Settings { find_links, ..settings.clone() })
}

/// What one [`working_set`] call asks for, and for which Python.
#[derive(Clone, Copy)]
struct Ask<'a> {
    interp: &'a Interpreter,
    specs: &'a [String],
    /// `specs` parsed, those whose markers hold here.
    reqs: &'a [Requirement],
    settings: &'a Settings,
    env: &'a pep508_rs::MarkerEnvironment,
}

/// The requirements of `specs` whose markers hold here; a requirement that a `[versions]` pin
/// excludes is zc.buildout's error, with its information block logged first.
fn requested(
    specs: &[String],
    settings: &Settings,
    env: &pep508_rs::MarkerEnvironment,
    log: Logger<'_>,
) -> Result<Vec<Requirement>, PythonError> {
    let reqs: Vec<Requirement> = specs
        .iter()
        .map(|s| Requirement::parse(s))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|r| r.applies(env, &[]))
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
    Ok(reqs)
}

/// The working set when what is installed settles it: always with `-N` or `-o`, or with every
/// distribution pinned; in newest mode when the index (from the HTTP cache while that is
/// fresh) has nothing better. `None`: a resolver must run.
fn settle_locally<'i>(
    ask: &Ask<'_>,
    eggs: &HashMap<String, Vec<Egg>>,
    index: &dyn Fn() -> &'i Index,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Result<Option<Vec<Egg>>, PythonError> {
    let Ask { interp, specs, reqs, settings, env } = *ask;
    let mut warnings = Vec::new();
    match resolve_local(specs, reqs, settings, env, eggs, &HashMap::new(), &mut warnings) {
        Ok(ws)
            if !settings.newest
                || settings.offline
                || ws.iter().all(|(e, _)| e.develop || settings.pin(&e.key()).is_some_and(|p| p.starts_with("=="))) =>
        {
            warn_all(&warnings, log);
            finish(ws, settings, log).map(Some)
        }
        Ok(ws) => match super::newest::newer(index(), interp, &ws, settings, env, log, progress) {
            None => {
                warn_all(&warnings, log);
                finish(ws, settings, log).map(Some)
            }
            Some(newer) => {
                let text =
                    format!("{} {} is installed and {} is available.", newer.name, newer.installed, newer.available);
                log(Level::Debug, &text);
                Ok(None)
            }
        },
        Err(Shortfall::UnknownExtras(_, warnings)) => {
            warn_all(&warnings, log);
            Err(PythonError::Resolve(UNKNOWN_EXTRA.to_owned()))
        }
        Err(Shortfall::Conflict { message, information, pins, .. }) if settings.offline => {
            log(Level::Info, &information);
            Err(PythonError::Conflict { message, pins })
        }
        Err(Shortfall::Missing { req, .. }) if settings.offline => {
            Err(PythonError::Offline { requirement: settings.constrained(&req).to_string() })
        }
        Err(_) => Ok(None),
    }
}

/// Who chose what to install.
enum Resolver {
    /// Our walk over the wheels of local `find-links` directories.
    Links,
    /// uv, this binary (which also builds source distributions).
    Uv(PathBuf),
    Pip,
}

/// What to install, from the wheels of local `find-links` directories when they settle it,
/// else from uv, else pip.
fn resolve<'i>(
    ask: &Ask<'_>,
    eggs: &HashMap<String, Vec<Egg>>,
    index: &dyn Fn() -> &'i Index,
    work: &Path,
    log: Logger<'_>,
    progress: Progress<'_>,
) -> Result<(Vec<Picked>, Resolver), PythonError> {
    let Ask { interp, specs, reqs, settings, env } = *ask;
    if let Some(result) = resolve_with_links(interp, specs, reqs, settings, env, eggs) {
        return Ok((result?, Resolver::Links));
    }
    let reqs = without_develop(reqs, settings, env, eggs);
    let constraints = constraints_text(settings, &reqs);
    progress(0, 0, "Resolving");
    match super::uv::locate(index(), interp, settings.offline) {
        Ok(binary) => {
            progress(0, 0, &format!("Resolving {} with uv", specs.join(", ")));
            // zc.buildout's non-newest mode keeps what is installed where it can.
            let prefer: Vec<(String, String)> = match settings.newest {
                true => Vec::new(),
                false => eggs
                    .values()
                    .filter_map(|v| v.iter().find(|e| !e.develop))
                    .map(|e| (e.name.clone(), e.version.clone()))
                    .collect(),
            };
            let locked = super::uv::compile(&binary, interp, &reqs, &constraints, &prefer, settings, work)
                .map_err(|e| other_python(e, index(), interp, &reqs, settings))?;
            let picked = locked
                .into_iter()
                .map(|l| Picked {
                    sdist: l.wheel.is_none(),
                    file: l.wheel.or(l.sdist),
                    name: l.name,
                    version: l.version,
                    requirement: None,
                })
                .collect();
            Ok((picked, Resolver::Uv(binary)))
        }
        Err(why) => {
            // Said once a run, not once a part.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                log(Level::Warning, &format!("{why}: resolving with pip, which is slower."));
            }
            progress(0, 0, &format!("Resolving {} with pip", specs.join(", ")));
            let picked = super::pip::resolve(interp, &reqs, &constraints, settings, work)
                .map_err(|e| other_python(e, index(), interp, &reqs, settings))?;
            Ok((picked, Resolver::Pip))
        }
    }
}

/// `allow-picked-versions = false`: the first unpinned distribution that would be fetched is
/// refused. In zc.buildout's walk (local `find-links`) it fetches up to and including that
/// one, then refuses it (`picked` is cut after it and it is returned). A resolver's picks come
/// in no useful order: an unpinned requested distribution is the walk's first (it alone is
/// fetched, then refused); else it refuses before fetching any.
fn refuse_picked(
    picked: &mut Vec<Picked>,
    reqs: &[Requirement],
    settings: &Settings,
    eggs: &HashMap<String, Vec<Egg>>,
    have: &dyn Fn(&Picked) -> bool,
) -> Result<Option<(String, String, String)>, PythonError> {
    if settings.allow_picked_versions {
        return Ok(None);
    }
    let unpinned = |p: &Picked| {
        settings.pin(&canonical_name(&p.name)).is_none()
            && !eggs.get(&canonical_name(&p.name)).is_some_and(|v| v.iter().any(|e| e.develop))
    };
    let Some(at) = picked.iter().position(|p| unpinned(p) && !have(p)) else { return Ok(None) };
    if picked[at].requirement.is_none() {
        // zc.buildout's walk gets the requested distributions first, in the order asked: the
        // first of them that is unpinned is the one it fetches and then refuses.
        let requested = reqs.iter().find_map(|r| {
            let i = picked.iter().position(|p| canonical_name(&p.name) == r.key())?;
            (unpinned(&picked[i]) && !have(&picked[i])).then_some((i, r.to_string()))
        });
        if let Some((i, requirement)) = requested {
            let p = picked.swap_remove(i);
            let refused = (p.name.clone(), p.version.clone(), requirement.clone());
            *picked = vec![Picked { requirement: Some(requirement), ..p }];
            return Ok(Some(refused));
        }
    }
    let p = &picked[at];
    let (name, version) = (p.name.clone(), p.version.clone());
    match p.requirement.clone() {
        Some(requirement) => {
            picked.truncate(at + 1);
            Ok(Some((name, version, requirement)))
        }
        None => {
            let requirement =
                reqs.iter().find(|r| r.key() == canonical_name(&name)).map_or_else(|| name.clone(), |r| r.to_string());
            Err(PythonError::Picked { name, version, requirement, fetched: false })
        }
    }
}

/// zc.buildout's walk over what is installed once everything was fetched, logging what was
/// fetched in its order; its errors are zc.buildout's.
fn walk_fetched(
    specs: &[String],
    reqs: &[Requirement],
    settings: &Settings,
    env: &pep508_rs::MarkerEnvironment,
    before: &HashSet<PathBuf>,
    chosen: &HashMap<String, String>,
    log: Logger<'_>,
) -> Result<Vec<Egg>, PythonError> {
    let eggs = installed(settings);
    let mut warnings = Vec::new();
    let fetched_messages = |ws: &[(Egg, String)], log: Logger<'_>| {
        for (egg, req) in ws.iter().filter(|(e, _)| !before.contains(&e.dir)) {
            log_fetched(log, req, &egg.name, &egg.version);
        }
    };
    match resolve_local(specs, reqs, settings, env, &eggs, chosen, &mut warnings) {
        Ok(ws) => {
            fetched_messages(&ws, log);
            warn_all(&warnings, log);
            finish(ws, settings, log)
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

/// Whether an installed egg is the version a resolver picked (`1.0` and `1.0.0` are one).
fn same_version(egg: &Egg, p: &Picked) -> bool {
    egg.version == p.version || compare_versions(&egg.version, &p.version).is_eq()
}

/// The index and `find-links` of a buildout, through the HTTP cache in the user cache.
fn new_index(settings: &Settings) -> Index {
    let client = crate::http::Client::new(crate::http::ClientOptions {
        cache_dir: super::cache::dir(),
        offline: settings.offline,
        ..crate::http::ClientOptions::default()
    });
    let index = settings.index.clone().filter(|i| !i.is_empty());
    Index::new(client, Sources { index, find_links: settings.find_links.clone() })
}

/// A resolver's failure that comes down to distributions having nothing for this Python: one
/// line naming the distribution, this Python, and what there is (from the index).
fn other_python(
    e: PythonError,
    index: &Index,
    interp: &Interpreter,
    reqs: &[Requirement],
    settings: &Settings,
) -> PythonError {
    let keys = match &e {
        PythonError::Conflict { message, .. } => super::uv::unusable_here(message),
        PythonError::Missing { requirement, .. } => match Requirement::parse(requirement) {
            Ok(r) => vec![r.key()],
            Err(_) => return e,
        },
        _ => return e,
    };
    for key in keys {
        let Ok(mut files) = index.project(&key) else { continue };
        let asked = reqs.iter().find(|r| r.key() == key).map(|r| settings.constrained(r));
        // Only the versions asked for: `Django==6.0` needs Python 3.12 even though Django 5.2
        // runs here.
        if let Some(r) = &asked {
            files.retain(|f| r.allows_version(&f.version));
        }
        let name = asked.as_ref().map_or_else(|| key.clone(), |r| r.name.clone());
        if let Some(needs) = super::other_python::explain(&name, &files, interp) {
            let requirement = asked.as_ref().map_or_else(|| key.clone(), ToString::to_string);
            return PythonError::OtherPython {
                requirement,
                python: format!("{}.{} ({})", interp.major, interp.minor, interp.platform),
                needs,
            };
        }
    }
    e
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

/// Checks picked versions against `allow-picked-versions` and returns the working set in the
/// order scripts list it: every distribution where zc.buildout puts one it has just fetched
/// (pkg_resources adds each in front, so the walk's order reversed), develop eggs after them
/// in the walk's order (never fetched, pkg_resources appends them). zc.buildout puts
/// distributions it finds installed after the others too, so its scripts change on the run
/// after an install; ours are a function of the resolved set alone, and the first install
/// writes what every later run keeps.
fn finish(added: Vec<(Egg, String)>, settings: &Settings, log: Logger<'_>) -> Result<Vec<Egg>, PythonError> {
    let (develop, fetched): (Vec<Egg>, Vec<Egg>) = added.into_iter().map(|(egg, _)| egg).partition(|e| e.develop);
    let ws: Vec<Egg> = fetched.into_iter().rev().chain(develop).collect();
    let picked: Vec<&Egg> = ws.iter().filter(|e| !e.develop && settings.pin(&e.key()).is_none()).collect();
    if let (false, Some(first)) = (settings.allow_picked_versions, picked.first()) {
        return Err(PythonError::Picked {
            name: super::egg::safe_name(&first.name),
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

    #[test]
    fn unknown_extras_are_refused_unless_allowed() {
        let env = &super::super::requirement::test_environment();
        let eggs: HashMap<String, Vec<Egg>> =
            [("a".to_owned(), vec![egg("A", "1", &["B ; extra == 'x'"])]), ("b".to_owned(), vec![egg("B", "2", &[])])]
                .into_iter()
                .collect();
        let reqs = [Requirement::parse("A[x,NoSuch]").expect("req")];
        let mut warnings = Vec::new();
        let refused = resolve_local(&[], &reqs, &Settings::default(), env, &eggs, &HashMap::new(), &mut warnings);
        let Err(Shortfall::UnknownExtras(added, warned)) = refused else { panic!("refused") };
        assert_eq!(added.len(), 1);
        assert_eq!(warned, ["A 1 does not provide the extra 'nosuch'"]);
        let allowed = Settings { allow_unknown_extras: true, ..Settings::default() };
        let mut warnings = Vec::new();
        let Ok(ws) = resolve_local(&[], &reqs, &allowed, env, &eggs, &HashMap::new(), &mut warnings) else {
            panic!("allowed")
        };
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
        let env = &super::super::requirement::test_environment();
        let reqs = [Requirement::parse("A").expect("req")];
        let Ok(ws) = resolve_local(&[], &reqs, &settings, env, &eggs, &HashMap::new(), &mut Vec::new()) else {
            panic!("resolves")
        };
        let names: Vec<String> = ws.iter().map(|(e, r)| format!("{}-{} {r}", e.name, e.version)).collect();
        // zc.buildout's stack: requirements are taken from the front and each one's own
        // requirements pushed in reverse order; pins constrain what is asked for.
        assert_eq!(names, ["A-1 A", "C-1 C", "B-2 B", "D-1 D==1"]);
        let missing = resolve_local(
            &[],
            &[Requirement::parse("Z").expect("req")],
            &settings,
            env,
            &eggs,
            &HashMap::new(),
            &mut Vec::new(),
        );
        assert!(matches!(missing, Err(Shortfall::Missing { .. })));
    }
}
