//! Where buildout keeps what it may use again in any buildout: HTTP responses, unpacked wheels,
//! interpreter probes, the pinned uv.

use std::path::{Path, PathBuf};

/// The user cache directory, or `None` when it is turned off (`BUILDOUT_CACHE_DIR=`) or there is
/// no home directory: `$BUILDOUT_CACHE_DIR`, else `$XDG_CACHE_HOME/buildout`, else
/// `~/.cache/buildout`.
pub fn dir() -> Option<PathBuf> {
    dir_from(|name| std::env::var_os(name))
}

fn dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(explicit) = var("BUILDOUT_CACHE_DIR") {
        return (!explicit.is_empty()).then(|| PathBuf::from(explicit));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(xdg).join("buildout"));
    }
    var("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("buildout"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_cache_is() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars<'_>, Option<&str>); 6] = [
            (&[("BUILDOUT_CACHE_DIR", "/c"), ("HOME", "/h")], Some("/c")),
            (&[("BUILDOUT_CACHE_DIR", ""), ("HOME", "/h")], None),
            (&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], Some("/x/buildout")),
            (&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")], Some("/h/.cache/buildout")),
            (&[("HOME", "/h")], Some("/h/.cache/buildout")),
            (&[], None),
        ];
        for (vars, expected) in cases {
            let got = dir_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).into()));
            assert_eq!(got, expected.map(PathBuf::from), "{vars:?}");
        }
    }
}
