//! What recipes that install Python distributions share (zc.recipe.egg's `Eggs`): reading
//! `find-links`/`index`/`eggs`, recording the directories, and resolving the working set through
//! the host's `[buildout]` and versions section. `zc.recipe.egg` and `zc.zodbrecipes` use it.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::abi::wire::Picked;
use crate::python::install::Settings;
use crate::python::requirement::canonical_name;
use crate::python::{Egg, Interpreter, PythonError, working_set};
use crate::sdk::{Context, Options, RecipeError};

/// What `zc.recipe.egg:eggs` and the script recipes share: where eggs come from.
pub struct Eggs {
    links: Vec<String>,
    index: Option<String>,
}

impl Eggs {
    pub fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Eggs, RecipeError> {
        let links = match options.get("find-links") {
            Some(v) => v.to_owned(),
            None => ctx.buildout_option("find-links")?,
        };
        let links: Vec<String> = links.split_whitespace().map(str::to_owned).collect();
        if !links.is_empty() {
            options.set("find-links", links.join("\n"));
        }
        let index = match options.get("index") {
            Some(v) => Some(v.to_owned()),
            None => ctx.get("buildout", "index")?,
        };
        if let Some(index) = &index {
            options.set("index", index.clone());
        }
        for (name, short) in [("eggs-directory", "_e"), ("develop-eggs-directory", "_d")] {
            let value = ctx.buildout_option(name)?;
            options.set(name, value.clone());
            options.set(short, value);
        }
        Ok(Eggs { links, index })
    }

    /// The requirement lines of `eggs` (the part name by default) and their working set.
    pub fn working_set(
        &self,
        ctx: &Context<'_>,
        options: &Options,
        extra: &[String],
    ) -> Result<(Vec<String>, Vec<Egg>, Interpreter), RecipeError> {
        let eggs = options.get("eggs").map(str::to_owned).unwrap_or_else(|| ctx.part().to_owned());
        let distributions: Vec<String> =
            eggs.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let executable = match options.get("python") {
            Some(section) => ctx
                .get(section, "executable")?
                .ok_or_else(|| RecipeError::user(format!("Missing option: {section}:executable")))?,
            None => ctx.buildout_option("executable")?,
        };
        let eggs_dir = PathBuf::from(options.require("eggs-directory")?);
        let interpreter =
            Interpreter::probe_cached(&executable, &eggs_dir).map_err(|e| RecipeError::user(e.to_string()))?;
        let settings = Installs::read(ctx, self.links.clone(), self.index.clone(), eggs_dir)?;
        let mut specs = distributions.clone();
        specs.extend(extra.iter().cloned());
        let mut ws = settings.working_set(ctx, &interpreter, &specs)?;
        // zc.recipe.egg's `sort_working_set`: develop eggs' source directories go first.
        ws.sort_by_key(|e| !e.develop);
        settings.report_picked(ctx, &interpreter, &ws, &[])?;
        Ok((distributions, ws, interpreter))
    }
}

/// Where a recipe's distributions come from, as the buildout says (`[buildout]` and the
/// versions section), and installing them as zc.buildout's installer does: what `Eggs` uses,
/// and any recipe that installs distributions of its own choosing (the Python bridge).
pub struct Installs {
    pub settings: Settings,
    versions_section: Option<String>,
    /// The versions section as written (the settings' pins are by canonical name).
    versions: std::collections::BTreeMap<String, String>,
}

impl Installs {
    /// The settings of the buildout, with `find_links`, `index` and `eggs_dir` as the recipe
    /// chose them.
    pub fn read(
        ctx: &Context<'_>,
        find_links: Vec<String>,
        index: Option<String>,
        eggs_dir: PathBuf,
    ) -> Result<Installs, RecipeError> {
        let versions_section = ctx.get("buildout", "versions")?.filter(|v| !v.is_empty());
        let versions = match &versions_section {
            Some(section) => ctx.section(section)?.unwrap_or_default(),
            None => Default::default(),
        };
        let flag =
            |name: &str| -> Result<bool, RecipeError> { Ok(ctx.get("buildout", name)?.as_deref() == Some("true")) };
        let settings = Settings {
            eggs_dir,
            find_links,
            index,
            offline: flag("offline")?,
            newest: flag("newest")?,
            versions: versions.iter().map(|(k, v)| (canonical_name(k), v.clone())).collect(),
            allow_picked_versions: ctx.get("buildout", "allow-picked-versions")?.as_deref() != Some("false"),
            show_picked_versions: flag("show-picked-versions")?,
            allow_unknown_extras: flag("allow-unknown-extras")?,
            download_cache: ctx.get("buildout", "download-cache")?.filter(|d| !d.is_empty()).map(PathBuf::from),
            develop_eggs_dir: Some(PathBuf::from(ctx.buildout_option("develop-eggs-directory")?)),
            remember: None,
        };
        Ok(Installs { settings, versions_section, versions })
    }

    /// The working set of `specs` (requirement strings), installing what is missing and logging
    /// zc.buildout's `Getting distribution for ...` / `Got ...` lines.
    pub fn working_set(
        &self,
        ctx: &Context<'_>,
        interpreter: &Interpreter,
        specs: &[String],
    ) -> Result<Vec<Egg>, RecipeError> {
        let mut log = |level: crate::log::Level, message: &str| {
            ctx.log(level.into(), "zc.buildout.easy_install", message);
        };
        self.working_set_logged(ctx, interpreter, specs, &mut log)
    }

    /// [`Installs::working_set`] logging to `log` (which may drop everything).
    pub fn working_set_logged(
        &self,
        ctx: &Context<'_>,
        interpreter: &Interpreter,
        specs: &[String],
        log: &mut dyn FnMut(crate::log::Level, &str),
    ) -> Result<Vec<Egg>, RecipeError> {
        let progress = |done: u64, total: u64, message: &str| ctx.progress(done, total, message);
        working_set(interpreter, specs, &self.settings, log, &progress).map_err(|e| self.error(ctx, e))
    }

    /// An installer's error as zc.buildout words it, saying where a pin involved in a
    /// conflict is set (the users' most time-consuming question about a conflict is which file
    /// pins what).
    fn error(&self, ctx: &Context<'_>, e: PythonError) -> RecipeError {
        let mut message = e.to_string();
        if let (PythonError::Conflict { pins, .. }, Some(section)) = (&e, &self.versions_section) {
            for key in pins {
                if let Some((name, value)) = self.versions.iter().find(|(name, _)| canonical_name(name) == *key)
                    && let Some(origin) = ctx.origin(section, name)
                {
                    message.push_str(&format!("\nThe [versions] pin {name} = {value} is set in {origin}."));
                }
            }
        }
        let mut error = RecipeError::user(message);
        if let Some(req) = e.requirement() {
            let step = format!("Getting distribution for {}.", crate::config::pytext::repr(req));
            if !e.step_logged() {
                ctx.info_as("zc.buildout.easy_install", &step);
            }
            error = error.within(step);
        }
        error
    }

    /// Reports the versions of `ws` picked without a pin (but none of `quiet`, canonical
    /// names); buildout lists them at the end of the run.
    pub fn report_picked(
        &self,
        ctx: &Context<'_>,
        interpreter: &Interpreter,
        ws: &[Egg],
        quiet: &[String],
    ) -> Result<(), RecipeError> {
        let mut picked: Vec<Picked> = ws
            .iter()
            .filter(|e| !e.develop && !quiet.contains(&e.key()))
            .filter(|e| self.settings.versions.get(&e.key()).is_none_or(|v| v.trim().is_empty()))
            .map(|e| Picked { name: e.name.clone(), version: e.version.clone(), required_by: Vec::new() })
            .collect();
        if picked.is_empty() {
            return Ok(());
        }
        let env = interpreter.environment().map_err(|e| RecipeError::user(e.to_string()))?;
        let mut requirers = required_by(ws, &env);
        for p in &mut picked {
            p.required_by = requirers.remove(p.name.as_str()).unwrap_or_default();
        }
        ctx.picked(&picked)
    }
}

/// The options zc.recipe.egg's script recipe (and so every recipe built on it, such as
/// `zc.zodbrecipes:server`) records: `bin-directory`, the absolute `extra-paths`, and
/// `relative-paths` (which must be `true` or `false`).
pub struct ScriptOptions {
    pub bin_directory: String,
    pub extra_paths: Vec<String>,
    /// The buildout directory scripts are made relative to, when `relative-paths = true`.
    pub relative_paths: Option<String>,
}

impl ScriptOptions {
    pub fn new(ctx: &Context<'_>, options: &mut Options) -> Result<ScriptOptions, RecipeError> {
        let bin_directory = ctx.buildout_option("bin-directory")?;
        options.set("bin-directory", bin_directory.clone());
        options.set("_b", bin_directory.clone());
        let directory = ctx.buildout_option("directory")?;
        let extra_paths: Vec<String> = options
            .get("extra-paths")
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| crate::config::pypath::join(&directory, p))
            .collect();
        if !extra_paths.is_empty() {
            options.set("extra-paths", extra_paths.join("\n"));
        }
        // zc.buildout reads the [buildout] value first (as the default), so it always counts as used.
        let default = ctx.get("buildout", "relative-paths")?.unwrap_or_else(|| "false".to_owned());
        let relative = options.get("relative-paths").map(str::to_owned).unwrap_or(default);
        let relative_paths = match relative.as_str() {
            "true" => {
                options.set("buildout-directory", directory.clone());
                Some(directory)
            }
            "false" => None,
            other => return Err(RecipeError::user(format!("Invalid value for relative-paths option: {other}"))),
        };
        Ok(ScriptOptions { bin_directory, extra_paths, relative_paths })
    }
}

/// For each name, the distributions of `ws` that require it by that bare name, as
/// `name==version`, sorted. zc.buildout keys its record by the requirement's text, which only a
/// bare requirement matches.
fn required_by<'a>(ws: &'a [Egg], env: &pep508_rs::MarkerEnvironment) -> HashMap<&'a str, Vec<String>> {
    let mut out: HashMap<&str, Vec<String>> = HashMap::new();
    for d in ws {
        for r in d.requires_for(&[], env) {
            let bare = r.extras.is_empty() && !r.has_specifier() && r.marker().is_none();
            if bare && let Some(egg) = ws.iter().find(|e| e.name == r.name) {
                out.entry(egg.name.as_str()).or_default().push(format!("{}=={}", d.name, d.version));
            }
        }
    }
    for requirers in out.values_mut() {
        requirers.sort();
        requirers.dedup();
    }
    out
}
