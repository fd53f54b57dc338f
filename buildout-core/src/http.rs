//! The one HTTP client of the program: package index pages, `find-links` pages, distribution
//! downloads and remote `extends` all go through [`Client`], so that one cache, one set of
//! credentials and one offline switch govern every request.
//!
//! Pages are kept in an HTTP cache that follows the server's `Cache-Control`, `ETag` and
//! `Last-Modified` (through `http-cache-semantics`): a fresh page costs no request, a stale one
//! a conditional request. Offline, the cache answers whatever the age of what it holds.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use sha2::{Digest, Sha256};
use ureq::http::{self, HeaderValue, StatusCode, header};
use ureq::{Agent, ResponseExt};

/// What a cache entry file starts with; a new layout gets a new directory (`http-v2`), so
/// entries of another layout are never read.
const CACHE_DIR: &str = "http-v1";
const CACHE_MAGIC: &[u8] = b"buildout-http-cache-v1\n";
/// Index pages are read whole into memory; this bounds what a broken server can make us hold.
const MAX_PAGE: u64 = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Why a URL could not be had. Every URL in a message has its password redacted.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("`{url}` is not in the download cache, and offline mode does not use the network")]
    Offline { url: String },
    #[error("invalid URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("couldn't fetch `{url}`: {cause}")]
    Transport { url: String, cause: ureq::Error },
    #[error("couldn't fetch `{url}`: HTTP status {status}{}", reason_phrase(*.status))]
    Status { url: String, status: u16 },
    #[error("`{}`: {cause}", .path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("the SHA-256 of `{url}` is {got}, not the expected {expected}")]
    Hash { url: String, expected: String, got: String },
    #[error("the download of `{url}` was cancelled")]
    Cancelled { url: String },
}

fn reason_phrase(status: u16) -> String {
    status_reason(status).map(|r| format!(" ({r})")).unwrap_or_default()
}

/// The standard reason phrase of an HTTP status (`Not Found`), if it has one.
pub fn status_reason(status: u16) -> Option<&'static str> {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason())
}

impl HttpError {
    /// Whether the server (or the file system, for `file://`) says there is nothing at the URL:
    /// for an index page that means "no such project", not a failure.
    pub fn is_not_found(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => matches!(status, 404 | 410),
            HttpError::Io { cause, .. } => cause.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }

    /// Whether the failure says the host could not be reached at all (no network, no route,
    /// no DNS), as opposed to a server that answered badly.
    pub fn is_unreachable(&self) -> bool {
        use std::io::ErrorKind as K;
        let HttpError::Transport { cause, .. } = self else { return false };
        match cause {
            ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectProxyFailed(_) => true,
            ureq::Error::Io(e) => matches!(
                e.kind(),
                K::ConnectionRefused | K::TimedOut | K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown
            ),
            _ => false,
        }
    }
}

/// How a [`Client`] works. Start from `ClientOptions::default()` and set what differs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where the HTTP cache lives (`<cache_dir>/http-v1/`); `None`: pages are not cached.
    pub cache_dir: Option<PathBuf>,
    /// Never use the network: pages come from the cache whatever their age, or are an error.
    pub offline: bool,
    /// How many times a transient failure (connection error, timeout, 5xx, 429) is retried.
    pub retries: u32,
    pub connect_timeout: Duration,
    /// How long one read may wait for data (not the whole transfer: wheels can be large).
    pub read_timeout: Duration,
    /// The netrc file for credentials; `None`: `$NETRC`, else `~/.netrc`.
    pub netrc: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            cache_dir: None,
            offline: false,
            retries: 3,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            netrc: None,
        }
    }
}

/// A page fetched with [`Client::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub body: Vec<u8>,
    /// The URL the body came from, after redirects (credentials removed): relative links in
    /// the body are relative to it.
    pub url: String,
    /// The `Content-Type` header (empty when there was none).
    pub content_type: String,
    /// Whether the body came from the cache (fresh, revalidated with a 304, or offline).
    pub from_cache: bool,
    /// Whether the cache can serve this page again without fetching it whole: it came from
    /// the cache, or was kept with a freshness lifetime or a validator (`ETag`,
    /// `Last-Modified`). A server that sends no cache headers makes this false.
    pub reusable: bool,
}

/// The HTTP client. Cloning is cheap (the clones share the connection pool, the remembered
/// credentials and the request counter); it can be used from many threads at once.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: Agent,
    options: ClientOptions,
    requests: AtomicU64,
    /// Credentials seen in a URL, by `host[:port]`: pip's habit, which makes an index URL
    /// with `user:password@` also authenticate the files its pages link to on the same host.
    seen_credentials: Mutex<HashMap<String, (String, String)>>,
    netrc: OnceLock<Option<netrc::Netrc>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// A cached page: the policy says whether it is fresh and how to revalidate it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    policy: CachePolicy,
    url: String,
    content_type: String,
    body_len: u64,
}

struct Entry {
    meta: Meta,
    body: Vec<u8>,
}

/// A failed attempt; `transient` ones are tried again.
struct Failure {
    error: HttpError,
    transient: bool,
}

impl Client {
    pub fn new(options: ClientOptions) -> Client {
        let config = Agent::config_builder()
            // Statuses are ours to read: 304 and 404 are answers, not failures.
            .http_status_as_error(false)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_per_read(Some(options.read_timeout))
            .user_agent(concat!("buildout/", env!("CARGO_PKG_VERSION")))
            // A private index that redirects within its host keeps the credentials.
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            // `projects` asks for many pages of one index at once.
            .max_idle_connections_per_host(16)
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(root_certs()).build())
            .build();
        Client {
            inner: Arc::new(Inner {
                agent: Agent::with_parts(
                    config,
                    ureq::unversioned::transport::DefaultConnector::new(),
                    CachingResolver::default(),
                ),
                options,
                requests: AtomicU64::new(0),
                seen_credentials: Mutex::new(HashMap::new()),
                netrc: OnceLock::new(),
            }),
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// How many requests went to the network so far (every attempt counts).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// A page, through the cache. `accept` is the `Accept` header (part of the cache key).
    pub fn get(&self, url: &str, accept: &str) -> Result<Response, HttpError> {
        if let Some(path) = file_path(url) {
            let body = std::fs::read(&path).map_err(|cause| HttpError::Io { path: path.clone(), cause })?;
            return Ok(Response {
                body,
                url: url.to_owned(),
                content_type: file_content_type(&path),
                from_cache: false,
                reusable: true,
            });
        }
        let (clean, credentials) = split_credentials(url);
        let redacted = redact(url);
        let cache_file = self.inner.options.cache_dir.as_deref().map(|dir| cache_path(dir, &clean, accept));
        let entry = cache_file.as_deref().and_then(read_entry);
        if self.inner.options.offline {
            return entry.map(|e| e.into_response()).ok_or(HttpError::Offline { url: redacted });
        }
        let request = http::Request::get(clean.as_str())
            .header(header::ACCEPT, accept)
            .body(())
            .map_err(|e| HttpError::BadUrl { url: redacted.clone(), reason: e.to_string() })?;
        let (plain, ()) = request.into_parts();
        let mut to_send = plain.clone();
        if let Some(entry) = &entry {
            match entry.meta.policy.before_request(&plain, SystemTime::now()) {
                BeforeRequest::Fresh(_) => return Ok(entry.response()),
                // The policy adds If-None-Match / If-Modified-Since.
                BeforeRequest::Stale { request, .. } => to_send = request,
            }
        }
        let auth = self.authorization(&clean, credentials);
        let (parts, body, final_url) = self.fetch_page(&to_send, auth.as_ref(), &redacted)?;
        let now = SystemTime::now();
        if parts.status == StatusCode::NOT_MODIFIED
            && let Some(entry) = entry
        {
            let response = http::Response::from_parts(parts, ());
            return match entry.meta.policy.after_response(&plain, &response, now) {
                AfterResponse::NotModified(policy, _) => {
                    let meta = Meta { policy, ..entry.meta };
                    if let Some(file) = &cache_file {
                        // A cache that cannot be written only costs a request next time.
                        let _ = write_entry(file, &meta, &entry.body);
                    }
                    Ok(Entry { meta, body: entry.body }.response())
                }
                // A 304 for another version of the page than ours: ask again, unconditionally.
                AfterResponse::Modified(..) => {
                    let (parts, body, final_url) = self.fetch_page(&plain, auth.as_ref(), &redacted)?;
                    self.store(&plain, parts, body, final_url, cache_file.as_deref(), &redacted)
                }
            };
        }
        self.store(&plain, parts, body, final_url, cache_file.as_deref(), &redacted)
    }

    /// Turns a fresh response into a [`Response`], keeping it in the cache when the server
    /// allows.
    fn store(
        &self,
        request: &http::request::Parts,
        parts: http::response::Parts,
        body: Vec<u8>,
        final_url: String,
        cache_file: Option<&Path>,
        redacted: &str,
    ) -> Result<Response, HttpError> {
        if !parts.status.is_success() {
            return Err(HttpError::Status { url: redacted.to_owned(), status: parts.status.as_u16() });
        }
        let content_type =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let validators = parts.headers.contains_key(header::ETAG) || parts.headers.contains_key(header::LAST_MODIFIED);
        let response = http::Response::from_parts(parts, ());
        // A per-user cache: `private` responses may be kept.
        let options = CacheOptions { shared: false, ..CacheOptions::default() };
        let now = SystemTime::now();
        let policy = CachePolicy::new_options(request, &response, now, options);
        let mut reusable = false;
        if let Some(file) = cache_file
            && policy.is_storable()
        {
            reusable = validators || !policy.time_to_live(now).is_zero();
            let body_len = body.len() as u64;
            let meta = Meta { policy, url: final_url.clone(), content_type: content_type.clone(), body_len };
            let _ = write_entry(file, &meta, &body);
        }
        Ok(Response { body, url: final_url, content_type, from_cache: false, reusable })
    }

    /// One request for a page, retried while it fails transiently: the response head, the body
    /// and the final URL.
    fn fetch_page(
        &self,
        request: &http::request::Parts,
        auth: Option<&HeaderValue>,
        redacted: &str,
    ) -> Result<(http::response::Parts, Vec<u8>, String), HttpError> {
        self.with_retries(|| {
            let mut response = self.send(request, auth, redacted)?;
            let final_url = response.get_uri().to_string();
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_PAGE)
                .read_to_vec()
                .map_err(|cause| transport(redacted, cause))?;
            let (parts, _) = response.into_parts();
            Ok((parts, body, final_url))
        })
    }

    /// Sends one request; a transient status (5xx, 429) is a transient failure.
    fn send(
        &self,
        request: &http::request::Parts,
        auth: Option<&HeaderValue>,
        redacted: &str,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let mut parts = request.clone();
        if let Some(auth) = auth {
            parts.headers.insert(header::AUTHORIZATION, auth.clone());
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let response =
            self.inner.agent.run(http::Request::from_parts(parts, ())).map_err(|cause| transport(redacted, cause))?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure {
                error: HttpError::Status { url: redacted.to_owned(), status: status.as_u16() },
                transient: true,
            });
        }
        Ok(response)
    }

    fn with_retries<T>(&self, mut attempt: impl FnMut() -> Result<T, Failure>) -> Result<T, HttpError> {
        let mut tries = 0;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(Failure { error, transient }) => {
                    if !transient || tries >= self.inner.options.retries {
                        return Err(error);
                    }
                    std::thread::sleep(Duration::from_millis(250) * 2u32.pow(tries.min(4)));
                    tries += 1;
                }
            }
        }
    }

    /// Downloads `url` to `dest` (not through the cache: the caller keeps the file). The file
    /// appears at `dest` complete and verified, or not at all.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        sha256: Option<&str>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<(), HttpError> {
        let redacted = redact(url);
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = || {
            tempfile::Builder::new()
                .prefix(&format!(".download-{}-", std::process::id()))
                .tempfile_in(dir)
                .map_err(|cause| HttpError::Io { path: dir.to_owned(), cause })
        };
        let (file, got) = if let Some(path) = file_path(url) {
            let mut source = std::fs::File::open(&path).map_err(|cause| HttpError::Io { path: path.clone(), cause })?;
            let mut file = temp()?;
            let got = copy_hashing(&mut source, &mut file, cancelled, &redacted, &|cause| HttpError::Io {
                path: path.clone(),
                cause,
            })?;
            (file, got)
        } else {
            if self.inner.options.offline {
                return Err(HttpError::Offline { url: redacted });
            }
            let (clean, credentials) = split_credentials(url);
            let auth = self.authorization(&clean, credentials);
            let request = http::Request::get(clean.as_str())
                .body(())
                .map_err(|e| HttpError::BadUrl { url: redacted.clone(), reason: e.to_string() })?;
            let (request, ()) = request.into_parts();
            self.with_retries(|| {
                let mut response = self.send(&request, auth.as_ref(), &redacted)?;
                if !response.status().is_success() {
                    let status = response.status().as_u16();
                    return Err(Failure {
                        error: HttpError::Status { url: redacted.clone(), status },
                        transient: false,
                    });
                }
                let mut file = temp().map_err(|error| Failure { error, transient: false })?;
                let mut reader = response.body_mut().as_reader();
                // ureq reports a connection lost mid-body as an io::Error.
                let read_error = |cause| HttpError::Transport { url: redacted.clone(), cause: ureq::Error::Io(cause) };
                let got = copy_hashing(&mut reader, &mut file, cancelled, &redacted, &read_error).map_err(|error| {
                    // A connection lost mid-body is worth another try; a full disk is not.
                    let transient = matches!(&error, HttpError::Transport { .. });
                    Failure { error, transient }
                })?;
                Ok((file, got))
            })?
        };
        if let Some(expected) = sha256
            && !expected.eq_ignore_ascii_case(&got)
        {
            return Err(HttpError::Hash { url: redacted, expected: expected.to_owned(), got });
        }
        file.persist(dest).map_err(|e| HttpError::Io { path: dest.to_owned(), cause: e.error })?;
        Ok(())
    }

    /// The `Authorization` header for `url` (credentials removed): those of the URL, else those
    /// seen before for its host, else `~/.netrc`'s.
    fn authorization(&self, clean: &str, credentials: Option<(String, String)>) -> Option<HeaderValue> {
        let authority = split_url(clean).map(|u| u.authority.to_owned()).unwrap_or_default();
        let credentials = match credentials {
            Some(c) => {
                if let Ok(mut seen) = self.inner.seen_credentials.lock() {
                    seen.insert(authority.clone(), c.clone());
                }
                Some(c)
            }
            None => self
                .inner
                .seen_credentials
                .lock()
                .ok()
                .and_then(|seen| seen.get(&authority).cloned())
                .or_else(|| self.netrc_credentials(&authority)),
        }?;
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", credentials.0, credentials.1));
        let mut value = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    fn netrc_credentials(&self, authority: &str) -> Option<(String, String)> {
        let netrc = self.inner.netrc.get_or_init(|| {
            let path = self
                .inner
                .options
                .netrc
                .clone()
                .or_else(|| std::env::var_os("NETRC").map(PathBuf::from))
                .or_else(|| std::env::home_dir().map(|h| h.join(".netrc")))?;
            let file = std::fs::File::open(path).ok()?;
            // A netrc we cannot parse gives no credentials, as for curl.
            netrc::Netrc::parse(std::io::BufReader::new(file)).ok()
        });
        let netrc = netrc.as_ref()?;
        let host = host_of(authority);
        let machine = netrc
            .hosts
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, m)| m)
            .or(netrc.default.as_ref())?;
        Some((machine.login.clone(), machine.password.clone().unwrap_or_default()))
    }
}

impl Entry {
    fn response(&self) -> Response {
        Response {
            body: self.body.clone(),
            url: self.meta.url.clone(),
            content_type: self.meta.content_type.clone(),
            from_cache: true,
            reusable: true,
        }
    }

    fn into_response(self) -> Response {
        Response {
            body: self.body,
            url: self.meta.url,
            content_type: self.meta.content_type,
            from_cache: true,
            reusable: true,
        }
    }
}

/// The system's trust store, as curl and pip (through truststore) use it: private CAs and
/// TLS-inspecting proxies are only trusted there. Mozilla's roots, built in, where the system
/// has none (a bare container), since the platform verifier refuses to start without any.
fn root_certs() -> ureq::tls::RootCerts {
    const BUNDLES: [&str; 5] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    let from_env =
        ["SSL_CERT_FILE", "SSL_CERT_DIR"].iter().any(|v| std::env::var_os(v).is_some_and(|p| Path::new(&p).exists()));
    if cfg!(any(windows, target_vendor = "apple")) || from_env || BUNDLES.iter().any(|b| Path::new(b).is_file()) {
        ureq::tls::RootCerts::PlatformVerifier
    } else {
        ureq::tls::RootCerts::WebPki
    }
}

fn transport(redacted: &str, cause: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    use ureq::Error as E;
    let transient = match &cause {
        E::Timeout(_) | E::HostNotFound | E::ConnectionFailed | E::BodyStalled | E::ConnectProxyFailed(_) => true,
        // Not every io::Error: a certificate the system does not trust comes as one too, and
        // asking again will not change it.
        E::Io(e) => matches!(
            e.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::TimedOut
                | K::UnexpectedEof
                | K::Interrupted
                | K::NetworkUnreachable
                | K::HostUnreachable
                | K::NetworkDown
        ),
        _ => false,
    };
    Failure { error: HttpError::Transport { url: redacted.to_owned(), cause }, transient }
}

/// Copies `source` into `dest` in chunks, checking `cancelled` between them; the SHA-256 (hex)
/// of what was copied.
fn copy_hashing(
    source: &mut dyn Read,
    dest: &mut tempfile::NamedTempFile,
    cancelled: &dyn Fn() -> bool,
    redacted: &str,
    read_error: &dyn Fn(std::io::Error) -> HttpError,
) -> Result<String, HttpError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; CHUNK];
    loop {
        if cancelled() {
            return Err(HttpError::Cancelled { url: redacted.to_owned() });
        }
        let n = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(cause) => return Err(read_error(cause)),
        };
        hasher.update(&buffer[..n]);
        dest.write_all(&buffer[..n]).map_err(|cause| HttpError::Io { path: dest.path().to_owned(), cause })?;
    }
    dest.flush().map_err(|cause| HttpError::Io { path: dest.path().to_owned(), cause })?;
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `<cache_dir>/http-v1/<2 hex>/<sha256 of URL and Accept>`. SHA-256 because the name must be
/// the same for every build of the program (std's hasher is not).
fn cache_path(cache_dir: &Path, clean_url: &str, accept: &str) -> PathBuf {
    let key = hex(&Sha256::new().chain_update(clean_url).chain_update(b"\n").chain_update(accept).finalize());
    cache_dir.join(CACHE_DIR).join(&key[..2]).join(key)
}

/// The entry in `file`, or `None` when there is none or it is unreadable in any way.
fn read_entry(file: &Path) -> Option<Entry> {
    let data = std::fs::read(file).ok()?;
    let rest = data.strip_prefix(CACHE_MAGIC)?;
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let meta: Meta = serde_json::from_slice(&rest[..newline]).ok()?;
    let body = rest[newline + 1..].to_vec();
    (body.len() as u64 == meta.body_len).then_some(Entry { meta, body })
}

/// Writes an entry atomically: the magic line, the metadata as one JSON line, the body.
fn write_entry(file: &Path, meta: &Meta, body: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().ok_or_else(|| std::io::Error::other("cache entry without a directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(".entry-").tempfile_in(dir)?;
    temp.write_all(CACHE_MAGIC)?;
    serde_json::to_writer(&mut temp, meta)?;
    temp.write_all(b"\n")?;
    temp.write_all(body)?;
    temp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// The path of a `file://` URL (`file:///p`, `file://localhost/p`), percent-decoded.
pub fn file_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    Some(PathBuf::from(percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()))
}

fn file_content_type(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        _ => "",
    }
    .to_owned()
}

/// A URL cut at its authority: `scheme`, `userinfo@host:port`, the rest (`/path?query#frag`).
struct UrlParts<'a> {
    scheme: &'a str,
    authority: &'a str,
    rest: &'a str,
}

fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(UrlParts { scheme, authority: &after[..end], rest: &after[end..] })
}

fn host_of(authority: &str) -> &str {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// `url` without its `user:password@`, and the (percent-decoded) user and password.
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(parts) = split_url(url) else { return (url.to_owned(), None) };
    let Some((userinfo, host)) = parts.authority.rsplit_once('@') else { return (url.to_owned(), None) };
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (format!("{}://{host}{}", parts.scheme, parts.rest), Some((decode(user), decode(password))))
}

/// `url` fit to show: the password replaced by `****` (a user name alone may be a token, so it
/// goes too), as pip shows them.
pub fn redact(url: &str) -> String {
    let Some(parts) = split_url(url) else { return url.to_owned() };
    let Some((userinfo, host)) = parts.authority.rsplit_once('@') else { return url.to_owned() };
    let userinfo = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:****"),
        None => "****".to_owned(),
    };
    format!("{}://{userinfo}@{host}{}", parts.scheme, parts.rest)
}

/// Resolves `reference` (an `href`) against `base` as RFC 3986 section 5.2 says. Written here
/// because the `url` crate would bring the whole IDNA/ICU tree for this one function.
pub fn join_url(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    let has_scheme = reference
        .find(':')
        .is_some_and(|i| i > 0 && reference[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        && reference.starts_with(|c: char| c.is_ascii_alphabetic());
    if has_scheme {
        return reference.to_owned();
    }
    let (base_scheme, base_authority, base_rest) = match split_url(base) {
        Some(p) => (p.scheme, p.authority, p.rest),
        None => return reference.to_owned(),
    };
    if let Some(net) = reference.strip_prefix("//") {
        return format!("{base_scheme}://{net}");
    }
    let base_no_fragment = base_rest.split('#').next().unwrap_or_default();
    let (base_path, base_query) =
        base_no_fragment.split_once('?').map_or((base_no_fragment, None), |(p, q)| (p, Some(q)));
    let split_at = reference.find(['?', '#']).unwrap_or(reference.len());
    let (ref_path, ref_tail) = reference.split_at(split_at);
    let (path, tail) = if ref_path.is_empty() {
        if ref_tail.starts_with('#') {
            let query = base_query.map(|q| format!("?{q}")).unwrap_or_default();
            (base_path.to_owned(), format!("{query}{ref_tail}"))
        } else if ref_tail.is_empty() {
            (base_path.to_owned(), base_query.map(|q| format!("?{q}")).unwrap_or_default())
        } else {
            (base_path.to_owned(), ref_tail.to_owned())
        }
    } else if ref_path.starts_with('/') {
        (remove_dot_segments(ref_path), ref_tail.to_owned())
    } else {
        let merged = match base_path.rfind('/') {
            Some(i) => format!("{}{ref_path}", &base_path[..=i]),
            None => format!("/{ref_path}"),
        };
        (remove_dot_segments(&merged), ref_tail.to_owned())
    };
    format!("{base_scheme}://{base_authority}{path}{tail}")
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') { format!("/{joined}") } else { joined }
}

#[cfg(test)]
pub(crate) mod test_server;

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, Server};
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const JSON: &str = "application/vnd.pypi.simple.v1+json";

    fn client(cache: &Path, offline: bool) -> Client {
        Client::new(ClientOptions {
            cache_dir: Some(cache.to_owned()),
            offline,
            netrc: Some(cache.join("no-netrc")),
            ..ClientOptions::default()
        })
    }

    #[test]
    fn credentials_are_split_and_redacted() {
        // URL, without credentials, the credentials, redacted.
        type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, &'a str);
        let cases: [Case<'_>; 6] = [
            ("https://pypi.org/simple/", "https://pypi.org/simple/", None, "https://pypi.org/simple/"),
            (
                "https://me:s3cret@example.com/simple/",
                "https://example.com/simple/",
                Some(("me", "s3cret")),
                "https://me:****@example.com/simple/",
            ),
            ("https://tok3n@example.com/", "https://example.com/", Some(("tok3n", "")), "https://****@example.com/"),
            (
                "https://me%40corp:p%3Ass@example.com:8443/x?y=1",
                "https://example.com:8443/x?y=1",
                Some(("me@corp", "p:ss")),
                "https://me%40corp:****@example.com:8443/x?y=1",
            ),
            // An @ in the path is not userinfo.
            ("https://example.com/a@b", "https://example.com/a@b", None, "https://example.com/a@b"),
            ("not a url", "not a url", None, "not a url"),
        ];
        for (url, clean, credentials, redacted) in cases {
            let expected = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
            assert_eq!(split_credentials(url), (clean.to_owned(), expected), "{url}");
            assert_eq!(redact(url), redacted, "{url}");
        }
    }

    #[test]
    fn relative_urls() {
        // RFC 3986 section 5.4, plus what index pages hold.
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("g/../h", "http://a/b/c/h"),
            ("https://files.example/p/x.whl", "https://files.example/p/x.whl"),
        ];
        for (reference, expected) in cases {
            assert_eq!(join_url(base, reference), expected, "{reference}");
        }
        let page = "https://pypi.org/simple/zc-lockfile/";
        assert_eq!(
            join_url(page, "../../packages/ab/cd/zc.lockfile-3.0.tar.gz#sha256=00"),
            "https://pypi.org/packages/ab/cd/zc.lockfile-3.0.tar.gz#sha256=00"
        );
        assert_eq!(join_url("file:///srv/links/index.html", "demo-1.0.tar.gz"), "file:///srv/links/demo-1.0.tar.gz");
    }

    #[test]
    fn file_urls() {
        let cases = [
            ("file:///srv/links", Some("/srv/links")),
            ("file://localhost/srv/a%20b", Some("/srv/a b")),
            ("file:///srv/x.whl#sha256=00", Some("/srv/x.whl")),
            ("https://example.com/x", None),
        ];
        for (url, expected) in cases {
            assert_eq!(file_path(url), expected.map(PathBuf::from), "{url}");
        }
    }

    /// The brief's scenario: fresh, stale and revalidated, offline.
    #[test]
    fn cache_freshness_revalidation_and_offline() {
        let server = Server::start(|request| {
            let etag = |tag: &str| format!("\"{tag}\"");
            match request.path.as_str() {
                "/simple/demo/" => Reply::new(
                    200,
                    &[("Cache-Control", "max-age=600"), ("ETag", &etag("v1")), ("Content-Type", JSON)],
                    r#"{"files": []}"#,
                ),
                "/stale/" if request.header("if-none-match") == Some(&etag("s1")) => {
                    // Fresh from now on: the stored policy must be the updated one.
                    Reply::new(304, &[("Cache-Control", "max-age=600"), ("ETag", &etag("s1"))], "")
                }
                "/stale/" => Reply::new(
                    200,
                    &[("Cache-Control", "max-age=0"), ("ETag", &etag("s1")), ("Content-Type", "text/html")],
                    "<a href='x-1.0.tar.gz'>x</a>",
                ),
                "/dated/" if request.header("if-modified-since").is_some() => {
                    Reply::new(304, &[("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")], "")
                }
                "/dated/" => Reply::new(
                    200,
                    &[("Cache-Control", "no-cache"), ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")],
                    "dated",
                ),
                "/old/demo/" => Reply::new(301, &[("Location", "/simple/demo/")], ""),
                _ => Reply::new(404, &[], "not found"),
            }
        });
        let cache = tempfile::tempdir().expect("temp dir");
        let online = client(cache.path(), false);

        let first = online.get(&server.url("/simple/demo/"), JSON).expect("first get");
        assert_eq!((first.from_cache, online.requests_made()), (false, 1));
        assert_eq!(first.body, br#"{"files": []}"#);
        assert_eq!((first.url.as_str(), first.content_type.as_str()), (server.url("/simple/demo/").as_str(), JSON));
        let second = online.get(&server.url("/simple/demo/"), JSON).expect("second get");
        assert_eq!((second.from_cache, online.requests_made()), (true, 1), "fresh: no request");
        assert_eq!(second.body, first.body);
        // Another Accept is another entry.
        online.get(&server.url("/simple/demo/"), "text/html").expect("other accept");
        assert_eq!(online.requests_made(), 2);

        let stale = online.get(&server.url("/stale/"), JSON).expect("stale page");
        assert!(!stale.from_cache);
        let revalidated = online.get(&server.url("/stale/"), JSON).expect("revalidated");
        assert_eq!((revalidated.from_cache, online.requests_made()), (true, 4));
        assert_eq!((revalidated.body, revalidated.content_type.as_str()), (stale.body.clone(), "text/html"));
        let asked = server.requests();
        assert_eq!(asked.last().and_then(|r| r.header("if-none-match")), Some("\"s1\""));
        assert!(online.get(&server.url("/stale/"), JSON).expect("fresh again").from_cache);
        assert_eq!(online.requests_made(), 4, "the 304's max-age was stored");

        online.get(&server.url("/dated/"), JSON).expect("dated page");
        let dated = online.get(&server.url("/dated/"), JSON).expect("dated again");
        assert_eq!((dated.from_cache, dated.body.as_slice(), online.requests_made()), (true, &b"dated"[..], 6));
        let asked = server.requests();
        assert_eq!(asked.last().and_then(|r| r.header("if-modified-since")), Some("Wed, 21 Oct 2015 07:28:00 GMT"));

        let missing = online.get(&server.url("/nothing/"), JSON).expect_err("404");
        assert!(missing.is_not_found(), "{missing}");
        assert_eq!(online.requests_made(), 7, "a 404 is not retried");

        let redirected = online.get(&server.url("/old/demo/"), JSON).expect("redirected");
        assert_eq!(redirected.url, server.url("/simple/demo/"), "links are relative to the final URL");
        assert_eq!(online.requests_made(), 8);

        let offline = client(cache.path(), true);
        let cached = offline.get(&server.url("/stale/"), JSON).expect("offline, stale entry");
        assert_eq!((cached.from_cache, cached.body), (true, stale.body));
        let error = offline.get(&server.url("/never/"), JSON).expect_err("offline, nothing cached");
        assert!(matches!(&error, HttpError::Offline { url } if url.ends_with("/never/")), "{error}");
        assert_eq!(offline.requests_made(), 0);
        assert_eq!(server.requests().len(), 9, "a redirect is two requests to the server, one for us");
    }

    #[test]
    fn corrupt_entries_are_missing() {
        let server = Server::start(|_| Reply::new(200, &[("Cache-Control", "max-age=600")], "page"));
        let cache = tempfile::tempdir().expect("temp dir");
        let url = server.url("/p/");
        let online = client(cache.path(), false);
        online.get(&url, JSON).expect("get");
        let file = cache_path(cache.path(), &url, JSON);
        assert!(file.starts_with(cache.path().join("http-v1")));
        let full = std::fs::read(&file).expect("entry");
        for broken in [&b"garbage"[..], &full[..full.len() - 1], b""] {
            std::fs::write(&file, broken).expect("break entry");
            let before = online.requests_made();
            let again = online.get(&url, JSON).expect("get again");
            assert_eq!((again.from_cache, online.requests_made()), (false, before + 1));
            std::fs::write(&file, broken).expect("break entry");
            let error = client(cache.path(), true).get(&url, JSON).expect_err("offline");
            assert!(matches!(error, HttpError::Offline { .. }));
        }
    }

    #[test]
    fn transient_failures_are_retried() {
        let calls = Arc::new(AtomicUsize::new(0));
        let server = Server::start({
            let calls = calls.clone();
            move |request| match request.path.as_str() {
                "/flaky/" if calls.fetch_add(1, Ordering::SeqCst) == 0 => Reply::new(503, &[], "busy"),
                "/flaky/" => Reply::new(200, &[], "ok"),
                _ => Reply::new(500, &[], "broken"),
            }
        });
        let cache = tempfile::tempdir().expect("temp dir");
        let client = Client::new(ClientOptions { retries: 2, ..ClientOptions::default() });
        assert_eq!(client.get(&server.url("/flaky/"), JSON).expect("second try").body, b"ok");
        assert_eq!(client.requests_made(), 2);
        let error = client.get(&server.url("/broken/"), JSON).expect_err("always 500");
        assert!(matches!(error, HttpError::Status { status: 500, .. }), "{error}");
        assert_eq!(client.requests_made(), 5, "one try and two retries");
        drop(cache);
    }

    #[test]
    fn credentials_go_in_a_header_never_in_keys_or_messages() {
        let server = Server::start(|request| {
            let auth = request.header("authorization").unwrap_or("none").to_owned();
            match request.path.as_str() {
                "/private/" => Reply::new(200, &[("Cache-Control", "max-age=600")], auth),
                "/file" => Reply::new(200, &[], auth),
                _ => Reply::new(403, &[], "no"),
            }
        });
        let cache = tempfile::tempdir().expect("temp dir");
        let online = client(cache.path(), false);
        let with_password = server.url("/private/").replace("http://", "http://me:s3cret@");
        let page = online.get(&with_password, JSON).expect("page");
        assert_eq!(page.body, b"Basic bWU6czNjcmV0");
        assert!(!page.url.contains("s3cret"));
        // Same entry without the credentials: they are not part of the key.
        assert!(online.get(&server.url("/private/"), JSON).expect("cached").from_cache);
        // Files on the same host get the credentials seen for it.
        assert_eq!(online.get(&server.url("/file"), JSON).expect("file").body, b"Basic bWU6czNjcmV0");
        let error = online.get(&server.url("/denied").replace("http://", "http://me:s3cret@"), JSON).expect_err("403");
        assert!(!error.to_string().contains("s3cret") && error.to_string().contains("me:****@"), "{error}");
        let entries = walk(&cache.path().join("http-v1"));
        assert!(!entries.is_empty());
        for entry in entries {
            let data = std::fs::read(&entry).expect("read entry");
            // The body is the server's echo of the header; the rest is ours.
            let ours = &data[..data.len() - page.body.len()];
            assert!(!String::from_utf8_lossy(ours).contains("s3cret"), "{}", entry.display());
            assert!(!String::from_utf8_lossy(ours).contains("bWU6czNjcmV0"), "{}", entry.display());
        }

        // A netrc entry for the host, when the URL has none.
        let netrc = cache.path().join("netrc");
        std::fs::write(&netrc, "machine 127.0.0.1 login bob password hunter2\n").expect("netrc");
        let with_netrc = Client::new(ClientOptions { netrc: Some(netrc), ..ClientOptions::default() });
        assert_eq!(with_netrc.get(&server.url("/file"), JSON).expect("file").body, b"Basic Ym9iOmh1bnRlcjI=");
        let without = Client::new(ClientOptions { netrc: Some(cache.path().join("none")), ..ClientOptions::default() });
        assert_eq!(without.get(&server.url("/file"), JSON).expect("file").body, b"none");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
        }
        files
    }

    #[test]
    fn downloads() {
        let body = vec![7u8; 200_000];
        let sha = hex(&Sha256::digest(&body));
        let server = Server::start({
            let body = body.clone();
            move |request| match request.path.as_str() {
                "/demo-1.0.tar.gz" => Reply::new(200, &[], body.clone()),
                _ => Reply::new(404, &[], ""),
            }
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let client = client(dir.path(), false);
        let url = server.url("/demo-1.0.tar.gz");
        let dest = dir.path().join("demo-1.0.tar.gz");
        let never = || false;

        client.download(&url, &dest, Some(&sha.to_uppercase()), &never).expect("download");
        assert_eq!(std::fs::read(&dest).expect("downloaded"), body);
        std::fs::remove_file(&dest).expect("remove");

        let error = client.download(&url, &dest, Some(&"0".repeat(64)), &never).expect_err("bad hash");
        assert!(matches!(&error, HttpError::Hash { got, .. } if *got == sha), "{error}");
        assert!(error.to_string().contains(&url), "{error}");

        let chunks = AtomicUsize::new(0);
        let cancel_later = || chunks.fetch_add(1, Ordering::SeqCst) >= 1;
        let error = client.download(&url, &dest, None, &cancel_later).expect_err("cancelled");
        assert!(matches!(error, HttpError::Cancelled { .. }), "{error}");

        let error = client.download(&server.url("/nothing.whl"), &dest, None, &never).expect_err("404");
        assert!(error.is_not_found(), "{error}");
        let offline = Client::new(ClientOptions { offline: true, ..ClientOptions::default() });
        assert!(matches!(offline.download(&url, &dest, None, &never), Err(HttpError::Offline { .. })));

        // A file:// URL is copied, hash checked all the same (offline too).
        let source = dir.path().join("source.whl");
        std::fs::write(&source, &body).expect("source");
        let source_url = format!("file://{}", source.display());
        offline.download(&source_url, &dest, Some(&sha), &never).expect("file download");
        assert_eq!(std::fs::read(&dest).expect("copied"), body);

        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["demo-1.0.tar.gz", "source.whl"], "no temporary file left, nothing cached");
        assert_eq!(client.requests_made(), 4);
    }

    #[test]
    fn offline_without_cache() {
        let client = Client::new(ClientOptions { offline: true, ..ClientOptions::default() });
        let error = client.get("https://me:pw@example.invalid/simple/x/", JSON).expect_err("offline");
        assert_eq!(
            error.to_string(),
            "`https://me:****@example.invalid/simple/x/` is not in the download cache, and offline mode does not use the network"
        );
        assert_eq!(client.requests_made(), 0);
    }
}

/// Looks each host up once per process. An index's pages are asked for many at a time, each on
/// a connection of its own; a lookup per connection made bursts of DNS queries that resolvers
/// answered with "temporary failure" (seen on a sandboxed network, where every retry then
/// waited out a resolver timeout).
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    known: Mutex<HashMap<String, ureq::unversioned::resolver::ResolvedSocketAddrs>>,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let key = format!("{}://{}", uri.scheme_str().unwrap_or(""), uri.authority().map(|a| a.as_str()).unwrap_or(""));
        // Held while looking up, so that concurrent requests to one host wait for one lookup.
        let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(addrs) = known.get(&key) {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        known.insert(key, addrs.clone());
        Ok(addrs)
    }
}
