//! `[buildout] extensions`: Python packages zc.buildout imports and calls before it does
//! anything. mr.developer, which nearly every Plone and Zope buildout names, is done natively
//! ([`super::sources`]); any other stops the run with one line saying so, rather than letting it
//! go on without what the extension would have done.

use crate::config::{Buildout, Error};
use crate::log::Log;

use super::develop::Build;

/// Does what the named extensions do before an install (or, with [`Build::No`], a plan).
pub fn apply(buildout: &mut Buildout, log: &dyn Log, build: Build) -> crate::config::Result<()> {
    let named = buildout.sections.get("buildout", "extensions")?.unwrap_or_default();
    let names: Vec<&str> = named.split_whitespace().collect();
    // zc.buildout took over what these two did, and says so in these words.
    if names.iter().any(|n| ["buildout-versions", "buildout.dumppickedversions"].contains(n)) {
        return Err(Error::user(
            "Buildout now includes 'buildout-versions' (and part of the older 'buildout.dumppickedversions').\n\
             Remove the extension from your configuration and look at the 'show-picked-versions' option in \
             buildout's documentation.",
        )
        .within("Loading extensions."));
    }
    if let Some(other) = names.iter().find(|n| **n != "mr.developer") {
        return Err(Error::user(format!(
            "The extension {other} is not supported: buildout runs no zc.buildout extensions (mr.developer \
             is done natively); remove it from [buildout] extensions"
        ))
        .within("Loading extensions."));
    }
    if names.contains(&"mr.developer") {
        super::sources::prepare(buildout, log, build)?;
    }
    Ok(())
}
