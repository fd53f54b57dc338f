//! `os.path` on POSIX, on strings. Paths in buildout are strings that end up in output
//! (annotate sources, error messages, `.installed.cfg`), so they must be joined, normalised and
//! made relative exactly as Python does, not as `std::path` would.

pub fn is_abs(p: &str) -> bool {
    p.starts_with('/')
}

pub fn join(base: &str, p: &str) -> String {
    if is_abs(p) || base.is_empty() {
        p.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{p}")
    } else {
        format!("{base}/{p}")
    }
}

pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        None => "",
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() { head } else { trimmed }
        }
    }
}

pub fn basename(p: &str) -> &str {
    p.rfind('/').map_or(p, |i| &p[i + 1..])
}

pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." if (initial.is_empty() && parts.is_empty()) || parts.last() == Some(&"..") => parts.push(".."),
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() { ".".to_owned() } else { joined }
}

pub fn abspath(p: &str, cwd: &str) -> String {
    normpath(&join(cwd, p))
}

/// `os.path.expanduser` with the home directory given.
pub fn expanduser(p: &str, home: Option<&str>) -> String {
    match (p.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            let home = home.trim_end_matches('/');
            format!("{}{rest}", if home.is_empty() { "/" } else { home })
        }
        _ => p.to_owned(),
    }
}

pub fn relpath(p: &str, start: &str, cwd: &str) -> String {
    let p = abspath(p, cwd);
    let start = abspath(start, cwd);
    let a: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    let b: Vec<&str> = start.split('/').filter(|c| !c.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = std::iter::repeat_n("..", b.len() - common).collect();
    parts.extend(&a[common..]);
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

/// `([a-zA-Z0-9+.-]+)://` at the start: zc.buildout's test for a URL.
pub fn is_url(p: &str) -> bool {
    match p.find("://") {
        Some(i) if i > 0 => p[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_path_functions() {
        let norm = [
            ("/a/b/../c", "/a/c"),
            ("a/./b/", "a/b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("//a", "//a"),
            ("///a", "/a"),
            ("", "."),
            ("a/..", "."),
        ];
        for (input, expected) in norm {
            assert_eq!(normpath(input), expected, "normpath {input:?}");
        }
        assert_eq!(dirname("/a/b.cfg"), "/a");
        assert_eq!(dirname("b.cfg"), "");
        assert_eq!(dirname("/b.cfg"), "/");
        assert_eq!(join("/a", "/b"), "/b");
        assert_eq!(join("", "b"), "b");
        assert_eq!(relpath("/x/y/z.cfg", "/x", "/"), "y/z.cfg");
        assert_eq!(relpath("/x2/z.cfg", "/x", "/"), "../x2/z.cfg");
        assert_eq!(expanduser("~/e", Some("/home/u")), "/home/u/e");
        assert_eq!(expanduser("~u/e", Some("/home/u")), "~u/e");
        assert!(is_url("file:///x"));
        assert!(is_url("http://x"));
        assert!(!is_url("/x://"));
    }
}
