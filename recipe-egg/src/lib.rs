//! `zc.recipe.egg`: installs Python distributions and writes `bin/` scripts. The recipe itself
//! arrives with the recipe ABI and the Python installer; until then this crate only fixes the
//! library's name and place in the workspace.

/// The distribution name recipes are looked up by (`recipe = zc.recipe.egg:script`).
pub const DISTRIBUTION: &str = "zc.recipe.egg";
