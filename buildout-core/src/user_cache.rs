//! Where buildout keeps what it may use again in any buildout: HTTP responses, unpacked wheels,
//! interpreter probes, the pinned uv.

use std::path::{Path, PathBuf};

/// The user cache directory, or `None` when it is turned off (`BUILDOUT_CACHE_DIR=`) or there is
/// no home directory: `$BUILDOUT_CACHE_DIR`, else `$XDG_CACHE_HOME/buildout`, else
/// `~/.cache/buildout`.
pub fn dir() -> Option<PathBuf> {
    dir_from(|name| std::env::var_os(name))
}

pub(crate) fn dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(explicit) = var("BUILDOUT_CACHE_DIR") {
        return (!explicit.is_empty()).then(|| PathBuf::from(explicit));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(xdg).join("buildout"));
    }
    var("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("buildout"))
}
