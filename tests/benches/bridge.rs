//! Python recipes through the Python bridge against zc.buildout 6.0.1 running the same recipes:
//! 20 parts of the engine corpus's Python twin (`buildout.testrecipes:mkdir`), installed and
//! then run again with nothing changed, timed as a user runs `buildout` (process start
//! included). For scale, the same parts with the Rust test recipe library, where no Python
//! starts at all. zc.buildout comes from `target/reference-venv` (made once from PyPI, with the
//! twin installed), the bridge's own zc.buildout from PyPI into the run's eggs directory.
//!
//! Run with `cargo bench -p tests --bench bridge`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::bench::{median, ms};

const PARTS: usize = 20;
const RUNS: usize = 7;

fn config() -> String {
    let names: Vec<String> = (0..PARTS).map(|i| format!("p{i}")).collect();
    let mut text = format!("[buildout]\nparts = {}\n", names.join(" "));
    for name in &names {
        text.push_str(&format!("\n[{name}]\nrecipe = buildout.testrecipes:mkdir\npath = {name}\n"));
    }
    text
}

fn run(program: &Path, dir: &Path, env: &[(&str, String)]) -> Duration {
    let start = Instant::now();
    let out = Command::new(program)
        .args(["-U", "-N"])
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run buildout");
    let elapsed = start.elapsed();
    assert!(out.status.success(), "{} failed:\n{}", program.display(), String::from_utf8_lossy(&out.stderr));
    elapsed
}

/// (first install, median no-op rerun)
fn time(program: &Path, dir: &Path, env: &[(&str, String)]) -> (Duration, Duration) {
    std::fs::write(dir.join("buildout.cfg"), config()).expect("write buildout.cfg");
    let first = run(program, dir, env);
    let again = median((0..RUNS).map(|_| run(program, dir, env)).collect());
    assert!(dir.join(format!("p{}", PARTS - 1)).is_dir(), "the parts were installed");
    (first, again)
}

fn main() {
    let root = tempfile::tempdir().expect("temp dir");
    let ours = tests::buildout_bin();
    tests::cargo_artifact("recipe-python-bridge", "buildout_pythonbridge");
    let twin = root.path().join("twin");
    std::fs::create_dir_all(&twin).expect("mkdir");
    tests::python_twin(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine/python"), &twin);
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bridge-corpus-cache");
    let env = [("BUILDOUT_CACHE_DIR", cache.display().to_string())];

    let bridged = root.path().join("bridge");
    std::fs::create_dir_all(bridged.join("develop-eggs")).expect("mkdir");
    std::fs::write(bridged.join("develop-eggs/buildout.testrecipes.egg-link"), format!("{}\n.", twin.display()))
        .expect("write egg-link");
    // The machine's first buildout with Python recipes: fills the user cache with the bridge's
    // zc.buildout set, its remembered resolution and its bytecode, so that what follows times a
    // new buildout on a machine that has run one before, not a download.
    let warm = root.path().join("warm");
    std::fs::create_dir_all(warm.join("develop-eggs")).expect("mkdir");
    std::fs::copy(
        bridged.join("develop-eggs/buildout.testrecipes.egg-link"),
        warm.join("develop-eggs/buildout.testrecipes.egg-link"),
    )
    .expect("copy egg-link");
    time(&ours, &warm, &env);
    let (bridge_first, bridge_again) = time(&ours, &bridged, &env);

    let native = root.path().join("native");
    std::fs::create_dir_all(&native).expect("mkdir");
    let recipes = tests::cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    let native_env = [("BUILDOUT_RECIPE_PATH", recipes.parent().expect("dir").display().to_string())];
    let (native_first, native_again) = time(&ours, &native, &native_env);

    let reference = root.path().join("reference");
    std::fs::create_dir_all(&reference).expect("mkdir");
    let (ref_first, ref_again) = time(&tests::reference_buildout(), &reference, &[]);

    println!("| {PARTS} parts of `buildout.testrecipes:mkdir` | first install | no-op rerun (median of {RUNS}) |");
    println!("| --- | --- | --- |");
    println!("| zc.buildout 6.0.1, the Python recipes | {} | {} |", ms(ref_first, 1), ms(ref_again, 1));
    println!(
        "| buildout, the same Python recipes through the bridge | {} | {} |",
        ms(bridge_first, 1),
        ms(bridge_again, 1)
    );
    println!("| buildout, the Rust test recipe library | {} | {} |", ms(native_first, 1), ms(native_again, 1));
}
