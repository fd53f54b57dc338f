//! Section evaluation: macro expansion (`<`), `${section:option}` substitution with cycle
//! detection, and the lazy, memoised section model zc.buildout's `Options` implements.
//!
//! A section is evaluated on first access; each option's value is substituted once and cached,
//! so evaluating a whole configuration is linear in its size. Errors carry zc.buildout's
//! `While:` trail, built as they travel outwards through the same steps Python's frames have.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use super::annotated::{
    Annotated, COMMAND_LINE_VALUE, COMPUTED_VALUE, DEFAULT_VALUE, IMPLICIT_VALUE, Op, Source, unannotate_section,
    update_section,
};
use super::error::{Doing, Error, ErrorKind, Result};
use super::load::annotate_plain;
use super::parser::RawSection;
use super::pytext::split_ws;

/// How deep references may nest. Far beyond any real configuration (zc.buildout itself stops
/// near 250 because of Python's recursion limit), and low enough to keep the stack bounded.
const MAX_DEPTH: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initializing,
    Done,
}

/// One section being evaluated: zc.buildout's `Options`.
#[derive(Debug, Clone)]
struct Options {
    /// The section's options after macro expansion.
    raw: RawSection,
    /// Values substituted during initialisation.
    cooked: HashMap<String, String>,
    /// Values read or set; these win over everything else.
    data: BTreeMap<String, String>,
    /// Options read through the mapping (zc.buildout warns about configured ones never read).
    used: HashSet<String>,
    state: State,
}

/// What happens when a section with a `recipe` finishes its substitutions: the engine loads and
/// constructs the recipe there, so that options the constructor sets are what later readers see.
pub trait RecipeHook {
    fn construct(&self, sections: &mut Sections, part: &str) -> Result<()>;
}

#[derive(Clone, Default)]
struct Hook(Option<Rc<dyn RecipeHook>>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Hook(set)" } else { "Hook(none)" })
    }
}

/// The evaluated configuration: zc.buildout's `Buildout` mapping of sections.
#[derive(Debug, Clone)]
pub struct Sections {
    raw: BTreeMap<String, RawSection>,
    evaluated: HashMap<String, Options>,
    /// Sections with a recipe, in the order their initialisation finished: the install order.
    parts: Vec<String>,
    depth: usize,
    hook: Hook,
    /// The merged configuration with each option's history: where a value was set.
    history: Option<Rc<Annotated>>,
}

type Seen = Vec<(String, String)>;

impl Sections {
    pub fn new(raw: BTreeMap<String, RawSection>) -> Sections {
        Sections { raw, evaluated: HashMap::new(), parts: Vec::new(), depth: 0, hook: Hook::default(), history: None }
    }

    /// Keeps the merged configuration's history, for [`Sections::origin`].
    pub fn set_history(&mut self, annotated: Rc<Annotated>) {
        self.history = Some(annotated);
    }

    /// Where an option of the configuration is set: `/abs/versions.cfg, line 7`, or what set it
    /// when that is not a file (`the command line`); `None` for an option no file set.
    pub fn origin(&self, section: &str, option: &str) -> Option<String> {
        let history = &self.history.as_ref()?.get(section)?.get(option)?.history;
        let set = history.iter().rev().find(|h| matches!(h.op, Op::Set | Op::Override))?;
        match &*set.source {
            COMMAND_LINE_VALUE => return Some("the command line".to_owned()),
            DEFAULT_VALUE | COMPUTED_VALUE | IMPLICIT_VALUE => return None,
            _ => {}
        }
        Some(match set.line {
            Some(line) => format!("{}, line {line}", set.source),
            None => set.source.to_string(),
        })
    }

    /// Every section name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.raw.keys()
    }

    pub fn contains(&self, section: &str) -> bool {
        self.raw.contains_key(section)
    }

    /// Adds a section that no file has (as an extension adds one to zc.buildout's `_raw`);
    /// `false`, changing nothing, when one of that name exists.
    pub fn add_section(&mut self, name: &str, options: RawSection) -> bool {
        if self.raw.contains_key(name) {
            return false;
        }
        self.raw.insert(name.to_owned(), options);
        true
    }

    /// The unevaluated options of a section, as `query` shows them.
    pub fn raw(&self, section: &str) -> Option<&RawSection> {
        self.raw.get(section)
    }

    /// The sections evaluated so far, sorted.
    pub fn evaluated_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.evaluated.keys().cloned().collect();
        names.sort();
        names
    }

    /// Sections with a recipe, in the order they became parts.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Evaluates a section (zc.buildout's `buildout[name]`).
    pub fn section(&mut self, name: &str) -> Result<()> {
        self.section_inner(name).doing(|| format!("Getting section {name}."))
    }

    fn section_inner(&mut self, name: &str) -> Result<()> {
        if self.evaluated.contains_key(name) {
            return Ok(());
        }
        let raw = self.raw.get(name).cloned().ok_or_else(|| Error::new(ErrorKind::MissingSection(name.to_owned())))?;
        self.evaluated.insert(
            name.to_owned(),
            Options {
                raw,
                cooked: HashMap::new(),
                data: BTreeMap::new(),
                used: HashSet::new(),
                state: State::Initializing,
            },
        );
        self.initialize(name).doing(|| format!("Initializing section {name}."))
    }

    /// Evaluates `name` so that a failure leaves nothing half-done behind: sections whose
    /// evaluation was interrupted are forgotten (values already computed are kept by the others,
    /// since a successful value does not depend on where it was asked from).
    pub fn section_isolated(&mut self, name: &str) -> Result<()> {
        let result = self.section(name);
        if result.is_err() {
            self.evaluated.retain(|_, o| o.state == State::Done);
            self.depth = 0;
        }
        result
    }

    fn initialize(&mut self, name: &str) -> Result<()> {
        let has_macro = self.options(name).raw.contains_key("<");
        if has_macro && name != "buildout" {
            let raw = self.options(name).raw.clone();
            let expanded = self.extend_raw(name, raw, &mut Vec::new())?;
            self.options_mut(name).raw = expanded;
        }
        let to_substitute: Vec<(String, String)> = self
            .options(name)
            .raw
            .iter()
            .filter(|(_, v)| v.contains("${"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (option, template) in to_substitute {
            let mut seen = vec![(name.to_owned(), option.clone())];
            let value = self
                .substitute_value(name, &template, &mut seen)
                .doing(|| format!("Getting option {name}:{option}."))?;
            self.options_mut(name).cooked.insert(option, value);
        }
        if name != "buildout" {
            let deps = self.get(name, "<part-dependencies>")?.unwrap_or_default();
            for dep in split_ws(&deps) {
                self.section(dep)?;
            }
            if self.get(name, "recipe")?.is_some_and(|r| !r.is_empty()) {
                if let Some(hook) = self.hook.0.clone() {
                    hook.construct(self, name)?;
                }
                self.parts.push(name.to_owned());
            }
        }
        self.options_mut(name).state = State::Done;
        Ok(())
    }

    fn options(&self, name: &str) -> &Options {
        // Only called for sections inserted by `section_inner`, which never removes them.
        &self.evaluated[name]
    }

    fn options_mut(&mut self, name: &str) -> &mut Options {
        self.evaluated.get_mut(name).expect("section is being evaluated")
    }

    /// Macro expansion: the sections named by `<` (one per line, recursively expanded) are
    /// merged in order, then the section's own options on top (its `+=`/`-=` apply to them).
    fn extend_raw(&mut self, name: &str, data: RawSection, doing: &mut Vec<String>) -> Result<RawSection> {
        if name == "buildout" {
            return Ok(data);
        }
        if doing.iter().any(|d| d == name) {
            return Err(Error::new(ErrorKind::InfiniteExtendingLoop(name.to_owned())));
        }
        let Some(to_do) = data.get("<").cloned() else {
            return Ok(data);
        };
        doing.push(name.to_owned());
        let result = self.extend_inputs(&to_do, data, doing).doing(|| format!("Loading input sections for '{name}'"));
        doing.pop();
        result
    }

    fn extend_inputs(&mut self, to_do: &str, data: RawSection, doing: &mut Vec<String>) -> Result<RawSection> {
        let mut result = RawSection::new();
        for input in to_do.split('\n') {
            let input = super::pytext::strip(input);
            if input.is_empty() {
                continue;
            }
            let raw =
                self.raw.get(input).cloned().ok_or_else(|| Error::new(ErrorKind::NoSectionNamed(input.to_owned())))?;
            result.extend(self.extend_raw(input, raw, doing)?);
        }
        let source = Source::from("");
        let merged = update_section(annotate_plain(result, &source), annotate_plain(data, &source));
        let mut merged = unannotate_section(&merged);
        merged.remove("<");
        Ok(merged)
    }

    /// An option's value (zc.buildout's `Options.get`): substituted, cached, marked as used.
    pub fn get(&mut self, section: &str, option: &str) -> Result<Option<String>> {
        self.section(section)?;
        self.get_seen(section, option, None, true)
    }

    /// An option's value without marking it used (what buildout itself reads to hand a recipe
    /// its options, or to compare with `.installed.cfg`).
    pub fn peek(&mut self, section: &str, option: &str) -> Result<Option<String>> {
        self.section(section)?;
        self.get_seen(section, option, None, false)
    }

    /// Every option of a section, evaluated, without marking any used.
    pub fn snapshot(&mut self, section: &str) -> Result<BTreeMap<String, String>> {
        self.section(section)?;
        let mut out = BTreeMap::new();
        for key in self.keys(section) {
            if let Some(v) = self.get_seen(section, &key, None, false)? {
                out.insert(key, v);
            }
        }
        Ok(out)
    }

    /// Marks options as read (by a recipe, across the ABI).
    pub fn mark_used<'a>(&mut self, section: &str, options: impl IntoIterator<Item = &'a String>) {
        if let Some(o) = self.evaluated.get_mut(section) {
            o.used.extend(options.into_iter().cloned());
        }
    }

    /// Deletes an option (zc.buildout's `del options[k]`).
    pub fn remove(&mut self, section: &str, option: &str) -> Result<()> {
        self.section(section)?;
        let o = self.options_mut(section);
        o.raw.remove(option);
        o.cooked.remove(option);
        o.data.remove(option);
        o.used.remove(option);
        Ok(())
    }

    /// Installs the recipe hook (the engine's); without one, recipes are never loaded. Parts
    /// that became parts before (referenced from `[buildout]` at start-up) are constructed now,
    /// in the order they became parts, as zc.buildout constructs them during start-up.
    pub fn set_hook(&mut self, hook: Rc<dyn RecipeHook>) -> Result<()> {
        self.hook = Hook(Some(hook.clone()));
        for part in self.parts.clone() {
            hook.construct(self, &part)
                .doing(|| format!("Initializing section {part}."))
                .doing(|| format!("Getting section {part}."))?;
        }
        Ok(())
    }

    fn get_seen(&mut self, section: &str, option: &str, seen: Option<&mut Seen>, mark: bool) -> Result<Option<String>> {
        if mark {
            self.options_mut(section).used.insert(option.to_owned());
        }
        let opts = self.options(section);
        if let Some(v) = opts.data.get(option) {
            return Ok(Some(v.clone()));
        }
        let Some(value) = opts.cooked.get(option).or_else(|| opts.raw.get(option)).cloned() else {
            return Ok(None);
        };
        let value = if value.contains("${") {
            self.get_substituted(section, option, &value, seen)
                .doing(|| format!("Getting option {section}:{option}."))?
        } else {
            value
        };
        self.options_mut(section).data.insert(option.to_owned(), value.clone());
        Ok(Some(value))
    }

    fn get_substituted(
        &mut self,
        section: &str,
        option: &str,
        template: &str,
        seen: Option<&mut Seen>,
    ) -> Result<String> {
        let key = (section.to_owned(), option.to_owned());
        let mut own = Vec::new();
        let seen = match seen {
            None => &mut own,
            Some(s) if s.contains(&key) => return Err(Error::new(ErrorKind::CircularReference)),
            Some(s) => s,
        };
        seen.push(key);
        let result = self.substitute_value(section, template, seen);
        seen.pop();
        result
    }

    /// Substitutes a whole value: `$$` is an escape, so the pieces between `$$` are substituted
    /// separately and joined again with `$$` (which stays in the value).
    fn substitute_value(&mut self, section: &str, template: &str, seen: &mut Seen) -> Result<String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(Error::user("Substitutions are nested too deeply (more than 20000 levels)."));
        }
        let result = (|| {
            let mut out = String::with_capacity(template.len());
            for (i, piece) in template.split("$$").enumerate() {
                if i > 0 {
                    out.push_str("$$");
                }
                self.substitute_piece(section, piece, seen, &mut out)?;
            }
            Ok(out)
        })();
        self.depth -= 1;
        result
    }

    fn substitute_piece(&mut self, section: &str, template: &str, seen: &mut Seen, out: &mut String) -> Result<()> {
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.push_str(&rest[..start]);
            let reference = &rest[start..start + len + 1];
            rest = &rest[start + len + 1..];
            let (ref_section, ref_option) = parse_reference(reference)?;
            let ref_section = if ref_section.is_empty() { section } else { ref_section };
            self.section(ref_section)?;
            let value = match self.get_seen(ref_section, ref_option, Some(seen), true)? {
                Some(v) => v,
                None if ref_option == "_buildout_section_name_" => section.to_owned(),
                None => {
                    return Err(Error::new(ErrorKind::ReferencedOptionMissing(
                        ref_section.to_owned(),
                        ref_option.to_owned(),
                    )));
                }
            };
            out.push_str(&value);
        }
        out.push_str(rest);
        Ok(())
    }

    /// Sets an option (zc.buildout's `options[k] = v`); it wins over the configured value.
    pub fn set(&mut self, section: &str, option: &str, value: String) -> Result<()> {
        self.section(section)?;
        let o = self.options_mut(section);
        o.data.insert(option.to_owned(), value);
        o.used.insert(option.to_owned());
        Ok(())
    }

    /// A required option: `Missing option: section:option` when absent.
    pub fn require(&mut self, section: &str, option: &str) -> Result<String> {
        self.section(section)?;
        self.get(section, option)?
            .ok_or_else(|| Error::new(ErrorKind::MissingOption(section.to_owned(), option.to_owned())))
    }

    /// The option names of an evaluated section: configured ones, then ones set later.
    pub fn keys(&self, section: &str) -> Vec<String> {
        let Some(opts) = self.evaluated.get(section) else {
            return self.raw.get(section).map(|r| r.keys().cloned().collect()).unwrap_or_default();
        };
        let mut keys: Vec<String> = opts.raw.keys().cloned().collect();
        keys.extend(opts.data.keys().filter(|k| !opts.raw.contains_key(*k)).cloned());
        keys
    }

    /// Options of an evaluated section that were configured but never read.
    pub fn unused(&self, section: &str) -> Vec<String> {
        self.evaluated
            .get(section)
            .map(|o| o.raw.keys().filter(|k| !o.used.contains(*k)).cloned().collect())
            .unwrap_or_default()
    }
}

/// Checks a `${section:option}` reference and splits it, with zc.buildout's messages.
fn parse_reference(reference: &str) -> Result<(&str, &str)> {
    let inner = &reference[2..reference.len() - 1];
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || "- ._".contains(c);
    let parts: Vec<&str> = inner.split(':').collect();
    let valid = parts.len() == 2
        && parts[0].chars().all(is_name_char)
        && !parts[1].is_empty()
        && parts[1].chars().all(is_name_char);
    if !valid {
        // Python's `[...]+$` also matches before a final newline.
        let simple = |s: &str| {
            let s = s.strip_suffix('\n').unwrap_or(s);
            !s.is_empty() && s.chars().all(is_name_char)
        };
        let message = if parts.len() < 2 {
            format!("The substitution, {reference},\ndoesn't contain a colon.")
        } else if parts.len() > 2 {
            format!("The substitution, {reference},\nhas too many colons.")
        } else if !simple(parts[0]) {
            format!("The section name in substitution, {reference},\nhas invalid characters.")
        } else if !simple(parts[1]) {
            format!("The option name in substitution, {reference},\nhas invalid characters.")
        } else {
            String::new()
        };
        if !message.is_empty() {
            return Err(Error::user(message));
        }
    }
    Ok((parts[0], parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(spec: &[(&str, &[(&str, &str)])]) -> Sections {
        let raw = spec
            .iter()
            .map(|(name, opts)| {
                ((*name).to_owned(), opts.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
            })
            .collect();
        Sections::new(raw)
    }

    fn eval(s: &mut Sections, section: &str, option: &str) -> std::result::Result<String, String> {
        s.section(section)
            .and_then(|()| s.require(section, option))
            .map_err(|e| format!("{} | {}", e.doing.join(" "), e))
    }

    #[test]
    fn substitution() {
        type Spec<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];
        let cases: &[(Spec, &str, &str, std::result::Result<&str, &str>)] = &[
            (&[("a", &[("x", "${b:y}/z"), ("w", "1")]), ("b", &[("y", "${a:w}")])], "a", "x", Ok("1/z")),
            (&[("a", &[("x", "${:w}-${:w}"), ("w", "1")])], "a", "x", Ok("1-1")),
            (&[("a", &[("x", "$${:w}"), ("w", "1")])], "a", "x", Ok("$${:w}")),
            (&[("a", &[("x", "${b:_buildout_section_name_}")]), ("b", &[])], "a", "x", Ok("a")),
            (&[("a", &[("x", "${foo")])], "a", "x", Ok("${foo")),
            (&[("a", &[("x", "a ${b:y}\n${b:y} c")]), ("b", &[("y", "1")])], "a", "x", Ok("a 1\n1 c")),
            (
                &[("a", &[("x", "${nope:y}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. Getting section nope. | The referenced section, 'nope', was not defined.",
                ),
            ),
            (
                &[("a", &[("x", "${a:nope}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. | Referenced option does not exist: a nope",
                ),
            ),
            (
                &[("a", &[("x", "${a:y}"), ("y", "${a:x}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. Getting option a:y. Getting option a:x. | Circular reference in substitutions.\n",
                ),
            ),
            (
                &[("a", &[("x", "${parts}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. | The substitution, ${parts},\ndoesn't contain a colon.",
                ),
            ),
            (
                &[("a", &[("x", "${a:b:c}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. | The substitution, ${a:b:c},\nhas too many colons.",
                ),
            ),
            (
                &[("a", &[("x", "${a$:b}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. | The section name in substitution, ${a$:b},\nhas invalid characters.",
                ),
            ),
            (
                &[("a", &[("x", "${a:}")])],
                "a",
                "x",
                Err(
                    "Getting section a. Initializing section a. Getting option a:x. | The option name in substitution, ${a:},\nhas invalid characters.",
                ),
            ),
        ];
        for (spec, section, option, expected) in cases {
            let mut s = sections(spec);
            let got = eval(&mut s, section, option);
            assert_eq!(got.as_ref().map(String::as_str).map_err(String::as_str), *expected, "{spec:?}");
        }
    }

    #[test]
    fn macros() {
        let mut s = sections(&[
            ("base", &[("port", "8080"), ("name", "${:_buildout_section_name_}"), ("list", "a\nb")]),
            ("mid", &[("<", "base"), ("port", "9090")]),
            ("user", &[("<", "mid"), ("list +", "c")]),
            ("loop", &[("<", "loop")]),
        ]);
        assert_eq!(eval(&mut s, "user", "port"), Ok("9090".into()));
        assert_eq!(eval(&mut s, "user", "name"), Ok("user".into()));
        assert_eq!(eval(&mut s, "user", "list"), Ok("a\nb\nc".into()));
        assert_eq!(
            eval(&mut s, "loop", "x"),
            Err("Getting section loop. Initializing section loop. Loading input sections for 'loop' | Infinite extending loop 'loop'".into())
        );
    }

    #[test]
    fn parts_follow_references() {
        let mut s = sections(&[
            ("a", &[("recipe", "r"), ("x", "${b:y}"), ("<part-dependencies>", "c")]),
            ("b", &[("recipe", "r"), ("y", "1")]),
            ("c", &[("recipe", "r")]),
        ]);
        s.section("a").expect("evaluates");
        assert_eq!(s.parts(), ["b", "c", "a"]);
    }

    #[test]
    fn isolated_failure_forgets_half_done_sections() {
        let mut s = sections(&[("a", &[("x", "${b:y}")]), ("b", &[("y", "${a:x}")])]);
        let a = s.section_isolated("a").expect_err("cycle");
        let b = s.section_isolated("b").expect_err("cycle");
        assert_eq!(a.doing[0], "Getting section a.");
        assert_eq!(b.doing[0], "Getting section b.");
        assert_eq!(b.doing[3], "Getting section a.");
    }

    #[test]
    fn long_chains_are_linear_and_do_not_overflow() {
        let n = 2000;
        let raw: BTreeMap<String, RawSection> = (0..n)
            .map(|i| {
                let v = if i == 0 { "0".to_owned() } else { format!("${{p{}:v}}", i - 1) };
                (format!("p{i}"), [("v".to_owned(), v)].into_iter().collect())
            })
            .collect();
        let handle = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || eval(&mut Sections::new(raw), &format!("p{}", n - 1), "v"))
            .expect("thread");
        assert_eq!(handle.join().expect("no panic"), Ok("0".into()));
    }
}
