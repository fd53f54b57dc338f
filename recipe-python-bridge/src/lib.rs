//! The Python bridge: buildout runs a recipe that is a Python distribution (`recipe =
//! collective.recipe.template`, with a `[zc.buildout]` entry point and no recipe library)
//! through this library, so that a zc.buildout user's files keep working.
//!
//! The first Python part of a run starts one Python process ([`session`]), which serves every
//! Python part of the run: it gets `zc.buildout` and `zc.recipe.egg` (at the versions the
//! `[versions]` section pins exactly, else 6.0.1 and 6.0.0) as eggs, quietly, as zc.buildout
//! has itself; each recipe distribution is then got like any egg (`Getting distribution for
//! ...`), and its entry point is constructed, installed, updated and uninstalled with
//! zc.buildout's recipe interface (`bridge.py`). Options cross both ways: what a Python recipe
//! sets is what other parts read through `${part:option}`, and the other way round.
//!
//! The host routes a Python recipe here with entry [`ENTRY`]; the part's `recipe` option says
//! which recipe it is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use buildout_core::sdk::{Context, Options, Recipe, RecipeError};

mod session;

use session::{Provided, Session};

/// The distribution name the host loads this library by (`buildout_core::loader::PYTHON_BRIDGE`).
pub const DISTRIBUTION: &str = "buildout.pythonbridge";
/// The one entry (`buildout_core::loader::PYTHON_BRIDGE_ENTRY`).
pub const ENTRY: &str = "python";

/// A Python recipe's part.
pub struct PythonRecipe {
    session: Rc<Session>,
    part: String,
    signature: String,
}

/// `dist[extras]>=1:entry` → (`dist[extras]>=1`, `entry`), as zc.buildout splits `recipe`.
fn split_spec(spec: &str) -> (String, String) {
    match spec.trim().split_once(':') {
        Some((requirement, entry)) => (requirement.trim().to_owned(), entry.trim().to_owned()),
        None => (spec.trim().to_owned(), "default".to_owned()),
    }
}

impl Recipe for PythonRecipe {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let spec = options.require("recipe")?.to_owned();
        let (requirement, entry) = split_spec(&spec);
        let session = session::get(ctx)?;
        let provided = session.provide(ctx, &requirement)?;
        let values: BTreeMap<String, String> = options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let request = serde_json::json!({
            "op": "construct",
            "part": ctx.part(),
            "requirement": requirement,
            "entry": entry,
            "path": provided.path,
            "options": values,
        });
        let reply = session.request(ctx, &request)?;
        // The recipe's modules are imported now (see `share_bytecode` for buildout's own set).
        for dir in &provided.path {
            buildout_core::python::cache::share_bytecode(std::path::Path::new(dir));
        }
        let constructed: session::Constructed = session::parse(reply)?;
        for key in &constructed.used {
            let _ = options.get(key);
        }
        for (key, value) in &constructed.options {
            if values.get(key) != Some(value) {
                options.set(key.clone(), value.clone());
            }
        }
        for key in values.keys().filter(|k| !constructed.options.contains_key(*k)) {
            options.remove(key);
        }
        Ok(PythonRecipe { session, part: ctx.part().to_owned(), signature: provided.signature.clone() })
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let reply = self.session.request(ctx, &serde_json::json!({"op": "install", "part": self.part}))?;
        let installed: session::Installed = session::parse(reply)?;
        mark_used(options, &installed.used);
        Ok(installed.paths.unwrap_or_default().into_iter().map(PathBuf::from).collect())
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        let reply = self.session.request(ctx, &serde_json::json!({"op": "update", "part": self.part}))?;
        let installed: session::Installed = session::parse(reply)?;
        if installed.no_update {
            return Err(RecipeError::no_update());
        }
        mark_used(options, &installed.used);
        Ok(installed.paths.map(|paths| paths.into_iter().map(PathBuf::from).collect()))
    }

    fn signature(&self) -> Option<String> {
        Some(self.signature.clone())
    }
}

fn mark_used(options: &Options, used: &[String]) {
    for key in used {
        let _ = options.get(key);
    }
}

/// Runs the Python recipe's `[zc.buildout.uninstall]` entry, if it has one (the bridge logs
/// zc.buildout's `Running uninstall recipe.` then).
fn uninstall_part(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    let spec = options.get("recipe").map(String::as_str).unwrap_or_default();
    let (requirement, entry) = split_spec(spec);
    let session = session::get(ctx)?;
    let Provided { path, .. } = &*session.provide(ctx, &requirement)?;
    let request = serde_json::json!({
        "op": "uninstall",
        "part": ctx.part(),
        "requirement": requirement,
        "entry": entry,
        "path": path,
        "options": options,
    });
    session.request(ctx, &request).map(drop)
}

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: { "python" => PythonRecipe },
    uninstall: { "python" => uninstall_part },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_specs_split_as_zc_buildout_splits_them() {
        let cases = [
            ("collective.recipe.template", ("collective.recipe.template", "default")),
            ("plone.recipe.command:default", ("plone.recipe.command", "default")),
            (" z3c.recipe.mkdir >= 0.7 : mkdir ", ("z3c.recipe.mkdir >= 0.7", "mkdir")),
            ("zc.recipe.egg[extra]:scripts", ("zc.recipe.egg[extra]", "scripts")),
        ];
        for (spec, (requirement, entry)) in cases {
            assert_eq!(split_spec(spec), (requirement.to_owned(), entry.to_owned()), "{spec}");
        }
    }
}
