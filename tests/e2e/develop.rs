//! Python develop eggs: `develop` projects (a `setup.py` one with a flat layout, named by its
//! setup script, a `pyproject.toml` one with a `src/` layout that requires the first) installed editable with
//! pip, used by a `zc.recipe.egg` part, rebuilt only when their metadata changes, and removed
//! when no longer developed. pip fetches setuptools for its isolated build from PyPI (through
//! its cache).

use std::path::Path;
use std::process::Command;

use tests::{cargo_artifact, git, run_buildout, scratch};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn projects(dir: &Path) {
    write(
        &dir.join("flat/setup.py"),
        "from setuptools import setup\nsetup(name='flat', version='1.0', py_modules=['flatmod'],\n      \
         entry_points={'console_scripts': ['flat = flatmod:main']})\n",
    );
    write(&dir.join("flat/flatmod.py"), "WORD = 'first'\n\ndef main():\n    print('flat', WORD)\n");
    write(
        &dir.join("srcpkg/pyproject.toml"),
        "[build-system]\nrequires = ['setuptools>=61']\nbuild-backend = 'setuptools.build_meta'\n\n[project]\n\
         name = 'srcpkg'\nversion = '2.0'\ndependencies = ['flat']\n\n[project.scripts]\nsrcpkg = 'srcpkg:main'\n",
    );
    write(
        &dir.join("srcpkg/src/srcpkg/__init__.py"),
        "import flatmod\n\ndef main():\n    print('srcpkg uses', flatmod.WORD)\n",
    );
}

// Develop eggs are never "picked": they need no pin.
const CONFIG: &str = "[buildout]\ndevelop = flat/setup.py srcpkg\nparts = app\nindex = file:///nonexistent\n\
                      allow-picked-versions = false\n\n\
                      [app]\nrecipe = zc.recipe.egg\neggs = srcpkg\n";

fn run_script(dir: &Path, name: &str) -> String {
    let out = Command::new(dir.join("bin").join(name)).output().expect("run the script");
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn python_projects_are_developed_editable() {
    let (_guard, dir) = scratch();
    projects(&dir);
    write(&dir.join("buildout.cfg"), CONFIG);
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];

    let first = run_buildout(&dir, &[], &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    for line in ["Develop: '{DIR}/flat/setup.py'", "Develop: '{DIR}/srcpkg'", "Generated script '{DIR}/bin/srcpkg'."] {
        assert!(first.stdout.lines().any(|l| l == line), "no {line:?} in\n{}", first.stdout);
    }
    let develop_eggs = dir.join("develop-eggs");
    let made = listing(&develop_eggs);
    for name in ["flat.egg-link", "flat-1.0.dist-info", "srcpkg.egg-link", "srcpkg-2.0.dist-info"] {
        assert!(made.iter().any(|m| m == name), "no {name} in {made:?}");
    }
    let link = std::fs::read_to_string(develop_eggs.join("srcpkg.egg-link")).expect("egg-link");
    assert_eq!(link, format!("{}\n..", dir.join("srcpkg/src").display()), "src layout: the src directory");
    // Develop eggs' source directories come first on the script's path.
    let script = std::fs::read_to_string(dir.join("bin/srcpkg")).expect("script");
    let path_lines: Vec<&str> = script.lines().filter(|l| l.starts_with("  '")).collect();
    assert_eq!(path_lines, [format!("  '{}/srcpkg/src',", dir.display()), format!("  '{}/flat',", dir.display())]);
    assert_eq!(run_script(&dir, "srcpkg"), "srcpkg uses first\n");
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");
    assert!(installed.contains(&format!("installed_develop_eggs = {}", develop_eggs.display())), "{installed}");

    // Editable: a change to the code shows without running buildout.
    write(&dir.join("flat/flatmod.py"), "WORD = 'edited'\n\ndef main():\n    print('flat', WORD)\n");
    assert_eq!(run_script(&dir, "srcpkg"), "srcpkg uses edited\n");

    // Unchanged metadata: pip does not run again.
    let metadata = develop_eggs.join("flat-1.0.dist-info/METADATA");
    let before = std::fs::metadata(&metadata).and_then(|m| m.modified()).expect("mtime");
    let again = run_buildout(&dir, &[], &env);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(std::fs::metadata(&metadata).and_then(|m| m.modified()).expect("mtime"), before);

    // New metadata: reinstalled, the old metadata gone.
    let pyproject = std::fs::read_to_string(dir.join("srcpkg/pyproject.toml")).expect("read");
    write(&dir.join("srcpkg/pyproject.toml"), &pyproject.replace("version = '2.0'", "version = '2.1'"));
    let bumped = run_buildout(&dir, &[], &env);
    assert_eq!(bumped.status, 0, "{}{}", bumped.stdout, bumped.stderr);
    let made = listing(&develop_eggs);
    assert!(made.iter().any(|m| m == "srcpkg-2.1.dist-info") && !made.iter().any(|m| m == "srcpkg-2.0.dist-info"));

    // No longer developed: everything it made in develop-eggs goes.
    write(&dir.join("buildout.cfg"), "[buildout]\nparts =\n");
    let removed = run_buildout(&dir, &[], &env);
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert_eq!(listing(&develop_eggs), Vec::<String>::new());
}

/// `develop = .` with a flat layout, the most common project: the script's path names the
/// project's directory, and the script imports the project. (zc.buildout 6.0.1 takes the
/// location of the `.dist-info` pip leaves in develop-eggs when its path sorts after the
/// project's, as `<buildout>/develop-eggs` does after `<buildout>`, and puts develop-eggs last on
/// the path; setuptools' editable finder there is never imported, so its script fails with
/// `ModuleNotFoundError`. Ours keeps the egg-link's directory, as it does for every layout.)
#[test]
fn a_flat_project_in_the_buildout_directory_is_importable() {
    let (_guard, dir) = scratch();
    write(
        &dir.join("setup.py"),
        "from setuptools import setup\nsetup(name='demo', version='0.1', packages=['demo'],\n      \
         entry_points={'console_scripts': ['demo = demo:main']})\n",
    );
    write(&dir.join("demo/__init__.py"), "def main():\n    print('demo runs')\n");
    write(
        &dir.join("buildout.cfg"),
        "[buildout]\ndevelop = .\nparts = app\nindex = file:///nonexistent\n\n[app]\nrecipe = zc.recipe.egg\neggs = demo\n",
    );
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];
    let out = run_buildout(&dir, &[], &env);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let script = std::fs::read_to_string(dir.join("bin/demo")).expect("script");
    let path_lines: Vec<&str> = script.lines().filter(|l| l.starts_with("  '")).collect();
    assert_eq!(path_lines, [format!("  '{}',", dir.display())]);
    assert_eq!(run_script(&dir, "demo"), "demo runs\n");
}

#[test]
fn a_directory_that_is_no_project_is_an_error() {
    let (_guard, dir) = scratch();
    std::fs::create_dir_all(dir.join("notes")).expect("mkdir");
    write(&dir.join("buildout.cfg"), "[buildout]\ndevelop = missing notes\nparts =\n");
    let out = run_buildout(&dir, &[], &[]);
    assert_eq!(out.status, 1);
    assert!(out.stdout.contains("Couldn't develop 'missing' (not found)"), "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "While:\n  Installing.\n  Processing develop directory '{DIR}/notes'.\nError: Couldn't develop '{DIR}/notes': \
         it has no setup.py or pyproject.toml (a Python project) and no Cargo.toml (a recipe crate)\n"
    );
}

/// mr.developer, natively: a package of `[sources]` in `auto-checkout` is cloned from a local
/// git repository into `sources-dir`, developed (its `[versions]` pin cleared) and used by a
/// part; `buildout sources status` reports it; `update` brings a new commit; `plan` checks
/// nothing out.
#[test]
fn mr_developer_sources_are_checked_out_and_developed() {
    let (_guard, dir) = scratch();
    let repo = dir.join("repo/flat");
    write(
        &repo.join("setup.py"),
        "from setuptools import setup\nsetup(name='flat', version='1.0', py_modules=['flatmod'],\n      \
         entry_points={'console_scripts': ['flat = flatmod:main']})\n",
    );
    write(&repo.join("flatmod.py"), "def main():\n    print('flat from git')\n");
    git(&["init", "--quiet"], &repo);
    git(&["add", "."], &repo);
    git(&["commit", "--quiet", "-m", "first"], &repo);
    let work = dir.join("work");
    write(
        &work.join("buildout.cfg"),
        &format!(
            "[buildout]\nextensions = mr.developer\nauto-checkout = flat\nparts = app\nversions = versions\n\
             always-checkout = true\n\n[sources]\nflat = git {} branch=main\n\n[versions]\nflat = 0.9\n\n\
             [app]\nrecipe = zc.recipe.egg\neggs = flat\n",
            repo.display()
        ),
    );
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string())];
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    let planned = run_buildout(&work, &args(&["plan"]), &env);
    assert_eq!(planned.status, 0, "{}", planned.stderr);
    assert!(!work.join("src").exists(), "plan checks nothing out");

    let first = run_buildout(&work, &args(&["-U"]), &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("mr.developer: Queued 'flat' for checkout.\nmr.developer: Cloned 'flat' with git"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("Develop: '{DIR}/src/flat'"), "{}", first.stdout);
    assert!(work.join("src/flat/flatmod.py").is_file());
    assert_eq!(run_script(&work, "flat"), "flat from git\n", "the developed code, not the pinned 0.9");

    let status = run_buildout(&work, &args(&["sources", "status"]), &env);
    assert_eq!(status.stdout, "flat: checked out (main), clean, auto-checkout ({DIR}/src/flat)\n", "{}", status.stderr);

    // A new commit upstream: always-checkout updates the checkout on the next run.
    write(&repo.join("flatmod.py"), "def main():\n    print('flat, second commit')\n");
    git(&["commit", "--quiet", "-am", "second"], &repo);
    let again = run_buildout(&work, &args(&["-U"]), &env);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("mr.developer: Updated 'flat' with git."), "{}", again.stdout);
    assert_eq!(run_script(&work, "flat"), "flat, second commit\n");

    // A package checked out by hand is developed from then on (recorded in .mr.developer.cfg,
    // as bin/develop does); deactivated, it is not.
    let other = dir.join("repo/other");
    write(
        &other.join("setup.py"),
        "from setuptools import setup\nsetup(name='other', version='1.0', py_modules=['othermod'])\n",
    );
    write(&other.join("othermod.py"), "");
    git(&["init", "--quiet"], &other);
    git(&["add", "."], &other);
    git(&["commit", "--quiet", "-m", "first"], &other);
    let config = std::fs::read_to_string(work.join("buildout.cfg")).expect("read");
    let config = config.replace("[versions]", &format!("other = git {}\n\n[versions]", other.display()));
    write(&work.join("buildout.cfg"), &config);
    let checked_out = run_buildout(&work, &args(&["sources", "checkout", "other"]), &env);
    assert_eq!(checked_out.status, 0, "{}", checked_out.stderr);
    assert!(work.join("src/other/setup.py").is_file());
    let status = run_buildout(&work, &args(&["sources", "status", "other"]), &env);
    assert!(status.stdout.starts_with("other: checked out (main), clean, activated"), "{}", status.stdout);
    let activated = run_buildout(&work, &args(&["-U"]), &env);
    assert!(activated.stdout.contains("Develop: '{DIR}/src/other'"), "{}", activated.stdout);
    let deactivated = run_buildout(&work, &args(&["sources", "deactivate", "other"]), &env);
    assert_eq!(deactivated.status, 0, "{}", deactivated.stderr);
    let without = run_buildout(&work, &args(&["-U"]), &env);
    assert_eq!(without.status, 0, "{}", without.stderr);
    assert!(!without.stdout.contains("src/other"), "{}", without.stdout);

    let unknown = run_buildout(&work, &args(&["sources", "status", "nope"]), &env);
    assert_eq!(unknown.status, 1);
    assert!(unknown.stderr.contains("Error: There is no package nope in the sources."), "{}", unknown.stderr);
}
