//! A PEP 503 simple index over a directory of distribution files, served on 127.0.0.1 (a port
//! the system chooses): `/simple/<project>/` is an HTML page linking every file of the project
//! with its `#sha256=`, `/files/<name>` the file, and `/cfg/<name>` the file as a configuration
//! fresh for ten minutes (`Cache-Control: max-age=600`). The directory is read at each request,
//! so a test may add files while it runs. The server counts what it is asked and stops when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::Digest;

/// A running index; stopped when dropped.
pub struct SimpleIndex {
    base: String,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl SimpleIndex {
    /// Serves the files of `dir`.
    pub fn serve(dir: &Path) -> SimpleIndex {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("a nonblocking listener");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, requests, dir) = (stop.clone(), requests.clone(), dir.to_owned());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = answer(stream, &dir, &requests);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        SimpleIndex { base, stop, requests, thread: Some(thread) }
    }

    /// The index URL, for a buildout's `index` option.
    pub fn url(&self) -> String {
        format!("{}/simple", self.base)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        self.base.clone()
    }

    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for SimpleIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A project name as index URLs spell it (PEP 503).
fn canonical(name: &str) -> String {
    crate::mirror::canonical(name)
}

/// The project a distribution file belongs to (canonical), from its name.
fn project_of(file: &str) -> Option<String> {
    if let Some(stem) = file.strip_suffix(".whl") {
        return stem.split('-').next().map(canonical);
    }
    let stem = [".tar.gz", ".zip"].iter().find_map(|ext| file.strip_suffix(ext))?;
    stem.rsplit_once('-').map(|(name, _)| canonical(name))
}

fn answer(stream: TcpStream, dir: &Path, requests: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    requests.lock().unwrap_or_else(|e| e.into_inner()).push(path.clone());
    let files = || -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
            .unwrap_or_default();
        files.sort();
        files
    };
    let mut cache_control = "";
    let (status, content_type, body) = if let Some(name) = path.strip_prefix("/cfg/") {
        match files().into_iter().find(|f| f.file_name().is_some_and(|n| n == name)) {
            Some(file) => {
                cache_control = "Cache-Control: max-age=600\r\n";
                (200, "text/plain", std::fs::read(file)?)
            }
            None => (404, "text/plain", b"not found".to_vec()),
        }
    } else if let Some(project) = path.strip_prefix("/simple/").map(|p| p.trim_end_matches('/')) {
        let links: Vec<String> = files()
            .iter()
            .filter_map(|f| {
                let name = f.file_name()?.to_str()?.to_owned();
                (project_of(&name)? == canonical(project)).then(|| {
                    let sha = sha2::Sha256::digest(std::fs::read(f).unwrap_or_default());
                    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                    format!("<a href=\"/files/{name}#sha256={hex}\">{name}</a><br/>")
                })
            })
            .collect();
        match links.is_empty() {
            true => (404, "text/plain", b"not found".to_vec()),
            false => (
                200,
                "text/html",
                format!("<!DOCTYPE html><html><body>\n{}\n</body></html>\n", links.join("\n")).into_bytes(),
            ),
        }
    } else if let Some(name) = path.strip_prefix("/files/") {
        match files().into_iter().find(|f| f.file_name().is_some_and(|n| n == name)) {
            Some(file) => (200, "application/octet-stream", std::fs::read(file)?),
            None => (404, "text/plain", b"not found".to_vec()),
        }
    } else {
        (404, "text/plain", b"not found".to_vec())
    };
    let mut stream = reader.into_inner();
    let reason = if status == 200 { "OK" } else { "Not Found" };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{cache_control}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}
