//! Text renderings of a configuration: `annotate` (zc.buildout's format, byte for byte) and
//! `resolve` (the fully evaluated configuration).

use std::fmt::Write as _;

use super::annotated::{Annotated, COMMAND_LINE_VALUE, COMPUTED_VALUE, DEFAULT_VALUE, HistoryItem, Op, SectionKey};
use super::buildout::Buildout;
use super::pypath;
use super::pytext::strip;

/// Python's `str.splitlines()`: every line boundary Python knows, no final empty element.
fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = matches!(
            c,
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if boundary {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r'
                && let Some((j, '\n')) = chars.peek().copied()
            {
                chars.next();
                end = j + 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

fn source_for_human(source: &str, basedir: &str) -> String {
    if source.starts_with(basedir) { pypath::relpath(source, basedir, "/") } else { source.to_owned() }
}

fn write_key_and_value(out: &mut String, key: &str, value: &str) {
    let lines = splitlines(value);
    if lines.len() <= 1 {
        if value.is_empty() {
            let _ = writeln!(out, "{key}=");
        } else {
            let _ = writeln!(out, "{key}= {value}");
        }
    } else {
        let _ = writeln!(out, "{key}= {}", lines[0]);
        for line in &lines[1..] {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn write_terse(out: &mut String, key: &SectionKey, basedir: &str) {
    let mut shown: Vec<String> = Vec::new();
    for item in key.history.iter().rev() {
        let source = source_for_human(&item.source, basedir);
        match item.op {
            Op::Add => shown.push(format!("+=  {source}")),
            Op::Remove => shown.push(format!("-=  {source}")),
            Op::Set | Op::Override | Op::Directory => {
                shown.push(format!("    {source}"));
                break;
            }
        }
    }
    for line in shown.iter().rev() {
        if !strip(line).is_empty() {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn write_verbose(out: &mut String, key: &SectionKey, basedir: &str) {
    out.push('\n');
    for HistoryItem { op, value, source, .. } in key.history.iter().rev() {
        let prefix = if [DEFAULT_VALUE, COMPUTED_VALUE, COMMAND_LINE_VALUE].contains(&&**source) { "AS" } else { "IN" };
        let _ = writeln!(out, "   {prefix} {}", source_for_human(source, basedir));
        let lines = splitlines(value);
        if lines.len() <= 1 {
            let _ = writeln!(out, "   {} VALUE = {value}", op.name());
        } else {
            let _ = writeln!(out, "   {} VALUE =", op.name());
            for line in lines {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    out.push('\n');
}

/// The `annotate` output: every section (or those chosen), every option with its sources.
pub fn annotate(annotated: &Annotated, verbose: bool, chosen: &[String], basedir: &str) -> String {
    let mut out = String::from("\nAnnotated sections\n==================\n");
    for (name, section) in annotated {
        if !chosen.is_empty() && !chosen.contains(name) {
            continue;
        }
        let _ = write!(out, "\n[{name}]\n");
        for (key, value) in section {
            write_key_and_value(&mut out, key, &value.value);
            if verbose {
                write_verbose(&mut out, value, basedir);
            } else {
                write_terse(&mut out, value, basedir);
            }
        }
    }
    out
}

fn write_resolved(out: &mut String, key: &str, value: &str) {
    if value.contains('\n') {
        let _ = writeln!(out, "{key} =");
        for line in value.split('\n') {
            let _ = writeln!(out, "  {line}");
        }
    } else {
        let _ = writeln!(out, "{key} = {value}");
    }
}

/// The `resolve` output and whether every section evaluated. Sections are evaluated one by one,
/// so an error in one is shown in its place and the others still print.
pub fn resolve(buildout: &mut Buildout, chosen: &[String]) -> (String, bool) {
    let mut out = String::new();
    let mut all_ok = true;
    let names: Vec<String> = buildout.sections.names().cloned().collect();
    for name in names {
        if !chosen.is_empty() && !chosen.contains(&name) {
            continue;
        }
        if name == "buildout" || name == buildout.versions_section {
            // Only what a file or the command line set; the built-in defaults are noise here.
            let keys: Vec<String> = buildout
                .annotated
                .get(&name)
                .map(|s| {
                    s.iter()
                        .filter(|(_, k)| {
                            k.history.iter().any(|h| ![DEFAULT_VALUE, COMPUTED_VALUE].contains(&&*h.source))
                        })
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            if keys.is_empty() {
                continue;
            }
            let mut section = format!("[{name}]\n");
            let mut failed = None;
            for key in keys {
                match buildout.sections.get(&name, &key) {
                    Ok(value) => write_resolved(&mut section, &key, &value.unwrap_or_default()),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => out.push_str(&section),
                Some(e) => {
                    all_ok = false;
                    let _ = writeln!(out, "[{name}]\nError: {e}");
                }
            }
            continue;
        }
        let _ = writeln!(out, "[{name}]");
        let evaluated = buildout.sections.section_isolated(&name).and_then(|()| {
            let mut text = String::new();
            let mut keys = buildout.sections.keys(&name);
            keys.sort();
            for key in keys {
                let value = buildout.sections.get(&name, &key)?.unwrap_or_default();
                write_resolved(&mut text, &key, &value);
            }
            Ok(text)
        });
        match evaluated {
            Ok(text) => out.push_str(&text),
            Err(e) => {
                all_ok = false;
                let _ = writeln!(out, "Error: {e}");
            }
        }
    }
    (out, all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_splitlines() {
        let cases: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a\n", &["a"]),
            ("a\nb", &["a", "b"]),
            ("\nb", &["", "b"]),
            ("a\r\nb\rc", &["a", "b", "c"]),
            ("a\u{b}b", &["a", "b"]),
            ("", &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(splitlines(input), *expected, "{input:?}");
        }
    }
}
