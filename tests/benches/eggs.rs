//! The egg recipe: a cold install of ZEO's 15 distributions from a local wheel directory into a
//! fresh eggs directory, with an empty and with a warm user cache (compared with
//! `uv pip install --target` of the same wheels and an empty or warm uv cache, when uv is on PATH), and a
//! `zc.recipe.egg` part whose eggs are all present. Wheels come from `pip download` once, into
//! `target/wheel-cache/zeo`.
//!
//! Run with `cargo bench -p tests --bench eggs`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tests::bench::{median, ms};
use tests::zeo::{requirements, versions_section as zeo_versions_section, wheels as zeo_wheels};

fn main() {
    let wheels = zeo_wheels();
    let recipes = tests::cargo_artifact("recipe-egg", "zc_recipe_egg");
    let recipes = recipes.parent().expect("dir").display().to_string();
    let config = format!(
        "[buildout]\nparts = zeo\nfind-links = {}\nindex = file:///nonexistent\n\n[zeo]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n{}",
        wheels.display(),
        zeo_versions_section()
    );
    let run = |dir: &Path, cache: &Path| {
        let start = Instant::now();
        let out = Command::new(tests::buildout_bin())
            .arg("-N")
            .current_dir(dir)
            .env("HOME", dir)
            .env("BUILDOUT_CACHE_DIR", cache)
            .env("BUILDOUT_RECIPE_PATH", &recipes)
            .output()
            .expect("buildout");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        start.elapsed()
    };
    // Every run's directories are kept until the end: deleting a thousand files just before
    // the next run makes the file system slow to create the next ones (ext4 checks recently
    // deleted inodes), which would time the deletion rather than the install.
    let keep = std::cell::RefCell::new(Vec::new());
    let fresh = || {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().to_owned();
        keep.borrow_mut().push(dir);
        path
    };
    // A fresh buildout and eggs directory each time, with an empty or a warm user cache.
    let cold = |cache: Option<&Path>| {
        median(
            (0..5)
                .map(|_| {
                    let (dir, empty) = (fresh(), fresh());
                    std::fs::write(dir.join("buildout.cfg"), &config).expect("write");
                    run(&dir, cache.unwrap_or(&empty))
                })
                .collect(),
        )
    };
    let uv = |cache: Option<&Path>| {
        median(
            (0..5)
                .map(|_| {
                    let (dir, empty) = (fresh(), fresh());
                    let start = Instant::now();
                    let ok = Command::new("uv")
                        .args(["pip", "install", "--quiet", "--no-index", "--find-links"])
                        .arg(&wheels)
                        .arg("--target")
                        .arg(&dir)
                        .args(requirements())
                        .env("UV_CACHE_DIR", cache.unwrap_or(&empty))
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "uv failed");
                    start.elapsed()
                })
                .collect(),
        )
    };
    let have_uv = Command::new("uv").arg("--version").output().is_ok_and(|o| o.status.success());
    let warm = tempfile::tempdir().expect("temp");
    let uv_warm = tempfile::tempdir().expect("temp");
    println!("| scenario | buildout | `uv pip install --target` of the same wheels |\n| --- | --- | --- |");
    for (label, ours, theirs) in [("empty cache", None, None), ("warm cache", Some(warm.path()), Some(uv_warm.path()))]
    {
        if let Some(cache) = ours {
            cold(Some(cache));
        }
        let t = cold(ours);
        let u = if have_uv {
            if let Some(cache) = theirs {
                uv(Some(cache));
            }
            ms(uv(theirs), 0)
        } else {
            "uv not on PATH".to_owned()
        };
        println!(
            "| cold install of ZEO's 15 distributions from local wheels (`buildout -N`), {label} | {} | {u} |",
            ms(t, 0)
        );
    }
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(dir.path().join("buildout.cfg"), &config).expect("write");
    run(dir.path(), warm.path());
    let noop = median((0..20).map(|_| run(dir.path(), warm.path())).collect());
    println!("| `zc.recipe.egg` part with every egg present (no-op run) | {} | |", ms(noop, 0));
}
