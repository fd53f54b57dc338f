//! What files of a project exist, from a buildout's `index` and `find-links`: the index's
//! project page (PEP 691 JSON, else PEP 503 HTML), plus every `find-links` entry (a local
//! directory, an HTML page of links, or a single file). Everything goes through
//! [`crate::http::Client`], so pages are cached and offline mode holds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use pep440_rs::Version;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use super::requirement::canonical_name;
use crate::http::{self, Client, HttpError};

/// The index when a buildout names none.
pub const PYPI: &str = "https://pypi.org/simple";

/// JSON first (PEP 691), HTML from indexes that only have that (PEP 503, and old servers that
/// only know `text/html`).
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// How many index pages are asked for at once by [`Index::projects`].
const IN_FLIGHT: usize = 16;

/// Where distributions come from: a buildout's `index` and `find-links` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// `None`: PyPI. A `file://` URL of a directory that does not exist means no index at all
    /// (zc.buildout's idiom, see [`super::links::all_local`]).
    pub index: Option<String>,
    pub find_links: Vec<String>,
}

/// A wheel's `(python, abi, platform)` tags, each possibly compressed (`py2.py3`).
pub type Tags = (String, String, String);

/// One distribution file of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absolute (`https://…`, or `file://…` for local files), without the `#sha256=` fragment.
    pub url: String,
    /// Lower-case hex, when the page gave one.
    pub sha256: Option<String>,
    /// The `Requires-Python` specifier, as the page gave it.
    pub requires_python: Option<String>,
    pub yanked: bool,
    pub version: Version,
    /// `None` for a source distribution.
    pub wheel_tags: Option<Tags>,
}

impl DistFile {
    /// Whether `Requires-Python` admits `python` (`None`: the version is unknown, and a
    /// specifier that cannot be read admits everything, as pip takes them).
    pub fn runs_on(&self, python: Option<&Version>) -> bool {
        match (&self.requires_python, python) {
            (Some(spec), Some(python)) => super::requirement::specifiers_allow(spec, python),
            _ => true,
        }
    }

    /// Whether this file could be installed for `interp` (whose version is `python`): a
    /// source distribution or a wheel of its tags, `Requires-Python` met. Yanked files are the
    /// caller's to pass over.
    pub fn installable(&self, interp: &super::Interpreter, python: Option<&Version>) -> bool {
        self.runs_on(python) && self.wheel_tags.as_ref().is_none_or(|t| super::links::compatible(t, interp))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("`{url}` is not a valid PEP 691 page: {reason}")]
    Json { url: String, reason: String },
    #[error("couldn't list `{}`: {cause}", .path.display())]
    Dir { path: PathBuf, cause: std::io::Error },
    /// A `find-links` entry that failed once, for every project that asks.
    #[error(transparent)]
    FindLinks(Arc<IndexError>),
}

/// A file a page or directory links to, before it is known whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub filename: String,
    pub url: String,
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: bool,
}

type Shared = Result<Arc<Vec<Link>>, Arc<IndexError>>;

/// The files of projects, from one set of [`Sources`]. Usable from many threads.
pub struct Index {
    client: Client,
    /// `None`: no index, only `find-links`.
    index: Option<String>,
    find_links: Vec<String>,
    /// Each `find-links` entry read once, whatever the number of projects (and threads) that
    /// ask: the cell makes concurrent askers wait for the first.
    links: Mutex<HashMap<String, Arc<OnceLock<Shared>>>>,
    /// Set once an index page came that the HTTP cache cannot serve again (see
    /// [`http::Response::reusable`]).
    unreusable: std::sync::atomic::AtomicBool,
    /// `find-links` entries that could not be read, with why: passed over, as setuptools
    /// passes over them ("Some packages may not be found!"), and reported by the caller.
    unreadable: Mutex<Vec<(String, String)>>,
}

impl Index {
    pub fn new(client: Client, sources: Sources) -> Index {
        let index = match sources.index.as_deref().map(str::trim) {
            None | Some("") => Some(PYPI.to_owned()),
            Some(url) if http::file_path(url).is_some_and(|p| !p.exists()) => None,
            Some(url) => Some(url.to_owned()),
        };
        Index {
            client,
            index,
            find_links: sources.find_links,
            links: Mutex::new(HashMap::new()),
            unreusable: std::sync::atomic::AtomicBool::new(false),
            unreadable: Mutex::new(Vec::new()),
        }
    }

    /// The `find-links` entries passed over since the last call, with why (each once).
    pub fn take_unreadable(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.unreadable.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Logs setuptools' warning for each `find-links` entry passed over since the last call,
    /// and answers those entries.
    pub fn warn_unreadable(&self, log: &mut dyn FnMut(crate::log::Level, &str)) -> Vec<String> {
        let unreadable = self.take_unreadable();
        for (link, reason) in &unreadable {
            log(
                crate::log::Level::Warning,
                &format!("Download error on {link}: {reason} -- Some packages may not be found!"),
            );
        }
        unreadable.into_iter().map(|(link, _)| link).collect()
    }

    /// Whether an index page came that the HTTP cache cannot serve again: fetching pages
    /// ahead of time is then of no use.
    pub fn pages_unreusable(&self) -> bool {
        self.unreusable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The HTTP client the pages come through, for fetching the files they list.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every file of `name`'s project: the index's first (in page order), then each
    /// `find-links` entry's. A project the index does not know has no index files.
    pub fn project(&self, name: &str) -> Result<Vec<DistFile>, IndexError> {
        let project = canonical_name(name);
        let mut links = match &self.index {
            Some(index) => self.index_links(index, &project)?,
            None => Vec::new(),
        };
        for entry in &self.find_links {
            match self.find_links_entry(entry) {
                Ok(found) => links.extend(found.iter().cloned()),
                // An entry that cannot be read is passed over while another source may serve.
                Err(e) if self.index.is_some() || self.find_links.len() > 1 => {
                    let mut unreadable = self.unreadable.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if !unreadable.iter().any(|(link, _)| link == entry) {
                        unreadable.push((entry.clone(), e.to_string()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let mut seen = HashSet::new();
        Ok(links
            .into_iter()
            .filter_map(|link| dist_file(link, &project))
            .filter(|file| seen.insert(file.url.clone()))
            .collect())
    }

    /// [`Index::project`] for many projects at once (at most 16 requests in flight), in the
    /// order of `names`. `progress(done, total, name)` is called on this thread as each ends.
    pub fn projects(
        &self,
        names: &[String],
        progress: &dyn Fn(u64, u64, &str),
    ) -> Vec<(String, Result<Vec<DistFile>, IndexError>)> {
        let total = names.len();
        let next = AtomicUsize::new(0);
        let mut done = Vec::with_capacity(total);
        std::thread::scope(|scope| {
            let (sender, receiver) = mpsc::channel();
            for _ in 0..total.min(IN_FLIGHT) {
                let (sender, next) = (sender.clone(), &next);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(name) = names.get(i) else { break };
                        if sender.send((i, self.project(name))).is_err() {
                            break;
                        }
                    }
                });
            }
            // The workers hold the only senders: the loop ends when the last one is done.
            drop(sender);
            for (i, result) in receiver {
                done.push((i, result));
                progress(done.len() as u64, total as u64, &names[i]);
            }
        });
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(i, result)| (names[i].clone(), result)).collect()
    }

    fn index_links(&self, index: &str, project: &str) -> Result<Vec<Link>, IndexError> {
        let page = format!("{}/{project}/", index.trim_end_matches('/'));
        let url = match http::file_path(&page) {
            // A local index is a directory per project, with its page as index.html (pip's
            // reading) or, without one, the files themselves.
            Some(dir) if dir.join("index.html").is_file() => file_url(&dir.join("index.html")),
            Some(dir) if dir.is_dir() => return list_dir(&dir),
            Some(_) => return Ok(Vec::new()),
            None => page,
        };
        let response = match self.client.get(&url, ACCEPT) {
            Ok(response) => response,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        if !response.reusable {
            self.unreusable.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        parse_page(&response)
    }

    fn find_links_entry(&self, entry: &str) -> Result<Arc<Vec<Link>>, IndexError> {
        let cell = match self.links.lock() {
            Ok(mut links) => links.entry(entry.to_owned()).or_default().clone(),
            // A thread that panicked while holding the map only inserted a cell.
            Err(poisoned) => poisoned.into_inner().entry(entry.to_owned()).or_default().clone(),
        };
        cell.get_or_init(|| self.read_find_links(entry).map(Arc::new).map_err(Arc::new))
            .clone()
            .map_err(IndexError::FindLinks)
    }

    fn read_find_links(&self, entry: &str) -> Result<Vec<Link>, IndexError> {
        let entry = entry.trim();
        let local = match http::file_path(entry) {
            Some(path) => Some(path),
            None if !entry.contains("://") => Some(PathBuf::from(entry)),
            None => None,
        };
        if let Some(path) = local {
            if path.is_dir() {
                return list_dir(&path);
            }
            if !path.exists() {
                // Buildouts often name a download directory that is made later.
                return Ok(Vec::new());
            }
            if !is_page_name(&path.to_string_lossy()) {
                return Ok(local_link(&path).into_iter().collect());
            }
            return parse_page(&self.client.get(&file_url(&absolute(&path)), "text/html")?);
        }
        let path = entry.split(['?', '#']).next().unwrap_or(entry);
        if !is_page_name(path) {
            return Ok(href_link(entry, entry).into_iter().collect());
        }
        parse_page(&self.client.get(entry, "text/html")?)
    }
}

/// Whether a URL path or file name is a page of links rather than a distribution file.
fn is_page_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !(name.ends_with(".whl") || SDIST_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) || name.ends_with(".egg"))
}

fn parse_page(response: &http::Response) -> Result<Vec<Link>, IndexError> {
    let media = response.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media == "application/vnd.pypi.simple.v1+json" || media == "application/json" {
        return parse_json(&response.body, &response.url)
            .map_err(|e| IndexError::Json { url: http::redact(&response.url), reason: e.to_string() });
    }
    Ok(parse_html(&String::from_utf8_lossy(&response.body), &response.url))
}

#[derive(serde::Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(serde::Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: JsonHashes,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<Yanked>,
}

/// The one hash we check; the others are skipped unread (a map of them, built for each of a
/// page's thousands of files, was a tenth of a no-op run's time).
#[derive(serde::Deserialize, Default)]
struct JsonHashes {
    sha256: Option<String>,
}

/// PEP 691: `false`, `true`, or the reason (which means yanked).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Yanked {
    Flag(bool),
    Reason(#[allow(dead_code)] String),
}

/// The files of a PEP 691 JSON project page fetched from `page_url`.
pub fn parse_json(body: &[u8], page_url: &str) -> Result<Vec<Link>, serde_json::Error> {
    let page: JsonPage = serde_json::from_slice(body)?;
    Ok(page
        .files
        .into_iter()
        .map(|f| {
            let (url, fragment_sha) = split_fragment(&http::join_url(page_url, &f.url));
            Link {
                filename: f.filename,
                url,
                sha256: f.hashes.sha256.map(|h| h.to_ascii_lowercase()).or(fragment_sha),
                requires_python: f.requires_python.filter(|r| !r.trim().is_empty()),
                yanked: match f.yanked {
                    None | Some(Yanked::Flag(false)) => false,
                    Some(Yanked::Flag(true) | Yanked::Reason(_)) => true,
                },
            }
        })
        .collect())
}

/// The files an HTML page (PEP 503, or any page of links) fetched from `page_url` links to.
pub fn parse_html(html: &str, page_url: &str) -> Vec<Link> {
    let mut base = page_url.to_owned();
    let mut links = Vec::new();
    for tag in tags(html) {
        let attribute = |name: &str| tag.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        match tag.name.as_str() {
            "base" => {
                if let Some(href) = attribute("href") {
                    base = http::join_url(page_url, href);
                }
            }
            "a" => {
                let Some(href) = attribute("href") else { continue };
                let Some(mut link) = href_link(&base, href) else { continue };
                link.requires_python =
                    attribute("data-requires-python").map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
                link.yanked = attribute("data-yanked").is_some();
                links.push(link);
            }
            _ => {}
        }
    }
    links
}

/// A link to `href` (relative to `base`) named by its last path segment.
fn href_link(base: &str, href: &str) -> Option<Link> {
    let (url, sha256) = split_fragment(&http::join_url(base, href));
    let path = url.split('?').next().unwrap_or(&url);
    let name = path.rsplit('/').next().unwrap_or_default();
    let filename = percent_decode_str(name).decode_utf8_lossy().into_owned();
    (!filename.is_empty()).then_some(Link { filename, url, sha256, requires_python: None, yanked: false })
}

/// The URL without its fragment, and the SHA-256 the fragment gives (`#sha256=…`).
fn split_fragment(url: &str) -> (String, Option<String>) {
    match url.split_once('#') {
        Some((bare, fragment)) => {
            let sha = fragment.strip_prefix("sha256=").map(str::to_ascii_lowercase);
            (bare.to_owned(), sha)
        }
        None => (url.to_owned(), None),
    }
}

/// The files of a local directory, in name order.
fn list_dir(dir: &Path) -> Result<Vec<Link>, IndexError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| IndexError::Dir { path: dir.to_owned(), cause })?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    Ok(paths.iter().filter_map(|p| local_link(&absolute(p))).collect())
}

fn local_link(path: &Path) -> Option<Link> {
    let filename = path.file_name()?.to_str()?.to_owned();
    Some(Link { filename, url: file_url(&absolute(path)), sha256: None, requires_python: None, yanked: false })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// What must be escaped for a path in a `file://` URL to read back the same through
/// [`http::file_path`].
const PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?').add(b'<').add(b'>');

fn file_url(path: &Path) -> String {
    format!("file://{}", utf8_percent_encode(&path.to_string_lossy(), PATH))
}

/// Becomes a [`DistFile`] if the link names a file of `project` (canonical) whose version
/// PEP 440 can read.
fn dist_file(link: Link, project: &str) -> Option<DistFile> {
    let (version, wheel_tags) = parse_filename(&link.filename, project)?;
    Some(DistFile {
        filename: link.filename,
        url: link.url,
        sha256: link.sha256,
        requires_python: link.requires_python,
        yanked: link.yanked,
        version,
        wheel_tags,
    })
}

const SDIST_EXTENSIONS: [&str; 7] = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".zip", ".tar"];

/// The version and (for a wheel) the tags of `filename` if it is a distribution of `project`
/// (a canonical name): `zope_interface-8.7-cp311-cp311-manylinux_2_17_x86_64.whl`,
/// `python-dateutil-2.8.2.tar.gz`. A source distribution's name and version are split where
/// the name matches the project, since both may contain dashes. Eggs are not read: nothing
/// makes them any more, and they need an installer that builds eggs.
pub fn parse_filename(filename: &str, project: &str) -> Option<(Version, Option<Tags>)> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        // name-version[-build]-python-abi-platform
        let [name, version, .., python, abi, platform] = parts[..] else { return None };
        if !(5..=6).contains(&parts.len()) || canonical_name(name) != project {
            return None;
        }
        let tags = (python.to_owned(), abi.to_owned(), platform.to_owned());
        return Some((Version::from_str(version).ok()?, Some(tags)));
    }
    let lower = filename.to_ascii_lowercase();
    let ext = SDIST_EXTENSIONS.iter().find(|ext| lower.ends_with(*ext))?;
    let stem = &filename[..filename.len() - ext.len()];
    stem.match_indices('-')
        .map(|(i, _)| i)
        .find(|&i| canonical_name(&stem[..i]) == project)
        .and_then(|i| Version::from_str(&stem[i + 1..]).ok())
        .map(|version| (version, None))
}

/// A start tag: its name and attributes, lower-case names, unescaped values.
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// The start tags of an HTML document. Not a full HTML parser, and need not be one: index
/// pages are machine-written lists of anchors. Handles quoted and unquoted attribute values,
/// attributes without a value, comments, and the usual character references.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        i += offset + 1;
        if html[i..].starts_with("!--") {
            i = html[i..].find("-->").map_or(html.len(), |end| i + end + 3);
            continue;
        }
        let name_end = html[i..].find(|c: char| !c.is_ascii_alphanumeric()).map_or(html.len(), |n| i + n);
        if name_end == i {
            // `</a>`, `<!DOCTYPE …>`, or a stray `<`.
            continue;
        }
        let name = html[i..name_end].to_ascii_lowercase();
        i = name_end;
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'>' {
                i += 1;
                break;
            }
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=>/".contains(&bytes[i]) {
                i += 1;
            }
            let attribute = html[start..i].to_ascii_lowercase();
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                let raw = match bytes.get(i) {
                    Some(&quote @ (b'"' | b'\'')) => {
                        let end = html[i + 1..].find(quote as char).map_or(html.len(), |n| i + 1 + n);
                        let raw = &html[i + 1..end];
                        i = (end + 1).min(html.len());
                        raw
                    }
                    _ => {
                        let start = i;
                        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                            i += 1;
                        }
                        &html[start..i]
                    }
                };
                value = unescape(raw);
            }
            if !attribute.is_empty() {
                attributes.push((attribute, value));
            }
        }
        tags.push(Tag { name, attributes });
        if i >= html.len() {
            break;
        }
    }
    tags
}

/// Replaces HTML character references: the named ones index pages use, and numeric ones.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)
                }),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ClientOptions;
    use crate::http::test_server::{Reply, Server};

    /// An excerpt of PyPI's `/simple/zc-lockfile/` (PEP 691), plus a relative URL as private
    /// indexes write them, a `true` yank, a version PEP 440 can't read and another project.
    const PYPI_JSON: &str = r#"{
      "meta": {"api-version": "1.1", "_last-serial": "31318763"},
      "name": "zc-lockfile",
      "files": [
        {"filename": "zc.lockfile-1.0.0.tar.gz",
         "hashes": {"sha256": "1f170e46eff20ae6c81cad5465f26702f3d3435e0511fb7983cd61a6ed84d5c0"},
         "requires-python": null, "size": 4014, "upload-time": "2008-10-18T17:19:51Z",
         "url": "https://files.pythonhosted.org/packages/fe/cf/7e0d2764a100f3ca26ad348039593f2c699a9299c4474f84484055ac0b11/zc.lockfile-1.0.0.tar.gz",
         "yanked": false},
        {"filename": "zc.lockfile-3.0-py3-none-any.whl",
         "hashes": {"sha256": "d65acf321e5c92ee594c3030e59ddd832f03f6dc3c7d7cae1c5607e99fa80dc7"},
         "requires-python": null, "size": 9615,
         "url": "https://files.pythonhosted.org/packages/ae/e0/d1133fa4fa3943d47115088c0dd98dcdfb59c00d42cc379534c1b174a391/zc.lockfile-3.0-py3-none-any.whl",
         "yanked": "python_requires missing in setup.py"},
        {"filename": "zc_lockfile-4.0-py3-none-any.whl",
         "hashes": {"sha256": "aa3aa295257bebaa09ea9ad5cb288bf9f98f88de6932f96b6659f62715d83581"},
         "requires-python": ">=3.9", "size": 9143, "upload-time": "2025-09-18T07:32:33.517680Z",
         "url": "https://files.pythonhosted.org/packages/3b/7f/3a614b65bc4b181578b1d50a78663ee02d5d2d3b859712f3d3597c8afe6f/zc_lockfile-4.0-py3-none-any.whl",
         "yanked": false},
        {"filename": "zc_lockfile-4.1.tar.gz", "hashes": {}, "url": "../../packages/zc_lockfile-4.1.tar.gz", "yanked": true},
        {"filename": "zc.lockfile-latest.tar.gz", "hashes": {}, "url": "zc.lockfile-latest.tar.gz"},
        {"filename": "other-1.0.tar.gz", "hashes": {}, "url": "other-1.0.tar.gz"}
      ],
      "versions": ["1.0.0", "3.0", "4.0", "4.1"]
    }"#;

    /// An excerpt of PyPI's HTML page for the same project, plus what hand-made pages hold.
    const PYPI_HTML: &str = r#"<!DOCTYPE html>
<html>
<head><title>Links for zc.lockfile</title></head>
<body>
<h1>Links for zc.lockfile</h1>
<a href="https://files.pythonhosted.org/packages/ae/e0/d1133fa4fa3943d47115088c0dd98dcdfb59c00d42cc379534c1b174a391/zc.lockfile-3.0-py3-none-any.whl#sha256=d65acf321e5c92ee594c3030e59ddd832f03f6dc3c7d7cae1c5607e99fa80dc7" data-yanked="python_requires missing in setup.py">zc.lockfile-3.0-py3-none-any.whl</a><br/>
<a href="https://files.pythonhosted.org/packages/5b/83/a5432aa08312fc834ea594473385c005525e6a80d768a2ad246e78877afd/zc.lockfile-3.0.post1.tar.gz#sha256=adb2ee6d9e6a2333c91178dcb2c9b96a5744c78edb7712dc784a7d75648e81ec" data-requires-python="&gt;=3.7">zc.lockfile-3.0.post1.tar.gz</a><br/>
<!-- <a href="commented-out-1.0.tar.gz">no</a> -->
<A HREF='../../packages/zc_lockfile-4.0-py3-none-any.whl?a=1&amp;b=2' data-requires-python='&gt;=3.8,&lt;4' data-yanked>x</A>
<a href=zc.lockfile-4.1%2Blocal.tar.gz>unquoted</a>
<a name="no-href">anchor without href</a>
</body>
</html>
"#;

    fn version(v: &str) -> Version {
        Version::from_str(v).expect("version")
    }

    #[test]
    fn json_pages() {
        let page = "https://example.org/simple/zc-lockfile/";
        let links = parse_json(PYPI_JSON.as_bytes(), page).expect("parses");
        let files: Vec<DistFile> = links.into_iter().filter_map(|l| dist_file(l, "zc-lockfile")).collect();
        let summary: Vec<(&str, String, bool, Option<&str>, bool)> = files
            .iter()
            .map(|f| {
                (f.filename.as_str(), f.version.to_string(), f.yanked, f.requires_python.as_deref(), f.sha256.is_some())
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("zc.lockfile-1.0.0.tar.gz", "1.0.0".to_owned(), false, None, true),
                ("zc.lockfile-3.0-py3-none-any.whl", "3.0".to_owned(), true, None, true),
                ("zc_lockfile-4.0-py3-none-any.whl", "4.0".to_owned(), false, Some(">=3.9"), true),
                ("zc_lockfile-4.1.tar.gz", "4.1".to_owned(), true, None, false),
            ]
        );
        assert_eq!(files[3].url, "https://example.org/packages/zc_lockfile-4.1.tar.gz", "relative to the page");
        assert_eq!(
            files[2].sha256.as_deref(),
            Some("aa3aa295257bebaa09ea9ad5cb288bf9f98f88de6932f96b6659f62715d83581")
        );
        assert_eq!(files[2].wheel_tags, Some(("py3".into(), "none".into(), "any".into())));
        assert!(parse_json(b"{\"files\": 3}", page).is_err());
        assert!(parse_json(b"<html>", page).is_err());
    }

    #[test]
    fn html_pages() {
        let page = "https://example.org/simple/zc-lockfile/";
        let links = parse_html(PYPI_HTML, page);
        type Summary<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, bool);
        let summary: Vec<Summary<'_>> = links
            .iter()
            .map(|l| (l.filename.as_str(), l.url.as_str(), l.sha256.as_deref(), l.requires_python.as_deref(), l.yanked))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "zc.lockfile-3.0-py3-none-any.whl",
                    "https://files.pythonhosted.org/packages/ae/e0/d1133fa4fa3943d47115088c0dd98dcdfb59c00d42cc379534c1b174a391/zc.lockfile-3.0-py3-none-any.whl",
                    Some("d65acf321e5c92ee594c3030e59ddd832f03f6dc3c7d7cae1c5607e99fa80dc7"),
                    None,
                    true
                ),
                (
                    "zc.lockfile-3.0.post1.tar.gz",
                    "https://files.pythonhosted.org/packages/5b/83/a5432aa08312fc834ea594473385c005525e6a80d768a2ad246e78877afd/zc.lockfile-3.0.post1.tar.gz",
                    Some("adb2ee6d9e6a2333c91178dcb2c9b96a5744c78edb7712dc784a7d75648e81ec"),
                    Some(">=3.7"),
                    false
                ),
                (
                    "zc_lockfile-4.0-py3-none-any.whl",
                    "https://example.org/packages/zc_lockfile-4.0-py3-none-any.whl?a=1&b=2",
                    None,
                    Some(">=3.8,<4"),
                    true
                ),
                (
                    "zc.lockfile-4.1+local.tar.gz",
                    "https://example.org/simple/zc-lockfile/zc.lockfile-4.1%2Blocal.tar.gz",
                    None,
                    None,
                    false
                ),
            ]
        );
        let versions: Vec<String> =
            links.into_iter().filter_map(|l| dist_file(l, "zc-lockfile")).map(|f| f.version.to_string()).collect();
        assert_eq!(versions, ["3.0", "3.0.post1", "4.0", "4.1+local"]);

        let based = parse_html("<base href='/files/'><a href=\"d-1.0.zip\">d</a>", page);
        assert_eq!(based[0].url, "https://example.org/files/d-1.0.zip");
        // Broken markup gives what it can, never a panic.
        for broken in ["<a href=\"x-1.0.zip", "<a href=", "<", "<a", "&", "<a href='&#xZZ;&#99999999;'>", "<!--"] {
            let _ = parse_html(broken, page);
        }
    }

    #[test]
    fn character_references() {
        let cases = [
            ("&gt;=3.8", ">=3.8"),
            ("a&amp;b&lt;c&quot;d&#39;e&apos;f", "a&b<c\"d'e'f"),
            ("&#x3E;&#62;", ">>"),
            ("&unknown; & &", "&unknown; & &"),
            ("&#99999999;", "&#99999999;"),
        ];
        for (text, expected) in cases {
            assert_eq!(unescape(text), expected, "{text}");
        }
    }

    #[test]
    fn file_names() {
        type Expected<'a> = Option<(&'a str, Option<(&'a str, &'a str, &'a str)>)>;
        let cases: [(&str, &str, Expected<'_>); 14] = [
            ("ZEO-6.2-py3-none-any.whl", "zeo", Some(("6.2", Some(("py3", "none", "any"))))),
            ("demo-1.0-1-py2.py3-none-any.whl", "demo", Some(("1.0", Some(("py2.py3", "none", "any"))))),
            (
                "zope_interface-8.7-cp311-cp311-manylinux_2_17_x86_64.whl",
                "zope-interface",
                Some(("8.7", Some(("cp311", "cp311", "manylinux_2_17_x86_64")))),
            ),
            ("zope_interface-8.7-cp311-cp311-manylinux_2_17_x86_64.whl", "zope", None),
            ("python-dateutil-2.8.2.tar.gz", "python-dateutil", Some(("2.8.2", None))),
            ("python-dateutil-2.8.2.tar.gz", "python", None),
            ("zc.lockfile-3.0.post1.tar.gz", "zc-lockfile", Some(("3.0.post1", None))),
            ("Demo-0.3.ZIP", "demo", Some(("0.3", None))),
            ("demo-0.3.tar.bz2", "demo", Some(("0.3", None))),
            ("demo-1.0.dev3.tar.gz", "demo", Some(("1.0.dev3", None))),
            ("demo-latest.tar.gz", "demo", None),
            ("broken-1.0.whl", "broken", None),
            ("demo-0.3-py3.11.egg", "demo", None),
            ("README.txt", "readme", None),
        ];
        for (file, project, expected) in cases {
            let expected = expected.map(|(v, t)| (version(v), t.map(|(a, b, c)| (a.into(), b.into(), c.into()))));
            assert_eq!(parse_filename(file, project), expected, "{file} for {project}");
        }
    }

    #[test]
    fn sources() {
        let dir = tempfile::tempdir().expect("temp dir");
        let client = Client::new(ClientOptions::default());
        let cases: [(Option<&str>, Option<&str>); 4] = [
            (None, Some(PYPI)),
            (Some(""), Some(PYPI)),
            (Some("file:///nonexistent/index"), None),
            (Some("https://example.org/simple/"), Some("https://example.org/simple/")),
        ];
        for (index, expected) in cases {
            let sources = Sources { index: index.map(str::to_owned), find_links: vec![] };
            assert_eq!(Index::new(client.clone(), sources).index.as_deref(), expected, "{index:?}");
        }
        let local = format!("file://{}", dir.path().display());
        let index = Index::new(client, Sources { index: Some(local.clone()), find_links: vec![] });
        assert_eq!(index.index, Some(local));
    }

    /// An index on a local server, with find-links of every kind.
    #[test]
    fn find_links_that_cannot_be_read_are_passed_over_while_another_source_serves() {
        let local = tempfile::tempdir().expect("temp dir");
        std::fs::write(local.path().join("demo-0.8-py3-none-any.whl"), "").expect("write");
        // Nothing listens on the discard port of the loopback address: the connection is refused.
        let unreachable = "http://127.0.0.1:9/links/".to_owned();
        let client = Client::new(ClientOptions::default());
        let both = Sources {
            index: Some(format!("file://{}", local.path().join("no-index").display())),
            find_links: vec![unreachable.clone(), local.path().display().to_string()],
        };
        let index = Index::new(client.clone(), both);
        for _ in 0..2 {
            let files = index.project("demo").expect("the local find-links serve");
            assert_eq!(files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>(), ["demo-0.8-py3-none-any.whl"]);
        }
        let passed_over = index.take_unreadable();
        assert_eq!(passed_over.iter().map(|(link, _)| link.as_str()).collect::<Vec<_>>(), [unreachable.as_str()]);
        assert!(index.take_unreadable().is_empty(), "reported once");
        let alone = Sources {
            index: Some(format!("file://{}", local.path().join("no-index").display())),
            find_links: vec![unreachable],
        };
        assert!(Index::new(client, alone).project("demo").is_err(), "the only source fails the lookup");
    }

    #[test]
    fn projects_from_index_and_find_links() {
        let server = Server::start(|request| {
            let json = [("Content-Type", "application/vnd.pypi.simple.v1+json"), ("Cache-Control", "max-age=600")];
            match request.path.as_str() {
                "/simple/demo/" => Reply::new(
                    200,
                    &json,
                    r#"{"files": [
                        {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
                         "hashes": {"sha256": "AB12"}, "requires-python": ">=3.8", "yanked": false},
                        {"filename": "demo-0.9.tar.gz", "url": "/files/demo-0.9.tar.gz", "hashes": {}, "yanked": "bad"}
                    ]}"#,
                ),
                "/simple/html-only/" => Reply::new(
                    200,
                    &[("Content-Type", "text/html; charset=utf-8")],
                    "<a href='/files/html_only-2.0.tar.gz#sha256=CD34' data-requires-python='&gt;=3.8'>h</a>",
                ),
                "/simple/broken/" => Reply::new(200, &json, "{not json"),
                "/links/" => Reply::new(
                    200,
                    &[("Content-Type", "text/html")],
                    "<a href='demo-1.1.tar.gz'>demo</a> <a href='html_only-2.1-py3-none-any.whl'>h</a>
                     <a href='/files/demo-1.0-py3-none-any.whl'>same file as the index's</a>",
                ),
                _ => Reply::new(404, &[], "not found"),
            }
        });
        let local = tempfile::tempdir().expect("temp dir");
        for file in ["demo-0.8-py3-none-any.whl", "demo-notes.txt", "other-1.0.tar.gz"] {
            std::fs::write(local.path().join(file), "").expect("write");
        }
        let cache = tempfile::tempdir().expect("temp dir");
        let client =
            Client::new(ClientOptions { cache_dir: Some(cache.path().to_owned()), ..ClientOptions::default() });
        let sources = Sources {
            index: Some(server.url("/simple")),
            find_links: vec![
                server.url("/links/"),
                server.url("/direct/demo-1.2.zip#sha256=EF56"),
                local.path().display().to_string(),
                format!("file://{}", local.path().join("does-not-exist").display()),
            ],
        };
        let index = Index::new(client.clone(), sources);
        let names: Vec<String> =
            ["demo", "HTML_Only", "nothing", "broken", "Demo"].iter().map(|n| (*n).to_owned()).collect();
        let calls = std::cell::RefCell::new(Vec::new());
        let results =
            index.projects(&names, &|done, total, name| calls.borrow_mut().push((done, total, name.to_owned())));

        let mut calls = calls.into_inner();
        assert_eq!(
            calls.iter().map(|(d, t, _)| (*d, *t)).collect::<Vec<_>>(),
            [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
        );
        calls.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(
            calls.iter().map(|c| c.2.as_str()).collect::<Vec<_>>(),
            ["Demo", "HTML_Only", "broken", "demo", "nothing"]
        );
        assert_eq!(results.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), names, "in the order asked");

        let files = |i: usize| -> Vec<(String, String, Option<String>, bool)> {
            let Ok(files) = &results[i].1 else { panic!("{}: {:?}", results[i].0, results[i].1) };
            files.iter().map(|f| (f.filename.clone(), f.url.clone(), f.sha256.clone(), f.yanked)).collect()
        };
        let local_url = |name: &str| format!("file://{}", local.path().join(name).display());
        let demo = vec![
            (
                "demo-1.0-py3-none-any.whl".into(),
                server.url("/files/demo-1.0-py3-none-any.whl"),
                Some("ab12".into()),
                false,
            ),
            ("demo-0.9.tar.gz".into(), server.url("/files/demo-0.9.tar.gz"), None, true),
            ("demo-1.1.tar.gz".into(), server.url("/links/demo-1.1.tar.gz"), None, false),
            ("demo-1.2.zip".into(), server.url("/direct/demo-1.2.zip"), Some("ef56".into()), false),
            ("demo-0.8-py3-none-any.whl".into(), local_url("demo-0.8-py3-none-any.whl"), None, false),
        ];
        assert_eq!(files(0), demo);
        assert_eq!(files(4), demo, "the same project by another spelling");
        assert_eq!(
            files(1),
            [
                ("html_only-2.0.tar.gz".into(), server.url("/files/html_only-2.0.tar.gz"), Some("cd34".into()), false),
                (
                    "html_only-2.1-py3-none-any.whl".into(),
                    server.url("/links/html_only-2.1-py3-none-any.whl"),
                    None,
                    false
                ),
            ]
        );
        assert_eq!(files(2), [], "a project the index doesn't know");
        let Err(error) = &results[3].1 else { panic!("broken JSON is an error") };
        assert!(matches!(error, IndexError::Json { .. }), "{error}");

        let asked: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(asked.iter().filter(|p| *p == "/links/").count(), 1, "a find-links page is read once: {asked:?}");
        assert!(!asked.iter().any(|p| p.starts_with("/direct/")), "a file link is not fetched");
        let accept = server
            .requests()
            .into_iter()
            .find(|r| r.path == "/simple/demo/")
            .and_then(|r| r.header("accept").map(str::to_owned));
        assert_eq!(accept.as_deref(), Some(ACCEPT));

        // A second Index on the same cache: fresh JSON pages cost nothing, the HTML page
        // (no Cache-Control) and the find-links page are asked again.
        let before = client.requests_made();
        let again = Index::new(client.clone(), Sources { index: Some(server.url("/simple")), find_links: vec![] });
        assert_eq!(again.project("demo").expect("demo").len(), 2);
        assert_eq!(client.requests_made(), before);

        // Offline, what was never fetched is a named error.
        let offline = Client::new(ClientOptions {
            cache_dir: Some(cache.path().to_owned()),
            offline: true,
            ..ClientOptions::default()
        });
        let index = Index::new(offline, Sources { index: Some(server.url("/simple")), find_links: vec![] });
        assert_eq!(index.project("demo").expect("cached").len(), 2);
        let error = index.project("never-asked").expect_err("offline");
        assert!(matches!(error, IndexError::Http(HttpError::Offline { .. })), "{error}");
    }

    #[test]
    fn local_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (links, simple) = (dir.path().join("links"), dir.path().join("simple"));
        std::fs::create_dir_all(simple.join("demo")).expect("mkdir");
        std::fs::create_dir_all(simple.join("flat")).expect("mkdir");
        std::fs::create_dir_all(&links).expect("mkdir");
        std::fs::write(links.join("demo-2.0.tar.gz"), "").expect("write");
        std::fs::write(simple.join("demo/index.html"), "<a href='demo-1.0.tar.gz#sha256=00'>demo</a>").expect("write");
        std::fs::write(simple.join("flat/flat-1.0.zip"), "").expect("write");
        std::fs::write(dir.path().join("page.html"), "<a href='links/demo-3.0.tar.gz'>x</a>").expect("write");
        let client = Client::new(ClientOptions { offline: true, ..ClientOptions::default() });

        let no_index = Sources {
            index: Some(format!("file://{}", dir.path().join("nowhere").display())),
            find_links: vec![format!("file://{}", links.display()), dir.path().join("page.html").display().to_string()],
        };
        let versions = |index: &Index, name: &str| -> Vec<String> {
            index.project(name).expect("files").iter().map(|f| f.version.to_string()).collect()
        };
        let index = Index::new(client.clone(), no_index);
        assert_eq!(versions(&index, "demo"), ["2.0", "3.0"]);

        let local_index = Sources { index: Some(format!("file://{}", simple.display())), find_links: vec![] };
        let index = Index::new(client, local_index);
        assert_eq!(versions(&index, "demo"), ["1.0"]);
        assert_eq!(versions(&index, "flat"), ["1.0"]);
        assert_eq!(versions(&index, "missing"), Vec::<String>::new());
        let demo = index.project("demo").expect("files");
        assert_eq!(demo[0].url, format!("file://{}", simple.join("demo/demo-1.0.tar.gz").display()));
    }

    /// The real PyPI, as CI reaches it; skipped with a note where the network is not there.
    #[test]
    #[allow(clippy::print_stderr)]
    fn pypi() {
        let cache = tempfile::tempdir().expect("temp dir");
        let client = Client::new(ClientOptions {
            cache_dir: Some(cache.path().to_owned()),
            retries: 1,
            ..ClientOptions::default()
        });
        let index = Index::new(client.clone(), Sources::default());
        let files = match index.project("zc.lockfile") {
            Ok(files) => files,
            Err(IndexError::Http(e)) if e.is_unreachable() => {
                eprintln!("note: skipping the PyPI test, the network is unreachable: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let find = |name: &str| files.iter().find(|f| f.filename == name);
        let wheel = find("zc_lockfile-4.0-py3-none-any.whl").expect("4.0 wheel listed");
        assert_eq!(wheel.sha256.as_deref(), Some("aa3aa295257bebaa09ea9ad5cb288bf9f98f88de6932f96b6659f62715d83581"));
        assert_eq!(wheel.requires_python.as_deref(), Some(">=3.9"));
        assert!(wheel.url.starts_with("https://"));
        assert!(find("zc.lockfile-3.0.tar.gz").expect("3.0 listed").yanked);
        assert!(files.iter().all(|f| f.sha256.is_some()));
        assert!(files.len() >= 17);
        assert_eq!(index.project("zc.lockfile").expect("again").len(), files.len());
        assert_eq!(index.project("this-project-does-not-exist-buildout-test").expect("404"), []);
    }
}
