//! Users and groups by name and id, from the system's account files (`/etc/passwd`,
//! `/etc/group`), as Python's `pwd` and `grp` answer for local accounts. Accounts that only a
//! directory service (LDAP, NIS) knows are not seen.

use std::path::Path;

/// One account line: (name, uid, gid) for users, (name, gid) for groups.
fn records(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_owned).collect())
        .collect()
}

/// A user's uid and primary gid, by name (`pwd.getpwnam`).
pub(crate) fn user(name: &str) -> Option<(u32, u32)> {
    user_in(Path::new("/etc/passwd"), name)
}

fn user_in(passwd: &Path, name: &str) -> Option<(u32, u32)> {
    records(passwd).into_iter().find(|r| r.first().is_some_and(|n| n == name)).and_then(|r| {
        let uid = r.get(2)?.parse().ok()?;
        let gid = r.get(3)?.parse().ok()?;
        Some((uid, gid))
    })
}

/// A user's name by uid (`pwd.getpwuid`).
pub(crate) fn user_name(uid: u32) -> Option<String> {
    name_by_id(Path::new("/etc/passwd"), uid)
}

/// A group's name by gid (`grp.getgrgid`).
pub(crate) fn group_name(gid: u32) -> Option<String> {
    name_by_id(Path::new("/etc/group"), gid)
}

fn name_by_id(file: &Path, id: u32) -> Option<String> {
    let id = id.to_string();
    records(file).into_iter().find(|r| r.get(2) == Some(&id)).and_then(|r| r.first().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_by_name_and_id() {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n# note\nzope:x:1000:1001::/home/zope:/bin/sh\n")
            .expect("write");
        let cases = [("root", Some((0, 0))), ("zope", Some((1000, 1001))), ("nobody-here", None), ("", None)];
        for (name, expected) in cases {
            assert_eq!(user_in(&passwd, name), expected, "{name:?}");
        }
        assert_eq!(name_by_id(&passwd, 1000).as_deref(), Some("zope"));
        assert_eq!(name_by_id(&passwd, 7), None);
    }
}
