//! A local PEP 691 index for the tests and benches: PyPI's JSON project pages, fetched once (and
//! kept under `target/pypi-mirror/` so that a rerun needs no network), served on 127.0.0.1 with
//! the cache headers real PyPI sends or with headers that make every use a revalidation. The
//! pages' file URLs stay absolute (PyPI's file host): only pages are served here. The mirror
//! counts what it is asked, so a test can say how many requests a run made.
//!
//! The proxy of some sandboxes sends pages without any cache header, which makes an HTTP cache
//! useless; this mirror shows what a client does against an index that sends them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The media type of PEP 691 JSON pages.
pub const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// Connections served at once; more wait in the listener's backlog.
const MAX_CONNECTIONS: usize = 64;
/// The longest request head read (a GET has no body).
const MAX_HEAD: u64 = 64 * 1024;

/// The cache headers the mirror sends with every page (each also gets an `ETag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `Cache-Control: max-age=600, public`, as pypi.org sends: a client may use a page for ten
    /// minutes without asking.
    Fresh,
    /// `Cache-Control: max-age=0, must-revalidate`: every use of a page is a conditional
    /// request, answered `304 Not Modified` when the client's `If-None-Match` names the page.
    Stale,
}

impl Freshness {
    fn cache_control(self) -> &'static str {
        match self {
            Freshness::Fresh => "max-age=600, public",
            Freshness::Stale => "max-age=0, must-revalidate",
        }
    }
}

/// One request the mirror answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub path: String,
    pub status: u16,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    not_modified: AtomicU64,
    log: Mutex<Vec<Served>>,
}

/// A page: its body and entity tag.
struct Page {
    body: Vec<u8>,
    etag: String,
}

/// A running index server; stopped when dropped.
pub struct Mirror {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A project name as index URLs spell it (PEP 503): lower case, runs of `-`, `_` and `.` as `-`.
pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Where the pages fetched from PyPI are kept.
fn store() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pypi-mirror")
}

/// `project`'s PEP 691 page from pypi.org: from `target/pypi-mirror/` when an earlier run kept
/// it, else fetched (transient failures are retried by the client) and kept.
fn pypi_page(project: &str) -> Vec<u8> {
    let name = canonical(project);
    let file = store().join(format!("{name}.json"));
    if let Ok(body) = std::fs::read(&file) {
        return body;
    }
    let client = buildout_core::http::Client::new(buildout_core::http::ClientOptions::default());
    let url = format!("https://pypi.org/simple/{name}/");
    let page = client.get(&url, JSON).unwrap_or_else(|e| panic!("cannot fetch {url}: {e}"));
    assert!(page.content_type.starts_with(JSON), "{url} answered {:?}, not PEP 691 JSON", page.content_type);
    std::fs::create_dir_all(store()).expect("target/pypi-mirror");
    // Written aside (a name of its own per writer: tests in one process may fetch the same
    // page at once) and renamed into place.
    let mut partial = tempfile::NamedTempFile::new_in(store()).expect("a file beside the pages");
    std::io::Write::write_all(&mut partial, &page.body).expect("keep the page");
    partial.persist(&file).expect("keep the page");
    page.body
}

impl Mirror {
    /// A mirror of PyPI's pages of `projects` (any spelling of their names), served with
    /// `headers`. Unknown projects are `404 Not Found` (see [`Mirror::missing`]).
    pub fn of_pypi(projects: &[&str], headers: Freshness) -> Mirror {
        let pages = projects.iter().map(|p| (canonical(p), pypi_page(p))).collect();
        Mirror::serve(pages, headers)
    }

    /// A mirror of the given pages (canonical project name → PEP 691 JSON).
    pub fn serve(pages: HashMap<String, Vec<u8>>, headers: Freshness) -> Mirror {
        let pages: HashMap<String, Page> = pages
            .into_iter()
            .map(|(name, body)| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                body.hash(&mut hasher);
                let etag = format!("\"{:016x}\"", hasher.finish());
                (name, Page { body, etag })
            })
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, stop, pages) = (counts.clone(), stop.clone(), Arc::new(pages));
            std::thread::Builder::new()
                .name("mirror".into())
                .spawn(move || accept(listener, &pages, headers, &counts, &stop))
                .expect("start the mirror")
        };
        Mirror { addr, counts, stop, thread: Some(thread) }
    }

    /// The index URL (`http://127.0.0.1:PORT/simple`), for a buildout's `index` option.
    pub fn index_url(&self) -> String {
        format!("http://{}/simple", self.addr)
    }

    /// Requests answered since the start or the last [`Mirror::reset`].
    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::SeqCst)
    }

    /// Of those, the ones answered `304 Not Modified`.
    pub fn not_modified(&self) -> u64 {
        self.counts.not_modified.load(Ordering::SeqCst)
    }

    /// Every request answered, in order.
    pub fn served(&self) -> Vec<Served> {
        self.counts.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The paths answered `404 Not Found`: projects a test forgot to mirror, among others.
    pub fn missing(&self) -> Vec<String> {
        self.served().into_iter().filter(|s| s.status == 404).map(|s| s.path).collect()
    }

    /// Starts counting again.
    pub fn reset(&self) {
        let mut log = self.counts.log.lock().unwrap_or_else(|e| e.into_inner());
        log.clear();
        self.counts.requests.store(0, Ordering::SeqCst);
        self.counts.not_modified.store(0, Ordering::SeqCst);
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(
    listener: TcpListener,
    pages: &Arc<HashMap<String, Page>>,
    headers: Freshness,
    counts: &Arc<Counts>,
    stop: &AtomicBool,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        while active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(1));
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (pages, counts, done) = (pages.clone(), counts.clone(), active.clone());
        let spawned = std::thread::Builder::new().name("mirror-conn".into()).spawn(move || {
            let _ = connection(stream, &pages, headers, &counts);
            done.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one connection: one request, answered with `Connection: close`.
fn connection(
    stream: TcpStream,
    pages: &HashMap<String, Page>,
    headers: Freshness,
    counts: &Counts,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new((&stream).take(MAX_HEAD));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        // The wake-up connection of `Drop`, or a client that gave up.
        return Ok(());
    }
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_owned());
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split(['?', '#']).next().unwrap_or_default().to_owned();
    let project = path.strip_prefix("/simple/").map(|p| canonical(p.trim_end_matches('/')));
    let page = project.as_deref().and_then(|p| pages.get(p));
    let status = match (method, page) {
        ("GET" | "HEAD", Some(page)) => {
            let matches = if_none_match.as_deref().is_some_and(|tags| {
                tags.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == page.etag || t == "*")
            });
            if matches { 304 } else { 200 }
        }
        ("GET" | "HEAD", None) => 404,
        _ => 405,
    };
    // Counted before answering: a client that has its answer sees it counted.
    counts.requests.fetch_add(1, Ordering::SeqCst);
    if status == 304 {
        counts.not_modified.fetch_add(1, Ordering::SeqCst);
    }
    counts.log.lock().unwrap_or_else(|e| e.into_inner()).push(Served { path, status });
    let mut out = &stream;
    match (status, page) {
        (200 | 304, Some(page)) => {
            let common =
                format!("Cache-Control: {}\r\nETag: {}\r\nConnection: close\r\n", headers.cache_control(), page.etag);
            if status == 304 {
                write!(out, "HTTP/1.1 304 Not Modified\r\n{common}\r\n")?;
            } else {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {JSON}\r\nContent-Length: {}\r\n{common}\r\n",
                    page.body.len()
                )?;
                if method == "GET" {
                    out.write_all(&page.body)?;
                }
            }
        }
        (404, _) => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
        _ => write!(out, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;
    use buildout_core::http::{Client, ClientOptions};

    fn pages() -> HashMap<String, Vec<u8>> {
        let body = br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[]}"#.to_vec();
        HashMap::from([("zope-interface".to_owned(), body)])
    }

    #[test]
    fn names_are_canonical() {
        assert_eq!(canonical("Zope.Interface"), "zope-interface");
        assert_eq!(canonical("zc__lockfile"), "zc-lockfile");
        assert_eq!(canonical("ZEO"), "zeo");
    }

    #[test]
    fn fresh_pages_are_asked_for_once() {
        let mirror = Mirror::serve(pages(), Freshness::Fresh);
        let cache = tempfile::tempdir().expect("temp");
        let client =
            Client::new(ClientOptions { cache_dir: Some(cache.path().to_owned()), ..ClientOptions::default() });
        let url = format!("{}/zope.interface/", mirror.index_url());
        let first = client.get(&url, JSON).expect("page");
        assert!(first.content_type.starts_with(JSON), "{}", first.content_type);
        assert_eq!(first.body, pages()["zope-interface"]);
        let again = client.get(&url, JSON).expect("page");
        assert!(again.from_cache);
        assert_eq!((mirror.requests(), mirror.not_modified()), (1, 0));
        let missing = client.get(&format!("{}/nothing/", mirror.index_url()), JSON);
        assert!(missing.is_err_and(|e| e.is_not_found()));
        assert_eq!(mirror.missing(), ["/simple/nothing/"]);
    }

    #[test]
    fn stale_pages_are_revalidated() {
        let mirror = Mirror::serve(pages(), Freshness::Stale);
        let cache = tempfile::tempdir().expect("temp");
        let client =
            Client::new(ClientOptions { cache_dir: Some(cache.path().to_owned()), ..ClientOptions::default() });
        let url = format!("{}/zope-interface/", mirror.index_url());
        client.get(&url, JSON).expect("page");
        let again = client.get(&url, JSON).expect("page");
        assert!(again.from_cache);
        assert_eq!(again.body, pages()["zope-interface"]);
        assert_eq!((mirror.requests(), mirror.not_modified()), (2, 1));
        assert_eq!(mirror.served().iter().map(|s| s.status).collect::<Vec<_>>(), [200, 304]);
        mirror.reset();
        assert_eq!(mirror.requests(), 0);
    }
}
