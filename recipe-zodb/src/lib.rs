//! `zc.zodbrecipes:server`: a ZEO storage server as zc.zodbrecipes 3.1 defines it — `zeo.conf`,
//! `zdaemon.conf`, a zdaemon control script, and with a `deployment` the rc script, a logrotate
//! file and a `zeopack` crontab — file for file and message for message. Where zc.zodbrecipes
//! fails with a traceback, this recipe names the option (and the line) in a one-line error.

mod backup;
mod systemd;
pub mod zconfig;

use std::path::{Path, PathBuf};

use buildout_core::sdk::python::{self, Eggs, ScriptOptions, Scripts, Target, path as pypath};
use buildout_core::sdk::{Context, LogLevel, Options, Recipe, RecipeError};

use zconfig::{Config, Section};

/// The distribution name recipes are looked up by (`recipe = zc.zodbrecipes:server`).
pub const DISTRIBUTION: &str = "zc.zodbrecipes";
const LOGGER: &str = "zc.zodbrecipes";

/// The deployment-related settings the constructor records.
struct Deployment {
    name: String,
    /// The systemd directory is made when missing: under a prefix of its own (a deployment
    /// into a directory tree, as zc.recipe.deployment makes its /etc directories there).
    make_systemd_directory: bool,
}

/// `zc.zodbrecipes:server`.
pub struct Server {
    name: String,
    deployment: Option<Deployment>,
    eggs: Eggs,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> RecipeError {
    RecipeError::io(what, path, &e)
}

/// A file whose path a user value could turn into a second line of a generated file.
fn single_line(option: &str, value: &str) -> Result<(), RecipeError> {
    if value.contains(['\n', '\r']) {
        return Err(RecipeError::user(format!("The {option} option must be a single line: {value:?}")));
    }
    Ok(())
}

/// A user name goes into zdaemon.conf, a crontab column and `su`: one plain word only.
fn plain_user(value: &str) -> Result<(), RecipeError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || "\"'`$\\;&|<>()".contains(c)) {
        return Err(RecipeError::user(format!("The user option must be a plain user name, not {value:?}")));
    }
    Ok(())
}

/// zdaemon splits its `program` at whitespace, so no quoting can keep such a path whole.
fn program_path(option: &str, value: &str) -> Result<(), RecipeError> {
    if value.chars().any(char::is_whitespace) {
        return Err(RecipeError::user(format!(
            "The {option} path contains whitespace, which zdaemon's program option cannot hold: {value:?}"
        )));
    }
    Ok(())
}

/// A path as one shell word: as it is when nothing in it is special to the shell (so that the
/// usual files stay byte-identical to zc.zodbrecipes'), single-quoted otherwise.
fn shell_word(value: &str) -> String {
    if !value.is_empty() && value.chars().all(|c| c.is_alphanumeric() || "/._+-:@%=,".contains(c)) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// One line of a crontab: time fields, user, then the command (zeopack's, the backup's), whose
/// `%` signs are escaped because cron turns them into newlines.
fn crontab_line(time: &str, user: &str, program: &str, arguments: &str) -> String {
    let command =
        if arguments.is_empty() { shell_word(program) } else { format!("{} {arguments}", shell_word(program)) };
    let command = command.replace('%', "\\%");
    format!("{time} {user} {command}\n")
}

/// Text made safe inside a double-quoted shell string (the `su -c "..."` wrapper).
fn double_quoted(value: &str) -> String {
    value.chars().fold(String::new(), |mut out, c| {
        if "\"$`\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

impl Recipe for Server {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let name = options.get("name").unwrap_or(ctx.part()).to_owned();
        let deployment = options.get("deployment").filter(|d| !d.is_empty()).map(str::to_owned);
        let need = |section: &str, key: &str| -> Result<String, RecipeError> {
            ctx.get(section, key)?.ok_or_else(|| RecipeError::user(format!("Missing option: {section}:{key}")))
        };
        let deployment = match deployment {
            Some(section) => {
                let dn = ctx.get(&section, "name")?.unwrap_or_else(|| section.clone());
                options.set("deployment-name", dn.clone());
                for key in ["rc-directory", "run-directory", "log-directory", "etc-directory"] {
                    options.set(key, need(&section, key)?);
                }
                let default = ctx.get(&section, "logrotate")?.unwrap_or_default();
                let logrotate = options.get("logrotate").map(str::to_owned).unwrap_or(default);
                if logrotate.to_lowercase() == "false" {
                    options.set("logrotate", "");
                } else {
                    let dir = need(&section, "logrotate-directory")?;
                    options.set("logrotate", pypath::join(&dir, &format!("{dn}-{name}")));
                }
                options.set("crontab-directory", need(&section, "crontab-directory")?);
                let user = need(&section, "user")?;
                plain_user(&user)?;
                options.set("user", user);
                // systemd units (ours, not zc.zodbrecipes'): on the part or the deployment.
                let systemd = match options.get("systemd") {
                    Some(value) => Some(value.to_owned()),
                    None => ctx.get(&section, "systemd")?,
                };
                let prefix = ctx.get(&section, "prefix")?.filter(|p| !p.is_empty());
                let mut make_systemd_directory = false;
                match systemd.as_deref().map(str::trim) {
                    None | Some("false") => {}
                    Some("true") => {
                        let dir = match options.get("systemd-directory") {
                            Some(dir) => dir.to_owned(),
                            None => match ctx.get(&section, "systemd-directory")? {
                                Some(dir) => dir,
                                // Beside the deployment's crontab and logrotate directories.
                                None => match ctx.get(&section, "etc-prefix")? {
                                    Some(etc) => pypath::join(&etc, "systemd/system"),
                                    None => systemd::DEFAULT_DIRECTORY.to_owned(),
                                },
                            },
                        };
                        make_systemd_directory =
                            prefix.as_deref().is_some_and(|p| p != "/" && Path::new(&dir).starts_with(p));
                        options.set("systemd-directory", dir);
                    }
                    Some(other) => {
                        return Err(RecipeError::user(format!("Invalid value for systemd: {other} (true or false)")));
                    }
                }
                Some(Deployment { name: dn, make_systemd_directory })
            }
            None => {
                if options.get("systemd").is_some_and(|v| v.trim() == "true") {
                    return Err(RecipeError::user(
                        "systemd needs a deployment: its user and directories are the unit's",
                    ));
                }
                options.set("rc-directory", ctx.buildout_option("bin-directory")?);
                options.set("run-directory", pypath::join(&ctx.buildout_option("parts-directory")?, &name));
                None
            }
        };
        options.set("scripts", "");
        let eggs = format!("{}\nzdaemon\nsetuptools", options.get("eggs").unwrap_or(""));
        options.set("eggs", eggs);
        let eggs = Eggs::new(ctx, options)?;
        // zc.recipe.egg's `Egg` is its script recipe: it records (and checks) these too.
        let bin = ScriptOptions::new(ctx, options)?.bin_directory;
        for (key, default) in [("runzeo", "runzeo"), ("zdaemon", "zdaemon"), ("zeopack", "zeopack")] {
            let value = pypath::join(&bin, options.get(key).unwrap_or(default));
            single_line(key, &value)?;
            options.set(key, value);
        }
        if !["true", "false", ""].contains(&options.get("shell-script").unwrap_or("")) {
            return Err(RecipeError::user("The shell-script option value must be \"true\", \"false\" or \"\"."));
        }
        Ok(Server { name, deployment, eggs })
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        install(self, ctx, options)
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        install(self, ctx, options).map(Some)
    }
}

const NO_RUNZEO: &str = "\nA runzeo script couldn't be found at:\n\n  {}\n\nYou may need to generate a runzeo script using the\n\
                         zc.recipe.eggs:script recipe and the ZEO egg, or you may need\n\
                         to specify the location of a script using the runzeo option.\n";
const NO_ZDAEMON: &str = "\nA zdaemon script couldn't be found at:\n\n  {}\n\nYou may need to generate a zdaemon script using the\n\
                          zc.recipe.eggs:script recipe and the zdaemon egg.\n";

fn warn(ctx: &Context<'_>, template: &str, path: &str) {
    ctx.log(LogLevel::Warning, LOGGER, &template.replace("{}", &python::repr(path)));
}

fn write(path: &Path, text: &str) -> Result<(), RecipeError> {
    std::fs::write(path, text).map_err(|e| io("Couldn't write", path, e))
}

/// The zeopack arguments for the `<zeo>` address: `-h host -p port`, `-p port` or `-U socket`.
/// Unlike zc.zodbrecipes, `[::1]:8100` and `:8100` work.
fn pack_address(address: &str) -> Result<String, RecipeError> {
    if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| RecipeError::user(format!("Invalid ZEO address for pack: {address}")))?;
        return Ok(format!("-h {host} -p {port}"));
    }
    if address.contains(':') {
        let (host, port) = address.split_once(':').unwrap_or(("", address));
        if port.contains(':') {
            return Err(RecipeError::user(format!(
                "Invalid ZEO address for pack: {address} (write an IPv6 host as [host]:port)"
            )));
        }
        return Ok(if host.is_empty() { format!("-p {port}") } else { format!("-h {host} -p {port}") });
    }
    if address.parse::<i64>().is_ok() {
        return Ok(format!("-p {address}"));
    }
    Ok(format!("-U {address}"))
}

fn parse_conf(option: &str, text: &str) -> Result<Config, RecipeError> {
    let source = format!("{text}\n");
    zconfig::parse(&source).map_err(|e| {
        // zc.zodbrecipes reports zeo.conf syntax errors in this form; what it lets escape as a
        // traceback (and everything in zdaemon.conf) gets one line naming the option and line.
        let message = if option == "zeo.conf" && e.zconfig_syntax_error {
            format!("{e} in:\n{source}")
        } else {
            format!("The {option} option, line {}: {}", e.line, e.message)
        };
        RecipeError::user(message).with_option(option)
    })
}

trait WithOption {
    fn with_option(self, option: &str) -> RecipeError;
}

impl WithOption for RecipeError {
    fn with_option(self, option: &str) -> RecipeError {
        self.with_detail(format!("in the {option} option"))
    }
}

/// Where the part's files go: under the deployment's directories, or in the part's run
/// directory.
struct Layout {
    zeo_conf: PathBuf,
    zdaemon_conf: PathBuf,
    event_log: String,
    socket: String,
    /// The control script's name, in `rc-directory`.
    rc: String,
    run_directory: String,
    rc_directory: String,
}

impl Layout {
    fn new(server: &Server, options: &Options) -> Result<Layout, RecipeError> {
        let name = &server.name;
        let run_directory = options.require("run-directory")?.to_owned();
        let rc_directory = options.require("rc-directory")?.to_owned();
        Ok(match &server.deployment {
            Some(deployment) => {
                let etc = options.require("etc-directory")?.to_owned();
                let log = options.require("log-directory")?.to_owned();
                Layout {
                    zeo_conf: PathBuf::from(pypath::join(&etc, &format!("{name}-zeo.conf"))),
                    zdaemon_conf: PathBuf::from(pypath::join(&etc, &format!("{name}-zdaemon.conf"))),
                    event_log: pypath::join(&log, &format!("{name}-zeo.log")),
                    socket: pypath::join(&run_directory, &format!("{name}-zdaemon.sock")),
                    rc: format!("{}-{name}", deployment.name),
                    run_directory,
                    rc_directory,
                }
            }
            None => {
                let run = PathBuf::from(&run_directory);
                Layout {
                    zeo_conf: run.join("zeo.conf"),
                    zdaemon_conf: run.join("zdaemon.conf"),
                    event_log: pypath::join(&run_directory, "zeo.log"),
                    socket: pypath::join(&run_directory, "zdaemon.sock"),
                    rc: name.clone(),
                    run_directory,
                    rc_directory,
                }
            }
        })
    }

    fn rc_path(&self) -> PathBuf {
        PathBuf::from(pypath::join(&self.rc_directory, &self.rc))
    }

    /// The logrotate file's text: the transcript, rotated weekly; then zdaemon reopens the
    /// transcript (zc.zodbrecipes' line) and sends runzeo SIGUSR2, which reopens the event log
    /// zeo.conf names, so that ZEO does not go on writing into the rotated file (ours). The
    /// event log files zeo.conf names are rotated with the transcript (ours too: zc.zodbrecipes
    /// leaves them to grow), with the commands run once for all.
    fn logrotate(&self, event_logs: &[String]) -> String {
        let control = format!("{} -C {}", self.rc_path().display(), self.zdaemon_conf.display());
        let mut files = vec![self.event_log.as_str()];
        files.extend(event_logs.iter().map(String::as_str).filter(|log| *log != self.event_log));
        let shared = if files.len() > 1 { "  sharedscripts\n" } else { "" };
        format!(
            "{} {{\n  rotate 5\n  weekly\n{shared}  postrotate\n    {control} reopen_transcript\n    {control} kill USR2\n  endscript\n}}\n",
            files.join(" ")
        )
    }
}

/// The `pack` option (crontab time fields, then days and MAILTO), checked, and the crontab
/// file it goes to; `None` without one.
fn pack_schedule(
    ctx: &Context<'_>,
    options: &Options,
    deployment: &Deployment,
    name: &str,
) -> Result<Option<(Vec<String>, PathBuf)>, RecipeError> {
    let Some(spec) = options.get("pack").filter(|spec| !spec.trim().is_empty()) else {
        return Ok(None);
    };
    let fields: Vec<String> = spec.split_whitespace().map(str::to_owned).collect();
    if fields.len() < 5 {
        return Err(RecipeError::user("Too few crontab fields in pack specification"));
    }
    if fields.len() > 7 {
        return Err(RecipeError::user("Too many values in pack option"));
    }
    if fields.len() == 7 && !fields[6].contains('@') {
        return Err(RecipeError::user(format!(
            "The 7th value of the pack option must be an e-mail address for MAILTO, not {:?}",
            fields[6]
        )));
    }
    if let Some(days) = fields.get(5)
        && days.parse::<u64>().is_err()
    {
        ctx.log(LogLevel::Warning, LOGGER, &format!("pack: zeopack -d needs a whole number of days, not {days:?}"));
    }
    let crontab = options.require("crontab-directory")?.to_owned();
    if !Path::new(&crontab).is_dir() {
        return Err(RecipeError::user(format!("The deployment's crontab-directory does not exist: {crontab}")));
    }
    let path = PathBuf::from(pypath::join(&crontab, &format!("pack-{}-{name}", deployment.name)));
    let zeopack = options.require("zeopack")?;
    if !Path::new(zeopack).exists() {
        ctx.log(LogLevel::Warning, LOGGER, &format!("Couln'e find zeopack script, {}", python::repr(zeopack)));
    }
    Ok(Some((fields, path)))
}

/// `backup-schedule` (ours): when `bin/<name>-backup` runs, as crontab time fields with an
/// optional MAILTO address, like `pack`.
struct BackupSchedule {
    fields: Vec<String>,
    mailto: Option<String>,
    /// `bin/<name>-backup`.
    script: String,
    /// The crontab file.
    crontab: PathBuf,
}

/// The `backup-schedule` option, checked; `None` without one. It needs `backup` and a
/// deployment (whose user runs it and whose crontab directory holds it).
fn backup_schedule(
    options: &Options,
    deployment: Option<&Deployment>,
    name: &str,
) -> Result<Option<BackupSchedule>, RecipeError> {
    let Some(spec) = options.get("backup-schedule").filter(|spec| !spec.trim().is_empty()) else {
        return Ok(None);
    };
    if options.get("backup").is_none_or(|d| d.trim().is_empty()) {
        return Err(RecipeError::user("backup-schedule needs the backup option (the directory backups go to)"));
    }
    let Some(deployment) = deployment else {
        return Err(RecipeError::user("backup-schedule needs a deployment: its user runs the backups"));
    };
    let mut fields: Vec<String> = spec.split_whitespace().map(str::to_owned).collect();
    if fields.len() < 5 {
        return Err(RecipeError::user("Too few crontab fields in backup-schedule"));
    }
    if fields.len() > 6 {
        return Err(RecipeError::user("Too many values in backup-schedule (5 crontab fields and MAILTO)"));
    }
    let mailto = if fields.len() == 6 { fields.pop() } else { None };
    if let Some(mailto) = &mailto
        && !mailto.contains('@')
    {
        return Err(RecipeError::user(format!(
            "The 6th value of backup-schedule must be an e-mail address for MAILTO, not {mailto:?}"
        )));
    }
    let crontab = options.require("crontab-directory")?;
    if !Path::new(crontab).is_dir() {
        return Err(RecipeError::user(format!("The deployment's crontab-directory does not exist: {crontab}")));
    }
    let crontab = PathBuf::from(pypath::join(crontab, &format!("backup-{}-{name}", deployment.name)));
    let script = pypath::join(options.require("bin-directory")?, &format!("{name}-backup"));
    Ok(Some(BackupSchedule { fields, mailto, script, crontab }))
}

/// `zeo.conf` as it will be written (an event log to standard output added when it names
/// none), its `<zeo>` addresses and its storages' names. Keys ZEO rejects are warned about.
fn zeo_configuration(ctx: &Context<'_>, options: &Options) -> Result<(Config, Vec<String>, Vec<String>), RecipeError> {
    let mut zeo_conf = parse_conf("zeo.conf", options.get("zeo.conf").unwrap_or(""))?;
    let zeo: Vec<&Section> = zeo_conf.top.sections.iter().filter(|s| s.kind == "zeo").collect();
    let zeo = match zeo.as_slice() {
        [] => return Err(RecipeError::user("No zeo section was defined.")),
        [one] => *one,
        _ => return Err(RecipeError::user("Too many zeo sections.")),
    };
    let addresses = zeo.values.get("address").cloned().unwrap_or_default();
    if addresses.is_empty() {
        return Err(RecipeError::user("No ZEO address was specified."));
    }
    for key in zeo.values.keys().filter(|k| !ZEO_KEYS.contains(&k.as_str())) {
        ctx.log(
            LogLevel::Warning,
            LOGGER,
            &format!("zeo.conf: ZEO 5 and later reject the key {key:?} in <zeo>; the server will not start"),
        );
    }
    if let [address] = addresses.as_slice()
        && address.parse::<u64>().is_ok()
    {
        ctx.log(LogLevel::Info, LOGGER, &format!("zeo.conf: address {address} listens on every interface; write 127.0.0.1:{address} for this machine only"));
    }
    let storages: Vec<String> = zeo_conf
        .top
        .sections
        .iter()
        .filter(|s| !["zeo", "eventlog", "runner"].contains(&s.kind.as_str()))
        .map(|s| if s.name.is_empty() { "1".to_owned() } else { s.name.clone() })
        .collect();
    if storages.is_empty() {
        return Err(RecipeError::user("No storages were defined."));
    }
    if !zeo_conf.top.sections.iter().any(|s| s.kind == "eventlog") {
        zeo_conf.top.sections.push(Section::event_log("STDOUT"));
    }
    Ok((zeo_conf, addresses, storages))
}

/// `zdaemon.conf` as it will be written: the user's, with the `<runner>` defaults that run
/// `runzeo` on `zeo.conf` (and as the deployment's user) and an event log.
fn zdaemon_configuration(
    options: &Options,
    layout: &Layout,
    runzeo: &str,
    deployment: bool,
) -> Result<Config, RecipeError> {
    let mut zdaemon_conf = parse_conf("zdaemon.conf", options.get("zdaemon.conf").unwrap_or(""))?;
    let mut defaults = vec![
        ("program", {
            program_path("runzeo", runzeo)?;
            let conf = layout.zeo_conf.display().to_string();
            program_path("zeo.conf", &conf)?;
            format!("{runzeo} -C {conf}")
        }),
        ("daemon", "on".to_owned()),
        ("transcript", layout.event_log.clone()),
        ("socket-name", layout.socket.clone()),
        ("directory", layout.run_directory.clone()),
    ];
    if deployment {
        defaults.push(("user", options.require("user")?.to_owned()));
    }
    let position = match zdaemon_conf.top.sections.iter().position(|s| s.kind == "runner") {
        Some(p) => p,
        None => {
            zdaemon_conf.top.sections.insert(0, Section::new("runner"));
            0
        }
    };
    let runner = &mut zdaemon_conf.top.sections[position];
    for (key, value) in defaults {
        runner.values.entry(key.to_owned()).or_insert_with(|| vec![value]);
    }
    if !zdaemon_conf.top.sections.iter().any(|s| s.kind == "eventlog") {
        zdaemon_conf.top.sections.push(Section::event_log(&layout.event_log));
    }
    Ok(zdaemon_conf)
}

/// The `shell-script = true` control script: zdaemon on `zdaemon.conf`, through `su` when a
/// user is set.
fn shell_script(ctx: &Context<'_>, options: &Options, layout: &Layout) -> Result<String, RecipeError> {
    let zdaemon = options.require("zdaemon")?;
    if !Path::new(zdaemon).exists() {
        warn(ctx, NO_ZDAEMON, zdaemon);
    }
    let conf = layout.zdaemon_conf.display().to_string().replace('\'', "'\\''");
    let command = format!("{} -C '{conf}'", shell_word(zdaemon));
    let mut contents = format!("{command} $*");
    if let Some(user) = options.get("user").filter(|u| !u.is_empty()) {
        plain_user(user)?;
        contents = format!("su {user} -c \\\n  \"{} $*\"", double_quoted(&command));
    }
    Ok(format!("#!/bin/sh\n{contents}\n"))
}

/// The pack crontab: one `zeopack` line per storage, at the scheduled time.
fn pack_crontab(
    mut fields: Vec<String>,
    addresses: &[String],
    storages: &[String],
    options: &Options,
) -> Result<String, RecipeError> {
    let [address] = addresses else {
        return Err(RecipeError::user("zeo.conf: pack needs a single address in <zeo>, not several"));
    };
    let address = pack_address(address)?;
    let mut text = String::new();
    if fields.len() == 7 {
        text.push_str(&format!("MAILTO={}\n", fields.pop().unwrap_or_default()));
    }
    let days = if fields.len() == 6 { fields.pop().unwrap_or_default() } else { "1".to_owned() };
    let user = options.require("user")?;
    let zeopack = options.require("zeopack")?;
    for storage in storages {
        text.push_str(&crontab_line(&fields.join(" "), user, zeopack, &format!("{address} -S {storage} -d {days}")));
    }
    Ok(text)
}

/// Installs (and updates) the part: decides every file from the options (the functions above),
/// writing each as soon as zc.zodbrecipes does, so that messages and failures come in its order.
fn install(server: &Server, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
    let runzeo = options.require("runzeo")?.to_owned();
    if !Path::new(&runzeo).exists() {
        warn(ctx, NO_RUNZEO, &runzeo);
    }
    let layout = Layout::new(server, options)?;
    let mut created: Vec<PathBuf> = Vec::new();
    let register = |created: &mut Vec<PathBuf>, paths: &[PathBuf]| -> Result<(), RecipeError> {
        ctx.created(paths)?;
        created.extend(paths.iter().cloned());
        Ok(())
    };
    let pack = match &server.deployment {
        Some(deployment) => {
            for (option, dir) in
                [("etc-directory", options.require("etc-directory")?), ("rc-directory", &layout.rc_directory)]
            {
                if !Path::new(dir).is_dir() {
                    return Err(RecipeError::user(format!("The deployment's {option} does not exist: {dir}")));
                }
            }
            register(&mut created, &[layout.zeo_conf.clone(), layout.zdaemon_conf.clone(), layout.rc_path()])?;
            let logrotate = options.require("logrotate")?.to_owned();
            if !logrotate.is_empty() {
                let path = PathBuf::from(&logrotate);
                if !path.parent().is_some_and(Path::is_dir) {
                    return Err(RecipeError::user(format!(
                        "The deployment's logrotate directory does not exist: {logrotate}"
                    )));
                }
                write(&path, &layout.logrotate(&event_log_files(options.get("zeo.conf").unwrap_or(""))))?;
                register(&mut created, &[path])?;
            }
            pack_schedule(ctx, options, deployment, &server.name)?
        }
        None => {
            let run = PathBuf::from(&layout.run_directory);
            register(&mut created, &[run.clone(), layout.rc_path()])?;
            if !run.exists() {
                std::fs::create_dir(&run).map_err(|e| io("Couldn't create", &run, e))?;
            }
            None
        }
    };
    let backup_schedule = backup_schedule(options, server.deployment.as_ref(), &server.name)?;

    let (zeo_conf, addresses, storages) = zeo_configuration(ctx, options)?;
    let zdaemon_conf = zdaemon_configuration(options, &layout, &runzeo, server.deployment.is_some())?;
    let (_, ws, interpreter) = server.eggs.working_set(ctx, options, &[])?;
    write(&layout.zeo_conf, &zeo_conf.to_string())?;
    write(&layout.zdaemon_conf, &zdaemon_conf.to_string())?;

    let rc_path = layout.rc_path();
    if options.get("shell-script") == Some("true") {
        let contents = shell_script(ctx, options, &layout)?;
        if std::fs::read_to_string(&rc_path).ok().as_deref() != Some(contents.as_str()) {
            write(&rc_path, &contents)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&rc_path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| io("Couldn't make executable", &rc_path, e))?;
            ctx.log(
                LogLevel::Info,
                LOGGER,
                &format!("Generated shell script {}.", python::repr(&rc_path.display().to_string())),
            );
        }
    } else {
        let spec = Scripts {
            targets: vec![Target::EntryPoint {
                name: layout.rc.clone(),
                module: "zdaemon.zdctl".into(),
                attrs: "main".into(),
            }],
            executable: interpreter.executable.clone(),
            dest: PathBuf::from(&layout.rc_directory),
            arguments: format!(
                "[\n        '-C', {},\n        ]+sys.argv[1:]\n        ",
                python::repr(&layout.zdaemon_conf.display().to_string())
            ),
            ..Scripts::default()
        };
        python::generate_scripts(ctx, &spec, &ws)?;
    }

    if let Some(directory) = options.get("backup").filter(|d| !d.trim().is_empty()) {
        // repozo is ZODB's: the part's eggs with ZODB (which ZEO requires anyway).
        let (_, ws, interpreter) = server.eggs.working_set(ctx, options, &["ZODB".to_owned()])?;
        let paths = backup_scripts(server, options, &zeo_conf, directory.trim(), (&ws, &interpreter), ctx)?;
        register(&mut created, &paths)?;
    }
    let systemd_directory = options.get("systemd-directory");
    if let Some(directory) = systemd_directory {
        let units = systemd_units(
            options,
            &layout,
            &zeo_conf,
            (&addresses, &storages),
            pack.as_ref(),
            backup_schedule.as_ref(),
        )?;
        if server.deployment.as_ref().is_some_and(|d| d.make_systemd_directory) && !Path::new(directory).exists() {
            std::fs::create_dir_all(directory).map_err(|e| io("Couldn't create", Path::new(directory), e))?;
        }
        if !Path::new(directory).is_dir() {
            return Err(RecipeError::user(format!("The deployment's systemd-directory does not exist: {directory}")));
        }
        for (file, text) in units {
            let path = PathBuf::from(pypath::join(directory, &file));
            write(&path, &text)?;
            register(&mut created, &[path])?;
        }
    }
    // With systemd, its timers run pack and backup: crontab lines as well would run them twice.
    if let Some((fields, path)) = pack.filter(|_| systemd_directory.is_none()) {
        write(&path, &pack_crontab(fields, &addresses, &storages, options)?)?;
        register(&mut created, &[path])?;
    }
    if let Some(schedule) = backup_schedule.filter(|_| systemd_directory.is_none()) {
        let mut text = schedule.mailto.map(|m| format!("MAILTO={m}\n")).unwrap_or_default();
        text.push_str(&crontab_line(&schedule.fields.join(" "), options.require("user")?, &schedule.script, ""));
        write(&schedule.crontab, &text)?;
        register(&mut created, &[schedule.crontab])?;
    }
    Ok(created)
}

/// The files zeo.conf's `<eventlog>` writes (its `<logfile>` paths other than standard output
/// and error); none while zeo.conf does not parse, which its own check reports afterwards.
fn event_log_files(zeo_conf: &str) -> Vec<String> {
    let Ok(zeo_conf) = zconfig::parse(&format!("{zeo_conf}\n")) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for log in zeo_conf.top.sections.iter().filter(|s| s.kind == "eventlog") {
        for file in log.sections.iter().filter(|s| s.kind == "logfile") {
            for path in file.values.get("path").into_iter().flatten() {
                if !["STDOUT", "STDERR"].contains(&path.as_str()) && !files.contains(path) {
                    files.push(path.clone());
                }
            }
        }
    }
    files
}

/// The file storages of `zeo.conf` (nested ones too).
fn file_storages(section: &Section, out: &mut Vec<backup::Storage>) {
    for inner in &section.sections {
        if inner.kind == "filestorage"
            && let Some(path) = inner.values.get("path").and_then(|v| v.first())
        {
            out.push(backup::Storage {
                name: inner.name.clone(),
                path: path.clone(),
                blob_dir: inner.values.get("blob-dir").and_then(|v| v.first()).cloned(),
            });
        }
        file_storages(inner, out);
    }
}

/// `backup` (ours): `bin/<name>-repozo` (ZODB's repozo on the part's eggs), and the
/// `bin/<name>-backup` and `bin/<name>-restore` scripts that use it.
fn backup_scripts(
    server: &Server,
    options: &Options,
    zeo_conf: &Config,
    directory: &str,
    (ws, interpreter): (&[python::Egg], &python::Interpreter),
    ctx: &Context<'_>,
) -> Result<Vec<PathBuf>, RecipeError> {
    let mut storages = Vec::new();
    file_storages(&zeo_conf.top, &mut storages);
    if storages.is_empty() {
        return Err(RecipeError::user("backup: zeo.conf has no file storage to back up"));
    }
    let bin = options.require("bin-directory")?;
    let name = &server.name;
    let repozo = format!("{name}-repozo");
    let spec = Scripts {
        targets: vec![Target::EntryPoint {
            name: repozo.clone(),
            module: "ZODB.scripts.repozo".into(),
            attrs: "main".into(),
        }],
        executable: interpreter.executable.clone(),
        dest: PathBuf::from(bin),
        ..Scripts::default()
    };
    let mut paths = python::generate_scripts(ctx, &spec, ws)?;
    let repozo = pypath::join(bin, &repozo);
    // With a deployment, what the scripts make as root goes to the deployment's user.
    let owner = server.deployment.as_ref().and(options.get("user"));
    let scripts = backup::Backups { server: name, repozo: &repozo, directory, storages: &storages, owner };
    for (script, text) in
        [(format!("{name}-backup"), scripts.backup_script()), (format!("{name}-restore"), scripts.restore_script())]
    {
        let path = PathBuf::from(pypath::join(bin, &script));
        write(&path, &text)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io("Couldn't make executable", &path, e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The directories ZEO writes for `zeo.conf`'s storages: each file storage's directory and
/// each blob directory.
fn storage_directories(section: &Section, out: &mut Vec<String>) {
    for (key, values) in &section.values {
        for value in values {
            let dir = match key.as_str() {
                "path" => pypath::dirname(value).to_owned(),
                "blob-dir" => value.clone(),
                _ => continue,
            };
            if !dir.is_empty() && !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    for inner in &section.sections {
        storage_directories(inner, out);
    }
}

/// The systemd units of a deployed server (file name, text): the service, and with `pack` and
/// `backup-schedule` a oneshot service and its timer each.
fn systemd_units(
    options: &Options,
    layout: &Layout,
    zeo_conf: &Config,
    (addresses, storages): (&[String], &[String]),
    pack: Option<&(Vec<String>, PathBuf)>,
    backup: Option<&BackupSchedule>,
) -> Result<Vec<(String, String)>, RecipeError> {
    let user = options.require("user")?;
    let mut writable = Vec::new();
    storage_directories(&zeo_conf.top, &mut writable);
    for dir in [options.require("log-directory")?, &layout.run_directory] {
        if !writable.iter().any(|w| w == dir) {
            writable.push(dir.to_owned());
        }
    }
    let exec_start =
        format!("{} -C {}", shell_word(options.require("runzeo")?), shell_word(&layout.zeo_conf.display().to_string()));
    let name = &layout.rc;
    let mut units = vec![(
        format!("{name}.service"),
        systemd::service(&format!("ZEO server {name}"), user, &exec_start, &writable),
    )];
    if let Some((fields, _)) = pack {
        let [address] = addresses else {
            return Err(RecipeError::user("zeo.conf: pack needs a single address in <zeo>, not several"));
        };
        let address = pack_address(address)?;
        let days = fields.get(5).cloned().unwrap_or_else(|| "1".to_owned());
        let zeopack = shell_word(options.require("zeopack")?);
        let commands: Vec<String> =
            storages.iter().map(|storage| format!("{zeopack} {address} -S {storage} -d {days}")).collect();
        let on_calendar = systemd::on_calendar(&fields[..5.min(fields.len())])
            .map_err(|e| RecipeError::user(format!("The pack option cannot be a systemd timer: {e}")))?;
        let description = format!("Pack the storages of ZEO server {name}");
        units.push((format!("{name}-pack.service"), systemd::oneshot_service(&description, user, &commands)));
        let mailto = fields.get(6).map(String::as_str);
        units.push((format!("{name}-pack.timer"), systemd::timer(&description, &on_calendar, "pack", mailto)));
    }
    if let Some(schedule) = backup {
        let on_calendar = systemd::on_calendar(&schedule.fields)
            .map_err(|e| RecipeError::user(format!("The backup-schedule option cannot be a systemd timer: {e}")))?;
        let description = format!("Back up the storages of ZEO server {name}");
        units.push((
            format!("{name}-backup.service"),
            systemd::oneshot_service(&description, user, &[shell_word(&schedule.script)]),
        ));
        units.push((
            format!("{name}-backup.timer"),
            systemd::timer(&description, &on_calendar, "backup-schedule", schedule.mailto.as_deref()),
        ));
    }
    Ok(units)
}

const ZEO_KEYS: [&str; 8] = [
    "address",
    "read-only",
    "invalidation-queue-size",
    "invalidation-age",
    "transaction-timeout",
    "pid-filename",
    "client-conflict-resolution",
    "msgpack",
];

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: { "server" => Server },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logrotate_files_rotate_the_transcript_and_the_event_logs() {
        let layout = Layout {
            zeo_conf: PathBuf::from("/etc/app/server-zeo.conf"),
            zdaemon_conf: PathBuf::from("/etc/app/server-zdaemon.conf"),
            event_log: "/var/log/app/server-zeo.log".into(),
            socket: "/var/run/app/server-zdaemon.sock".into(),
            rc: "app-server".into(),
            run_directory: "/var/run/app".into(),
            rc_directory: "/etc/init.d".into(),
        };
        let commands = "  postrotate\n    /etc/init.d/app-server -C /etc/app/server-zdaemon.conf reopen_transcript\n    \
                        /etc/init.d/app-server -C /etc/app/server-zdaemon.conf kill USR2\n  endscript\n}\n";
        let logfile = |path: &str| {
            format!("<zeo>\naddress 8100\n</zeo>\n<eventlog>\n<logfile>\npath {path}\n</logfile>\n</eventlog>")
        };
        let cases = [
            ("<zeo>\naddress 8100\n</zeo>".to_owned(), "/var/log/app/server-zeo.log {\n  rotate 5\n  weekly\n"),
            (logfile("STDOUT"), "/var/log/app/server-zeo.log {\n  rotate 5\n  weekly\n"),
            (logfile("/var/log/app/server-zeo.log"), "/var/log/app/server-zeo.log {\n  rotate 5\n  weekly\n"),
            (
                logfile("/var/log/app/events.log"),
                "/var/log/app/server-zeo.log /var/log/app/events.log {\n  rotate 5\n  weekly\n  sharedscripts\n",
            ),
            ("<zeo>\n".to_owned(), "/var/log/app/server-zeo.log {\n  rotate 5\n  weekly\n"),
        ];
        for (zeo_conf, head) in cases {
            assert_eq!(layout.logrotate(&event_log_files(&zeo_conf)), format!("{head}{commands}"), "{zeo_conf}");
        }
    }

    #[test]
    fn pack_addresses() {
        let cases = [
            ("8100", Ok("-p 8100")),
            ("127.0.0.1:8100", Ok("-h 127.0.0.1 -p 8100")),
            (":8100", Ok("-p 8100")),
            ("[::1]:8100", Ok("-h ::1 -p 8100")),
            ("/var/run/zeo.sock", Ok("-U /var/run/zeo.sock")),
            ("a:b:c", Err(())),
        ];
        for (address, expected) in cases {
            let got = pack_address(address).map_err(drop);
            assert_eq!(got.as_deref().map_err(|_| ()), expected, "{address}");
        }
    }

    #[test]
    fn shell_words_and_names() {
        let words = [
            ("/srv/buildout/bin/zeopack", "/srv/buildout/bin/zeopack"),
            ("/srv/my buildout/bin/zeopack", "'/srv/my buildout/bin/zeopack'"),
            ("/srv/it's/bin/zdaemon", "'/srv/it'\\''s/bin/zdaemon'"),
            ("/a;rm -rf ~", "'/a;rm -rf ~'"),
            ("", "''"),
        ];
        for (value, expected) in words {
            assert_eq!(shell_word(value), expected, "{value}");
        }
        assert_eq!(double_quoted(r#"/x/zdaemon -C '/a"$b`c\d'"#), r#"/x/zdaemon -C '/a\"\$b\`c\\d'"#);
        let users = [("zope", true), ("www-data", true), ("a b", false), ("a\nb", false), ("x;y", false), ("", false)];
        for (user, ok) in users {
            assert_eq!(plain_user(user).is_ok(), ok, "{user:?}");
        }
        assert_eq!(
            crontab_line("0 3 * * 6", "zope", "/srv/bin/zeopack", "-p 8100 -S main -d 1"),
            "0 3 * * 6 zope /srv/bin/zeopack -p 8100 -S main -d 1\n"
        );
        assert_eq!(
            crontab_line("0 3 * * 6", "zope", "/srv/100%/zeopack", "-p 8100 -S m%n -d 1"),
            "0 3 * * 6 zope /srv/100\\%/zeopack -p 8100 -S m\\%n -d 1\n"
        );
        assert!(program_path("runzeo", "/srv/bin/runzeo").is_ok());
        assert!(program_path("runzeo", "/srv/my bin/runzeo").is_err());
    }
}
