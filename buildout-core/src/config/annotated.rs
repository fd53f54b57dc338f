//! Values with their history: what `annotate` prints, and the merge rules for layered files
//! (later files override earlier ones; `+=`/`-=` add and remove lines).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::parser::RawConfig;

/// Where a value came from: a file path or URL, or one of zc.buildout's pseudo-sources.
pub type Source = Arc<str>;

pub const DEFAULT_VALUE: &str = "DEFAULT_VALUE";
pub const COMPUTED_VALUE: &str = "COMPUTED_VALUE";
pub const COMMAND_LINE_VALUE: &str = "COMMAND_LINE_VALUE";
pub const IMPLICIT_VALUE: &str = "IMPLICIT_VALUE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Override,
    Add,
    Remove,
    Directory,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Set => "SET",
            Op::Override => "OVERRIDE",
            Op::Add => "ADD",
            Op::Remove => "REMOVE",
            Op::Directory => "DIRECTORY",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    pub op: Op,
    pub value: String,
    pub source: Source,
    /// The line of `source` that set it, where it came from a file the parser read.
    pub line: Option<u32>,
}

/// One option's current value and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKey {
    pub value: String,
    pub history: Vec<HistoryItem>,
}

pub type AnnotatedSection = BTreeMap<String, SectionKey>;
pub type Annotated = BTreeMap<String, AnnotatedSection>;

impl SectionKey {
    pub fn new(value: impl Into<String>, source: &Source) -> SectionKey {
        let value = value.into();
        let first = HistoryItem { op: Op::Set, value: value.clone(), source: source.clone(), line: None };
        SectionKey { history: vec![first], value }
    }

    pub fn source(&self) -> &Source {
        // A key is never created without a first history entry.
        &self.history[self.history.len() - 1].source
    }

    /// The line of the last change, where it is known.
    pub fn line(&self) -> Option<u32> {
        self.history.last().and_then(|h| h.line)
    }

    /// Records the line of the file that set this value (the parser knows it).
    pub fn set_line(&mut self, line: u32) {
        if let Some(last) = self.history.last_mut() {
            last.line = Some(line);
        }
    }

    fn last_op(&self) -> Op {
        self.history.last().map_or(Op::Set, |h| h.op)
    }

    pub fn override_with(&mut self, newer: SectionKey) {
        if matches!(newer.last_op(), Op::Add | Op::Remove) {
            *self = newer;
        } else {
            let (source, line) = (newer.source().clone(), newer.line());
            self.history.push(HistoryItem { op: Op::Override, value: newer.value.clone(), source, line });
            self.value = newer.value;
        }
    }

    pub fn set_directory(&mut self, value: String) {
        let (source, line) = (self.source().clone(), self.line());
        self.history.push(HistoryItem { op: Op::Directory, value: value.clone(), source, line });
        self.value = value;
    }

    pub fn add(&mut self, added: &str, source: Source) {
        self.value.push('\n');
        self.value.push_str(added);
        self.history.push(HistoryItem { op: Op::Add, value: added.to_owned(), source, line: None });
    }

    pub fn remove(&mut self, removed: &str, source: Source) {
        let gone: Vec<&str> = removed.split('\n').collect();
        let kept: Vec<&str> = self.value.split('\n').filter(|l| !gone.contains(l)).collect();
        self.value = kept.join("\n");
        self.history.push(HistoryItem { op: Op::Remove, value: removed.to_owned(), source, line: None });
    }
}

pub fn annotate_section(raw: BTreeMap<String, String>, source: &Source) -> AnnotatedSection {
    raw.into_iter().map(|(k, v)| (k, SectionKey::new(v, source))).collect()
}

pub fn annotate(raw: RawConfig, source: &Source) -> Annotated {
    raw.into_iter().map(|(name, s)| (name, annotate_section(s, source))).collect()
}

pub fn unannotate_section(section: &AnnotatedSection) -> BTreeMap<String, String> {
    section.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect()
}

/// An increment key (`"name +"` / `"name -"`) split into the option it changes and its operator.
pub(crate) fn increment(key: &str) -> Option<(&str, char)> {
    match key.chars().last()? {
        '+' => Some((key.trim_end_matches([' ', '+']), '+')),
        '-' => Some((key.trim_end_matches([' ', '-']), '-')),
        _ => None,
    }
}

/// Applies section `newer` on top of `base`: increments first (`+` before `-` for one option,
/// starting from the value assigned in the same layer if any), then every key overrides.
pub fn update_section(mut base: AnnotatedSection, mut newer: AnnotatedSection) -> AnnotatedSection {
    let mut keys: Vec<String> = newer.keys().filter(|k| increment(k).is_some()).cloned().collect();
    // zc.buildout's order: by the key without trailing ` +`, then by the last character.
    keys.sort_by(|a, b| {
        let key = |k: &String| (k.trim_end_matches([' ', '+']).to_owned(), k.chars().last());
        key(a).cmp(&key(b))
    });
    for k in keys {
        let Some((name, op)) = increment(&k) else {
            continue;
        };
        let name = name.to_owned();
        let Some(change) = newer.remove(&k) else {
            continue;
        };
        let mut target = newer
            .get(&name)
            .or_else(|| base.get(&name))
            .cloned()
            .unwrap_or_else(|| SectionKey::new("", &Source::from(IMPLICIT_VALUE)));
        let source = change.source().clone();
        if op == '+' {
            target.add(&change.value, source);
        } else {
            target.remove(&change.value, source);
        }
        newer.insert(name, target);
    }
    for (k, v) in newer {
        match base.get_mut(&k) {
            Some(existing) => existing.override_with(v),
            None => {
                base.insert(k, v);
            }
        }
    }
    base
}

/// Merges configuration `newer` over `base`. A section seen for the first time resolves its own
/// increments as assignments; one that uses a macro (`<`) is kept verbatim until it is expanded.
pub fn update(mut base: Annotated, newer: Annotated) -> Annotated {
    for (name, section) in newer {
        match base.remove(&name) {
            Some(existing) => {
                base.insert(name, update_section(existing, section));
            }
            None if section.contains_key("<") => {
                base.insert(name, section);
            }
            None => {
                let mut temp = section;
                let keys: Vec<String> = temp.keys().cloned().collect();
                for k in keys {
                    let Some((option, op)) = increment(&k) else {
                        continue;
                    };
                    if temp.contains_key(option) {
                        continue;
                    }
                    let option = option.to_owned();
                    let Some(mut v) = temp.remove(&k) else {
                        continue;
                    };
                    if op == '-' {
                        let all = v.value.clone();
                        v.remove(&all, Source::from(IMPLICIT_VALUE));
                    }
                    temp.insert(option, v);
                }
                base.insert(name, update_section(AnnotatedSection::new(), temp));
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(src: &str, items: &[(&str, &str)]) -> AnnotatedSection {
        let source = Source::from(src);
        items.iter().map(|(k, v)| ((*k).to_owned(), SectionKey::new(*v, &source))).collect()
    }

    fn ops(key: &SectionKey) -> Vec<String> {
        key.history.iter().map(|h| format!("{} {} {}", h.op.name(), h.value.replace('\n', "|"), h.source)).collect()
    }

    #[test]
    fn increments_across_layers() {
        // (base layer, new layer, option, expected value, expected history)
        type Layer<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Layer, Layer, &str, &str, &[&str])] = &[
            (&[("x", "a\nb")], &[("x +", "c")], "x", "a\nb\nc", &["SET a|b base", "ADD c new"]),
            (&[("x", "a\nb\nc")], &[("x -", "b")], "x", "a\nc", &["SET a|b|c base", "REMOVE b new"]),
            (&[("x", "a b")], &[("x -", "b")], "x", "a b", &["SET a b base", "REMOVE b new"]),
            (&[], &[("x +", "c")], "x", "\nc", &["SET  IMPLICIT_VALUE", "ADD c new"]),
            (&[("x", "a")], &[("x", "b"), ("x +", "c")], "x", "b\nc", &["SET b new", "ADD c new"]),
            (&[("x", "a")], &[("x +", "c"), ("x -", "a")], "x", "c", &["SET a base", "ADD c new", "REMOVE a new"]),
            (&[("x", "a")], &[("x", "b")], "x", "b", &["SET a base", "OVERRIDE b new"]),
        ];
        for (base, newer, option, value, history) in cases {
            let merged = update_section(layer("base", base), layer("new", newer));
            let key = &merged[*option];
            assert_eq!(key.value, *value, "{base:?} + {newer:?}");
            assert_eq!(ops(key), *history, "{base:?} + {newer:?}");
        }
    }

    #[test]
    fn first_appearance_turns_increments_into_assignments() {
        let mut newer = Annotated::new();
        newer.insert("s".into(), layer("f", &[("x +", "a"), ("y -", "b")]));
        let merged = update(Annotated::new(), newer);
        assert_eq!(merged["s"]["x"].value, "a");
        assert_eq!(merged["s"]["y"].value, "");
        assert_eq!(ops(&merged["s"]["y"]), ["SET b f", "REMOVE b IMPLICIT_VALUE"]);
    }

    #[test]
    fn macro_sections_stay_verbatim() {
        let mut newer = Annotated::new();
        newer.insert("s".into(), layer("f", &[("<", "base"), ("x +", "a")]));
        let merged = update(Annotated::new(), newer);
        assert!(merged["s"].contains_key("x +"));
    }
}
