//! Install-engine hot paths, timed through the real binary (process start included):
//! a no-op run of a seed-sized buildout, installing 100 and 1000 cross-referencing parts, a
//! 1000-part no-op run, and a no-op run whose parts use 10 different recipe libraries (checking
//! that each library is loaded once). Also finding + loading + constructing one recipe in
//! process.
//!
//! Run with `cargo bench -p tests --bench engine`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use buildout_core::abi::HostService;
use buildout_core::abi::wire;
use buildout_core::loader::{Loader, library_file_name};

fn recipe_dir() -> PathBuf {
    tests::cargo_artifact("buildout-testrecipes", "buildout_testrecipes").parent().expect("dir").to_path_buf()
}

fn buildout(dir: &Path, args: &[&str], recipes: &str) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(tests::buildout_bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("BUILDOUT_RECIPE_PATH", recipes)
        .output()
        .expect("run buildout");
    let elapsed = start.elapsed();
    assert!(out.status.success(), "buildout {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    (elapsed, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[0])
}

fn ms(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

/// `n` mkdir parts, each referencing the previous one's path; `libraries` distributions are used
/// round-robin.
fn config(n: usize, libraries: &[String]) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let mut text = format!("[buildout]\nparts = {}\n", names.join(" "));
    for (i, name) in names.iter().enumerate() {
        let dist = &libraries[i % libraries.len()];
        let after = if i == 0 { String::new() } else { format!("after = ${{p{}:path}}\n", i - 1) };
        text.push_str(&format!("\n[{name}]\nrecipe = {dist}:mkdir\npath = d/{name}\n{after}"));
    }
    text
}

fn fresh(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("buildout.cfg"), text).expect("write config");
    dir
}

fn install_time(n: usize, recipes: &str, runs: usize) -> (Duration, Duration) {
    let libs = vec!["buildout.testrecipes".to_owned()];
    // Every run's directory is kept until the end: creating directories right after deleting
    // the previous run's is slow on ext4 (it checks recently deleted inodes), which would time
    // the deletion rather than the install.
    let mut keep = Vec::new();
    let times = (0..runs)
        .map(|_| {
            let dir = fresh(&config(n, &libs));
            // Directories the first run would create are not what is measured.
            buildout(dir.path(), &["-U", "bootstrap"], recipes);
            let took = buildout(dir.path(), &["-U"], recipes).0;
            keep.push(dir);
            took
        })
        .collect();
    median(times)
}

fn noop_time(dir: &Path, recipes: &str, runs: usize) -> (Duration, Duration) {
    buildout(dir, &["-U"], recipes);
    median((0..runs).map(|_| buildout(dir, &["-U"], recipes).0).collect())
}

/// Builds the test recipe library under ten distribution names.
fn ten_libraries() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-libraries");
    let mut names = Vec::new();
    for i in 0..10 {
        let dist = format!("bench.library{i}");
        let out = Command::new(&cargo)
            // An rlib to cargo (see `tests::cargo_artifact`): built as a cdylib here.
            .args(["rustc", "--release", "--quiet", "-p", "buildout-testrecipes", "--lib", "--crate-type", "cdylib"])
            .arg("--target-dir")
            .arg(&target)
            .env("BUILDOUT_TESTRECIPES_DIST", &dist)
            .output()
            .expect("run cargo");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let built = target.join("release").join(library_file_name("buildout_testrecipes"));
        std::fs::copy(&built, dir.path().join(library_file_name(&dist))).expect("copy library");
        names.push(dist);
    }
    (dir, names)
}

struct NoHost;

impl HostService for NoHost {
    fn call(&self, _method: &str, _payload: &str) -> Result<String, String> {
        Ok(String::new())
    }
}

fn main() {
    let recipes = recipe_dir();
    let recipes_path = recipes.display().to_string();
    println!("| scenario | median | best |\n| --- | --- | --- |");

    // Finding, loading and constructing one recipe, in process (each library loads once per
    // process, so the first construction of each is the cold case).
    let start = Instant::now();
    let mut loader = Loader::new(vec![recipes.clone()]);
    let (lib, entry) = loader.entry("buildout.testrecipes:options").expect("loads");
    let request = wire::Construct { entry, part: "p".into(), ..wire::Construct::default() };
    lib.construct(&NoHost, &request).expect("constructs");
    println!("| find + load + construct one recipe (in process, cold) | {} | |", ms(start.elapsed()));
    let warm = median(
        (0..200)
            .map(|_| {
                let start = Instant::now();
                let (lib, entry) = loader.entry("buildout.testrecipes:options").expect("loads");
                let request = wire::Construct { entry, part: "p".into(), ..wire::Construct::default() };
                lib.construct(&NoHost, &request).expect("constructs");
                start.elapsed()
            })
            .collect(),
    );
    println!("| find + construct one recipe (in process, library loaded) | {} | {} |", ms(warm.0), ms(warm.1));

    let seed = fresh(&config(2, &["buildout.testrecipes".to_owned()]));
    let (m, b) = noop_time(seed.path(), &recipes_path, 40);
    println!("| no-op run, seed-sized buildout (2 parts) | {} | {} |", ms(m), ms(b));

    let (m100, b100) = install_time(100, &recipes_path, 5);
    println!("| install 100 cross-referencing parts | {} | {} |", ms(m100), ms(b100));
    let (m1000, b1000) = install_time(1000, &recipes_path, 3);
    println!("| install 1000 cross-referencing parts | {} | {} |", ms(m1000), ms(b1000));
    println!("| install time ratio 1000 / 100 parts | {:.1}× | |", m1000.as_secs_f64() / m100.as_secs_f64());

    let big = fresh(&config(1000, &["buildout.testrecipes".to_owned()]));
    let (m, b) = noop_time(big.path(), &recipes_path, 10);
    println!("| no-op run, 1000 parts | {} | {} |", ms(m), ms(b));

    let (libdir, names) = ten_libraries();
    let ten = fresh(&config(20, &names));
    let libs_path = libdir.path().display().to_string();
    let (m, b) = noop_time(ten.path(), &libs_path, 20);
    let (_, trace) = buildout(ten.path(), &["-U", "-vvv"], &libs_path);
    let loads = trace.lines().filter(|l| l.starts_with("Loaded bench.library")).count();
    assert_eq!(loads, 10, "each of the 10 libraries is loaded once:\n{trace}");
    println!("| no-op run, 20 parts using 10 recipe libraries (each loaded once) | {} | {} |", ms(m), ms(b));
}
