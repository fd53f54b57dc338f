//! What an install of Python distributions is given: where distributions come from and which
//! versions are allowed (the `[buildout]` options and the versions section, as read for a part).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::requirement::{Requirement, canonical_name};
use crate::log::Level;

/// Where distributions come from and which versions are allowed.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub eggs_dir: PathBuf,
    pub find_links: Vec<String>,
    pub index: Option<String>,
    pub offline: bool,
    pub newest: bool,
    /// `[versions]` pins by canonical name: `1.0` (exact) or a specifier such as `>=6.0.1`.
    pub versions: BTreeMap<String, String>,
    pub allow_picked_versions: bool,
    pub show_picked_versions: bool,
    /// `allow-unknown-extras`: a requirement may name extras its distribution does not provide.
    pub allow_unknown_extras: bool,
    /// `download-cache`: wheels are kept in its `dist/` subdirectory.
    pub download_cache: Option<PathBuf>,
    /// `develop-eggs-directory`, whose develop eggs are chosen over any other distribution.
    pub develop_eggs_dir: Option<PathBuf>,
    /// For a set any versions that satisfy it will do (buildout's own distributions for Python
    /// recipes, never a project's): the name under which its resolution is remembered in the
    /// user cache and reused for a new eggs directory while the cache has every wheel of it.
    pub remember: Option<String>,
}

impl Settings {
    pub(crate) fn pin(&self, key: &str) -> Option<String> {
        let pin = self.versions.get(key)?.trim();
        if pin.is_empty() {
            return None;
        }
        Some(if pin.starts_with(['<', '>', '=', '!', '~']) { pin.to_owned() } else { format!("=={pin}") })
    }

    /// zc.buildout's `_constrain`: an exact pin replaces the specifier (the requirement must
    /// allow the pinned version); a pin that is itself a specifier is added to it. A pin that
    /// is no PEP 440 specifier constrains nothing.
    pub(crate) fn constrained(&self, req: &Requirement) -> Requirement {
        let Some(pin) = self.pin(&req.key()) else { return req.clone() };
        let constrained = match pin.strip_prefix("==").filter(|v| !v.contains([',', '*'])) {
            Some(exact) if req.allows(exact) => req.with_specifier(&pin),
            Some(_) => return req.clone(),
            None => req.and_specifier(&pin),
        };
        constrained.unwrap_or_else(|_| req.clone())
    }

    /// These settings without the `find-links` entries that are local paths which do not exist:
    /// setuptools passes over them (pip warns), and uv would stop at them.
    pub(super) fn without_missing_links(&self) -> Settings {
        let missing = |link: &String| {
            let path = link.strip_prefix("file://").unwrap_or(link);
            !path.contains("://") && !Path::new(path).exists()
        };
        let readable = |link: &String| !missing(link) && unreadable_scheme(link).is_none();
        Settings { find_links: self.find_links.iter().filter(|l| readable(l)).cloned().collect(), ..self.clone() }
    }

    /// The `find-links` entries of a scheme buildout cannot read (`ftp://`), which are passed
    /// over with a warning, as setuptools passes over a link it cannot reach.
    pub(super) fn unreadable_links(&self) -> Vec<&str> {
        self.find_links.iter().filter(|l| unreadable_scheme(l).is_some()).map(String::as_str).collect()
    }

    /// The pin a requirement violates, if it does (`demo>=0.4` with `demo = 0.3`).
    pub(super) fn violated_pin(&self, req: &Requirement) -> Option<String> {
        let pin = self.pin(&req.key())?;
        let exact = pin.strip_prefix("==").filter(|v| !v.contains([',', '*']))?;
        (!req.allows(exact)).then(|| exact.to_owned())
    }
}

/// The scheme of a URL that is neither http(s) nor a local file (`ftp`), if it is one.
fn unreadable_scheme(link: &str) -> Option<&str> {
    let (scheme, _) = link.split_once("://")?;
    (!matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https" | "file")).then_some(scheme)
}

/// Log records go to the caller (a recipe logs through its host).
pub type Logger<'a> = &'a mut dyn FnMut(Level, &str);

/// Where fetching and unpacking report how far they have got: `(done, total, message)`.
pub type Progress<'a> = &'a dyn Fn(u64, u64, &str);

/// The `[versions]` pins (canonical names) an installer's explanation mentions, in the order
/// it mentions them, so that the user is told where each is set.
pub(super) fn pins_mentioned(text: &str, settings: &Settings) -> Vec<String> {
    let mut found = Vec::new();
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)));
    for word in words.map(|w| canonical_name(w.trim_matches(['.', '-', '_']))) {
        if settings.pin(&word).is_some() && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_an_explanation_mentions() {
        let settings = Settings {
            versions: [("zeo", "6.2"), ("zodb", "4.0.0"), ("zope-interface", "8.7"), ("transaction", "")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..Settings::default()
        };
        let cases: [(&str, &[&str]); 4] = [
            ("Because zeo>=6.2 depends on zodb>=5.1.1 and zodb==4.0.0, we can conclude", &["zeo", "zodb"]),
            ("zope.interface==8.7 conflicts with transaction", &["zope-interface"]),
            ("The user requested (constraint) ZODB==4.0.0.", &["zodb"]),
            ("nothing pinned here: zeodb", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(pins_mentioned(text, &settings), *expected, "{text}");
        }
    }
}
