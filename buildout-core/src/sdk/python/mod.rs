//! Helpers for recipes that install Python distributions or write files for Python tools, as
//! `zc.recipe.egg` and `zc.zodbrecipes` do (feature `python`): where eggs come from and their
//! working set ([`Eggs`]), script generation ([`Scripts`], [`generate_scripts`]), requirements,
//! and Python's spelling of paths and strings, so that generated files match zc.buildout's byte
//! for byte.

use std::path::PathBuf;

use super::{Context, RecipeError};

mod eggs;

pub use crate::config::pypath as path;
pub use crate::config::pytext::repr;
pub use crate::python::install::Settings;
pub use crate::python::scripts::{Scripts, Target};
pub use crate::python::{Egg, Interpreter, Requirement};
pub use eggs::{Eggs, Installs, ScriptOptions};

/// The logger zc.buildout's installer logs under; script generation logs there too.
pub const INSTALLER_LOGGER: &str = "zc.buildout.easy_install";

/// Writes the scripts `spec` describes for the working set `eggs` (only those whose text
/// changed), logging `Generated script ...` as zc.buildout does; answers every script's path.
pub fn generate_scripts(ctx: &Context<'_>, spec: &Scripts, eggs: &[Egg]) -> Result<Vec<PathBuf>, RecipeError> {
    let mut log = |level: crate::log::Level, message: &str| ctx.log(level.into(), INSTALLER_LOGGER, message);
    crate::python::scripts::generate(spec, eggs, &mut log).map_err(|e| RecipeError::user(e.to_string()))
}
