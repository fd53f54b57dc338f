//! The template language: `{{name}}` is replaced by the value of `name`, `{{{{` is a literal
//! `{{`, and everything else is copied as is (a lone `}}` included). A placeholder does not span
//! lines; spaces inside the braces are ignored (`{{ name }}` is `{{name}}`). Values are inserted
//! verbatim, never rendered again.

use std::fmt;

/// Why a template could not be rendered, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based line of the template the placeholder starts on.
    pub line: usize,
    pub kind: TemplateErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// `{{name}}` names a value that does not exist.
    Missing(String),
    /// `{{` without `}}` later on the same line.
    Unclosed,
    /// `{{}}` or `{{ }}`.
    Empty,
    /// A name containing a brace, such as `{{{name}}}`.
    InvalidName(String),
}

impl fmt::Display for TemplateErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateErrorKind::Missing(name) => write!(f, "no value for {{{{{name}}}}}"),
            TemplateErrorKind::Unclosed => f.write_str("unclosed {{ (write {{{{ for a literal {{)"),
            TemplateErrorKind::Empty => f.write_str("empty {{}}"),
            TemplateErrorKind::InvalidName(name) => {
                write!(f, "invalid name {{{{{name}}}}} (write {{{{{{{{ for a literal {{{{)")
            }
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for TemplateError {}

/// Renders `template`, asking `lookup` for the value of each `{{name}}` (in order of
/// appearance, once per placeholder). Stops at the first error.
pub fn render<S: AsRef<str>>(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<S>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for (index, mut line) in template.split_inclusive('\n').enumerate() {
        let error = |kind| TemplateError { line: index + 1, kind };
        while let Some(start) = line.find("{{") {
            out.push_str(&line[..start]);
            let rest = &line[start..];
            if let Some(after) = rest.strip_prefix("{{{{") {
                out.push_str("{{");
                line = after;
                continue;
            }
            let inner = &rest[2..];
            let end = inner.find("}}").ok_or_else(|| error(TemplateErrorKind::Unclosed))?;
            let name = inner[..end].trim();
            if name.is_empty() {
                return Err(error(TemplateErrorKind::Empty));
            }
            if name.contains(['{', '}']) {
                return Err(error(TemplateErrorKind::InvalidName(name.to_owned())));
            }
            let value = lookup(name).ok_or_else(|| error(TemplateErrorKind::Missing(name.to_owned())))?;
            out.push_str(value.as_ref());
            line = &inner[end + 2..];
        }
        out.push_str(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use TemplateErrorKind::{Empty, InvalidName, Missing, Unclosed};

    fn values(name: &str) -> Option<&'static str> {
        match name {
            "name" => Some("world"),
            "port" => Some("8100"),
            "empty" => Some(""),
            "multi" => Some("a\nb"),
            "braces" => Some("{{name}}"),
            "dotted.name" => Some("dotted"),
            _ => None,
        }
    }

    #[test]
    fn renders() {
        let cases: &[(&str, &str, &str)] = &[
            ("no placeholders", "plain text\n", "plain text\n"),
            ("empty template", "", ""),
            ("one placeholder", "Hello, {{name}}!", "Hello, world!"),
            ("at start and end", "{{name}}:{{port}}", "world:8100"),
            ("spaces inside the braces", "{{ name }} {{\tport}}", "world 8100"),
            ("same name twice", "{{name}}{{name}}", "worldworld"),
            ("empty value", "[{{empty}}]", "[]"),
            ("multi-line value", "x={{multi}}\n", "x=a\nb\n"),
            ("value not rendered again", "{{braces}}", "{{name}}"),
            ("any option name", "{{dotted.name}}", "dotted"),
            ("several lines", "a {{name}}\nb {{port}}\n\nc\n", "a world\nb 8100\n\nc\n"),
            ("crlf kept", "{{name}}\r\n", "world\r\n"),
            ("escape", "{{{{name}}", "{{name}}"),
            ("escape then placeholder", "{{{{{{name}}", "{{world"),
            ("double escape", "{{{{{{{{", "{{{{"),
            ("odd braces", "{{{{{", "{{{"),
            ("lone closing braces", "}} and }}}}", "}} and }}}}"),
            ("single braces", "{ {name} }", "{ {name} }"),
            ("closing brace after placeholder", "{{name}}}", "world}"),
            ("unicode around", "é{{name}}ü", "éworldü"),
            ("shell variables untouched", "echo ${HOME} $1", "echo ${HOME} $1"),
        ];
        for (what, template, expected) in cases {
            assert_eq!(render(template, values).as_deref(), Ok(*expected), "{what}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str, usize, TemplateErrorKind)] = &[
            ("missing option", "Hello, {{nobody}}", 1, Missing("nobody".into())),
            ("missing option on a later line", "a\nb\n {{ nobody }}\n", 3, Missing("nobody".into())),
            ("first error wins", "{{x}}\n{{", 1, Missing("x".into())),
            ("unclosed", "a\n{{name", 2, Unclosed),
            ("closed only on the next line", "{{name\n}}", 1, Unclosed),
            ("empty", "{{}}", 1, Empty),
            ("blank", "x\n{{  }}", 2, Empty),
            ("triple braces", "{{{name}}}", 1, InvalidName("{name".into())),
            ("nested", "{{a{{b}}", 1, InvalidName("a{{b".into())),
        ];
        for (what, template, line, kind) in cases {
            let expected = TemplateError { line: *line, kind: kind.clone() };
            assert_eq!(render(template, values), Err(expected), "{what}");
        }
    }

    #[test]
    fn asks_for_each_placeholder_in_order() {
        let mut asked = Vec::new();
        let rendered = render("{{b}} {{a}} {{b}} {{{{c}}", |name: &str| {
            asked.push(name.to_owned());
            Some(name.to_uppercase())
        });
        assert_eq!(rendered.as_deref(), Ok("B A B {{c}}"));
        assert_eq!(asked, ["b", "a", "b"]);
    }

    #[test]
    fn error_messages() {
        let cases: &[(TemplateErrorKind, &str)] = &[
            (Missing("port".into()), "line 4: no value for {{port}}"),
            (Unclosed, "line 4: unclosed {{ (write {{{{ for a literal {{)"),
            (Empty, "line 4: empty {{}}"),
            (InvalidName("{x".into()), "line 4: invalid name {{{x}} (write {{{{ for a literal {{)"),
        ];
        for (kind, expected) in cases {
            assert_eq!(TemplateError { line: 4, kind: kind.clone() }.to_string(), *expected);
        }
    }
}
