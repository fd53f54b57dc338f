//! Helpers shared by the end-to-end tests: building the binary and recipe libraries once per
//! test run, running the binary in a scratch buildout directory, and redacting paths.

pub mod bench;
pub mod golden;
pub mod mirror;
pub mod simple_index;
pub mod zeo;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::{Mutex, OnceLock};

/// Builds `package` with cargo (once per process and package) and returns the path of the
/// artefact whose target name is `target`. `cargo test` does not promise that other packages'
/// binaries or cdylibs exist, so the tests ask cargo for them. The test recipe libraries
/// (`tests/recipes/*`) are rlibs to cargo, so that `cargo build --workspace` puts no test
/// library beside the shipped ones; they are built as cdylibs here, into `target/test-recipes`.
///
/// The first call builds every shipped artefact ([`SHIPPED`]) before it answers: cargo relinks
/// a package's artefacts in `target/debug` (removes, then links again) each time it is asked to
/// build it, fresh or not, and a test running `buildout` at that moment would find no
/// library there. Every test gets the binary from here, so none runs before that is over.
pub fn cargo_artifact(package: &str, target: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    let cache = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.is_empty() {
        for (package, target) in SHIPPED {
            cache.insert((package.to_owned(), target.to_owned()), build_artifact(package, target));
        }
    }
    let key = (package.to_owned(), target.to_owned());
    if let Some(path) = cache.get(&key) {
        return path.clone();
    }
    let path = build_artifact(package, target);
    cache.insert(key, path.clone());
    path
}

/// The packages and targets of the binary and the recipe libraries buildout ships.
pub const SHIPPED: [(&str, &str); 5] = [
    ("buildout-cli", "buildout"),
    ("recipe-egg", "zc_recipe_egg"),
    ("recipe-zodb", "zc_zodbrecipes"),
    ("recipe-deployment", "zc_recipe_deployment"),
    ("recipe-python-bridge", "buildout_pythonbridge"),
];

fn build_artifact(package: &str, target: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    let test_library =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes").read_dir().into_iter().flatten().flatten().any(|d| {
            std::fs::read_to_string(d.path().join("Cargo.toml"))
                .is_ok_and(|t| t.contains(&format!("name = \"{package}\"")))
        });
    if test_library {
        // A target directory of their own: the host's program directory (`target/debug`) is on
        // the recipe search path, where test libraries that do not load would be listed.
        let target_dir = workspace_root().join("target/test-recipes");
        cmd.args(["rustc", "--quiet", "-p", package, "--lib", "--crate-type", "cdylib", "--message-format=json"]);
        cmd.arg("--target-dir").arg(target_dir);
    } else {
        cmd.args(["build", "--quiet", "-p", package, "--message-format=json"]);
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(output.status.success(), "building {package} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
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
        .unwrap_or_else(|| panic!("cargo reported no artefact {target} for {package}"))
}

/// The names in a directory, sorted (what a test compares to see that nothing was created).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list the directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The workspace's root directory, without `..` (paths under it appear in buildout's output,
/// which names libraries by their canonical path).
pub fn workspace_root() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).to_path_buf()
}

/// The recipe library built from the sources of recipe ABI 1 (`tests/abi1`, its own workspace
/// and lock file), built once per process into `target/abi1`.
pub fn abi1_library() -> PathBuf {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let output = Command::new(cargo)
                .args(["build", "--quiet", "--locked", "--message-format=json", "--manifest-path"])
                .arg(root.join("abi1/Cargo.toml"))
                .arg("--target-dir")
                .arg(workspace_root().join("target/abi1"))
                .output()
                .unwrap_or_else(|e| panic!("cannot run cargo to build tests/abi1: {e}"));
            assert!(
                output.status.success(),
                "building tests/abi1 failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "abi1_recipes")
                .find_map(|msg| {
                    msg["filenames"]
                        .as_array()?
                        .iter()
                        .filter_map(|f| f.as_str())
                        .find(|f| f.ends_with(".so"))
                        .map(PathBuf::from)
                })
                .expect("cargo reported the ABI 1 library")
        })
        .clone()
}

/// A uv binary for `BUILDOUT_UV` that is already on this machine, so that no bench times
/// buildout (or pip) fetching uv: `BUILDOUT_UV` if set, the pinned uv buildout keeps in
/// `~/.cache/buildout`, the `uv` on PATH, else [`uv_binary`] (fetched once under `target/`).
pub fn existing_uv() -> PathBuf {
    if let Some(uv) = std::env::var_os("BUILDOUT_UV").filter(|u| !u.is_empty()) {
        return PathBuf::from(uv);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cached = home.map(|h| h.join(".cache/buildout/uv").join(buildout_core::python::uv::PINNED).join("uv"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).map(|d| d.join("uv")).find(|u| u.is_file());
    cached.filter(|c| c.is_file()).or(on_path).unwrap_or_else(uv_binary)
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

/// What the tests need to know about the `python3` on PATH, the interpreter `buildout` uses by
/// default (its `executable`): asked once per test process, as `buildout` asks it once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// `sys.executable`: the real interpreter, which the scripts' `#!` lines name.
    pub executable: String,
    /// `sys.version_info[:2]`.
    pub version: (u32, u32),
    /// `platform.python_version()` (`3.11.7`).
    pub full_version: String,
    /// `sysconfig.get_config_var('SOABI')` (`cpython-311-x86_64-linux-gnu`): the infix of compiled
    /// modules' file names.
    pub soabi: String,
}

/// The `python3` on PATH (see [`Python`]).
pub fn python() -> &'static Python {
    static PYTHON: OnceLock<Python> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let probe = "import platform, sys, sysconfig\n\
                     print(sys.executable, *sys.version_info[:2], platform.python_version(), \
                     sysconfig.get_config_var('SOABI'))";
        let out = Command::new("python3").args(["-c", probe]).output().expect("cannot run python3");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let words: Vec<&str> = text.split_whitespace().collect();
        let [executable, major, minor, full_version, soabi] = words[..] else {
            panic!("python3 answered {text:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        Python {
            executable: executable.to_owned(),
            version: (major.parse().expect("major"), minor.parse().expect("minor")),
            full_version: full_version.to_owned(),
            soabi: soabi.to_owned(),
        }
    })
}

impl Python {
    /// `py3.11`: the Python part of an egg directory's name (`demo-0.4-py3.11-linux-x86_64.egg`).
    pub fn egg_tag(&self) -> String {
        format!("py{}.{}", self.version.0, self.version.1)
    }

    /// Placeholders for what depends on this interpreter's version, as the golden fixtures
    /// recorded under one Python hold them (see `tests/fixtures/egg/README.md`): the egg tag
    /// `-py3.11-` becomes `-{PY}-`, the SOABI `cpython-311-x86_64-linux-gnu` `{SOABI}`, the full
    /// version `3.11.7` `{PY_FULL_VERSION}` and `Python 3.11` `Python {PY_VERSION}`. Run it after
    /// the interpreter's path (which may hold its version) is redacted.
    pub fn redact(&self, text: &str) -> String {
        let (major, minor) = self.version;
        let text = text.replace(&format!("-{}-", self.egg_tag()), "-{PY}-").replace(&self.soabi, "{SOABI}");
        let text = replace_version(&text, &self.full_version, "{PY_FULL_VERSION}");
        replace_version(&text, &format!("Python {major}.{minor}"), "Python {PY_VERSION}")
    }

    /// The reverse of [`Python::redact`]: the placeholders filled in with this interpreter's
    /// values.
    pub fn fill(&self, text: &str) -> String {
        let (major, minor) = self.version;
        text.replace("{PY}", &self.egg_tag())
            .replace("{SOABI}", &self.soabi)
            .replace("{PY_FULL_VERSION}", &self.full_version)
            .replace("{PY_VERSION}", &format!("{major}.{minor}"))
    }
}

/// Replaces each `version` in `text` that is a whole version (`3.1` is not replaced in `3.11`
/// or `3.1.2`, nor `1.2` in `3.1.2`) by `with`.
fn replace_version(text: &str, version: &str, with: &str) -> String {
    let bytes = text.as_bytes();
    let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let dot = |i: Option<usize>| i.and_then(|i| bytes.get(i)) == Some(&b'.');
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (at, _) in text.match_indices(version) {
        let end = at + version.len();
        let extends = digit(at.checked_sub(1)) || (dot(at.checked_sub(1)) && digit(at.checked_sub(2)));
        let continues = digit(Some(end)) || (dot(Some(end)) && digit(Some(end + 1)));
        if !extends && !continues {
            out.push_str(&text[done..at]);
            out.push_str(with);
            done = end;
        }
    }
    out.push_str(&text[done..]);
    out
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

/// The uv that buildout pins (`buildout_core::python::uv::PINNED`), fetched once per machine
/// into `target/uv-<version>/uv` with pip (retried), so that tests whose buildout resolves
/// against an index do not each fetch it into their own user cache. (Fetching it is tested
/// once, in `eggs::the_pinned_uv_is_fetched_once`.)
pub fn uv_binary() -> PathBuf {
    static UV: OnceLock<PathBuf> = OnceLock::new();
    UV.get_or_init(|| {
        let version = buildout_core::python::uv::PINNED;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/uv-{version}"));
        let binary = dir.join("uv");
        if binary.is_file() {
            return binary;
        }
        let wheels = uv_wheel_dir();
        let wheel = std::fs::read_dir(&wheels)
            .expect("uv wheel directory")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .expect("the uv wheel");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&wheel).expect("open the uv wheel")).expect("a zip");
        let mut member = zip.by_name(&format!("uv-{version}.data/scripts/uv")).expect("uv in its wheel");
        std::fs::create_dir_all(&dir).expect("uv directory");
        let staged = dir.join(format!("uv.{}", std::process::id()));
        let mut out = std::fs::File::create(&staged).expect("write uv");
        std::io::copy(&mut member, &mut out).expect("unpack uv");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod uv");
        std::fs::rename(&staged, &binary).expect("uv in place");
        binary
    })
    .clone()
}

/// A directory holding the wheel of the pinned uv for this machine, downloaded once with pip.
pub fn uv_wheel_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let version = buildout_core::python::uv::PINNED;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/wheel-cache/uv-{version}"));
        pip_download(&dir, &[format!("uv=={version}")], 1);
        dir
    })
    .clone()
}

/// Fills `dir` with the binary wheels of `specs` (no dependencies) for the `python3` on PATH,
/// unless it already holds `wheels` of them: with pip, retried on PyPI's transient failures.
pub fn pip_download(dir: &Path, specs: &[String], wheels: usize) {
    let count = || {
        std::fs::read_dir(dir)
            .map(|e| e.flatten().filter(|f| f.file_name().to_string_lossy().ends_with(".whl")).count())
            .unwrap_or(0)
    };
    let mut last = String::new();
    for attempt in 0..3u64 {
        if count() >= wheels {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(5 * attempt));
        let out = Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--retries", "5"])
            .args(["--no-deps", "--only-binary=:all:", "-d"])
            .arg(dir)
            .args(specs)
            .output()
            .expect("run pip");
        last = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    assert!(count() >= wheels, "cannot download {specs:?} from PyPI:\n{last}");
}

/// Runs `buildout args...` in `dir` with a clean environment: HOME is `dir/home`, no
/// BUILDOUT_HOME, the shared [`uv_binary`] and uv cache (under `target/`), plus `env`. Paths are
/// redacted: `dir` → `{DIR}`, the default Python → `{PYTHON}`.
pub fn run_buildout(dir: &Path, args: &[String], env: &[(String, String)]) -> Outcome {
    run_buildout_with(Command::new(buildout_bin()), dir, args, env)
}

/// [`run_buildout`] with nothing of the test process's environment but `PATH`: what a recipe
/// sees in `os.environ` is then only `PATH`, `HOME`, `LANG`, the shared uv settings and `env`.
pub fn run_buildout_clean(dir: &Path, args: &[String], env: &[(String, String)]) -> Outcome {
    let mut cmd = Command::new(buildout_bin());
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    run_buildout_with(cmd, dir, args, env)
}

fn run_buildout_with(mut cmd: Command, dir: &Path, args: &[String], env: &[(String, String)]) -> Outcome {
    cmd.args(args).current_dir(dir).env("HOME", dir.join("home")).env("LANG", "C.UTF-8").env_remove("BUILDOUT_HOME");
    cmd.env("UV_CACHE_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/uv-cache"));
    if !env.iter().any(|(k, _)| k == "BUILDOUT_UV") {
        cmd.env("BUILDOUT_UV", uv_binary());
    }
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

/// Whether a failed run failed on the network (worth one more try after a pause), not on what
/// it was asked: its stderr names a timeout, a refused or reset connection, a DNS failure or a
/// gateway error.
pub fn transient_network_failure(out: &Outcome) -> bool {
    let text = out.stderr.to_lowercase();
    [
        "timed out",
        "timeout",
        "connection reset",
        "connection refused",
        "connection closed",
        "error sending request",
        "dns error",
        "temporary failure",
        "couldn't download",
        "couldn't check for newer",
        " 502",
        " 503",
        " 504",
    ]
    .iter()
    .any(|w| text.contains(w))
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

/// Runs git in `cwd` as a test user, on branch `main` for new repositories; fails the test when
/// git fails.
pub fn git(args: &[&str], cwd: &Path) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A develop project of the engine corpus's Python twin (`tests/fixtures/engine/python`) in
/// `dest`: its module and the `.egg-info` setuptools would write (name, version and the entry
/// points of its `pyproject.toml`), without running setuptools.
pub fn python_twin(source: &Path, dest: &Path) {
    let module = "buildout_testrecipes.py";
    std::fs::copy(source.join(module), dest.join(module)).expect("copy the twin's module");
    let pyproject = std::fs::read_to_string(source.join("pyproject.toml")).expect("the twin's pyproject.toml");
    let mut entry_points = String::new();
    let mut inside = false;
    for line in pyproject.lines().map(str::trim) {
        if line.starts_with('[') {
            let group = line.strip_prefix("[project.entry-points.\"").and_then(|l| l.strip_suffix("\"]"));
            inside = group.is_some();
            if let Some(group) = group {
                entry_points.push_str(&format!("\n[{group}]\n"));
            }
        } else if inside && let Some((name, target)) = line.split_once('=') {
            entry_points.push_str(&format!("{} = {}\n", name.trim(), target.trim().trim_matches('"')));
        }
    }
    let info = dest.join("buildout.testrecipes.egg-info");
    std::fs::create_dir_all(&info).expect("mkdir egg-info");
    std::fs::write(info.join("PKG-INFO"), "Metadata-Version: 2.1\nName: buildout.testrecipes\nVersion: 0.1\n")
        .expect("write PKG-INFO");
    std::fs::write(info.join("entry_points.txt"), entry_points.trim_start()).expect("write entry_points.txt");
}

/// A system program the live tests use where the machine has it (`logrotate`, `systemd-analyze`):
/// on PATH or in the sbin directories, which a user's PATH may leave out. `None` when it is
/// missing, unless `BUILDOUT_TESTS_NEED_TOOLS` is set (CI installs them first and sets it),
/// where a missing program fails the test instead of passing it over.
pub fn system_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() && std::env::var_os("BUILDOUT_TESTS_NEED_TOOLS").is_some() {
        panic!("{name} is not installed, and BUILDOUT_TESTS_NEED_TOOLS says the tests need it");
    }
    found
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn only_whole_versions_are_replaced() {
        assert_eq!(replace_version("3.1 3.11 3.1.2 13.1 3.1: v3.1", "3.1", "X"), "X 3.11 3.1.2 13.1 X: vX");
        assert_eq!(replace_version("2.3.1.4 3.1.", "3.1", "X"), "2.3.1.4 X.");
        let python = Python {
            executable: "/usr/bin/python3".into(),
            version: (3, 9),
            full_version: "3.9.18".into(),
            soabi: "cpython-39-x86_64-linux-gnu".into(),
        };
        let text = "demo-0.4-py3.9-linux-x86_64.egg/m.cpython-39-x86_64-linux-gnu.so\n\
                    Python 3.9: 3.9.18 not in '>=3.99' (Python 3.9.18, pycparser 3.9)\n";
        let redacted = "demo-0.4-{PY}-linux-x86_64.egg/m.{SOABI}.so\n\
                        Python {PY_VERSION}: {PY_FULL_VERSION} not in '>=3.99' (Python {PY_FULL_VERSION}, pycparser 3.9)\n";
        assert_eq!(python.redact(text), redacted);
        assert_eq!(python.fill(redacted), text);
    }
}
