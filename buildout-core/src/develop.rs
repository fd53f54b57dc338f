//! `develop = <dir> ...` for recipe crates: a directory holding a `Cargo.toml` is built with
//! cargo (release) and its recipe library copied into `develop-eggs`, which then comes first on
//! the recipe search path. This is how a recipe plugin is installed from source. Cargo is only
//! run when a source file changed since the last build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a develop directory could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DevelopError {
    #[error("Couldn't run cargo to build the recipe crate {}: {source}", .dir.display())]
    Cargo {
        dir: PathBuf,
        #[source]
        source: crate::interrupt::RunError,
    },
    #[error("Building the recipe crate {} failed:\n{output}", .dir.display())]
    Build { dir: PathBuf, output: String },
    #[error("The crate {} builds no recipe library (a cdylib)", .dir.display())]
    NoLibrary { dir: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path, e: std::io::Error) -> DevelopError {
    DevelopError::Io { path: path.to_owned(), source: e }
}

/// A fingerprint of everything cargo would look at: every file's path, size and modification
/// time, outside `target/` and hidden directories (a stable hash: it is kept in a stamp file).
fn fingerprint(dir: &Path) -> Result<String, DevelopError> {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| io(&path, e))?;
            if meta.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else {
                let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                files.push((path, meta.len(), mtime));
            }
        }
    }
    files.sort();
    let mut hash = crate::stable_hash::StableHash::default();
    for (path, len, mtime) in &files {
        let mtime = mtime.map(|t| (t.as_secs(), t.subsec_nanos())).unwrap_or_default();
        hash.field(path.as_os_str().as_encoded_bytes())
            .field(&len.to_le_bytes())
            .field(&mtime.0.to_le_bytes())
            .field(&mtime.1.to_le_bytes());
    }
    Ok(hash.hex(32))
}

/// The cdylib cargo reported in its JSON messages (the last one; of the package whose manifest
/// is `manifest`, when given: a workspace build reports its members' too).
pub(crate) fn built_library(stdout: &str, manifest: Option<&Path>) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            manifest.is_none_or(|manifest| m["manifest_path"].as_str().is_some_and(|p| Path::new(p) == manifest))
        })
        .filter(|m| m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")))
        .filter_map(|m| {
            m["filenames"]
                .as_array()?
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX))
                .map(PathBuf::from)
        })
        .next_back()
}

/// Builds the recipe crate in `dir` if its sources changed and copies its library into
/// `develop_eggs`. Returns the library's path there.
pub fn develop_recipe_crate(dir: &Path, develop_eggs: &Path) -> Result<PathBuf, DevelopError> {
    let print = fingerprint(dir)?;
    let stamp_name =
        format!("{}.recipe-stamp", dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let stamp = develop_eggs.join(stamp_name);
    if let Ok(text) = std::fs::read_to_string(&stamp)
        && let Some((hash, lib)) = text.trim_end().split_once('\n')
    {
        let lib = PathBuf::from(lib);
        if hash == print && lib.is_file() {
            return Ok(lib);
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Stopped (with its process group) on Ctrl-C or SIGTERM; the CLI then says it was interrupted.
    let output = crate::interrupt::output(
        Command::new(cargo)
            .args(["build", "--release", "--message-format=json-render-diagnostics", "--manifest-path"])
            .arg(dir.join("Cargo.toml")),
    )
    .map_err(|source| DevelopError::Cargo { dir: dir.to_owned(), source })?;
    if !output.status.success() {
        return Err(DevelopError::Build {
            dir: dir.to_owned(),
            output: String::from_utf8_lossy(&output.stderr).trim_end().to_owned(),
        });
    }
    let built = built_library(&String::from_utf8_lossy(&output.stdout), None)
        .ok_or_else(|| DevelopError::NoLibrary { dir: dir.to_owned() })?;
    std::fs::create_dir_all(develop_eggs).map_err(|e| io(develop_eggs, e))?;
    let name = built.file_name().map(PathBuf::from).unwrap_or_default();
    let target = develop_eggs.join(&name);
    // Replace, never overwrite in place: a process may have the old copy loaded.
    let temporary = develop_eggs.join(format!(".{}.tmp", name.display()));
    std::fs::copy(&built, &temporary).map_err(|e| io(&temporary, e))?;
    std::fs::rename(&temporary, &target).map_err(|e| io(&target, e))?;
    // Cargo may have written to the crate (Cargo.lock): fingerprint it as the build left it.
    let print = fingerprint(dir)?;
    let recorded = format!("{print}\n{}\n", target.display());
    let temporary = stamp.with_extension("tmp");
    std::fs::write(&temporary, recorded).map_err(|e| io(&temporary, e))?;
    std::fs::rename(&temporary, &stamp).map_err(|e| io(&stamp, e))?;
    Ok(target)
}

/// Whether `dir` is a recipe crate (as opposed to a Python project).
pub fn is_recipe_crate(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_follows_sources_not_target() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        std::fs::write(dir.path().join("src/lib.rs"), "a").expect("write");
        let first = fingerprint(dir.path()).expect("fingerprint");
        std::fs::write(dir.path().join("target/out"), "x").expect("write");
        assert_eq!(fingerprint(dir.path()).expect("fingerprint"), first);
        std::fs::write(dir.path().join("src/lib.rs"), "ab").expect("write");
        assert_ne!(fingerprint(dir.path()).expect("fingerprint"), first);
    }

    #[test]
    fn library_from_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libx.rlib"]}
{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/t/release/libhello_recipes.so"]}
{"reason":"build-finished","success":true}"#;
        let expected = PathBuf::from(format!("/t/release/libhello_recipes{}", std::env::consts::DLL_SUFFIX));
        if std::env::consts::DLL_SUFFIX == ".so" {
            assert_eq!(built_library(messages, None), Some(expected));
        }
    }
}
