//! The zc.recipe.egg corpus: every case under `tests/fixtures/egg/` was recorded from
//! zc.buildout 6.0.1 + zc.recipe.egg 6.0.0 (see `record.py` there). Steps run in one directory;
//! the generated scripts (text and mode), the eggs directory, `.installed.cfg` (compared parsed)
//! and the console output must match. Two kinds of lines are not ours to print: setuptools'
//! package-index chatter about the unreachable index (`root: ...`), and the bookkeeping files
//! pip adds to a `.dist-info` (`INSTALLER`, `RECORD`, `REQUESTED`, `direct_url.json`).
//! Cases named `pypi-*` talk to PyPI; they run only with `BUILDOUT_TEST_PYPI=1`.
//!
//! The corpus was recorded under Python 3.11; what depends on the interpreter's version (egg
//! directory names, `py3.11`) is a placeholder in it (`{PY}`), and in our output
//! (`tests::Python::redact`), so the corpus passes with any Python 3.9 and later on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::golden::{installed_state, judge, read, steps};
use tests::{Python, copy_tree, run_buildout, scratch};

fn expected(step: &Path, name: &str) -> Option<String> {
    let ours = step.join("ours").join(name);
    let path = if ours.exists() { ours } else { step.join("expected").join(name) };
    std::fs::read_to_string(path).ok()
}

fn listing(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    names.sort();
    if !dir.is_dir() {
        return "<absent>\n".to_owned();
    }
    names.iter().map(|n| format!("{n}\n")).collect()
}

const PIP_BOOKKEEPING: [&str; 4] = ["INSTALLER", "RECORD", "REQUESTED", "direct_url.json"];

fn egg_files(eggs: &Path) -> String {
    if !eggs.is_dir() {
        return "<absent>\n".to_owned();
    }
    let mut lines = Vec::new();
    let mut stack = vec![eggs.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "__pycache__" || name.ends_with(".pyc") || (d == eggs && name.starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                lines.push(path.strip_prefix(eggs).expect("below").display().to_string());
            }
        }
    }
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn without_bookkeeping(text: &str) -> String {
    text.lines()
        .filter(|l| !PIP_BOOKKEEPING.iter().any(|b| l.ends_with(&format!(".dist-info/{b}"))))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `EGG_RECORD_OURS=1 FIXTURE=<case>` writes our console output and eggs into a step's `ours/`
/// where they differ from zc.buildout's on purpose (review every file it writes), and removes
/// them where they no longer differ.
fn recording() -> bool {
    std::env::var("EGG_RECORD_OURS").is_ok_and(|v| v == "1")
}

fn record_ours(step: &Path, outputs: &[(&str, String)]) {
    for (name, have) in outputs {
        let theirs = std::fs::read_to_string(step.join("expected").join(name)).unwrap_or_default();
        let theirs: String = match *name {
            "stdout" => theirs.lines().filter(|l| !l.starts_with("root: ")).map(|l| format!("{l}\n")).collect(),
            "egg-files" => without_bookkeeping(&theirs),
            _ => theirs,
        };
        let ours = step.join("ours").join(name);
        if *have == theirs {
            let _ = std::fs::remove_file(&ours);
        } else {
            std::fs::create_dir_all(ours.parent().unwrap_or(step)).expect("ours/");
            std::fs::write(&ours, have).expect("write ours/");
        }
    }
}

/// Our output where the recording has placeholders: the buildout directory, the interpreter's
/// real path (as our scripts' shebangs name it), and what depends on its version (egg names hold
/// `py3.X`: see [`tests::Python::redact`]).
fn run_case(case: &Path, python: &Python, env: &[(String, String)]) -> Vec<String> {
    let (_t, dir) = scratch();
    copy_tree(&case.join("in"), &dir).expect("copy in/");
    let dir_text = dir.to_string_lossy().into_owned();
    let redact = |s: &str| python.redact(&s.replace(&dir_text, "{DIR}").replace(&python.executable, "{PYTHON}"));
    let steps = steps(case);
    let mut problems = Vec::new();
    for step in &steps {
        let name = step.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tests::prepare_step(step, &dir);
        for required in ["stdout", "stderr", "status"] {
            assert!(
                step.join("expected").join(required).exists(),
                "{name}: expected/{required} is missing: re-record the case"
            );
        }
        let line = read(&step.join("cmd")).replace("{DIR}", &dir_text);
        let args = shlex::split(line.trim_end()).expect("shell words");
        let got = run_buildout(&dir, &args, env);
        let mut compare = |what: &str, want: Option<String>, have: String| {
            if let Some(want) = want
                && want != have
            {
                problems.push(format!("{name}: {what} differs\n--- expected\n{want}--- got\n{have}"));
            }
        };
        let stdout = expected(step, "stdout")
            .map(|s| s.lines().filter(|l| !l.starts_with("root: ")).map(|l| format!("{l}\n")).collect());
        compare("stdout", stdout, redact(&got.stdout));
        compare("stderr", expected(step, "stderr"), redact(&got.stderr));
        compare("status", expected(step, "status"), format!("{}\n", got.status));
        let bin = dir.join("bin");
        let want_bin = step.join("expected/bin");
        let mut names: Vec<String> = std::fs::read_dir(&want_bin)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        for script in &names {
            let have =
                std::fs::read_to_string(bin.join(script)).map(|t| redact(&t)).unwrap_or_else(|_| "<missing>\n".into());
            if recording() {
                record_ours(step, &[(&format!("bin/{script}"), have.clone())]);
            }
            compare(&format!("bin/{script}"), expected(step, &format!("bin/{script}")), have);
        }
        let modes: String = listing(&bin)
            .lines()
            .map(|n| {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(bin.join(n)).map(|m| m.permissions().mode() & 0o7777).unwrap_or_default();
                format!("{n} {mode:03o}\n")
            })
            .collect();
        let modes = if bin.is_dir() { modes } else { "<absent>\n".to_owned() };
        // Our `bin/buildout` is a link to this program; zc.buildout's bootstrap script is not
        // part of these cases.
        compare("bin-modes", expected(step, "bin-modes"), modes);
        let eggs = dir.join("eggs/v5");
        if recording() {
            record_ours(
                step,
                &[
                    ("stdout", redact(&got.stdout)),
                    ("stderr", redact(&got.stderr)),
                    ("eggs", redact(&listing(&eggs))),
                    ("egg-files", redact(&without_bookkeeping(&egg_files(&eggs)))),
                ],
            );
        }
        compare("eggs", expected(step, "eggs"), redact(&listing(&eggs)));
        compare(
            "egg-files",
            expected(step, "egg-files").map(|e| without_bookkeeping(&e)),
            redact(&without_bookkeeping(&egg_files(&eggs))),
        );
        let want_installed = expected(step, "installed")
            .map(|t| python.fill(&t.replace("{DIR}", &dir_text).replace("{PYTHON}", &python.executable)));
        let have_installed = std::fs::read_to_string(dir.join(".installed.cfg")).ok();
        if let Some(want) = want_installed
            && installed_state(Some(&want)) != installed_state(have_installed.as_deref())
        {
            problems.push(format!(
                "{name}: .installed.cfg differs\n--- expected\n{want}--- got\n{}",
                have_installed.unwrap_or_default()
            ));
        }
        if step.join("run").exists() {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("exec 2>&1; {}", read(&step.join("run"))))
                .current_dir(&dir)
                .env("HOME", dir.join("home"))
                .output()
                .expect("run");
            let have = format!(
                "{}[status {}]\n",
                redact(&String::from_utf8_lossy(&out.stdout)),
                out.status.code().unwrap_or(-1)
            );
            if recording() {
                record_ours(step, &[("run", have.clone())]);
            }
            let mut p = Vec::new();
            if let Some(want) = expected(step, "run")
                && want != have
            {
                p.push(format!("{name}: run differs\n--- expected\n{want}--- got\n{have}"));
            }
            problems.extend(p);
        }
        if !problems.is_empty() {
            break;
        }
    }
    problems
}

/// Cases where we knowingly differ, and why. The test fails if one of them starts to match, so
/// the list stays true.
/// zc.buildout takes distributions the Python running it already has (here ZConfig and
/// setuptools, in the reference venv) from its site-packages; we have no Python of our own, and
/// install every distribution a script needs as an egg.
const SITE_PACKAGES: &str = "zc.buildout uses its own site-packages for ZConfig and setuptools; we install eggs";

const KNOWN_DIFFERENCES: [(&str, &str); 4] = [
    ("pypi-001-zeo-interpreter", SITE_PACKAGES),
    ("pypi-002-zodb-zeo-zdaemon-relative", SITE_PACKAGES),
    ("pypi-003-zc-lockfile-dependent", SITE_PACKAGES),
    ("lifecycle-004-offline-rerun", "zc.buildout 6 cannot find the eggs it made from wheels in offline mode; we can"),
];

#[test]
fn egg_corpus_matches_zc_recipe_egg() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/egg");
    let pypi = std::env::var("BUILDOUT_TEST_PYPI").is_ok_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/egg exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("in").is_dir())
        .filter(|p| pypi || !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pypi-")))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus has only {} cases", cases.len());
    let python = tests::python();
    let lib = tests::cargo_artifact("recipe-egg", "zc_recipe_egg");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.to_string_lossy().contains(&filter)) {
        let problems = run_case(case, python, &env);
        failures.extend(judge(case, &problems, &KNOWN_DIFFERENCES, "zc.recipe.egg"));
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
