//! `zc.zodbrecipes`: ZEO storage server recipes. The recipe itself arrives with the recipe ABI;
//! until then this crate only fixes the library's name and place in the workspace.

/// The distribution name recipes are looked up by (`recipe = zc.zodbrecipes:server`).
pub const DISTRIBUTION: &str = "zc.zodbrecipes";
