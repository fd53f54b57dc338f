//! `zc.recipe.egg`: installs Python distributions and writes `bin/` scripts.
//!
//! The library is loadable and lists its entries; the recipes themselves are built on the
//! install engine and the Python installer, and until they land constructing one reports that
//! plainly.

use std::path::PathBuf;

use buildout_core::sdk::{Context, Options, Recipe, RecipeError};

/// The distribution name recipes are looked up by (`recipe = zc.recipe.egg:script`).
pub const DISTRIBUTION: &str = "zc.recipe.egg";

/// `zc.recipe.egg:script` (also `default` and `scripts`) and `zc.recipe.egg:eggs`.
pub struct Scripts;

impl Recipe for Scripts {
    fn new(ctx: &Context<'_>, _options: &mut Options) -> Result<Self, RecipeError> {
        Err(RecipeError::user(format!(
            "{}: the zc.recipe.egg recipes are not available in this version of buildout yet",
            ctx.part()
        )))
    }

    fn install(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }
}

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: { "default" => Scripts, "script" => Scripts, "scripts" => Scripts, "eggs" => Scripts },
}
