//! The seed for real: ZEO from (cached) PyPI wheels through `zc.recipe.egg:script`, a server
//! part through `zc.zodbrecipes:server` on a free 127.0.0.1 port, `bin/server start`, a ZODB
//! client committing through `bin/py`, `bin/zeopack`, the logrotate `reopen_transcript`
//! command, the health check (`bin/check-server`: ZEO's zeo-nagios with the server's address),
//! `bin/server stop`. The server is stopped even when the test fails.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{cargo_artifact, run_buildout, scratch};

use tests::zeo::{pins, wheels};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Stops the server when dropped, whatever happened.
struct Server(PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("timeout").arg("60").arg(self.0.join("bin/server")).arg("stop").output();
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
    let mut config = format!(
        "[buildout]\nparts = zodb server check\nfind-links = {}\nindex = file:///nonexistent\n\n\
         [zodb]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n\n\
         [check]\nrecipe = zc.recipe.egg:scripts\neggs = ZEO\nscripts = zeo-nagios=check-server\n\
         arguments = ['127.0.0.1:{port}']\n\n\
         [server]\nrecipe = zc.zodbrecipes:server\nzeo.conf =\n   <zeo>\n      address 127.0.0.1:{port}\n   </zeo>\n   \
         <filestorage main>\n      path ${{buildout:directory}}/var/Data.fs\n   </filestorage>\n\n[versions]\n",
        wheels.display()
    );
    for (name, version) in pins() {
        config.push_str(&format!("{name} = {version}\n"));
    }
    std::fs::write(dir.join("buildout.cfg"), config).expect("write");
    std::fs::create_dir_all(dir.join("var")).expect("var");
    let libs = [cargo_artifact("recipe-egg", "zc_recipe_egg"), cargo_artifact("recipe-zodb", "zc_zodbrecipes")];
    let path = std::env::join_paths(libs.iter().filter_map(|l| l.parent())).expect("path");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), path.to_string_lossy().into_owned())];
    let out = run_buildout(&dir, &["-N".to_owned()], &env);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Installing server.\nGenerated script '{DIR}/bin/server'.\n"), "{}", out.stdout);
    let zdaemon_conf = dir.join("parts/server/zdaemon.conf");

    let _server = Server(dir.clone());
    let (ok, text) = sh(&dir, "bin/server start");
    assert!(ok, "bin/server start: {text}");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "ZEO did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
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
