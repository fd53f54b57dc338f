//! One `buildout` at a time per buildout directory. The lock is an OS file lock, released by the
//! OS when the process ends, so a killed run leaves no stale lock behind.

use std::fs::File;
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
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting(&path);
                // Polled rather than `file.lock()`, so that Ctrl-C stops the wait: the signal's
                // handler (see `crate::interrupt`) only raises a flag.
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
        Ok(DirectoryLock { _file: file, path })
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
    }
}
