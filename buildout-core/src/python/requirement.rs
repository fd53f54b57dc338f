//! PEP 508 requirements (`name[extra,...] specifiers ; marker`), as `eggs =` lines and
//! `Requires-Dist` headers carry them, and PEP 440 versions. The standards themselves come from
//! `pep508_rs` and `pep440_rs`; this module keeps what zc.buildout shows of a requirement (the
//! name as written, packaging's text form) beside the parsed value.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree, VersionOrUrl};

use super::PythonError;

/// Parses a version; `None` when it is not PEP 440.
pub fn parse_version(text: &str) -> Option<Version> {
    Version::from_str(text.trim()).ok()
}

/// Orders two version strings by PEP 440 precedence; a version that is not PEP 440 sorts
/// before every one that is (pip ignores such versions), and among themselves as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (parse_version(a), parse_version(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// Whether `version` satisfies a specifier list such as `>=3.9` (`Requires-Python`); a list
/// that cannot be read is taken to allow everything, as pip does.
pub fn specifiers_allow(specifiers: &str, version: &Version) -> bool {
    match VersionSpecifiers::from_str(specifiers) {
        Ok(s) => s.contains(version),
        Err(_) => true,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The name as written.
    pub name: String,
    /// As PEP 685 normalises them (`Mixed_Case` → `mixed-case`).
    pub extras: Vec<String>,
    specifiers: VersionSpecifiers,
    /// The marker as written, for messages.
    marker_text: Option<String>,
    marker: MarkerTree,
}

/// PEP 503 normalisation (lower case, runs of `-_.` as one `-`), as `pep508_rs` does it. A
/// name that is no valid distribution name (it cannot match one) is only lower-cased.
pub fn canonical_name(name: &str) -> String {
    match pep508_rs::PackageName::from_str(name) {
        Ok(n) => n.to_string(),
        Err(_) => name.to_lowercase(),
    }
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, PythonError> {
        let bad = |reason: String| PythonError::Requirement { text: text.to_owned(), reason };
        let parsed = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text.trim())
            .map_err(|e| bad(e.message.to_string()))?;
        let specifiers = match parsed.version_or_url {
            None => VersionSpecifiers::empty(),
            Some(VersionOrUrl::VersionSpecifier(s)) => s,
            Some(VersionOrUrl::Url(_)) => return Err(bad("a URL requirement needs an installer we do not run".into())),
        };
        // The name exactly as written: zc.buildout's messages and egg names keep its spelling.
        let trimmed = text.trim_start();
        let end = trimmed.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(trimmed.len());
        let marker_text = if parsed.marker.is_true() {
            None
        } else {
            text.split_once(';').map(|(_, m)| m.trim().to_owned()).filter(|m| !m.is_empty())
        };
        Ok(Requirement {
            name: trimmed[..end].to_owned(),
            extras: parsed.extras.iter().map(ToString::to_string).collect(),
            specifiers,
            marker_text,
            marker: parsed.marker,
        })
    }

    /// The canonical name (for comparisons and pins).
    pub fn key(&self) -> String {
        canonical_name(&self.name)
    }

    /// The specifiers as packaging writes them: sorted, comma-separated (`<2,>=1.0`); empty
    /// for any version.
    pub fn specifier(&self) -> String {
        let mut parts: Vec<String> = self.specifiers.iter().map(ToString::to_string).collect();
        parts.sort();
        parts.join(",")
    }

    pub fn has_specifier(&self) -> bool {
        !self.specifiers.is_empty()
    }

    /// The marker as written, if any.
    pub fn marker(&self) -> Option<&str> {
        self.marker_text.as_deref()
    }

    /// This requirement with `specifier` (`==1.0`) in place of its own.
    pub fn with_specifier(&self, specifier: &str) -> Result<Requirement, PythonError> {
        let parsed = VersionSpecifiers::from_str(specifier).map_err(|e| PythonError::Requirement {
            text: format!("{}{specifier}", self.name),
            reason: e.to_string(),
        })?;
        Ok(Requirement { specifiers: parsed, ..self.clone() })
    }

    /// This requirement with `specifier` added to its own.
    pub fn and_specifier(&self, specifier: &str) -> Result<Requirement, PythonError> {
        let added = self.with_specifier(specifier)?;
        let all: Vec<VersionSpecifier> = self.specifiers.iter().chain(added.specifiers.iter()).cloned().collect();
        Ok(Requirement { specifiers: all.into_iter().collect(), ..self.clone() })
    }

    /// Whether the marker holds for `env` when `extras` are asked for.
    pub fn applies(&self, env: &MarkerEnvironment, extras: &[String]) -> bool {
        if self.marker.is_true() {
            return true;
        }
        let extras: Vec<ExtraName> = extras.iter().filter_map(|e| ExtraName::from_str(e).ok()).collect();
        self.marker.evaluate(env, &extras)
    }

    /// Whether `version` satisfies the specifiers, pre-releases included (pkg_resources'
    /// `version in requirement`); a version that is not PEP 440 satisfies none.
    pub fn allows(&self, version: &str) -> bool {
        if self.specifiers.is_empty() {
            return true;
        }
        parse_version(version).is_some_and(|v| self.specifiers.contains(&v))
    }

    pub fn allows_version(&self, version: &Version) -> bool {
        self.specifiers.contains(version)
    }

    /// Whether the specifiers themselves name a pre-release (`>=6.4.dev0`): then pre-releases
    /// may be chosen for it, as PEP 440 says.
    pub fn asks_for_prerelease(&self) -> bool {
        self.specifiers.iter().any(|s| s.any_prerelease())
    }

    /// The one version `==V` pins this requirement to, if it does.
    pub fn exact_version(&self) -> Option<&Version> {
        match self.specifiers.iter().collect::<Vec<_>>().as_slice() {
            [only] if matches!(only.operator(), pep440_rs::Operator::Equal | pep440_rs::Operator::ExactEqual) => {
                Some(only.version())
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Requirement {
    /// packaging's `str(Requirement)`, which zc.buildout's messages show: extras sorted,
    /// specifiers sorted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            let mut extras = self.extras.clone();
            extras.sort();
            write!(f, "[{}]", extras.join(","))?;
        }
        f.write_str(&self.specifier())?;
        if let Some(m) = &self.marker_text {
            write!(f, "; {m}")?;
        }
        Ok(())
    }
}

/// The facts a marker can ask about a Python (see [`super::Interpreter::marker_environment`]).
pub struct MarkerFacts<'a> {
    pub python_full_version: &'a str,
    pub implementation_name: &'a str,
    pub implementation_version: &'a str,
    pub platform_python_implementation: &'a str,
    pub env: &'a crate::config::Environment,
}

/// The marker environment of an interpreter and this machine. A version the interpreter
/// reports that PEP 440 cannot read is an error naming it.
pub fn marker_environment(facts: &MarkerFacts<'_>) -> Result<MarkerEnvironment, PythonError> {
    let short: Vec<&str> = facts.python_full_version.split('.').take(2).collect();
    let python_version = short.join(".");
    let env = facts.env;
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: facts.implementation_name,
        implementation_version: facts.implementation_version,
        os_name: &env.os_name,
        platform_machine: &env.platform_machine,
        platform_python_implementation: facts.platform_python_implementation,
        platform_release: &env.platform_release,
        platform_system: &env.platform_system,
        platform_version: &env.platform_version,
        // CPython's own versions (`3.14.0+`) can carry what PEP 440 rejects; the release is
        // what markers compare.
        python_full_version: facts.python_full_version.trim_end_matches('+'),
        python_version: &python_version,
        sys_platform: &env.sys_platform,
    })
    .map_err(|e| PythonError::Interpreter {
        executable: "python".into(),
        reason: format!("reports a version that is not PEP 440: {e}"),
    })
}

/// A CPython 3.11.7 on this machine, for tests.
#[cfg(test)]
pub(crate) fn test_environment() -> MarkerEnvironment {
    marker_environment(&MarkerFacts {
        python_full_version: "3.11.7",
        implementation_name: "cpython",
        implementation_version: "3.11.7",
        platform_python_implementation: "CPython",
        env: crate::config::Environment::current(),
    })
    .expect("environment")
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
            ("2.9.0.post0", "2.9.0", Greater),
            ("6.4.dev0", "6.4", Less),
            ("6.4.dev0", "6.4a1", Less),
            ("1.0+local.1", "1.0", Greater),
            ("2026.10.19.post1", "2023.5.7", Greater),
            ("not-a-version", "1.0", Less),
            ("not-a-version", "also-not", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
        }
    }

    #[test]
    fn specifiers() {
        // (requirement, version, allowed): the cases hand-written PEP 440 got wrong first.
        let cases = [
            ("certifi>=2023.5.7", "2026.10.19.post1", true),
            ("ZODB>=6.4.dev0", "6.4", true),
            ("ZODB>=6.4.dev0", "6.4.dev0", true),
            ("ZODB>=6.4.dev0", "6.3", false),
            ("python-dateutil==2.9.0.post0", "2.9.0.post0", true),
            ("python-dateutil==2.9.0.post0", "2.9.0", false),
            ("demo==1.0", "1.0+local", true),
            ("demo==1.0+local", "1.0+local", true),
            ("demo==1.0+local", "1.0", false),
            ("demo<2", "2.0a1", false),
            ("demo<2", "1.9", true),
            ("demo~=2.2", "2.9", true),
            ("demo~=2.2", "3.0", false),
            ("demo==3.*", "3.7.1", true),
            ("demo!=3.*", "3.7.1", false),
            ("six===1.17.0", "1.17.0", true),
            ("six===1.17.0", "1.17", false),
            ("demo>=1.0,<2", "1.5", true),
            ("demo", "anything", true),
            ("demo>=1", "not-a-version", false),
        ];
        for (req, version, expected) in cases {
            let r = Requirement::parse(req).expect(req);
            assert_eq!(r.allows(version), expected, "{req} allows {version}");
        }
    }

    #[test]
    fn requirements() {
        let r = Requirement::parse("Zope.Interface[test, docs] >=5.0,<9 ; python_version >= \"3\"").expect("parses");
        assert_eq!(r.name, "Zope.Interface");
        assert_eq!(r.key(), "zope-interface");
        assert_eq!(r.extras, ["test", "docs"]);
        assert_eq!(r.specifier(), "<9,>=5.0");
        assert_eq!(r.to_string(), "Zope.Interface[docs,test]<9,>=5.0; python_version >= \"3\"");
        assert!(r.allows("8.7") && !r.allows("9.1") && !r.allows("4.0"));
        assert!(Requirement::parse("ZEO").expect("parses").allows("6.2"));
        assert!(Requirement::parse("demo (==0.3)").expect("parses").allows("0.3"));
        for bad in ["=1", "foo bar", "demo ==", "demo >= 1 2", "demo[x"] {
            assert!(Requirement::parse(bad).is_err(), "{bad}");
        }
        let env = test_environment();
        let extra = Requirement::parse("pytest; extra == 'test'").expect("parses");
        assert!(!extra.applies(&env, &[]) && extra.applies(&env, &["test".to_owned()]));
        let cases = [
            ("a; python_version >= '3.9'", true),
            ("a; python_version < '3.10'", false),
            ("a; python_full_version >= '3.11.7'", true),
            ("a; sys_platform == 'win32'", false),
            ("a; platform_python_implementation == 'CPython' and python_version > '3'", true),
        ];
        for (text, expected) in cases {
            assert_eq!(Requirement::parse(text).expect(text).applies(&env, &[]), expected, "{text}");
        }
        let r = Requirement::parse("demo>=1").expect("parses");
        assert_eq!(r.with_specifier("==1.5").expect("pin").to_string(), "demo==1.5");
        assert_eq!(r.and_specifier("<2").expect("pin").to_string(), "demo<2,>=1");
        assert_eq!(Requirement::parse("ZODB>=6.4.dev0").expect("parses").to_string(), "ZODB>=6.4.dev0");
        assert!(Requirement::parse("ZODB>=6.4.dev0").expect("parses").asks_for_prerelease());
        assert!(!r.asks_for_prerelease());
    }
}
