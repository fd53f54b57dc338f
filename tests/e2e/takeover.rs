//! A buildout directory installed by the Python zc.buildout 6 can be taken over by ours, and the
//! other way round: both read each other's `.installed.cfg` and uninstall exactly what the other
//! recorded.

use std::path::Path;
use std::process::Command;

use tests::{recipe_env, reference_buildout, run_buildout, scratch};

const TWO_PARTS: &str = "[buildout]\nparts = b a\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = one\n\n\
                         [b]\nrecipe = buildout.testrecipes:mkdir\npath = two\n";
const ONLY_A: &str = "[buildout]\nparts = a\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = one\n";

fn ours(dir: &Path) -> tests::Outcome {
    run_buildout(dir, &["-U".to_owned(), "-N".to_owned()], &recipe_env())
}

#[test]
fn ours_takes_over_a_directory_installed_by_zc_buildout() {
    let (_t, dir) = scratch();
    // `.installed.cfg` as zc.buildout 6.0.1 left it after an install and a no-op run (with the
    // `[buildout]` blocks it appends), recorded in the engine corpus.
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/engine/install-002-two-parts-in-listed-order/02-noop/expected/installed");
    let text = std::fs::read_to_string(recorded).expect("recorded file");
    assert!(text.matches("[buildout]").count() > 1, "the recorded file has appended blocks");
    let text =
        text.replace("{DIR}", &dir.display().to_string()).replace("{SIGNATURE}", "buildout-testrecipes-0123abcd");
    std::fs::write(dir.join(".installed.cfg"), text).expect("write");
    for d in ["one", "two", "bin", "parts", "develop-eggs"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
    std::fs::write(dir.join("buildout.cfg"), ONLY_A).expect("write");
    let out = ours(&dir);
    assert_eq!(out.status, 0, "{}", out.stderr);
    // b left the configuration; a's recipe signature differs from Python's, so it is reinstalled.
    assert!(
        out.stdout.contains("Uninstalling b.\nRunning uninstall recipe.\nb: Uninstalling directory {DIR}/two\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Uninstalling a.\n") && out.stdout.contains("Installing a.\n"), "{}", out.stdout);
    assert!(!dir.join("two").exists() && dir.join("one").is_dir());
}

#[test]
fn zc_buildout_takes_over_a_directory_installed_by_ours() {
    let reference = reference_buildout();
    let (_t, dir) = scratch();
    std::fs::write(dir.join("buildout.cfg"), TWO_PARTS).expect("write");
    let first = ours(&dir);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert!(dir.join("one").is_dir() && dir.join("two").is_dir());

    std::fs::write(dir.join("buildout.cfg"), ONLY_A).expect("write");
    let python = Command::new(&reference)
        .args(["-U", "-N"])
        .current_dir(&dir)
        .env("HOME", dir.join("home"))
        .output()
        .expect("run zc.buildout");
    let stdout = String::from_utf8_lossy(&python.stdout);
    assert!(python.status.success(), "zc.buildout failed:\n{stdout}\n{}", String::from_utf8_lossy(&python.stderr));
    assert!(stdout.contains("Uninstalling b.\nRunning uninstall recipe.\n"), "{stdout}");
    assert!(!dir.join("two").exists(), "zc.buildout removed what ours recorded for b");
    assert!(dir.join("one").is_dir());

    // And back: ours reads what zc.buildout wrote (appended blocks included) and converges.
    let back = ours(&dir);
    assert_eq!(back.status, 0, "{}", back.stderr);
    let again = ours(&dir);
    assert_eq!(again.stdout, "Updating a.\n", "converged");
}
