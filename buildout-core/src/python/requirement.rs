//! PEP 508 requirements (`name[extra,...] specifiers ; marker`), as `eggs =` lines and
//! `Requires-Dist` headers carry them.

use super::PythonError;
use crate::config::condition::{self, Environment, version::Version};

/// Orders two version strings by PEP 440 precedence; versions it cannot read compare as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.partial_cmp_versions(&y),
        _ => a.cmp(b),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The name as written.
    pub name: String,
    pub extras: Vec<String>,
    /// `>=1.0,<2` (empty for any version).
    pub specifier: String,
    pub marker: Option<String>,
}

/// PEP 503 normalisation: lower case, runs of `-_.` as one `-`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !run {
                out.push('-');
            }
            run = true;
        } else {
            out.extend(c.to_lowercase());
            run = false;
        }
    }
    out
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, PythonError> {
        let bad = |reason: &str| PythonError::Requirement { text: text.to_owned(), reason: reason.to_owned() };
        let (body, marker) = match text.split_once(';') {
            Some((b, m)) => (b.trim(), Some(m.trim().to_owned()).filter(|m| !m.is_empty())),
            None => (text.trim(), None),
        };
        let name_end = body.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(bad("no distribution name"));
        }
        let mut rest = body[name_end..].trim_start();
        let mut extras = Vec::new();
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or_else(|| bad("unclosed extras"))?;
            extras = after[..close].split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
            rest = after[close + 1..].trim_start();
        }
        let specifier = rest.trim_start_matches('(').trim_end_matches(')').trim().to_owned();
        if !specifier.is_empty() && !specifier.starts_with(['<', '>', '=', '!', '~']) {
            return Err(bad("expected a version specifier after the name"));
        }
        for clause in specifier.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let version = clause.trim_start_matches(['<', '>', '=', '!', '~']).trim();
            if version.is_empty() {
                return Err(bad(&format!("{clause:?} needs a version")));
            }
        }
        Ok(Requirement { name: name.to_owned(), extras, specifier, marker })
    }

    /// The canonical name (for comparisons and pins).
    pub fn key(&self) -> String {
        canonical_name(&self.name)
    }

    /// Whether the marker holds for `env` with `extra` being the extra asked for (empty: none).
    pub fn applies(&self, env: &Environment, extra: &str) -> bool {
        match &self.marker {
            None => true,
            Some(m) => {
                let mut env = env.clone();
                env.extra = extra.to_owned();
                condition::evaluate(m, &env).unwrap_or(false)
            }
        }
    }

    /// Whether `version` satisfies the specifier (unparseable versions only satisfy none).
    pub fn allows(&self, version: &str) -> bool {
        if self.specifier.is_empty() {
            return true;
        }
        Version::parse(version).and_then(|v| v.matches(&self.specifier)).unwrap_or(false)
    }

    /// Whether a marker mentions `extra` (such requirements only count for that extra).
    pub fn is_for_extra(&self) -> bool {
        self.marker.as_deref().is_some_and(|m| m.contains("extra"))
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            write!(f, "[{}]", self.extras.join(","))?;
        }
        f.write_str(&self.specifier)?;
        if let Some(m) = &self.marker {
            write!(f, "; {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let cases = [
            ("1.10", "1.9", Greater),
            ("2.0", "2.0.0", Equal),
            ("1.0b1", "1.0", Less),
            ("1.0.post1", "1.0", Greater),
            ("not-a-version", "also-not", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
        }
    }

    #[test]
    fn requirements() {
        let r = Requirement::parse("Zope.Interface[test, docs] >=5.0,<9 ; python_version >= \"3\"").expect("parses");
        assert_eq!(r.name, "Zope.Interface");
        assert_eq!(r.key(), "zope-interface");
        assert_eq!(r.extras, ["test", "docs"]);
        assert_eq!(r.specifier, ">=5.0,<9");
        assert!(r.allows("8.7") && !r.allows("9.1") && !r.allows("4.0"));
        assert!(Requirement::parse("ZEO").expect("parses").allows("6.2"));
        assert!(Requirement::parse("demo (==0.3)").expect("parses").allows("0.3"));
        assert!(Requirement::parse("=1").is_err());
        assert!(Requirement::parse("foo bar").is_err());
        assert!(Requirement::parse("demo ==").is_err());
        let extra = Requirement::parse("pytest; extra == 'test'").expect("parses");
        let env = Environment::current();
        assert!(!extra.applies(env, "") && extra.applies(env, "test"));
    }
}
