//! Stopping on Ctrl-C (SIGINT) or SIGTERM without leaving anything behind: child installers
//! stopped, temporary directories removed, what was recorded kept.
//!
//! Every recipe library is a `cdylib` with its own copy of this crate, so the flag below exists
//! once per copy, not once per process. Each copy that calls [`watch`] registers its own
//! handlers with signal-hook, which chains to the handlers registered before it: one signal
//! raises the flag of every copy that is watching. Once any handler is registered, the signal no
//! longer ends the process by itself; the program that watches must make sure it ends (the
//! `buildout` command does so with [`watchdog`]). The `buildout` command watches first thing;
//! a recipe library's copy starts on its first call from the host (the SDK's entry points call
//! [`watch`]), and [`output`] does too.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use signal_hook::consts::{SIGINT, SIGTERM};

/// The signal that arrived (its number), 0 while none has.
static SIGNAL: AtomicUsize = AtomicUsize::new(0);

/// How often a running child's end and the flag are looked at, at most.
const POLL: Duration = Duration::from_millis(20);

/// The kinds of temporary names [`temp_prefix`] makes and [`sweep`] removes.
const KINDS: [&str; 3] = ["unpacking", "linking", "download"];

/// A run stopped by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Interrupted by {}", signal_name(*.signal))]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// The exit status of a program stopped by this signal, as a shell reports it (130 for
    /// SIGINT, 143 for SIGTERM).
    pub fn exit_status(&self) -> u8 {
        u8::try_from(128 + self.signal).unwrap_or(1)
    }
}

/// `SIGINT`, `SIGTERM`, or `signal N`.
pub fn signal_name(signal: i32) -> String {
    signal_hook::low_level::signal_name(signal).map_or_else(|| format!("signal {signal}"), str::to_owned)
}

/// Why [`output`] has no output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command could not be started, or waited for.
    #[error("{0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// Starts noticing SIGINT and SIGTERM in this copy of the crate; later calls do nothing.
pub fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for signal in [SIGINT, SIGTERM] {
            // Only a forbidden signal fails; these two are not. Unregistered, the signal would
            // keep its default action and still stop the process, only less tidily.
            let _ = signal_hook::flag::register_usize(signal, &SIGNAL, signal as usize);
        }
    });
}

/// The signal that arrived since [`watch`] was called in this copy, if one did.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => i32::try_from(n).ok(),
    }
}

/// `Err` once a signal has arrived: long loops call it between steps.
pub fn check() -> Result<(), Interrupted> {
    signal().map_or(Ok(()), |signal| Err(Interrupted { signal }))
}

/// `cmd.output()` that a signal stops: the child runs in its own process group (so a
/// terminal's Ctrl-C reaches us, not it, and we decide how it ends); once the flag is raised
/// the whole group is stopped (SIGINT, on which Python and uv remove their temporary files,
/// then SIGTERM, then SIGKILL) and [`RunError::Interrupted`] returned. As with `output()`,
/// standard input is empty and both outputs are captured.
pub fn output(cmd: &mut Command) -> Result<Output, RunError> {
    use std::os::unix::process::CommandExt;
    watch();
    check()?;
    cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    // Both pipes are drained while waiting, or a child filling one would never end.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    // Short pauses first: most children (the interpreter probe) end within milliseconds.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                stop(&mut child);
                return Err(RunError::Spawn(e));
            }
        }
        if let Err(interrupted) = check() {
            // The readers are left to finish alone: a grandchild that left the group could
            // keep a pipe open.
            stop(&mut child);
            return Err(interrupted.into());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(POLL);
    };
    let collect = |h: std::thread::JoinHandle<Vec<u8>>| h.join().unwrap_or_default();
    Ok(Output { status, stdout: collect(stdout), stderr: collect(stderr) })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Stops a child's process group and reaps the child.
fn stop(child: &mut Child) {
    let Some(group) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    for (signal, grace) in [(Signal::INT, Duration::from_millis(1500)), (Signal::TERM, Duration::from_millis(500))] {
        let _ = rustix::process::kill_process_group(group, signal);
        if ended(group, grace) {
            break;
        }
    }
    // Whatever is left of the group goes. The child is not reaped yet (at most a zombie), so
    // its group id cannot have been given to another group.
    let _ = rustix::process::kill_process_group(group, Signal::KILL);
    let _ = child.wait();
}

/// Whether the child `pid` ends within `grace`, without reaping it.
fn ended(pid: Pid, grace: Duration) -> bool {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let deadline = Instant::now() + grace;
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match waitid(WaitId::Pid(pid), options) {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The prefix of a temporary name (for `tempfile::Builder::prefix`) that says which process
/// owns it: `.{kind}-{pid}-`, so that [`sweep`] can tell a dead run's leftovers from a live
/// run's work. `kind` is `unpacking`, `linking` or `download`.
pub fn temp_prefix(kind: &str) -> String {
    format!(".{kind}-{}-", std::process::id())
}

/// Removes what runs that were killed (`kill -9`, a crash, a power cut) left in `dir`:
/// entries named by [`temp_prefix`] whose process is gone. A live process's entries stay:
/// another buildout may be sharing the directory. Errors are ignored: a leftover that cannot
/// be removed harms nothing but space.
pub fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else { continue };
        if alive(pid) {
            continue;
        }
        let path = entry.path();
        let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// The process that owns a name [`temp_prefix`] made: `.unpacking-<pid>-<random>`.
fn owner(name: &str) -> Option<i32> {
    let (kind, rest) = name.strip_prefix('.')?.split_once('-')?;
    let (pid, random) = rest.split_once('-')?;
    let ours =
        KINDS.contains(&kind) && !random.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    ours.then(|| pid.parse().ok()).flatten()
}

/// Whether process `pid` exists. `kill(pid, 0)` says so on every Unix (as `/proc/<pid>` does
/// on Linux); a process of another user answers EPERM, and is alive too.
fn alive(pid: i32) -> bool {
    let Some(pid) = Pid::from_raw(pid) else { return true };
    !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

/// Makes sure the process ends once a signal has arrived, whatever it is doing: after `grace`,
/// or at once on a second signal, `farewell` is called and the process exits with the
/// signal's status (130, 143) without running anything else, as if killed. For programs (the
/// `buildout` command) that [`watch`]: their handlers took away the signal's default action.
/// Call it after [`watch`], so that the flag is up before the watchdog wakes.
pub fn watchdog(grace: Duration, farewell: impl Fn(Interrupted) + Send + 'static) -> std::io::Result<()> {
    let (mut wake, write) = std::os::unix::net::UnixStream::pair()?;
    for signal in [SIGINT, SIGTERM] {
        signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
    }
    std::thread::Builder::new().name("interrupt-watchdog".into()).spawn(move || {
        let mut byte = [0u8; 1];
        loop {
            match wake.read(&mut byte) {
                Ok(1..) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The other end is never closed; should it be, there is nothing to watch.
                _ => return,
            }
        }
        let interrupted = Interrupted { signal: signal().unwrap_or(SIGINT) };
        // Whichever comes first: a second signal, or the end of the grace period.
        if wake.set_read_timeout(Some(grace)).is_ok() {
            let _ = wake.read(&mut byte);
        }
        farewell(interrupted);
        signal_hook::low_level::exit(i32::from(interrupted.exit_status()));
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the copy of this test binary that [`a_signal_stops_the_child_group`] starts.
    const CHILD: &str = "BUILDOUT_INTERRUPT_TEST_SIGNAL";

    #[test]
    fn sweep_removes_dead_runs_leftovers_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let own = std::process::id();
        // (name, a directory, removed)
        let cases = [
            (".unpacking-999999999-abc".to_owned(), true, true),
            (".linking-999999999-x1".to_owned(), true, true),
            (".download-999999999-y2".to_owned(), false, true),
            (format!(".unpacking-{own}-x"), true, false),
            (format!(".linking-{own}-x"), true, false),
            (".unpacking-Ab12Cd".to_owned(), true, false),
            (".unpacking-999999999-".to_owned(), true, false),
            (".unpacking-99x-abc".to_owned(), true, false),
            (".other-999999999-abc".to_owned(), true, false),
            ("ZEO-6.2-py3.11-linux-x86_64.egg".to_owned(), true, false),
            ("999999999".to_owned(), false, false),
        ];
        for (name, is_dir, _) in &cases {
            let path = dir.path().join(name);
            if *is_dir {
                std::fs::create_dir_all(path.join("pkg")).expect("mkdir");
                std::fs::write(path.join("pkg/file.py"), "x = 1\n").expect("write");
            } else {
                std::fs::write(&path, "partial").expect("write");
            }
        }
        sweep(dir.path());
        for (name, _, removed) in &cases {
            assert_eq!(!dir.path().join(name).exists(), *removed, "{name}");
        }
        sweep(&dir.path().join("missing"));
    }

    #[test]
    fn temp_names_carry_the_owner() {
        let prefix = temp_prefix("unpacking");
        assert_eq!(prefix, format!(".unpacking-{}-", std::process::id()));
        let made = tempfile::Builder::new().prefix(&prefix).tempdir().expect("temp dir");
        let name = made.path().file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(owner(name), i32::try_from(std::process::id()).ok());
    }

    #[test]
    fn output_is_command_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output(&mut cmd).expect("runs");
        assert_eq!((out.status.code(), &out.stdout[..], &out.stderr[..]), (Some(3), &b"out\n"[..], &b"err\n"[..]));
        // More than a pipe holds, on both outputs.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"]);
        let out = output(&mut cmd).expect("runs");
        assert_eq!((out.stdout.len(), out.stderr.len()), (300_000, 200_000));
        let missing = output(&mut Command::new("/nonexistent/program"));
        assert!(matches!(missing, Err(RunError::Spawn(_))), "{missing:?}");
        assert_eq!(signal(), None, "nothing here raises the flag");
    }

    #[test]
    fn names_and_statuses() {
        let cases = [(SIGINT, "Interrupted by SIGINT", 130), (SIGTERM, "Interrupted by SIGTERM", 143)];
        for (signal, text, status) in cases {
            let i = Interrupted { signal };
            assert_eq!((i.to_string().as_str(), i.exit_status()), (text, status));
        }
    }

    /// The flag is per process: the signal is raised in a copy of this test binary running
    /// [`interrupted_child`], never in the one running the other tests.
    #[test]
    fn a_signal_stops_the_child_group() {
        let exe = std::env::current_exe().expect("test binary");
        for signal in [SIGINT, SIGTERM] {
            let dir = tempfile::tempdir().expect("temp dir");
            let started = Instant::now();
            let out = Command::new(&exe)
                .args(["--exact", "interrupt::tests::interrupted_child", "--ignored", "--nocapture"])
                .env(CHILD, signal.to_string())
                .env("TMPDIR", dir.path())
                .output()
                .expect("run the test binary");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            assert!(started.elapsed() < Duration::from_secs(20), "{text}");
        }
    }

    /// The live processes of process group `group` (zombies are dead: they only wait for their
    /// new parent to reap them), from `/proc/<pid>/stat`.
    fn members(group: i32) -> Vec<i32> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
            let fields: Vec<&str> =
                stat.rsplit_once(')').map(|(_, f)| f.split_whitespace().collect()).unwrap_or_default();
            if fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string() {
                found.push(pid);
            }
        }
        found
    }

    /// Run by [`a_signal_stops_the_child_group`] only.
    #[test]
    #[ignore = "raises a signal in its own process; run by a_signal_stops_the_child_group"]
    fn interrupted_child() {
        let Some(signal) = std::env::var(CHILD).ok().and_then(|s| s.parse::<i32>().ok()) else { return };
        watch();
        let pid_file = std::env::temp_dir().join("group");
        // A shell (the group's leader) with a grandchild, as pip is with its subprocesses; both
        // ignore SIGINT and SIGTERM, so only the final SIGKILL ends them.
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("trap '' INT TERM; echo $$ > {}; sleep 60 & sleep 60", pid_file.display()));
        let raiser = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !pid_file.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(100));
            signal_hook::low_level::raise(signal).expect("raise");
            std::fs::read_to_string(&pid_file).expect("pid").trim().parse::<i32>().expect("a pid")
        });
        let started = Instant::now();
        let result = output(&mut cmd);
        let group = raiser.join().expect("raiser");
        assert!(matches!(result, Err(RunError::Interrupted(Interrupted { signal: s })) if s == signal), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(8), "stopped within the grace periods");
        // SIGKILL is delivered asynchronously: the grandchild may take a moment to die.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !members(group).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(members(group), Vec::<i32>::new(), "nothing is left of the group");
        assert_eq!(check(), Err(Interrupted { signal }));
        // Nothing more is started once interrupted.
        let refused = output(&mut Command::new("true"));
        assert!(matches!(refused, Err(RunError::Interrupted(_))), "{refused:?}");
        // Unpacking and linking stop at once, and their staging directories go.
        let work = tempfile::tempdir().expect("temp dir");
        let wheel = work.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).expect("create"));
        for member in ["demo/__init__.py", "demo-1.0.dist-info/METADATA"] {
            zip.start_file(member, zip::write::SimpleFileOptions::default()).expect("start");
        }
        zip.finish().expect("finish");
        let eggs = work.path().join("eggs");
        let unpacked = crate::python::egg::unpack_wheel(&wheel, &eggs.join("demo-1.0.egg"), None);
        assert!(
            matches!(unpacked, Err(crate::python::PythonError::Interrupted { signal: s }) if s == signal),
            "{unpacked:?}"
        );
        let linked = crate::python::tree::link_tree(work.path(), &eggs.join("linked"));
        assert!(
            matches!(linked, Err(crate::python::PythonError::Interrupted { signal: s }) if s == signal),
            "{linked:?}"
        );
        let left: Vec<_> = std::fs::read_dir(&eggs).expect("eggs").flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
