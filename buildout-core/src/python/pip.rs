//! pip, the installer of last resort: when uv is neither on PATH nor to be had from the
//! index, `pip install --dry-run --report` resolves, and `pip wheel` builds source
//! distributions.

use std::path::Path;
use std::process::Command;

use super::interpreter::Interpreter;
use super::lock::LockedFile;
use super::lock::Picked;
use super::requirement::Requirement;
use super::settings::{Settings, pins_mentioned};
use super::{PythonError, io};

fn pip(interp: &Interpreter) -> Command {
    let mut cmd = Command::new(&interp.executable);
    cmd.args(["-m", "pip"]).env("PIP_DISABLE_PIP_VERSION_CHECK", "1").env("PIP_NO_INPUT", "1");
    cmd
}

fn sources(cmd: &mut Command, settings: &Settings) {
    for link in &settings.find_links {
        cmd.args(["--find-links", link]);
    }
    if let Some(index) = settings.index.as_deref().filter(|i| !i.is_empty()) {
        cmd.args(["--index-url", index]);
    }
}

/// What pip says went wrong, without its noise.
pub(super) fn failure(output: &std::process::Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let mut lines: Vec<String> = stderr
        .lines()
        .map(|l| l.trim_start_matches("ERROR: ").trim_end())
        .filter(|l| !l.is_empty() && !l.starts_with("WARNING") && !l.starts_with("[notice]"))
        .map(str::to_owned)
        .collect();
    // Which requirements conflict goes to standard output, among what pip did before it failed.
    if let Some(at) = stdout.find("The conflict is caused by:") {
        let block = stdout[at..].split("\nTo fix this").next().unwrap_or_default();
        let block = block.lines().map(str::trim_end).filter(|l| !l.is_empty()).map(str::to_owned);
        let after = lines.len().min(1);
        lines.splice(after..after, block);
    }
    // The message goes after `Error: `.
    lines.join("\n").trim_start().to_owned()
}

/// Resolves with pip, without installing anything: every distribution with the file pip
/// would install it from.
pub(super) fn resolve(
    interp: &Interpreter,
    reqs: &[Requirement],
    constraints: &str,
    settings: &Settings,
    work: &Path,
) -> Result<Vec<Picked>, PythonError> {
    let report = work.join("report.json");
    let constraints_file = work.join("constraints.txt");
    std::fs::write(&constraints_file, constraints).map_err(|e| io(&constraints_file, e))?;
    let mut cmd = pip(interp);
    // Not quiet: a quiet pip leaves out which requirements conflict.
    cmd.args(["install", "--dry-run", "--ignore-installed", "--progress-bar", "off", "--report"])
        .arg(&report)
        .arg("-c")
        .arg(&constraints_file);
    sources(&mut cmd, settings);
    cmd.args(reqs.iter().map(|r| settings.constrained(r).to_string()));
    let out = super::run(&mut cmd, Path::new(&interp.executable))?;
    if !out.status.success() {
        let failure = failure(&out);
        let missing = failure.lines().find_map(|l| l.strip_prefix("No matching distribution found for "));
        return Err(match missing {
            Some(r) => PythonError::Missing { requirement: r.trim().to_owned(), chain: Vec::new() },
            None if failure.contains("ResolutionImpossible") => {
                PythonError::Conflict { pins: pins_mentioned(&failure, settings), message: failure }
            }
            None => PythonError::Resolve(failure),
        });
    }
    let text = std::fs::read_to_string(&report).map_err(|e| io(&report, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&report, e))?;
    let picked = json["install"].as_array().into_iter().flatten().map(|i| {
        let url = i["download_info"]["url"].as_str().unwrap_or_default().to_owned();
        let sha256 = i["download_info"]["archive_info"]["hashes"]["sha256"].as_str().map(str::to_owned);
        Picked {
            name: i["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            version: i["metadata"]["version"].as_str().unwrap_or_default().to_owned(),
            sdist: !url.ends_with(".whl"),
            file: (!url.is_empty()).then_some(LockedFile { url, sha256 }),
            requirement: None,
        }
    });
    Ok(picked.collect())
}

/// Builds a wheel of the source distribution `sdist` into `out_dir`.
pub(super) fn wheel(
    interp: &Interpreter,
    sdist: &Path,
    out_dir: &Path,
    settings: &Settings,
) -> Result<(), PythonError> {
    let mut cmd = pip(interp);
    cmd.args(["wheel", "--no-deps", "--quiet", "-w"]).arg(out_dir);
    sources(&mut cmd, settings);
    cmd.arg(sdist);
    let out = super::run(&mut cmd, Path::new(&interp.executable))?;
    if !out.status.success() {
        let name = sdist.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(PythonError::Resolve(format!("Couldn't build {name}:\n{}", failure(&out))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stdout: &str, stderr: &str) -> std::process::Output {
        use std::os::unix::process::ExitStatusExt;
        std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn failures_keep_the_explanation() {
        let stdout = "Collecting ZEO==6.2\n  Downloading zeo-6.2-py3-none-any.whl (247 kB)\n\nThe conflict is caused by:\n    \
                      zeo 6.2 depends on ZODB>=5.1.1\n    The user requested (constraint) zodb==4.0.0\n\nTo fix this you \
                      could try to:\n1. loosen the range\n";
        let stderr = "ERROR: Cannot install zeo==6.2 because these package versions have conflicting dependencies.\n\
                      ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/\n[notice] A new release\n";
        let cases = [
            (
                output(stdout, stderr),
                "Cannot install zeo==6.2 because these package versions have conflicting dependencies.\nThe conflict \
                 is caused by:\n    zeo 6.2 depends on ZODB>=5.1.1\n    The user requested (constraint) zodb==4.0.0\n\
                 ResolutionImpossible: for help visit https://pip.pypa.io/",
            ),
            (
                output("Collecting nothing\n", "ERROR: No matching distribution found for nothing\n"),
                "No matching distribution found for nothing",
            ),
        ];
        for (out, expected) in cases {
            assert_eq!(failure(&out), expected);
        }
    }
}
