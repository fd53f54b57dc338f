//! The zc.zodbrecipes corpus: every case under `tests/fixtures/zodb/` was recorded from
//! zc.buildout 6.0.1 + zc.recipe.egg 6.0.0 + zc.zodbrecipes 3.1 (see the README there). Steps run
//! in one directory; console output, the directory tree, every generated file (zeo.conf,
//! zdaemon.conf, control and rc scripts, logrotate and crontab files) with its mode, and
//! `.installed.cfg` (parsed) must match.
//!
//! One difference is structural: the reference interpreter had ZConfig and setuptools in its
//! own site-packages, which zc.buildout uses; we install them as eggs like any distribution
//! (their wheels are added to the case's `wheels/`). So the lines about fetching those two and
//! the `sys.path` list of the control script are not compared.

use std::path::{Path, PathBuf};

use tests::{Python, cargo_artifact, copy_tree, run_buildout, scratch};

use tests::golden::{expected, files_below, installed_state, judge, read, steps, tree};
use tests::zeo::wheels;

/// What the recorder leaves out of the tree (and the wheels the runner adds), our lock and journal.
const LEFT_OUT: [&str; 6] = ["eggs", "develop-eggs", "home", ".installed.cfg", ".installed.cfg.journal", "wheels"];

/// Not ours to compare: setuptools' index chatter, and fetching what the reference had built in.
/// Our own warnings (a bare port listening everywhere, pack hints) are documented additions,
/// left out unless the step records our output (`ours/`).
fn comparable_stdout(text: &str, ours: bool) -> String {
    text.lines()
        .filter(|l| !l.starts_with("root: "))
        .filter(|l| ours || !(l.starts_with("zc.zodbrecipes: zeo.conf:") || l.starts_with("zc.zodbrecipes: pack:")))
        .filter(|l| {
            !["ZConfig", "setuptools"].iter().any(|d| {
                l.starts_with(&format!("Getting distribution for '{d}")) || l.starts_with(&format!("Got {d} "))
            })
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A control script with its `sys.path` entries left out.
fn without_path(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "sys.path[0:0] = [" {
            inside = true;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if inside {
            if line == "  ]" {
                inside = false;
            } else {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The Python control scripts (`bin/*`, `init.d/*`) before a step, by path.
fn control_scripts(dir: &Path) -> Vec<(String, String)> {
    ["bin", "init.d", "rc"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).into_iter().flatten().flatten())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            text.contains("import zdaemon.zdctl").then(|| (e.path().to_string_lossy().into_owned(), text))
        })
        .collect()
}

/// Drops "Generated script" for a control script whose new text only reorders the old one's
/// lines, where the reference did not regenerate it. The reference Python had ZConfig and setuptools installed, so it fetched only zdaemon;
/// we fetch all three, which puts them first on the first run's `sys.path`, and a rerun then
/// writes zc.buildout's order for eggs already present. That is the recording environment, not
/// the recipe.
fn without_reordered_regeneration(stdout: &str, want: &str, before: &[(String, String)], dir: &str) -> String {
    let sorted = |t: &str| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    let reordered = |line: &str| {
        !want.lines().any(|w| w == line)
            && before.iter().any(|(path, old)| {
                line == format!("Generated script '{}'.", path.replace(dir, "{DIR}"))
                    && std::fs::read_to_string(path).is_ok_and(|new| new != *old && sorted(&new) == sorted(old))
            })
    };
    stdout.lines().filter(|l| !reordered(l)).map(|l| format!("{l}\n")).collect()
}

/// A logrotate file without the `kill USR2` line we add to its `postrotate` (zdaemon passes
/// the signal to runzeo, which reopens the event log zeo.conf names; zc.zodbrecipes reopens
/// only the transcript). The line must be there, right after `reopen_transcript`: without it
/// the comparison fails.
fn without_event_log_reopening(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let after_reopen = i > 0 && lines[i - 1].trim_end().ends_with(" reopen_transcript");
        let same_control = after_reopen
            && lines[i - 1].trim_end().strip_suffix(" reopen_transcript").map(|c| format!("{c} kill USR2"))
                == Some(line.trim_end().to_owned());
        if !same_control {
            out.push_str(line);
        }
    }
    out
}

/// Writes our output for a step where we differ from zc.zodbrecipes on purpose.
fn record_ours(step: &Path, dir: &Path, inputs: &[String], got: &tests::Outcome, redact: &dyn Fn(&str) -> String) {
    let ours = step.join("ours");
    let _ = std::fs::remove_dir_all(&ours);
    std::fs::create_dir_all(&ours).expect("ours/");
    std::fs::write(ours.join("stdout"), redact(&got.stdout)).expect("stdout");
    std::fs::write(ours.join("stderr"), redact(&got.stderr)).expect("stderr");
    std::fs::write(ours.join("status"), format!("{}\n", got.status)).expect("status");
    std::fs::write(ours.join("tree"), tree(dir, &LEFT_OUT)).expect("tree");
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).map(|t| redact(&t));
    std::fs::write(ours.join("installed"), installed.unwrap_or_else(|_| "<absent>\n".into())).expect("installed");
    let listed = tree(dir, &LEFT_OUT);
    for file in listed.lines().filter(|l| !l.ends_with('/') && !inputs.iter().any(|i| i == l)) {
        let target = ours.join("files").join(file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("files/");
        std::fs::write(&target, redact(&read(&dir.join(file)))).expect("file");
    }
}

fn run_case(case: &Path, env: &[(String, String)], python: &Python, record: bool) -> Vec<String> {
    let (_t, dir) = scratch();
    copy_tree(&case.join("in"), &dir).expect("copy in/");
    let cache = wheels();
    std::fs::create_dir_all(dir.join("wheels")).expect("wheels");
    for entry in std::fs::read_dir(&cache).expect("wheel cache").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("ZConfig-") || name.starts_with("zconfig-") || name.starts_with("setuptools-") {
            std::fs::copy(entry.path(), dir.join("wheels").join(&name)).expect("copy wheel");
        }
    }
    let dir_text = dir.to_string_lossy().into_owned();
    // The egg directories on the control scripts' `sys.path` hold the Python version (`py3.11`).
    let redact = |s: &str| python.redact(&s.replace(&dir_text, "{DIR}").replace(&python.executable, "{PYTHON}"));
    let steps = steps(case);
    let mut problems = Vec::new();
    let mut inputs: Vec<String> = files_below(&case.join("in"));
    inputs.push("buildout.cfg".into());
    for step in &steps {
        let name = step.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tests::prepare_step(step, &dir);
        if step.join("files").is_dir() {
            inputs.extend(files_below(&step.join("files")));
        }
        let line = read(&step.join("cmd")).replace("{DIR}", &dir_text);
        let args = shlex::split(line.trim_end()).expect("shell words");
        let before = control_scripts(&dir);
        let mut got = run_buildout(&dir, &args, env);
        // Nothing is expected yet of a step being recorded.
        let want_stdout = if record { String::new() } else { expected(step, "stdout") };
        got.stdout = without_reordered_regeneration(&got.stdout, &want_stdout, &before, &dir_text);
        let mut compare = |what: &str, want: String, have: String| {
            if want != have {
                problems.push(format!("{name}: {what} differs\n--- expected\n{want}--- got\n{have}"));
            }
        };
        let ours = step.join("ours").is_dir();
        if record {
            record_ours(step, &dir, &inputs, &got, &redact);
            continue;
        }
        compare("stdout", comparable_stdout(&want_stdout, ours), comparable_stdout(&redact(&got.stdout), ours));
        compare("stderr", expected(step, "stderr"), redact(&got.stderr));
        compare("status", expected(step, "status"), format!("{}\n", got.status));
        compare(
            "tree",
            expected(step, "tree").lines().filter(|l| !l.starts_with("wheels")).map(|l| format!("{l}\n")).collect(),
            tree(&dir, &LEFT_OUT),
        );
        let want_files = step.join(if ours { "ours/files" } else { "expected/files" });
        for file in files_below(&want_files) {
            let want = read(&want_files.join(&file));
            let have =
                std::fs::read_to_string(dir.join(&file)).map(|t| redact(&t)).unwrap_or_else(|_| "<missing>\n".into());
            let (want, have) = if want.contains("import zdaemon.zdctl") {
                (without_path(&want), without_path(&have))
            } else if want.contains("reopen_transcript") && !ours {
                (want, without_event_log_reopening(&have))
            } else {
                (want, have)
            };
            compare(&file, want, have);
        }
        let want = python.fill(&expected(step, "installed").replace("{DIR}", &dir_text));
        let have = std::fs::read_to_string(dir.join(".installed.cfg")).ok();
        if installed_state(Some(&want)) != installed_state(have.as_deref()) {
            problems.push(format!(
                "{name}: .installed.cfg differs\n--- expected\n{want}--- got\n{}",
                have.unwrap_or_default()
            ));
        }
        if !problems.is_empty() {
            break;
        }
    }
    problems
}

/// Cases where we cannot match zc.zodbrecipes, with why (where we differ on purpose, the step's
/// `ours/` holds what we do instead and is compared like `expected/`). The test checks that each
/// still differs, so a stale entry is noticed.
const KNOWN_DIFFERENCES: [(&str, &str); 0] = [];

#[test]
fn zodb_corpus_matches_zc_zodbrecipes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zodb");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/zodb exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("in").is_dir())
        .collect();
    cases.sort();
    let libs = [
        cargo_artifact("recipe-egg", "zc_recipe_egg"),
        cargo_artifact("recipe-zodb", "zc_zodbrecipes"),
        cargo_artifact("recipe-deployment", "zc_recipe_deployment"),
    ];
    let path = std::env::join_paths(libs.iter().filter_map(|l| l.parent())).expect("path");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), path.to_string_lossy().into_owned())];
    let python = tests::python();
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    // ZODB_RECORD_OURS=1 FIXTURE=<case> writes what we do into each step's `ours/` (review it!).
    let record = std::env::var("ZODB_RECORD_OURS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.to_string_lossy().contains(&filter)) {
        let problems = run_case(case, &env, python, record);
        failures.extend(judge(case, &problems, &KNOWN_DIFFERENCES, "zc.zodbrecipes"));
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
