//! `zc.zodbrecipes`: ZEO storage server recipes.
//!
//! The library is loadable and lists its entry; the `server` recipe itself (zeo.conf,
//! zdaemon.conf, control script, deployment files) is built on the install engine and the egg
//! installer, and until it lands constructing it reports that plainly.

use std::path::PathBuf;

use buildout_core::sdk::{Context, Options, Recipe, RecipeError};

/// The distribution name recipes are looked up by (`recipe = zc.zodbrecipes:server`).
pub const DISTRIBUTION: &str = "zc.zodbrecipes";

/// `zc.zodbrecipes:server`.
pub struct Server;

impl Recipe for Server {
    fn new(ctx: &Context<'_>, _options: &mut Options) -> Result<Self, RecipeError> {
        Err(RecipeError::user(format!(
            "{}: the zc.zodbrecipes:server recipe is not available in this version of buildout yet",
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
    entries: { "server" => Server },
}
