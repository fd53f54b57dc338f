//! Real PyPI at scale: `jupyterlab` and `Products.CMFPlone` installed from PyPI by a
//! `zc.recipe.egg:scripts` part, cold (empty buildout cache, empty uv cache) and warm (both
//! caches filled, new buildout and eggs directory), against `uv pip install --target` of the same
//! stack with an empty and a warm uv cache; with `REFERENCE_VENV` (a venv made by
//! `shared/tools/reference-venv.sh`) zc.buildout 6.0.1 cold too. Then the README example's egg
//! part (ZEO, nothing pinned) run again with everything installed, in the default newest mode:
//! against a local mirror of PyPI's pages sending fresh cache headers (no request at all), or
//! headers that make every page a revalidation (one `304` per distribution), against PyPI itself,
//! and offline (`-o`) for reference.
//!
//! Buildout gets an existing uv binary through `BUILDOUT_UV` (see [`tests::existing_uv`]): the
//! one-time fetch of uv itself is not timed. `STACK_RUNS` (default 1) sets how many cold and
//! warm installs of each stack are timed (the median is reported); `NOOP_RUNS` (default 10) the
//! no-op runs.
//!
//! Run with `cargo bench -p tests --bench stacks`; prints Markdown tables.

// A bench binary reports on standard output, and its progress on standard error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tests::bench::{median, ms};
use tests::mirror::{Freshness, Mirror};

/// The stacks: distribution, module to import.
const STACKS: [(&str, &str); 2] = [("jupyterlab", "jupyterlab"), ("Products.CMFPlone", "Products.CMFPlone")];

struct Bench {
    recipes: String,
    uv: PathBuf,
    /// Every directory stays until the end: deleting thousands of files just before the next
    /// run makes ext4 slow to create the next ones (see the eggs bench).
    keep: RefCell<Vec<tempfile::TempDir>>,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl Bench {
    fn fresh(&self) -> PathBuf {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().canonicalize().expect("canonical temp dir");
        self.keep.borrow_mut().push(dir);
        path
    }

    /// Runs our buildout in `dir` with the user cache `cache` and uv's cache `uv_cache`.
    fn buildout(&self, dir: &Path, args: &[&str], cache: &Path, uv_cache: &Path) -> (Duration, Output) {
        let start = Instant::now();
        let out = Command::new(tests::buildout_bin())
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env_remove("BUILDOUT_HOME")
            .env("BUILDOUT_CACHE_DIR", cache)
            .env("UV_CACHE_DIR", uv_cache)
            .env("BUILDOUT_UV", &self.uv)
            .env("BUILDOUT_RECIPE_PATH", &self.recipes)
            .output()
            .expect("run buildout");
        let elapsed = start.elapsed();
        assert!(out.status.success(), "buildout {args:?} in {}:\n{}", dir.display(), text(&out));
        (elapsed, out)
    }

    /// A cold or warm install of `stack` by our buildout into a new buildout directory; checks
    /// that the stack imports and that an offline rerun generates nothing. The time and the
    /// number of eggs.
    fn ours(&self, stack: &str, module: &str, cache: &Path, uv_cache: &Path) -> (Duration, usize) {
        let dir = self.fresh();
        let cfg = format!(
            "[buildout]\nparts = stack\n\n[stack]\nrecipe = zc.recipe.egg:scripts\neggs = {stack}\ninterpreter = py\n"
        );
        std::fs::write(dir.join("buildout.cfg"), cfg).expect("write");
        let (elapsed, _) = self.buildout(&dir, &[], cache, uv_cache);
        check_stack(&dir, module);
        let (_, again) = self.buildout(&dir, &["-o"], cache, uv_cache);
        assert!(!text(&again).contains("Generated"), "{stack}: the offline rerun generated:\n{}", text(&again));
        (elapsed, count_eggs(&dir.join("eggs")))
    }

    /// `uv pip install --target` of `stack` with the uv cache `uv_cache`.
    fn uv(&self, stack: &str, uv_cache: &Path) -> Duration {
        let target = self.fresh();
        let start = Instant::now();
        let out = Command::new(&self.uv)
            .args(["pip", "install", "--quiet", "--python", "python3", "--target"])
            .arg(&target)
            .arg(stack)
            .env("UV_CACHE_DIR", uv_cache)
            .output()
            .expect("run uv");
        let elapsed = start.elapsed();
        assert!(out.status.success(), "uv pip install {stack}:\n{}", text(&out));
        elapsed
    }

    /// zc.buildout 6.0.1 from `venv`, cold (a new HOME: pip's cache is empty too).
    fn reference(&self, venv: &Path, stack: &str) -> Duration {
        let dir = self.fresh();
        let cfg = format!(
            "[buildout]\nparts = stack\n\n[stack]\nrecipe = zc.recipe.egg:scripts\neggs = {stack}\ninterpreter = py\n"
        );
        std::fs::write(dir.join("buildout.cfg"), cfg).expect("write");
        let start = Instant::now();
        let out = Command::new(venv.join("bin/buildout"))
            .current_dir(&dir)
            .env("HOME", &dir)
            .env_remove("BUILDOUT_HOME")
            .output()
            .expect("run zc.buildout");
        let elapsed = start.elapsed();
        assert!(out.status.success(), "zc.buildout, {stack}:\n{}", text(&out));
        elapsed
    }
}

/// `bin/py -c 'import MODULE'` succeeds.
fn check_stack(dir: &Path, module: &str) {
    let out = Command::new(dir.join("bin/py")).args(["-c", &format!("import {module}")]).output().expect("bin/py");
    assert!(out.status.success(), "import {module}:\n{}", text(&out));
}

/// The egg directories under `eggs` (whatever its layout).
fn count_eggs(eggs: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(eggs) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            if e.file_name().to_string_lossy().ends_with(".egg") {
                1
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_eggs(&e.path())
            } else {
                0
            }
        })
        .sum()
}

/// The README example (`examples/zeo/buildout.cfg`) with only its egg part, and `index` when
/// given.
fn example_egg_part(index: Option<&str>) -> String {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/zeo/buildout.cfg");
    let seed = std::fs::read_to_string(seed).expect("examples/zeo/buildout.cfg");
    let mut head = String::from("[buildout]\nparts = zodb\n");
    if let Some(index) = index {
        head.push_str(&format!("index = {index}\n"));
    }
    let replaced = seed.replacen("[buildout]\nparts = zodb server\n", &head, 1);
    assert_ne!(replaced, seed, "examples/zeo/buildout.cfg starts as expected");
    replaced
}

fn progress(what: &str) {
    eprintln!("stacks: {what}");
}

fn main() {
    let recipes = tests::cargo_artifact("recipe-egg", "zc_recipe_egg");
    let bench = Bench {
        recipes: recipes.parent().expect("dir").display().to_string(),
        uv: tests::existing_uv(),
        keep: RefCell::new(Vec::new()),
    };
    let runs = env_number("STACK_RUNS", 3).max(1);
    let noop_runs = env_number("NOOP_RUNS", 10).max(1);
    let reference = std::env::var_os("REFERENCE_VENV").map(PathBuf::from);
    let uv_version = Command::new(&bench.uv).arg("--version").output().map(|o| text(&o)).unwrap_or_default();
    progress(&format!("uv: {} ({})", bench.uv.display(), uv_version.trim()));

    let mut table = String::from(
        "| stack (distributions) | buildout, cold | `uv pip install --target`, cold | buildout, warm | `uv pip install --target`, warm |",
    );
    if reference.is_some() {
        table.push_str(" zc.buildout 6.0.1, cold |\n| --- | --- | --- | --- | --- | --- |\n");
    } else {
        table.push_str("\n| --- | --- | --- | --- | --- |\n");
    }
    for (stack, module) in STACKS {
        let mut eggs = 0;
        let (mut cold, mut uv_cold, mut warm, mut uv_warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Untimed: the network path between here and PyPI (a caching proxy on the development
        // VM) serves a file it has not served before far slower; whichever tool ran first
        // would pay for it.
        progress(&format!("{stack}: priming the network path"));
        bench.uv(stack, &bench.fresh());
        for run in 0..runs {
            // Cold: both caches empty. Then warm: the same caches, a new buildout directory.
            // The tools take turns going first.
            let mut ours = || {
                let (cache, uv_cache) = (bench.fresh(), bench.fresh());
                progress(&format!("{stack}: buildout, cold ({})", run + 1));
                let (t, n) = bench.ours(stack, module, &cache, &uv_cache);
                cold.push(t);
                eggs = n;
                progress(&format!("{stack}: buildout, warm ({})", run + 1));
                warm.push(bench.ours(stack, module, &cache, &uv_cache).0);
            };
            let mut theirs = || {
                let uv_cache = bench.fresh();
                progress(&format!("{stack}: uv, cold ({})", run + 1));
                uv_cold.push(bench.uv(stack, &uv_cache));
                progress(&format!("{stack}: uv, warm ({})", run + 1));
                uv_warm.push(bench.uv(stack, &uv_cache));
            };
            if run % 2 == 0 {
                theirs();
                ours();
            } else {
                ours();
                theirs();
            }
        }
        let mut row = format!(
            "| `{stack}` ({eggs}) | {} | {} | {} | {} |",
            seconds(median(cold)),
            seconds(median(uv_cold)),
            seconds(median(warm)),
            seconds(median(uv_warm))
        );
        if let Some(venv) = &reference {
            progress(&format!("{stack}: zc.buildout, cold"));
            row.push_str(&format!(" {} |", seconds(bench.reference(venv, stack))));
        }
        progress(&row);
        table.push_str(&row);
        table.push('\n');
    }
    println!("{table}");
    let _ = std::io::stdout().flush();

    // The no-op: everything installed, default newest mode.
    println!(
        "| README example's egg part (ZEO, {} distributions), nothing changed | median | best | requests to the index per run |\n| --- | --- | --- | --- |",
        tests::zeo::projects().len()
    );
    let cache = bench.fresh();
    let uv_cache = bench.fresh();
    let noop = |dir: &Path, args: &[&str]| -> (Duration, Duration) {
        let times: Vec<Duration> = (0..noop_runs)
            .map(|_| {
                let (t, out) = bench.buildout(dir, args, &cache, &uv_cache);
                assert!(!text(&out).contains("Generated"), "a no-op run generated:\n{}", text(&out));
                t
            })
            .collect();
        let best = times.iter().min().copied().unwrap_or_default();
        (median(times), best)
    };
    for (label, freshness) in [
        ("local mirror, `Cache-Control: max-age=600` (as pypi.org)", Freshness::Fresh),
        ("local mirror, `max-age=0, must-revalidate` + `ETag`", Freshness::Stale),
    ] {
        let mirror = Mirror::of_pypi(&tests::zeo::projects(), freshness);
        let dir = bench.fresh();
        std::fs::write(dir.join("buildout.cfg"), example_egg_part(Some(&mirror.index_url()))).expect("write");
        progress(&format!("no-op: {label}: install"));
        bench.buildout(&dir, &[], &cache, &uv_cache);
        assert!(mirror.missing().is_empty(), "projects to add to the mirror: {:?}", mirror.missing());
        mirror.reset();
        let (med, best) = noop(&dir, &[]);
        let per_run = mirror.requests() as f64 / noop_runs as f64;
        let revalidated = mirror.not_modified() as f64 / noop_runs as f64;
        let requests = match freshness {
            Freshness::Fresh => {
                assert_eq!(mirror.requests(), 0, "fresh pages: {:?}", mirror.served());
                "0".to_owned()
            }
            Freshness::Stale => {
                assert_eq!(mirror.requests(), mirror.not_modified(), "only 304s: {:?}", mirror.served());
                format!("{per_run:.0} (all `304`: {revalidated:.0})")
            }
        };
        println!("| {label} | {} | {} | {requests} |", ms(med, 1), ms(best, 1));
        let _ = std::io::stdout().flush();
    }
    let dir = bench.fresh();
    std::fs::write(dir.join("buildout.cfg"), example_egg_part(None)).expect("write");
    progress("no-op: PyPI: install");
    bench.buildout(&dir, &[], &cache, &uv_cache);
    let (med, best) = noop(&dir, &[]);
    println!(
        "| pypi.org through this sandbox's proxy (no cache headers: every page fetched again) | {} | {} | {} (all `200`) |",
        ms(med, 1),
        ms(best, 1),
        tests::zeo::projects().len()
    );
    let (med, best) = noop(&dir, &["-o"]);
    println!("| offline (`-o`), for reference | {} | {} | 0 |", ms(med, 1), ms(best, 1));
}
