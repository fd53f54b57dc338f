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
use std::time::{Duration, Instant};

const PINS: &str = "ZEO==6.2 ZODB==6.4 zdaemon==5.2.1 ZConfig==4.3 transaction==5.1 persistent==6.9 BTrees==6.5 \
                    zodbpickle==4.5 zope.interface==8.7 zope.proxy==7.3 zope.deferredimport==6.1.1 zc.lockfile==4.0 \
                    cffi==2.1.1 pycparser==3.12 setuptools==84.2.1";

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wheel-cache/zeo-bench");
    std::fs::create_dir_all(&wheels).expect("wheel dir");
    let ok = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
        .arg(&wheels)
        .args(PINS.split_whitespace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pip download failed");
    let recipes = tests::cargo_artifact("recipe-egg", "zc_recipe_egg");
    let recipes = recipes.parent().expect("dir").display().to_string();
    let mut config = format!(
        "[buildout]\nparts = zeo\nfind-links = {}\nindex = file:///nonexistent\n\n[zeo]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n[versions]\n",
        wheels.display()
    );
    for pin in PINS.split_whitespace() {
        let (n, v) = pin.split_once("==").expect("pin");
        config.push_str(&format!("{n} = {v}\n"));
    }
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
    println!("| cold install of ZEO's 15 distributions from local wheels (`buildout -N`) | {} |", ms(cold));
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
                        .args(PINS.split_whitespace())
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "uv failed");
                    start.elapsed()
                })
                .collect(),
        );
        println!("| `uv pip install --target` of the same wheels | {} |", ms(t));
    } else {
        println!("| `uv pip install --target` of the same wheels | uv not on PATH |");
    }
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(dir.path().join("buildout.cfg"), &config).expect("write");
    run(dir.path());
    let noop = median((0..20).map(|_| run(dir.path())).collect());
    println!("| `zc.recipe.egg` part with every egg present (no-op run) | {} |", ms(noop));
}
