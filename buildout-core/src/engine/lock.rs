//! One `buildout` at a time per buildout directory. The lock is an OS file lock, released by the
//! OS when the process ends, so a killed run leaves no stale lock behind. The lock file is
//! removed when the lock is let go (zc.buildout leaves no such file): a taker that was waiting
//! on a file removed meanwhile sees that its path names another file, or none, and starts over.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How often a waiting run tries the lock again.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DirectoryLock {
    _file: File,
    pub path: PathBuf,
}

impl DirectoryLock {
    /// Takes the lock on `dir`, calling `waiting` first if another process holds it.
    pub fn acquire(dir: &Path, waiting: impl FnOnce(&Path)) -> std::io::Result<DirectoryLock> {
        let path = dir.join(".installed.cfg.lock");
        let mut waiting = Some(waiting);
        loop {
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    if let Some(waiting) = waiting.take() {
                        waiting(&path);
                    }
                    // Polled rather than `file.lock()`, so that Ctrl-C stops the wait: the
                    // signal's handler (see `crate::interrupt`) only raises a flag.
                    loop {
                        if let Err(i) = crate::interrupt::check() {
                            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, i));
                        }
                        match file.try_lock() {
                            Ok(()) => break,
                            Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(WAIT_POLL),
                            Err(std::fs::TryLockError::Error(e)) => return Err(e),
                        }
                    }
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            if names_file(&path, &file)? {
                return Ok(DirectoryLock { _file: file, path });
            }
            // The holder removed the file we locked: the lock is the file at `path` now.
        }
    }
}

/// Whether `path` still names `file` (the same device and inode).
fn names_file(path: &Path, file: &File) -> std::io::Result<bool> {
    let held = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        // Removed while still locked (the file closes after this), so no other run can hold a
        // lock on the file at this path when it goes. A failure leaves an empty file, as before.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_for_the_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DirectoryLock::acquire(dir.path(), |_| panic!("nobody holds it yet")).expect("lock");
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let lock = DirectoryLock::acquire(&path, |_| tx.send(()).expect("send")).expect("lock");
            drop(lock);
        });
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the second taker says it waits");
        drop(first);
        waiter.join().expect("the second taker gets the lock");
        assert!(!dir.path().join(".installed.cfg.lock").exists(), "the lock file goes with the lock");
    }

    /// Takers queued on a file that the holder removes lock the file that replaces it, one at
    /// a time: never two at once.
    #[test]
    fn takers_never_hold_the_lock_together() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let takers: Vec<_> = (0..6)
            .map(|_| {
                let (path, inside) = (dir.path().to_path_buf(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let lock = DirectoryLock::acquire(&path, |_| {}).expect("lock");
                        assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "two holders");
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(lock);
                    }
                })
            })
            .collect();
        for taker in takers {
            taker.join().expect("a taker");
        }
        assert!(!dir.path().join(".installed.cfg.lock").exists());
    }
}
