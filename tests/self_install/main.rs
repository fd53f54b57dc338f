//! Installing buildout itself (issue 11): `cargo xtask install --prefix DIR` puts the binary and
//! the shipped recipe libraries where the loader finds them, and `cargo xtask wheel` writes a
//! wheel that `pip install` makes work in a venv. Both from the debug build the tests use.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use tests::scratch;

/// Held by each test for its whole run: each `cargo xtask` relinks the artefacts in target/debug,
/// which the other test's xtask may be copying at that moment.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static XTASK: Mutex<()> = Mutex::new(());
    XTASK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `cargo xtask <args> --debug` in the workspace, as the README says (the alias is in
/// `.cargo/config.toml`).
fn xtask(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo).arg("xtask").args(args).arg("--debug").current_dir(root).output().expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "cargo xtask {args:?} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// `buildout recipes <dist>` run from a directory that has no `recipes/`, with nothing on
/// `BUILDOUT_RECIPE_PATH`: only where the program is can tell where the libraries are.
fn recipes(buildout: &Path, dist: &str) -> Output {
    let (_guard, dir) = scratch();
    Command::new(buildout)
        .args(["recipes", dist])
        .current_dir(&dir)
        .env("HOME", dir.join("home"))
        .env_remove("BUILDOUT_RECIPE_PATH")
        .output()
        .expect("run the installed buildout")
}

fn expect_found(out: &Output, dist: &str, library: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{dist}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(&format!("{dist} ")), "{stdout}");
    assert!(stdout.contains(&format!("  file: {}\n", library.display())), "{stdout}");
    assert!(!stdout.contains("shadowed"), "{stdout}");
}

#[test]
fn cargo_xtask_install_puts_the_libraries_where_the_loader_looks() {
    let _one = one_at_a_time();
    let (_guard, dir) = scratch();
    let prefix = dir.join("prefix");
    let printed = xtask(&["install", "--prefix", &prefix.display().to_string()]);
    let recipes_dir = prefix.join("lib/buildout/recipes");
    let installed: Vec<PathBuf> = [
        "bin/buildout",
        "lib/buildout/recipes/libzc_zodbrecipes.so",
        "lib/buildout/recipes/libzc_recipe_egg.so",
        "lib/buildout/recipes/libzc_recipe_deployment.so",
        "lib/buildout/recipes/libbuildout_pythonbridge.so",
    ]
    .iter()
    .map(|p| prefix.join(p))
    .collect();
    for path in &installed {
        assert!(printed.contains(&format!("Installed {}\n", path.display())), "{printed}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).expect("installed").permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{}", path.display());
    }
    let buildout = prefix.join("bin/buildout");
    expect_found(&recipes(&buildout, "zc.zodbrecipes"), "zc.zodbrecipes", &recipes_dir.join("libzc_zodbrecipes.so"));
    expect_found(&recipes(&buildout, "zc.recipe.egg"), "zc.recipe.egg", &recipes_dir.join("libzc_recipe_egg.so"));
    let bridge = recipes_dir.join("libbuildout_pythonbridge.so");
    expect_found(&recipes(&buildout, "buildout.pythonbridge"), "buildout.pythonbridge", &bridge);

    // Installing again replaces the files (by renaming new copies over them).
    let again = xtask(&["install", "--prefix", &prefix.display().to_string()]);
    assert_eq!(again, printed);
    let leftovers: Vec<String> = std::fs::read_dir(&recipes_dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers.len(), 4, "{leftovers:?}");
}

#[test]
fn the_wheel_of_buildout_works_once_pip_installed_into_a_venv() {
    let _one = one_at_a_time();
    let (_guard, dir) = scratch();
    let printed = xtask(&["wheel", "--out", &dir.join("wheels").display().to_string()]);
    let wheel = PathBuf::from(printed.trim().strip_prefix("Wrote ").unwrap_or_else(|| panic!("{printed}")));
    let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    let arch = buildout_core::package::Platform::host().arch.clone();
    assert!(name.starts_with(&format!("buildout-{version}-py3-none-manylinux_2_")), "{name}");
    assert!(name.ends_with(&format!("_{arch}.whl")), "{name}");

    let venv = dir.join("venv");
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().expect("run python3");
    assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
    let pip = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--quiet"])
        .arg(&wheel)
        .output()
        .expect("run pip");
    assert!(pip.status.success(), "pip install: {}", String::from_utf8_lossy(&pip.stderr));

    let buildout = venv.join("bin/buildout");
    let recipes_dir = venv.join("lib/buildout/recipes");
    expect_found(&recipes(&buildout, "zc.recipe.egg"), "zc.recipe.egg", &recipes_dir.join("libzc_recipe_egg.so"));
    expect_found(&recipes(&buildout, "zc.zodbrecipes"), "zc.zodbrecipes", &recipes_dir.join("libzc_zodbrecipes.so"));
    let bridge = recipes_dir.join("libbuildout_pythonbridge.so");
    expect_found(&recipes(&buildout, "buildout.pythonbridge"), "buildout.pythonbridge", &bridge);
    // pip knows what it installed, and uninstalls all of it.
    let uninstall = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "uninstall", "--yes", "--quiet", "buildout"])
        .output()
        .expect("run pip");
    assert!(uninstall.status.success(), "pip uninstall: {}", String::from_utf8_lossy(&uninstall.stderr));
    assert!(!buildout.exists() && !recipes_dir.join("libzc_recipe_egg.so").exists());
}
