//! Assembling the configuration: built-in defaults, user defaults, the main file and everything
//! it extends, command-line `extends` and assignments, the versions section, and the directory
//! options that are made absolute while loading.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::annotated::{
    Annotated, AnnotatedSection, COMMAND_LINE_VALUE, COMPUTED_VALUE, DEFAULT_VALUE, SectionKey, Source, annotate,
    annotate_section, unannotate_section, update, update_section,
};
use super::condition::Environment;
use super::error::{Error, ErrorKind, Result};
use super::parser::{self, RawSection};
use super::pypath;
use super::pytext::{repr, split_ws};
use crate::log::Log;

/// The version of zc.buildout whose behaviour this implementation follows; it is what
/// `--version` reports and the minimum the versions section asks of `zc.buildout`.
pub const COMPATIBLE_ZC_BUILDOUT: &str = "6.0.1";

/// How deep `extends` may nest before we call it a loop (paths can grow without repeating when a
/// directory links to itself).
const MAX_EXTENDS_DEPTH: usize = 256;

/// A command-line assignment `section:option=value`; `option` keeps a trailing `+`/`-` for
/// `+=`/`-=`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub section: String,
    pub option: String,
    pub value: String,
}

/// Everything loading needs to know about the invocation and the machine.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The configuration file as given (`-c`), relative to `cwd`, or a URL.
    pub config_file: String,
    pub cwd: String,
    /// `$BUILDOUT_HOME/default.cfg` or `~/.buildout/default.cfg`.
    pub user_config: Option<String>,
    pub use_user_defaults: bool,
    pub home: Option<String>,
    pub assignments: Vec<Assignment>,
    /// The default of `[buildout] executable`: the Python buildout runs things with.
    pub executable: String,
}

/// The merged configuration, before any `${}` substitution or macro expansion.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// With history, as `annotate` shows it.
    pub annotated: Annotated,
    /// Plain values, standard directories absolute: what `query` shows and evaluation starts from.
    pub raw: BTreeMap<String, RawSection>,
    pub versions_section: String,
}

fn default_options(executable: &str) -> AnnotatedSection {
    let source = Source::from(DEFAULT_VALUE);
    let defaults: [(&str, &str); 22] = [
        ("allow-hosts", "*"),
        ("allow-picked-versions", "true"),
        ("bin-directory", "bin"),
        ("develop-eggs-directory", "develop-eggs"),
        ("eggs-directory", "eggs"),
        ("eggs-directory-version", "v5"),
        ("executable", executable),
        ("find-links", ""),
        ("install-from-cache", "false"),
        ("installed", ".installed.cfg"),
        ("log-format", ""),
        ("log-level", "INFO"),
        ("newest", "true"),
        ("offline", "false"),
        ("parts-directory", "parts"),
        ("prefer-final", "true"),
        ("python", "buildout"),
        ("show-picked-versions", "false"),
        ("socket-timeout", ""),
        ("update-versions-file", ""),
        ("use-dependency-links", "true"),
        ("allow-unknown-extras", "false"),
    ];
    defaults.iter().map(|(k, v)| ((*k).to_owned(), SectionKey::new(*v, &source))).collect()
}

/// The names of the options that have built-in defaults (never reported as unused).
pub fn default_option_names() -> impl Iterator<Item = String> {
    default_options("").into_keys()
}

/// Reads and parses configuration files, following `extends`.
struct Opener<'a> {
    env: &'a Environment,
    log: &'a dyn Log,
    cwd: &'a str,
    override_: AnnotatedSection,
    downloaded: HashSet<String>,
    /// What each URL gave this run: a file is downloaded at most once.
    fetched: HashMap<String, Vec<u8>>,
    /// Made on the first download (`extends` of http(s) URLs).
    client: Option<crate::http::Client>,
}

enum Text {
    Local(String),
    /// A `file:` URL, or a downloaded file kept in `extends-cache` (`local`).
    Url {
        url: String,
        local: String,
    },
    /// A file downloaded over the network.
    Downloaded {
        url: String,
        body: Vec<u8>,
    },
}

/// How remote files are had: zc.buildout's modes for `extends-cache`.
struct Remote<'o> {
    offline: bool,
    newest: bool,
    /// `extends-cache`: downloaded files are kept there, named by the MD5 of their URL.
    cache: Option<&'o str>,
}

/// A configuration file's bytes as text; `path` names it in the error.
fn decode(bytes: Vec<u8>, path: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let position = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..position].iter().filter(|b| **b == b'\n').count() + 1;
        let byte = bytes[position];
        // Python's wording: a byte that can start a sequence failed on what follows it.
        let reason = match (e.utf8_error().error_len(), byte) {
            (None, _) => "unexpected end of data",
            (Some(_), 0xc2..=0xf4) => "invalid continuation byte",
            (Some(_), _) => "invalid start byte",
        };
        Error::new(ErrorKind::NotUtf8 { path: path.to_owned(), line, byte, position, reason })
    })
}

/// The name of a URL's copy in `extends-cache`: the MD5 hex digest of the whole URL.
fn cache_name(url: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(url.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A download failure in zc.buildout's (urllib's) words where there are some.
fn download_reason(e: &crate::http::HttpError) -> String {
    match e {
        crate::http::HttpError::Status { status, .. } => {
            format!("HTTP Error {status}: {}", crate::http::status_reason(*status).unwrap_or("Error"))
        }
        // The URL is in the message already.
        crate::http::HttpError::Transport { cause, .. } => cause.to_string(),
        other => other.to_string(),
    }
}

impl Opener<'_> {
    fn read(&self, path: &str) -> Result<String> {
        let abs = pypath::abspath(path, self.cwd);
        let bytes = std::fs::read(&abs).map_err(|e| {
            Error::new(match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::FileNotFound(path.to_owned()),
                _ => ErrorKind::Io { path: path.to_owned(), source: e },
            })
        })?;
        decode(bytes, path)
    }

    /// Reads `url`: a `file:` URL in place; any other through the HTTP client (and its cache,
    /// which follows the server's `Cache-Control`), with zc.buildout's `extends-cache` modes:
    /// offline, only the cached copy; not newest, the cached copy if there is one; newest, a
    /// fresh download, the cached copy only when the download fails.
    fn read_url(&mut self, url: &str, remote: &Remote<'_>) -> Result<Text> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        if scheme.eq_ignore_ascii_case("file") {
            // urlparse: the path starts at the first `/` after the network location.
            let path = rest.find('/').map_or("", |i| &rest[i..]).to_owned();
            let path = path.split(['?', '#']).next().unwrap_or("").to_owned();
            return Ok(Text::Url { url: url.to_owned(), local: path });
        }
        let cached = remote.cache.map(|dir| pypath::join(dir, &cache_name(url)));
        let cached_copy = || cached.clone().filter(|c| std::path::Path::new(c).is_file());
        if remote.offline {
            return match cached_copy() {
                Some(local) => Ok(Text::Url { url: url.to_owned(), local }),
                None => Err(Error::user(format!("Couldn't download {} in offline mode.", repr(url)))),
            };
        }
        if !remote.newest
            && let Some(local) = cached_copy()
        {
            return Ok(Text::Url { url: url.to_owned(), local });
        }
        if let Some(body) = self.fetched.get(url) {
            return Ok(Text::Downloaded { url: url.to_owned(), body: body.clone() });
        }
        let client = self.client.get_or_insert_with(|| {
            crate::http::Client::new(crate::http::ClientOptions {
                cache_dir: crate::user_cache::dir(),
                ..crate::http::ClientOptions::default()
            })
        });
        match client.get(url, "*/*") {
            Ok(response) => {
                if let (Some(path), Some(dir)) = (&cached, remote.cache) {
                    // Kept for offline and non-newest runs. The directory is made on first use,
                    // as zc.buildout's documentation promises (6.0.1 itself stops here; later
                    // releases create it too).
                    let tmp = format!("{path}.{}.tmp", std::process::id());
                    std::fs::create_dir_all(dir)
                        .and_then(|()| std::fs::write(&tmp, &response.body))
                        .and_then(|()| std::fs::rename(&tmp, path))
                        .map_err(|e| {
                            let _ = std::fs::remove_file(&tmp);
                            Error::file("keep a downloaded file in extends-cache", path.clone(), e)
                        })?;
                }
                self.fetched.insert(url.to_owned(), response.body.clone());
                Ok(Text::Downloaded { url: url.to_owned(), body: response.body })
            }
            Err(e) => match cached_copy() {
                Some(local) if remote.newest => Ok(Text::Url { url: url.to_owned(), local }),
                _ => Err(Error::user(format!("Error downloading extends for URL {url}: {}", download_reason(&e)))),
            },
        }
    }

    /// zc.buildout's `_open`: returns the flattened list of files (extended ones first), each
    /// annotated with its source; the caller folds them.
    fn open(
        &mut self,
        base: &str,
        filename: &str,
        seen: &mut Vec<(String, String)>,
        download_options: &AnnotatedSection,
        user_defaults: &mut Option<Annotated>,
    ) -> Result<Vec<Annotated>> {
        let effective = update_section(download_options.clone(), self.override_.clone());
        let option = |name: &str| effective.get(name).map(|k| k.value.as_str());
        if let Some(cache) = option("extends-cache")
            && has_substitution(cache)
        {
            return Err(Error::user(format!(
                "extends-cache '{cache}' may not contain ${{section:variable}} to expand."
            )));
        }
        let remote = Remote {
            offline: option("offline") == Some("true") || option("install-from-cache") == Some("true"),
            newest: option("newest") != Some("false"),
            cache: option("extends-cache").filter(|c| !c.is_empty()),
        };

        let (filename, text, base) = if pypath::is_url(filename) {
            let t = self.read_url(filename, &remote)?;
            (filename.to_owned(), t, url_base(filename))
        } else if pypath::is_url(base) {
            if pypath::is_abs(filename) {
                (filename.to_owned(), Text::Local(filename.to_owned()), pypath::dirname(filename).to_owned())
            } else {
                let url = format!("{base}/{filename}");
                let t = self.read_url(&url, &remote)?;
                let b = url_base(&url);
                (url, t, b)
            }
        } else {
            let f = pypath::join(base, filename);
            let b = pypath::dirname(&f).to_owned();
            (f.clone(), Text::Local(f), b)
        };
        let (content, shown) = match &text {
            Text::Local(path) => (self.read(path)?, filename.clone()),
            Text::Url { url, local } => (self.read(local)?, format!("{url} (downloaded as {local})")),
            Text::Downloaded { url, body } => (decode(body.clone(), url)?, url.clone()),
        };
        self.downloaded.insert(filename.clone());

        let identity = if pypath::is_url(&filename) { filename.clone() } else { pypath::abspath(&filename, self.cwd) };
        if seen.iter().any(|(_, id)| *id == identity) || seen.len() >= MAX_EXTENDS_DEPTH {
            let chain = seen.iter().map(|(shown, _)| shown.clone()).collect();
            return Err(Error::new(ErrorKind::RecursiveInclude { chain, file: filename }));
        }
        let root = seen.is_empty();
        seen.push((filename.clone(), identity));

        let (mut parsed, lines) =
            parser::parse_with_lines(&content, &shown, self.env).map_err(|e| Error::new(ErrorKind::Parse(e)))?;
        let mut extends = None;
        let mut optional_extends = None;
        if let Some(buildout) = parsed.get_mut("buildout") {
            extends = buildout.remove("extends");
            if buildout.contains_key("extended-by") {
                return Err(Error::user(format!("No-longer supported \"extended-by\" option found in {filename}.")));
            }
            optional_extends = buildout.remove("optional-extends");
        }
        let source = Source::from(filename.as_str());
        let mut result = annotate(parsed, &source);
        // The file's lines go with its values, for messages that send the user to one.
        for (section, options) in &mut result {
            for (option, key) in options.iter_mut() {
                if let Some(line) = lines.get(section, option) {
                    key.set_line(line);
                }
            }
        }

        let mut download_options = download_options.clone();
        if root && let Some(b) = result.get("buildout") {
            download_options = update_section(download_options, b.clone());
        }

        let mut results = Vec::new();
        match &extends {
            Some(names) => {
                for name in split_ws(names) {
                    results.extend(self.open(&base, name, seen, &download_options, user_defaults)?);
                }
            }
            None => {
                if let Some(defaults) = user_defaults.take().filter(|d| !d.is_empty()) {
                    result = update(defaults, result);
                    // zc.buildout removes `optional-extends` from the file's own data, which is
                    // no longer what it returns once user defaults were merged under it.
                    if let Some(v) = &optional_extends {
                        result
                            .entry("buildout".into())
                            .or_default()
                            .insert("optional-extends".into(), SectionKey::new(v.clone(), &source));
                    }
                }
            }
        }
        if let Some(names) = &optional_extends {
            for name in split_ws(names) {
                // zc.buildout tests existence relative to the current directory, then opens the
                // file relative to the extending one.
                if !std::path::Path::new(&pypath::abspath(name, self.cwd)).exists() {
                    self.log.print(&format!("optional-extends file not found: {name}"));
                    continue;
                }
                results.extend(self.open(&base, name, seen, &download_options, user_defaults)?);
            }
        }
        results.push(result);
        seen.pop();
        Ok(results)
    }

    fn open_root(
        &mut self,
        base: &str,
        filename: &str,
        download_options: &AnnotatedSection,
        user_defaults: &mut Option<Annotated>,
    ) -> Result<Annotated> {
        let files = self.open(base, filename, &mut Vec::new(), download_options, user_defaults)?;
        Ok(files.into_iter().fold(Annotated::new(), update))
    }
}

fn url_base(url: &str) -> String {
    url[..url.rfind('/').unwrap_or(0)].to_owned()
}

/// Whether `template` holds a `${...}` reference (zc.buildout splits on `\$\{[^}]*\}`).
pub(crate) fn has_substitution(template: &str) -> bool {
    template.find("${").is_some_and(|i| template[i..].contains('}'))
}

/// Groups command-line assignments by section; for a repeated option the greatest
/// `(option, value)` wins, because zc.buildout sorts the assignments before building a dict.
fn command_line_sections(assignments: &[Assignment]) -> Annotated {
    let source = Source::from(COMMAND_LINE_VALUE);
    let mut sorted = assignments.to_vec();
    sorted.sort();
    let mut out = Annotated::new();
    for a in sorted {
        let key = match a.option.strip_suffix(['+', '-']) {
            Some(base) => format!("{} {}", base.trim_end(), &a.option[a.option.len() - 1..]),
            None => a.option.clone(),
        };
        out.entry(a.section).or_default().insert(key, SectionKey::new(a.value, &source));
    }
    out
}

/// Loads and merges every layer of the configuration.
pub fn assemble(opts: &LoadOptions, env: &Environment, log: &dyn Log) -> Result<Assembled> {
    assemble_layers(opts, env, log).map_err(|e| e.within("Initializing."))
}

fn assemble_layers(opts: &LoadOptions, env: &Environment, log: &dyn Log) -> Result<Assembled> {
    let mut data = Annotated::new();
    data.insert("buildout".into(), default_options(&opts.executable));

    let config_file = if pypath::is_url(&opts.config_file) {
        opts.config_file.clone()
    } else {
        let abs = pypath::abspath(&opts.config_file, &opts.cwd);
        if !std::path::Path::new(&abs).exists() {
            return Err(Error::new(ErrorKind::CouldNotOpen(abs)));
        }
        let dir = pypath::dirname(&abs).to_owned();
        data.entry("buildout".into())
            .or_default()
            .insert("directory".into(), SectionKey::new(dir, &Source::from(COMPUTED_VALUE)));
        abs
    };

    let mut cloptions = command_line_sections(&opts.assignments);
    let override_ = cloptions.get("buildout").cloned().unwrap_or_default();
    let mut opener = Opener {
        env,
        log,
        cwd: &opts.cwd,
        override_,
        downloaded: HashSet::new(),
        fetched: HashMap::new(),
        client: None,
    };

    let mut user_defaults = None;
    let mut for_download = data.clone();
    if let Some(user_config) = opts.user_config.as_deref().filter(|_| opts.use_user_defaults)
        && std::path::Path::new(user_config).exists()
    {
        let defaults = opener.open_root(pypath::dirname(user_config), user_config, &data["buildout"], &mut None)?;
        for_download = update(data.clone(), defaults.clone());
        user_defaults = Some(defaults);
    }
    let download_options = for_download.remove("buildout").unwrap_or_default();

    let base =
        if pypath::is_url(&config_file) { url_base(&config_file) } else { pypath::dirname(&config_file).to_owned() };
    let cfg = opener.open_root(&base, &config_file, &download_options, &mut user_defaults)?;
    data = update(data, cfg);

    if let Some(extends) = cloptions.get_mut("buildout").and_then(|b| b.remove("extends")) {
        for name in split_ws(&extends.value) {
            // Command-line files are opened relative to the current directory. Unlike
            // zc.buildout we do not merge the user defaults under each of them again: that
            // would let default.cfg override the main configuration.
            let cfg = opener.open_root(pypath::dirname(name), pypath::basename(name), &download_options, &mut None)?;
            data = update(data, cfg);
        }
    }
    data = update(data, cloptions);

    let default_source = Source::from(DEFAULT_VALUE);
    let buildout = data.entry("buildout".into()).or_default();
    if !buildout.contains_key("versions") {
        buildout.insert("versions".into(), SectionKey::new("versions", &default_source));
        data.entry("versions".into()).or_default();
    }
    let versions_section = data["buildout"]["versions"].value.clone();
    if !versions_section.is_empty() {
        let versions = data
            .get_mut(&versions_section)
            .ok_or_else(|| Error::new(ErrorKind::MissingSection(versions_section.clone())))?;
        versions
            .entry("zc.buildout".into())
            .or_insert_with(|| SectionKey::new(format!(">={COMPATIBLE_ZC_BUILDOUT}"), &default_source));
        versions.entry("zc.recipe.egg".into()).or_insert_with(|| SectionKey::new(">=2.0.6", &default_source));
    }

    absolutize_directories(&mut data, opts)?;

    let mut raw: BTreeMap<String, RawSection> = data.iter().map(|(k, s)| (k.clone(), unannotate_section(s))).collect();
    if let Some(buildout) = raw.get_mut("buildout")
        && let Some(dir) = buildout.get("directory").cloned()
    {
        for name in ["bin-directory", "parts-directory", "eggs-directory", "develop-eggs-directory"] {
            if let Some(v) = buildout.get_mut(name)
                && !v.contains("${")
            {
                *v = pypath::join(&dir, v);
            }
        }
    }
    Ok(Assembled { annotated: data, raw, versions_section })
}

/// `download-cache`, `eggs-directory` and `extends-cache` are relative to the file that set them.
fn absolutize_directories(data: &mut Annotated, opts: &LoadOptions) -> Result<()> {
    let directory = data["buildout"].get("directory").map(|k| k.value.clone());
    let Some(buildout) = data.get_mut("buildout") else {
        return Ok(());
    };
    for name in ["download-cache", "eggs-directory", "extends-cache"] {
        let Some(key) = buildout.get_mut(name) else {
            continue;
        };
        let value = key.value.clone();
        if value.contains("${") || pypath::is_abs(&value) {
            continue;
        }
        let src = key.source().to_string();
        let basedir = if [DEFAULT_VALUE, COMPUTED_VALUE, COMMAND_LINE_VALUE].contains(&src.as_str()) {
            directory.clone().unwrap_or_else(|| opts.cwd.clone())
        } else if pypath::is_url(&src) {
            return Err(Error::user(format!(
                "Setting \"{name}\" to a non absolute location (\"{value}\") within a\n\
                 remote configuration file (\"{src}\") is ambiguous."
            )));
        } else {
            pypath::dirname(&src).to_owned()
        };
        let expanded = pypath::expanduser(&value, opts.home.as_deref());
        let joined = if pypath::is_abs(&expanded) { expanded } else { pypath::join(&basedir, &expanded) };
        key.set_directory(pypath::abspath(&joined, &opts.cwd));
    }
    Ok(())
}

/// Annotates a section of plain values with one source (macro expansion merges with it).
pub(crate) fn annotate_plain(section: RawSection, source: &Source) -> AnnotatedSection {
    annotate_section(section, source)
}
