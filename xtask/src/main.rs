//! `cargo xtask`: installing buildout from this repository.
//!
//! * `cargo xtask install --prefix DIR`: builds (release) the `buildout` binary and the recipe
//!   libraries that ship with it, and installs them as `DIR/bin/buildout` and
//!   `DIR/lib/buildout/recipes/`, where the loader looks (`<program dir>/../lib/buildout/recipes`).
//! * `cargo xtask wheel [--out DIR]`: the same files as a wheel,
//!   `buildout-<version>-py3-none-manylinux_2_N_<arch>.whl` (the binary as a script, the
//!   libraries as data), which `pip install` puts at `<venv>/bin/buildout` and
//!   `<venv>/lib/buildout/recipes/`, as ruff and uv ship on PyPI. Written by buildout's own
//!   packaging code (`buildout_core::package`), in `target/wheels/` by default.
//!
//! Both take `--debug` (or `--profile PROFILE`): the debug build the tests use, instead of a
//! release build.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use buildout_core::package::{self, ElfNeeds, Wheel};

/// The recipe libraries that ship with buildout: (package, library target).
const SHIPPED: [(&str, &str); 4] = [
    ("recipe-zodb", "zc_zodbrecipes"),
    ("recipe-egg", "zc_recipe_egg"),
    ("recipe-deployment", "zc_recipe_deployment"),
    ("recipe-python-bridge", "buildout_pythonbridge"),
];

const USAGE: &str = "usage: cargo xtask install --prefix DIR [--debug | --profile PROFILE]\n       \
                     cargo xtask wheel [--out DIR] [--debug | --profile PROFILE]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr().lock(), "Error: {message}");
            ExitCode::from(1)
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    command: String,
    prefix: Option<PathBuf>,
    out: Option<PathBuf>,
    profile: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut words = args.iter();
    let command = words.next().cloned().ok_or_else(|| USAGE.to_owned())?;
    let mut options = Options { command, prefix: None, out: None, profile: "release".to_owned() };
    while let Some(word) = words.next() {
        let (flag, attached) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (word.as_str(), None),
        };
        let mut value = || {
            attached
                .clone()
                .or_else(|| words.next().cloned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag {
            "--prefix" => options.prefix = Some(PathBuf::from(value()?)),
            "--out" => options.out = Some(PathBuf::from(value()?)),
            "--profile" => options.profile = value()?,
            "--debug" => options.profile = "dev".to_owned(),
            "--release" => options.profile = "release".to_owned(),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    match options.command.as_str() {
        "install" if options.prefix.is_none() => Err(format!("install needs --prefix DIR\n{USAGE}")),
        "install" | "wheel" => Ok(options),
        "-h" | "--help" | "help" => Err(USAGE.to_owned()),
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let built = build(&options.profile)?;
    let mut out = std::io::stdout().lock();
    match options.command.as_str() {
        "install" => {
            let prefix = options.prefix.unwrap_or_default();
            let prefix = std::path::absolute(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
            let bin = prefix.join("bin");
            install_file(&built.binary, &bin.join("buildout"))?;
            let _ = writeln!(out, "Installed {}", bin.join("buildout").display());
            let recipes = prefix.join("lib/buildout/recipes");
            for library in &built.libraries {
                let name = library.file_name().ok_or_else(|| format!("{}: no file name", library.display()))?;
                install_file(library, &recipes.join(name))?;
                let _ = writeln!(out, "Installed {}", recipes.join(name).display());
            }
        }
        _ => {
            let out_dir = match options.out {
                Some(dir) => dir,
                None => target_directory()?.join("wheels"),
            };
            // A debug build is for tests: written faster stored than deflated.
            let wheel = wheel(&built, &out_dir, options.profile != "dev")?;
            let _ = writeln!(out, "Wrote {}", wheel.display());
        }
    }
    Ok(())
}

/// The workspace's root directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_owned).unwrap_or_default()
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn target_directory() -> Result<PathBuf, String> {
    let output = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable `cargo metadata` output: {e}"))?;
    metadata["target_directory"].as_str().map(PathBuf::from).ok_or_else(|| "cargo names no target directory".into())
}

/// What `build` made.
struct Built {
    binary: PathBuf,
    libraries: Vec<PathBuf>,
}

/// Builds the binary and the shipped recipe libraries in `profile`, each package on its own
/// (as the tests build them, so a debug build is reused as it is).
fn build(profile: &str) -> Result<Built, String> {
    let binary = artifact("buildout-cli", "buildout", profile)?;
    let libraries =
        SHIPPED.iter().map(|(package, target)| artifact(package, target, profile)).collect::<Result<_, _>>()?;
    Ok(Built { binary, libraries })
}

/// Builds `package` and returns the file of its target `target` (an executable or a cdylib).
fn artifact(package: &str, target: &str, profile: &str) -> Result<PathBuf, String> {
    let mut child = Command::new(cargo())
        .args(["build", "-p", package, "--profile", profile, "--message-format=json-render-diagnostics"])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut messages = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut messages).map_err(|e| format!("reading cargo's output: {e}"))?;
    }
    let status = child.wait().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {package} failed ({status})"));
    }
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == target)
        .find_map(|m| {
            m["executable"].as_str().map(PathBuf::from).or_else(|| {
                m["filenames"]
                    .as_array()?
                    .iter()
                    .filter_map(|f| f.as_str())
                    .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX))
                    .map(PathBuf::from)
            })
        })
        .ok_or_else(|| format!("cargo reported no {target} for {package}"))
}

/// Copies `from` to `to` (mode 755), replacing any file there by renaming a complete copy over
/// it: a running buildout may have the old library mapped, and writing into it would crash it.
fn install_file(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = to.parent().ok_or_else(|| format!("{}: no parent directory", to.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let staged = tempfile_in(dir)?;
    std::fs::copy(from, &staged).map_err(|e| format!("copying {} to {}: {e}", from.display(), staged.display()))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", staged.display()))?;
    std::fs::rename(&staged, to).map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        format!("{}: {e}", to.display())
    })
}

/// A path for a new file in `dir`, not in use.
fn tempfile_in(dir: &Path) -> Result<PathBuf, String> {
    for n in 0..1000u32 {
        let path = dir.join(format!(".xtask-{}-{n}", std::process::id()));
        if !path.exists() {
            return Ok(path);
        }
    }
    Err(format!("{}: no free temporary name", dir.display()))
}

/// Writes the wheel of buildout: the binary as a script, the libraries as data under
/// `lib/buildout/recipes/`, tagged for the highest glibc any of them needs.
fn wheel(built: &Built, out_dir: &Path, compress: bool) -> Result<PathBuf, String> {
    let info = package::crate_info(&root().join("buildout-cli")).map_err(|e| e.to_string())?;
    let mut needs = vec![package::elf_needs(&built.binary).map_err(|e| e.to_string())?];
    for library in &built.libraries {
        needs.push(package::elf_needs(library).map_err(|e| e.to_string())?);
    }
    let needs = ElfNeeds::combine(&needs).ok_or("nothing to package")?;
    let tag = format!("py3-none-{}", needs.platform_tag());
    let mut wheel = Wheel::new("buildout", &info.version, &tag).map_err(|e| e.to_string())?;
    wheel
        .header("Summary", &info.description)
        .header("License", &info.license)
        .header("Keywords", "buildout,zc.buildout")
        .header("Classifier", "Framework :: Buildout")
        .header("Classifier", "Programming Language :: Rust")
        .compress(compress);
    let data = wheel.data_dir();
    wheel.file(&format!("{data}/scripts/buildout"), &built.binary, 0o755).map_err(|e| e.to_string())?;
    for library in &built.libraries {
        let name = library.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        wheel.file(&format!("{data}/data/lib/buildout/recipes/{name}"), library, 0o755).map_err(|e| e.to_string())?;
    }
    wheel.write(out_dir).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn command_lines() {
        let options = |command: &str, prefix: Option<&str>, out: Option<&str>, profile: &str| Options {
            command: command.into(),
            prefix: prefix.map(PathBuf::from),
            out: out.map(PathBuf::from),
            profile: profile.into(),
        };
        let cases: [(&str, Result<Options, &str>); 8] = [
            ("install --prefix /usr/local", Ok(options("install", Some("/usr/local"), None, "release"))),
            ("install --prefix=/opt/b --debug", Ok(options("install", Some("/opt/b"), None, "dev"))),
            ("wheel", Ok(options("wheel", None, None, "release"))),
            ("wheel --out dist --profile bench", Ok(options("wheel", None, Some("dist"), "bench"))),
            ("install", Err("install needs --prefix DIR")),
            ("wheel --out", Err("--out needs a value")),
            ("wheel --frob", Err("unknown argument \"--frob\"")),
            ("publish", Err("unknown command \"publish\"")),
        ];
        for (line, expected) in cases {
            match (parse(&words(line)), expected) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{line}"),
                (Err(message), Err(start)) => {
                    assert!(message.starts_with(start) && message.ends_with(USAGE), "{line}: {message}")
                }
                (got, expected) => panic!("{line}: {got:?} instead of {expected:?}"),
            }
        }
        assert_eq!(parse(&[]), Err(USAGE.to_owned()));
    }
}
