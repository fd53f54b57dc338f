//! Real PyPI at scale: a corpus of real projects installed through `zc.recipe.egg:scripts`, each
//! into a fresh buildout and eggs directory, then run twice more (newest mode, then `-o`) to
//! show that nothing is regenerated; the same stack in two buildouts sharing an eggs directory
//! gives the same scripts; pip resolves when uv is turned off; a no-op run in newest mode
//! starts no installer; a distribution that is not for this Python is a one-line error.
//!
//! Downloads are shared by every case and every run: one `download-cache` (its `dist/` keeps
//! the files) and one user cache (`BUILDOUT_CACHE_DIR`, where the pinned uv is kept once) under
//! `target/pypi-cache/`, plus uv's and pip's own caches there (each run's `HOME` is its scratch
//! directory). Delete `target/pypi-cache` for a cold run.

// Timings, retries and skipped cases are noted on stderr (shown with `--nocapture`).
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{Outcome, buildout_bin, cargo_artifact, default_python, python, scratch, transient_network_failure};

/// One buildout of the corpus: a `zc.recipe.egg:scripts` part named `demo` with `interpreter =
/// py`.
struct Case {
    /// What the case is called in messages.
    name: &'static str,
    /// The part's `eggs =` lines.
    eggs: &'static [&'static str],
    /// `[versions]` pins.
    versions: &'static [(&'static str, &'static str)],
    /// Whether a `find-links` directory holding the test-made `localdemo` wheel (see
    /// [`local_wheel`]) is searched next to PyPI.
    local_links: bool,
    /// Lines the first run must print (`Got <name> <version>.`).
    got: &'static [&'static str],
    /// Python run by `bin/py -c`, and exactly what it must print.
    import: &'static str,
    prints: &'static str,
    /// Scripts run with their arguments, and text their output (stdout and stderr) must hold.
    scripts: &'static [(&'static str, &'static [&'static str], &'static str)],
}

const fn case(name: &'static str, eggs: &'static [&'static str], import: &'static str, prints: &'static str) -> Case {
    Case { name, eggs, versions: &[], local_links: false, got: &[], import, prints, scripts: &[] }
}

/// Version specifiers and releases PEP 440 knows and hand-written version code gets wrong.
const VERSIONS: &[Case] = &[
    // Post-release: `<3` must take 2.9.0.post0 (newer than 2.9.0; 3.0.0 and 4.0.0 exist), and
    // its `six>=1.5` comes along.
    Case {
        got: &["Got python-dateutil 2.9.0.post0.\n", "Got six 1.17.0.\n"],
        ..case(
            "post-release",
            &["python-dateutil>=2.9.0,<3"],
            "import dateutil, six; print(dateutil.__version__, six.__version__)",
            "2.9.0.post0 1.17.0\n",
        )
    },
    // A dev-release specifier, as a real user writes it: `>=6.4.dev0` must take the final 6.4
    // (the newest release), not be read as "6.4 or later" nor refuse the final.
    Case {
        got: &["Got ZODB 6.4.\n"],
        ..case(
            "dev-release specifier",
            &["ZODB>=6.4.dev0"],
            "import ZODB, importlib.metadata as m; print(m.version('ZODB'))",
            "6.4\n",
        )
    },
    // A pre-release chosen because the requirement names one: zope.interface 8.4.1a3 lies
    // between the finals 8.4 and 8.5.
    Case {
        got: &["Got zope.interface 8.4.1a3.\n"],
        ..case(
            "pre-release asked for",
            &["zope.interface>=8.4.1a1,<8.5"],
            "import zope.interface, importlib.metadata as m; print(m.version('zope.interface'))",
            "8.4.1a3\n",
        )
    },
    // ... and not chosen when nothing asks for one: the same range from the final 8.4 takes 8.4,
    // and newest mode does not count 8.4.1a3 as newer.
    Case {
        got: &["Got zope.interface 8.4.\n"],
        ..case(
            "pre-release not asked for",
            &["zope.interface>=8.4,<8.5"],
            "import zope.interface, importlib.metadata as m; print(m.version('zope.interface'))",
            "8.4\n",
        )
    },
    // `===` arbitrary equality.
    Case {
        got: &["Got six 1.17.0.\n"],
        ..case("arbitrary equality", &["six===1.17.0"], "import six; print(six.__version__)", "1.17.0\n")
    },
    // A local version (which PyPI refuses): a wheel made by the test in a `find-links`
    // directory next to PyPI, pinned, whose dependency (six) comes from PyPI.
    Case {
        versions: &[("localdemo", "1.0+build.1")],
        local_links: true,
        got: &["Got localdemo 1.0+build.1.\n", "Got six 1.17.0.\n"],
        ..case(
            "local version",
            &["localdemo"],
            "import localdemo, six; print(localdemo.VERSION, six.__version__)",
            "1.0+build.1 1.17.0\n",
        )
    },
];

/// Extras, markers and source distributions.
const SOURCES: &[Case] = &[
    // An extra (PySocks comes only with `socks`), a marker that holds (`python_version >= "3"`)
    // and one that does not (pywin32 is for Windows and never fetched).
    Case {
        got: &["Got requests ", "Got PySocks ", "Got six 1.17.0.\n"],
        ..case(
            "extras and markers",
            &["requests[socks]", "six===1.17.0; python_version >= \"3\"", "pywin32; sys_platform == \"win32\""],
            "import requests, socks, six, importlib.util as u; print(socks.PROXY_TYPE_SOCKS5, \
             u.find_spec('win32api') is None)",
            "2 True\n",
        )
    },
    // Only a source distribution on PyPI: docopt 0.6.2, built into a wheel with uv.
    Case {
        got: &["Got docopt 0.6.2.\n"],
        ..case("source distribution only", &["docopt"], "import docopt; print(docopt.__version__)", "0.6.2\n")
    },
];

/// Popular stacks of a dozen distributions, and their console scripts.
const STACKS: &[Case] = &[
    // Flask: click, jinja2, werkzeug, ...; `bin/flask` runs.
    Case {
        got: &["Got Flask 3.", "Got Werkzeug ", "Got Jinja2 "],
        scripts: &[("flask", &["--version"], "Flask 3.")],
        ..case(
            "flask",
            &["flask"],
            "import flask, importlib.metadata as m; print(m.version('flask').split('.')[0])",
            "3\n",
        )
    },
    // Pyramid 2.1, which requires `setuptools<82` (a declared upper bound on setuptools);
    // `bin/pserve` runs.
    Case {
        got: &["Got pyramid 2.1.\n", "Got setuptools 81."],
        scripts: &[("pserve", &["--help"], "usage: pserve")],
        ..case(
            "pyramid",
            &["pyramid"],
            "import pyramid.config, importlib.metadata as m; print(m.version('pyramid'))",
            "2.1\n",
        )
    },
    // Django and celery with an extra: celery 5.7 requires `python-dateutil==2.9.0.post0`, an
    // exact pin of a post-release (and Django 6 requires Python 3.12: on older ones 5.2 is
    // chosen).
    Case {
        got: &["Got Django ", "Got celery 5.", "Got python-dateutil 2.9.0.post0.\n", "Got redis "],
        scripts: &[("celery", &["--version"], "5.")],
        ..case(
            "django and celery[redis]",
            &["Django", "celery[redis]"],
            "import django, celery, redis, dateutil; print(dateutil.__version__)",
            "2.9.0.post0\n",
        )
    },
    // ansible-core: compiled wheels (PyYAML, cryptography, cffi) and a dozen console scripts.
    Case {
        got: &["Got ansible-core 2.", "Got cryptography "],
        scripts: &[("ansible", &["--version"], "ansible [core 2.")],
        ..case(
            "ansible-core",
            &["ansible-core"],
            "import ansible, yaml, cryptography; print(yaml.__with_libyaml__)",
            "True\n",
        )
    },
];

/// `target/pypi-cache`, shared by every case and run.
fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pypi-cache");
    std::fs::create_dir_all(dir.join("download")).expect("make target/pypi-cache");
    dir.canonicalize().expect("canonical target/pypi-cache")
}

/// The environment of every run: our `zc.recipe.egg`, and the shared caches.
fn env() -> Vec<(String, String)> {
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    let cache = shared_cache();
    let path = |p: &str| cache.join(p).display().to_string();
    vec![
        ("BUILDOUT_RECIPE_PATH".into(), lib.parent().expect("artifact directory").display().to_string()),
        ("BUILDOUT_CACHE_DIR".into(), path("buildout")),
        ("UV_CACHE_DIR".into(), path("uv")),
        ("PIP_CACHE_DIR".into(), path("pip")),
    ]
}

fn with(mut env: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    env.push((name.into(), value.into()));
    env
}

/// `buildout args...` in `dir` as [`tests::run_buildout`] runs it (paths redacted), stopped
/// after 10 minutes.
fn buildout(dir: &Path, args: &[&str], env: &[(String, String)]) -> Outcome {
    let output = Command::new("timeout")
        .args(["--kill-after=10", "600"])
        .arg(buildout_bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("LANG", "C.UTF-8")
        .env_remove("BUILDOUT_HOME")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run buildout");
    let dir_text = dir.to_string_lossy().into_owned();
    let python = default_python();
    let redact = |b: &[u8]| String::from_utf8_lossy(b).replace(&dir_text, "{DIR}").replace(&python, "{PYTHON}");
    Outcome {
        stdout: redact(&output.stdout),
        stderr: redact(&output.stderr),
        status: output.status.code().unwrap_or(-1),
    }
}

/// [`buildout`], once more after a pause when the first try failed on the network.
fn buildout_retrying(dir: &Path, args: &[&str], env: &[(String, String)]) -> Outcome {
    let out = buildout(dir, args, env);
    if out.status == 0 || !transient_network_failure(&out) {
        return out;
    }
    eprintln!("retrying after a network failure:\n{}", out.stderr);
    std::thread::sleep(Duration::from_secs(10));
    buildout(dir, args, env)
}

/// `program args...`, stopped after 2 minutes: whether it succeeded, its stdout and its stderr.
fn run(program: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("timeout").arg("120").arg(program).args(args).output().expect("run a script");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Every file of `bin/` and `.installed.cfg`, by name.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("bin")).expect("read bin/").flatten() {
        let bytes = std::fs::read(entry.path()).expect("read a script");
        files.insert(format!("bin/{}", entry.file_name().to_string_lossy()), bytes);
    }
    files.insert(".installed.cfg".into(), std::fs::read(dir.join(".installed.cfg")).expect("read .installed.cfg"));
    files
}

/// Names of the files that differ between two snapshots.
fn differences(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().filter(|n| a.get(*n) != b.get(*n)).cloned().collect()
}

/// `localdemo-1.0+build.1-py3-none-any.whl` in `links`: one module, and metadata requiring six.
/// (RECORD lists the files without hashes, which installers do not check.)
fn local_wheel(links: &Path) {
    std::fs::create_dir_all(links).expect("make the find-links directory");
    let path = links.join("localdemo-1.0+build.1-py3-none-any.whl");
    let file = std::fs::File::create(&path).expect("create the wheel");
    let mut zip = zip::ZipWriter::new(file);
    let info = "localdemo-1.0+build.1.dist-info";
    let members = [
        ("localdemo.py".to_owned(), "VERSION = '1.0+build.1'\n".to_owned()),
        (
            format!("{info}/METADATA"),
            "Metadata-Version: 2.1\nName: localdemo\nVersion: 1.0+build.1\nRequires-Dist: six\n".to_owned(),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: pypi_stacks\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_owned(),
        ),
    ];
    let options = zip::write::SimpleFileOptions::default();
    let mut record = String::new();
    for (name, text) in &members {
        zip.start_file(name.as_str(), options).expect("start a wheel member");
        zip.write_all(text.as_bytes()).expect("write a wheel member");
        record.push_str(&format!("{name},,\n"));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    zip.start_file(format!("{info}/RECORD"), options).expect("start RECORD");
    zip.write_all(record.as_bytes()).expect("write RECORD");
    zip.finish().expect("finish the wheel");
}

fn config(case: &Case, links: Option<&Path>) -> String {
    let download = shared_cache().join("download");
    let mut text = format!("[buildout]\nparts = demo\ndownload-cache = {}\n", download.display());
    if let Some(links) = links {
        text.push_str(&format!("find-links = {}\n", links.display()));
    }
    text.push_str("\n[demo]\nrecipe = zc.recipe.egg:scripts\ninterpreter = py\neggs =\n");
    for egg in case.eggs {
        text.push_str(&format!("    {egg}\n"));
    }
    if !case.versions.is_empty() {
        text.push_str("\n[versions]\n");
        for (name, version) in case.versions {
            text.push_str(&format!("{name} = {version}\n"));
        }
    }
    text
}

/// `Err(message)` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Installs `case` into a fresh buildout and eggs directory, checks what it gives, and that a
/// rerun (newest mode) and an offline rerun change nothing.
fn check(case: &Case) -> Result<(), String> {
    let (_t, dir) = scratch();
    let links = case.local_links.then(|| dir.join("links"));
    if let Some(links) = &links {
        local_wheel(links);
    }
    std::fs::write(dir.join("buildout.cfg"), config(case, links.as_deref())).expect("write buildout.cfg");
    let env = env();
    let started = Instant::now();
    let first = buildout_retrying(&dir, &[], &env);
    let took = started.elapsed();
    ensure!(first.status == 0, "first run failed:\n{}{}", first.stdout, first.stderr);
    for line in case.got {
        ensure!(first.stdout.contains(line), "the first run does not say {line:?}:\n{}", first.stdout);
    }
    ensure!(first.stdout.contains("Generated interpreter '{DIR}/bin/py'.\n"), "no bin/py generated:\n{}", first.stdout);
    // Only stdout: pyramid's imports warn on stderr that pkg_resources is deprecated.
    let (ok, printed, errors) = run(&dir.join("bin/py"), &["-c", case.import]);
    ensure!(
        ok && printed == case.prints,
        "bin/py -c {:?} printed {printed:?}, not {:?}\n{errors}",
        case.import,
        case.prints
    );
    for (script, args, expected) in case.scripts {
        let (ok, stdout, stderr) = run(&dir.join("bin").join(script), args);
        let printed = stdout + &stderr;
        ensure!(ok && printed.contains(expected), "bin/{script} {args:?} printed {printed:?}, not {expected:?}");
    }
    let before = snapshot(&dir);
    for args in [&[][..], &["-o"][..]] {
        let again = buildout_retrying(&dir, args, &env);
        ensure!(again.status == 0, "rerun {args:?} failed:\n{}{}", again.stdout, again.stderr);
        ensure!(
            again.stdout == "Updating demo.\n" && again.stderr.is_empty(),
            "rerun {args:?} did more than update:\n{}{}",
            again.stdout,
            again.stderr
        );
        let changed = differences(&before, &snapshot(&dir));
        ensure!(changed.is_empty(), "rerun {args:?} changed {changed:?}");
    }
    eprintln!("{}: first run {:.1} s", case.name, took.as_secs_f64());
    Ok(())
}

/// Checks every case, then fails naming each that failed.
fn check_all(cases: &[Case]) {
    let failures: Vec<String> =
        cases.iter().filter_map(|c| check(c).err().map(|e| format!("--- {}: {e}", c.name))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn pypi_versions() {
    check_all(VERSIONS);
}

#[test]
fn pypi_extras_markers_and_sources() {
    check_all(SOURCES);
}

#[test]
fn pypi_stacks() {
    check_all(STACKS);
}

/// Two buildouts sharing an eggs directory: the second finds everything present, and writes
/// the same scripts as the first (each directory's path aside); neither rerun regenerates.
#[test]
fn pypi_scripts_depend_only_on_the_resolved_set() {
    let (_t, root) = scratch();
    let eggs = root.join("eggs");
    let env = env();
    let download = shared_cache().join("download");
    let mut bins = Vec::new();
    for name in ["one", "two"] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("make a buildout directory");
        std::fs::write(
            dir.join("buildout.cfg"),
            format!(
                "[buildout]\nparts = demo\ndownload-cache = {}\neggs-directory = {}\n\n\
                 [demo]\nrecipe = zc.recipe.egg:scripts\ninterpreter = py\neggs = flask\n",
                download.display(),
                eggs.display()
            ),
        )
        .expect("write buildout.cfg");
        let out = buildout_retrying(&dir, &[], &env);
        assert_eq!(out.status, 0, "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("Generated script '{DIR}/bin/flask'.\n"), "{name}: {}", out.stdout);
        if name == "two" {
            assert!(!out.stdout.contains("Getting distribution"), "everything was present: {}", out.stdout);
        }
        let scripts: BTreeMap<String, String> = snapshot(&dir)
            .into_iter()
            .filter(|(n, _)| n.starts_with("bin/"))
            .map(|(n, b)| (n, String::from_utf8_lossy(&b).replace(&*dir.to_string_lossy(), "{DIR}")))
            .collect();
        bins.push((dir, scripts));
    }
    let [(_, one), (_, two)] = &bins[..] else { unreachable!("two buildouts") };
    assert_eq!(one.keys().collect::<Vec<_>>(), two.keys().collect::<Vec<_>>());
    for (name, text) in one {
        assert_eq!(text, &two[name], "{name} differs between the two buildouts");
    }
    for (dir, _) in &bins {
        let before = snapshot(dir);
        let again = buildout_retrying(dir, &[], &env);
        assert_eq!((again.status, again.stdout.as_str()), (0, "Updating demo.\n"), "{}", again.stderr);
        assert_eq!(differences(&before, &snapshot(dir)), Vec::<String>::new());
    }
}

/// With uv turned off (`BUILDOUT_UV=`), pip resolves (and builds docopt's source
/// distribution): one warning line, once for two parts.
#[test]
fn pypi_pip_resolves_when_uv_is_off() {
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        format!(
            "[buildout]\nparts = demo other\ndownload-cache = {}\n\n\
             [demo]\nrecipe = zc.recipe.egg:scripts\ninterpreter = py\neggs = python-dateutil<3\n    docopt\n\n\
             [other]\nrecipe = zc.recipe.egg:scripts\ninterpreter = py2\neggs = six<1.17\n",
            shared_cache().join("download").display()
        ),
    )
    .expect("write buildout.cfg");
    let env = with(env(), "BUILDOUT_UV", "");
    let out = buildout_retrying(&dir, &[], &env);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let warnings: Vec<&str> =
        out.stdout.lines().chain(out.stderr.lines()).filter(|l| l.contains("resolving with")).collect();
    assert_eq!(warnings, ["BUILDOUT_UV is empty: resolving with pip, which is slower."], "{}", out.stdout);
    for line in ["Got python-dateutil 2.9.0.post0.\n", "Got docopt 0.6.2.\n", "Got six 1.16.0.\n"] {
        assert!(out.stdout.contains(line), "{line:?}: {}", out.stdout);
    }
    let (ok, printed, errors) =
        run(&dir.join("bin/py"), &["-c", "import dateutil, docopt, six; print(dateutil.__version__, six.__version__)"]);
    assert!(ok && printed == "2.9.0.post0 1.17.0\n", "{printed}{errors}");
    let (ok, printed, errors) = run(&dir.join("bin/py2"), &["-c", "import six; print(six.__version__)"]);
    assert!(ok && printed == "1.16.0\n", "{printed}{errors}");
}

/// In newest mode, a run where the index has nothing better starts no installer (the fake uv
/// would leave its mark); a changed pin does start one.
#[test]
fn pypi_newest_mode_starts_no_installer_when_nothing_changed() {
    let (_t, dir) = scratch();
    let write = |pin: &str| {
        std::fs::write(
            dir.join("buildout.cfg"),
            format!(
                "[buildout]\nparts = demo\ndownload-cache = {}\n\n\
                 [demo]\nrecipe = zc.recipe.egg:scripts\ninterpreter = py\neggs = python-dateutil<3\n\n\
                 [versions]\n{pin}",
                shared_cache().join("download").display()
            ),
        )
        .expect("write buildout.cfg")
    };
    write("six = 1.16.0\n");
    let env = env();
    let out = buildout_retrying(&dir, &[], &env);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Got six 1.16.0.\n"), "{}", out.stdout);

    let marker = dir.join("uv-was-started");
    let fake = dir.join("fake-uv");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ntouch '{}'\necho 'error: the fake uv was started' >&2\nexit 1\n", marker.display()),
    )
    .expect("write the fake uv");
    let made_executable = Command::new("chmod").arg("+x").arg(&fake).status();
    assert!(made_executable.is_ok_and(|s| s.success()), "chmod the fake uv");
    let fake_env = with(env, "BUILDOUT_UV", &fake.display().to_string());

    let before = snapshot(&dir);
    let again = buildout_retrying(&dir, &[], &fake_env);
    assert_eq!((again.status, again.stdout.as_str()), (0, "Updating demo.\n"), "{}", again.stderr);
    assert!(!marker.exists(), "the installer was started on a no-op run");
    assert_eq!(differences(&before, &snapshot(&dir)), Vec::<String>::new());

    write("six = 1.17.0\n");
    let changed = buildout_retrying(&dir, &[], &fake_env);
    assert!(marker.exists(), "a changed pin starts the installer: {}{}", changed.stdout, changed.stderr);
    assert_eq!(changed.status, 1, "{}{}", changed.stdout, changed.stderr);
    assert!(changed.stderr.contains("the fake uv was started"), "{}", changed.stderr);
}

/// The lines of `stderr` that start with `Error:`, and whether it ends with the last.
fn error_lines(stderr: &str) -> (Vec<&str>, bool) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error:")).collect();
    let last = stderr.lines().last().unwrap_or_default();
    (errors.clone(), errors.last() == Some(&last) && stderr.ends_with('\n'))
}

/// pywin32 has only Windows wheels and no source distribution: one line naming it, this
/// Python and the platforms there are wheels for.
#[test]
fn pypi_windows_only_is_one_line() {
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = demo\n\n[demo]\nrecipe = zc.recipe.egg:scripts\neggs = pywin32\n",
    )
    .expect("write buildout.cfg");
    let out = buildout_retrying(&dir, &[], &env());
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let (errors, last) = error_lines(&out.stderr);
    let (major, minor) = python().version;
    let start = format!("Error: Couldn't find a distribution for 'pywin32' that runs on Python {major}.{minor} (");
    assert!(errors.len() == 1 && last, "one Error: line, last: {}", out.stderr);
    assert!(errors[0].starts_with(&start), "{}", errors[0]);
    assert!(errors[0].contains("pywin32 ") && errors[0].contains("win_amd64"), "{}", errors[0]);
    assert!(errors[0].ends_with(", and no source distribution."), "{}", errors[0]);
}

/// A pinned release whose `Requires-Python` excludes this Python: one line naming it, this
/// Python and what the release requires (older releases would run here, but the pin forbids
/// them).
#[test]
fn pypi_pinned_release_for_another_python_is_one_line() {
    // (Pythons it applies to, requirement, what the line says the release needs)
    let cases: [(std::ops::RangeInclusive<u32>, &str, &str); 1] =
        [(9..=11, "Django==6.0", "Django 6.0 requires Python >=3.12")];
    let (major, minor) = python().version;
    let Some((_, requirement, needs)) = cases.iter().find(|(minors, ..)| major == 3 && minors.contains(&minor)) else {
        eprintln!("note: no release on PyPI known to exclude Python {major}.{minor}: skipped");
        return;
    };
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        format!("[buildout]\nparts = demo\n\n[demo]\nrecipe = zc.recipe.egg:scripts\neggs = {requirement}\n"),
    )
    .expect("write buildout.cfg");
    let out = buildout_retrying(&dir, &[], &env());
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let (errors, last) = error_lines(&out.stderr);
    assert!(errors.len() == 1 && last, "one Error: line, last: {}", out.stderr);
    let start =
        format!("Error: Couldn't find a distribution for '{requirement}' that runs on Python {major}.{minor} (");
    assert!(errors[0].starts_with(&start), "{}", out.stderr);
    assert!(errors[0].ends_with(&format!("): {needs}.")), "{}", out.stderr);
}

/// `-N` keeps what is installed where the requirements allow it: adding a distribution that
/// needs resolving does not upgrade the eggs already there (zc.buildout's non-newest mode).
#[test]
fn pypi_non_newest_keeps_what_is_installed() {
    let (_t, dir) = scratch();
    let env = env();
    let download = shared_cache().join("download");
    let write = |eggs: &str, versions: &str| {
        let cfg = format!(
            "[buildout]\nparts = demo\ndownload-cache = {}\n\n[demo]\nrecipe = zc.recipe.egg:scripts\n\
             interpreter = py\neggs = {eggs}\n\n[versions]\n{versions}",
            download.display()
        );
        std::fs::write(dir.join("buildout.cfg"), cfg).expect("write buildout.cfg");
    };
    // six 1.16.0 is installed (newer ones exist), then unpinned while python-dateutil, which
    // needs six>=1.5, is added.
    write("six", "six = 1.16.0\n");
    let first = buildout_retrying(&dir, &[], &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    write("six\n    python-dateutil", "");
    let second = buildout_retrying(&dir, &["-N"], &env);
    assert_eq!(second.status, 0, "{}{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("Got python-dateutil "), "{}", second.stdout);
    assert!(!second.stdout.contains("Got six "), "six was kept: {}", second.stdout);
    let (ok, stdout, stderr) = run(&dir.join("bin/py"), &["-c", "import six, dateutil; print(six.__version__)"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "1.16.0\n");
}
