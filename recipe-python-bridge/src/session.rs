//! The Python process of a run: started by the first Python part (one per interpreter, and a
//! run has one), ended when buildout exits (it reads the end of its socket then).
//!
//! The process talks over a Unix socket in a private temporary directory, so that its stdin,
//! stdout and stderr stay the terminal's. Ops and calls nest (see `bridge.py`): while buildout
//! waits for an op's reply it serves the calls Python makes, and a call may construct another
//! Python part, which sends an op of its own. No borrow is held across either, so every level
//! can use the channel.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::rc::Rc;
use std::time::{Duration, Instant};

use buildout_core::python::develop::tree_digest;
use buildout_core::python::requirement::{canonical_name, compare_versions};
use buildout_core::python::{Egg, Interpreter};
use buildout_core::sdk::python::Installs;
use buildout_core::sdk::{Context, RecipeError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The Python side.
const SCRIPT: &str = include_str!("bridge.py");
/// zc.buildout and zc.recipe.egg, at these versions unless `[versions]` pins them exactly (to
/// no older release than the last: the first that runs on the Python 3 of today).
const BUILDOUT_ITSELF: [(&str, &str, &str); 2] = [("zc.buildout", "6.0.1", "6"), ("zc.recipe.egg", "6.0.0", "2.0.6")];
/// How long the interpreter may take to connect.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A recipe distribution's working set, as the Python process needs it.
pub(crate) struct Provided {
    /// The directories to add to `sys.path` (buildout's own distributions are there already).
    pub path: Vec<String>,
    /// The part signature: every distribution of the working set, as zc.buildout signs a
    /// recipe (a develop egg by a digest of its files).
    pub signature: String,
}

/// What `construct` answers.
#[derive(Deserialize)]
pub(crate) struct Constructed {
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub used: Vec<String>,
}

/// What `install` and `update` answer.
#[derive(Deserialize)]
pub(crate) struct Installed {
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub used: Vec<String>,
    #[serde(default)]
    pub no_update: bool,
}

/// An error as the Python side reports it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PythonError {
    message: String,
    doing: Vec<String>,
    detail: Option<String>,
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(reply: Value) -> Result<T, RecipeError> {
    serde_json::from_value(reply)
        .map_err(|e| RecipeError::internal(format!("buildout's Python bridge sent an unexpected reply: {e}")))
}

/// The running Python process.
pub(crate) struct Session {
    executable: String,
    child: RefCell<Child>,
    reader: RefCell<BufReader<UnixStream>>,
    writer: RefCell<UnixStream>,
    /// Holds the socket and the script while the process runs.
    _dir: tempfile::TempDir,
    interpreter: Interpreter,
    /// zc.buildout's and zc.recipe.egg's working set: (canonical name, version).
    itself: Vec<(String, String)>,
    provided: RefCell<HashMap<String, Rc<Provided>>>,
}

thread_local! {
    static SESSIONS: RefCell<Vec<Rc<Session>>> = const { RefCell::new(Vec::new()) };
}

/// The session for the buildout's interpreter, started on first use.
pub(crate) fn get(ctx: &Context<'_>) -> Result<Rc<Session>, RecipeError> {
    let executable = ctx.buildout_option("executable")?;
    let running = SESSIONS.with(|s| s.borrow().iter().find(|s| s.executable == executable).cloned());
    if let Some(session) = running {
        return Ok(session);
    }
    let session = Rc::new(Session::start(ctx, executable)?);
    SESSIONS.with(|s| s.borrow_mut().push(session.clone()));
    Ok(session)
}

/// Where the buildout takes distributions from, as its `[buildout]` says.
fn installs(ctx: &Context<'_>) -> Result<Installs, RecipeError> {
    let links = ctx.get("buildout", "find-links")?.unwrap_or_default();
    let links = links.split_whitespace().map(str::to_owned).collect();
    let index = ctx.get("buildout", "index")?.filter(|i| !i.trim().is_empty());
    let eggs_dir = PathBuf::from(ctx.buildout_option("eggs-directory")?);
    Installs::read(ctx, links, index, eggs_dir)
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> RecipeError + '_ {
    move |e| RecipeError::user(format!("buildout's Python bridge: {what}: {e}"))
}

impl Session {
    fn start(ctx: &Context<'_>, executable: String) -> Result<Session, RecipeError> {
        let eggs_dir = PathBuf::from(ctx.buildout_option("eggs-directory")?);
        let interpreter =
            Interpreter::probe_cached(&executable, &eggs_dir).map_err(|e| RecipeError::user(e.to_string()))?;
        // buildout's own distributions, as zc.buildout has itself: quietly, neither reported
        // as picked nor looked for anew.
        let mut own = installs(ctx)?;
        let mut specs = Vec::new();
        for (name, default, oldest) in BUILDOUT_ITSELF {
            let pin = own.settings.versions.get(&canonical_name(name)).map(|v| v.trim());
            let exact = pin.filter(|v| !v.is_empty() && !v.starts_with(['<', '>', '=', '!', '~']));
            if let Some(pin) = exact
                && compare_versions(pin, oldest).is_lt()
            {
                // Python recipes run against zc.buildout's interface of today, as under
                // zc.buildout 6, which cannot run with an older one pinned either.
                let message = format!(
                    "The requirement ('{name}>={oldest}') is not allowed by your [versions] constraint ({pin})"
                );
                return Err(RecipeError::user(message).within(format!("Installing {name} for Python recipes.")));
            }
            specs.push(format!("{name}=={}", exact.unwrap_or(default)));
        }
        own.settings.newest = false;
        own.settings.allow_picked_versions = true;
        // buildout's own distributions are not the project's: they stay out of its download cache.
        own.settings.download_cache = None;
        // zc.buildout runs with whatever its venv has: a new eggs directory gets the set this
        // machine resolved last, from the user cache, without a resolver reading the index.
        own.settings.remember = Some("python-bridge".to_owned());
        let ws = own
            .working_set_logged(ctx, &interpreter, &specs, &mut |_, _| {})
            .map_err(|e| e.within(format!("Installing {} for Python recipes.", specs.join(" and "))))?;
        let itself = ws.iter().map(|e| (e.key(), e.version.clone())).collect();

        let dir = tempfile::Builder::new()
            .prefix("buildout-python-")
            .tempdir()
            .map_err(io_error("cannot make a temporary directory"))?;
        let script = dir.path().join("buildout_python_bridge.py");
        std::fs::write(&script, SCRIPT).map_err(io_error("cannot write its script"))?;
        let socket = dir.path().join("socket");
        let listener = UnixListener::bind(&socket).map_err(io_error("cannot listen"))?;
        listener.set_nonblocking(true).map_err(io_error("cannot listen"))?;
        let directory = ctx.buildout_option("directory")?;
        // The interpreter itself, not a shim in front of it (pyenv's sets variables of its own,
        // which recipes that read the environment would see).
        // Without the interpreter's site-packages (-S): recipes get what buildout installs for
        // them, as under zc.buildout in its own venv, not what happens to be there.
        let mut child = Command::new(&interpreter.executable)
            .args(["-u", "-S"])
            .arg(&script)
            .arg(&socket)
            .current_dir(&directory)
            .spawn()
            .map_err(|e| RecipeError::user(format!("Couldn't run the Python interpreter {executable}: {e}")))?;
        let stream = match accept(&listener, &mut child, &executable) {
            Ok(stream) => stream,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let reader = stream.try_clone().map_err(io_error("cannot read its socket"))?;
        let session = Session {
            executable,
            child: RefCell::new(child),
            reader: RefCell::new(BufReader::new(reader)),
            writer: RefCell::new(stream),
            _dir: dir,
            interpreter,
            itself,
            provided: RefCell::new(HashMap::new()),
        };
        let summary: BTreeMap<&str, String> = [
            ("offline", ctx.buildout_option("offline").unwrap_or_default()),
            ("newest", ctx.buildout_option("newest").unwrap_or_default()),
        ]
        .into_iter()
        .collect();
        let path: Vec<String> = ws.iter().map(|e| e.dir.display().to_string()).collect();
        let site = session._dir.path().join("site");
        // zc.buildout's own distributions by name and version, which its installer takes as
        // they are when a recipe asks for one (see `_set_up_installer` in bridge.py).
        let own: Vec<[&str; 2]> =
            session.itself.iter().map(|(key, version)| [key.as_str(), version.as_str()]).collect();
        let init = json!({
            "op": "init",
            "path": path,
            "directory": directory,
            "buildout": summary,
            "site": site,
            "own": own,
        });
        session.request(ctx, &init)?;
        // zc.buildout and what it imports are loaded now, their bytecode written beside them.
        for egg in &ws {
            buildout_core::python::cache::share_bytecode(&egg.dir);
        }
        Ok(session)
    }

    /// The working set of a recipe requirement, installed (zc.buildout's `Getting distribution
    /// for ...` lines) and reported as picked where not pinned; once per requirement and run.
    pub(crate) fn provide(&self, ctx: &Context<'_>, requirement: &str) -> Result<Rc<Provided>, RecipeError> {
        if let Some(provided) = self.provided.borrow().get(requirement) {
            return Ok(provided.clone());
        }
        let mut installs = installs(ctx)?;
        // What the process has already is what the recipe gets, as zc.buildout's own working
        // set serves recipes.
        for (key, version) in &self.itself {
            installs.settings.versions.insert(key.clone(), version.clone());
        }
        let ws = installs
            .working_set(ctx, &self.interpreter, &[requirement.to_owned()])
            .map_err(|e| e.within(format!("Installing recipe {requirement}.")))?;
        let own: Vec<String> = self.itself.iter().map(|(key, _)| key.clone()).collect();
        installs.report_picked(ctx, &self.interpreter, &ws, &own)?;
        let provided = Rc::new(Provided {
            path: ws.iter().filter(|e| !own.contains(&e.key())).map(|e| e.dir.display().to_string()).collect(),
            signature: signature(&ws),
        });
        self.provided.borrow_mut().insert(requirement.to_owned(), provided.clone());
        Ok(provided)
    }

    /// Sends an op and serves Python's calls until its reply comes.
    pub(crate) fn request(&self, ctx: &Context<'_>, op: &Value) -> Result<Value, RecipeError> {
        self.send(op)?;
        loop {
            let mut message = self.receive()?;
            if let Some(reply) = message.get_mut("reply") {
                return Ok(reply.take());
            }
            if let Some(error) = message.get_mut("error") {
                let error: PythonError = serde_json::from_value(error.take()).unwrap_or_default();
                let mut e = RecipeError::user(error.message);
                if let Some(detail) = error.detail {
                    e = e.with_detail(detail);
                }
                return Err(error.doing.into_iter().rev().fold(e, RecipeError::within));
            }
            let answer = match message.get("call").and_then(Value::as_str) {
                Some(method) => serve(ctx, method, &message),
                None => Err(RecipeError::internal(format!("buildout's Python bridge sent {message}"))),
            };
            let answer = match answer {
                Ok(value) => json!({ "answer": value }),
                Err(e) => json!({ "failed": {
                    "kind": "host",
                    "message": e.message(),
                    "doing": e.steps(),
                    "detail": e.detail(),
                }}),
            };
            self.send(&answer)?;
        }
    }

    fn send(&self, message: &Value) -> Result<(), RecipeError> {
        let mut line = message.to_string();
        line.push('\n');
        let mut writer = self.writer.borrow_mut();
        writer.write_all(line.as_bytes()).and_then(|()| writer.flush()).map_err(|_| self.ended())
    }

    fn receive(&self) -> Result<Value, RecipeError> {
        let mut line = String::new();
        let read = self.reader.borrow_mut().read_line(&mut line);
        match read {
            Ok(0) | Err(_) => Err(self.ended()),
            Ok(_) => serde_json::from_str(&line)
                .map_err(|e| RecipeError::internal(format!("buildout's Python bridge sent a bad message: {e}"))),
        }
    }

    /// The error for a process that went away in the middle of a conversation.
    fn ended(&self) -> RecipeError {
        let status = self.child.borrow_mut().wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        RecipeError::user(format!("The Python interpreter {} running Python recipes ended ({status})", self.executable))
    }
}

/// Waits for the interpreter to connect, for a bounded time, noticing when it exits instead.
fn accept(listener: &UnixListener, child: &mut Child, executable: &str) -> Result<UnixStream, RecipeError> {
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(io_error("cannot use its socket"))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(RecipeError::user(format!(
                        "The Python interpreter {executable} ended before it could run Python recipes ({status})"
                    )));
                }
                if started.elapsed() > START_TIMEOUT {
                    return Err(RecipeError::user(format!(
                        "The Python interpreter {executable} did not start within {} seconds",
                        START_TIMEOUT.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(io_error("cannot accept its connection")(e)),
        }
    }
}

/// A call from Python: the host services a recipe uses through zc.buildout's interface.
fn serve(ctx: &Context<'_>, method: &str, message: &Value) -> Result<Value, RecipeError> {
    let text = |key: &str| message.get(key).and_then(Value::as_str).unwrap_or_default();
    match method {
        "section" => Ok(json!(ctx.peek_section(text("section"))?)),
        "get" => Ok(json!(ctx.get(text("section"), text("option"))?)),
        "set" => ctx.set(text("section"), text("option"), text("value")).map(|()| Value::Null),
        "log" => {
            let level = message.get("level").and_then(Value::as_u64).unwrap_or(20);
            ctx.log_number(u8::try_from(level).unwrap_or(u8::MAX), text("logger"), text("message"));
            Ok(Value::Null)
        }
        "picked" => {
            let versions = message.get("versions").cloned().unwrap_or(Value::Null);
            let versions = serde_json::from_value::<Vec<buildout_core::abi::wire::Picked>>(versions)
                .map_err(|e| RecipeError::internal(format!("bad picked versions: {e}")))?;
            ctx.picked(&versions).map(|()| Value::Null)
        }
        other => Err(RecipeError::internal(format!("buildout's Python bridge has no call {other:?}"))),
    }
}

/// zc.buildout's recipe signature: each distribution of the working set by its egg directory's
/// name, a develop egg by its name and a digest of its files; sorted.
fn signature(ws: &[Egg]) -> String {
    let mut names: Vec<String> = ws
        .iter()
        .map(|egg| match egg.develop {
            true => format!("{}-{}", egg.name, tree_digest(&egg.dir)),
            false => egg_dir_name(&egg.dir),
        })
        .collect();
    names.sort();
    names.join(" ")
}

fn egg_dir_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egg(name: &str, dir: &Path, develop: bool) -> Egg {
        Egg {
            dir: dir.to_path_buf(),
            name: name.to_owned(),
            version: "1.0".to_owned(),
            requires: Vec::new(),
            extras: Vec::new(),
            console_scripts: Vec::new(),
            develop,
            requires_python: None,
        }
    }

    #[test]
    fn signatures_name_every_distribution_and_follow_develop_code() {
        let src = tempfile::tempdir().expect("temp dir");
        std::fs::write(src.path().join("recipe.py"), "x = 1\n").expect("write");
        let ws = |develop_dir: &Path| {
            vec![
                egg("zc.buildout", Path::new("/eggs/zc.buildout-6.0.1-py3.11.egg"), false),
                egg("my.recipe", develop_dir, true),
                egg("six", Path::new("/eggs/six-1.17.0-py3.11.egg"), false),
            ]
        };
        let first = signature(&ws(src.path()));
        let words: Vec<&str> = first.split(' ').collect();
        assert_eq!(words.len(), 3, "{first}");
        assert!(words[0].starts_with("my.recipe-"), "{first}");
        assert_eq!(&words[1..], ["six-1.17.0-py3.11.egg", "zc.buildout-6.0.1-py3.11.egg"]);
        assert_eq!(signature(&ws(src.path())), first, "stable");
        std::fs::create_dir(src.path().join("__pycache__")).expect("mkdir");
        std::fs::write(src.path().join("__pycache__/recipe.pyc"), "compiled").expect("write");
        assert_eq!(signature(&ws(src.path())), first, "compiled files do not count");
        std::fs::write(src.path().join("recipe.py"), "x = 2\n").expect("write");
        assert_ne!(signature(&ws(src.path())), first, "an edit does");
    }
}
