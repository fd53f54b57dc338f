//! Directory trees made beside their destination and renamed into place, so that a killed run
//! never leaves half of one: hard-linked copies (eggs from the user cache) and staged
//! directories.

use std::path::Path;

use super::{PythonError, io};

/// Fills `dest` (which must not exist) with a copy of the tree `from`: directories are made,
/// files hard-linked (copied where the file system cannot link them). Built beside `dest` and
/// renamed into place, so a killed run leaves no half-made `dest`.
pub fn link_tree(from: &Path, dest: &Path) -> Result<(), PythonError> {
    let parent = dest.parent().ok_or_else(|| io(dest, "no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let prefix = crate::interrupt::temp_prefix("linking");
    let tmp = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).map_err(|e| io(parent, e))?;
    let mut can_link = true;
    link_dir(from, tmp.path(), &mut can_link)?;
    put_in_place(tmp, dest)
}

fn link_dir(from: &Path, to: &Path, can_link: &mut bool) -> Result<(), PythonError> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        // Returning drops the staging directory of `link_tree`, which removes it.
        crate::interrupt::check()?;
        let entry = entry.map_err(|e| io(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io(&source, e))?;
        if kind.is_dir() {
            std::fs::create_dir(&target).map_err(|e| io(&target, e))?;
            link_dir(&source, &target, can_link)?;
            continue;
        }
        if *can_link && std::fs::hard_link(&source, &target).is_ok() {
            continue;
        }
        // Another file system, or one without hard links: copy from here on.
        *can_link = false;
        std::fs::copy(&source, &target).map_err(|e| io(&target, e))?;
    }
    Ok(())
}

/// Renames a directory built beside `dest` to `dest`. If another run made `dest` meanwhile,
/// theirs is as good as ours, and ours goes.
pub(super) fn put_in_place(staged: tempfile::TempDir, dest: &Path) -> Result<(), PythonError> {
    let staged = staged.keep();
    if let Err(e) = std::fs::rename(&staged, dest) {
        let _ = std::fs::remove_dir_all(&staged);
        if !dest.is_dir() {
            return Err(io(dest, e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_tree_shares_files_and_not_directories() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().expect("temp dir");
        let from = root.path().join("from");
        std::fs::create_dir_all(from.join("pkg/sub")).expect("mkdir");
        std::fs::write(from.join("pkg/__init__.py"), "x = 1\n").expect("write");
        std::fs::write(from.join("pkg/sub/data.txt"), "data").expect("write");
        let dest = root.path().join("eggs/pkg-1.0.egg");
        link_tree(&from, &dest).expect("links");
        let linked = std::fs::metadata(dest.join("pkg/__init__.py")).expect("linked file");
        assert_eq!(linked.ino(), std::fs::metadata(from.join("pkg/__init__.py")).expect("source").ino());
        assert_eq!(std::fs::read_to_string(dest.join("pkg/sub/data.txt")).expect("read"), "data");
        // Python writes `__pycache__` into the egg; that must not reach the cache.
        std::fs::create_dir(dest.join("pkg/__pycache__")).expect("mkdir");
        assert!(!from.join("pkg/__pycache__").exists());
        // No staging directory is left beside the egg.
        let names: Vec<_> = std::fs::read_dir(root.path().join("eggs")).expect("list").flatten().collect();
        assert_eq!(names.len(), 1);
        // A second linker finding the directory made keeps it.
        link_tree(&from, &dest).expect("already there");
    }
}
