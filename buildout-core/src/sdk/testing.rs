//! Running a recipe in a unit test of its crate, without buildout: [`TestHost`] answers
//! `get` from a table and records what the recipe logs and creates.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::export::guarded;
use super::{Context, LogLevel, Options, Recipe, RecipeError, UninstallFn};
use crate::abi::wire;
use crate::abi::{Host, HostService};

/// A stand-in for buildout.
#[derive(Debug, Default)]
pub struct TestHost {
    /// `[buildout]` options the recipe sees (`directory`, `parts-directory`, ...).
    pub buildout: BTreeMap<String, String>,
    /// Options of other sections, answered to `ctx.get(section, option)`.
    pub sections: BTreeMap<(String, String), String>,
    /// Log lines, as `<logger>: <message>`.
    pub logs: RefCell<Vec<String>>,
    /// The same records with their level, as `(level, logger, message)`.
    pub records: RefCell<Vec<(LogLevel, String, String)>>,
    /// Paths registered with `ctx.created`.
    pub created: RefCell<Vec<String>>,
}

impl HostService for TestHost {
    fn call(&self, method: &str, payload: &str) -> Result<String, String> {
        let bad = |e: serde_json::Error| wire::RecipeError::internal(e.to_string()).to_json();
        match method {
            "get" => {
                let q: wire::GetOption = serde_json::from_str(payload).map_err(bad)?;
                let value = if q.section == "buildout" {
                    self.buildout.get(&q.option).cloned()
                } else {
                    self.sections.get(&(q.section, q.option)).cloned()
                };
                serde_json::to_string(&value).map_err(bad)
            }
            "picked" | "progress" => Ok(String::new()),
            "section" => {
                let q: wire::GetOption = serde_json::from_str(payload).map_err(bad)?;
                let options: BTreeMap<String, String> = self
                    .sections
                    .iter()
                    .filter(|((s, _), _)| *s == q.section)
                    .map(|((_, o), v)| (o.clone(), v.clone()))
                    .collect();
                serde_json::to_string(&Some(options).filter(|o| !o.is_empty())).map_err(bad)
            }
            "log" => {
                let r: wire::LogRecord = serde_json::from_str(payload).map_err(bad)?;
                self.logs.borrow_mut().push(format!("{}: {}", r.logger, r.message));
                self.records.borrow_mut().push((LogLevel::from_number(r.level), r.logger, r.message));
                Ok(String::new())
            }
            "created" => {
                let c: wire::Created = serde_json::from_str(payload).map_err(bad)?;
                self.created.borrow_mut().extend(c.paths);
                Ok(String::new())
            }
            other => Err(wire::RecipeError::internal(format!("no host service {other}")).to_json()),
        }
    }
}

impl TestHost {
    /// Runs `f` with a [`Context`] for `part` backed by this host.
    pub fn with_context<T>(&self, part: &str, f: impl FnOnce(&Context<'_>) -> T) -> T {
        Host::with(self, |host| f(&Context { host, part, buildout: &self.buildout }))
    }

    /// Constructs recipe `R` for `part` with `options`, returning it and the options as the
    /// constructor left them.
    pub fn construct<R: Recipe>(&self, part: &str, options: &[(&str, &str)]) -> Result<(R, Options), RecipeError> {
        let values = options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut options = Options::new(part, values);
        let recipe = self.with_context(part, |ctx| guarded(|| R::new(ctx, &mut options)))?;
        Ok((recipe, options))
    }

    /// Runs the recipe's `install` as buildout does: a panic is an error of kind `Panic`
    /// (the message is the panic's), not a failed test.
    pub fn install<R: Recipe>(&self, recipe: &mut R, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        self.with_context(options.part(), |ctx| guarded(|| recipe.install(ctx, options)))
    }

    /// Runs the recipe's `update` as buildout does (see [`TestHost::install`]); a recipe
    /// without one answers with an error of kind `NoUpdate`, on which buildout calls
    /// `install`.
    pub fn update<R: Recipe>(&self, recipe: &mut R, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.with_context(options.part(), |ctx| guarded(|| recipe.update(ctx, options)))
    }

    /// Runs an uninstall entry with the options `part` was installed with, as buildout does
    /// before it removes the recorded paths.
    pub fn uninstall(&self, entry: UninstallFn, part: &str, options: &[(&str, &str)]) -> Result<(), RecipeError> {
        let options: BTreeMap<String, String> =
            options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.with_context(part, |ctx| guarded(|| entry(ctx, &options)))
    }
}
