//! The egg recipe: a cold install of ZEO's 15 distributions from a local wheel directory
//! (compared with `uv pip install --target` of the same wheels when uv is on PATH), and a
//! `zc.recipe.egg` part whose eggs are all present. Wheels come from `pip download` once, into
//! `target/wheel-cache/zeo-bench`.
//!
//! Run with `cargo bench -p tests --bench eggs`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tests::bench::{ZEO_PINS, median, ms, zeo_versions_section, zeo_wheels};

fn main() {
    let wheels = zeo_wheels();
    let recipes = tests::cargo_artifact("recipe-egg", "zc_recipe_egg");
    let recipes = recipes.parent().expect("dir").display().to_string();
    let config = format!(
        "[buildout]\nparts = zeo\nfind-links = {}\nindex = file:///nonexistent\n\n[zeo]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n{}",
        wheels.display(),
        zeo_versions_section()
    );
    let run = |dir: &Path| {
        let start = Instant::now();
        let out = Command::new(tests::buildout_bin())
            .arg("-N")
            .current_dir(dir)
            .env("HOME", dir)
            .env("BUILDOUT_RECIPE_PATH", &recipes)
            .output()
            .expect("buildout");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        start.elapsed()
    };
    println!("| scenario | median |\n| --- | --- |");
    let cold = median(
        (0..3)
            .map(|_| {
                let dir = tempfile::tempdir().expect("temp");
                std::fs::write(dir.path().join("buildout.cfg"), &config).expect("write");
                run(dir.path())
            })
            .collect(),
    );
    println!("| cold install of ZEO's 15 distributions from local wheels (`buildout -N`) | {} |", ms(cold, 0));
    let uv = Command::new("uv").arg("--version").output().is_ok_and(|o| o.status.success());
    if uv {
        let t = median(
            (0..3)
                .map(|_| {
                    let dir = tempfile::tempdir().expect("temp");
                    let start = Instant::now();
                    let ok = Command::new("uv")
                        .args(["pip", "install", "--quiet", "--no-index", "--find-links"])
                        .arg(&wheels)
                        .arg("--target")
                        .arg(dir.path())
                        .args(ZEO_PINS.split_whitespace())
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "uv failed");
                    start.elapsed()
                })
                .collect(),
        );
        println!("| `uv pip install --target` of the same wheels | {} |", ms(t, 0));
    } else {
        println!("| `uv pip install --target` of the same wheels | uv not on PATH |");
    }
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(dir.path().join("buildout.cfg"), &config).expect("write");
    run(dir.path());
    let noop = median((0..20).map(|_| run(dir.path())).collect());
    println!("| `zc.recipe.egg` part with every egg present (no-op run) | {} |", ms(noop, 0));
}
