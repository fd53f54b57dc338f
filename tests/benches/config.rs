//! Configuration hot paths: `buildout annotate` / `buildout resolve` wall time (process start
//! included) on the seed configuration and on a generated 1000-part chain, plus in-process
//! evaluation at 1000 and 10000 parts to show it stays linear.
//!
//! Run with `cargo bench -p tests --bench config`; prints a Markdown table.

// A bench binary reports on standard output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use buildout_core::config::{Buildout, Environment, LoadOptions, Startup, render};
use buildout_core::log::Silent;

const RUNS: usize = 60;

/// A chain of `n` parts, each referencing the previous one (so evaluating the last evaluates
/// all), with values that do not grow along the chain.
fn chain_config(n: usize) -> String {
    let mut text = String::from("[buildout]\nparts =");
    for i in 0..n {
        text.push_str(&format!(" p{i}"));
    }
    text.push('\n');
    for i in 0..n {
        let previous = if i == 0 { "${buildout:directory}".to_owned() } else { format!("${{p{}:path}}", i - 1) };
        text.push_str(&format!(
            "\n[p{i}]\npath = ${{buildout:directory}}/${{:name}}\nafter = {previous}\nname = ${{:_buildout_section_name_}}\nlist =\n    a\n    b ${{:name}}\n"
        ));
    }
    text
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[0])
}

fn time_command(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let bin = tests::buildout_bin();
    let run = || {
        let start = Instant::now();
        let status = Command::new(&bin).args(args).current_dir(dir).env("HOME", dir).output().expect("run buildout");
        assert!(status.status.success(), "buildout {args:?} failed: {}", String::from_utf8_lossy(&status.stderr));
        start.elapsed()
    };
    for _ in 0..5 {
        run();
    }
    stats((0..RUNS).map(|_| run()).collect())
}

fn time_in_process(dir: &Path, repeat: usize) -> (Duration, Duration) {
    let opts = LoadOptions {
        config_file: "buildout.cfg".into(),
        cwd: dir.to_string_lossy().into_owned(),
        user_config: None,
        use_user_defaults: false,
        home: None,
        assignments: Vec::new(),
        executable: "/usr/bin/python3".into(),
    };
    let run = || {
        let start = Instant::now();
        let mut b = Buildout::load(&opts, Environment::current(), &Silent, Startup::ReadOnly).expect("loads");
        let (text, ok) = render::resolve(&mut b, &[]);
        assert!(ok && !text.is_empty());
        start.elapsed()
    };
    stats((0..repeat).map(|_| run()).collect())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let seed = tempfile::tempdir().expect("temp dir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/zeo/buildout.cfg");
    std::fs::copy(&example, seed.path().join("buildout.cfg")).expect("copy the example configuration");
    let chain = tempfile::tempdir().expect("temp dir");
    std::fs::write(chain.path().join("buildout.cfg"), chain_config(1000)).expect("write chain");
    let big = tempfile::tempdir().expect("temp dir");
    std::fs::write(big.path().join("buildout.cfg"), chain_config(10_000)).expect("write chain");

    println!("| scenario | median | best |\n| --- | --- | --- |");
    for (name, dir, args) in [
        ("`buildout annotate`, seed config", seed.path(), &["annotate"][..]),
        ("`buildout resolve`, seed config", seed.path(), &["resolve"][..]),
        ("`buildout annotate`, 1000-part chain", chain.path(), &["annotate"][..]),
        ("`buildout resolve`, 1000-part chain", chain.path(), &["resolve"][..]),
    ] {
        let (median, best) = time_command(dir, args);
        println!("| {name} | {} | {} |", ms(median), ms(best));
    }
    for (name, dir, repeat) in [
        ("load + resolve in process, 1000 parts", chain.path(), 30),
        ("load + resolve in process, 10000 parts", big.path(), 5),
    ] {
        let (median, best) = time_in_process(dir, repeat);
        println!("| {name} | {} | {} |", ms(median), ms(best));
    }
}
