//! The install-engine corpus: every case under `tests/fixtures/engine/` was recorded from
//! zc.buildout 6.0.1 with a Python twin of our test recipe library (see the README there).
//! Each case's steps run in one directory; console output must match byte for byte, the
//! directory tree exactly, and `.installed.cfg` must record the same state (zc.buildout appends
//! `[buildout]` blocks where we fold them, so the files are compared parsed).
//!
//! Where we deliberately differ, a step has `ours/<file>` replacing `expected/<file>` and
//! `ours/WHY` saying why. The recipe library directory is redacted as `{RECIPES}`.
//!
//! The corpus runs both ways: before every install step, `buildout plan --json` with the same
//! arguments must predict the parts zc.buildout uninstalled, installed and updated in that step,
//! in order (all of them when the step succeeded, the first ones when it failed partway), and
//! must change nothing on disk.

use std::path::{Path, PathBuf};

use tests::golden::{expected, installed_state, read, tree};
use tests::{cargo_artifact, run_buildout};

/// What zc.buildout's recorder leaves out of the tree, and our lock and journal files.
const LEFT_OUT: [&str; 6] = ["bin", "develop-eggs", "eggs", "home", ".installed.cfg", ".installed.cfg.journal"];

/// The parts zc.buildout acted on in a step, from its output: `Uninstalling a.`, `Installing
/// a.`, `Updating a.`, in order.
fn actions_in(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (verb, part) = line.strip_suffix('.')?.split_once(' ')?;
            let action = match verb {
                "Uninstalling" => "uninstall",
                "Installing" => "install",
                "Updating" => "update",
                _ => return None,
            };
            (!part.contains(' ')).then(|| (action.to_owned(), part.to_owned()))
        })
        .collect()
}

/// Runs `buildout plan --json` for an install step's arguments and compares its steps with what
/// zc.buildout did; `None` when they agree and the plan left the directory as it was.
fn check_plan(dir: &Path, args: &[String], env: &[(String, String)], step: &Path) -> Option<String> {
    let mut plan_args: Vec<String> = Vec::new();
    let mut words = args.iter();
    let mut command = false;
    for word in words.by_ref() {
        if word == "install" {
            command = true;
            break;
        }
        plan_args.push(word.clone());
    }
    if !command && args.iter().any(|w| !w.starts_with('-') && !w.contains('=')) {
        return None; // another command than install
    }
    plan_args.extend(["plan".to_owned(), "--json".to_owned()]);
    plan_args.extend(words.cloned());

    let snapshot = |dir: &Path| (tree(dir, &[]), std::fs::read(dir.join(".installed.cfg")).ok());
    let before = snapshot(dir);
    let planned = run_buildout(dir, &plan_args, env);
    if snapshot(dir) != before {
        return Some(format!("`buildout {}` changed the directory", plan_args.join(" ")));
    }
    // Steps run quietly, or with another log level or format, do not show zc.buildout's action
    // lines: there the plan only has to succeed and change nothing.
    let config = std::fs::read_to_string(step.join("buildout.cfg")).unwrap_or_default();
    if args.iter().any(|a| a.starts_with("-q")) || config.contains("log-level") || config.contains("log-format") {
        return None;
    }
    let did = actions_in(&expected(step, "stdout"));
    let status: i32 = expected(step, "status").trim().parse().unwrap_or(-1);
    if planned.status != 0 {
        return (!did.is_empty())
            .then(|| format!("the plan failed ({}) where zc.buildout acted: {did:?}", planned.stderr));
    }
    let plan: serde_json::Value = match serde_json::from_str(&planned.stdout) {
        Ok(plan) => plan,
        Err(e) => return Some(format!("the plan is not JSON ({e}): {}", planned.stdout)),
    };
    let steps: Vec<(String, String)> = plan["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| (s["action"].as_str().unwrap_or("").to_owned(), s["part"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let agrees = if status == 0 { steps == did } else { steps.starts_with(&did) };
    (!agrees).then(|| format!("the plan {steps:?} does not predict what zc.buildout did: {did:?}"))
}

/// How the corpus's recipes are had.
#[derive(Clone, Copy)]
enum Recipes<'a> {
    /// The Rust test recipe library.
    Native,
    /// The Python twin, through the Python bridge: a develop egg of the twin at this directory.
    Bridge(&'a Path),
}

/// The develop-eggs directory of a case: `develop-eggs-directory` of its first configuration,
/// else `develop-eggs`. A bridge run makes it first (it holds the twin's develop egg), so
/// zc.buildout's `Creating directory` line for it is not printed, and the egg's link is not
/// part of the recorded tree.
fn develop_eggs_dir(case: &Path) -> String {
    let first = std::fs::read_dir(case)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cmd").exists())
        .min();
    let config = first.and_then(|step| std::fs::read_to_string(step.join("buildout.cfg")).ok()).unwrap_or_default();
    config
        .lines()
        .find_map(|l| l.strip_prefix("develop-eggs-directory").and_then(|v| v.trim().strip_prefix('=')))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "develop-eggs".to_owned())
}

const TWIN_LINK: &str = "buildout.testrecipes.egg-link";

fn run_case(case: &Path, env: &[(String, String)], recipes: Recipes<'_>) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = scratch.path().canonicalize().expect("canonical");
    let dir_text = dir.to_string_lossy().into_owned();
    let develop_eggs = develop_eggs_dir(case);
    if let Recipes::Bridge(twin) = recipes {
        std::fs::create_dir_all(dir.join(&develop_eggs)).expect("mkdir develop-eggs");
        let link = format!("{}\n.", twin.display());
        std::fs::write(dir.join(&develop_eggs).join(TWIN_LINK), link).expect("write egg-link");
    }
    let develop_eggs_created = format!("Creating directory '{{DIR}}/{develop_eggs}'.");
    let twin_link = format!("{develop_eggs}/{TWIN_LINK}\n");
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
        // The plan is the engine's, whichever recipes run.
        if let Recipes::Native = recipes
            && let Some(problem) = check_plan(&dir, &args, env, step)
        {
            problems.push(format!("{name}: {problem}"));
            break;
        }
        let mut got = run_buildout(&dir, &args, env);
        for (_, recipes) in env {
            got.stdout = got.stdout.replace(recipes.as_str(), "{RECIPES}");
            got.stderr = got.stderr.replace(recipes.as_str(), "{RECIPES}");
        }
        let status: i32 = expected(step, "status").trim().parse().unwrap_or(-1);
        let mut want_stdout = expected(step, "stdout");
        if let Recipes::Bridge(_) = recipes {
            // `-v` names the library loaded: ours/ files name the Rust one, this run the bridge.
            let loaded = |l: &&str| l.starts_with("Loaded ") && l.ends_with(".so.\n");
            want_stdout = want_stdout
                .split_inclusive('\n')
                .filter(|l| !l.contains(&develop_eggs_created) && !loaded(l))
                .collect();
            got.stdout = got.stdout.split_inclusive('\n').filter(|l| !loaded(l)).collect();
        }
        for (what, want, have) in [
            ("stdout", want_stdout, got.stdout.clone()),
            ("stderr", expected(step, "stderr"), got.stderr.clone()),
            ("tree", expected(step, "tree"), tree(&dir, &LEFT_OUT).replace(&twin_link, "")),
        ] {
            // Where ours/ says how the Rust library differs from the Python twin (its message
            // for an unknown entry), the bridge, which runs the twin, gives zc.buildout's own.
            let recorded = || read(&step.join("expected").join(what));
            let as_zc_buildout = matches!(recipes, Recipes::Bridge(_)) && what != "stdout" && have == recorded();
            if want != have && !as_zc_buildout {
                // `ENGINE_RECORD_OURS=1` rewrites a step's `ours/` copy, for steps that have one
                // (where we differ on purpose; `ours/WHY` says why).
                let ours = step.join("ours");
                if std::env::var_os("ENGINE_RECORD_OURS").is_some() && ours.join("WHY").is_file() && what != "tree" {
                    std::fs::write(ours.join(what), &have).expect("write ours/");
                    continue;
                }
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

/// The cases of the corpus, `FIXTURE` (a substring of their names) choosing some.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/engine exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "python"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "the corpus has only {} cases", cases.len());
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    cases.retain(|c| c.to_string_lossy().contains(&filter));
    cases
}

/// Runs `cases` on two threads (the bridge's cases start a Python process per step); the
/// report lists every case that differs.
fn run_all(cases: &[PathBuf], env: &[(String, String)], recipes: Recipes<'_>) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let problems = run_case(case, env, recipes);
                    if !problems.is_empty() {
                        let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        let report = format!("== {name}\n{}", problems.join("\n"));
                        failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(report);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    failures.sort();
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn engine_corpus_matches_zc_buildout() {
    let lib = cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];
    run_all(&cases(), &env, Recipes::Native);
}

/// The same corpus with the recipes zc.buildout ran, the Python twin, through the Python bridge:
/// what the bridge does with a recipe's options, files, failures and uninstall entries is what
/// zc.buildout does with them.
#[test]
fn engine_corpus_through_the_python_bridge_matches_zc_buildout() {
    // Found beside the binary, as it is shipped.
    cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    let twin = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine/python");
    tests::python_twin(&source, twin.path());
    // zc.buildout and its dependencies come from PyPI once, through one cache.
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bridge-corpus-cache");
    let env = vec![("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string())];
    run_all(&cases(), &env, Recipes::Bridge(twin.path()));
}
