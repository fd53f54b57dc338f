//! Recipes during a run: loading each part's recipe library when its section is evaluated,
//! constructing the recipe there (so options it sets are what later readers see), and serving
//! the host side of the ABI (`get`, `log`, `created`) while a recipe runs.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::abi::HostService;
use crate::abi::wire::{self, ErrorKind as WireKind, Picked, RecipeError};
use crate::config::evaluate::RecipeHook;
use crate::config::{Error, ErrorKind, Sections};
use crate::loader::{self, Library, Loader};
use crate::log::{Level, Log};

/// `[buildout]` options sent with every construction.
const SUMMARY: [&str; 9] = [
    "bin-directory",
    "develop-eggs-directory",
    "directory",
    "eggs-directory",
    "executable",
    "installed",
    "newest",
    "offline",
    "parts-directory",
];

/// A part's constructed recipe.
pub struct Part {
    pub library: Rc<Library>,
    pub entry: String,
    pub recipe: loader::Recipe,
    /// The signature the recipe asked for instead of its library's (see [`wire::Constructed`]).
    pub signature: Option<String>,
}

/// The engine's [`RecipeHook`]: owns the loader and every constructed recipe.
pub struct Recipes {
    loader: RefCell<Loader>,
    summary: RefCell<Option<BTreeMap<String, String>>>,
    parts: RefCell<HashMap<String, Rc<Part>>>,
    log: Rc<dyn Log>,
    /// Versions recipes picked without a pin, for `show-picked-versions`.
    pub picked: RefCell<Vec<Picked>>,
    /// Whether recipe distributions may be got from the index (not while planning).
    fetch: bool,
}

impl Recipes {
    pub fn new(loader: Loader, log: Rc<dyn Log>) -> Recipes {
        Recipes {
            loader: RefCell::new(loader),
            summary: RefCell::new(None),
            parts: RefCell::new(HashMap::new()),
            log,
            picked: RefCell::new(Vec::new()),
            fetch: true,
        }
    }

    /// These recipes, taking recipe distributions from eggs-directory only (for a plan, which
    /// changes nothing).
    pub fn without_fetching(self) -> Recipes {
        Recipes { fetch: false, ..self }
    }

    /// The `[buildout]` options sent with every construction (computed once: `[buildout]` is
    /// evaluated before any recipe runs).
    fn buildout_summary(&self, sections: &mut Sections) -> crate::config::Result<BTreeMap<String, String>> {
        if let Some(summary) = self.summary.borrow().as_ref() {
            return Ok(summary.clone());
        }
        let mut summary = BTreeMap::new();
        for name in SUMMARY {
            if let Some(v) = sections.peek("buildout", name)? {
                summary.insert(name.to_owned(), v);
            }
        }
        if !self.fetch {
            // A plan gets nothing: recipes that install distributions (the Python bridge
            // among them) take only what is installed.
            summary.insert("offline".to_owned(), "true".to_owned());
        }
        *self.summary.borrow_mut() = Some(summary.clone());
        Ok(summary)
    }

    pub fn part(&self, name: &str) -> Option<Rc<Part>> {
        self.parts.borrow().get(name).cloned()
    }

    /// The library of a recipe spec, for uninstalling parts whose recipe is not constructed.
    pub fn library(&self, spec: &str, sections: &mut Sections) -> Result<(Rc<Library>, String), loader::LoadError> {
        let loaded = self.loader.borrow_mut().entry(spec);
        // Not on the search path: a recipe distribution in eggs-directory (issue 11).
        super::recipe_dist::or_installed(loaded, &self.loader, sections, spec)
    }

    pub fn loaded_libraries(&self) -> usize {
        let parts = self.parts.borrow();
        let mut paths: Vec<&std::path::Path> = parts.values().map(|p| p.library.path.as_path()).collect();
        paths.sort();
        paths.dedup();
        paths.len()
    }
}

/// Turns an error that came back from a recipe into ours, naming the part.
pub fn recipe_error(part: &str, e: RecipeError) -> Error {
    match e.kind {
        WireKind::Panic => Error {
            doing: Vec::new(),
            kind: ErrorKind::RecipePanic { part: part.to_owned(), message: e.message },
            detail: e.detail,
        },
        // An error of ours that travelled through the recipe: keep the steps it recorded.
        WireKind::Host => Error { doing: e.doing, kind: ErrorKind::User(e.message), detail: e.detail },
        // Steps the recipe reports (zc.buildout's `Getting distribution for ...`) follow ours.
        _ => Error { doing: e.doing, kind: ErrorKind::User(e.message), detail: e.detail },
    }
}

impl RecipeHook for Recipes {
    fn construct(&self, sections: &mut Sections, part: &str) -> crate::config::Result<()> {
        let spec = sections.peek(part, "recipe")?.unwrap_or_default();
        let (dist, entry) = loader::parse_spec(&spec).map_err(|e| Error::user(e.to_string()))?;
        let before = self.loader.borrow().loaded();
        let loaded = self.loader.borrow_mut().entry(&spec);
        // Not on the search path: the recipe distribution from eggs-directory or the index (issue 11).
        let loaded = super::recipe_dist::or_from_eggs(
            loaded,
            &self.loader,
            sections,
            (&self.picked, self.fetch),
            &*self.log,
            &spec,
        )?;
        if let Ok((library, _)) = &loaded
            && self.loader.borrow().loaded() > before
        {
            // At -v: with several copies on the search path, which one ran is the first thing
            // to know when a recipe misbehaves.
            let meta = &library.metadata;
            self.log.log(
                Level::Debug,
                crate::log::BUILDOUT_LOGGER,
                &format!("Loaded {} {} from {}.", meta.distribution, meta.version, library.path.display()),
            );
        }
        let (library, entry) = loaded.map_err(|e| {
            let mut error = Error::user(e.to_string());
            error.detail = e.detail().map(str::to_owned);
            error.within(format!("Loading zc.buildout recipe entry {dist}:{entry}."))
        })?;
        let options = sections.snapshot(part)?;
        let buildout = self.buildout_summary(sections)?;
        let request =
            wire::Construct { entry: entry.clone(), part: part.to_owned(), options: options.clone(), buildout };
        let host = PartHost::new(sections, &*self.log, &self.picked, part);
        let constructed = library.construct(&host, &request);
        drop(host);
        let (recipe, reply) = constructed.map_err(|e| recipe_error(part, e))?;
        for (key, value) in &reply.options {
            if options.get(key) != Some(value) {
                sections.set(part, key, value.clone())?;
            }
        }
        for key in options.keys().filter(|k| !reply.options.contains_key(*k)) {
            sections.remove(part, key)?;
        }
        sections.mark_used(part, &reply.used);
        let signature = reply.signature;
        self.parts.borrow_mut().insert(part.to_owned(), Rc::new(Part { library, entry, recipe, signature }));
        Ok(())
    }
}

/// The host side of a recipe call: evaluates sections for `get`, logs, and collects the paths
/// the recipe says it creates.
pub struct PartHost<'a> {
    sections: RefCell<&'a mut Sections>,
    picked: &'a RefCell<Vec<Picked>>,
    log: &'a dyn Log,
    part: String,
    pub created: RefCell<Vec<String>>,
}

impl<'a> PartHost<'a> {
    pub fn new(
        sections: &'a mut Sections,
        log: &'a dyn Log,
        picked: &'a RefCell<Vec<Picked>>,
        part: &str,
    ) -> PartHost<'a> {
        PartHost {
            sections: RefCell::new(sections),
            picked,
            log,
            part: part.to_owned(),
            created: RefCell::new(Vec::new()),
        }
    }

    /// The sections, for one service call. A recipe may ask while another part's recipe is
    /// being constructed for this one; the nested evaluation borrows the same sections further
    /// down the stack, so a second borrow is an error, not a panic.
    fn sections(&self) -> Result<std::cell::RefMut<'_, &'a mut Sections>, RecipeError> {
        self.sections
            .try_borrow_mut()
            .map_err(|_| RecipeError::internal(format!("{}: re-entrant access to the buildout", self.part)))
    }

    fn get(&self, payload: &str) -> Result<String, RecipeError> {
        let q: wire::GetOption = parse(payload)?;
        let mut sections = self.sections()?;
        let value = sections.section(&q.section).and_then(|()| sections.get(&q.section, &q.option));
        reply(&value.map_err(host_error)?)
    }

    /// `set` (ABI 2.1): as in zc.buildout, the section is evaluated (and its recipe
    /// constructed) first.
    fn set(&self, payload: &str) -> Result<String, RecipeError> {
        let q: wire::SetOption = parse(payload)?;
        self.sections()?.set(&q.section, &q.option, q.value).map_err(host_error)?;
        Ok(String::new())
    }

    /// `peek` (ABI 2.1): a section's options without marking them used; `null` for a section
    /// that does not exist.
    fn peek(&self, payload: &str) -> Result<String, RecipeError> {
        let q: wire::GetOption = parse(payload)?;
        let mut sections = self.sections()?;
        if !sections.contains(&q.section) {
            return Ok("null".to_owned());
        }
        reply(&Some(sections.snapshot(&q.section).map_err(host_error)?))
    }

    /// `section`: a section's options, each read as `get` reads it; `null` for a section that
    /// does not exist.
    fn section(&self, payload: &str) -> Result<String, RecipeError> {
        let q: wire::GetOption = parse(payload)?;
        let mut sections = self.sections()?;
        if !sections.contains(&q.section) {
            return Ok("null".to_owned());
        }
        let result = sections.section(&q.section).and_then(|()| {
            let mut out = BTreeMap::new();
            for key in sections.keys(&q.section) {
                if let Some(v) = sections.get(&q.section, &key)? {
                    out.insert(key, v);
                }
            }
            Ok(out)
        });
        reply(&Some(result.map_err(host_error)?))
    }
}

fn parse<T: serde::de::DeserializeOwned>(payload: &str) -> Result<T, RecipeError> {
    serde_json::from_str(payload).map_err(|e| RecipeError::internal(e.to_string()))
}

fn reply(value: &impl serde::Serialize) -> Result<String, RecipeError> {
    serde_json::to_string(value).map_err(|e| RecipeError::internal(e.to_string()))
}

/// An error of ours that a recipe's call ran into, to pass back through the recipe with its
/// steps.
fn host_error(e: Error) -> RecipeError {
    RecipeError { kind: WireKind::Host, message: e.kind.to_string(), doing: e.doing, detail: e.detail }
}

impl HostService for PartHost<'_> {
    fn call(&self, method: &str, payload: &str) -> Result<String, String> {
        let result = match method {
            "get" => self.get(payload),
            "section" => self.section(payload),
            "peek" => self.peek(payload),
            "origin" => serde_json::from_str::<wire::GetOption>(payload)
                .map_err(|e| RecipeError::internal(e.to_string()))
                .and_then(|q| {
                    let sections = self.sections.try_borrow().map_err(|_| {
                        RecipeError::internal(format!("{}: re-entrant access to the buildout", self.part))
                    })?;
                    serde_json::to_string(&sections.origin(&q.section, &q.option))
                        .map_err(|e| RecipeError::internal(e.to_string()))
                }),
            "set" => self.set(payload),
            "picked" => serde_json::from_str::<Vec<Picked>>(payload)
                .map(|picked| {
                    self.picked.borrow_mut().extend(picked);
                    String::new()
                })
                .map_err(|e| RecipeError::internal(e.to_string())),
            "progress" => serde_json::from_str::<wire::Progress>(payload)
                .map(|p| {
                    self.log.progress(p.done, p.total, &p.message);
                    String::new()
                })
                .map_err(|e| RecipeError::internal(e.to_string())),
            "log" => serde_json::from_str::<wire::LogRecord>(payload)
                .map(|r| {
                    let level = match r.level {
                        0..=9 => Level::Detail,
                        10..=14 => Level::Debug,
                        15..=24 => Level::Info,
                        25..=34 => Level::Warning,
                        35..=44 => Level::Error,
                        _ => Level::Critical,
                    };
                    self.log.log(level, &r.logger, &r.message);
                    String::new()
                })
                .map_err(|e| RecipeError::internal(e.to_string())),
            "created" => serde_json::from_str::<wire::Created>(payload)
                .map(|c| {
                    self.created.borrow_mut().extend(c.paths);
                    String::new()
                })
                .map_err(|e| RecipeError::internal(e.to_string())),
            other => Err(RecipeError::internal(format!("buildout offers no service {other:?}"))),
        };
        result.map_err(|e| e.to_json())
    }
}

/// Options as saved in `.installed.cfg` for a part: every option, evaluated.
pub type Saved = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the progress reports it is given.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<(u64, u64, String)>>);

    impl Log for Recorder {
        fn configure(&self, _threshold: i64, _format: Option<&str>) {}
        fn log(&self, _level: Level, _logger: &str, _message: &str) {}
        fn print(&self, _text: &str) {}
        fn progress(&self, done: u64, total: u64, message: &str) {
            self.0.borrow_mut().push((done, total, message.to_owned()));
        }
    }

    #[test]
    fn host_services_reach_the_log_and_the_picked_list() {
        let mut sections = Sections::new(BTreeMap::new());
        let log = Recorder::default();
        let picked = RefCell::new(Vec::new());
        let host = PartHost::new(&mut sections, &log, &picked, "demo");
        let calls = [
            ("progress", r#"{"done":1,"total":3,"message":"ZEO 6.2"}"#),
            ("picked", r#"[["demo","0.4"],{"name":"b","version":"1","required_by":["demo==0.4"]}]"#),
        ];
        for (method, payload) in calls {
            assert_eq!(host.call(method, payload), Ok(String::new()), "{method}");
        }
        assert!(host.call("progress", "not json").is_err());
        assert_eq!(*log.0.borrow(), [(1, 3, "ZEO 6.2".to_owned())]);
        let names: Vec<String> = picked.borrow().iter().map(|p| format!("{} {:?}", p.name, p.required_by)).collect();
        assert_eq!(names, ["demo []", "b [\"demo==0.4\"]"]);
    }
}
