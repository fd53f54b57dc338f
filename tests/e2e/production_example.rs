//! The README's production walk-through, run as written: every line of its block, in order, in
//! a copy of `examples/production` (on a free port, with ZEO's cached wheels and pins in place
//! of PyPI), each line checked for what it should have done. The server is stopped even when
//! the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::zeo::{free_port, wait_for_lines};
use tests::{buildout_bin, cargo_artifact, scratch, uv_binary, workspace_root};

/// The README's comment that introduces the walk-through's block.
const MARKER: &str = "<!-- tests/e2e/production_example.rs runs every line of this block";

/// The lines of the README's walk-through.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let at = readme.find(MARKER).expect("the walk-through's marker in README.md");
    let block = readme[at..].split_once("```sh\n").expect("the walk-through's block").1;
    let block = block.split_once("```").expect("the end of the walk-through's block").0;
    block.lines().map(str::to_owned).collect()
}

/// Runs `line` with bash in `dir` (bounded), returning its exit status and what it printed.
fn run(dir: &Path, line: &str) -> (bool, String) {
    let out = Command::new("timeout").args(["180", "bash", "-c", line]).current_dir(dir).output().expect("bash");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Stops the example's server when dropped (whatever happened).
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let rc = self.0.join("root/etc/init.d/demo-server");
        if rc.exists() {
            let _ = Command::new("timeout").arg("60").arg(rc).arg("stop").current_dir(&self.0).output();
        }
    }
}

/// `buildout` as the walk-through runs it, but on ZEO's cached wheels with the tests' pins
/// (offline, `-N`), the recipe libraries of this build, and a HOME of its own.
fn buildout_wrapper(dir: &Path, home: &Path) -> PathBuf {
    let libs = [
        cargo_artifact("recipe-egg", "zc_recipe_egg"),
        cargo_artifact("recipe-zodb", "zc_zodbrecipes"),
        cargo_artifact("recipe-deployment", "zc_recipe_deployment"),
    ];
    let path = std::env::join_paths(libs.iter().filter_map(|l| l.parent())).expect("path");
    let mut assignments = vec![
        "-N".to_owned(),
        format!("buildout:find-links={}", tests::zeo::wheels().display()),
        "buildout:index=file:///nonexistent".to_owned(),
    ];
    assignments.extend(tests::zeo::pins().iter().map(|(name, version)| format!("versions:{name}={version}")));
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let script = format!(
        "#!/bin/sh\nexport HOME={home} BUILDOUT_RECIPE_PATH={path} UV_CACHE_DIR={cache} BUILDOUT_UV={uv}\n\
         exec {bin} {assignments} \"$@\"\n",
        home = quote(&home.display().to_string()),
        path = quote(&path.to_string_lossy()),
        cache = quote(&workspace_root().join("target/uv-cache").display().to_string()),
        uv = quote(&uv_binary().display().to_string()),
        bin = quote(&buildout_bin().display().to_string()),
        assignments = assignments.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    );
    let wrapper = dir.join("buildout-under-test");
    std::fs::write(&wrapper, script).expect("the wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    wrapper
}

#[test]
// Says on the test's output when the machine has no logrotate, which the walk-through runs.
#[allow(clippy::print_stderr)]
fn the_readme_walks_through_a_production_deployment() {
    let Some(logrotate) = tests::system_program("logrotate") else {
        eprintln!("logrotate is not installed: the README's production walk-through was not run");
        return;
    };
    let lines = walkthrough();
    let (_t, scratch) = scratch();
    let dir = scratch.join("production");
    std::fs::create_dir_all(&dir).expect("the example's copy");
    let port = free_port();
    let example = workspace_root().join("examples/production");
    for file in ["buildout.cfg", "democlient.py"] {
        let text = std::fs::read_to_string(example.join(file)).expect(file);
        std::fs::write(dir.join(file), text.replace("127.0.0.1:8100", &format!("127.0.0.1:{port}"))).expect(file);
    }
    let wrapper = buildout_wrapper(&scratch, &scratch.join("home"));
    let _stop = Stop(dir.clone());

    let mut lines = lines.iter();
    assert_eq!(lines.next().map(String::as_str), Some("cargo build --release --workspace"));
    assert_eq!(lines.next().map(String::as_str), Some("cd examples/production"));
    let log = dir.join("root/var/log/demo/server-zeo.log");
    let mut reads = 0;
    for line in lines {
        let command = line.split(" #").next().unwrap_or(line).trim();
        let runnable = match command.strip_prefix("logrotate ") {
            // The program where it is, which a user's PATH may leave out of sbin.
            Some(rest) => format!("{} {rest}", logrotate.display()),
            None => command.replace("../../target/release/buildout", &wrapper.display().to_string()),
        };
        let (ok, said) = run(&dir, &runnable);
        assert!(ok, "{command}:\n{said}");
        let word = |n: usize| command.split_whitespace().nth(n).unwrap_or("");
        match (word(0), word(1)) {
            ("../../target/release/buildout", _) => {
                assert!(said.contains("Installing demo.\n") && said.contains("Installing server.\n"), "{said}");
                let units = dir.join("root/etc/systemd/system");
                let mut names = tests::names_in(&units);
                names.sort();
                assert_eq!(
                    names,
                    [
                        "demo-server-backup.service",
                        "demo-server-backup.timer",
                        "demo-server-pack.service",
                        "demo-server-pack.timer",
                        "demo-server.service"
                    ]
                );
                if let Some(analyze) = tests::system_program("systemd-analyze") {
                    let verify = Command::new(analyze)
                        .arg("verify")
                        .args(names.iter().map(|n| units.join(n)))
                        .output()
                        .expect("systemd-analyze");
                    let told = String::from_utf8_lossy(&verify.stderr).into_owned();
                    assert!(verify.status.success() && !told.contains("demo-server"), "{told}");
                }
                // The timers pack and back up; no crontab line does it again.
                assert_eq!(tests::names_in(&dir.join("root/etc/cron.d")), Vec::<String>::new());
            }
            ("root/etc/init.d/demo-server", "start") => assert!(said.contains("daemon process started"), "{said}"),
            ("root/etc/init.d/demo-server", "stop") => assert!(said.contains("daemon process stopped"), "{said}"),
            ("bin/client", "write") => assert!(said.contains("committed 'Hello, ZEO'"), "{said}"),
            ("bin/client", "read") => {
                assert!(said.contains("note: Hello, ZEO\nblob: Hello, ZEO\n"), "{said}");
                reads += 1;
                if reads == 1 {
                    // After the rotation: the server reopened its log and writes into the new one.
                    wait_for_lines(&log);
                }
            }
            ("bin/check-server", _) => assert_eq!(said, "OK\n"),
            ("logrotate", _) => {
                assert!(dir.join("root/var/log/demo/server-zeo.log.1").is_file(), "not rotated: {said}");
            }
            ("ls", _) => assert!(said.lines().any(|l| l == "server-zeo.log.1"), "{said}"),
            ("bin/server-backup", _) => {
                let backups = dir.join("root/var/lib/demo/backups/main");
                let names = tests::names_in(&backups);
                assert!(names.iter().any(|n| n.ends_with(".fs")), "{names:?}");
                assert!(names.iter().any(|n| n.starts_with("blobs.")), "{names:?}");
            }
            ("rm", _) => assert!(!dir.join("root/var/lib/demo/Data.fs").exists()),
            ("bin/server-restore", _) => {
                assert!(
                    dir.join("root/var/lib/demo/Data.fs").is_file() && dir.join("root/var/lib/demo/blobs").is_dir()
                );
            }
            other => panic!("the walk-through has a line this test does not know: {other:?} ({command})"),
        }
    }
    assert_eq!(reads, 2, "the walk-through reads the data back after the rotation and after the restore");
}
