//! `hello.recipes`: a buildout recipe library with one recipe, `template` (also the default
//! entry), which renders a file from a template and the part's options, in the spirit of
//! `collective.recipe.template`.
//!
//! ```text
//! [hello]
//! recipe = hello.recipes
//! input = templates/hello.conf.in     # or: inline = the template text
//! output = etc/hello.conf
//! mode = 644                          # optional, octal
//! port = 8080                         # used by the template as {{port}}
//! ```
//!
//! It is also the worked example of writing a recipe library: see the README next to this
//! crate's `Cargo.toml`.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use buildout_core::sdk::{Context, Options, Recipe, RecipeError};

mod template;

pub use template::{TemplateError, TemplateErrorKind, render};

/// The distribution name parts name the recipe by (`recipe = hello.recipes:template`).
pub const DISTRIBUTION: &str = "hello.recipes";

/// `hello.recipes:template`: renders `input` (a file) or `inline` (the option's own text) to
/// `output`, replacing `{{name}}` with the part's option `name`.
///
/// Everything is checked and rendered when the part is constructed, so a broken template stops
/// buildout before any part is installed, and the options the template uses count as used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Absolute path of the file to write.
    output: PathBuf,
    /// The rendered text.
    content: String,
    /// Permission bits to give the file, if `mode` is set.
    mode: Option<u32>,
}

/// Where the template text came from, for error messages.
enum Source {
    Input(PathBuf),
    Inline,
}

impl Template {
    /// The constructor's work, given the buildout directory (`${buildout:directory}`) that
    /// relative `input` and `output` paths start from. Sets `output` to the absolute path.
    pub fn configure(options: &mut Options, directory: &Path) -> Result<Template, RecipeError> {
        let part = options.part().to_owned();
        let (source, text) = match (options.get("input"), options.get("inline")) {
            (Some(_), Some(_)) => {
                return Err(RecipeError::user(format!("Conflicting options: {part}:input and {part}:inline (use one)")));
            }
            (None, None) => return Err(RecipeError::user(format!("Missing option: {part}:input or {part}:inline"))),
            (Some(input), None) => {
                let input = non_empty(&part, "input", input)?;
                let path = absolute(directory, input);
                let text = fs::read_to_string(&path)
                    .map_err(|e| RecipeError::user(format!("Couldn't read {part}:input {}: {}", path.display(), describe(&e))))?;
                (Source::Input(path), text)
            }
            (None, Some(inline)) => (Source::Inline, inline_text(inline)),
        };

        let output = absolute(directory, non_empty(&part, "output", options.require("output")?)?);
        if output.file_name().is_none() {
            return Err(RecipeError::user(format!("Invalid value for {part}:output: {} is not a file path", output.display())));
        }
        if matches!(&source, Source::Input(input) if *input == output) {
            return Err(RecipeError::user(format!(
                "Invalid value for {part}:output: {} is the template itself ({part}:input)",
                output.display()
            )));
        }
        // What `${part:output}` and `{{output}}` see from here on.
        options.set("output", output.display().to_string());

        let mode = match options.get("mode") {
            None => None,
            Some(mode) => Some(parse_mode(mode).ok_or_else(|| {
                RecipeError::user(format!("Invalid value for {part}:mode: {mode} (expected octal permissions, such as 755)"))
            })?),
        };

        let content = render(&text, |name: &str| options.get(name)).map_err(|e| template_error(&part, &source, e))?;
        Ok(Template { output, content, mode })
    }

    /// Whether the output already has the rendered content (and mode, if one is set).
    fn is_current(&self) -> bool {
        let content_ok = fs::read(&self.output).is_ok_and(|bytes| bytes == self.content.as_bytes());
        content_ok && self.mode.is_none_or(|mode| current_mode(&self.output) == Some(mode))
    }

    fn create_parent(&self, part: &str) -> Result<(), RecipeError> {
        let Some(dir) = self.output.parent() else { return Ok(()) };
        fs::create_dir_all(dir).map_err(|e| {
            RecipeError::user(format!("Couldn't create the directory of {part}:output {}: {}", dir.display(), describe(&e)))
        })
    }

    fn write(&self, ctx: &Context<'_>) -> Result<(), RecipeError> {
        write_file(&self.output, &self.content, self.mode).map_err(|e| {
            RecipeError::user(format!("Couldn't write {}:output {}: {}", ctx.part(), self.output.display(), describe(&e)))
        })?;
        ctx.info(&format!("Rendered {}", self.output.display()));
        Ok(())
    }
}

impl Recipe for Template {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let directory = ctx.buildout_option("directory")?;
        Template::configure(options, Path::new(&directory))
    }

    fn install(&mut self, ctx: &Context<'_>, _options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        // The directories are left alone on uninstall: other parts may write there too.
        self.create_parent(ctx.part())?;
        ctx.created(&[&self.output])?;
        self.write(ctx)?;
        Ok(vec![self.output.clone()])
    }

    /// Runs when the part's options did not change, but the template file or the output may
    /// have: rewrites the output only if it differs from the rendering.
    fn update(&mut self, ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if self.is_current() {
            return Ok(None);
        }
        let existed = fs::symlink_metadata(&self.output).is_ok();
        self.create_parent(ctx.part())?;
        if !existed {
            // Only a file this call creates: an existing one is replaced atomically or kept.
            ctx.created(&[&self.output])?;
        }
        self.write(ctx)?;
        Ok(Some(vec![self.output.clone()]))
    }
}

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: { "default" => Template, "template" => Template },
}

fn template_error(part: &str, source: &Source, e: TemplateError) -> RecipeError {
    let at = match source {
        Source::Input(path) => format!("{} line {}", path.display(), e.line),
        Source::Inline => format!("{part}:inline line {}", e.line),
    };
    match e.kind {
        TemplateErrorKind::Missing(name) => {
            RecipeError::user(format!("Missing option: {part}:{name} (used by the template at {at})"))
        }
        other => RecipeError::user(format!("Invalid template for part {part} at {at}: {other}")),
    }
}

fn non_empty<'a>(part: &str, option: &str, value: &'a str) -> Result<&'a str, RecipeError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(RecipeError::user(format!("Invalid value for {part}:{option}: it is empty")));
    }
    Ok(value)
}

/// `inline` as a file: buildout keeps a multi-line value's leading newline and strips the
/// trailing one, so drop leading blank lines and end the text with a newline.
fn inline_text(inline: &str) -> String {
    let start = inline.len() - inline.trim_start().len();
    let start = inline[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut text = inline[start..].to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `755`, `0755`, `0o755`: permission bits, at most `7777`.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|mode| *mode <= 0o7777)
}

/// `path` made absolute against `directory` and cleaned lexically (`.` and `..`), as
/// `os.path.abspath` would.
fn absolute(directory: &Path, path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for component in directory.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    out
}

/// An I/O error without Rust's ` (os error N)` suffix.
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    }
}

/// Writes `content` to `path` through a temporary file renamed into place, so that readers
/// never see half a file and a read-only output can be replaced. Sets `mode` if given, keeps
/// the existing file's permissions otherwise.
fn write_file(path: &Path, content: &str, mode: Option<u32>) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".buildout-tmp");
    let tmp = path.with_file_name(tmp_name);
    let permissions = match mode {
        Some(mode) => permissions(mode),
        None => fs::metadata(path).ok().map(|m| m.permissions()),
    };
    let result = fs::write(&tmp, content)
        .and_then(|()| permissions.map_or(Ok(()), |p| fs::set_permissions(&tmp, p)))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn permissions(mode: u32) -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn permissions(_mode: u32) -> Option<fs::Permissions> {
    None
}

#[cfg(unix)]
fn current_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn current_mode(path: &Path) -> Option<u32> {
    let _ = path;
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A fresh directory under the system temporary directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("hello-recipes-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create scratch directory");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Options of a test part, as `(name, value)` pairs.
    type Pairs<'a> = [(&'a str, &'a str)];

    fn options(pairs: &Pairs<'_>) -> Options {
        let values: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Options::new("hello", values)
    }

    #[test]
    fn configures() {
        let scratch = Scratch::new("configure");
        let dir = &scratch.0;
        fs::create_dir_all(dir.join("templates")).expect("mkdir");
        fs::write(dir.join("templates/hello.in"), "port={{port}}\nout={{output}}\n").expect("write template");
        let out = dir.join("etc/hello.conf").display().to_string();

        // (what, options, output option after construction, rendered content, mode)
        let cases: &[(&str, &Pairs<'_>, &str, &str, Option<u32>)] = &[
            (
                "input file, relative paths",
                &[("input", "templates/hello.in"), ("output", "etc/hello.conf"), ("port", "8080")],
                &out,
                &format!("port=8080\nout={out}\n"),
                None,
            ),
            (
                "absolute input, dotted output",
                &[("input", &dir.join("templates/hello.in").display().to_string()), ("output", "./x/../etc/hello.conf"), ("port", "1")],
                &out,
                &format!("port=1\nout={out}\n"),
                None,
            ),
            ("inline, one line", &[("inline", "Hello, {{who}}"), ("output", "etc/hello.conf"), ("who", "you")], &out, "Hello, you\n", None),
            (
                "inline, multi-line value",
                &[("inline", "\n#!/bin/sh\n  echo {{who}}"), ("output", "etc/hello.conf"), ("who", "you"), ("mode", "755")],
                &out,
                "#!/bin/sh\n  echo you\n",
                Some(0o755),
            ),
            ("inline, empty", &[("inline", ""), ("output", "etc/hello.conf")], &out, "", None),
            ("inline, escape", &[("inline", "{{{{x}}"), ("output", "etc/hello.conf"), ("mode", "0o600")], &out, "{{x}}\n", Some(0o600)),
        ];
        for (what, pairs, output, content, mode) in cases {
            let mut opts = options(pairs);
            let template = Template::configure(&mut opts, dir).unwrap_or_else(|e| panic!("{what}: {e}"));
            let expected = Template { output: PathBuf::from(output), content: (*content).to_owned(), mode: *mode };
            assert_eq!(template, expected, "{what}");
            assert_eq!(opts.get("output"), Some(*output), "{what}: output option");
        }
    }

    #[test]
    fn configuration_errors() {
        let scratch = Scratch::new("errors");
        let dir = &scratch.0;
        fs::write(dir.join("hello.in"), "a\n{{nobody}}\n").expect("write template");
        fs::write(dir.join("broken.in"), "{{x").expect("write template");
        let at = |file: &str| dir.join(file).display().to_string();

        // (what, options, error message)
        let cases: Vec<(&str, &Pairs<'_>, String)> = vec![
            ("neither", &[("output", "x")], "Missing option: hello:input or hello:inline".into()),
            (
                "both",
                &[("input", "hello.in"), ("inline", "x"), ("output", "x")],
                "Conflicting options: hello:input and hello:inline (use one)".into(),
            ),
            ("no output", &[("inline", "x")], "Missing option: hello:output".into()),
            ("empty output", &[("inline", "x"), ("output", " ")], "Invalid value for hello:output: it is empty".into()),
            ("empty input", &[("input", ""), ("output", "x")], "Invalid value for hello:input: it is empty".into()),
            (
                "unreadable input",
                &[("input", "nope.in"), ("output", "x")],
                format!("Couldn't read hello:input {}: No such file or directory", at("nope.in")),
            ),
            (
                "output is the template",
                &[("input", "hello.in"), ("output", "./hello.in")],
                format!("Invalid value for hello:output: {} is the template itself (hello:input)", at("hello.in")),
            ),
            (
                "output is not a file",
                &[("inline", "x"), ("output", "/")],
                "Invalid value for hello:output: / is not a file path".into(),
            ),
            (
                "bad mode",
                &[("inline", "x"), ("output", "x"), ("mode", "rwx")],
                "Invalid value for hello:mode: rwx (expected octal permissions, such as 755)".into(),
            ),
            (
                "missing option in input",
                &[("input", "hello.in"), ("output", "x")],
                format!("Missing option: hello:nobody (used by the template at {} line 2)", at("hello.in")),
            ),
            (
                "missing option inline",
                &[("inline", "\nok\n{{ nobody }}"), ("output", "x")],
                "Missing option: hello:nobody (used by the template at hello:inline line 2)".into(),
            ),
            (
                "syntax error in input",
                &[("input", "broken.in"), ("output", "x")],
                format!("Invalid template for part hello at {} line 1: unclosed {{{{ (write {{{{{{{{ for a literal {{{{)", at("broken.in")),
            ),
            (
                "syntax error inline",
                &[("inline", "{{}}"), ("output", "x")],
                "Invalid template for part hello at hello:inline line 1: empty {{}}".into(),
            ),
        ];
        for (what, pairs, expected) in cases {
            let error = Template::configure(&mut options(pairs), dir).expect_err(what);
            assert_eq!(error, RecipeError::user(expected), "{what}");
        }
    }

    #[test]
    fn parses_modes() {
        let cases: &[(&str, Option<u32>)] = &[
            ("755", Some(0o755)),
            ("0755", Some(0o755)),
            ("0o644", Some(0o644)),
            (" 600 ", Some(0o600)),
            ("4755", Some(0o4755)),
            ("7777", Some(0o7777)),
            ("0", Some(0)),
            ("17777", None),
            ("8", None),
            ("75a", None),
            ("-755", None),
            ("+755", None),
            ("", None),
            ("0o", None),
            ("u+x", None),
            ("99999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_mode(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn makes_paths_absolute() {
        let cases: &[(&str, &str, &str)] = &[
            ("/srv/b", "etc/x.conf", "/srv/b/etc/x.conf"),
            ("/srv/b", "/etc/x.conf", "/etc/x.conf"),
            ("/srv/b", "./etc/../x.conf", "/srv/b/x.conf"),
            ("/srv/b", "../x.conf", "/srv/x.conf"),
            ("/srv/b", "../../../x", "/x"),
        ];
        for (dir, path, expected) in cases {
            assert_eq!(absolute(Path::new(dir), path), PathBuf::from(expected), "{path}");
        }
    }

    #[test]
    fn inline_text_is_a_file() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("x", "x\n"),
            ("x\n", "x\n"),
            ("\nx\ny", "x\ny\n"),
            ("\n  \n  indented\nx", "  indented\nx\n"),
        ];
        for (inline, expected) in cases {
            assert_eq!(inline_text(inline), *expected, "{inline:?}");
        }
    }

    #[test]
    fn describes_io_errors() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(describe(&e), "No such file or directory");
        assert_eq!(describe(&io::Error::other("plain")), "plain");
    }

    #[cfg(unix)]
    #[test]
    fn writes_files() {
        let scratch = Scratch::new("write");
        let path = scratch.0.join("out.txt");

        write_file(&path, "one\n", Some(0o640)).expect("first write");
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("one\n"));
        assert_eq!(current_mode(&path), Some(0o640));

        // Without a mode the file keeps its permissions, even read-only ones.
        fs::set_permissions(&path, permissions(0o444).expect("unix")).expect("chmod");
        write_file(&path, "two\n", None).expect("rewrite read-only");
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("two\n"));
        assert_eq!(current_mode(&path), Some(0o444));

        write_file(&path, "three\n", Some(0o755)).expect("rewrite with mode");
        assert_eq!(current_mode(&path), Some(0o755));

        // No temporary file left behind, also after a failure.
        let dir_as_output = scratch.0.join("sub");
        fs::create_dir(&dir_as_output).expect("mkdir");
        assert!(write_file(&dir_as_output, "x", None).is_err());
        let mut names: Vec<_> = fs::read_dir(&scratch.0).expect("readdir").map(|e| e.expect("entry").file_name()).collect();
        names.sort();
        assert_eq!(names, ["out.txt", "sub"]);
    }

    #[cfg(unix)]
    #[test]
    fn knows_when_current() {
        let scratch = Scratch::new("current");
        let output = scratch.0.join("out.txt");
        let template = Template { output: output.clone(), content: "x\n".into(), mode: Some(0o600) };
        assert!(!template.is_current(), "missing file");
        write_file(&output, "x\n", Some(0o600)).expect("write");
        assert!(template.is_current());
        fs::set_permissions(&output, permissions(0o644).expect("unix")).expect("chmod");
        assert!(!template.is_current(), "mode changed");
        write_file(&output, "y\n", Some(0o600)).expect("write");
        assert!(!template.is_current(), "content changed");
        let no_mode = Template { mode: None, ..template };
        write_file(&output, "x\n", Some(0o644)).expect("write");
        assert!(no_mode.is_current(), "mode not managed");
    }
}
