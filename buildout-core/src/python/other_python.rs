//! Saying so when a distribution exists, but not for the Python buildout runs: its wheels are
//! all for other interpreters or platforms and it has no source distribution, or every version
//! needs another Python. An installer reports that as a resolution failure in many lines; the
//! user needs one.

use std::collections::BTreeSet;

use super::index::DistFile;
use super::interpreter::Interpreter;
use super::requirement::parse_version;

/// Why nothing of `name` among `files` installs on `interp`, or `None` when something does
/// (or there is nothing at all: that is a missing distribution, not this).
pub(super) fn explain(name: &str, files: &[DistFile], interp: &Interpreter) -> Option<String> {
    let live: Vec<&DistFile> = files.iter().filter(|f| !f.yanked).collect();
    let python = parse_version(&interp.info.full_version);
    if live.is_empty() || live.iter().any(|f| f.installable(interp, python.as_ref())) {
        return None;
    }
    let newest = live.iter().map(|f| &f.version).max()?;
    let of_newest: Vec<&&DistFile> = live.iter().filter(|f| &f.version == newest).collect();
    if let Some(f) = of_newest.iter().find(|f| !f.runs_on(python.as_ref())) {
        let spec = f.requires_python.as_deref().unwrap_or_default();
        return Some(format!("{name} {newest} requires Python {spec}"));
    }
    let (mut pythons, mut platforms) = (BTreeSet::new(), BTreeSet::new());
    for (python, abi, platform) in of_newest.iter().filter_map(|f| f.wheel_tags.as_ref()) {
        pythons
            .extend(python.split('.').map(|p| if abi == "none" || abi == "abi3" { p.to_owned() } else { abi.clone() }));
        platforms.extend(platform.split('.').map(str::to_owned));
    }
    // `cp39` before `cp310`: shorter tags of one kind are older versions.
    let join = |set: BTreeSet<String>| {
        let mut tags: Vec<String> = set.into_iter().collect();
        tags.sort_by_key(|t| (t.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned(), t.len(), t.clone()));
        tags.join(", ")
    };
    Some(format!(
        "{name} {newest} has wheels only for {} on {}, and no source distribution",
        join(pythons),
        join(platforms)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, requires_python: Option<&str>) -> DistFile {
        let (_, version, tags) = super::super::links::parse_file_name(name).expect("a distribution file");
        DistFile {
            filename: name.to_owned(),
            url: format!("https://files.example/{name}"),
            sha256: None,
            requires_python: requires_python.map(str::to_owned),
            yanked: false,
            version: parse_version(&version).expect("version"),
            wheel_tags: tags,
        }
    }

    #[test]
    fn one_line_for_a_distribution_that_is_not_for_this_python() {
        let linux = super::super::interpreter::test_interpreter("cpython", "linux-x86_64", Some("glibc 2.36"));
        /// Files (name, `Requires-Python`), then the explanation expected.
        type Case<'a> = (&'a [(&'a str, Option<&'a str>)], Option<&'a str>);
        let cases: [Case<'_>; 5] = [
            (
                &[
                    ("pywin32-312-cp311-cp311-win_amd64.whl", None),
                    ("pywin32-312-cp39-cp39-win32.whl", None),
                    ("pywin32-312-cp312-cp312-win32.whl", None),
                ],
                Some("demo 312 has wheels only for cp39, cp311, cp312 on win32, win_amd64, and no source distribution"),
            ),
            (
                &[
                    ("demo-2.10.0-cp39-cp39-manylinux2014_x86_64.whl", None),
                    ("demo-2.9-cp38-cp38-manylinux1_x86_64.whl", None),
                ],
                Some("demo 2.10.0 has wheels only for cp39 on manylinux2014_x86_64, and no source distribution"),
            ),
            (&[("demo-8.7-py3-none-any.whl", Some(">=3.99"))], Some("demo 8.7 requires Python >=3.99")),
            (&[("demo-1.0-cp39-cp39-win_amd64.whl", None), ("demo-0.9.tar.gz", None)], None),
            (&[("demo-1.0-py3-none-any.whl", None)], None),
        ];
        for (files, expected) in cases {
            let files: Vec<DistFile> = files.iter().map(|(f, rp)| file(f, *rp)).collect();
            assert_eq!(explain("demo", &files, &linux).as_deref(), expected, "{files:?}");
        }
    }
}
