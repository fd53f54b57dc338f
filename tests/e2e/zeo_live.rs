//! The seed for real: ZEO from (cached) PyPI wheels through `zc.recipe.egg:script`, a server
//! part through `zc.zodbrecipes:server` on a free 127.0.0.1 port, `bin/server start`, a ZODB
//! client committing through `bin/py`, `bin/zeopack`, the logrotate `reopen_transcript`
//! command, the health check (`bin/check-server`: ZEO's zeo-nagios with the server's address),
//! `bin/server stop`. The server is stopped even when the test fails.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{cargo_artifact, run_buildout, scratch};

use tests::zeo::{free_port, pins, wait_for_lines, wheels};

/// Stops the server when dropped, whatever happened: (buildout directory, control script).
struct Server(PathBuf, PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("timeout").arg("60").arg(&self.1).arg("stop").current_dir(&self.0).output();
    }
}

/// A configuration with the `[versions]` pins of ZEO's set appended (it ends in `[versions]`).
fn with_pins(mut config: String) -> String {
    for (name, version) in pins() {
        config.push_str(&format!("{name} = {version}\n"));
    }
    config
}

/// The environment that makes buildout find the egg and server recipe libraries.
fn recipe_libraries() -> Vec<(String, String)> {
    let libs = [cargo_artifact("recipe-egg", "zc_recipe_egg"), cargo_artifact("recipe-zodb", "zc_zodbrecipes")];
    let path = std::env::join_paths(libs.iter().filter_map(|l| l.parent())).expect("path");
    vec![("BUILDOUT_RECIPE_PATH".to_owned(), path.to_string_lossy().into_owned())]
}

/// `buildout -N` in `dir`, with the egg and server recipe libraries; it must succeed.
fn install(dir: &Path) -> tests::Outcome {
    let out = run_buildout(dir, &["-N".to_owned()], &recipe_libraries());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

/// Waits (at most a minute) until `what` listens on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sh(dir: &Path, script: &str) -> (bool, String) {
    let out = Command::new("timeout").args(["120", "sh", "-c", script]).current_dir(dir).output().expect("sh");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn bin_server_runs_zeo_and_clients_commit() {
    let wheels = wheels();
    let (_t, dir) = scratch();
    let port = free_port();
    let config = format!(
        "[buildout]\nparts = zodb server check\nfind-links = {}\nindex = file:///nonexistent\n\n\
         [zodb]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n\
         [check]\nrecipe = zc.recipe.egg:scripts\neggs = ZEO\nscripts = zeo-nagios=check-server\n\
         arguments = ['127.0.0.1:{port}']\n\n\
         [server]\nrecipe = zc.zodbrecipes:server\nzeo.conf =\n   <zeo>\n      address 127.0.0.1:{port}\n   </zeo>\n   \
         <filestorage main>\n      path ${{buildout:directory}}/var/Data.fs\n   </filestorage>\n\n[versions]\n",
        wheels.display()
    );
    std::fs::write(dir.join("buildout.cfg"), with_pins(config)).expect("write");
    std::fs::create_dir_all(dir.join("var")).expect("var");
    let out = install(&dir);
    assert!(out.stdout.contains("Installing server.\nGenerated script '{DIR}/bin/server'.\n"), "{}", out.stdout);
    let zdaemon_conf = dir.join("parts/server/zdaemon.conf");

    let _server = Server(dir.clone(), dir.join("bin/server"));
    let (ok, text) = sh(&dir, "bin/server start");
    assert!(ok, "bin/server start: {text}");
    wait_for_port(port, "ZEO");
    // The health check (ZEO's zeo-nagios, wired with the address): a warning (1) while the
    // storage is empty, OK (0) once a transaction is in, critical (2) when the server is down.
    let check = || {
        let out = Command::new("timeout").args(["60"]).arg(dir.join("bin/check-server")).output().expect("check");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(check(), (Some(1), "Empty storage 'main'\n".to_owned()));
    let client = format!(
        "bin/py -c \"import ZEO, transaction\ndb = ZEO.DB(('127.0.0.1', {port}), storage='main', wait_timeout=30)\n\
         c = db.open(); c.root()['answer'] = 42; transaction.commit(); c.close()\n\
         c = db.open(); print('read back', c.root()['answer']); c.close(); db.close()\""
    );
    let (ok, text) = sh(&dir, &client);
    assert!(ok && text.contains("read back 42"), "client: {text}");
    assert_eq!(check(), (Some(0), "OK\n".to_owned()));
    // What the pack crontab line runs, and what logrotate's postrotate runs.
    let (ok, text) = sh(&dir, &format!("bin/zeopack -h 127.0.0.1 -p {port} -S main -d 0"));
    assert!(ok, "zeopack: {text}");
    let (ok, text) = sh(&dir, &format!("bin/server -C {} reopen_transcript", zdaemon_conf.display()));
    assert!(ok, "reopen_transcript: {text}");
    let (ok, text) = sh(&dir, "bin/server status");
    assert!(ok && text.contains("program running"), "status: {text}");
    let (ok, text) = sh(&dir, "bin/server stop");
    assert!(ok, "stop: {text}");
    let (status, said) = check();
    assert_eq!(status, Some(2), "{said}");
    assert!(said.starts_with("Can't connect "), "{said}");
    assert!(dir.join("var/Data.fs").is_file());
}

/// With `systemd = true` on the deployment, the server part writes a service that runs
/// `runzeo` in the foreground, and timers for pack and backup (in place of crontab lines);
/// `systemd-analyze verify` accepts them (where the machine has it), and the service's
/// `ExecStart` line, run as written, serves clients. Then, under zdaemon, logrotate rotates the
/// transcript and zeo.conf's event log, and new lines land in the new files.
#[test]
// Says on the test's output when systemd's own check could not run.
#[allow(clippy::print_stderr)]
fn systemd_units_verify_and_their_start_line_runs_zeo() {
    let wheels = wheels();
    let (_t, dir) = scratch();
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout).expect("utf-8");
    let user = user.trim();
    let config = format!(
        "[buildout]\nparts = zodb server\nfind-links = {}\nindex = file:///nonexistent\n\n\
         [zodb]\nrecipe = zc.recipe.egg:scripts\neggs = ZEO\n\n\
         [app]\nname = app\nuser = {user}\nsystemd = true\nrc-directory = {d}/rc\nrun-directory = {d}/run\n\
         log-directory = {d}/log\netc-directory = {d}/etc\ncrontab-directory = {d}/cron\n\
         logrotate-directory = {d}/logrotate\nsystemd-directory = {d}/systemd\n\n\
         [server]\nrecipe = zc.zodbrecipes:server\ndeployment = app\npack = 15 2 * * 6 2 ops@example.com\n\
         backup = {d}/backups\nbackup-schedule = 0 3 * * * ops@example.com\n\
         zeo.conf =\n   <zeo>\n      address 127.0.0.1:{port}\n   </zeo>\n   \
         <filestorage main>\n      path {d}/var/Data.fs\n      blob-dir {d}/var/blobs\n   </filestorage>\n   \
         <eventlog>\n      <logfile>\n         path {d}/log/server-events.log\n      </logfile>\n   </eventlog>\n\n[versions]\n",
        wheels.display(),
        d = dir.display()
    );
    std::fs::write(dir.join("buildout.cfg"), with_pins(config)).expect("write");
    for sub in ["rc", "run", "log", "etc", "cron", "logrotate", "systemd", "var"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    install(&dir);

    let read = |name: &str| std::fs::read_to_string(dir.join("systemd").join(name)).expect(name);
    let service = read("app-server.service");
    let exec_start = format!("{d}/bin/runzeo -C {d}/etc/server-zeo.conf", d = dir.display());
    for line in [
        format!("User={user}"),
        format!("ExecStart={exec_start}"),
        "ExecReload=/bin/kill -USR2 $MAINPID".to_owned(),
        "Restart=on-failure".to_owned(),
        "NoNewPrivileges=yes".to_owned(),
        format!("ReadWritePaths={d}/var/blobs {d}/var {d}/log {d}/run", d = dir.display()),
    ] {
        assert!(service.lines().any(|l| l == line), "{line:?} missing from:\n{service}");
    }
    let timer = read("app-server-pack.timer");
    assert!(timer.contains("\nOnCalendar=Sat *-*-* 02:15:00\n"), "{timer}");
    assert!(timer.contains("MAILTO (ops@example.com)"), "{timer}");
    let pack = read("app-server-pack.service");
    let zeopack = format!("ExecStart={}/bin/zeopack -h 127.0.0.1 -p {port} -S main -d 2", dir.display());
    assert!(pack.lines().any(|l| l == zeopack), "{pack}");
    let timer = read("app-server-backup.timer");
    assert!(timer.contains("\nOnCalendar=*-*-* 03:00:00\n"), "{timer}");
    let backup = read("app-server-backup.service");
    assert!(backup.contains(&format!("\nExecStart={}/bin/server-backup\n", dir.display())), "{backup}");
    // The timers run pack and backup: no crontab line runs them a second time.
    assert_eq!(tests::names_in(&dir.join("cron")), Vec::<String>::new());

    // systemd's own check, where the machine has systemd's tools.
    if let Some(analyze) = tests::system_program("systemd-analyze") {
        let units: Vec<PathBuf> = [
            "app-server.service",
            "app-server-pack.service",
            "app-server-pack.timer",
            "app-server-backup.service",
            "app-server-backup.timer",
        ]
        .iter()
        .map(|u| dir.join("systemd").join(u))
        .collect();
        let verify = Command::new(analyze).arg("verify").args(&units).output().expect("systemd-analyze");
        let said = String::from_utf8_lossy(&verify.stderr).into_owned();
        assert!(verify.status.success() && !said.contains("app-server"), "systemd-analyze verify:\n{said}");
    } else {
        eprintln!("systemd-analyze is not installed: the units were not verified by systemd");
    }

    // The start line as systemd runs it (without a shell), in the foreground; stopped at the end.
    let words = shlex::split(&exec_start).expect("words");
    let child = Command::new(&words[0]).args(&words[1..]).current_dir(&dir).spawn().expect("runzeo");
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _running = Stop(child);
    wait_for_port(port, "runzeo");
    let (ok, text) = sh(&dir, &format!("bin/zeopack -h 127.0.0.1 -p {port} -S main -d 0"));
    assert!(ok, "zeopack against the server ExecStart started: {text}");
    assert!(dir.join("var/Data.fs").is_file());

    // What ExecReload does after logrotate moved the event log away (an `<eventlog>` file of
    // zeo.conf; without one, runzeo logs to standard output, which systemd keeps in the
    // journal): runzeo reopens it, and what it logs next lands in the new file.
    let log = dir.join("log/server-events.log");
    assert!(log.is_file(), "runzeo writes its event log");
    std::fs::rename(&log, dir.join("log/server-events.log.0")).expect("rotate");
    let pid = _running.0.id().to_string();
    let reload = Command::new("kill").args(["-USR2", &pid]).status().expect("kill -USR2");
    assert!(reload.success());
    let start = Instant::now();
    while !log.is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "runzeo did not reopen {}", log.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, text) = sh(&dir, &format!("bin/zeopack -h 127.0.0.1 -p {port} -S main -d 0"));
    assert!(ok, "zeopack after the reload: {text}");
    wait_for_lines(&log);
    drop(_running);

    // The same server under zdaemon (the rc script), rotated by the logrotate file: its
    // postrotate reopens the transcript and makes runzeo reopen the event log.
    let rc = dir.join("rc/app-server");
    let _zdaemon = Server(dir.clone(), rc.clone());
    let (ok, text) = sh(&dir, &format!("{} start", rc.display()));
    assert!(ok, "rc start: {text}");
    wait_for_port(port, "ZEO under zdaemon");
    let logrotate_conf = dir.join("logrotate/app-server");
    let rotation = std::fs::read_to_string(&logrotate_conf).expect("the logrotate file");
    let transcript = dir.join("log/server-zeo.log");
    assert!(
        rotation.starts_with(&format!("{} {} {{\n", transcript.display(), log.display())),
        "the transcript and the event log: {rotation}"
    );
    assert!(rotation.contains(" kill USR2\n"), "{rotation}");
    let (ok, text) = sh(&dir, &format!("bin/zeopack -h 127.0.0.1 -p {port} -S main -d 0"));
    assert!(ok, "zeopack before the rotation: {text}");
    wait_for_lines(&log);
    if let Some(logrotate) = tests::system_program("logrotate") {
        let state = dir.join("logrotate.state");
        let out =
            Command::new(logrotate).arg("-f").arg("-s").arg(&state).arg(&logrotate_conf).output().expect("logrotate");
        assert!(out.status.success(), "logrotate: {}", String::from_utf8_lossy(&out.stderr));
        assert!(dir.join("log/server-events.log.1").is_file() && dir.join("log/server-zeo.log.1").is_file());
    } else {
        // Without the logrotate program: what it does, the files moved, then its postrotate
        // commands.
        std::fs::rename(&log, dir.join("log/server-events.log.1")).expect("rotate the event log");
        std::fs::rename(&transcript, dir.join("log/server-zeo.log.1")).expect("rotate the transcript");
        let postrotate: Vec<&str> = rotation
            .lines()
            .skip_while(|l| l.trim() != "postrotate")
            .skip(1)
            .take_while(|l| l.trim() != "endscript")
            .collect();
        assert_eq!(postrotate.len(), 2, "{rotation}");
        for command in postrotate {
            let (ok, text) = sh(&dir, command.trim());
            assert!(ok, "{command}: {text}");
        }
    }
    let start = Instant::now();
    while !log.is_file() || !transcript.is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "runzeo under zdaemon did not reopen its logs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, text) = sh(&dir, &format!("bin/zeopack -h 127.0.0.1 -p {port} -S main -d 0"));
    assert!(ok, "zeopack after the rotation: {text}");
    wait_for_lines(&log);
}

/// `backup`: `bin/server-backup` saves Data.fs (repozo) and its blobs as one set,
/// `bin/server-restore` puts them back; data and a blob committed before the backup are read
/// back after the storage was destroyed and restored.
#[test]
fn a_backup_restores_data_and_blobs() {
    let wheels = wheels();
    let (_t, dir) = scratch();
    let port = free_port();
    let config = format!(
        "[buildout]\nparts = zodb server\nfind-links = {}\nindex = file:///nonexistent\n\n\
         [zodb]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n\
         [server]\nrecipe = zc.zodbrecipes:server\nbackup = ${{buildout:directory}}/backups\n\
         zeo.conf =\n   <zeo>\n      address 127.0.0.1:{port}\n   </zeo>\n   \
         <filestorage main>\n      path ${{buildout:directory}}/var/Data.fs\n      \
         blob-dir ${{buildout:directory}}/var/blobs\n   </filestorage>\n\n[versions]\n",
        wheels.display()
    );
    std::fs::write(dir.join("buildout.cfg"), with_pins(config)).expect("write");
    std::fs::create_dir_all(dir.join("var")).expect("var");
    let out = install(&dir);
    for script in ["server-repozo", "server-backup", "server-restore"] {
        assert!(dir.join("bin").join(script).is_file(), "bin/{script}: {}", out.stdout);
    }

    let start_server = || {
        let (ok, text) = sh(&dir, "bin/server start");
        assert!(ok, "bin/server start: {text}");
        wait_for_port(port, "ZEO");
    };
    let client = |code: &str| {
        let script = format!(
            "bin/py -c \"import ZEO, transaction, ZODB.blob\n\
             db = ZEO.DB(('127.0.0.1', {port}), storage='main', wait_timeout=30, blob_dir='client-blobs', \
             shared_blob_dir=False)\nc = db.open(); root = c.root()\n{code}\nc.close(); db.close()\""
        );
        sh(&dir, &script)
    };
    let _server = Server(dir.clone(), dir.join("bin/server"));
    start_server();
    let (ok, text) = client(
        "root['answer'] = 42; root['doc'] = ZODB.blob.Blob(b'blob bytes'); transaction.commit(); print('saved')",
    );
    assert!(ok && text.contains("saved"), "commit: {text}");
    let (ok, text) = sh(&dir, "bin/server-backup");
    assert!(ok, "bin/server-backup: {text}");
    // A second backup links the first one's blobs instead of copying them again.
    let (ok, text) = sh(&dir, "bin/server-backup");
    assert!(ok, "second bin/server-backup: {text}");
    let (ok, links) = sh(&dir, "find backups/main -name '*.blob' -links 2 | wc -l");
    assert!(ok && links.trim() == "2", "the second blob copy links the first one's file: {links}");

    let (ok, text) = sh(&dir, "bin/server stop");
    assert!(ok, "stop: {text}");
    std::fs::remove_dir_all(dir.join("var")).expect("destroy the storage");
    std::fs::create_dir_all(dir.join("var")).expect("var");
    let (ok, text) = sh(&dir, "bin/server-restore");
    assert!(ok, "bin/server-restore: {text}");
    assert!(dir.join("var/Data.fs").is_file() && dir.join("var/blobs").is_dir());
    start_server();
    let (ok, text) = client("print('read', root['answer'], root['doc'].open().read())");
    assert!(ok && text.contains("read 42 b'blob bytes'"), "after the restore: {text}");
    let (ok, text) = sh(&dir, "bin/server stop");
    assert!(ok, "stop: {text}");
}

/// `backup-schedule` without systemd: a crontab line in the deployment's crontab directory
/// that runs `bin/<name>-backup` as the deployment's user, with MAILTO; and its errors.
#[test]
fn a_backup_schedule_is_a_crontab_line_without_systemd() {
    let wheels = wheels();
    let (_t, dir) = scratch();
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout).expect("utf-8");
    let config = |server: &str| {
        with_pins(format!(
            "[buildout]\nparts = zodb server\nfind-links = {}\nindex = file:///nonexistent\n\n\
             [zodb]\nrecipe = zc.recipe.egg:scripts\neggs = ZEO\n\n\
             [app]\nname = app\nuser = {user}\nrc-directory = {d}/rc\nrun-directory = {d}/run\n\
             log-directory = {d}/log\netc-directory = {d}/etc\ncrontab-directory = {d}/cron\n\
             logrotate-directory = {d}/logrotate\n\n\
             [server]\nrecipe = zc.zodbrecipes:server\n{server}\n\
             zeo.conf =\n   <zeo>\n      address 127.0.0.1:8100\n   </zeo>\n   \
             <filestorage main>\n      path {d}/var/Data.fs\n   </filestorage>\n\n[versions]\n",
            wheels.display(),
            server = server.replace("{d}", &dir.display().to_string()),
            user = user.trim(),
            d = dir.display()
        ))
    };
    for sub in ["rc", "run", "log", "etc", "cron", "logrotate", "var"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let env = recipe_libraries();
    let errors = [
        ("deployment = app\nbackup-schedule = 0 3 * * *", "backup-schedule needs the backup option"),
        ("backup = {d}/backups\nbackup-schedule = 0 3 * * *", "backup-schedule needs a deployment"),
        ("deployment = app\nbackup = {d}/backups\nbackup-schedule = 0 3 * *", "Too few crontab fields"),
        ("deployment = app\nbackup = {d}/backups\nbackup-schedule = 0 3 * * * ops", "must be an e-mail address"),
    ];
    for (server, said) in errors {
        std::fs::write(dir.join("buildout.cfg"), config(server)).expect("write");
        let out = run_buildout(&dir, &["-N".to_owned()], &env);
        assert_eq!(out.status, 1, "{server}: {}", out.stdout);
        let told = format!("{}{}", out.stdout, out.stderr);
        assert!(told.lines().any(|l| l.starts_with("Error: ") && l.contains(said)), "{server}: {told}");
    }
    std::fs::write(
        dir.join("buildout.cfg"),
        config("deployment = app\nbackup = {d}/backups\nbackup-schedule = 30 1 * * 1-5 ops@example.com"),
    )
    .expect("write");
    install(&dir);
    let crontab = std::fs::read_to_string(dir.join("cron/backup-app-server")).expect("the backup crontab");
    assert_eq!(
        crontab,
        format!("MAILTO=ops@example.com\n30 1 * * 1-5 {} {}/bin/server-backup\n", user.trim(), dir.display())
    );
}
