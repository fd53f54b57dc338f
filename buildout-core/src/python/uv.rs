//! uv, the resolver for what our own walk cannot settle: the `uv` on PATH, else a pinned uv
//! that buildout gets once, as a distribution from the configured index, into the user cache.
//! `BUILDOUT_UV` names another binary, or turns uv off when empty (then pip resolves).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::index::Index;
use super::interpreter::Interpreter;
use super::lock::{self, Locked};
use super::requirement::Requirement;
use super::settings::Settings;
use super::{PythonError, io};

/// The uv buildout gets for itself when none is on PATH.
pub const PINNED: &str = "0.13.9";

/// Where uv comes from, or why there is none (said once, when pip resolves instead).
pub(super) fn locate(index: &Index, interp: &Interpreter, offline: bool) -> Result<PathBuf, String> {
    if let Some(explicit) = std::env::var_os("BUILDOUT_UV") {
        if explicit.is_empty() {
            return Err("BUILDOUT_UV is empty".into());
        }
        return Ok(PathBuf::from(explicit));
    }
    let on_path =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("uv")).find(|u| u.is_file()));
    if let Some(uv) = on_path {
        return Ok(uv);
    }
    let Some(cache) = super::cache::dir() else {
        return Err("uv is not on PATH and there is no user cache to keep one in".into());
    };
    let binary = cache.join("uv").join(PINNED).join("uv");
    if binary.is_file() {
        return Ok(binary);
    }
    if offline {
        return Err("uv is not on PATH nor in the user cache, and offline mode fetches nothing".into());
    }
    obtain(index, interp, &binary).map_err(|e| format!("uv {PINNED} could not be had from the index: {e}"))?;
    Ok(binary)
}

/// Fetches uv's wheel for this machine from the index and keeps its binary at `binary`.
fn obtain(index: &Index, interp: &Interpreter, binary: &Path) -> Result<(), String> {
    let files = index.project("uv").map_err(|e| e.to_string())?;
    let wanted = super::requirement::parse_version(PINNED).ok_or("bad pinned version")?;
    let file = files
        .iter()
        .filter(|f| f.version == wanted && !f.yanked)
        .find(|f| f.wheel_tags.as_ref().is_some_and(|t| super::links::compatible(t, interp)))
        .ok_or_else(|| format!("no uv {PINNED} wheel for {}", interp.platform))?;
    let dir = binary.parent().ok_or("no cache directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let staged =
        tempfile::Builder::new().prefix(".uv-").tempdir_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let wheel = staged.path().join(&file.filename);
    index.client().download(&file.url, &wheel, file.sha256.as_deref(), &|| false).map_err(|e| e.to_string())?;
    let member = format!("uv-{PINNED}.data/scripts/uv");
    let archive = std::fs::File::open(&wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut entry = zip.by_name(&member).map_err(|e| format!("{member}: {e}"))?;
    let unpacked = staged.path().join("uv");
    let mut out = std::fs::File::create(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
    std::io::copy(&mut entry, &mut out).map_err(|e| format!("{}: {e}", unpacked.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unpacked, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", unpacked.display()))?;
    std::fs::rename(&unpacked, binary).map_err(|e| format!("{}: {e}", binary.display()))
}

/// The index and `find-links` options, as uv takes them.
fn sources(cmd: &mut Command, settings: &Settings) {
    for link in &settings.find_links {
        cmd.args(["--find-links", link]);
    }
    match settings.index.as_deref().filter(|i| !i.is_empty()) {
        // An index that is a missing local directory means "no index" (a common offline idiom).
        Some(i) if i.strip_prefix("file://").is_some_and(|p| !Path::new(p).exists()) => {
            cmd.arg("--no-index");
        }
        Some(i) => {
            cmd.args(["--index-url", i]);
        }
        None => {}
    }
    if settings.offline {
        cmd.arg("--offline");
    }
}

/// Resolves `reqs` (constrained by the pins in `constraints`) for `interp`: every distribution
/// with the files uv chose for it. uv keeps the versions `prefer` names (name, version) where
/// the requirements allow them: that is how `-N` keeps what is installed.
pub(super) fn compile(
    uv: &Path,
    interp: &Interpreter,
    reqs: &[Requirement],
    constraints: &str,
    prefer: &[(String, String)],
    settings: &Settings,
    work: &Path,
) -> Result<Vec<Locked>, PythonError> {
    let constraints_file = work.join("constraints.txt");
    std::fs::write(&constraints_file, constraints).map_err(|e| io(&constraints_file, e))?;
    let input = work.join("requirements.in");
    let lines: String = reqs.iter().map(|r| format!("{}\n", settings.constrained(r))).collect();
    std::fs::write(&input, lines).map_err(|e| io(&input, e))?;
    // uv insists on this name for the format, and reads what the file already holds as the
    // versions to keep.
    let output = work.join("pylock.toml");
    if !prefer.is_empty() {
        std::fs::write(&output, lock::preferences(prefer)).map_err(|e| io(&output, e))?;
    }
    let mut cmd = command(uv);
    cmd.args(["pip", "compile", "--quiet", "--format", "pylock.toml", "--python"])
        .arg(&interp.executable)
        .arg("-c")
        .arg(&constraints_file)
        .arg("-o")
        .arg(&output);
    sources(&mut cmd, settings);
    cmd.arg(&input);
    let out = super::run(&mut cmd, uv)?;
    if !out.status.success() {
        return Err(failure(&out, reqs, settings));
    }
    let text = std::fs::read_to_string(&output).map_err(|e| io(&output, e))?;
    lock::parse(&text).map_err(|reason| PythonError::Resolve(format!("uv's resolution {}: {reason}", output.display())))
}

/// uv, trusting what buildout's own HTTP client trusts: the system's certificate store (behind
/// a TLS-inspecting proxy its bundled roots fail where buildout succeeds). The user's own
/// setting wins; older uv releases name it `UV_NATIVE_TLS`.
fn command(uv: &Path) -> Command {
    let mut cmd = Command::new(uv);
    for name in ["UV_SYSTEM_CERTS", "UV_NATIVE_TLS"] {
        if std::env::var_os(name).is_none() {
            cmd.env(name, "1");
        }
    }
    cmd
}

/// Builds a wheel of the source distribution `sdist` into `out_dir` with uv (which gets the
/// build backend from the same sources).
pub(super) fn build(
    uv: &Path,
    interp: &Interpreter,
    sdist: &Path,
    out_dir: &Path,
    settings: &Settings,
) -> Result<(), PythonError> {
    let mut cmd = command(uv);
    cmd.args(["build", "--quiet", "--wheel", "--python"]).arg(&interp.executable).arg("--out-dir").arg(out_dir);
    sources(&mut cmd, settings);
    cmd.arg(sdist);
    let out = super::run(&mut cmd, uv)?;
    if !out.status.success() {
        let name = sdist.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(PythonError::Resolve(format!("Couldn't build {name}:\n{}", explanation(&out))));
    }
    Ok(())
}

/// uv's explanation without its `error:` / `cause:` / `hint:` labels.
pub(super) fn explanation(output: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<String> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("warning:"))
        .map(|l| {
            let l = l.strip_prefix("error: ").unwrap_or(l);
            let inner = l.trim_start();
            match inner.strip_prefix("cause: ").or_else(|| inner.strip_prefix("╰─▶ ")) {
                Some(cause) => format!("  {cause}"),
                None if inner.len() < l.len() => format!("  {inner}"),
                None => l.to_owned(),
            }
        })
        .collect();
    lines.join("\n")
}

/// What a failed `uv pip compile` means for the user: a distribution that is nowhere is
/// zc.buildout's "Couldn't find a distribution", anything else a conflict with uv's words.
fn failure(output: &std::process::Output, reqs: &[Requirement], settings: &Settings) -> PythonError {
    let text = explanation(output);
    for marker in [" was not found in the package registry", " was not found in the provided package locations"] {
        if let Some(at) = text.find(marker) {
            let name = text[..at].rsplit(' ').next().unwrap_or_default();
            let key = super::requirement::canonical_name(name);
            let requirement = reqs
                .iter()
                .find(|r| r.key() == key)
                .map_or_else(|| name.to_owned(), |r| settings.constrained(r).to_string());
            return PythonError::Missing { requirement, chain: Vec::new() };
        }
    }
    if text.starts_with("No solution found") {
        return PythonError::Conflict { pins: super::settings::pins_mentioned(&text, settings), message: text };
    }
    PythonError::Resolve(text)
}

/// The distributions uv's explanation says have no file for this Python (`X has no wheels
/// with a matching ...`, `X==1 depends on Python>=...`), as canonical names.
pub(super) fn unusable_here(explanation: &str) -> Vec<String> {
    let mut names = Vec::new();
    for marker in [" has no wheels with a matching", " depends on Python"] {
        let mut rest = explanation;
        while let Some(at) = rest.find(marker) {
            let word = rest[..at].rsplit([' ', '\n']).next().unwrap_or_default();
            let name = word.split(['<', '>', '=', '!', '~']).next().unwrap_or_default();
            let key = super::requirement::canonical_name(name.trim_matches('`'));
            if !key.is_empty() && !names.contains(&key) {
                names.push(key);
            }
            rest = &rest[at + marker.len()..];
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stderr: &str) -> std::process::Output {
        use std::os::unix::process::ExitStatusExt;
        std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn failures_say_what_the_user_asked_for() {
        let settings = Settings {
            versions: [("zodb".to_owned(), "4.0.0".to_owned())].into_iter().collect(),
            ..Settings::default()
        };
        let reqs = [Requirement::parse("NoSuch.Package>=1").expect("req"), Requirement::parse("ZEO").expect("req")];
        let missing = "error: No solution found when resolving dependencies\n  cause: Because nosuch-package was not \
                       found in the package registry and you require nosuch-package>=1, we can conclude that your \
                       requirements are unsatisfiable.\n";
        let e = failure(&output(missing), &reqs, &settings);
        assert_eq!(e.to_string(), "Couldn't find a distribution for 'NoSuch.Package>=1'.");
        let conflict = "error: No solution found when resolving dependencies\n  cause: Because zeo>=6.2 depends on \
                        zodb>=5.1.1 and zodb==4.0.0, we can conclude that zeo>=6.2 cannot be used.\n         And \
                        because you require zeo==6.2, we can conclude that your requirements are unsatisfiable.\n";
        let PythonError::Conflict { message, pins } = failure(&output(conflict), &reqs, &settings) else {
            panic!("a conflict")
        };
        assert!(message.starts_with("No solution found when resolving dependencies\n  Because zeo>=6.2"), "{message}");
        assert_eq!(pins, ["zodb"]);
    }

    #[test]
    fn names_that_have_nothing_for_this_python() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "No solution found\n  Because pywin32<=302 has no wheels with a matching Python ABI tag (e.g., `cp311`) \
                 and ...\n  And because pywin32>=303 has no wheels with a matching platform tag",
                &["pywin32"],
            ),
            (
                "Because the current Python version (3.9.18) does not satisfy Python>=3.11 and \
                 zope-interface==8.7 depends on Python>=3.11, we can conclude",
                &["zope-interface"],
            ),
            ("Because zeo>=6.2 depends on zodb>=5.1.1", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(unusable_here(text), expected, "{text}");
        }
    }
}
