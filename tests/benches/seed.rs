//! The seed buildout (`examples/zeo/buildout.cfg`: a `zc.recipe.egg:script` part for ZEO and a
//! `zc.zodbrecipes:server` part) with every egg already in a shared eggs directory: its first
//! install in a new buildout directory, and a no-op rerun. With `REFERENCE_VENV` naming a venv
//! made by `shared/tools/reference-venv.sh` (zc.buildout 6.0.1, zc.recipe.egg, zc.zodbrecipes),
//! the same runs of zc.buildout are measured too.
//!
//! Run with `cargo bench -p tests --bench seed`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PINS: &str = "ZEO==6.2 ZODB==6.4 zdaemon==5.2.1 ZConfig==4.3 transaction==5.1 persistent==6.9 BTrees==6.5 \
                    zodbpickle==4.5 zope.interface==8.7 zope.proxy==7.3 zope.deferredimport==6.1.1 zc.lockfile==4.0 \
                    cffi==2.1.1 pycparser==3.12 setuptools==84.2.1";

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One buildout implementation: how to run it on a directory.
struct Tool {
    program: PathBuf,
    env: Vec<(String, String)>,
}

impl Tool {
    fn run(&self, dir: &Path) -> Duration {
        let start = Instant::now();
        let out = Command::new(&self.program)
            .arg("-N")
            .current_dir(dir)
            .env("HOME", dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run buildout");
        let elapsed = start.elapsed();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        elapsed
    }

    /// First install with eggs present (median of `n` fresh directories), then the no-op rerun.
    fn measure(&self, config: &str, n: usize, reruns: usize) -> (Duration, Duration) {
        let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().expect("temp")).collect();
        let first = median(
            dirs.iter()
                .map(|d| {
                    std::fs::write(d.path().join("buildout.cfg"), config).expect("write");
                    self.run(d.path())
                })
                .collect(),
        );
        let noop = median((0..reruns).map(|_| self.run(dirs[0].path())).collect());
        (first, noop)
    }
}

fn config(wheels: &Path, eggs: &Path) -> String {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/zeo/buildout.cfg");
    let seed = std::fs::read_to_string(seed).expect("examples/zeo/buildout.cfg");
    let extra = format!(
        "[buildout]\nparts = zodb server\nfind-links = {}\nindex = file:///nonexistent\neggs-directory = {}\n",
        wheels.display(),
        eggs.display()
    );
    let mut text = seed.replacen("[buildout]\nparts = zodb server\n", &extra, 1);
    text.push_str("\n[versions]\n");
    for pin in PINS.split_whitespace() {
        let (n, v) = pin.split_once("==").expect("pin");
        text.push_str(&format!("{n} = {v}\n"));
    }
    text
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
    let libs =
        [tests::cargo_artifact("recipe-egg", "zc_recipe_egg"), tests::cargo_artifact("recipe-zodb", "zc_zodbrecipes")];
    let path = std::env::join_paths(libs.iter().filter_map(|l| l.parent())).expect("recipe path");
    let ours = Tool {
        program: tests::buildout_bin(),
        env: vec![("BUILDOUT_RECIPE_PATH".into(), path.to_string_lossy().into_owned())],
    };
    let eggs = tempfile::tempdir().expect("temp");
    let text = config(&wheels, eggs.path());
    // Fills the shared eggs directory, so that what follows has every egg present.
    ours.measure(&text, 1, 0);
    println!("| seed buildout, eggs present | first install | no-op rerun |\n| --- | --- | --- |");
    let (first, noop) = ours.measure(&text, 5, 20);
    println!("| buildout (this project) | {} | {} |", ms(first), ms(noop));
    if let Ok(venv) = std::env::var("REFERENCE_VENV") {
        let reference = Tool { program: Path::new(&venv).join("bin/buildout"), env: Vec::new() };
        let eggs = tempfile::tempdir().expect("temp");
        let text = config(&wheels, eggs.path());
        reference.measure(&text, 1, 0);
        let (first, noop) = reference.measure(&text, 3, 5);
        println!("| zc.buildout 6.0.1 | {} | {} |", ms(first), ms(noop));
    }
}
