//! `buildout recipes package [CRATE_DIR] [--out DIR] [--profile PROFILE]`: builds a recipe
//! crate (release by default) and writes its recipe wheel, which buildout then installs by
//! distribution name from a `find-links` directory or an index (see
//! `buildout_core::recipe_wheel`).

use std::io::Write;
use std::path::PathBuf;

use buildout_core::package;

use crate::failure::Failure;

const USAGE: &str = "buildout recipes package [CRATE_DIR] [--out DIR] [--profile PROFILE]";

/// What the command line of `recipes package` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    crate_dir: PathBuf,
    out: Option<PathBuf>,
    profile: String,
}

fn parse(args: &[String]) -> Result<Request, Failure> {
    let mut request = Request { crate_dir: PathBuf::from("."), out: None, profile: "release".to_owned() };
    let mut positional = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let (flag, attached) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (word.as_str(), None),
        };
        let mut value = |name: &str| {
            attached
                .clone()
                .or_else(|| words.next().cloned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Failure::plain(format!("{name} needs a value (usage: {USAGE})")))
        };
        match flag {
            "--out" => request.out = Some(PathBuf::from(value("--out")?)),
            "--profile" => request.profile = value("--profile")?,
            "--release" => request.profile = "release".to_owned(),
            "--debug" => request.profile = "dev".to_owned(),
            other if other.starts_with('-') => {
                return Err(Failure::plain(format!("Invalid option for recipes package: {other} (usage: {USAGE})")));
            }
            _ => positional.push(word.clone()),
        }
    }
    match positional.as_slice() {
        [] => {}
        [dir] => request.crate_dir = PathBuf::from(dir),
        _ => return Err(Failure::plain(format!("recipes package takes one crate directory (usage: {USAGE})"))),
    }
    Ok(request)
}

/// Runs `buildout recipes package ...`: one line naming the wheel written.
pub(crate) fn run(args: &[String]) -> Result<u8, Failure> {
    let request = parse(args)?;
    let dir = &request.crate_dir;
    if !dir.join("Cargo.toml").is_file() {
        return Err(Failure::plain(format!("{} is not a recipe crate: it has no Cargo.toml", dir.display())));
    }
    let failure = |e: package::PackageError| Failure::plain(e.to_string());
    let info = package::crate_info(dir).map_err(failure)?;
    // Cargo's progress and diagnostics go straight to the terminal: a release build takes a while.
    let library =
        package::build_cdylib(&info.manifest, &request.profile, std::process::Stdio::inherit()).map_err(failure)?;
    let out = request.out.clone().unwrap_or_else(|| info.target_directory.join("wheels"));
    let packaged = package::package_library(&library, &info, &out).map_err(failure)?;
    let line = format!(
        "Wrote {} ({} {}, recipe ABI {}, {}).\n",
        packaged.wheel.display(),
        packaged.info.distribution,
        packaged.info.version,
        packaged.info.abi,
        packaged.platform_tag
    );
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn command_lines() {
        let request = |crate_dir: &str, out: Option<&str>, profile: &str| Request {
            crate_dir: PathBuf::from(crate_dir),
            out: out.map(PathBuf::from),
            profile: profile.to_owned(),
        };
        let cases: [(&str, Result<Request, &str>); 9] = [
            ("", Ok(request(".", None, "release"))),
            ("crates/hello", Ok(request("crates/hello", None, "release"))),
            ("--out dist crates/hello", Ok(request("crates/hello", Some("dist"), "release"))),
            ("crates/hello --out=dist --debug", Ok(request("crates/hello", Some("dist"), "dev"))),
            ("--profile bench", Ok(request(".", None, "bench"))),
            ("--out", Err("--out needs a value")),
            ("--out=", Err("--out needs a value")),
            ("--frob", Err("Invalid option for recipes package: --frob")),
            ("a b", Err("recipes package takes one crate directory")),
        ];
        for (line, expected) in cases {
            match (parse(&words(line)), expected) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{line}"),
                (Err(failure), Err(start)) => {
                    assert!(failure.message.starts_with(start), "{line}: {}", failure.message);
                    assert!(failure.message.ends_with(&format!("(usage: {USAGE})")), "{line}");
                }
                (got, expected) => panic!("{line}: {got:?} instead of {expected:?}"),
            }
        }
    }
}
