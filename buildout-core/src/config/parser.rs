//! The buildout configuration file grammar (zc.buildout's `configparser`), written by hand:
//! column-0 comments, `[section: condition]` headers, `=`/`+=`/`-=`/`=>` options, continuation
//! lines in normal and block mode, and textwrap-style dedent of block values.

use std::collections::BTreeMap;

use super::condition::{self, ConditionError, Environment};
use super::pytext::{dedent, is_space, lstrip, remove_leading_blank_lines, repr, rstrip, strip};

/// Option name → raw value, for one section of one file. Increment keys are stored as
/// `"name +"` / `"name -"`, however they were spelled.
pub type RawSection = BTreeMap<String, String>;
/// Section name → options, for one file.
pub type RawConfig = BTreeMap<String, RawSection>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("File contains no section headers.\nfile: {file}, line: {line}\n{}", repr(text))]
    MissingSectionHeader { file: String, line: usize, text: String },
    #[error("File contains parsing errors: {file}{}", format_errors(errors))]
    Syntax { file: String, errors: Vec<(usize, String)> },
    #[error("{source}")]
    Condition { file: String, line: usize, source: ConditionError },
}

impl ParseError {
    /// The file and first line the error is about.
    pub fn location(&self) -> (&str, usize) {
        match self {
            ParseError::MissingSectionHeader { file, line, .. } | ParseError::Condition { file, line, .. } => {
                (file, *line)
            }
            ParseError::Syntax { file, errors } => (file, errors.first().map_or(0, |e| e.0)),
        }
    }
}

fn format_errors(errors: &[(usize, String)]) -> String {
    errors.iter().map(|(n, text)| format!("\n\t[line {n:2}]: {}", repr(text))).collect()
}

/// A section header line, taken apart.
#[derive(Debug, PartialEq)]
struct Header<'a> {
    name: &'a str,
    expression: Option<&'a str>,
}

/// Matches zc.buildout's header pattern: `[`, optional space, a name of characters other than
/// whitespace and `#[]:;{}`, optional space, optional `:expression` (no `#` or `;`), optional
/// space, `]`, and nothing after but space or a `#`/`;` comment.
fn header(line: &str) -> Option<Header<'_>> {
    let rest = lstrip(line.strip_prefix('[')?);
    let name_len = rest.find(|c: char| is_space(c) || "#[]:;{}".contains(c)).unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let name = &rest[..name_len];
    let rest = lstrip(&rest[name_len..]);
    let tail_ok = |after_bracket: &str| {
        let t = lstrip(after_bracket);
        t.is_empty() || t.starts_with(['#', ';'])
    };
    if let Some(expr_and_tail) = rest.strip_prefix(':') {
        // The expression is greedy and may contain `]`: take the longest prefix (without `#`/`;`)
        // that leaves a valid `]` tail behind it.
        let limit = expr_and_tail.find(['#', ';']).unwrap_or(expr_and_tail.len());
        let mut k = limit;
        loop {
            if expr_and_tail.is_char_boundary(k) {
                let after = lstrip(&expr_and_tail[k..]);
                if let Some(tail) = after.strip_prefix(']')
                    && tail_ok(tail)
                {
                    return Some(Header { name, expression: Some(&expr_and_tail[..k]) });
                }
            }
            if k == 0 {
                return None;
            }
            k -= 1;
        }
    }
    let tail = rest.strip_prefix(']')?;
    tail_ok(tail).then_some(Header { name, expression: None })
}

/// Splits an option line into name (operator included, right-stripped) and stripped value.
fn option(line: &str) -> Option<(&str, &str)> {
    let name_len = line.find(|c: char| is_space(c) || "{}[]=:".contains(c)).unwrap_or(line.len());
    if name_len == 0 {
        return None;
    }
    let after_name = &line[name_len..];
    let after_space = lstrip(after_name);
    let after_op = after_space.strip_prefix(['+', '-']).unwrap_or(after_space);
    let value = after_op.strip_prefix('=')?;
    let name = rstrip(&line[..line.len() - value.len() - 1]);
    // `.` in the pattern stops at a newline; a value never holds one mid-line.
    Some((name, strip(value)))
}

/// `"x+"`, `"x +"`, `"x  +"` all become `"x +"`, so later merging sees one spelling.
fn canonical_key(name: &str) -> String {
    match name.chars().last() {
        Some(op @ ('+' | '-')) => {
            let base = name[..name.len() - 1].trim_end_matches(is_space);
            format!("{base} {op}")
        }
        _ => name.to_owned(),
    }
}

/// Universal newlines, as Python's text mode reads files.
pub(crate) fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n").into() } else { text.into() }
}

/// Parses one configuration file's text. `file` names it in errors.
pub fn parse(text: &str, file: &str, env: &Environment) -> Result<RawConfig, ParseError> {
    parse_noting_lines(text, file, env, &mut |_, _, _| {})
}

/// [`parse`], with the line that sets each option (the last one, as later lines win), by
/// section and option name as written (`x +` for `x += ...`).
pub fn parse_with_lines(text: &str, file: &str, env: &Environment) -> Result<(RawConfig, OptionLines), ParseError> {
    let mut lines = OptionLines::default();
    let parsed = parse_noting_lines(text, file, env, &mut |section, option, line| {
        lines.0.insert(OptionLines::key(section, option), u32::try_from(line).unwrap_or(u32::MAX));
    })?;
    Ok((parsed, lines))
}

/// Where each option of a file is set. Kept while every file is loaded, so keyed by a hash of
/// section and option rather than copies of both (a tenth of the load time at 10000 parts).
/// Only messages read it: a 64-bit collision, vanishingly rare, would cost a wrong line number
/// in a hint, never a wrong value.
#[derive(Debug, Default)]
pub struct OptionLines(std::collections::HashMap<u64, u32>);

impl OptionLines {
    /// FNV-1a over the section, a separator no name contains, and the option.
    fn key(section: &str, option: &str) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in section.bytes().chain([b'\n']).chain(option.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }

    /// The line that sets `option` in `section`.
    pub fn get(&self, section: &str, option: &str) -> Option<u32> {
        self.0.get(&OptionLines::key(section, option)).copied()
    }
}

/// [`parse`], telling `note` the section, option and line of every assignment.
fn parse_noting_lines(
    text: &str,
    file: &str,
    env: &Environment,
    note: &mut dyn FnMut(&str, &str, usize),
) -> Result<RawConfig, ParseError> {
    let text = normalize_newlines(text);
    let mut sections: RawConfig = BTreeMap::new();
    let mut cursect: Option<String> = None;
    let mut optname: Option<String> = None;
    let mut blockmode = false;
    let mut condition = true;
    let mut errors: Vec<(usize, String)> = Vec::new();

    for (index, line) in text.split_inclusive('\n').enumerate() {
        let lineno = index + 1;
        let first = line.chars().next().unwrap_or('\n');
        if first == '#' || first == ';' {
            continue;
        }
        if is_space(first)
            && let (Some(sect), Some(opt)) = (&cursect, &optname)
        {
            if !condition {
                continue;
            }
            let piece = if blockmode { rstrip(line) } else { strip(line) };
            if !blockmode && piece.is_empty() {
                continue;
            }
            if let Some(value) = sections.get_mut(sect).and_then(|s| s.get_mut(opt)) {
                value.push('\n');
                value.push_str(piece);
            }
            continue;
        }
        if let Some(h) = header(line) {
            condition = true;
            if let Some(expr) = h.expression.filter(|e| !e.is_empty()) {
                let expr = expr.replace("\\x23", "#").replace("\\x3b", ";");
                let result = if strip(&expr).is_empty() {
                    Err(ConditionError::Other("list index out of range".to_owned()))
                } else {
                    condition::evaluate(&expr, env)
                };
                condition =
                    result.map_err(|source| ParseError::Condition { file: file.to_owned(), line: lineno, source })?;
                if !condition {
                    continue;
                }
            }
            sections.entry(h.name.to_owned()).or_default();
            cursect = Some(h.name.to_owned());
            optname = None;
            continue;
        }
        let Some(sect) = &cursect else {
            if strip(line).is_empty() {
                continue;
            }
            return Err(ParseError::MissingSectionHeader {
                file: file.to_owned(),
                line: lineno,
                text: line.to_owned(),
            });
        };
        let rewritten;
        let line = match line.strip_prefix("=>") {
            Some(rest) => {
                rewritten = format!("<part-dependencies> = {rest}");
                rewritten.as_str()
            }
            None => line,
        };
        if let Some((name, value)) = option(line) {
            if !condition {
                continue;
            }
            let key = canonical_key(name);
            note(sect, &key, lineno);
            let section = sections.entry(sect.clone()).or_default();
            let increment = key.ends_with(" +") || key.ends_with(" -");
            match section.get_mut(&key) {
                Some(existing) if increment => {
                    let trimmed = rstrip(existing).len();
                    existing.truncate(trimmed);
                    if !value.is_empty() {
                        existing.push('\n');
                        existing.push_str(value);
                    }
                }
                _ => {
                    if !increment {
                        section.remove(&format!("{key} +"));
                        section.remove(&format!("{key} -"));
                    }
                    section.insert(key.clone(), value.to_owned());
                }
            }
            blockmode = value.is_empty();
            optname = Some(key);
        } else if optname.is_none() && strip(line).is_empty() {
            continue;
        } else {
            errors.push((lineno, line.to_owned()));
        }
    }
    if !errors.is_empty() {
        return Err(ParseError::Syntax { file: file.to_owned(), errors });
    }
    for section in sections.values_mut() {
        for value in section.values_mut() {
            if value.starts_with(is_space) {
                *value = remove_leading_blank_lines(&dedent(rstrip(value))).to_owned();
            }
        }
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_lines() {
        let text = "[buildout]\nparts =\n  a\n  b\n\n[versions]\n# pins\nZEO = 6.2\nzdaemon=5.0\nzdaemon = 5.2.1\n\n[other]\nZEO = 1\n";
        let env = Environment::current();
        let (_, lines) = parse_with_lines(text, "b.cfg", env).expect("parses");
        let cases: [(&str, &str, Option<u32>); 5] = [
            ("versions", "ZEO", Some(8)),
            ("versions", "zdaemon", Some(10)),
            ("other", "ZEO", Some(13)),
            ("buildout", "parts", Some(2)),
            ("versions", "missing", None),
        ];
        for (section, option, expected) in cases {
            assert_eq!(lines.get(section, option), expected, "{section}:{option}");
        }
        assert!(parse_with_lines("no header = 1\n", "b.cfg", env).is_err());
    }

    fn env() -> Environment {
        let mut e = Environment::current().clone();
        e.python = Some(condition::PythonInfo {
            full_version: "3.11.7".into(),
            implementation_name: "cpython".into(),
            implementation_version: "3.11.7".into(),
            platform_python_implementation: "CPython".into(),
        });
        e
    }

    fn p(text: &str) -> Result<RawConfig, ParseError> {
        parse(text, "buildout.cfg", &env())
    }

    /// Renders a parse result compactly: `[s] k=v; k2=v2 | [t] ...`, values with `\n` escaped.
    fn show(cfg: &RawConfig) -> String {
        cfg.iter()
            .map(|(s, opts)| {
                let o: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={}", v.replace('\n', "\\n"))).collect();
                format!("[{s}] {}", o.join("; "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn parses_like_zc_buildout() {
        let cases: &[(&str, &str)] = &[
            ("[a]\nx = 1\n", "[a] x=1"),
            ("[a]\nx = 1\n  2\n\n  3\n", "[a] x=1\\n2\\n3"),
            ("[a]\nx =\n  a\n    b\n\n  c\n\n", "[a] x=a\\n  b\\n\\nc"),
            ("[a]\nx =\n\ta\n\t  b\n", "[a] x=a\\n  b"),
            ("[a]\nx = 1\n# gone\n  2\n", "[a] x=1\\n2"),
            ("[a]\nx = 1\n  # kept\n", "[a] x=1\\n# kept"),
            ("[a] # comment [x]\nx=1\n", "[a] x=1"),
            ("[ a ]\nx=1\n", "[a] x=1"),
            ("[a:]\nx=1\n", "[a] x=1"),
            ("[a]\nx += 1\nx += 2\n", "[a] x +=1\\n2"),
            ("[a]\nx+= 1\n", "[a] x +=1"),
            ("[a]\nx += 1\nx = 2\n", "[a] x=2"),
            ("[a]\nx -= 1\n", "[a] x -=1"),
            ("[a]\n=> b c\n", "[a] <part-dependencies>=b c"),
            ("[a]\nx = 1 # not a comment ; % = :\n", "[a] x=1 # not a comment ; % = :"),
            ("[a]\nx = 1\n[a]\ny = 2\nx = 3\n", "[a] x=3; y=2"),
            ("[a]\r\nx = 1\r\n  2\r\n", "[a] x=1\\n2"),
            ("\n\n[a]\n\nx = 1\n", "[a] x=1"),
            ("[a]\nx =\n", "[a] x="),
            ("[a: python3]\nx = 1\n[b: python2]\ny = 2\n  cont\n", "[a] x=1"),
            ("[a]\nx = 1\n[a: python2]\nx = 2\n  more\n[a]\ny = 3\n", "[a] x=1; y=3"),
            ("[Foo]\nX = 1\n[foo]\nx = 2\n", "[Foo] X=1 | [foo] x=2"),
            ("[a]\nc++ = 1\n", "[a] c+ +=1"),
            ("[a]\nx = é ü\n", "[a] x=é ü"),
        ];
        for (input, expected) in cases {
            match p(input) {
                Ok(cfg) => assert_eq!(&show(&cfg), expected, "parsing {input:?}"),
                Err(e) => assert_eq!(&format!("error: {e}"), expected, "parsing {input:?}"),
            }
        }
    }

    #[test]
    fn bracket_in_condition_is_an_error_from_the_expression() {
        // `a[0]` is valid Python but not in our subset; what matters is that the header was
        // recognised and the expression reached the evaluator.
        let err = p("[s: a[0] == 1]\nx=1\n").expect_err("a is not defined");
        assert!(matches!(err, ParseError::Condition { line: 1, .. }), "{err:?}");
    }

    #[test]
    fn errors_carry_python_messages() {
        let cases: &[(&str, &str)] = &[
            ("x = 1\n", "File contains no section headers.\nfile: buildout.cfg, line: 1\n'x = 1\\n'"),
            (
                "[a]\n  b = 2\nc: 1\n[a b]\n[foo] trailing\nok = 1\n",
                "File contains parsing errors: buildout.cfg\n\t[line  2]: '  b = 2\\n'\n\t[line  3]: 'c: 1\\n'\n\t[line  4]: '[a b]\\n'\n\t[line  5]: '[foo] trailing\\n'",
            ),
            ("[s: python2]\nx = 1\n", "File contains no section headers.\nfile: buildout.cfg, line: 2\n'x = 1\\n'"),
            ("[s: iron]\n", "name 'iron' is not defined"),
            ("[s: ]\n", "list index out of range"),
            ("\u{feff}[a]\n", "File contains no section headers.\nfile: buildout.cfg, line: 1\n'\\ufeff[a]\\n'"),
        ];
        for (input, expected) in cases {
            let err = p(input).expect_err(input);
            assert_eq!(&err.to_string(), expected, "parsing {input:?}");
        }
    }

    #[test]
    fn header_pattern() {
        assert_eq!(header("[a]\n"), Some(Header { name: "a", expression: None }));
        assert_eq!(header("[a:b]\n"), Some(Header { name: "a", expression: Some("b") }));
        assert_eq!(header("[a: x ] ; c\n"), Some(Header { name: "a", expression: Some(" x ") }));
        assert_eq!(header("[a b]\n"), None);
        assert_eq!(header("[]\n"), None);
        assert_eq!(header("[a] x\n"), None);
        assert_eq!(header("[a: x # y]\n"), None);
    }
}
