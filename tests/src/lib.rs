//! Helpers shared by the end-to-end tests: building the binary and recipe libraries once per
//! test run, running the binary in a scratch buildout directory, and redacting paths.

pub mod bench;
pub mod golden;
pub mod zeo;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::{Mutex, OnceLock};

/// Builds `package` with cargo (once per process and package) and returns the path of the
/// artefact whose target name is `target`. `cargo test` does not promise that other packages'
/// binaries or cdylibs exist, so the tests ask cargo for them.
pub fn cargo_artifact(package: &str, target: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    let cache = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let key = (package.to_owned(), target.to_owned());
    if let Some(path) = cache.get(&key) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--message-format=json"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(output.status.success(), "building {package} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == target)
        .find_map(|msg| {
            msg["executable"].as_str().map(PathBuf::from).or_else(|| {
                msg["filenames"]
                    .as_array()?
                    .iter()
                    .filter_map(|f| f.as_str())
                    .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX))
                    .map(PathBuf::from)
            })
        })
        .unwrap_or_else(|| panic!("cargo reported no artefact {target} for {package}"));
    cache.insert(key, path.clone());
    path
}

/// The `buildout` binary.
pub fn buildout_bin() -> PathBuf {
    cargo_artifact("buildout-cli", "buildout")
}

/// What `buildout` uses as its default `executable`: the first `python3` on PATH.
pub fn default_python() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_owned))
        .unwrap_or_else(|| "python3".to_owned())
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The result of one run of the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

/// Runs `buildout args...` in `dir` with a clean environment: HOME is `dir/home`, no
/// BUILDOUT_HOME, plus `env`. Paths are redacted: `dir` → `{DIR}`, the default Python → `{PYTHON}`.
pub fn run_buildout(dir: &Path, args: &[String], env: &[(String, String)]) -> Outcome {
    let mut cmd = Command::new(buildout_bin());
    cmd.args(args).current_dir(dir).env("HOME", dir.join("home")).env("LANG", "C.UTF-8").env_remove("BUILDOUT_HOME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run buildout: {e}"));
    let dir_text = dir.to_string_lossy().into_owned();
    let python = default_python();
    let redact = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&dir_text, "{DIR}").replace(&python, "{PYTHON}");
    Outcome {
        stdout: redact(&output.stdout),
        stderr: redact(&output.stderr),
        status: output.status.code().unwrap_or(-1),
    }
}

/// The real zc.buildout 6.0.1 with the Python twin of our test recipes, in a venv under
/// `target/` made once (pip downloads go through pip's cache; transient failures are retried).
/// Returns the path of its `buildout` script.
pub fn reference_buildout() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let venv = root.join("target/reference-venv");
        let script = venv.join("bin/buildout");
        let ready = venv.join("ready");
        const PACKAGES: [&str; 2] = ["zc.buildout==6.0.1", "setuptools==84.2.1"];
        let twin = root.join("tests/fixtures/engine/python");
        let wanted = format!("{PACKAGES:?} {}", twin.display());
        if std::fs::read_to_string(&ready).ok().as_deref() == Some(wanted.as_str()) && script.is_file() {
            return script;
        }
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        assert!(made.is_ok_and(|s| s.success()), "cannot make a venv with python3");
        let pip = venv.join("bin/pip");
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_secs(5 * attempt));
            }
            let out = Command::new(&pip)
                .args(["install", "--quiet", "--disable-pip-version-check", "--retries", "5"])
                .args(PACKAGES)
                .output()
                .expect("run pip");
            if !out.status.success() {
                last = String::from_utf8_lossy(&out.stderr).into_owned();
                continue;
            }
            let twin_out = Command::new(&pip)
                .args(["install", "--quiet", "--disable-pip-version-check", "--no-build-isolation"])
                .arg(&twin)
                .output()
                .expect("run pip");
            if twin_out.status.success() {
                std::fs::write(&ready, &wanted).expect("mark the venv ready");
                return script;
            }
            last = String::from_utf8_lossy(&twin_out.stderr).into_owned();
        }
        panic!("cannot install the reference zc.buildout:\n{last}");
    })
    .clone()
}

/// A scratch buildout directory (its real path, as the binary reports it) and its guard.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().canonicalize().expect("canonical temp dir");
    (t, p)
}

/// The environment that makes the binary find the test recipe library.
pub fn recipe_env() -> Vec<(String, String)> {
    let lib = cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    vec![("BUILDOUT_RECIPE_PATH".into(), lib.parent().expect("artifact directory").display().to_string())]
}

/// Prepares one step of a multi-step fixture in `dir`: its `buildout.cfg`, its `files/`, then
/// its `before` script (run with `sh -c` in `dir`).
pub fn prepare_step(step: &Path, dir: &Path) {
    if step.join("buildout.cfg").exists() {
        std::fs::copy(step.join("buildout.cfg"), dir.join("buildout.cfg")).expect("copy buildout.cfg");
    }
    if step.join("files").is_dir() {
        copy_tree(&step.join("files"), dir).expect("copy files/");
    }
    if step.join("before").exists() {
        let script = std::fs::read_to_string(step.join("before")).expect("read before");
        let ok = Command::new("sh").arg("-c").arg(script).current_dir(dir).status();
        assert!(ok.is_ok_and(|s| s.success()), "{}: `before` failed", step.display());
    }
}
