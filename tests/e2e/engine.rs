//! The install engine through the real binary and the test recipe library: convergence after
//! failures, panics and kills, and two runs at once.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::{Outcome, buildout_bin, recipe_env, run_buildout, scratch};

fn run(dir: &Path, args: &[&str]) -> Outcome {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    run_buildout(dir, &args, &recipe_env())
}

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("buildout.cfg"), text).expect("write buildout.cfg");
}

/// `n` mkdir parts, each referencing the previous one.
fn chain(n: usize) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("p{i:02}")).collect();
    let mut text = format!("[buildout]\nparts = {}\n", names.join(" "));
    for (i, name) in names.iter().enumerate() {
        let after = if i == 0 { String::new() } else { format!("after = ${{{}:path}}\n", names[i - 1]) };
        text.push_str(&format!("\n[{name}]\nrecipe = buildout.testrecipes:mkdir\npath = d/{name}\n{after}"));
    }
    text
}

fn installed(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".installed.cfg")).unwrap_or_default()
}

fn installed_parts(dir: &Path) -> Vec<String> {
    installed(dir)
        .lines()
        .find_map(|l| l.strip_prefix("parts = "))
        .map(|p| p.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn install_noop_change_remove_and_repair() {
    let (_t, dir) = scratch();
    write_config(&dir, &chain(3));
    let first = run(&dir, &["-U"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert!(
        first.stdout.contains("Installing p00.\np00: Creating directory {DIR}/d/p00\nInstalling p01."),
        "{}",
        first.stdout
    );
    let before = installed(&dir);

    // A no-op run updates everything and does not touch .installed.cfg.
    let noop = run(&dir, &["-U"]);
    assert_eq!(noop.stdout, "Updating p00.\nUpdating p01.\nUpdating p02.\n");
    assert_eq!(installed(&dir), before, "a no-op run leaves .installed.cfg as it was");

    // Files deleted by hand: that part is reinstalled.
    std::fs::remove_dir_all(dir.join("d/p01")).expect("remove");
    let repair = run(&dir, &["-U"]);
    assert!(
        repair
            .stdout
            .contains("Uninstalling p01.\nRunning uninstall recipe.\np01: Uninstalling directory {DIR}/d/p01\n"),
        "{}",
        repair.stdout
    );
    assert!(dir.join("d/p01").is_dir());

    // Removing a part from `parts` uninstalls it and removes exactly its files.
    write_config(&dir, &chain(3).replace("parts = p00 p01 p02", "parts = p00 p01"));
    let removed = run(&dir, &["-U"]);
    assert!(removed.stdout.starts_with("Uninstalling p02.\n"), "{}", removed.stdout);
    assert!(!dir.join("d/p02").exists() && dir.join("d/p01").is_dir());
    assert_eq!(installed_parts(&dir), ["p00", "p01"]);

    // Nothing left to install: .installed.cfg goes away.
    write_config(&dir, "[buildout]\nparts =\n");
    assert_eq!(run(&dir, &["-U"]).status, 0);
    assert!(!dir.join(".installed.cfg").exists() && !dir.join("d/p00").exists());
}

#[test]
fn failure_midway_keeps_finished_parts_and_recovers() {
    let (_t, dir) = scratch();
    let config = "[buildout]\nparts = a bad c\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = a\n\n\
                  [bad]\nrecipe = buildout.testrecipes:fail\nfail-in = install\npath = bad\n\n\
                  [c]\nrecipe = buildout.testrecipes:mkdir\npath = c\n";
    write_config(&dir, config);
    let failed = run(&dir, &["-U"]);
    assert_eq!(failed.status, 1);
    assert_eq!(failed.stderr, "While:\n  Installing bad.\nError: install failed as asked\n");
    assert!(dir.join("a").is_dir(), "the finished part stays");
    assert!(!dir.join("bad").exists(), "the failing part's created directory is rolled back");
    assert!(!dir.join("c").exists(), "later parts are not attempted");
    assert_eq!(installed_parts(&dir), ["a"]);

    write_config(&dir, &config.replace("fail-in = install", "fail-in = never"));
    let recovered = run(&dir, &["-U"]);
    assert_eq!(recovered.status, 0, "{}", recovered.stderr);
    assert!(recovered.stdout.starts_with("Updating a.\nInstalling bad.\nInstalling c.\n"), "{}", recovered.stdout);
    assert_eq!(installed_parts(&dir), ["a", "bad", "c"]);
}

#[test]
fn a_panicking_recipe_stops_the_run_cleanly() {
    let (_t, dir) = scratch();
    let config = "[buildout]\nparts = a p\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = a\n\n\
                  [p]\nrecipe = buildout.testrecipes:panic\npanic-in = install\npath = p\n";
    write_config(&dir, config);
    let out = run(&dir, &["-U"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "While:\n  Installing p.\nError: The recipe of part p panicked: install panicked as asked\n"
    );
    assert_eq!(installed_parts(&dir), ["a"], "the state of finished parts is kept");
    assert!(!dir.join("p").exists());

    let debug = run(&dir, &["-U", "-D"]);
    assert!(debug.stderr.contains("Detail: install panicked as asked at "), "{}", debug.stderr);

    write_config(&dir, &config.replace("panic-in = install", "panic-in = construct"));
    let out = run(&dir, &["-U"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "While:\n  Installing.\n  Getting section p.\n  Initializing section p.\nError: The recipe of part p panicked: construct panicked as asked\n"
    );
}

fn spawn_held(dir: &Path, part: &str, signal: &Path) -> Child {
    let mut cmd = Command::new(buildout_bin());
    cmd.arg("-U")
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("BUILDOUT_TESTRECIPES_HOLD", format!("{part}:{}", signal.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in recipe_env() {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn buildout")
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {}", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills guard: a child that is still running when the test ends (or fails) is killed.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn kill_at_every_step_then_converge() {
    let n = 20;
    for k in 0..n {
        let (_t, dir) = scratch();
        write_config(&dir, &chain(n));
        let signal = dir.join("signal");
        std::fs::create_dir_all(&signal).expect("mkdir");
        let part = format!("p{k:02}");
        let mut child = Reap(Some(spawn_held(&dir, &part, &signal)));
        wait_for(&signal.join("held"));
        if let Some(c) = &mut child.0 {
            c.kill().expect("kill -9");
            c.wait().expect("reap");
        }
        child.0 = None;

        // Every part finished before the kill is recorded (through the journal).
        let finished: Vec<String> = (0..k).map(|i| format!("p{i:02}")).collect();
        let again = run(&dir, &["-U"]);
        assert_eq!(again.status, 0, "after a kill at {part}: {}", again.stderr);
        for name in &finished {
            assert!(
                again.stdout.contains(&format!("Updating {name}.")),
                "after a kill at {part}, {name} is kept: {}",
                again.stdout
            );
        }
        assert!(again.stdout.contains(&format!("Installing {part}.")), "{}", again.stdout);
        let all: Vec<String> = (0..n).map(|i| format!("p{i:02}")).collect();
        assert_eq!(installed_parts(&dir), all, "after a kill at {part}");
        assert!(!dir.join(".installed.cfg.journal").exists());
        let noop = run(&dir, &["-U"]);
        assert!(!noop.stdout.contains("Installing"), "converged: {}", noop.stdout);
    }
}

#[test]
fn a_second_run_waits_for_the_first() {
    let (_t, dir) = scratch();
    write_config(&dir, &chain(3));
    let signal = dir.join("signal");
    std::fs::create_dir_all(&signal).expect("mkdir");
    let mut first = Reap(Some(spawn_held(&dir, "p01", &signal)));
    wait_for(&signal.join("held"));

    let mut second = Command::new(buildout_bin());
    second.arg("-U").current_dir(&dir).env("HOME", dir.join("home")).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in recipe_env() {
        second.env(k, v);
    }
    let mut second = Reap(Some(second.spawn().expect("spawn the second run")));
    // The second run must be blocked on the lock, not racing.
    std::thread::sleep(Duration::from_millis(300));
    if let Some(c) = &mut second.0 {
        assert!(c.try_wait().expect("poll").is_none(), "the second run waits");
    }
    std::fs::write(signal.join("release"), "").expect("release");
    let first = first.0.take().expect("child").wait_with_output().expect("first finishes");
    let second = second.0.take().expect("child").wait_with_output().expect("second finishes");
    assert!(first.status.success() && second.status.success());
    let second_err = String::from_utf8_lossy(&second.stderr);
    assert!(second_err.contains("Another buildout is running in"), "{second_err}");
    let second_out = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second_out, "Updating p00.\nUpdating p01.\nUpdating p02.\n", "the second run sees the first one's work");
}

#[test]
fn uninstall_refuses_paths_no_part_could_own() {
    let (_t, dir) = scratch();
    write_config(&dir, "[buildout]\nparts =\n");
    assert_eq!(run(&dir, &["-U"]).status, 0);
    let record = format!(
        "[buildout]\ninstalled_develop_eggs = \nparts = evil\n\n[evil]\n__buildout_installed__ = {}\n\t/\n\t/usr\n__buildout_signature__ = x\nrecipe = buildout.testrecipes:files\n",
        dir.display()
    );
    std::fs::write(dir.join(".installed.cfg"), record).expect("write");
    let out = run(&dir, &["-U"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Uninstalling evil.\nNot removing '{DIR}' recorded for evil: it is the buildout directory or one that contains it."), "{}", out.stdout);
    assert!(out.stdout.contains("Not removing '/' recorded for evil: it is the filesystem root."), "{}", out.stdout);
    assert!(
        out.stdout.contains("Not removing '/usr' recorded for evil: it is a top-level system directory."),
        "{}",
        out.stdout
    );
    assert!(dir.join("buildout.cfg").exists());
}

/// `.installed.cfg` written before part signatures were stable hashes (a recipe library in
/// `develop-eggs` was signed with `DefaultHasher`, whose output may change with any Rust
/// release) is read without reinstalling anything, and rewritten with the stable signature.
#[test]
fn legacy_signatures_are_taken_over_without_reinstalling() {
    use std::hash::{Hash, Hasher};
    let (_t, dir) = scratch();
    let lib = tests::cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    std::fs::create_dir_all(dir.join("develop-eggs")).expect("mkdir");
    let copy = dir.join("develop-eggs").join(lib.file_name().expect("file name"));
    std::fs::copy(&lib, &copy).expect("copy");
    // A library in develop-eggs is signed by its content.
    write_config(
        &dir,
        "[buildout]\nrecipe-path = develop-eggs\nparts = a\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = made\n",
    );
    let first = run(&dir, &[]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let stable = installed(&dir);
    let signature =
        stable.lines().find_map(|l| l.strip_prefix("__buildout_signature__ = ")).expect("signed").to_owned();
    let digits = signature.strip_prefix("buildout.testrecipes-").expect("dist-hash").to_owned();
    assert_eq!(digits.len(), 16, "{signature}");

    // What the release before wrote for the same library.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(&copy).expect("read").hash(&mut h);
    let legacy = format!("buildout.testrecipes-{:016x}", h.finish());
    assert_ne!(legacy, signature);
    std::fs::write(dir.join(".installed.cfg"), stable.replace(&signature, &legacy)).expect("write");

    let again = run(&dir, &[]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(again.stdout.contains("Updating a."), "{}", again.stdout);
    assert!(!again.stdout.contains("Uninstalling") && !again.stdout.contains("Installing a."), "{}", again.stdout);
    assert_eq!(installed(&dir), stable, "rewritten with the stable signature");
}

/// `buildout plan` says what an install would do and why, in words (and `--json`), and creates,
/// changes and records nothing; at `-v` a real run logs the same words before acting.
#[test]
fn plan_says_what_install_would_do() {
    let (_t, dir) = scratch();
    let listing = tests::names_in;
    write_config(&dir, &chain(2));
    // (step, arguments, expected output)
    let first = run(&dir, &["plan"]);
    assert_eq!(
        (first.status, first.stdout.as_str()),
        (0, "Install p00: not installed yet.\nInstall p01: not installed yet.\n")
    );
    assert_eq!(listing(&dir), ["buildout.cfg"], "nothing is created: {}", first.stderr);

    assert_eq!(run(&dir, &[]).status, 0);
    let recorded = installed(&dir);
    write_config(&dir, &chain(2).replace("path = d/p01", "path = d/other"));
    let cases: [(&[&str], &str); 4] = [
        (
            &["plan"],
            "Uninstall p01: option path changed.\nUpdate p00: options unchanged.\nInstall p01: option path changed.\n",
        ),
        (&["plan", "p00"], "Update p00: options unchanged.\n"),
        (
            &["plan", "--json", "p01"],
            r#"{"steps":[{"part":"p01","action":"uninstall","reasons":[{"reason":"options-changed","changed":["path"],"added":[],"removed":[]}]},{"part":"p01","action":"install","reasons":[{"reason":"options-changed","changed":["path"],"added":[],"removed":[]}]}]}
"#,
        ),
        (
            &["-v", "plan", "--json", "p00"],
            "{\"steps\":[{\"part\":\"p00\",\"action\":\"update\",\"reasons\":[{\"reason\":\"unchanged\"}]}]}\n",
        ),
    ];
    for (args, expected) in cases {
        let out = run(&dir, args);
        assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{args:?}: {}", out.stderr);
        assert_eq!(installed(&dir), recorded, "{args:?} recorded something");
    }
    let real = run(&dir, &["-v"]);
    assert!(
        real.stdout.contains("Plan: Uninstall p01: option path changed.\nPlan: Update p00: options unchanged.\nPlan: Install p01: option path changed.\n"),
        "{}",
        real.stdout
    );
    let bad = run(&dir, &["plan", "--yaml"]);
    assert_eq!(bad.status, 1);
    assert!(bad.stderr.contains("Error: Invalid option for the plan command: --yaml"), "{}", bad.stderr);
}

/// `extensions =` is never silently ignored: an install (and a plan) stops with one line naming
/// the extension, before anything is created; commands that only read the configuration work.
#[test]
fn extensions_stop_the_run_with_one_line() {
    let (_t, dir) = scratch();
    write_config(
        &dir,
        &format!(
            "[buildout]\nextensions =\n    mr.developer\n    buildout.sanitycheck\n{}",
            &chain(1)["[buildout]\n".len()..]
        ),
    );
    for command in [&[][..], &["plan"][..]] {
        let out = run(&dir, command);
        assert_eq!(out.status, 1, "{command:?}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            "While:\n  Installing.\n  Loading extensions.\nError: The extension buildout.sanitycheck is not supported: \
             buildout runs no zc.buildout extensions (mr.developer is done natively); remove it from [buildout] \
             extensions\n",
            "{command:?}"
        );
        assert!(!dir.join("parts").exists() && !dir.join("d").exists(), "{command:?}: nothing was made");
    }
    let annotated = run(&dir, &["annotate", "buildout"]);
    assert_eq!(annotated.status, 0, "{}", annotated.stderr);
    assert!(annotated.stdout.contains("buildout.sanitycheck"), "{}", annotated.stdout);

    // The two whose work zc.buildout took over get its own words, before any other is named.
    for superseded in ["buildout-versions", "buildout.dumppickedversions"] {
        write_config(
            &dir,
            &format!(
                "[buildout]\nextensions = buildout.sanitycheck {superseded}\n{}",
                &chain(1)["[buildout]\n".len()..]
            ),
        );
        let out = run(&dir, &[]);
        assert_eq!(out.status, 1, "{superseded}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            "While:\n  Installing.\n  Loading extensions.\nError: Buildout now includes 'buildout-versions' (and part \
             of the older 'buildout.dumppickedversions').\nRemove the extension from your configuration and look at \
             the 'show-picked-versions' option in buildout's documentation.\n",
            "{superseded}"
        );
    }
}
