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
}

const PROBE: &str = "import sys, sysconfig, platform, json
v = sys.implementation.version
print(json.dumps({'executable': sys.executable, 'major': sys.version_info[0], 'minor': sys.version_info[1],
  'platform': sysconfig.get_platform(), 'full': platform.python_version(), 'impl': sys.implementation.name,
  'impl_version': '%d.%d.%d' % (v.major, v.minor, v.micro), 'python_impl': platform.python_implementation()}))";

impl Interpreter {
    /// Asks `executable` about itself.
    pub fn probe(executable: &str) -> Result<Interpreter, PythonError> {
        let fail = |reason: String| PythonError::Interpreter { executable: executable.to_owned(), reason };
        let out = Command::new(executable).args(["-c", PROBE]).output().map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Interpreter::from_json(&text).ok_or_else(|| fail(format!("unexpected answer {:?}", text.trim())))
    }

    /// Like [`Interpreter::probe`], remembering the answer in `cache_dir` (the eggs directory):
    /// starting Python costs more than the rest of a run whose eggs are all present. The answer
    /// is reused while the executable file (and `PYENV_VERSION`, for pyenv shims) stays the same.
    pub fn probe_cached(executable: &str, cache_dir: &std::path::Path) -> Result<Interpreter, PythonError> {
        use std::hash::{Hash, Hasher};
        let Ok(meta) = std::fs::metadata(executable) else { return Interpreter::probe(executable) };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (executable, meta.len(), meta.modified().ok(), std::env::var("PYENV_VERSION").ok()).hash(&mut h);
        let file = cache_dir.join(format!(".python-{:016x}.json", h.finish()));
        if let Some(cached) = std::fs::read_to_string(&file).ok().and_then(|t| Interpreter::from_json(&t)) {
            return Ok(cached);
        }
        let probed = Interpreter::probe(executable)?;
        if std::fs::create_dir_all(cache_dir).is_ok() {
            let tmp = file.with_extension("tmp");
            if std::fs::write(&tmp, probed.to_json()).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
        Ok(probed)
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "executable": self.executable, "major": self.major, "minor": self.minor, "platform": self.platform,
            "full": self.info.full_version, "impl": self.info.implementation_name,
            "impl_version": self.info.implementation_version, "python_impl": self.info.platform_python_implementation,
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

    /// The marker environment of this interpreter.
    pub fn environment(&self) -> Environment {
        let mut env = Environment::current().clone();
        env.python = Some(self.info.clone());
        env
    }
}
