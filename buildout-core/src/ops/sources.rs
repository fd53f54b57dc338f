//! mr.developer, natively: `[sources]` lists where packages' code lives
//! (`name = kind url [key=value ...]`); those named in `auto-checkout` (`*`: all) are checked out
//! into `sources-dir` before anything is installed and developed (added to `develop`, their
//! `[versions]` pins cleared), as are those activated in `.mr.developer.cfg` (`buildout sources
//! checkout|activate`); `buildout sources status|checkout|update|activate|deactivate [names]`
//! does what mr.developer's `bin/develop` does. Kinds `git` and `fs`; the others stop with one
//! line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::pytext::repr;
use crate::config::{Buildout, Error, pypath};
use crate::log::{Level, Log};

use super::develop::Build;

/// mr.developer's logger: its messages are printed as `mr.developer: ...`.
const LOGGER: &str = "mr.developer";

/// How a package's code is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Git,
    /// Already on the file system (`url` is the package's name).
    Fs,
    /// svn, hg, bzr, darcs, cvs: named in messages, not checked out here.
    Other(String),
}

/// One line of `[sources]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub kind: Kind,
    pub url: String,
    /// Where the code is: `full-path`, else `path` (or `sources-dir`) joined with the name.
    pub path: PathBuf,
    pub branch: Option<String>,
    pub rev: Option<String>,
    pub pushurl: Option<String>,
    /// `egg=false`: checked out and updated, never developed.
    pub egg: bool,
    /// `update=true|false`: updated on every run, or never (else `always-checkout` decides).
    pub update: Option<bool>,
}

/// The `[buildout]` options mr.developer adds, and its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub sources: Vec<Source>,
    /// The names of `auto-checkout` (`*` expanded), in `[sources]` order.
    pub auto_checkout: Vec<String>,
    /// `always-checkout`: `false`, `true` or `force`.
    pub always_checkout: String,
    /// `sources-dir`, against the buildout directory.
    pub sources_dir: PathBuf,
}

impl Sources {
    /// Reads `[buildout] sources` (default `sources`), `sources-dir` (default `src`, against the
    /// buildout directory), `auto-checkout` and `always-checkout`, and the sources section.
    pub fn read(buildout: &mut Buildout) -> crate::config::Result<Sources> {
        let section = buildout.sections.get("buildout", "sources")?.unwrap_or_else(|| "sources".to_owned());
        let dir = buildout.sections.get("buildout", "sources-dir")?.unwrap_or_else(|| "src".to_owned());
        let sources_dir = pypath::join(&buildout.directory, &dir);
        let lines = if buildout.sections.contains(&section) {
            buildout.sections.snapshot(&section)?
        } else {
            Default::default()
        };
        let mut sources = Vec::new();
        for (name, line) in &lines {
            sources.push(
                parse(name, line, &sources_dir, &buildout.directory)
                    .map_err(|e| Error::user(format!("Invalid source {name} in [{section}]: {e}")))?,
            );
        }
        let wanted = buildout.sections.get("buildout", "auto-checkout")?.unwrap_or_default();
        let wanted: Vec<&str> = wanted.split_whitespace().collect();
        for name in wanted.iter().filter(|n| **n != "*") {
            if !sources.iter().any(|s| s.name == *name) {
                return Err(Error::user(format!(
                    "The package {name} in auto-checkout is not in the [{section}] section."
                )));
            }
        }
        let auto_checkout = sources
            .iter()
            .filter(|s| wanted.contains(&"*") || wanted.contains(&s.name.as_str()))
            .map(|s| s.name.clone())
            .collect();
        let always_checkout = buildout.sections.get("buildout", "always-checkout")?.unwrap_or_else(|| "false".into());
        if !["true", "false", "force"].contains(&always_checkout.as_str()) {
            return Err(Error::user(format!(
                "Invalid value for buildout:always-checkout: {always_checkout} (true, false or force)"
            )));
        }
        Ok(Sources { sources, auto_checkout, always_checkout, sources_dir: PathBuf::from(sources_dir) })
    }

    fn named(&self, names: &[String]) -> crate::config::Result<Vec<&Source>> {
        if names.is_empty() {
            return Ok(self.sources.iter().collect());
        }
        names
            .iter()
            .map(|n| {
                self.sources
                    .iter()
                    .find(|s| s.name == *n)
                    .ok_or_else(|| Error::user(format!("There is no package {n} in the sources.")))
            })
            .collect()
    }
}

/// A `[sources]` line: `kind url [key=value ...]`.
fn parse(name: &str, line: &str, sources_dir: &str, directory: &str) -> Result<Source, String> {
    let mut words = line.split_whitespace();
    let kind = match words.next().ok_or("no kind and URL")? {
        "git" => Kind::Git,
        "fs" => Kind::Fs,
        other @ ("svn" | "hg" | "bzr" | "darcs" | "cvs" | "gitsvn") => Kind::Other(other.to_owned()),
        other => return Err(format!("unknown kind {other}")),
    };
    let url = words.next().ok_or("no URL")?.to_owned();
    let mut source = Source {
        name: name.to_owned(),
        kind,
        url,
        path: PathBuf::from(pypath::join(sources_dir, name)),
        branch: None,
        rev: None,
        pushurl: None,
        egg: true,
        update: None,
    };
    let flag = |key: &str, value: &str| match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key}={value} (true or false)")),
    };
    for option in words {
        let (key, value) = option.split_once('=').ok_or_else(|| format!("{option} is not key=value"))?;
        match key {
            "path" => source.path = PathBuf::from(pypath::join(&pypath::join(directory, value), name)),
            "full-path" => source.path = PathBuf::from(pypath::join(directory, value)),
            "branch" => source.branch = Some(value.to_owned()),
            "rev" | "revision" => source.rev = Some(value.to_owned()),
            "pushurl" => source.pushurl = Some(value.to_owned()),
            "egg" => source.egg = flag(key, value)?,
            "update" => source.update = Some(flag(key, value)?),
            // Options of kinds and features not handled here are left to those.
            _ => {}
        }
    }
    if source.branch.is_some() && source.rev.is_some() {
        return Err("branch and rev cannot both be set".to_owned());
    }
    Ok(source)
}

/// mr.developer's record of which packages are developed, `.mr.developer.cfg` in the buildout
/// directory: `[develop]` with `name = true|false|auto` (`bin/develop activate|deactivate`, and
/// `checkout`, set them). Other sections are kept as they are.
struct DevelopState {
    path: PathBuf,
    sections: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

impl DevelopState {
    fn read(directory: &str) -> crate::config::Result<DevelopState> {
        let path = PathBuf::from(pypath::join(directory, ".mr.developer.cfg"));
        let sections = match std::fs::read_to_string(&path) {
            Ok(text) => {
                crate::config::parser::parse(&text, &path.display().to_string(), crate::config::Environment::current())
                    .map_err(|e| Error::user(e.to_string()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(Error::file("read", path.display().to_string(), e)),
        };
        Ok(DevelopState { path, sections })
    }

    /// `Some(true)`: developed when checked out; `Some(false)`: never; `None`: as `auto-checkout`
    /// says.
    fn get(&self, name: &str) -> Option<bool> {
        match self.sections.get("develop")?.get(name)?.to_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.sections.entry("develop".to_owned()).or_default().insert(name.to_owned(), value.to_owned());
    }

    /// What mr.developer's extension records at every run: `auto` for each package it
    /// develops because of `auto-checkout` (unless set otherwise), the command line when it
    /// names no command, and its `rewrites` option.
    fn record_run(&mut self, auto: &[&str], argv: &[String]) {
        self.sections.entry("develop".to_owned()).or_default();
        for name in auto {
            let develop = self.sections.entry("develop".to_owned()).or_default();
            develop.entry(name.to_lowercase()).or_insert_with(|| "auto".to_owned());
        }
        if !names_a_command(argv.get(1..).unwrap_or_default()) {
            let args: Vec<String> = argv.iter().map(|a| repr(a)).collect();
            self.sections.entry("buildout".to_owned()).or_default().insert("args".to_owned(), args.join("\n"));
        }
        self.sections.entry("mr.developer".to_owned()).or_default().entry("rewrites".to_owned()).or_default();
    }

    fn write(&self) -> crate::config::Result<()> {
        let mut text = String::new();
        // mr.developer's order: its own sections first, then what else the file had.
        let ours = ["develop", "buildout", "mr.developer"];
        let order = ours.iter().copied().chain(self.sections.keys().map(String::as_str).filter(|s| !ours.contains(s)));
        for section in order {
            let Some(options) = self.sections.get(section) else { continue };
            text.push_str(&format!("[{section}]\n"));
            for (key, value) in options {
                // configparser's continuation lines.
                text.push_str(&format!("{key} = {}\n", value.replace('\n', "\n\t")));
            }
            text.push('\n');
        }
        let tmp = self.path.with_extension("cfg.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| Error::file("write", self.path.display().to_string(), e))
    }
}

fn git(args: &[&str], dir: Option<&Path>) -> Result<String, String> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    let output = crate::interrupt::output(command.args(args)).map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim_end().to_owned())
    }
}

/// Checks out `source` into its path (which must not exist).
fn checkout(source: &Source, log: &dyn Log) -> crate::config::Result<()> {
    let failed =
        |e: String| Error::user(format!("Couldn't check out {} with git from {}: {e}", source.name, source.url));
    match &source.kind {
        Kind::Git => {
            let path = source.path.display().to_string();
            let mut args = vec!["clone", "--quiet"];
            if let Some(branch) = &source.branch {
                args.extend(["--branch", branch]);
            }
            args.extend(["--", &source.url, &path]);
            git(&args, None).map_err(failed)?;
            if let Some(rev) = &source.rev {
                git(&["checkout", "--quiet", rev], Some(&source.path)).map_err(failed)?;
            }
            if let Some(pushurl) = &source.pushurl {
                git(&["remote", "set-url", "--push", "origin", pushurl], Some(&source.path)).map_err(failed)?;
            }
            log.log(
                Level::Info,
                LOGGER,
                &format!("Cloned {} with git from {}.", repr(&source.name), repr(&source.url)),
            );
            Ok(())
        }
        Kind::Fs => Err(Error::user(format!(
            "The fs source {} is not at {}: an fs source is not checked out, it must be there",
            source.name,
            source.path.display()
        ))),
        Kind::Other(kind) => Err(Error::user(format!(
            "Couldn't check out {}: {kind} sources are not supported (git and fs are)",
            source.name
        ))),
    }
}

/// Brings a checked-out git source to its branch's (or `rev`'s) latest commit.
fn update(source: &Source, force: bool, log: &dyn Log) -> crate::config::Result<()> {
    if source.kind != Kind::Git {
        return Ok(());
    }
    let failed = |e: String| Error::user(format!("Couldn't update {} with git: {e}", source.name));
    let dirty =
        !git(&["status", "--porcelain", "--untracked-files=no"], Some(&source.path)).map_err(failed)?.is_empty();
    if dirty && !force {
        log.log(
            Level::Warning,
            LOGGER,
            &format!(
                "Skipped update of {}: it has local changes (always-checkout = force updates it anyway).",
                repr(&source.name)
            ),
        );
        return Ok(());
    }
    git(&["fetch", "--quiet", "origin"], Some(&source.path)).map_err(failed)?;
    match (&source.rev, &source.branch) {
        (Some(rev), _) => git(&["checkout", "--quiet", rev], Some(&source.path)).map_err(failed)?,
        (None, Some(branch)) => {
            git(&["checkout", "--quiet", branch], Some(&source.path)).map_err(failed)?;
            git(&["merge", "--quiet", "--ff-only", &format!("origin/{branch}")], Some(&source.path)).map_err(failed)?
        }
        (None, None) => git(&["merge", "--quiet", "--ff-only", "@{upstream}"], Some(&source.path)).map_err(failed)?,
    };
    log.log(Level::Info, LOGGER, &format!("Updated {} with git.", repr(&source.name)));
    Ok(())
}

/// Before an install: checks out the `auto-checkout` sources that are not there (and updates
/// those that are, with `always-checkout` or `update=true`), then develops every one that is
/// there: its path goes into `develop`, its `[versions]` pin is cleared. With [`Build::No`]
/// (`plan`) nothing is checked out or updated.
pub fn prepare(buildout: &mut Buildout, log: &dyn Log, build: Build) -> crate::config::Result<()> {
    let sources = Sources::read(buildout).map_err(|e| e.within("Loading extensions."))?;
    if buildout.sections.get("buildout", "always-accept-server-certificate")?.is_some() {
        log.log(
            Level::Info,
            LOGGER,
            "always-accept-server-certificate is ignored: git asks nothing here, it uses the system's certificates.",
        );
    }
    if build == Build::Yes && !sources.sources_dir.exists() {
        // As mr.developer does at every run.
        let dir = sources.sources_dir.display().to_string();
        log.log(Level::Info, LOGGER, &format!("Creating missing sources dir {dir}."));
        std::fs::create_dir_all(&sources.sources_dir).map_err(|e| Error::file("create", dir, e))?;
    }
    let state = DevelopState::read(&buildout.directory)?;
    let mut developed = Vec::new();
    for name in &sources.auto_checkout {
        let Some(source) = sources.sources.iter().find(|s| s.name == *name) else { continue };
        if build == Build::Yes && state.get(name) != Some(false) {
            if !source.path.exists() {
                log.log(Level::Info, LOGGER, &format!("Queued {} for checkout.", repr(name)));
                checkout(source, log).map_err(|e| e.within("Loading extensions."))?;
            } else if source.update.unwrap_or(sources.always_checkout != "false") {
                update(source, sources.always_checkout == "force", log).map_err(|e| e.within("Loading extensions."))?;
            }
        }
    }
    // Developed: what is there and either auto-checkout (unless deactivated) or activated.
    for source in &sources.sources {
        let wanted = match state.get(&source.name) {
            Some(activated) => activated,
            None => sources.auto_checkout.contains(&source.name),
        };
        if wanted && source.egg && source.path.exists() {
            developed.push(source);
        }
    }
    let auto: Vec<&str> = developed
        .iter()
        .filter(|s| sources.auto_checkout.contains(&s.name) && state.get(&s.name).is_none())
        .map(|s| s.name.as_str())
        .collect();
    if developed.is_empty() {
        return add_part_and_record(buildout, &auto, build);
    }
    let mut develop = buildout.sections.get("buildout", "develop")?.unwrap_or_default();
    let versions = buildout.sections.get("buildout", "versions")?.filter(|v| !v.is_empty());
    for source in developed {
        develop.push('\n');
        develop.push_str(&source.path.display().to_string());
        if let Some(versions) = &versions
            && buildout.sections.contains(versions)
            && buildout.sections.get(versions, &source.name)?.is_some()
        {
            buildout.sections.set(versions, &source.name, String::new())?;
        }
    }
    buildout.sections.set("buildout", "develop", develop.trim_start().to_owned())?;
    add_part_and_record(buildout, &auto, build)
}

/// Whether buildout's arguments (after the program) name a command, for mr.developer, which
/// records a plain install's arguments only.
fn names_a_command(args: &[String]) -> bool {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "-c" || word == "-t" {
            words.next();
        } else if !word.starts_with('-') && !word.contains('=') {
            return true;
        }
    }
    false
}

/// The part mr.developer adds in front of `parts`, which installs its `bin/develop`.
const FAKE_PART: &str = "_mr.developer";

/// What mr.developer's extension does after the checkouts, at every run: its part first in
/// `parts` (zc.recipe.egg with `eggs = mr.developer`, for `bin/develop`), and, when the run may
/// change things, its `.mr.developer.cfg` written.
fn add_part_and_record(buildout: &mut Buildout, auto: &[&str], build: Build) -> crate::config::Result<()> {
    let options = [("recipe", "zc.recipe.egg"), ("eggs", "mr.developer")];
    let options = options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if !buildout.sections.add_section(FAKE_PART, options) {
        return Err(Error::user(format!("The buildout already has a '{FAKE_PART}' section, this shouldn't happen"))
            .within("Loading extensions."));
    }
    let parts = buildout.sections.get("buildout", "parts")?.unwrap_or_default();
    let parts: Vec<&str> = std::iter::once(FAKE_PART).chain(parts.split_whitespace()).collect();
    buildout.sections.set("buildout", "parts", parts.join(" "))?;
    if build == Build::Yes {
        let mut state = DevelopState::read(&buildout.directory)?;
        let argv: Vec<String> = std::env::args().collect();
        state.record_run(auto, &argv);
        state.write()?;
    }
    Ok(())
}

/// `buildout sources status|checkout|update [names]`: mr.developer's `bin/develop` commands.
/// Answers what to print.
pub fn command(
    buildout: &mut Buildout,
    log: &dyn Log,
    action: &str,
    names: &[String],
) -> crate::config::Result<String> {
    let sources = Sources::read(buildout)?;
    let chosen = sources.named(names)?;
    let recorded = DevelopState::read(&buildout.directory)?;
    let mut out = String::new();
    match action {
        "status" => {
            for source in chosen {
                let state = match (&source.kind, source.path.exists()) {
                    (_, false) => "not checked out".to_owned(),
                    (Kind::Git, true) => {
                        // Untracked files (the `.egg-info` pip leaves) are not changes.
                        let dirty = git(&["status", "--porcelain", "--untracked-files=no"], Some(&source.path))
                            .map(|s| !s.is_empty());
                        let at = git(&["rev-parse", "--abbrev-ref", "HEAD"], Some(&source.path)).unwrap_or_default();
                        match dirty {
                            Ok(true) => format!("checked out ({at}), modified"),
                            Ok(false) => format!("checked out ({at}), clean"),
                            Err(e) => format!("checked out, git says: {e}"),
                        }
                    }
                    (_, true) => "there".to_owned(),
                };
                let auto = match (recorded.get(&source.name), sources.auto_checkout.contains(&source.name)) {
                    (Some(true), _) => ", activated",
                    (Some(false), _) => ", deactivated",
                    (None, true) => ", auto-checkout",
                    (None, false) => "",
                };
                out.push_str(&format!("{}: {state}{auto} ({})\n", source.name, source.path.display()));
            }
        }
        "checkout" | "co" => {
            let mut state = DevelopState::read(&buildout.directory)?;
            for source in chosen {
                if !source.path.exists() {
                    checkout(source, log)?;
                }
                // Checked out by hand: developed from the next run on, as with bin/develop.
                if state.get(&source.name).is_none() && !sources.auto_checkout.contains(&source.name) {
                    state.set(&source.name, "true");
                }
            }
            state.write()?;
            out.push_str("Run buildout to develop what was checked out.\n");
        }
        "update" | "up" => {
            for source in chosen.into_iter().filter(|s| s.path.exists()) {
                update(source, sources.always_checkout == "force", log)?;
            }
        }
        "activate" | "deactivate" => {
            let mut state = DevelopState::read(&buildout.directory)?;
            for source in chosen {
                state.set(&source.name, if action == "activate" { "true" } else { "false" });
            }
            state.write()?;
            out.push_str("Run buildout for the change to take effect.\n");
        }
        other => {
            return Err(Error::user(format!(
                "Invalid sources command: {other} (status, checkout, update, activate or deactivate, then package names)"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_lines() {
        let src = "/b/src";
        let git = |path: &str| Source {
            name: "my.pkg".into(),
            kind: Kind::Git,
            url: "https://example.com/my.pkg.git".into(),
            path: PathBuf::from(path),
            branch: None,
            rev: None,
            pushurl: None,
            egg: true,
            update: None,
        };
        // (line, expected)
        let cases: Vec<(&str, Result<Source, &str>)> = vec![
            ("git https://example.com/my.pkg.git", Ok(git("/b/src/my.pkg"))),
            (
                "git https://example.com/my.pkg.git branch=1.x pushurl=git@example.com:my.pkg.git egg=false update=true",
                Ok(Source {
                    branch: Some("1.x".into()),
                    pushurl: Some("git@example.com:my.pkg.git".into()),
                    egg: false,
                    update: Some(true),
                    ..git("/b/src/my.pkg")
                }),
            ),
            ("git https://example.com/my.pkg.git path=extra", Ok(git("/b/extra/my.pkg"))),
            ("git https://example.com/my.pkg.git full-path=/opt/pkg", Ok(git("/opt/pkg"))),
            (
                "git https://example.com/my.pkg.git rev=1.0",
                Ok(Source { rev: Some("1.0".into()), ..git("/b/src/my.pkg") }),
            ),
            ("git https://example.com/my.pkg.git branch=a rev=b", Err("branch and rev cannot both be set")),
            ("git", Err("no URL")),
            ("", Err("no kind and URL")),
            ("rsync x", Err("unknown kind rsync")),
            ("git u egg=maybe", Err("egg=maybe (true or false)")),
            ("git u branch", Err("branch is not key=value")),
        ];
        for (line, expected) in cases {
            let got = parse("my.pkg", line, src, "/b");
            assert_eq!(got, expected.map_err(str::to_owned), "{line:?}");
        }
        let fs = parse("my.pkg", "fs my.pkg", src, "/b").expect("fs");
        assert_eq!((fs.kind, fs.path), (Kind::Fs, PathBuf::from("/b/src/my.pkg")));
        let svn = parse("my.pkg", "svn https://svn.example.com/trunk", src, "/b").expect("svn");
        assert_eq!(svn.kind, Kind::Other("svn".into()));
    }
}
