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
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))?;
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let number = |k: &str| u32::try_from(v[k].as_u64().unwrap_or_default()).unwrap_or_default();
        Ok(Interpreter {
            executable: text("executable"),
            major: number("major"),
            minor: number("minor"),
            platform: text("platform"),
            info: PythonInfo {
                full_version: text("full"),
                implementation_name: text("impl"),
                implementation_version: text("impl_version"),
                platform_python_implementation: text("python_impl"),
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
