//! Ctrl-C and SIGTERM: an installer hanging on an index that never answers is stopped with its
//! whole process group, nothing temporary is left, the run ends with one line and 130 / 143, and
//! `.installed.cfg` keeps what it had; between parts the run stops as a failure would; a run
//! that does not stop is ended by the watchdog; what a `kill -9` left is removed by the next run.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tests::{buildout_bin, cargo_artifact, run_buildout, scratch};

/// Both recipe libraries: `zc.recipe.egg` and the test recipes.
fn recipe_env() -> Vec<(String, String)> {
    let dirs: Vec<String> =
        [cargo_artifact("recipe-egg", "zc_recipe_egg"), cargo_artifact("buildout-testrecipes", "buildout_testrecipes")]
            .iter()
            .map(|lib| lib.parent().expect("artifact directory").display().to_string())
            .collect();
    vec![("BUILDOUT_RECIPE_PATH".into(), dirs.join(":"))]
}

/// Everything a run writes stays in `dir`: the user cache, pip's cache and temporary files.
fn env(dir: &Path) -> Vec<(String, String)> {
    let _ = std::fs::create_dir_all(dir.join("tmp"));
    let mut env = recipe_env();
    for (k, sub) in [
        ("BUILDOUT_CACHE_DIR", "cache"),
        ("PIP_CACHE_DIR", "pip-cache"),
        ("UV_CACHE_DIR", "uv-cache"),
        ("TMPDIR", "tmp"),
    ] {
        env.push((k.into(), dir.join(sub).display().to_string()));
    }
    env.push(("BUILDOUT_UV".into(), tests::uv_binary().display().to_string()));
    env.push(("PIP_CONFIG_FILE".into(), "/dev/null".into()));
    env
}

fn line(signal: &str) -> String {
    format!("Error: Interrupted by {signal}: stopped, and nothing recorded in .installed.cfg was lost.\n")
}

/// An index that accepts connections and never answers; it stops when dropped.
struct SilentIndex {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentIndex {
    fn start() -> SilentIndex {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("address").port();
        let (accepted, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Connections are held open, unanswered, until the end.
            let mut open = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        open.push(stream);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentIndex { port, accepted, stop, thread: Some(thread) }
    }
}

impl Drop for SilentIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running `buildout`, killed (with the process groups it started) if the test ends first.
struct Running {
    child: Child,
    groups: Vec<i32>,
}

impl Running {
    fn spawn(dir: &Path, env: &[(String, String)], extra: &[(&str, String)]) -> Running {
        let mut cmd = Command::new(buildout_bin());
        cmd.current_dir(dir)
            .env("HOME", dir.join("home"))
            .env("LANG", "C.UTF-8")
            .env_remove("BUILDOUT_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.envs(extra.iter().map(|(k, v)| (k, v)));
        Running { child: cmd.spawn().expect("spawn buildout"), groups: Vec::new() }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{name}");
    }

    /// Waits (at most `limit`) for the end: the exit code, standard error, and how long it took.
    fn finish(&mut self, limit: Duration) -> (Option<i32>, String, String, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut out = (String::new(), String::new());
                if let Some(s) = &mut self.child.stdout {
                    let _ = s.read_to_string(&mut out.0);
                }
                if let Some(s) = &mut self.child.stderr {
                    let _ = s.read_to_string(&mut out.1);
                }
                return (status.code(), out.0, out.1, start.elapsed());
            }
            assert!(start.elapsed() < limit, "buildout still runs after {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for group in &self.groups {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
        }
    }
}

/// Live processes (zombies are dead) from `/proc`: (pid, parent, process group, command line).
fn processes() -> Vec<(i32, i32, i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid pgrp ...`: the command name may hold spaces and parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, f)| f.split_whitespace().collect()).unwrap_or_default();
        if fields.len() < 3 || fields[0] == "Z" {
            continue;
        }
        let (Ok(parent), Ok(group)) = (fields[1].parse(), fields[2].parse()) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        out.push((pid, parent, group, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    out
}

/// Names in `dir` that a run stages work under.
fn staging(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).into_iter().flatten().flatten();
    names
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".unpacking-") || n.starts_with(".linking-") || n.starts_with(".download-"))
        .collect()
}

fn eggs_config(port: u16) -> String {
    format!(
        "[buildout]\nparts = first eggs\n\n[first]\nrecipe = buildout.testrecipes:mkdir\npath = first\n\n\
         [eggs]\nrecipe = zc.recipe.egg:scripts\neggs = nosuchdist-interrupt-test\nindex = http://127.0.0.1:{port}/simple\n\
         find-links =\n"
    )
}

/// The installer hangs on the index; `signal` stops the run with `status`.
fn installer_is_stopped(signal: &str, status: i32) {
    let (_t, dir) = scratch();
    let env = env(&dir);
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = first\n\n[first]\nrecipe = buildout.testrecipes:mkdir\npath = first\n",
    )
    .expect("write");
    let first = run_buildout(&dir, &[], &env);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");

    let index = SilentIndex::start();
    std::fs::write(dir.join("buildout.cfg"), eggs_config(index.port)).expect("write");
    let mut run = Running::spawn(&dir, &env, &[]);
    // The installer is started, in its own process group, and waits for the index.
    let start = Instant::now();
    let installer = loop {
        // uv resolves (pip where there is no uv); either waits for the silent index.
        let found = processes()
            .into_iter()
            .find(|(_, parent, _, cmd)| *parent == run.pid() && (cmd.contains("uv") || cmd.contains("pip")));
        if let Some(p) = found.filter(|_| index.accepted.load(Ordering::SeqCst) > 0) {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no installer asked the index");
        std::thread::sleep(Duration::from_millis(20));
    };
    let group = installer.2;
    run.groups.push(group);
    assert_eq!(group, installer.0, "the installer leads its own process group");
    assert_ne!(group, run.pid());
    std::thread::sleep(Duration::from_millis(300));

    run.signal(&signal[3..]);
    let (code, _stdout, stderr, took) = run.finish(Duration::from_secs(15));
    assert_eq!(code, Some(status), "{stderr}");
    assert_eq!(stderr, line(signal));
    assert!(took < Duration::from_millis(4500), "stopped by the run itself, not the watchdog: {took:?}");
    // A signal is delivered asynchronously: the last of the group may take a moment to die.
    let left = || processes().into_iter().filter(|p| p.2 == group).collect::<Vec<_>>();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !left().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(left(), [], "nothing is left of the installer's process group");
    // Gone: its id may be reused, and must not be killed at the end.
    run.groups.clear();
    assert_eq!(std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg"), installed);
    assert!(!dir.join(".installed.cfg.journal").exists());
    assert_eq!(staging(&dir.join("eggs/v5")), Vec::<String>::new());
    let tmp: Vec<_> = std::fs::read_dir(dir.join("tmp")).expect("tmp").flatten().map(|e| e.path()).collect();
    assert_eq!(tmp, Vec::<PathBuf>::new(), "temporary constraint and report files are removed");
}

#[test]
fn sigterm_stops_a_hanging_installer() {
    installer_is_stopped("SIGTERM", 143);
}

#[test]
fn sigint_stops_a_hanging_installer() {
    installer_is_stopped("SIGINT", 130);
}

fn chain_config() -> &'static str {
    "[buildout]\nparts = a b c\n\n[a]\nrecipe = buildout.testrecipes:mkdir\npath = a\n\n\
     [b]\nrecipe = buildout.testrecipes:mkdir\npath = b\n\n[c]\nrecipe = buildout.testrecipes:mkdir\npath = c\n"
}

/// Waits for the test recipe to hold part `b` (see the test recipes' documentation).
fn hold_b(dir: &Path) -> Running {
    let held = dir.join("held");
    std::fs::create_dir_all(&held).expect("mkdir");
    std::fs::write(dir.join("buildout.cfg"), chain_config()).expect("write");
    let run = Running::spawn(dir, &env(dir), &[("BUILDOUT_TESTRECIPES_HOLD", format!("b:{}", held.display()))]);
    let start = Instant::now();
    while !held.join("held").exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "part b is never held");
        std::thread::sleep(Duration::from_millis(10));
    }
    run
}

/// A signal during a part that finishes anyway: the run stops before the next part, with the
/// finished parts recorded.
#[test]
fn the_run_stops_between_parts() {
    let (_t, dir) = scratch();
    let mut run = hold_b(&dir);
    run.signal("TERM");
    std::fs::write(dir.join("held/release"), "").expect("release");
    let (code, stdout, stderr, took) = run.finish(Duration::from_secs(15));
    assert_eq!((code, stderr.as_str()), (Some(143), line("SIGTERM").as_str()), "{stdout}");
    assert!(took < Duration::from_millis(4500), "{took:?}");
    assert!(!stdout.contains("Installing c."), "{stdout}");
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");
    assert!(installed.contains("parts = a b\n"), "{installed}");
    assert!(!dir.join("c").exists());
}

/// A part that does not notice the signal: the watchdog ends the run after its grace period;
/// the next run finds everything the journal kept.
#[test]
fn the_watchdog_ends_a_run_that_does_not_stop() {
    let (_t, dir) = scratch();
    let mut run = hold_b(&dir);
    run.signal("TERM");
    let (code, _, stderr, took) = run.finish(Duration::from_secs(20));
    assert_eq!((code, stderr.as_str()), (Some(143), line("SIGTERM").as_str()));
    assert!(took >= Duration::from_millis(4500), "after the grace period: {took:?}");
    let again = run_buildout(&dir, &[], &env(&dir));
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(again.stdout.contains("Updating a.\n"), "a stayed recorded: {}", again.stdout);
}

/// A second Ctrl-C ends the run at once.
#[test]
fn a_second_signal_ends_the_run_at_once() {
    let (_t, dir) = scratch();
    let mut run = hold_b(&dir);
    run.signal("INT");
    std::thread::sleep(Duration::from_millis(200));
    run.signal("INT");
    let (code, _, stderr, took) = run.finish(Duration::from_secs(20));
    assert_eq!((code, stderr.as_str()), (Some(130), line("SIGINT").as_str()));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// What a `kill -9` left in the eggs directory is removed by the next run that uses eggs; what
/// a live process is working on stays.
#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    let handmade = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/egg/dists/handmade");
    let (_t, dir) = scratch();
    let eggs = dir.join("eggs/v5");
    let dead = eggs.join(".unpacking-999999999-abc");
    let live = eggs.join(format!(".unpacking-{}-x", std::process::id()));
    for d in [&dead, &live] {
        std::fs::create_dir_all(d.join("pkg")).expect("mkdir");
        std::fs::write(d.join("pkg/partial.py"), "").expect("write");
    }
    let cfg = format!(
        "[buildout]\nparts = demo\nfind-links = {}\nindex = file:///nonexistent\n\n[demo]\nrecipe = zc.recipe.egg\neggs = newpy\n",
        handmade.display()
    );
    std::fs::write(dir.join("buildout.cfg"), cfg).expect("write");
    let out = run_buildout(&dir, &["-N".into()], &env(&dir));
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(!dead.exists(), "a dead run's leftover is removed");
    assert!(live.join("pkg/partial.py").exists(), "a live run's work is kept");
    assert_eq!(staging(&eggs), [live.file_name().expect("name").to_string_lossy().into_owned()]);
}
