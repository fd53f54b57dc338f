//! The configuration corpus: every case under `tests/fixtures/config/` was recorded from
//! zc.buildout 6.0.1 (see `tests/fixtures/record.py`); `buildout` must produce the same bytes.
//!
//! A case is `in/` (the buildout directory), `cmd` (arguments, shell-split, `{DIR}` replaced),
//! optional `env`, and `expected/{stdout,stderr,status}`; with `resolve-cmd` also
//! `expected/resolve{,-stderr,-status}`.
//!
//! Where we deliberately differ from zc.buildout (a clearer message for something Python
//! reports as a bare exception), the case has `ours/<file>` replacing `expected/<file>` and
//! `ours/WHY` saying why; `record.py` never touches `ours/`.

use std::path::{Path, PathBuf};

use tests::{Outcome, copy_tree, run_buildout};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn words(path: &Path, dir: &str) -> Vec<String> {
    let line = read(path).replace("{DIR}", dir);
    shlex::split(line.trim_end_matches('\n')).unwrap_or_else(|| panic!("{}: not shell words", path.display()))
}

/// Compares one run with its expected files; returns a description of each difference.
fn compare(case: &Path, what: &str, got: &Outcome, prefix: &str) -> Vec<String> {
    let file = |name: &str| {
        let ours = case.join("ours").join(name);
        read(&if ours.exists() { ours } else { case.join("expected").join(name) })
    };
    let status: i32 = file(&format!("{prefix}status")).trim().parse().unwrap_or(-1);
    let mut problems = Vec::new();
    let expected_stdout = file(if prefix.is_empty() { "stdout" } else { "resolve" });
    let expected_stderr = file(if prefix.is_empty() { "stderr" } else { "resolve-stderr" });
    if got.stdout != expected_stdout {
        problems.push(format!("{what}: stdout differs\n--- expected\n{expected_stdout}--- got\n{}", got.stdout));
    }
    if got.stderr != expected_stderr {
        problems.push(format!("{what}: stderr differs\n--- expected\n{expected_stderr}--- got\n{}", got.stderr));
    }
    if got.status != status {
        problems.push(format!("{what}: status {} instead of {status}", got.status));
    }
    problems
}

fn run_case(case: &Path) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let dir: PathBuf = scratch.path().canonicalize().expect("canonical temp dir");
    copy_tree(&case.join("in"), &dir).expect("copy the case's in/");
    let dir_text = dir.to_string_lossy().into_owned();
    let env: Vec<(String, String)> = match std::fs::read_to_string(case.join("env")) {
        Ok(text) => text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("{DIR}", &dir_text)))
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut problems = Vec::new();
    let got = run_buildout(&dir, &words(&case.join("cmd"), &dir_text), &env);
    problems.extend(compare(case, "command", &got, ""));
    if case.join("resolve-cmd").exists() {
        // A fresh copy: the first run may have created directories.
        let scratch = tempfile::tempdir().expect("temporary directory");
        let rdir: PathBuf = scratch.path().canonicalize().expect("canonical temp dir");
        copy_tree(&case.join("in"), &rdir).expect("copy the case's in/");
        let rdir_text = rdir.to_string_lossy().into_owned();
        let env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.clone(), v.replace(&dir_text, &rdir_text))).collect();
        let got = run_buildout(&rdir, &words(&case.join("resolve-cmd"), &rdir_text), &env);
        problems.extend(compare(case, "resolve", &got, "resolve-"));
    }
    problems
}

#[test]
fn config_corpus_matches_zc_buildout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/config exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cmd").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 80, "the corpus has only {} cases", cases.len());
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.to_string_lossy().contains(&filter)) {
        let problems = run_case(case);
        if !problems.is_empty() {
            let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            failures.push(format!("== {name}\n{}", problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
