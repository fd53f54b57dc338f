//! ZEO and what it needs, pinned, and their wheels: what the end-to-end tests and the benches
//! install.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// ZEO 6.2 and what it needs on Python 3.11 (zeo-runtime.md §1; zc.lockfile declares
/// setuptools): the set for Python 3.11 and later (3.12 and 3.13 have wheels of each).
pub const PINS: [(&str, &str); 15] = [
    ("ZEO", "6.2"),
    ("ZODB", "6.4"),
    ("zdaemon", "5.2.1"),
    ("ZConfig", "4.3"),
    ("transaction", "5.1"),
    ("persistent", "6.9"),
    ("BTrees", "6.5"),
    ("zodbpickle", "4.5"),
    ("zope.interface", "8.7"),
    ("zope.proxy", "7.3"),
    ("zope.deferredimport", "6.1.1"),
    ("zc.lockfile", "4.0"),
    ("cffi", "2.1.1"),
    ("pycparser", "3.12"),
    ("setuptools", "84.2.1"),
];

/// Python 3.10 has no wheels of persistent 6.9 and zope.interface 8.7, and pycparser 3.12
/// requires Python 3.11: the newest of each that 3.10 has (what pip resolves for `ZEO` there).
pub const PINS_PY310: [(&str, &str); 15] = [
    ("ZEO", "6.2"),
    ("ZODB", "6.4"),
    ("zdaemon", "5.2.1"),
    ("ZConfig", "4.3"),
    ("transaction", "5.1"),
    ("persistent", "6.8"),
    ("BTrees", "6.5"),
    ("zodbpickle", "4.5"),
    ("zope.interface", "8.6"),
    ("zope.proxy", "7.3"),
    ("zope.deferredimport", "6.1.1"),
    ("zc.lockfile", "4.0"),
    ("cffi", "2.1.1"),
    ("pycparser", "3.11"),
    ("setuptools", "84.2.1"),
];

/// ZEO 6.2, ZODB 6.2 and later, and most of what they need require Python 3.10: on 3.9 the set
/// pip resolves for `ZEO` there (ZEO 6.1; only zdaemon and zc.lockfile are the same).
pub const PINS_PY39: [(&str, &str); 15] = [
    ("ZEO", "6.1"),
    ("ZODB", "6.1"),
    ("zdaemon", "5.2.1"),
    ("ZConfig", "4.2"),
    ("transaction", "5.0"),
    ("persistent", "6.3"),
    ("BTrees", "6.1"),
    ("zodbpickle", "4.2"),
    ("zope.interface", "8.0.1"),
    ("zope.proxy", "7.0"),
    ("zope.deferredimport", "6.0"),
    ("zc.lockfile", "4.0"),
    ("cffi", "2.0.0"),
    ("pycparser", "2.23"),
    ("setuptools", "82.0.1"),
];

/// The set for the `python3` on PATH: the tests install binary wheels only, and not every pin
/// of [`PINS`] has one for (or allows) Python 3.9 and 3.10.
pub fn pins() -> &'static [(&'static str, &'static str); 15] {
    match crate::python().version {
        (3, ..=9) => &PINS_PY39,
        (3, 10) => &PINS_PY310,
        _ => &PINS,
    }
}

/// The names of ZEO and what it needs (the same on every Python the tests support).
pub fn projects() -> Vec<&'static str> {
    PINS.iter().map(|(name, _)| *name).collect()
}

/// The pin of `name` in [`pins`].
pub fn pin(name: &str) -> &'static str {
    pins().iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_else(|| panic!("{name} is not pinned"))
}

/// The wheels of ZEO's set for the `python3` on PATH, downloaded once (with retries) into
/// `target/wheel-cache/zeo-py3.X`: binary wheels are made for one Python version.
pub fn wheels() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wheel-cache")
            .join(format!("zeo-{}", crate::python().egg_tag()));
        std::fs::create_dir_all(&dir).expect("wheel cache");
        crate::pip_download(&dir, &requirements(), pins().len());
        dir
    })
    .clone()
}

/// `[versions]` lines pinning [`pins`].
pub fn versions_section() -> String {
    let mut text = String::from("[versions]\n");
    for (name, version) in pins() {
        text.push_str(&format!("{name} = {version}\n"));
    }
    text
}

/// [`pins`] as `name==version` requirements.
pub fn requirements() -> Vec<String> {
    pins().iter().map(|(n, v)| format!("{n}=={v}")).collect()
}

/// A port on 127.0.0.1 that nothing listens on now, for a test's server.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Waits (at most 30 s) until the log file `log` has something in it: a server that reopened
/// it after a rotation writes there again.
pub fn wait_for_lines(log: &Path) {
    let start = std::time::Instant::now();
    while std::fs::read_to_string(log).unwrap_or_default().trim().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "nothing was logged into the new {}",
            log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
