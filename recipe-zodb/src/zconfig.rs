//! ZConfig configuration text without a schema (`ZConfig.schemaless`): parsed and written out
//! again exactly as ZConfig 4.3 does it, so generated `zeo.conf` and `zdaemon.conf` files are
//! byte-identical to zc.zodbrecipes'. Section types and names are lower-cased, keys sorted by
//! code point, `%import`s hoisted and de-duplicated, `$$`/`$(ENV)` substituted. Unlike ZConfig,
//! every error is a value carrying its line, including `%define`, `%include` and a lone `$`.

use std::collections::BTreeMap;
use std::fmt;

/// A section: `<type name>` ... `</type>`; the top level has an empty type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub name: String,
    /// Each key's values in the order given (keys may repeat).
    pub values: BTreeMap<String, Vec<String>>,
    pub sections: Vec<Section>,
}

/// A whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub imports: Vec<String>,
    pub top: Section,
}

/// What is wrong with a configuration text, and on which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line})")]
pub struct ZConfigError {
    pub message: String,
    pub line: usize,
    /// Whether ZConfig itself reports this as a `ConfigurationSyntaxError` (so zc.zodbrecipes
    /// shows it as a user error); the rest are `%define`/`%include` and substitution syntax,
    /// which ZConfig raises as other exceptions.
    pub zconfig_syntax_error: bool,
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `[^\s()]+`: the characters of a key, type or name.
fn name_len(s: &str) -> usize {
    s.find(|c: char| is_space(c) || c == '(' || c == ')').unwrap_or(s.len())
}

/// `key value` (value optional), or `None` if the line is not one.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let n = name_len(line);
    if n == 0 {
        return None;
    }
    let (key, rest) = line.split_at(n);
    let value = rest.trim_start_matches(is_space);
    Some((key, value))
}

fn identifier_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return 0,
    }
    chars.find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_')).map_or(s.len(), |(i, _)| i)
}

/// ZConfig's substitution: `$$` is `$`, `$(NAME)` the environment variable; `$name` and
/// `${name}` would need a `%define`, which schema-less configurations cannot have.
pub fn substitute(text: &str, line: usize) -> Result<String, ZConfigError> {
    let err = |message: String| ZConfigError { message, line, zconfig_syntax_error: false };
    let missing =
        |name: &str| ZConfigError { message: format!("no replacement for '{name}'"), line, zconfig_syntax_error: true };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.chars().next() {
            None => return Err(err("illegal lone '$' at end of source".into())),
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(open @ ('{' | '(')) => {
                let close = if open == '{' { '}' } else { ')' };
                let n = identifier_len(&after[1..]);
                if n == 0 {
                    return Err(err(format!("'${open}' not followed by name")));
                }
                let name = &after[1..1 + n];
                if !after[1 + n..].starts_with(close) {
                    return Err(err(format!("'${open}{name}' not followed by '{close}'")));
                }
                let value = if open == '(' { std::env::var(name).ok() } else { None };
                match value {
                    Some(v) => out.push_str(&v),
                    None => return Err(missing(name)),
                }
                rest = &after[2 + n..];
            }
            Some(_) => {
                let n = identifier_len(after);
                if n == 0 {
                    return Err(err("'$' not followed by '$' or name".into()));
                }
                return Err(missing(&after[..n]));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses configuration text.
pub fn parse(text: &str) -> Result<Config, ZConfigError> {
    let mut config = Config::default();
    // The stack of open sections; the top level is at the bottom.
    let mut stack: Vec<Section> = vec![Section::default()];
    let mut last = 0;
    for (index, raw) in text.lines().enumerate() {
        let lineno = index + 1;
        last = lineno;
        let err =
            |message: &str| ZConfigError { message: message.to_owned(), line: lineno, zconfig_syntax_error: true };
        let unsupported = |message: &str| ZConfigError { zconfig_syntax_error: false, ..err(message) };
        let line = raw.trim_matches(is_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("</") {
            let rest = rest.strip_suffix('>').ok_or_else(|| err("malformed section end"))?;
            if stack.len() < 2 {
                return Err(err("unexpected section end"));
            }
            let kind = rest.trim_end_matches(is_space).to_lowercase();
            let done = stack.pop().ok_or_else(|| err("unexpected section end"))?;
            if kind != done.kind {
                return Err(err("unbalanced section end"));
            }
            if let Some(parent) = stack.last_mut() {
                parent.sections.push(done);
            }
        } else if let Some(rest) = line.strip_prefix('<') {
            let rest = rest.strip_suffix('>').ok_or_else(|| err("malformed section start"))?;
            let (rest, empty) = match rest.strip_suffix('/') {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let header = rest.trim_end_matches(is_space);
            let n = name_len(header);
            let kind = &header[..n];
            let tail = &header[n..];
            let name = tail.trim_start_matches(is_space);
            if n == 0
                || (!tail.is_empty() && (name.is_empty() || name_len(name) != name.len() || tail.len() == name.len()))
            {
                return Err(err("malformed section header"));
            }
            let section = Section { kind: kind.to_lowercase(), name: name.to_lowercase(), ..Section::default() };
            if empty {
                if let Some(parent) = stack.last_mut() {
                    parent.sections.push(section);
                }
            } else {
                stack.push(section);
            }
        } else if let Some(rest) = line.strip_prefix('%') {
            let (name, arg) = key_value(rest).ok_or_else(|| err("missing or unrecognized directive"))?;
            if !["define", "import", "include"].contains(&name) {
                return Err(err(&format!("unknown directive: '{name}'")));
            }
            if arg.is_empty() {
                return Err(err(&format!("missing argument to %{name} directive")));
            }
            match name {
                "define" => {
                    return Err(unsupported(
                        "%define is not supported in schema-less configuration (write the value itself)",
                    ));
                }
                "include" => return Err(unsupported("%include is not supported in schema-less configuration")),
                _ => {
                    let package = substitute(arg.trim_matches(is_space), lineno)?;
                    if !config.imports.contains(&package) {
                        config.imports.push(package);
                    }
                }
            }
        } else {
            let (key, value) = key_value(line).ok_or_else(|| err("malformed configuration data"))?;
            let value = if value.is_empty() { String::new() } else { substitute(value, lineno)? };
            if let Some(section) = stack.last_mut() {
                section.values.entry(key.to_owned()).or_default().push(value);
            }
        }
    }
    if stack.len() > 1 {
        return Err(ZConfigError {
            message: "unclosed sections not allowed".into(),
            line: last,
            zconfig_syntax_error: true,
        });
    }
    config.top = stack.pop().unwrap_or_default();
    Ok(config)
}

fn render(section: &Section, imports: &[String], pre: &str) -> String {
    let mut result: Vec<String> = Vec::new();
    if !imports.is_empty() {
        result.extend(imports.iter().map(|i| format!("%import {i}")));
        result.push(String::new());
    }
    let mut pre = pre.to_owned();
    if !section.kind.is_empty() {
        if section.name.is_empty() {
            result.push(format!("{pre}<{}>", section.kind));
        } else {
            result.push(format!("{pre}<{} {}>", section.kind, section.name));
        }
        pre.push_str("  ");
    }
    for (key, values) in &section.values {
        for value in values {
            result.push(format!("{pre}{key} {value}"));
        }
    }
    if !section.sections.is_empty() && !section.values.is_empty() {
        result.push(String::new());
    }
    for s in &section.sections {
        result.push(render(s, &[], &pre));
    }
    if !section.kind.is_empty() {
        pre.truncate(pre.len() - 2);
        result.push(format!("{pre}</{}>", section.kind));
        result.push(String::new());
    }
    let mut text = result.join("\n").trim_end_matches(is_space).to_owned();
    if pre.is_empty() {
        text.push('\n');
    }
    text
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(&self.top, &self.imports, ""))
    }
}

impl Section {
    pub fn new(kind: &str) -> Section {
        Section { kind: kind.to_owned(), ..Section::default() }
    }

    /// `<eventlog>` with one `<logfile>` writing to `path`.
    pub fn event_log(path: &str) -> Section {
        let mut logfile = Section::new("logfile");
        logfile.values.insert("path".into(), vec![path.to_owned()]);
        Section { kind: "eventlog".into(), sections: vec![logfile], ..Section::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        parse(text).map(|c| c.to_string()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn serialises_like_zconfig_schemaless() {
        let cases: &[(&str, &str)] = &[
            (
                "<zeo>\n  address 8100\n  monitor-address 8101\n  transaction-timeout 300\n</zeo>\n%import foo\n<foo main>\n  path /databases/Data.fs\n</foo>\n",
                "%import foo\n\n<zeo>\n  address 8100\n  monitor-address 8101\n  transaction-timeout 300\n</zeo>\n\n<foo main>\n  path /databases/Data.fs\n</foo>\n",
            ),
            (
                "top-level-key tv\n<ZEO>\naddress 8100\nMonitor-Address 8101\nempty-key\n</zeo>\n<zlibstorage main>\n%import zc.zlibstorage\n<filestorage>\npath /a.fs\nblob-dir /blobs\n</filestorage>\n</zlibstorage>\n<mappingstorage m/>\n%import zc.zlibstorage\n",
                "%import zc.zlibstorage\n\ntop-level-key tv\n\n<zeo>\n  Monitor-Address 8101\n  address 8100\n  empty-key \n</zeo>\n\n<zlibstorage main>\n  <filestorage>\n    blob-dir /blobs\n    path /a.fs\n  </filestorage>\n</zlibstorage>\n\n<mappingstorage m>\n</mappingstorage>\n",
            ),
            (
                "<a>\nk 1\nk 2\n<b>\n</b>\n<c>\n</c>\n</a>\n",
                "<a>\n  k 1\n  k 2\n\n  <b>\n  </b>\n  <c>\n  </c>\n</a>\n",
            ),
            (
                "# comment\n<FileStorage Main>\npath $$HOME/x # not a comment\n</filestorage>\n",
                "<filestorage main>\n  path $HOME/x # not a comment\n</filestorage>\n",
            ),
            ("", "\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(&round(input), expected, "{input:?}");
        }
    }

    #[test]
    fn errors_carry_lines() {
        let cases: &[(&str, &str)] = &[
            ("<bad\n", "error: malformed section start (line 1)"),
            ("<a>\n</b>\n", "error: unbalanced section end (line 2)"),
            ("</a>\n", "error: unexpected section end (line 1)"),
            ("<a>\nx 1\n", "error: unclosed sections not allowed (line 2)"),
            ("<a b c>\n</a>\n", "error: malformed section header (line 1)"),
            (
                "%define x 1\n",
                "error: %define is not supported in schema-less configuration (write the value itself) (line 1)",
            ),
            ("%include other.conf\n", "error: %include is not supported in schema-less configuration (line 1)"),
            ("%frob x\n", "error: unknown directive: 'frob' (line 1)"),
            ("%import\n", "error: missing argument to %import directive (line 1)"),
            ("<a>\npath $DIR/x\n</a>\n", "error: no replacement for 'DIR' (line 2)"),
            ("<a>\npath x$\n</a>\n", "error: illegal lone '$' at end of source (line 2)"),
            (
                "<a>\npath $(BUILDOUT_NO_SUCH_VARIABLE)\n</a>\n",
                "error: no replacement for 'BUILDOUT_NO_SUCH_VARIABLE' (line 2)",
            ),
            ("(x) 1\n", "error: malformed configuration data (line 1)"),
        ];
        for (input, expected) in cases {
            assert_eq!(&round(input), expected, "{input:?}");
        }
    }

    /// Lines that are each valid somewhere, so that random mixes reach the nesting and substitution
    /// rules as well as the errors.
    fn line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop::sample::select(vec![
            "<zeo>",
            "</zeo>",
            "<FileStorage Main>",
            "</filestorage>",
            "<a/>",
            "<a b c>",
            "</b>",
            "<",
            ">",
            "</>",
            "address 8100",
            "path $$HOME/x",
            "path $(HOME)",
            "path ${HOME}",
            "x $",
            "x ${",
            "x $(",
            "%import foo",
            "%import",
            "%define X 1",
            "%include x.conf",
            "%frob",
            "# comment",
            "",
            "   ",
            "key",
            "k v # c",
            "\tindented value",
            "(x) 1",
            "k\u{e9} \u{fc}",
        ])
        .prop_map(str::to_owned)
    }

    /// A line, or a well-formed section around a few lines, so that most texts parse.
    fn block() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let inner = || proptest::collection::vec(line(), 0..5).prop_map(|ls| ls.join("\n"));
        prop_oneof![
            line(),
            (inner(), proptest::collection::vec(inner(), 0..3)).prop_map(|(head, nested)| {
                let nested: String = nested.iter().map(|n| format!("<Inner>\n{n}\n</inner>\n")).collect();
                format!("<outer Name>\n{head}\n{nested}</OUTER>")
            }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        /// Whatever parses re-emits to text that parses to the same emitted text (with `$` kept
        /// literal by doubling it, as ZConfig's output is read back by ZEO).
        #[test]
        fn emitted_text_is_stable(lines in proptest::collection::vec(block(), 0..12)) {
            if let Ok(config) = parse(&lines.join("\n")) {
                let once = config.to_string();
                let again = parse(&once.replace('$', "$$")).map(|c| c.to_string());
                proptest::prop_assert_eq!(again.ok(), Some(once));
            }
        }
    }
}
