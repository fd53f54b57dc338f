//! ZEO and what it needs, pinned, and their wheels: what the end-to-end tests and the benches
//! install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// ZEO 6.2 and what it needs on Python 3.11 (zeo-runtime.md §1; zc.lockfile declares
/// setuptools).
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

/// The wheels of ZEO's set, downloaded once (with retries) into `target/wheel-cache/zeo`.
pub fn wheels() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wheel-cache/zeo");
        let count = |d: &Path| {
            std::fs::read_dir(d)
                .map(|e| e.flatten().filter(|f| f.file_name().to_string_lossy().ends_with(".whl")).count())
                .unwrap_or(0)
        };
        if count(&dir) >= PINS.len() {
            return dir;
        }
        std::fs::create_dir_all(&dir).expect("wheel cache");
        let specs = requirements();
        let mut last = String::new();
        for attempt in 0..3u64 {
            std::thread::sleep(std::time::Duration::from_secs(5 * attempt));
            let out = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--retries",
                    "5",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                ])
                .arg(&dir)
                .args(&specs)
                .output()
                .expect("run pip");
            if out.status.success() && count(&dir) >= PINS.len() {
                return dir;
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("cannot download ZEO's wheels from PyPI:\n{last}");
    })
    .clone()
}

/// `[versions]` lines pinning [`PINS`].
pub fn versions_section() -> String {
    let mut text = String::from("[versions]\n");
    for (name, version) in PINS {
        text.push_str(&format!("{name} = {version}\n"));
    }
    text
}

/// [`PINS`] as `name==version` requirements.
pub fn requirements() -> Vec<String> {
    PINS.iter().map(|(n, v)| format!("{n}=={v}")).collect()
}
