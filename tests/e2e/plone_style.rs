//! A Plone-style buildout end to end, the way such files are written: the versions come from
//! a remote file (which extends another by a relative name), mr.developer checks a package out
//! of a git repository, `zc.recipe.egg` (native) writes its script, and a Python recipe from
//! PyPI (collective.recipe.template, through the Python bridge) writes a configuration file
//! from options of the other parts. Then a no-op run, a change, and the removal of the Python
//! part, which runs its uninstall.

use std::path::Path;
use std::process::Command;

use tests::simple_index::SimpleIndex;
use tests::{cargo_artifact, git, run_buildout, scratch};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

const CONFIG: &str = "[buildout]
extends = {BASE}/cfg/versions.cfg
extensions = mr.developer
auto-checkout = my.app
parts = app config

[sources]
my.app = git {REPO} branch=main

[app]
recipe = zc.recipe.egg
eggs = my.app

[config]
recipe = collective.recipe.template
input = inline:
    [app]
    script = ${buildout:bin-directory}/myapp
    eggs = ${app:eggs}
    port = {PORT}
output = ${buildout:directory}/etc/app.ini
";

#[test]
fn a_plone_style_buildout_installs_end_to_end() {
    let (_guard, root) = scratch();
    let repo = root.join("repo/my.app");
    write(
        &repo.join("setup.py"),
        "from setuptools import setup\nsetup(name='my.app', version='1.0', py_modules=['myapp'],\n      \
         install_requires=['six'],\n      entry_points={'console_scripts': ['myapp = myapp:main']})\n",
    );
    write(&repo.join("myapp.py"), "import six\n\ndef main():\n    print('my.app from git, six', six.__version__)\n");
    git(&["init", "--quiet"], &repo);
    git(&["add", "."], &repo);
    git(&["commit", "--quiet", "-m", "first"], &repo);

    // The remote versions, as Plone's are: one file extending another by a relative name.
    let served = root.join("served");
    write(&served.join("versions.cfg"), "[buildout]\nextends = more-versions.cfg\n\n[versions]\nsix = 1.17.0\n");
    write(
        &served.join("more-versions.cfg"),
        "[versions]\ncollective.recipe.template = 3.0.0\nmr.developer = 2.0.2\nzc.buildout = 6.0.1\nzc.recipe.egg = 6.0.0\n",
    );
    let server = SimpleIndex::serve(&served);

    let work = root.join("work");
    let config = |port: &str| {
        let text = CONFIG
            .replace("{BASE}", &server.base())
            .replace("{REPO}", &repo.display().to_string())
            .replace("{PORT}", port);
        write(&work.join("buildout.cfg"), &text);
    };
    config("8080");
    // The recipe libraries this test needs, wherever the tests are built.
    let dirs: Vec<String> = [("recipe-egg", "zc_recipe_egg"), ("recipe-python-bridge", "buildout_pythonbridge")]
        .iter()
        .map(|(package, lib)| cargo_artifact(package, lib).parent().expect("dir").display().to_string())
        .collect();
    let env = vec![
        ("BUILDOUT_RECIPE_PATH".to_owned(), dirs.join(":")),
        ("BUILDOUT_CACHE_DIR".to_owned(), root.join("cache").display().to_string()),
    ];

    let first = run_buildout(&work, &args(&["-U"]), &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    for line in [
        "mr.developer: Cloned 'my.app' with git",
        "Getting distribution for 'collective.recipe.template==3.0.0'.",
        "Got collective.recipe.template 3.0.0.",
        "Installing app.",
        "Generated script '{DIR}/bin/myapp'.",
        "Installing config.",
    ] {
        assert!(first.stdout.contains(line), "{line:?} missing from:\n{}", first.stdout);
    }
    // mr.developer's own part, as its extension adds it: bin/develop, and its record.
    assert!(first.stdout.contains("Installing _mr.developer.\n"), "{}", first.stdout);
    assert!(work.join("bin/develop").is_file(), "mr.developer's bin/develop");
    let recorded = std::fs::read_to_string(work.join(".mr.developer.cfg")).expect(".mr.developer.cfg");
    assert!(recorded.starts_with("[develop]\nmy.app = auto\n\n[buildout]\nargs = "), "{recorded}");
    let out = Command::new(work.join("bin/myapp")).output().expect("run bin/myapp");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "my.app from git, six 1.17.0\n");
    let ini = |port: &str| format!("[app]\nscript = {}/bin/myapp\neggs = my.app\nport = {port}", work.display());
    assert_eq!(std::fs::read_to_string(work.join("etc/app.ini")).expect("etc/app.ini"), ini("8080"));

    // Where the pins come from: the remote file, by URL.
    let annotated = run_buildout(&work, &args(&["-U", "annotate", "versions"]), &env);
    assert!(
        annotated.stdout.contains(&format!("six= 1.17.0\n    {}/cfg/versions.cfg\n", server.base())),
        "{}",
        annotated.stdout
    );
    let shown = run_buildout(&work, &args(&["-U", "recipes", "collective.recipe.template"]), &env);
    assert!(shown.stdout.starts_with("collective.recipe.template 3.0.0 (Python recipe distribution)\n"), "{shown:?}");
    assert!(shown.stdout.contains("  runs through: the Python bridge, buildout.pythonbridge "), "{shown:?}");

    // Nothing changed: both parts are updated, nothing is fetched.
    let again = run_buildout(&work, &args(&["-U", "-N"]), &env);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("Updating _mr.developer.\nUpdating app.\nUpdating config.\n"), "{}", again.stdout);
    assert!(!again.stdout.contains("Getting distribution"), "{}", again.stdout);

    // A changed option reinstalls the Python part with the new value.
    config("9090");
    let changed = run_buildout(&work, &args(&["-U", "-N"]), &env);
    assert_eq!(changed.status, 0, "{}{}", changed.stdout, changed.stderr);
    assert!(
        changed.stdout.contains("Uninstalling config.\nUpdating _mr.developer.\nUpdating app.\nInstalling config.\n"),
        "{}",
        changed.stdout
    );
    assert_eq!(std::fs::read_to_string(work.join("etc/app.ini")).expect("etc/app.ini"), ini("9090"));

    // Without the part, its file goes.
    let text =
        std::fs::read_to_string(work.join("buildout.cfg")).expect("read").replace("parts = app config", "parts = app");
    write(&work.join("buildout.cfg"), &text);
    let removed = run_buildout(&work, &args(&["-U", "-N"]), &env);
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert!(removed.stdout.contains("Uninstalling config.\n"), "{}", removed.stdout);
    assert!(!work.join("etc/app.ini").exists());
}
