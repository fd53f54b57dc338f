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

use tests::bench::{median, ms};
use tests::zeo::{versions_section as zeo_versions_section, wheels as zeo_wheels};

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
    text.push('\n');
    text.push_str(&zeo_versions_section());
    text
}

fn main() {
    let wheels = zeo_wheels();
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
    println!("| buildout (this project) | {} | {} |", ms(first, 1), ms(noop, 1));
    if let Ok(venv) = std::env::var("REFERENCE_VENV") {
        let reference = Tool { program: Path::new(&venv).join("bin/buildout"), env: Vec::new() };
        let eggs = tempfile::tempdir().expect("temp");
        let text = config(&wheels, eggs.path());
        reference.measure(&text, 1, 0);
        let (first, noop) = reference.measure(&text, 3, 5);
        println!("| zc.buildout 6.0.1 | {} | {} |", ms(first, 1), ms(noop, 1));
    }
}
