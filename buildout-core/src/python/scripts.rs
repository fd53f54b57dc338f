//! `bin/` scripts, text for text as zc.buildout's `easy_install.scripts` writes them: a shebang,
//! `sys.path[0:0] = [...]` with one egg directory per line in working-set order, the
//! initialization code, and the entry point's call; or an interpreter wrapper.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::egg::Egg;
use super::{PythonError, io};
use crate::config::{pypath, pytext::repr};
use crate::log::Level;

/// What a script runs: every console script of a distribution, or one explicit entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Distribution(String),
    EntryPoint { name: String, module: String, attrs: String },
}

/// zc.buildout's `scripts()` arguments.
#[derive(Debug, Clone, Default)]
pub struct Scripts {
    pub targets: Vec<Target>,
    /// The interpreter for the shebang (`sys.executable`).
    pub executable: String,
    pub dest: PathBuf,
    /// `None`: every script; otherwise script name → file name, in the order given.
    pub names: Option<Vec<(String, String)>>,
    pub extra_paths: Vec<String>,
    pub arguments: String,
    pub interpreter: Option<String>,
    pub initialization: String,
    /// The buildout directory when paths are written relative to the script.
    pub relative_paths: Option<String>,
}

/// `os.path.realpath`: absolute and normalised, with links resolved where the path exists.
fn realpath(p: &str) -> String {
    let cwd = std::env::current_dir().ok().and_then(|d| d.to_str().map(str::to_owned)).unwrap_or_else(|| "/".into());
    let normal = pypath::abspath(p, &cwd);
    std::fs::canonicalize(&normal).ok().and_then(|c| c.to_str().map(str::to_owned)).unwrap_or(normal)
}

const RELATIVE_SETUP: &str =
    "\nimport os\n\njoin = os.path.join\nbase = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))\n";

fn relative_depth(common: &str, path: &str) -> usize {
    let mut n = 0;
    let mut path = path.to_owned();
    loop {
        let dirname = pypath::dirname(&path).to_owned();
        if dirname == path || dirname == common {
            return n;
        }
        n += 1;
        path = dirname;
    }
}

fn relative_path(common: &str, path: &str) -> String {
    let mut parts = Vec::new();
    let mut path = path.to_owned();
    loop {
        let dirname = pypath::dirname(&path).to_owned();
        parts.push(pypath::basename(&path).to_owned());
        if dirname == common || dirname == path {
            break;
        }
        path = dirname;
    }
    parts.reverse();
    parts.join("/")
}

fn common_prefix(a: &str, b: &str) -> String {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).map(|(x, _)| x).collect()
}

fn relativitize(path: &str, script: &str, base: &str) -> String {
    if path == base {
        return "base".to_owned();
    }
    let common = pypath::dirname(&common_prefix(path, script)).to_owned();
    if common == base || common.starts_with(&format!("{base}/")) {
        format!("join(base, {})", repr(&relative_path(&common, path)))
    } else {
        repr(path)
    }
}

/// The `sys.path` lines and the relative-path preamble for one script.
fn path_and_setup(script: &str, path: &[String], relative: Option<&str>) -> (String, String) {
    match relative {
        Some(base) => {
            let script = pypath::normpath(script);
            let lines: Vec<String> = path.iter().map(|p| relativitize(p, &script, base)).collect();
            let mut setup = RELATIVE_SETUP.to_owned();
            for _ in 0..relative_depth(base, &script) {
                setup.push_str("base = os.path.dirname(base)\n");
            }
            (lines.join(",\n  "), setup)
        }
        // Python's `repr(list)[1:-1].replace(', ', ',\n  ')`, quirks included.
        None => (path.iter().map(|p| repr(p)).collect::<Vec<_>>().join(", ").replace(", ", ",\n  "), String::new()),
    }
}

fn script_text(
    python: &str,
    setup: &str,
    path: &str,
    initialization: &str,
    module: &str,
    attrs: &str,
    arguments: &str,
) -> String {
    format!(
        "#!{python}\n{setup}\nimport sys\nsys.path[0:0] = [\n  {path},\n  ]\n{initialization}\nimport {module}\n\n\
         if __name__ == '__main__':\n    sys.exit({module}.{attrs}({arguments}))\n"
    )
}

const INTERPRETER_BODY: &str = r#"
_interactive = True
if len(sys.argv) > 1:
    # The Python interpreter wrapper allows only some of the options that a
    # "regular" Python interpreter accepts.
    _options, _args = __import__("getopt").getopt(sys.argv[1:], 'Iic:m:')
    _interactive = False
    for (_opt, _val) in _options:
        if _opt == '-i':
            _interactive = True
        elif _opt == '-c':
            exec(_val)
        elif _opt == '-m':
            sys.argv[1:] = _args
            _args = []
            __import__("runpy").run_module(
                 _val, {}, "__main__", alter_sys=True)
        elif _opt == '-I':
            # Allow yet silently ignore the `-I` option. The original behaviour
            # for this option is to create an isolated Python runtime. It was
            # deemed acceptable to allow the option here as this Python wrapper
            # is isolated from the system Python already anyway.
            # The specific use-case that led to this change is how the Python
            # language extension for Visual Studio Code calls the Python
            # interpreter when initializing the extension.
            pass

    if _args:
        sys.argv[:] = _args
        __file__ = _args[0]
        del _options, _args
        with open(__file__) as __file__f:
            exec(compile(__file__f.read(), __file__, "exec"))

if _interactive:
    del _interactive
    __import__("code").interact(banner="", local=globals())
"#;

fn interpreter_text(python: &str, setup: &str, path: &str, initialization: &str) -> String {
    let path = if path.is_empty() { String::new() } else { format!("{path},") };
    format!("#!{python}\n{setup}\nimport sys\n\nsys.path[0:0] = [\n  {path}\n  ]\n{initialization}\n{INTERPRETER_BODY}")
}

/// Writes `content` unless the file already holds it; returns whether it wrote.
fn write_script(dest: &Path, content: &str) -> Result<bool, PythonError> {
    if std::fs::read_to_string(dest).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    // Through a temporary file: a script being run is never seen half written.
    let tmp = dest.with_file_name(format!(".{}.tmp", pypath::basename(&dest.display().to_string())));
    std::fs::write(&tmp, content).map_err(|e| io(&tmp, e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, dest).map_err(|e| io(dest, e))?;
    Ok(true)
}

/// Generates the scripts; returns every script path (written or already up to date).
pub fn generate(
    spec: &Scripts,
    working_set: &[Egg],
    log: &mut dyn FnMut(Level, &str),
) -> Result<Vec<PathBuf>, PythonError> {
    let mut path: Vec<String> = Vec::new();
    for p in working_set.iter().map(|e| e.dir.display().to_string()).chain(spec.extra_paths.iter().cloned()) {
        if !path.contains(&p) {
            path.push(p);
        }
    }
    let path: Vec<String> = path.iter().map(|p| realpath(p)).collect();
    let initialization =
        if spec.initialization.is_empty() { String::new() } else { format!("\n{}\n", spec.initialization) };
    let mut entry_points: Vec<(String, String, String)> = Vec::new();
    for target in &spec.targets {
        match target {
            Target::Distribution(name) => {
                let key = super::requirement::canonical_name(name);
                let egg = working_set.iter().find(|e| e.key() == key).ok_or_else(|| {
                    PythonError::Resolve(format!("Could not find requirement '{name}' in working set. "))
                })?;
                entry_points.extend(egg.console_scripts.iter().cloned());
            }
            Target::EntryPoint { name, module, attrs } => {
                entry_points.push((name.clone(), module.clone(), attrs.clone()))
            }
        }
    }
    let names: Option<BTreeMap<&str, &str>> =
        spec.names.as_ref().map(|n| n.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect());
    let mut generated = Vec::new();
    let mut seen = Vec::new();
    for (name, module, attrs) in &entry_points {
        seen.push(name.clone());
        let file = match &names {
            Some(n) => match n.get(name.as_str()) {
                Some(f) => (*f).to_owned(),
                None => continue,
            },
            None => name.clone(),
        };
        let dest = spec.dest.join(&file);
        let dest_text = dest.display().to_string();
        let (lines, setup) = path_and_setup(&dest_text, &path, spec.relative_paths.as_deref());
        let text = script_text(&spec.executable, &setup, &lines, &initialization, module, attrs, &spec.arguments);
        if write_script(&dest, &text)? {
            log(Level::Info, &format!("Generated script {}.", repr(&dest_text)));
        }
        generated.push(dest);
    }
    if let Some(wanted) = &spec.names {
        for (name, target) in wanted {
            if !seen.contains(name) {
                let message = if name == target {
                    format!("Could not generate script '{name}' as it is not defined in the egg entry points.")
                } else {
                    format!(
                        "Could not generate script '{name}' as script '{target}' is not defined in the egg entry points."
                    )
                };
                log(Level::Warning, &message);
            }
        }
    }
    if let Some(interpreter) = &spec.interpreter {
        let dest = spec.dest.join(interpreter);
        let dest_text = dest.display().to_string();
        let (lines, setup) = path_and_setup(&dest_text, &path, spec.relative_paths.as_deref());
        if write_script(&dest, &interpreter_text(&spec.executable, &setup, &lines, &initialization))? {
            log(Level::Info, &format!("Generated interpreter {}.", repr(&dest_text)));
        }
        generated.push(dest);
    }
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_like_zc_buildout() {
        let (lines, setup) =
            path_and_setup("/b/bin/demo", &["/b/eggs/demo-0.3-py3.11.egg".into(), "/foo/bar".into()], None);
        let text =
            script_text("/usr/bin/python3", &setup, &lines, "\na = (1, 2\n3, 4)\n", "eggrecipedemo", "main", "a, 2");
        assert_eq!(
            text,
            "#!/usr/bin/python3\n\nimport sys\nsys.path[0:0] = [\n  '/b/eggs/demo-0.3-py3.11.egg',\n  '/foo/bar',\n  ]\n\n\
             a = (1, 2\n3, 4)\n\nimport eggrecipedemo\n\nif __name__ == '__main__':\n    sys.exit(eggrecipedemo.main(a, 2))\n"
        );
    }

    #[test]
    fn relative_paths() {
        let (lines, setup) =
            path_and_setup("/b/bin/demo", &["/b/eggs/demo.egg".into(), "/b".into(), "/other/x".into()], Some("/b"));
        assert_eq!(lines, "join(base, 'eggs/demo.egg'),\n  base,\n  '/other/x'");
        assert_eq!(setup, format!("{RELATIVE_SETUP}base = os.path.dirname(base)\n"));
    }
}
