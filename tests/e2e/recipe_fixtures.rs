//! The Python recipe corpus: every case under `tests/fixtures/recipes/` was recorded from
//! zc.buildout 6.0.1 running real recipe distributions from PyPI (collective.recipe.template,
//! plone.recipe.command, collective.recipe.cmd, z3c.recipe.mkdir, gocept.recipe.env,
//! collective.recipe.omelette, zc.recipe.testrunner, collective.recipe.supervisor,
//! collective.recipe.backup, collective.recipe.environment, mr.scripty, collective.recipe.modwsgi,
//! zc.recipe.cmmi, djangorecipe), every version pinned; see the README
//! there. Each case's steps run in one directory; console output must match byte for byte
//! (without setuptools' package-index chatter, the `root: ` lines), the directory tree exactly
//! (`bin/` included), `.installed.cfg` must record the same state (compared parsed), and the
//! files and modes a step names in `show` and `modes` must be the same.
//!
//! Where we deliberately differ, a step has `ours/<file>` replacing `expected/<file>` and
//! `ours/WHY` saying why.
//!
//! The first step of each case fetches the recipe eggs from PyPI. They are downloaded once per
//! test run, not once per case: every run shares one user cache (`BUILDOUT_CACHE_DIR`) under
//! `target/recipe-corpus-cache`. A step that fails on the network is tried once more after a
//! pause (`tests::transient_network_failure`).
//!
//! The corpus was recorded under Python 3.11 (`/work/ref-recipes`); what depends on the
//! interpreter is a placeholder in it and in our output: `{PYTHON}`, `{SITE_PACKAGES}` (the
//! site-packages of the `python3` on PATH) and `{PY}` & co. ([`tests::Python::redact`]).

// A network retry is noted on stderr (shown with `--nocapture`).
#![allow(clippy::print_stderr)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tests::golden::{expected, installed_state, read, steps, tree};
use tests::{Outcome, python, run_buildout_clean, transient_network_failure};

/// What the recorder leaves out of the tree (`bin/` is listed), and our lock and journal files.
const LEFT_OUT: [&str; 5] = ["develop-eggs", "eggs", "home", ".installed.cfg", ".installed.cfg.journal"];

/// Variables this runner adds to the environment of our runs, which zc.buildout's did not have.
/// gocept.recipe.env copies the whole environment into its part's options, so they are dropped
/// from our `.installed.cfg` where the recording does not have them.
const RUNNER_ENV: [&str; 3] = ["BUILDOUT_CACHE_DIR", "BUILDOUT_UV", "UV_CACHE_DIR"];

/// `target/recipe-corpus-cache`: the user cache shared by every case and run.
fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/recipe-corpus-cache");
    std::fs::create_dir_all(&dir).expect("make target/recipe-corpus-cache");
    dir.canonicalize().expect("canonical target/recipe-corpus-cache")
}

/// `sysconfig.get_paths()['purelib']` of the `python3` on PATH: `{SITE_PACKAGES}`.
fn site_packages() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .output()
        .expect("cannot run python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The case's `env` file: `KEY=VALUE` lines, `{DIR}` filled in.
fn case_env(case: &Path, dir: &str) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(case.join("env")) else { return Vec::new() };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.replace("{DIR}", dir))
        })
        .collect()
}

/// A step's expected file where it may be missing (`show/...`, `modes`).
fn optional_expected(step: &Path, name: &str) -> Option<String> {
    let ours = step.join("ours").join(name);
    let path = if ours.exists() { ours } else { step.join("expected").join(name) };
    std::fs::read_to_string(path).ok()
}

/// The paths a step lists in its `show` or `modes` file.
fn listed(step: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(step.join(name))
        .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Runs `buildout args` once more after a pause when it failed on the network where zc.buildout
/// did not.
fn run_retrying(dir: &Path, args: &[String], env: &[(String, String)], step: &Path) -> Outcome {
    let out = run_buildout_clean(dir, args, env);
    let recorded = expected(step, "stderr");
    if out.status == 0 || !transient_network_failure(&out) || recorded.to_lowercase().contains("timeout") {
        return out;
    }
    eprintln!("{}: retrying after a network failure:\n{}", step.display(), out.stderr);
    std::thread::sleep(Duration::from_secs(10));
    run_buildout_clean(dir, args, env)
}

struct Redaction {
    dir: String,
    site_packages: String,
    path: String,
    uid: String,
    gid: String,
}

impl Redaction {
    /// Our output as the recorder redacts zc.buildout's (`{DIR}` and `{PYTHON}` are already
    /// redacted by [`run_buildout_clean`]).
    fn output(&self, text: &str) -> String {
        let text = bridge_script(&text.replace(&self.dir, "{DIR}").replace(&self.site_packages, "{SITE_PACKAGES}"));
        python().redact(&text)
    }

    /// A file's content, with the interpreter's path too: the one `buildout` was given and the
    /// real one behind it (which Python recipes see as `sys.executable`).
    fn file(&self, text: &str) -> String {
        self.output(&text.replace(&python().executable, "{PYTHON}").replace(&tests::default_python(), "{PYTHON}"))
    }

    /// The recording's `.installed.cfg` with our values filled in, but for the values
    /// gocept.recipe.env copies from the process, which stay placeholders.
    fn fill_installed(&self, text: &str) -> String {
        python()
            .fill(&text.replace("{DIR}", &self.dir).replace("{SITE_PACKAGES}", &self.site_packages))
            .replace("{PYTHON}", &tests::default_python())
    }

    /// Our `.installed.cfg` with the values gocept.recipe.env copies from the process redacted.
    fn process_values(&self, text: &str) -> String {
        text.lines()
            .map(|line| {
                let redacted = match line.split_once(" = ") {
                    Some(("PATH", v)) if v == self.path => "PATH = {PATH}".to_owned(),
                    Some(("UID", v)) if v == self.uid => "UID = {UID}".to_owned(),
                    Some(("GID", v)) if v == self.gid => "GID = {GID}".to_owned(),
                    _ => line.to_owned(),
                };
                format!("{redacted}\n")
            })
            .collect()
    }
}

/// The Python bridge's script, which lives in a temporary directory, as `{BRIDGE}:{LINE}` (a
/// warning names the line of it that added a recipe egg to `sys.path`).
fn bridge_script(text: &str) -> String {
    const NAME: &str = "/buildout_python_bridge.py:";
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.find(NAME) {
            Some(at) if line.starts_with('/') => {
                let rest = &line[at + NAME.len()..];
                let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                out.push_str("{BRIDGE}:{LINE}");
                out.push_str(&rest[digits..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn run_case(case: &Path, cache: &Path, site_packages: &str) -> Vec<String> {
    let (_guard, dir) = tests::scratch();
    let dir_text = dir.to_string_lossy().into_owned();
    let meta = std::fs::metadata(&dir).expect("scratch directory");
    let redaction = Redaction {
        dir: dir_text.clone(),
        site_packages: site_packages.to_owned(),
        path: std::env::var("PATH").unwrap_or_default(),
        uid: meta.uid().to_string(),
        gid: meta.gid().to_string(),
    };
    let mut env = case_env(case, &dir_text);
    env.push(("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string()));
    let mut problems = Vec::new();
    for step in &steps(case) {
        let name = step.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tests::prepare_step(step, &dir);
        let line = read(&step.join("cmd")).replace("{DIR}", &dir_text);
        let args = shlex::split(line.trim_end()).expect("shell words");
        let got = run_retrying(&dir, &args, &env, step);

        // setuptools' package index logs what it reads and downloads (`root: Reading ...`,
        // `root: Downloading <url>`). Our installer does not; zc.buildout's own, which a Python
        // recipe may call through the bridge, does. Neither side's are compared.
        let without_index_lines = |text: &str| -> String {
            text.lines().filter(|l| !l.starts_with("root: ")).map(|l| format!("{l}\n")).collect()
        };
        let want_stdout = without_index_lines(&expected(step, "stdout"));
        let mut compare = |what: &str, want: String, have: String| {
            if want == have {
                return;
            }
            // `RECIPES_RECORD_OURS=1` writes a step's `ours/` copy where the step has an
            // `ours/WHY` (where we differ on purpose, and say why).
            let ours = step.join("ours");
            if std::env::var_os("RECIPES_RECORD_OURS").is_some() && ours.join("WHY").is_file() && what != "tree" {
                let path = ours.join(what);
                std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir ours/");
                std::fs::write(path, &have).expect("write ours/");
                return;
            }
            problems.push(format!("{name}: {what} differs\n--- expected\n{want}--- got\n{have}"));
        };
        compare("stdout", want_stdout, without_index_lines(&redaction.output(&got.stdout)));
        compare("stderr", expected(step, "stderr"), redaction.output(&got.stderr));
        compare("status", expected(step, "status"), format!("{}\n", got.status));
        compare("tree", expected(step, "tree"), tree(&dir, &LEFT_OUT));
        for rel in listed(step, "show") {
            let want = optional_expected(step, &format!("show/{rel}")).unwrap_or_else(|| "<not recorded>\n".into());
            let have = std::fs::read(dir.join(&rel))
                .map(|b| redaction.file(&String::from_utf8_lossy(&b)))
                .unwrap_or_else(|_| "<absent>\n".into());
            compare(&format!("show/{rel}"), want, have);
        }
        let modes = listed(step, "modes");
        if !modes.is_empty() {
            let have: String = modes
                .iter()
                .map(|rel| match std::fs::symlink_metadata(dir.join(rel)) {
                    Ok(_) => {
                        let mode = std::fs::metadata(dir.join(rel)).map(|m| m.permissions().mode()).unwrap_or(0);
                        format!("{rel} {:03o}\n", mode & 0o7777)
                    }
                    Err(_) => format!("{rel} <absent>\n"),
                })
                .collect();
            compare("modes", optional_expected(step, "modes").unwrap_or_default(), have);
        }

        let owned = listed(step, "owners");
        if !owned.is_empty() {
            let have: String = owned.iter().map(|rel| format!("{rel} {}\n", owner(&dir.join(rel)))).collect();
            compare("owners", optional_expected(step, "owners").unwrap_or_default(), have);
        }

        let want = redaction.fill_installed(&expected(step, "installed"));
        let want = (want != "<absent>\n").then_some(want);
        let have = std::fs::read_to_string(dir.join(".installed.cfg")).ok().map(|t| redaction.process_values(&t));
        let want_state = installed_state(want.as_deref());
        let mut have_state = installed_state(have.as_deref());
        for (part, options) in &mut have_state.options {
            let recorded = want_state.options.get(part);
            options.retain(|k, _| {
                !RUNNER_ENV.contains(&k.as_str()) || recorded.is_some_and(|r| r.contains_key(k.as_str()))
            });
        }
        if want_state != have_state {
            problems.push(format!(
                "{name}: .installed.cfg records another state\n--- expected\n{}--- got\n{}",
                want.unwrap_or_default(),
                have.unwrap_or_default()
            ));
        }
        // Later steps build on this one: a difference here would only be repeated.
        if !problems.is_empty() {
            break;
        }
    }
    problems
}

/// `user:group` of a path, by name (`<absent>` when it does not exist).
fn owner(path: &Path) -> String {
    let out = Command::new("stat").args(["-c", "%U:%G"]).arg(path).output();
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => "<absent>".to_owned(),
    }
}

/// Runs every case of the corpus at `tests/fixtures/<corpus>` (at least `min` of them, those
/// `FIXTURE` names if set) and reports every one that differs.
fn run_corpus(corpus: &str, min: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(corpus);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("fixtures/{corpus}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !steps(p).is_empty())
        .collect();
    cases.sort();
    assert!(cases.len() >= min, "the corpus has only {} cases", cases.len());
    let cache = shared_cache();
    let site_packages = site_packages();
    let filter = std::env::var("FIXTURE").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases.iter().filter(|c| c.to_string_lossy().contains(&filter)) {
        ran += 1;
        let problems = run_case(case, &cache, &site_packages);
        if !problems.is_empty() {
            let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            failures.push(format!("== {name}\n{}", problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn recipe_corpus_matches_zc_buildout() {
    // The bridge runs every recipe of the corpus; it is found beside the binary.
    tests::cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    run_corpus("recipes", 24);
}

/// zc.recipe.deployment 1.3.0's corpus, against the `zc.recipe.deployment` recipe library. The
/// cases set owners (`chown`), so they need root; they also name the group of `nobody` as
/// Debian names it (`nogroup`).
#[test]
fn deployment_corpus_matches_zc_recipe_deployment() {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let nogroup = std::fs::read_to_string("/etc/group").is_ok_and(|g| g.lines().any(|l| l.starts_with("nogroup:")));
    if !root || !nogroup {
        eprintln!("the deployment corpus needs root and a `nogroup` group (root: {root}, nogroup: {nogroup}): not run");
        return;
    }
    tests::cargo_artifact("recipe-deployment", "zc_recipe_deployment");
    run_corpus("deployment", 15);
}
