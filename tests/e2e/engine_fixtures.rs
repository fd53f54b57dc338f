//! The install-engine corpus: every case under `tests/fixtures/engine/` was recorded from
//! zc.buildout 6.0.1 with a Python twin of our test recipe library (see the README there).
//! Each case's steps run in one directory; console output must match byte for byte, the
//! directory tree exactly, and `.installed.cfg` must record the same state (zc.buildout appends
//! `[buildout]` blocks where we fold them, so the files are compared parsed).
//!
//! Where we deliberately differ, a step has `ours/<file>` replacing `expected/<file>` and
//! `ours/WHY` saying why. The recipe library directory is redacted as `{RECIPES}`.

use std::path::{Path, PathBuf};

use tests::golden::{expected, installed_state, read, tree};
use tests::{cargo_artifact, run_buildout};

/// What zc.buildout's recorder leaves out of the tree, and our lock and journal files.
const LEFT_OUT: [&str; 7] =
    ["bin", "develop-eggs", "eggs", "home", ".installed.cfg", ".installed.cfg.lock", ".installed.cfg.journal"];

fn run_case(case: &Path, env: &[(String, String)]) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = scratch.path().canonicalize().expect("canonical");
    let dir_text = dir.to_string_lossy().into_owned();
    let mut steps: Vec<PathBuf> = std::fs::read_dir(case)
        .expect("case dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cmd").exists())
        .collect();
    steps.sort();
    let mut problems = Vec::new();
    for step in &steps {
        let name = step.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tests::prepare_step(step, &dir);
        let line = read(&step.join("cmd")).replace("{DIR}", &dir_text);
        let args = shlex::split(line.trim_end()).expect("shell words");
        let mut got = run_buildout(&dir, &args, env);
        for (_, recipes) in env {
            got.stdout = got.stdout.replace(recipes.as_str(), "{RECIPES}");
            got.stderr = got.stderr.replace(recipes.as_str(), "{RECIPES}");
        }
        let status: i32 = expected(step, "status").trim().parse().unwrap_or(-1);
        for (what, want, have) in [
            ("stdout", expected(step, "stdout"), got.stdout.clone()),
            ("stderr", expected(step, "stderr"), got.stderr.clone()),
            ("tree", expected(step, "tree"), tree(&dir, &LEFT_OUT)),
        ] {
            if want != have {
                problems.push(format!("{name}: {what} differs\n--- expected\n{want}--- got\n{have}"));
            }
        }
        if got.status != status {
            problems.push(format!("{name}: status {} instead of {status}", got.status));
        }
        let want = expected(step, "installed").replace("{DIR}", &dir_text);
        let want = if want == "<absent>\n" { None } else { Some(want) };
        let have = std::fs::read_to_string(dir.join(".installed.cfg")).ok();
        if installed_state(want.as_deref()) != installed_state(have.as_deref()) {
            problems.push(format!(
                "{name}: .installed.cfg records another state\n--- expected\n{}--- got\n{}",
                want.unwrap_or_default(),
                have.unwrap_or_default()
            ));
        }
        if !problems.is_empty() {
            break;
        }
    }
    problems
}

#[test]
fn engine_corpus_matches_zc_buildout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine");
    let lib = cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/engine exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "python"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "the corpus has only {} cases", cases.len());
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.to_string_lossy().contains(&filter)) {
        let problems = run_case(case, &env);
        if !problems.is_empty() {
            let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            failures.push(format!("== {name}\n{}", problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
