//! `[buildout] extensions`: Python packages zc.buildout imports and calls before it does
//! anything. None runs here, so a buildout that names one stops with one line saying so, rather
//! than running without what the extension would have done (mr.developer's checkouts, ...).

use crate::config::{Buildout, Error};

/// The one-line refusal of the first extension named, if any.
pub fn refuse(buildout: &mut Buildout) -> crate::config::Result<()> {
    let named = buildout.sections.get("buildout", "extensions")?.unwrap_or_default();
    let Some(first) = named.split_whitespace().next() else {
        return Ok(());
    };
    let what = match first {
        "mr.developer" => " (its [sources] would not be checked out nor developed)",
        _ => "",
    };
    Err(Error::user(format!(
        "The extension {first} is not supported: buildout runs no zc.buildout extensions{what}; remove it from \
         [buildout] extensions"
    ))
    .within("Loading extensions."))
}
