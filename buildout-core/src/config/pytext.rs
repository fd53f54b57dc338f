//! Python string semantics that buildout's output depends on: `str.isspace`, `strip`, `repr`,
//! and `textwrap.dedent`. zc.buildout runs on Python, so its whitespace rules and quoting are
//! Python's; matching them byte for byte needs the same definitions.

/// Python's `str.isspace()` for one character (Unicode White_Space plus the ASCII information
/// separators U+001C..U+001F, which Python also counts as whitespace).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

pub(crate) fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

pub(crate) fn lstrip(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// `str.split()` without arguments: runs of whitespace separate, no empty items.
pub fn split_ws(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// Whether Python would print the character as is inside `repr()`.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || is_space(c) {
        return false;
    }
    // Format characters, surrogates (impossible in Rust) and private use are escaped by Python;
    // these ranges cover the ones that appear in practice.
    !matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e000}'..='\u{f8ff}'
        | '\u{f0000}'..='\u{10ffff}')
}

/// Python's `repr()` of a `str`.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a list of strings: `['a', 'b']`.
pub fn repr_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let inner: Vec<String> = items.into_iter().map(repr).collect();
    format!("[{}]", inner.join(", "))
}

/// `textwrap.dedent`: only spaces and tabs count as indentation, lines holding nothing but spaces
/// and tabs are emptied, and the longest common leading string is removed.
pub(crate) fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let is_indent = |c: char| c == ' ' || c == '\t';
    let mut margin: Option<&str> = None;
    for line in &lines {
        let content = line.trim_start_matches(is_indent);
        if content.is_empty() {
            continue;
        }
        let indent = &line[..line.len() - content.len()];
        margin = Some(match margin {
            None => indent,
            Some(m) if indent.starts_with(m) => m,
            Some(m) if m.starts_with(indent) => indent,
            Some(m) => {
                let common = m
                    .char_indices()
                    .zip(indent.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(m.len().min(indent.len()), |((i, _), _)| i);
                &m[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    let mut out = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.trim_start_matches(is_indent).is_empty() {
            continue;
        }
        out.push_str(line.strip_prefix(margin).unwrap_or(line));
    }
    out
}

/// Removes `^(\s*\n)+`: every leading line that holds only whitespace.
pub(crate) fn remove_leading_blank_lines(s: &str) -> &str {
    let ws_run = s.len() - lstrip(s).len();
    match s[..ws_run].rfind('\n') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        let cases = [
            ("a", "'a'"),
            ("a\n", "'a\\n'"),
            ("it's", "\"it's\""),
            ("it's \"x\"", "'it\\'s \"x\"'"),
            ("tab\there", "'tab\\there'"),
            ("\u{7f}", "'\\x7f'"),
            ("é", "'é'"),
            ("\u{feff}[a]", "'\\ufeff[a]'"),
            ("back\\slash", "'back\\\\slash'"),
        ];
        for (input, expected) in cases {
            assert_eq!(repr(input), expected, "repr of {input:?}");
        }
    }

    #[test]
    fn dedent_matches_textwrap() {
        let cases = [
            ("  a\n    b\n\n  c", "a\n  b\n\nc"),
            ("\tx\n\t  y", "x\n  y"),
            ("\tx\n    y", "\tx\n    y"),
            ("  a\n   \n  b", "a\n\nb"),
            ("a\n  b", "a\n  b"),
            ("   a\n  b", " a\nb"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(dedent(input), expected, "dedent of {input:?}");
        }
    }

    #[test]
    fn leading_blank_lines() {
        let cases = [("\n\n  a\n", "  a\n"), ("  \n \na", "a"), ("a\n", "a\n"), ("  a", "  a")];
        for (input, expected) in cases {
            assert_eq!(remove_leading_blank_lines(input), expected);
        }
    }

    #[test]
    fn python_whitespace() {
        assert!(is_space('\u{1c}'));
        assert!(is_space('\u{a0}'));
        assert!(!is_space('x'));
        assert_eq!(split_ws(" a  b\n c ").collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
