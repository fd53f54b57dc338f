//! The Python a buildout uses: its real executable (a `python3` on PATH may be a shell shim, but
//! script shebangs need the interpreter itself), version and platform.

use std::process::Command;

use super::PythonError;
use crate::config::condition::{Environment, PythonInfo};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// `sys.executable`.
    pub executable: String,
    pub major: u32,
    pub minor: u32,
    /// `sysconfig.get_platform()` (`linux-x86_64`): the suffix of eggs with compiled code.
    pub platform: String,
    pub info: PythonInfo,
    /// `os.confstr('CS_GNU_LIBC_VERSION')` (`glibc 2.36`), which says which manylinux wheels run.
    pub libc: Option<String>,
}

const PROBE: &str = "import sys, sysconfig, platform, json, os
v = sys.implementation.version
try:
    libc = os.confstr('CS_GNU_LIBC_VERSION')
except (AttributeError, ValueError, OSError):
    libc = None
print(json.dumps({'executable': sys.executable, 'major': sys.version_info[0], 'minor': sys.version_info[1],
  'platform': sysconfig.get_platform(), 'full': platform.python_version(), 'impl': sys.implementation.name,
  'impl_version': '%d.%d.%d' % (v.major, v.minor, v.micro), 'python_impl': platform.python_implementation(),
  'libc': libc}))";

impl Interpreter {
    /// Asks `executable` about itself.
    pub fn probe(executable: &str) -> Result<Interpreter, PythonError> {
        let fail = |reason: String| PythonError::Interpreter { executable: executable.to_owned(), reason };
        let out = crate::interrupt::output(Command::new(executable).args(["-c", PROBE]))
            .map_err(super::run_error(executable))?;
        if !out.status.success() {
            return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Interpreter::from_json(&text).ok_or_else(|| fail(format!("unexpected answer {:?}", text.trim())))
    }

    /// Like [`Interpreter::probe`], remembering the answer in the user cache (see
    /// [`super::cache`]) and in `eggs_dir`, which may be shared by users or outlive a home
    /// directory: starting Python costs more than the rest of a run whose eggs are all present.
    /// The answer is reused while the executable stays the same (see
    /// [`super::cache::probe_key`]).
    pub fn probe_cached(executable: &str, eggs_dir: &std::path::Path) -> Result<Interpreter, PythonError> {
        let Some(key) = super::cache::probe_key(&super::cache::on_path(executable)) else {
            return Interpreter::probe(executable);
        };
        let places: Vec<std::path::PathBuf> = super::cache::dir()
            .map(|c| c.join(&key))
            .into_iter()
            .chain(std::iter::once(eggs_dir.join(format!(".{key}"))))
            .collect();
        for file in &places {
            if let Some(cached) = std::fs::read_to_string(file).ok().and_then(|t| Interpreter::from_json(&t)) {
                return Ok(cached);
            }
        }
        let probed = Interpreter::probe(executable)?;
        for file in &places {
            // Best effort: a cache that cannot be written only costs the next run a probe.
            if let Some(dir) = file.parent()
                && std::fs::create_dir_all(dir).is_ok()
                && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
            {
                use std::io::Write;
                if tmp.write_all(probed.to_json().as_bytes()).is_ok() {
                    let _ = tmp.persist(file);
                }
            }
        }
        Ok(probed)
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "executable": self.executable, "major": self.major, "minor": self.minor, "platform": self.platform,
            "full": self.info.full_version, "impl": self.info.implementation_name,
            "impl_version": self.info.implementation_version, "python_impl": self.info.platform_python_implementation,
            "libc": self.libc,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Option<Interpreter> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        Some(Interpreter {
            executable: text("executable")?,
            major: u32::try_from(v["major"].as_u64()?).ok()?,
            minor: u32::try_from(v["minor"].as_u64()?).ok()?,
            platform: text("platform")?,
            // Required, so that probes cached before it was asked for are made again.
            libc: if v.get("libc")?.is_null() { None } else { Some(text("libc")?) },
            info: PythonInfo {
                full_version: text("full")?,
                implementation_name: text("impl")?,
                implementation_version: text("impl_version")?,
                platform_python_implementation: text("python_impl")?,
            },
        })
    }

    /// `py3.11`, as in egg names.
    pub fn py_tag(&self) -> String {
        format!("py{}.{}", self.major, self.minor)
    }

    /// The glibc version (`(2, 36)`), on a glibc system.
    pub fn glibc(&self) -> Option<(u32, u32)> {
        let (major, minor) = self.libc.as_deref()?.strip_prefix("glibc ")?.split_once('.')?;
        let minor = minor.split(|c: char| !c.is_ascii_digit()).next()?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    /// The PEP 508 marker environment of this interpreter on this machine.
    pub fn environment(&self) -> Result<pep508_rs::MarkerEnvironment, PythonError> {
        super::requirement::marker_environment(&super::requirement::MarkerFacts {
            python_full_version: &self.info.full_version,
            implementation_name: &self.info.implementation_name,
            implementation_version: &self.info.implementation_version,
            platform_python_implementation: &self.info.platform_python_implementation,
            env: Environment::current(),
        })
        .map_err(|e| match e {
            PythonError::Interpreter { reason, .. } => {
                PythonError::Interpreter { executable: self.executable.clone(), reason }
            }
            other => other,
        })
    }
}

/// An interpreter that was never asked, for tests: CPython-like `implementation` 3.11.7 on
/// `platform` with `libc`.
#[cfg(test)]
pub(crate) fn test_interpreter(implementation: &str, platform: &str, libc: Option<&str>) -> Interpreter {
    Interpreter {
        executable: "/usr/bin/python3".into(),
        major: 3,
        minor: 11,
        platform: platform.into(),
        info: PythonInfo {
            full_version: "3.11.7".into(),
            implementation_name: implementation.into(),
            implementation_version: "3.11.7".into(),
            platform_python_implementation: "CPython".into(),
        },
        libc: libc.map(str::to_owned),
    }
}
