//! What the golden-file runners share: reading a case's files, listing a directory tree the way
//! the recorders list it, and `.installed.cfg` as a comparable state.

use std::path::Path;

use buildout_core::config::Environment;
use buildout_core::engine::installed::{Installed, SIGNATURE};

/// A fixture file; a missing one is a broken fixture, so the test stops there.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A step's expected file: `ours/<name>` where we differ on purpose, else `expected/<name>`.
pub fn expected(step: &Path, name: &str) -> String {
    let ours = step.join("ours").join(name);
    read(&if ours.exists() { ours } else { step.join("expected").join(name) })
}

/// Every path below `dir`, relative, directories with a trailing `/`, sorted; the top-level
/// entries named in `left_out` are skipped with everything below them.
pub fn tree(dir: &Path, left_out: &[&str]) -> String {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).expect("below").to_string_lossy().into_owned();
            if d == dir && left_out.contains(&rel.as_str()) {
                continue;
            }
            if path.is_dir() && !path.is_symlink() {
                out.push(format!("{rel}/"));
                stack.push(path);
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out.iter().map(|l| format!("{l}\n")).collect()
}

/// The files below `root`, relative and sorted.
pub fn files_below(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).expect("below").to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// `.installed.cfg` as a state, its signatures redacted. A missing file (or the recorders'
/// `<absent>`) is the empty state, as is one recording no parts.
pub fn installed_state(text: Option<&str>) -> Installed {
    let Some(text) = text.filter(|t| *t != "<absent>\n") else { return Installed::default() };
    let mut state = Installed::parse(text, ".installed.cfg", Environment::current()).expect("parses");
    for options in state.options.values_mut() {
        if let Some(sig) = options.get_mut(SIGNATURE) {
            *sig = "{SIGNATURE}".into();
        }
    }
    state
}

/// What a case's problems mean for the run: `None` when it passes. A case listed in `known`
/// (name, why) must still differ, so that an entry is removed once it matches `reference`.
pub fn judge(case: &Path, problems: &[String], known: &[(&str, &str)], reference: &str) -> Option<String> {
    let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if known.iter().any(|(k, _)| *k == name) {
        return problems
            .is_empty()
            .then(|| format!("== {name}\nnow matches {reference}: remove it from KNOWN_DIFFERENCES"));
    }
    (!problems.is_empty()).then(|| format!("== {name}\n{}", problems.join("\n")))
}

/// A case's steps (the directories holding a `cmd`), in the order they are replayed.
pub fn steps(case: &Path) -> Vec<std::path::PathBuf> {
    let mut steps: Vec<_> =
        std::fs::read_dir(case).expect("case").flatten().map(|e| e.path()).filter(|p| p.join("cmd").exists()).collect();
    steps.sort();
    steps
}
