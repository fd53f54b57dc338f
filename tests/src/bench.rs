//! What the bench binaries share: ZEO's pinned distributions and their wheels, and timing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// ZEO 6.2 and everything it needs, pinned, as `name==version` words.
pub const ZEO_PINS: &str = "ZEO==6.2 ZODB==6.4 zdaemon==5.2.1 ZConfig==4.3 transaction==5.1 persistent==6.9 \
                            BTrees==6.5 zodbpickle==4.5 zope.interface==8.7 zope.proxy==7.3 \
                            zope.deferredimport==6.1.1 zc.lockfile==4.0 cffi==2.1.1 pycparser==3.12 \
                            setuptools==84.2.1";

/// The wheels of [`ZEO_PINS`], downloaded by pip once into `target/wheel-cache/zeo-bench`.
pub fn zeo_wheels() -> PathBuf {
    let wheels = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wheel-cache/zeo-bench");
    std::fs::create_dir_all(&wheels).expect("wheel dir");
    let ok = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
        .arg(&wheels)
        .args(ZEO_PINS.split_whitespace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pip download failed");
    wheels
}

/// `[versions]` lines pinning [`ZEO_PINS`].
pub fn zeo_versions_section() -> String {
    let mut text = String::from("[versions]\n");
    for pin in ZEO_PINS.split_whitespace() {
        if let Some((name, version)) = pin.split_once("==") {
            text.push_str(&format!("{name} = {version}\n"));
        }
    }
    text
}

/// Milliseconds, with `decimals` places.
pub fn ms(d: Duration, decimals: usize) -> String {
    format!("{:.*} ms", decimals, d.as_secs_f64() * 1000.0)
}

/// The median of some timings (zero for none).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
