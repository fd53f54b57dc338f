//! `.installed.cfg`: what the last runs installed, in zc.buildout's format (so a directory built
//! by the Python tool can be taken over, and the other way round), plus our crash journal.
//!
//! zc.buildout rewrites the whole file after every part, which is quadratic. We append one
//! record per finished step to `<installed>.journal` instead (linear), fold everything into
//! `.installed.cfg` atomically at the end of the run, and replay a journal left by a killed run
//! before doing anything else, so no finished part is ever forgotten.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::condition::Environment;
use crate::config::parser;

/// Options of one installed part, as saved (with `__buildout_installed__` and
/// `__buildout_signature__`).
pub type PartOptions = BTreeMap<String, String>;

pub const INSTALLED: &str = "__buildout_installed__";
pub const SIGNATURE: &str = "__buildout_signature__";

/// The recorded state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    /// Installed parts, in install order.
    pub parts: Vec<String>,
    /// `installed_develop_eggs`, newline-separated paths as zc.buildout writes them.
    pub develop_eggs: String,
    pub options: BTreeMap<String, PartOptions>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] parser::ParseError),
}

fn io(path: &Path, e: std::io::Error) -> InstalledError {
    InstalledError::Io { path: path.to_owned(), source: e }
}

const SPACES: [(&str, &str); 5] = [
    ("%(__buildout_space__)s", " "),
    ("%(__buildout_space_n__)s", "\n"),
    ("%(__buildout_space_r__)s", "\r"),
    ("%(__buildout_space_f__)s", "\u{c}"),
    ("%(__buildout_space_v__)s", "\u{b}"),
];

fn unquote(value: &str) -> String {
    if !value.contains("%(") {
        return value.to_owned();
    }
    SPACES.iter().fold(value.to_owned(), |v, (token, space)| v.replace(token, space))
}

fn quote_space(s: &str) -> String {
    s.replace(' ', "%(__buildout_space__)s")
        .replace('\r', "%(__buildout_space_r__)s")
        .replace('\u{c}', "%(__buildout_space_f__)s")
        .replace('\u{b}', "%(__buildout_space_v__)s")
        .replace('\n', "%(__buildout_space_n__)s")
}

fn is_spacey(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\u{c}' | '\u{b}')
}

/// zc.buildout's `_save_option` value encoding: every whitespace run holding a newline becomes
/// `<before>\n\t<after>` with both sides quoted; leading and trailing whitespace is quoted, and a
/// value starting or ending with the newline gets it quoted too.
pub fn encode_value(value: &str) -> String {
    let chars: Vec<(usize, char)> = value.char_indices().collect();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if !(is_spacey(c) || c == '\n') {
            out.push(c);
            i += 1;
            continue;
        }
        // A run of spaces/tabs/... possibly with newlines; zc.buildout's pattern takes spaces,
        // then a newline, then any whitespace including newlines.
        let mut j = i;
        while j < chars.len() && is_spacey(chars[j].1) {
            j += 1;
        }
        if j < chars.len() && chars[j].1 == '\n' {
            j += 1;
            while j < chars.len() && (is_spacey(chars[j].1) || chars[j].1 == '\n') {
                j += 1;
            }
            let end = chars.get(j).map_or(value.len(), |(p, _)| *p);
            let run = &value[start..end];
            let (before, after) = run.split_once('\n').unwrap_or((run, ""));
            out.push_str(&quote_space(before));
            out.push_str("\n\t");
            out.push_str(&quote_space(after));
        } else {
            let end = chars.get(j).map_or(value.len(), |(p, _)| *p);
            let run = &value[start..end];
            if start == 0 || end == value.len() {
                out.push_str(&quote_space(run));
            } else {
                out.push_str(run);
            }
        }
        i = j;
    }
    if let Some(rest) = out.strip_prefix("\n\t") {
        out = format!("%(__buildout_space_n__)s{rest}");
    }
    if let Some(rest) = out.strip_suffix("\n\t") {
        out = format!("{rest}%(__buildout_space_n__)s");
    }
    out
}

fn write_section(out: &mut String, name: &str, options: &BTreeMap<String, String>) {
    out.push_str(&format!("[{name}]\n"));
    for (k, v) in options {
        out.push_str(&format!("{k} = {}\n", encode_value(v)));
    }
}

impl Installed {
    fn from_sections(mut sections: parser::RawConfig) -> Installed {
        for options in sections.values_mut() {
            for v in options.values_mut() {
                *v = unquote(v);
            }
        }
        let buildout = sections.remove("buildout").unwrap_or_default();
        let parts: Vec<String> =
            buildout.get("parts").map(|p| p.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        let options = parts.iter().filter_map(|p| sections.remove(p).map(|o| (p.clone(), o))).collect();
        Installed { parts, develop_eggs: buildout.get("installed_develop_eggs").cloned().unwrap_or_default(), options }
    }

    /// Parses the text of an `.installed.cfg`.
    pub fn parse(text: &str, file: &str, env: &Environment) -> Result<Installed, InstalledError> {
        Ok(Installed::from_sections(parser::parse(text, file, env)?))
    }

    /// Reads `.installed.cfg` (`None` if there is none), then replays a journal a killed run
    /// left behind.
    pub fn read(path: &Path, env: &Environment) -> Result<Option<Installed>, InstalledError> {
        let mut state = match std::fs::read_to_string(path) {
            Ok(text) => Some(Installed::from_sections(parser::parse(&text, &path.display().to_string(), env)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(path, e)),
        };
        let journal = journal_path(path);
        match std::fs::read_to_string(&journal) {
            Ok(text) => {
                let installed = state.get_or_insert_with(Installed::default);
                for record in complete_records(&text) {
                    // Only complete records are read; the one a kill tore never happened.
                    if let Ok(mut sections) = parser::parse(record, &journal.display().to_string(), env) {
                        let step = sections.remove(JOURNAL).unwrap_or_default();
                        let part = step.get("part").map(String::as_str).unwrap_or("");
                        match step.get("step").map(String::as_str) {
                            Some("installed") => {
                                let mut options = sections.remove(part).unwrap_or_default();
                                options.values_mut().for_each(|v| *v = unquote(v));
                                installed.apply(Step::Installed { part, options: &options });
                            }
                            Some("uninstalled") => installed.apply(Step::Uninstalled { part }),
                            Some("develop") => {
                                let eggs = unquote(step.get("eggs").map(String::as_str).unwrap_or(""));
                                installed.apply(Step::Develop { eggs: &eggs });
                            }
                            _ => {}
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&journal, e)),
        }
        Ok(state)
    }

    fn apply(&mut self, step: Step<'_>) {
        match step {
            Step::Installed { part, options } => {
                self.parts.retain(|p| p != part);
                self.parts.push(part.to_owned());
                self.options.insert(part.to_owned(), options.clone());
            }
            Step::Uninstalled { part } => {
                self.parts.retain(|p| p != part);
                self.options.remove(part);
            }
            Step::Develop { eggs } => self.develop_eggs = eggs.to_owned(),
        }
    }

    /// The file's text, as zc.buildout writes it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let buildout: BTreeMap<String, String> = [
            ("installed_develop_eggs".to_owned(), self.develop_eggs.clone()),
            ("parts".to_owned(), self.parts.join(" ")),
        ]
        .into_iter()
        .collect();
        write_section(&mut out, "buildout", &buildout);
        for part in &self.parts {
            if let Some(options) = self.options.get(part) {
                out.push('\n');
                write_section(&mut out, part, options);
            }
        }
        out
    }

    /// Writes `.installed.cfg` atomically and drops the journal it now contains.
    pub fn save(&self, path: &Path) -> Result<(), InstalledError> {
        write_atomic(path, self.render().as_bytes())?;
        remove_journal(path)
    }
}

fn journal_path(installed: &Path) -> PathBuf {
    let mut name = installed.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".journal");
    installed.with_file_name(name)
}

const RECORD_END: &str = "#end of record\n";

/// The records of a journal that were written completely.
fn complete_records(text: &str) -> impl Iterator<Item = &str> {
    let complete = text.rfind(RECORD_END).map_or("", |i| &text[..i + RECORD_END.len()]);
    complete.split_inclusive(RECORD_END).filter(|r| !r.trim().is_empty())
}

/// The journal's own section in each record.
const JOURNAL: &str = "__buildout_journal__";

/// One finished step, as the journal records it: records are small (one part each), so
/// journaling a whole run is linear in its size.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A part installed or updated with new options: it moves to the end of the parts.
    Installed {
        part: &'a str,
        options: &'a PartOptions,
    },
    Uninstalled {
        part: &'a str,
    },
    Develop {
        eggs: &'a str,
    },
}

/// Appends one finished step to the journal.
pub fn journal(path: &Path, step: Step<'_>) -> Result<(), InstalledError> {
    let journal = journal_path(path);
    let mut record = String::new();
    let (kind, part, eggs) = match step {
        Step::Installed { part, .. } => ("installed", part, ""),
        Step::Uninstalled { part } => ("uninstalled", part, ""),
        Step::Develop { eggs } => ("develop", "", eggs),
    };
    let header: BTreeMap<String, String> = [
        ("step".to_owned(), kind.to_owned()),
        ("part".to_owned(), part.to_owned()),
        ("eggs".to_owned(), eggs.to_owned()),
    ]
    .into_iter()
    .collect();
    write_section(&mut record, JOURNAL, &header);
    if let Step::Installed { part, options } = step {
        write_section(&mut record, part, options);
    }
    record.push_str(RECORD_END);
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&journal).map_err(|e| io(&journal, e))?;
    file.write_all(record.as_bytes()).map_err(|e| io(&journal, e))
}

pub fn remove_journal(path: &Path) -> Result<(), InstalledError> {
    let journal = journal_path(path);
    match std::fs::remove_file(&journal) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&journal, e)),
        _ => Ok(()),
    }
}

/// Writes a file through a temporary file in the same directory and a rename, so a reader (or
/// a crash) sees the old content or the new one, never a mixture.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), InstalledError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(path, e))?;
    // tempfile makes files private; keep the mode the file had, or the usual one.
    let permissions = std::fs::metadata(path).map(|m| m.permissions()).unwrap_or_else(|_| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o644)
    });
    std::fs::set_permissions(tmp.path(), permissions).map_err(|e| io(path, e))?;
    tmp.write_all(content).map_err(|e| io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io(path, e))?;
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_like_zc_buildout() {
        let cases = [
            ("simple", "simple"),
            ("", ""),
            ("line1\nline2", "line1\n\tline2"),
            ("line1\n\nline2", "line1\n\t%(__buildout_space_n__)sline2"),
            ("\nfoo", "%(__buildout_space_n__)sfoo"),
            ("foo\n", "foo%(__buildout_space_n__)s"),
            (" lead", "%(__buildout_space__)slead"),
            ("trail ", "trail%(__buildout_space__)s"),
            ("a  b", "a  b"),
            ("a \n  b", "a%(__buildout_space__)s\n\t%(__buildout_space__)s%(__buildout_space__)sb"),
            (
                "<zeo>\n  address 8100\n</zeo>",
                "<zeo>\n\t%(__buildout_space__)s%(__buildout_space__)saddress 8100\n\t</zeo>",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(encode_value(value), expected, "{value:?}");
        }
    }

    #[test]
    fn round_trip_through_the_parser() {
        let env = Environment::current();
        let mut state =
            Installed { parts: vec!["a".into(), "b".into()], develop_eggs: String::new(), options: BTreeMap::new() };
        for (part, value) in [("a", "x\n\n  y \nz"), ("b", " spaced ")] {
            let options: PartOptions =
                [("v".to_owned(), value.to_owned()), (INSTALLED.to_owned(), "/p/1\n/p/2".to_owned())]
                    .into_iter()
                    .collect();
            state.options.insert(part.into(), options);
        }
        let text = state.render();
        let parsed = Installed::from_sections(parser::parse(&text, "installed", env).expect("parses"));
        assert_eq!(parsed, state, "{text}");
    }

    #[test]
    fn journal_replays_complete_records_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(".installed.cfg");
        let env = Environment::current();
        let options: PartOptions =
            [("recipe".to_owned(), "r".to_owned()), ("v".to_owned(), " x\ny ".to_owned())].into_iter().collect();
        for part in ["a", "b", "gone"] {
            journal(&path, Step::Installed { part, options: &options }).expect("journal");
        }
        journal(&path, Step::Uninstalled { part: "gone" }).expect("journal");
        journal(&path, Step::Develop { eggs: "/x/lib.so\n/y/lib.so" }).expect("journal");
        // A torn record, as a kill in the middle of a write leaves it.
        let journal_file = journal_path(&path);
        let mut f = std::fs::OpenOptions::new().append(true).open(&journal_file).expect("open");
        f.write_all(b"[__buildout_journal__]\nstep = installed\npart = c\n[c]\nrec").expect("write");
        let read = Installed::read(&path, env).expect("reads").expect("state");
        assert_eq!(read.parts, ["a", "b"]);
        assert_eq!(read.options["a"], options);
        assert_eq!(read.options.len(), 2);
        assert_eq!(read.develop_eggs, "/x/lib.so\n/y/lib.so");
        read.save(&path).expect("saves");
        assert!(!journal_file.exists());
        assert_eq!(Installed::read(&path, env).expect("reads").expect("state"), read);
    }
}
