//! zc.buildout's recipe interface as the Python bridge gives it, exercised by a Python recipe
//! written here (a `develop` project) beside the Rust test recipes: options set by either kind
//! are read by the other through `${part:option}`; a Python recipe sets an option of another
//! section; `query_bool`, `get_bool`, `MissingSection`, logging and printing; `install`
//! returning one path as a string; `update` returning None; a failing `install` whose
//! `options.created()` paths are removed and whose error names the part (its traceback with
//! `-D` only); and the `[zc.buildout.uninstall]` entry.

use std::path::Path;

use tests::{cargo_artifact, run_buildout, scratch};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

const SETUP: &str = "from setuptools import setup
setup(name='bridge.probe', version='1.0', py_modules=['bridgeprobe'],
      entry_points={'zc.buildout': ['default = bridgeprobe:Probe'],
                    'zc.buildout.uninstall': ['default = bridgeprobe:uninstall']})
";

const MODULE: &str = "import logging
import os

import zc.buildout


class Probe:
    def __init__(self, buildout, name, options):
        self.name, self.options = name, options
        options['flag'] = str(options.query_bool('enabled', 'false'))
        options['unset-flag'] = repr(options.query_bool('nothing'))
        options['required-flag'] = str(options.get_bool('enabled'))
        options['native'] = buildout['native']['computed']
        buildout['shared']['from-python'] = 'set by ' + name
        try:
            buildout['no-such-section']
        except zc.buildout.UserError as e:
            options['missing-section'] = str(e)
        logging.getLogger(name).info('constructed')

    def install(self):
        location = self.options['location']
        self.options.created(location)
        os.mkdir(location)
        if self.options.get('fail') == 'yes':
            raise zc.buildout.UserError('failing on purpose in ' + self.name)
        print('printed by', self.name)
        return location

    def update(self):
        return None


def uninstall(name, options):
    logging.getLogger(name).info('uninstalling %s', os.path.basename(options['location']))
";

const CONFIG: &str = "[buildout]
develop = recipes
parts = probe reader
show-picked-versions = false

[shared]
base = 1

[native]
recipe = buildout.testrecipes:options

[probe]
recipe = bridge.probe
enabled = true
location = ${buildout:parts-directory}/probe
{FAIL}

[reader]
recipe = buildout.testrecipes:options
read = probe:flag
from-python = ${shared:from-python}
";

#[test]
fn the_bridge_gives_python_recipes_zc_buildouts_interface() {
    let (_guard, dir) = scratch();
    write(&dir.join("recipes/setup.py"), SETUP);
    write(&dir.join("recipes/bridgeprobe.py"), MODULE);
    write(&dir.join("buildout.cfg"), &CONFIG.replace("{FAIL}", ""));
    let testrecipes = cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bridge-corpus-cache");
    let env = vec![
        ("BUILDOUT_RECIPE_PATH".to_owned(), testrecipes.parent().expect("dir").display().to_string()),
        ("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string()),
    ];

    let first = run_buildout(&dir, &args(&["-U"]), &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("probe: constructed\n"), "{}", first.stdout);
    assert!(first.stdout.contains("Installing probe.\nprinted by probe\n"), "{}", first.stdout);
    assert!(dir.join("parts/probe").is_dir());
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");
    for line in [
        "__buildout_installed__ = {DIR}/parts/probe\n",
        "flag = True\n",
        "unset-flag = None\n",
        "required-flag = True\n",
        "native = native-none\n",
        "missing-section = The referenced section, 'no-such-section', was not defined.\n",
        // The other way round: the Rust recipe read what the Python one set, in its own
        // section and in another.
        "read-value = True\n",
        "from-python = set by probe\n",
    ] {
        let line = line.replace("{DIR}", &dir.display().to_string());
        assert!(installed.contains(&line), "{line:?} missing from:\n{installed}");
    }
    let signature = installed.lines().find(|l| l.starts_with("__buildout_signature__ = bridge.probe-"));
    assert!(signature.is_some(), "a develop recipe is signed by its files:\n{installed}");

    // Nothing changed: update returns None, which keeps the recorded path.
    let again = run_buildout(&dir, &args(&["-U", "-N"]), &env);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("Updating probe.\n"), "{}", again.stdout);
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");
    assert!(installed.contains(&format!("__buildout_installed__ = {}/parts/probe\n", dir.display())), "{installed}");

    // A failing install: uninstalled first (its option changed), what it registered as created
    // is removed, and the error names the part; the traceback only with -D.
    write(&dir.join("buildout.cfg"), &CONFIG.replace("{FAIL}", "fail = yes"));
    let failed = run_buildout(&dir, &args(&["-U", "-N"]), &env);
    assert_eq!(failed.status, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("Uninstalling probe.\nRunning uninstall recipe.\nprobe: uninstalling probe\n"),
        "{}",
        failed.stdout
    );
    assert_eq!(failed.stderr, "While:\n  Installing probe.\nError: failing on purpose in probe\n");
    assert!(!dir.join("parts/probe").exists(), "the created directory is removed");
    let detailed = run_buildout(&dir, &args(&["-U", "-N", "-D"]), &env);
    assert!(detailed.stderr.contains("Traceback (most recent call last):"), "{}", detailed.stderr);
    assert!(detailed.stderr.contains("zc.buildout.UserError: failing on purpose in probe"), "{}", detailed.stderr);

    // A change to the recipe's code reinstalls its part (its signature follows the files).
    write(&dir.join("buildout.cfg"), &CONFIG.replace("{FAIL}", ""));
    run_buildout(&dir, &args(&["-U", "-N"]), &env);
    write(&dir.join("recipes/bridgeprobe.py"), &MODULE.replace("'constructed'", "'constructed again'"));
    let edited = run_buildout(&dir, &args(&["-U", "-N"]), &env);
    assert_eq!(edited.status, 0, "{}{}", edited.stdout, edited.stderr);
    assert!(edited.stdout.contains("probe: constructed again\n"), "{}", edited.stdout);
    assert!(edited.stdout.contains("Uninstalling probe.\n"), "{}", edited.stdout);
    assert!(edited.stdout.contains("Installing probe.\n"), "{}", edited.stdout);
}

/// zc.recipe.egg's `develop` (and `custom`) entries, which the native library does not have,
/// run through the bridge with the real zc.recipe.egg, as under zc.buildout.
#[test]
fn zc_recipe_egg_develop_runs_through_the_bridge() {
    let (_guard, dir) = scratch();
    write(
        &dir.join("proj/setup.py"),
        "from setuptools import setup\nsetup(name='proj', version='1.0', py_modules=['projmod'])\n",
    );
    write(&dir.join("proj/projmod.py"), "X = 1\n");
    write(&dir.join("buildout.cfg"), "[buildout]\nparts = p\n\n[p]\nrecipe = zc.recipe.egg:develop\nsetup = proj\n");
    cargo_artifact("recipe-egg", "zc_recipe_egg");
    cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bridge-corpus-cache");
    let env = vec![("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string())];
    let out = run_buildout(&dir, &args(&["-U"]), &env);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.ends_with("Installing p.\n"), "{}", out.stdout);
    let link = std::fs::read_to_string(dir.join("develop-eggs/proj.egg-link")).expect("proj.egg-link");
    assert!(link.starts_with(&dir.join("proj").display().to_string()), "{link}");
    let shown = run_buildout(&dir, &args(&["-U", "recipes", "zc.recipe.egg"]), &env);
    assert!(shown.stdout.starts_with("zc.recipe.egg "), "the native library stays the one listed: {shown:?}");
}

/// The bridge's own zc.buildout set in a second buildout on the machine: the resolution the
/// first one made is remembered in the user cache, so the second gets the set linked from the
/// cache, offline, with the bytecode the first one's Python wrote.
#[test]
fn a_new_eggs_directory_gets_the_bridges_own_set_from_the_user_cache_offline() {
    let (_guard, root) = scratch();
    cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    let twin = root.join("twin");
    std::fs::create_dir_all(&twin).expect("mkdir");
    tests::python_twin(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine/python"), &twin);
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bridge-corpus-cache");
    let env = vec![("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string())];
    let buildout = |name: &str, args: &[&str]| {
        let dir = root.join(name);
        write(&dir.join("develop-eggs/buildout.testrecipes.egg-link"), &format!("{}\n.", twin.display()));
        write(
            &dir.join("buildout.cfg"),
            "[buildout]\nparts = made\n\n[made]\nrecipe = buildout.testrecipes:mkdir\npath = made\n",
        );
        let out = run_buildout(&dir, &self::args(args), &env);
        assert_eq!(out.status, 0, "{name}: {}{}", out.stdout, out.stderr);
        assert!(dir.join("made").is_dir(), "{name}: the Python recipe ran");
        dir
    };
    buildout("first", &["-U"]);
    // Offline and with an empty eggs directory: nothing would settle the set but the record.
    let second = buildout("second", &["-U", "-o"]);
    let eggs = second.join("eggs");
    // The eggs directory, or a versioned directory in it (`eggs/v5`).
    let own = [eggs.clone()]
        .into_iter()
        .chain(subdirectories(&eggs))
        .flat_map(|d| subdirectories(&d))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("zc.buildout-")));
    let own = own.unwrap_or_else(|| panic!("no zc.buildout egg under {}", eggs.display()));
    let python = tests::python();
    let pyc =
        own.join(format!("zc/buildout/__pycache__/buildout.cpython-{}{}.pyc", python.version.0, python.version.1));
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata(&pyc).unwrap_or_else(|e| panic!("{}: {e}", pyc.display())).nlink();
    assert!(links >= 2, "{} was compiled again ({links} link), not linked from the cache", pyc.display());
}

fn subdirectories(dir: &Path) -> Vec<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
}
