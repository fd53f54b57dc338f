//! Getting the files of resolved distributions and making egg directories of them, several at
//! a time: each worker downloads a wheel (or a source distribution, which it builds into one)
//! and unpacks it as soon as it has it, so downloading and unpacking overlap. A wheel whose
//! SHA-256 the user cache has seen before is not downloaded at all: its unpacked content is
//! linked from the cache.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::egg::{egg_dir_name, unpack_wheel, wheel_info};
use super::interpreter::Interpreter;
use super::lock::LockedFile;
use super::settings::{Progress, Settings};
use super::{PythonError, io};
use crate::http::Client;

/// One distribution to make an egg of.
#[derive(Debug, Clone)]
pub(super) struct Job {
    /// `name version`, for progress and messages.
    pub label: String,
    pub file: LockedFile,
    /// A source distribution, to be built into a wheel first.
    pub sdist: bool,
}

/// How source distributions are built.
pub(super) enum Builder<'a> {
    Uv(&'a Path),
    Pip,
}

pub(super) struct Fetcher<'a> {
    pub client: &'a Client,
    pub interp: &'a Interpreter,
    pub settings: &'a Settings,
    /// Where downloads go when there is no `download-cache`.
    pub work: &'a Path,
    pub builder: Builder<'a>,
}

/// How many files are fetched and unpacked at once.
const WORKERS: usize = 12;

impl Fetcher<'_> {
    /// Makes an egg directory for every job; the first failure is the error, once every
    /// worker has stopped (what finished stays: each egg is complete or absent).
    pub(super) fn run(&self, jobs: &[Job], progress: Progress<'_>) -> Result<(), PythonError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let total = jobs.len() as u64;
        let next = AtomicUsize::new(0);
        let failed: Mutex<Option<PythonError>> = Mutex::new(None);
        let stop = || failed.lock().map(|f| f.is_some()).unwrap_or(true) || crate::interrupt::signal().is_some();
        progress(0, total, &format!("Fetching {total} distributions"));
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<String>();
            for _ in 0..WORKERS.min(jobs.len()) {
                let done_tx = done_tx.clone();
                let (next, failed, stop) = (&next, &failed, &stop);
                scope.spawn(move || {
                    while !stop() {
                        let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                        match self.one(job, stop) {
                            Ok(()) => {
                                let _ = done_tx.send(job.label.clone());
                            }
                            Err(e) => {
                                if let Ok(mut f) = failed.lock() {
                                    f.get_or_insert(e);
                                }
                                break;
                            }
                        }
                    }
                });
            }
            drop(done_tx);
            // Reported from here: the progress callback is the host's, and not Sync.
            for (n, label) in done_rx.iter().enumerate() {
                progress(n as u64 + 1, total, &label);
            }
        });
        if let Some(signal) = crate::interrupt::signal() {
            return Err(PythonError::Interrupted { signal });
        }
        match failed.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn one(&self, job: &Job, stop: &dyn Fn() -> bool) -> Result<(), PythonError> {
        let cache = super::cache::dir();
        if !job.sdist
            && let (Some(cache), Some(sha)) = (&cache, &job.file.sha256)
            && let Some(entry) = super::cache::by_sha256(cache, sha)
        {
            let dest = self.settings.eggs_dir.join(entry.egg_name(self.interp));
            if dest.is_dir() {
                return Ok(());
            }
            let from = entry.path(cache, self.interp);
            if super::tree::link_tree(&from, &dest).is_ok() {
                super::cache::note_linked(&dest, &from);
                return Ok(());
            }
        }
        let file = self.file(job, stop)?;
        let wheel = if job.sdist { self.build(&file, job)? } else { file };
        let info = wheel_info(&wheel)?;
        let dest = self.settings.eggs_dir.join(egg_dir_name(
            &info.name,
            &info.version,
            &self.interp.py_tag(),
            &self.interp.platform,
        ));
        if !dest.is_dir() {
            unpack_wheel(&wheel, &dest, cache.as_deref().map(|c| (c, info.key.as_str())))?;
        }
        if let (false, Some(cache), Some(sha)) = (job.sdist, &cache, &job.file.sha256) {
            // Best effort: without the record the next install downloads the wheel again.
            super::cache::remember_sha256(cache, sha, &info);
        }
        Ok(())
    }

    /// The file on disk: a local one where it is, a remote one downloaded (once into the
    /// `download-cache`, when there is one).
    fn file(&self, job: &Job, stop: &dyn Fn() -> bool) -> Result<PathBuf, PythonError> {
        if let Some(path) = crate::http::file_path(&job.file.url) {
            return Ok(path);
        }
        let filename = job
            .file
            .url
            .rsplit('/')
            .next()
            .map(|f| f.split(['#', '?']).next().unwrap_or(f))
            .filter(|f| !f.is_empty())
            .ok_or_else(|| PythonError::Resolve(format!("no file name in {}", crate::http::redact(&job.file.url))))?;
        let dir = match &self.settings.download_cache {
            Some(cache) => cache.join("dist"),
            None => self.work.join("dist"),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let dest = dir.join(filename);
        if dest.is_file() {
            return Ok(dest);
        }
        self.client.download(&job.file.url, &dest, job.file.sha256.as_deref(), stop).map_err(|e| match e {
            crate::http::HttpError::Cancelled { .. } => {
                PythonError::Interrupted { signal: crate::interrupt::signal().unwrap_or(2) }
            }
            other => PythonError::Resolve(format!("Couldn't download {}: {other}", job.label)),
        })?;
        Ok(dest)
    }

    /// Builds a wheel from a source distribution, into a directory of its own.
    fn build(&self, sdist: &Path, job: &Job) -> Result<PathBuf, PythonError> {
        let out = tempfile::Builder::new().prefix("build-").tempdir_in(self.work).map_err(|e| io(self.work, e))?;
        match self.builder {
            Builder::Uv(uv) => super::uv::build(uv, self.interp, sdist, out.path(), self.settings)?,
            Builder::Pip => super::pip::wheel(self.interp, sdist, out.path(), self.settings)?,
        }
        let built = std::fs::read_dir(out.path())
            .map_err(|e| io(out.path(), e))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or_else(|| PythonError::Resolve(format!("building {} made no wheel", job.label)))?;
        // Kept until the run ends, with the rest of the work directory.
        let kept = out.keep();
        Ok(kept.join(built.file_name().unwrap_or_default()))
    }
}
