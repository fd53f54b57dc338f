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
