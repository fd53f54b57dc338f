//! `extends` of http(s) URLs, from a server on 127.0.0.1: downloaded through the HTTP client and
//! its cache (a fresh file costs no request), names inside a remote file taken against its URL,
//! `annotate` naming the URL, `extends-cache` (files named by the MD5 of their URL) serving
//! offline runs, and zc.buildout's messages when a file cannot be had.

use std::path::Path;

use tests::simple_index::SimpleIndex;
use tests::{run_buildout, scratch};

/// What `query` printed (after the lines buildout logs first, such as `Creating directory`).
fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn remote_extends_are_downloaded_cached_and_named() {
    let (_t, root) = scratch();
    let served = root.join("served");
    let work = root.join("work");
    for dir in [&served, &work] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(served.join("base.cfg"), "[buildout]\nextends = versions.cfg\n\n[app]\nport = 8080\n")
        .expect("write");
    std::fs::write(served.join("versions.cfg"), "[versions]\nZEO = 6.2\n").expect("write");
    let server = SimpleIndex::serve(&served);
    let base = server.base();
    let url = format!("{base}/cfg/base.cfg");
    let env = vec![("BUILDOUT_CACHE_DIR".to_owned(), root.join("cache").display().to_string())];
    let config = |extends: &str, cache: bool| {
        let cache = if cache { "extends-cache = extends-cache\n" } else { "" };
        std::fs::write(work.join("buildout.cfg"), format!("[buildout]\nextends = {extends}\n{cache}parts =\n"))
            .expect("write");
    };
    let query = |what: &str, extra: &[&str]| {
        let mut a = args(extra);
        a.extend(args(&["query", what]));
        run_buildout(&work, &a, &env)
    };

    config(&url, false);
    let zeo = query("versions:ZEO", &[]);
    assert_eq!((zeo.status, last_line(&zeo.stdout)), (0, "6.2"), "{}", zeo.stderr);
    assert_eq!(server.requests(), ["/cfg/base.cfg", "/cfg/versions.cfg"], "each file once");
    let annotated = run_buildout(&work, &args(&["annotate", "versions", "app"]), &env);
    assert!(
        annotated.stdout.contains(&format!("{base}/cfg/versions.cfg")),
        "the URL is the source:\n{}",
        annotated.stdout
    );
    assert!(annotated.stdout.contains(&url), "{}", annotated.stdout);
    // Fresh in the HTTP cache (`Cache-Control: max-age=600`): no request at all.
    let port = query("app:port", &[]);
    assert_eq!(last_line(&port.stdout), "8080");
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());

    // zc.buildout's messages: a file the server does not have; offline without extends-cache.
    config(&format!("{base}/cfg/missing.cfg"), false);
    let missing = query("app:port", &[]);
    assert_eq!(missing.status, 1);
    assert!(
        missing.stderr.ends_with(&format!(
            "Error: Error downloading extends for URL {base}/cfg/missing.cfg: HTTP Error 404: Not Found\n"
        )),
        "{}",
        missing.stderr
    );
    config(&url, false);
    let offline = query("app:port", &["-o"]);
    assert_eq!(offline.status, 1);
    assert!(
        offline.stderr.ends_with(&format!("Error: Couldn't download '{url}' in offline mode.\n")),
        "{}",
        offline.stderr
    );

    // extends-cache (made on first use) keeps each file under the MD5 of its URL, and serves
    // offline runs, also once the server is gone.
    config(&url, true);
    assert_eq!(last_line(&query("versions:ZEO", &[]).stdout), "6.2");
    let mut kept: Vec<String> = std::fs::read_dir(work.join("extends-cache"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|name| name.len() == 32 && name.chars().all(|c| c.is_ascii_hexdigit())), "{kept:?}");
    drop(server);
    let cached = query("versions:ZEO", &["-o"]);
    assert_eq!((cached.status, last_line(&cached.stdout)), (0, "6.2"), "{}", cached.stderr);
    assert!(Path::new(&work.join("extends-cache")).is_dir(), "made on first use");
}
