//! Python distributions for real: ZEO and its dependencies as eggs, from a local wheel directory
//! (made once per machine with `pip download`, cached under `target/`) and from PyPI, scripts
//! that run, and a second run that needs no network at all.

use std::path::Path;
use std::process::Command;

use tests::zeo::{pin, pins, wheels};
use tests::{cargo_artifact, run_buildout, scratch};

fn recipe_env() -> Vec<(String, String)> {
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    vec![("BUILDOUT_RECIPE_PATH".into(), lib.parent().expect("dir").display().to_string())]
}

fn config(find_links: Option<&Path>) -> String {
    let mut text = String::from("[buildout]\nparts = zeo\n");
    if let Some(links) = find_links {
        text.push_str(&format!("find-links = {}\nindex = file:///nonexistent\n", links.display()));
    }
    text.push_str("\n[zeo]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n[versions]\n");
    for (name, version) in pins() {
        text.push_str(&format!("{name} = {version}\n"));
    }
    text
}

fn check_scripts(dir: &Path) {
    for script in ["runzeo", "zeopack", "zeoctl", "py"] {
        assert!(dir.join("bin").join(script).is_file(), "bin/{script} is generated");
    }
    let py = Command::new(dir.join("bin/py"))
        .args(["-c", "import ZEO, ZODB, zdaemon, persistent; print('imported')"])
        .output()
        .expect("bin/py");
    assert_eq!(String::from_utf8_lossy(&py.stdout), "imported\n", "{}", String::from_utf8_lossy(&py.stderr));
    // zeopack without arguments prints its help and exits 0 (it has no --help: -h is the host).
    let zeopack = Command::new(dir.join("bin/zeopack")).output().expect("bin/zeopack");
    assert!(zeopack.status.success(), "{}", String::from_utf8_lossy(&zeopack.stderr));
    let help = format!("{}{}", String::from_utf8_lossy(&zeopack.stdout), String::from_utf8_lossy(&zeopack.stderr));
    assert!(help.to_lowercase().contains("usage"), "{help}");
    let runzeo = Command::new(dir.join("bin/runzeo")).arg("--help").output().expect("bin/runzeo");
    let text = format!("{}{}", String::from_utf8_lossy(&runzeo.stdout), String::from_utf8_lossy(&runzeo.stderr));
    assert!(text.contains("runzeo") || text.to_lowercase().contains("usage"), "{text}");
}

/// Whether this machine lets us run a command without network (`unshare -n`).
fn can_unshare() -> bool {
    Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success())
}

#[test]
fn zeo_from_a_local_wheel_directory_then_without_network() {
    let wheels = wheels();
    let (_t, dir) = scratch();
    std::fs::write(dir.join("buildout.cfg"), config(Some(&wheels))).expect("write");
    let first = run_buildout(&dir, &["-N".to_owned()], &recipe_env());
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains(&format!("Got ZEO {}.\n", pin("ZEO"))), "{}", first.stdout);
    assert!(first.stdout.contains("Generated script '{DIR}/bin/runzeo'.\n"), "{}", first.stdout);
    let eggs: Vec<String> = std::fs::read_dir(dir.join("eggs/v5"))
        .expect("eggs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".egg"))
        .collect();
    assert_eq!(eggs.len(), pins().len(), "one directory per distribution: {eggs:?}");
    let zope_interface =
        format!("zope.interface-{}-{}-linux-x86_64.egg", pin("zope.interface"), tests::python().egg_tag());
    assert!(eggs.contains(&zope_interface), "{eggs:?}");
    check_scripts(&dir);

    // Everything is present: the next run needs neither the wheels nor the network.
    std::fs::write(dir.join("buildout.cfg"), config(Some(Path::new("/nonexistent/wheels")))).expect("write");
    let mut cmd = if can_unshare() { Command::new("unshare") } else { Command::new("env") };
    if can_unshare() {
        cmd.arg("-n");
    }
    let again = cmd
        .arg(tests::buildout_bin())
        .arg("-N")
        .current_dir(&dir)
        .env("HOME", dir.join("home"))
        .envs(recipe_env())
        .output()
        .expect("run buildout offline");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&again.stderr));
    assert!(stdout.starts_with("Uninstalling zeo.\nInstalling zeo.\n") || stdout.contains("Updating zeo."), "{stdout}");
    assert!(!stdout.contains("Getting distribution"), "{stdout}");
    check_scripts(&dir);
}

#[test]
fn zeo_from_pypi() {
    let (_t, dir) = scratch();
    std::fs::write(dir.join("buildout.cfg"), config(None)).expect("write");
    let out = run_buildout(&dir, &[], &recipe_env());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let zeo = pin("ZEO");
    assert!(
        out.stdout.contains(&format!("Getting distribution for 'ZEO=={zeo}'.\nGot ZEO {zeo}.\n")),
        "{}",
        out.stdout
    );
    check_scripts(&dir);
}

/// Without uv on PATH, buildout fetches its pinned uv from the index once into the user cache
/// (here from a `find-links` directory holding uv's wheel), and a second buildout sharing the
/// cache uses that copy.
#[test]
fn the_pinned_uv_is_fetched_once() {
    let (_t, root) = scratch();
    let cache = root.join("cache");
    let uv_links = tests::uv_wheel_dir();
    let mut env = recipe_env();
    env.push(("BUILDOUT_CACHE_DIR".into(), cache.display().to_string()));
    // No uv on PATH: only the directories a Python needs.
    env.push(("PATH".into(), "/usr/bin:/bin".into()));
    let uv = cache.join(format!("uv/{}/uv", buildout_core::python::uv::PINNED));
    let mut stamps = Vec::new();
    for name in ["first", "second"] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        // `six` from PyPI needs a resolver; uv's wheel comes from the find-links directory.
        let cfg = format!(
            "[buildout]\nparts = six\nfind-links = {}\n\n[six]\nrecipe = zc.recipe.egg\neggs = six\n",
            uv_links.display()
        );
        std::fs::write(dir.join("buildout.cfg"), cfg).expect("write");
        let mut cmd = Command::new(tests::buildout_bin());
        cmd.current_dir(&dir).env("HOME", dir.join("home")).env_remove("BUILDOUT_UV");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("buildout");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{name}: {stdout}{stderr}");
        assert!(stdout.contains("Got six "), "{name}: {stdout}");
        assert!(!stderr.contains("resolving with pip"), "{name}: uv was used: {stderr}");
        let meta = std::fs::metadata(&uv).expect("uv is in the user cache");
        stamps.push(meta.modified().expect("mtime"));
    }
    assert_eq!(stamps[0], stamps[1], "the second buildout used the cached uv");
}

/// A version whose `Requires-Python` excludes this Python is passed over for an older one, as
/// pip does (with no older one it is a one-line error: `errors-005-python-too-new`).
#[test]
fn a_version_for_another_python_is_passed_over() {
    let handmade = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/egg/dists/handmade");
    let (_t, dir) = scratch();
    let cfg = format!(
        "[buildout]\nparts = demo\nfind-links = {}\nindex = file:///nonexistent\n\n[demo]\nrecipe = zc.recipe.egg\neggs = newpy\n",
        handmade.display()
    );
    std::fs::write(dir.join("buildout.cfg"), cfg).expect("write");
    let out = run_buildout(&dir, &["-N".into()], &recipe_env());
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Got newpy 1.0.\n"), "{}", out.stdout);
    assert!(
        dir.join("eggs/v5")
            .read_dir()
            .expect("eggs")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("newpy-1.0-"))
    );
}

/// No Python to run: one line naming the interpreter, inside the part's step.
#[test]
fn no_python_is_a_one_line_error() {
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = demo\n\n[demo]\nrecipe = zc.recipe.egg\neggs = ZEO\n",
    )
    .expect("write");
    let mut env = recipe_env();
    env.push(("PATH".into(), "/nonexistent".into()));
    let out = run_buildout(&dir, &["-N".into()], &env);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "While:\n  Installing demo.\nError: Couldn't run the Python interpreter python3: No such file or directory (os error 2)\n"
    );
}

/// A conflict the installer (uv or pip) finds against PyPI keeps its explanation, and says where
/// each `[versions]` pin it mentions is set.
#[test]
fn a_remote_conflict_says_where_the_pins_are_set() {
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nextends = versions.cfg\nparts = zeo\n\n[zeo]\nrecipe = zc.recipe.egg\neggs = ZEO\n",
    )
    .expect("write");
    let versions = format!("[versions]\nZEO = {}\n# older than ZEO 6 allows\nZODB = 4.0.0\n", pin("ZEO"));
    std::fs::write(dir.join("versions.cfg"), versions).expect("write");
    let out = run_buildout(&dir, &[], &recipe_env());
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.starts_with("While:\n  Installing zeo.\nError: "), "{}", out.stderr);
    assert!(out.stderr.to_lowercase().contains("zodb>=5"), "the explanation names the requirement: {}", out.stderr);
    assert!(
        out.stderr.ends_with("The [versions] pin ZODB = 4.0.0 is set in {DIR}/versions.cfg, line 4.\n"),
        "{}",
        out.stderr
    );
}

/// A distribution only published as a source distribution is built into a wheel by the
/// installer (pip fetches setuptools for the build from PyPI), then unpacked as any other.
#[test]
fn a_source_distribution_is_built_and_installed() {
    let (_t, dir) = scratch();
    let src = dir.join("src/bosdisttest-0.1");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("pyproject.toml"),
        "[build-system]\nrequires = ['setuptools>=61']\nbuild-backend = 'setuptools.build_meta'\n\n[project]\n\
         name = 'bosdisttest'\nversion = '0.1'\n\n[project.scripts]\nbosdist = 'bosdistmod:main'\n\n\
         [tool.setuptools]\npy-modules = ['bosdistmod']\n",
    )
    .expect("write");
    std::fs::write(src.join("bosdistmod.py"), "def main():\n    print('built from source')\n").expect("write");
    std::fs::create_dir_all(dir.join("links")).expect("mkdir");
    let packed = Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t: t.add(sys.argv[2], 'bosdisttest-0.1')",
        ])
        .arg(dir.join("links/bosdisttest-0.1.tar.gz"))
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    assert!(packed, "cannot make the source distribution");
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = demo\nfind-links = ${buildout:directory}/links\n\n[demo]\nrecipe = zc.recipe.egg\n\
         eggs = bosdisttest\n\n[versions]\nbosdisttest = 0.1\n",
    )
    .expect("write");
    let out = run_buildout(&dir, &[], &recipe_env());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Getting distribution for 'bosdisttest==0.1'.\nGot bosdisttest 0.1.\n"),
        "{}",
        out.stdout
    );
    let ran = Command::new(dir.join("bin/bosdist")).output().expect("bin/bosdist");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "built from source\n");
}

/// A `find-links` page that cannot be read is passed over with setuptools' warning, as
/// zc.buildout passes over it, while the index serves (uv alone would stop at it).
#[test]
fn an_unreadable_find_links_page_is_passed_over() {
    let (_t, dir) = scratch();
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = six\nfind-links = http://127.0.0.1:9/links/\n\n[versions]\nsix = 1.17.0\n\n\
         [six]\nrecipe = zc.recipe.egg\neggs = six\n",
    )
    .expect("write");
    let out = run_buildout(&dir, &[], &recipe_env());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Download error on http://127.0.0.1:9/links/: "), "{}", out.stdout);
    assert!(out.stdout.contains("-- Some packages may not be found!\n"), "{}", out.stdout);
    assert!(out.stdout.contains("Got six 1.17.0.\n"), "{}", out.stdout);
}

/// `allow-picked-versions = false` against an index (the resolver's path): the unpinned
/// requested distribution is fetched, then refused, named as zc.buildout names it (its project
/// name, `Mixed.Case-Name`, not the resolver's normalized `mixed-case-name`); what zc.buildout
/// 6.0.1 prints for the same wheel from find-links.
#[test]
fn an_unpinned_requested_distribution_is_fetched_then_refused_by_its_name() {
    let (_t, dir) = scratch();
    let index =
        tests::simple_index::SimpleIndex::serve(&tests::workspace_root().join("tests/fixtures/egg/dists/wheels"));
    std::fs::write(
        dir.join("buildout.cfg"),
        format!(
            "[buildout]\nparts = x\nallow-picked-versions = false\nindex = {}\n\n\
             [x]\nrecipe = zc.recipe.egg\neggs = mixed.case_name\n",
            index.url()
        ),
    )
    .expect("write");
    let out = run_buildout(&dir, &[], &recipe_env());
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.ends_with("Installing x.\nGetting distribution for 'mixed.case_name'.\nGot Mixed.Case-Name 1.0.\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.starts_with(
            "While:\n  Installing x.\n  Getting distribution for 'mixed.case_name'.\nError: Picked: Mixed.Case-Name = 1.0\n"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\n    Mixed.Case-Name = 1.0\n"), "{}", out.stderr);
}
