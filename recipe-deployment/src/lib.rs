//! `zc.recipe.deployment`: the directories of a system deployment (`default`, also named
//! `deployment`), configuration files in its etc directory (`configuration`), crontab files
//! (`crontab`), and blocks in a shared configuration file (`sharedconfig`), option for option,
//! message for message, as zc.recipe.deployment 1.3.0 does.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use buildout_core::sdk::python::{path, repr};
use buildout_core::sdk::{Context, LogLevel, Options, Recipe, RecipeError};

mod accounts;

/// The distribution name recipes are looked up by (`recipe = zc.recipe.deployment`).
pub const DISTRIBUTION: &str = "zc.recipe.deployment";
/// The logger the recipe's messages go under.
const LOGGER: &str = "zc.recipe.deployment";

fn deprecated(ctx: &Context<'_>, name: &str, instead: Option<&str>) {
    let message = match instead {
        Some(instead) => format!("found deprecated '{name}' setting (used '{instead}' instead)"),
        None => format!("using deprecated '{name}' setting"),
    };
    ctx.log(LogLevel::Warning, LOGGER, &message);
}

/// An option that counts as unset when empty, as the recipe's `options.get(key)` tests do.
fn nonempty<'o>(options: &'o Options, key: &str) -> Option<&'o str> {
    options.get(key).filter(|v| !v.is_empty())
}

/// The `[deployment]` options of the system configuration file, `<etc>/zc.recipe.deployment.cfg`.
fn system_configuration(etc: &str) -> Result<BTreeMap<String, String>, RecipeError> {
    let file = path::join(etc, "zc.recipe.deployment.cfg");
    let Ok(text) = std::fs::read_to_string(&file) else { return Ok(BTreeMap::new()) };
    let parsed = buildout_core::config::parser::parse(&text, &file, buildout_core::config::Environment::current())
        .map_err(|e| RecipeError::user(e.to_string()))?;
    Ok(parsed.get("deployment").cloned().unwrap_or_default())
}

/// `default` and `deployment`: computes the deployment's directories in its constructor (other
/// parts read them), makes them with their owners and modes in `install`.
pub struct Install;

impl Recipe for Install {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        if nonempty(options, "name").is_none() {
            options.set("name", ctx.part());
        }
        let name = options.require("name")?.to_owned();
        let prefix = match nonempty(options, "prefix") {
            Some(prefix) => prefix.to_owned(),
            None => {
                options.set("prefix", "/");
                "/".to_owned()
            }
        };
        let etc_prefix =
            match (nonempty(options, "etc-prefix").map(str::to_owned), nonempty(options, "etc").map(str::to_owned)) {
                (Some(etc_prefix), etc) => {
                    if etc.is_some() {
                        deprecated(ctx, "etc", Some("etc-prefix"));
                    }
                    etc_prefix
                }
                (None, Some(etc)) => {
                    deprecated(ctx, "etc", None);
                    etc
                }
                (None, None) => "etc".to_owned(),
            };
        let etc = path::join(&prefix, &etc_prefix);
        for (key, value) in system_configuration(&etc)? {
            if key != "var-prefix" {
                return Err(RecipeError::user(format!("disallowed option {} in system configuration", repr(&key))));
            }
            if !value.is_empty() && nonempty(options, &key).is_none() {
                options.set(key, value);
            }
        }
        let var_prefix = nonempty(options, "var-prefix").map(str::to_owned);
        let var = path::join(&prefix, var_prefix.as_deref().unwrap_or("var"));
        let (log, run) = if var_prefix.is_some() {
            if nonempty(options, "log").is_some() {
                deprecated(ctx, "log", Some("var-prefix"));
            }
            let log = path::join(&var, "log");
            if nonempty(options, "run").is_some() {
                deprecated(ctx, "run", Some("var-prefix"));
            }
            (log, path::join(&var, "run"))
        } else {
            let place = |key: &str, default: &str| {
                let value = nonempty(options, key).map(str::to_owned);
                if value.is_some() {
                    match nonempty(options, &format!("{key}-directory")) {
                        Some(_) => deprecated(ctx, key, Some(&format!("{key}-directory"))),
                        None => deprecated(ctx, key, None),
                    }
                }
                path::join(&prefix, value.as_deref().unwrap_or(default))
            };
            let log = place("log", "var/log");
            (log, place("run", "var/run"))
        };
        options.set("etc-prefix", etc.clone());
        options.set("var-prefix", var.clone());
        let directories: [(&str, &str, &[&str]); 8] = [
            // the /etc hierarchy
            ("crontab", &etc, &["cron.d"]),
            ("etc", &etc, &[&name]),
            ("logrotate", &etc, &["logrotate.d"]),
            ("rc", &etc, &["init.d"]),
            // the /var hierarchy
            ("cache", &var, &["cache", &name]),
            ("lib", &var, &["lib", &name]),
            ("log", &log, &[&name]),
            ("run", &run, &[&name]),
        ];
        for (key, base, tail) in directories {
            let key = format!("{key}-directory");
            let value = match nonempty(options, &key) {
                Some(setting) => path::join(&prefix, setting),
                None => tail.iter().fold(base.to_owned(), |p, t| path::join(&p, t)),
            };
            options.set(key, value);
        }
        Ok(Install)
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let run_user = options.require("user")?;
        let etc_user = options.get("etc-user").unwrap_or("root");
        let (run_uid, run_gid) = user(run_user)?;
        let (etc_uid, etc_gid) = user(etc_user)?;
        let mut made = Vec::new();
        let mut wanted: Vec<(&str, u32, u32, u32)> = vec![
            ("etc", etc_uid, etc_gid, 0o755),
            ("cache", run_uid, run_gid, 0o755),
            ("lib", run_uid, run_gid, 0o755),
            ("log", run_uid, run_gid, 0o755),
            ("run", run_uid, run_gid, 0o750),
        ];
        if options.get("prefix") != Some("/") {
            wanted.extend([
                ("crontab", etc_uid, etc_gid, 0o755),
                ("rc", etc_uid, etc_gid, 0o755),
                ("logrotate", etc_uid, etc_gid, 0o755),
            ]);
        }
        for (key, uid, gid, mode) in wanted {
            let dir = options.require(&format!("{key}-directory"))?.to_owned();
            if let Err(e) = make_dir(ctx, &dir, (uid, gid), mode, &mut made) {
                // What this call made goes again (a parent may be gone already).
                for dir in &made {
                    let _ = std::fs::remove_dir_all(dir);
                }
                return Err(e);
            }
        }
        Ok(Vec::new())
    }

    fn update(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

/// A failed file operation as Python words an `OSError` (`[Errno 2] No such file or directory:
/// 'x'`), which zc.buildout prints as the error of the part.
fn os_error(path: impl AsRef<Path>, e: &std::io::Error) -> RecipeError {
    let text = e.to_string();
    let reason = text.split(" (os error").next().unwrap_or(&text);
    let path = path.as_ref().display().to_string();
    match e.raw_os_error() {
        Some(n) => RecipeError::internal(format!("[Errno {n}] {reason}: {}", repr(&path))),
        None => RecipeError::internal(format!("{reason}: {}", repr(&path))),
    }
}

/// A user's uid and gid, or the error Python's `pwd.getpwnam` gives (a `KeyError`, which
/// zc.buildout shows as its text in quotes).
fn user(name: &str) -> Result<(u32, u32), RecipeError> {
    accounts::user(name)
        .ok_or_else(|| RecipeError::internal(repr(&format!("getpwnam(): name not found: {}", repr(name)))))
}

/// Makes `dir` (and its missing parents) or sets its mode, with its owner, logging what it did
/// as the recipe logs it; what it made is added to `made`.
fn make_dir(
    ctx: &Context<'_>,
    dir: &str,
    (uid, gid): (u32, u32),
    mode: u32,
    made: &mut Vec<String>,
) -> Result<(), RecipeError> {
    let user = accounts::user_name(uid)
        .ok_or_else(|| RecipeError::internal(repr(&format!("getpwuid(): uid not found: {uid}"))))?;
    let group = accounts::group_name(gid)
        .ok_or_else(|| RecipeError::internal(repr(&format!("getgrgid(): gid not found: {gid}"))))?;
    let path = Path::new(dir);
    let verb = if path.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| os_error(path, &e))?;
        "Updating"
    } else {
        // Like os.makedirs(dir, mode): the parents as the umask says, the directory with `mode`.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| os_error(parent, &e))?;
        }
        std::fs::DirBuilder::new().mode(mode).create(path).map_err(|e| os_error(path, &e))?;
        made.push(dir.to_owned());
        "Creating"
    };
    ctx.log(
        LogLevel::Info,
        LOGGER,
        &format!("\n    {verb} {},\n    mode {mode:o}, user {}, group {}", repr(dir), repr(&user), repr(&group)),
    );
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| os_error(path, &e))
}

/// The uninstall entry of `default`: the etc directory goes with its content, the others only
/// when empty.
fn uninstall(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    if let Some(etc) = options.get("etc-directory")
        && Path::new(etc).is_dir()
    {
        std::fs::remove_dir_all(etc).map_err(|e| os_error(Path::new(etc), &e))?;
        ctx.log(LogLevel::Info, LOGGER, &format!("Removing {}", repr(etc)));
    }
    let mut keys: Vec<&str> = Vec::new();
    if options.get("prefix").map_or("/", String::as_str) != "/" {
        keys.extend(["crontab", "rc", "logrotate"]);
    }
    keys.extend(["cache", "lib", "log", "run"]);
    for key in keys {
        let Some(dir) = options.get(&format!("{key}-directory")).filter(|d| !d.is_empty()) else { continue };
        let path = Path::new(dir);
        if !path.is_dir() {
            continue;
        }
        let empty = std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(false);
        if empty {
            std::fs::remove_dir(path).map_err(|e| os_error(path, &e))?;
            ctx.log(LogLevel::Info, LOGGER, &format!("Removing {}.", repr(dir)));
        } else {
            ctx.log(LogLevel::Warning, LOGGER, &format!("Can't remove non-empty directory {}.", repr(dir)));
        }
    }
    Ok(())
}

/// The text of a `configuration` or `sharedconfig` part: `file` or `text`, not both.
fn text_of(options: &Options) -> Result<Vec<u8>, RecipeError> {
    if options.contains("file") {
        if options.contains("text") {
            return Err(RecipeError::user("Cannot specify both file and text options"));
        }
        let file = options.require("file")?;
        return std::fs::read(file).map_err(|e| os_error(Path::new(file), &e));
    }
    Ok(options.require("text")?.as_bytes().to_vec())
}

/// `configuration`: a file in the deployment's etc directory (or the parts directory), written
/// when its text changes, then `on-change` run.
pub struct Configuration;

impl Recipe for Configuration {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let directory = match nonempty(options, "deployment").map(str::to_owned) {
            Some(deployment) => {
                let etc_user = ctx.get(&deployment, "etc-user")?.unwrap_or_else(|| "root".to_owned());
                options.set("etc-user", etc_user);
                let prefix = ctx.get(&deployment, "prefix")?.unwrap_or_else(|| "/".to_owned());
                options.set("prefix", prefix.clone());
                match nonempty(options, "directory") {
                    Some(directory) => path::join(&prefix, directory),
                    None => ctx
                        .get(&deployment, "etc-directory")?
                        .ok_or_else(|| RecipeError::user(format!("Missing option: {deployment}:etc-directory")))?,
                }
            }
            None => ctx.buildout_option("parts-directory")?,
        };
        options.set("directory", directory.clone());
        let name = options.get("name").unwrap_or(ctx.part()).to_owned();
        options.set("location", path::join(&directory, &name));
        Ok(Configuration)
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let text = text_of(options)?;
        if nonempty(options, "deployment").is_some() {
            let (uid, gid) = user(options.require("etc-user")?)?;
            let mut made = Vec::new();
            if let Err(e) = make_dir(ctx, options.require("directory")?, (uid, gid), 0o755, &mut made) {
                for dir in &made {
                    let _ = std::fs::remove_dir_all(dir);
                }
                return Err(e);
            }
        }
        let location = options.require("location")?;
        let original = match std::fs::read(location) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(os_error(Path::new(location), &e)),
        };
        if original.as_deref() != Some(text.as_slice()) {
            std::fs::write(location, &text).map_err(|e| os_error(Path::new(location), &e))?;
            if let Some(command) = nonempty(options, "on-change") {
                let status = std::process::Command::new("sh").args(["-c", command]).status();
                if !status.is_ok_and(|s| s.success()) {
                    return Err(RecipeError::internal(format!("{} failed", repr(command))));
                }
            }
        }
        Ok(vec![PathBuf::from(location)])
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install(ctx, options).map(Some)
    }
}

/// `crontab`: one line in a file of the deployment's crontab directory.
pub struct Crontab;

impl Recipe for Crontab {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let deployment = options.require("deployment")?.to_owned();
        let required = |option: &str| -> Result<String, RecipeError> {
            ctx.get(&deployment, option)?
                .ok_or_else(|| RecipeError::user(format!("Missing option: {deployment}:{option}")))
        };
        // The deployment's user is read even when the part names its own, as the recipe does.
        let deployment_user = required("user")?;
        let user = options.get("user").map(str::to_owned).unwrap_or(deployment_user);
        let deployment_name = required("name")?;
        let directory = required("crontab-directory")?;
        options.set("location", path::join(&directory, &format!("{deployment_name}-{}", ctx.part())));
        let times = options.require("times")?.to_owned();
        let command = options.require("command")?.to_owned();
        options.set("entry", format!("{times}\t{user}\t{command}\n"));
        Ok(Crontab)
    }

    fn install(&mut self, _ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let location = options.require("location")?;
        std::fs::write(location, options.require("entry")?).map_err(|e| os_error(Path::new(location), &e))?;
        Ok(vec![PathBuf::from(location)])
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install(ctx, options).map(Some)
    }
}

fn begin_marker(entry: &str) -> String {
    format!("#[{entry} DO NOT MODIFY LINES FROM HERE#")
}

fn end_marker(entry: &str) -> String {
    format!("#TILL HERE {entry}]#")
}

/// `sharedconfig`: a marked block appended to an existing file, removed on uninstall.
pub struct SharedConfig;

impl Recipe for SharedConfig {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        // Without a deployment the recipe asks for `buildout[None]`.
        let Some(deployment) = options.get("deployment").map(str::to_owned) else {
            return Err(
                RecipeError::user("The referenced section, None, was not defined.").within("Getting section None.")
            );
        };
        let name = ctx
            .get(&deployment, "name")?
            .ok_or_else(|| RecipeError::user(format!("Missing option: {deployment}:name")))?;
        options.set("entry_name", format!("{name}_{}", ctx.part()));
        let target = options.require("path")?.to_owned();
        if !Path::new(&target).exists() {
            return Err(RecipeError::user(format!("Path '{target}' does not exist")));
        }
        options.set("location", target);
        Ok(SharedConfig)
    }

    fn install(&mut self, _ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let text = String::from_utf8_lossy(&text_of(options)?).into_owned();
        let location = options.require("location")?;
        let entry = options.require("entry_name")?;
        let current = std::fs::read_to_string(location).map_err(|e| os_error(Path::new(location), &e))?;
        let mut block = String::new();
        if !current.is_empty() && !current.ends_with('\n') {
            block.push('\n');
        }
        block.push_str(&format!("\n{}\n{text}\n{}\n", begin_marker(entry), end_marker(entry)));
        let mut file =
            std::fs::OpenOptions::new().append(true).open(location).map_err(|e| os_error(Path::new(location), &e))?;
        std::io::Write::write_all(&mut file, block.as_bytes()).map_err(|e| os_error(Path::new(location), &e))?;
        Ok(Vec::new())
    }

    fn update(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

/// The text of a shared file without the block of `entry` (and the blank line before it).
fn without_block(text: &str, entry: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut inside = false;
    let begin = format!("#[{entry}");
    let end = format!("{entry}]#");
    for line in text.split_inclusive('\n') {
        if line.starts_with(&begin) {
            if kept.last() == Some(&"\n") {
                kept.pop();
            }
            inside = true;
        } else if line.trim().ends_with(&end) {
            inside = false;
        } else if !inside {
            kept.push(line);
        }
    }
    kept.concat()
}

/// The uninstall entry of `sharedconfig`.
fn uninstall_shared_config(_ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    let location = options.get("location").map(String::as_str).unwrap_or_default();
    let entry = options.get("entry_name").map(String::as_str).unwrap_or_default();
    let text = std::fs::read_to_string(location).map_err(|e| os_error(Path::new(location), &e))?;
    std::fs::write(location, without_block(&text, entry)).map_err(|e| os_error(Path::new(location), &e))
}

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: {
        "default" => Install,
        "deployment" => Install,
        "configuration" => Configuration,
        "crontab" => Crontab,
        "sharedconfig" => SharedConfig,
    },
    uninstall: {
        "default" => uninstall,
        "sharedconfig" => uninstall_shared_config,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_are_worded_as_python_words_them() {
        let cases = [
            (std::io::Error::from_raw_os_error(2), "[Errno 2] No such file or directory: '/x/y'"),
            (std::io::Error::from_raw_os_error(17), "[Errno 17] File exists: '/x/y'"),
            (std::io::Error::other("odd"), "odd: '/x/y'"),
        ];
        for (error, expected) in cases {
            assert_eq!(os_error("/x/y", &error).message(), expected);
        }
    }

    #[test]
    fn shared_blocks_come_out_as_they_went_in() {
        let base = "listen 80\n";
        let block = format!("\n{}\nserver a\n{}\n", begin_marker("app_proxy"), end_marker("app_proxy"));
        let other = format!("\n{}\nserver b\n{}\n", begin_marker("app_other"), end_marker("app_other"));
        // (file, entry removed, what remains)
        let cases = [
            (format!("{base}{block}"), "app_proxy", base.to_owned()),
            (format!("{base}{block}{other}"), "app_proxy", format!("{base}{other}")),
            (format!("{base}{block}{other}"), "app_other", format!("{base}{block}")),
            (base.to_owned(), "app_proxy", base.to_owned()),
        ];
        for (text, entry, expected) in cases {
            assert_eq!(without_block(&text, entry), expected, "{entry} from {text:?}");
        }
    }
}
