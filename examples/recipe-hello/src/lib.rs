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
use std::path::{Component, Path, PathBuf};

use buildout_core::sdk::{Context, Options, Recipe, RecipeError, write_if_changed};

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
                return Err(RecipeError::user(format!(
                    "Conflicting options: {part}:input and {part}:inline (use one)"
                )));
            }
            (None, None) => return Err(RecipeError::user(format!("Missing option: {part}:input or {part}:inline"))),
            (Some(input), None) => {
                let input = non_empty(&part, "input", input)?;
                let path = absolute(directory, input);
                let text = fs::read_to_string(&path)
                    .map_err(|e| RecipeError::io(&format!("Couldn't read {part}:input"), &path, &e))?;
                (Source::Input(path), text)
            }
            (None, Some(inline)) => (Source::Inline, inline_text(inline)),
        };

        let output = absolute(directory, non_empty(&part, "output", options.require("output")?)?);
        if output.file_name().is_none() {
            return Err(RecipeError::user(format!(
                "Invalid value for {part}:output: {} is not a file path",
                output.display()
            )));
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
                RecipeError::user(format!(
                    "Invalid value for {part}:mode: {mode} (expected octal permissions, such as 755)"
                ))
            })?),
        };

        let content = render(&text, |name: &str| options.get(name)).map_err(|e| template_error(&part, &source, e))?;
        Ok(Template { output, content, mode })
    }

    fn create_parent(&self, part: &str) -> Result<(), RecipeError> {
        let Some(dir) = self.output.parent() else { return Ok(()) };
        fs::create_dir_all(dir)
            .map_err(|e| RecipeError::io(&format!("Couldn't create the directory of {part}:output"), dir, &e))
    }

    /// Writes the rendering if the output differs from it (content, or permissions when `mode`
    /// is set); answers whether it wrote.
    fn write(&self, ctx: &Context<'_>) -> Result<bool, RecipeError> {
        let written = write_if_changed(&self.output, self.content.as_bytes(), self.mode)?;
        if written {
            ctx.info(&format!("Rendered {}", self.output.display()));
        }
        Ok(written)
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
        if !self.write(ctx)? {
            // Already there as rendered (left by an earlier install): say so all the same.
            ctx.info(&format!("Rendered {}", self.output.display()));
        }
        Ok(vec![self.output.clone()])
    }

    /// Runs when the part's options did not change, but the template file or the output may
    /// have: rewrites the output only if it differs from the rendering.
    fn update(&mut self, ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        let existed = fs::symlink_metadata(&self.output).is_ok();
        self.create_parent(ctx.part())?;
        if !existed {
            // Only a file this call creates: an existing one is replaced atomically or kept.
            ctx.created(&[&self.output])?;
        }
        Ok(self.write(ctx)?.then(|| vec![self.output.clone()]))
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
                &[
                    ("input", &dir.join("templates/hello.in").display().to_string()),
                    ("output", "./x/../etc/hello.conf"),
                    ("port", "1"),
                ],
                &out,
                &format!("port=1\nout={out}\n"),
                None,
            ),
            (
                "inline, one line",
                &[("inline", "Hello, {{who}}"), ("output", "etc/hello.conf"), ("who", "you")],
                &out,
                "Hello, you\n",
                None,
            ),
            (
                "inline, multi-line value",
                &[
                    ("inline", "\n#!/bin/sh\n  echo {{who}}"),
                    ("output", "etc/hello.conf"),
                    ("who", "you"),
                    ("mode", "755"),
                ],
                &out,
                "#!/bin/sh\n  echo you\n",
                Some(0o755),
            ),
            ("inline, empty", &[("inline", ""), ("output", "etc/hello.conf")], &out, "", None),
            (
                "inline, escape",
                &[("inline", "{{{{x}}"), ("output", "etc/hello.conf"), ("mode", "0o600")],
                &out,
                "{{x}}\n",
                Some(0o600),
            ),
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
                format!(
                    "Invalid template for part hello at {} line 1: unclosed {{{{ (write {{{{{{{{ for a literal {{{{)",
                    at("broken.in")
                ),
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
        let cases: &[(&str, &str)] =
            &[("", ""), ("x", "x\n"), ("x\n", "x\n"), ("\nx\ny", "x\ny\n"), ("\n  \n  indented\nx", "  indented\nx\n")];
        for (inline, expected) in cases {
            assert_eq!(inline_text(inline), *expected, "{inline:?}");
        }
    }

    /// install, then update through the SDK's test host, as buildout runs them: update rewrites
    /// the output only when it differs from the rendering (content, or mode when one is set).
    #[cfg(unix)]
    #[test]
    fn installs_and_updates_only_what_changed() {
        use buildout_core::sdk::testing::TestHost;
        use std::os::unix::fs::PermissionsExt;

        let scratch = Scratch::new("update");
        let mut host = TestHost::default();
        host.buildout.insert("directory".into(), scratch.0.display().to_string());
        let output = scratch.0.join("etc/out.conf");
        let rendered = format!("Rendered {}", output.display());
        let mode = || fs::metadata(&output).map(|m| m.permissions().mode() & 0o7777).ok();

        let (mut recipe, options) = host
            .construct::<Template>(
                "hello",
                &[("inline", "port={{port}}"), ("output", "etc/out.conf"), ("port", "80"), ("mode", "640")],
            )
            .expect("constructs");
        assert_eq!(host.install(&mut recipe, &options).expect("installs"), std::slice::from_ref(&output));
        assert_eq!((fs::read_to_string(&output).ok().as_deref(), mode()), (Some("port=80\n"), Some(0o640)));
        assert_eq!(*host.created.borrow(), [output.display().to_string()]);

        // (what is done to the output first, update's answer, log lines afterwards)
        type Step<'a> = (&'a str, &'a dyn Fn(), Option<Vec<PathBuf>>, usize);
        let steps: [Step<'_>; 3] = [
            ("unchanged", &|| {}, None, 1),
            ("edited", &|| fs::write(&output, "port=1\n").expect("edit"), Some(vec![output.clone()]), 2),
            (
                "chmod",
                &|| fs::set_permissions(&output, fs::Permissions::from_mode(0o600)).expect("chmod"),
                Some(vec![output.clone()]),
                3,
            ),
        ];
        for (what, change, answer, logged) in steps {
            change();
            assert_eq!(host.update(&mut recipe, &options).expect("updates"), answer, "{what}");
            assert_eq!(
                (fs::read_to_string(&output).ok().as_deref(), mode()),
                (Some("port=80\n"), Some(0o640)),
                "{what}"
            );
            assert_eq!(host.logs.borrow().len(), logged, "{what}");
            assert!(host.logs.borrow().iter().all(|l| *l == format!("hello: {rendered}")), "{what}");
        }
    }
}
