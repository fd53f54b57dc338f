//! Deciding what a run does, apart from doing it: from the recorded state, the parts as
//! constructed now and what exists on disk, which parts are uninstalled, updated or installed,
//! in what order, and why. zc.buildout's rules:
//!
//! * a recorded part that is no longer to be installed is uninstalled (unless parts were named
//!   on the command line: then only those are touched);
//! * a recorded part whose options (with its recipe's signature) changed, or one of whose
//!   recorded paths is missing, is uninstalled and installed again;
//! * any other recorded part is updated; a part not recorded is installed.
//!
//! Uninstalls come first, in the reverse of the recorded order; then every part to install, in
//! the configured order.

use std::collections::HashSet;

use serde::Serialize;

use super::installed::{INSTALLED, Installed, PartOptions, SIGNATURE};

/// What happens to a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Uninstall,
    Install,
    Update,
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// Not recorded as installed.
    New,
    /// Recorded, but no longer among the parts to install.
    NotInParts,
    /// Its `recipe` option names another recipe.
    RecipeChanged { from: String, to: String },
    /// Its recipe library's version (or, for one built from a `develop` crate, its content)
    /// changed.
    RecipeVersionChanged { from: String, to: String },
    /// Options that differ from the recorded ones, by name.
    OptionsChanged { changed: Vec<String>, added: Vec<String>, removed: Vec<String> },
    /// A path it recorded as installed is missing.
    MissingPath { path: String },
    /// Options and recipe as recorded: the recipe's `update` runs.
    Unchanged,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub part: String,
    pub action: Action,
    pub reasons: Vec<Reason>,
}

/// What a run will do, step by step, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// A part to install, as constructed now: its options as buildout compares them with the
/// recorded ones (every option, with the recipe's signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constructed {
    pub name: String,
    pub options: PartOptions,
}

/// The plan for installing `parts` (in order) over `installed`. `only_named`: the parts were
/// named on the command line, so no other part is uninstalled. `exists` answers whether a
/// recorded path (as recorded, relative to the buildout directory or absolute) exists.
pub fn plan(installed: &Installed, parts: &[Constructed], only_named: bool, exists: &dyn Fn(&str) -> bool) -> Plan {
    let mut steps = Vec::new();
    let mut uninstalled: HashSet<&str> = HashSet::new();
    let mut reinstall_reasons: Vec<(&str, Vec<Reason>)> = Vec::new();
    let empty = PartOptions::new();
    let by_name: std::collections::HashMap<&str, &Constructed> = parts.iter().map(|p| (p.name.as_str(), p)).collect();
    for recorded in installed.parts.iter().rev() {
        let old = installed.options.get(recorded).unwrap_or(&empty);
        let reasons = match by_name.get(recorded.as_str()) {
            Some(part) => {
                let reasons = differences(old, &part.options, exists);
                if reasons.is_empty() {
                    continue;
                }
                reasons
            }
            None if only_named => continue,
            None => vec![Reason::NotInParts],
        };
        uninstalled.insert(recorded);
        if !matches!(reasons.as_slice(), [Reason::NotInParts]) {
            reinstall_reasons.push((recorded, reasons.clone()));
        }
        steps.push(Step { part: recorded.clone(), action: Action::Uninstall, reasons });
    }
    for part in parts {
        let recorded = installed.parts.contains(&part.name);
        let step = if recorded && !uninstalled.contains(part.name.as_str()) {
            Step { part: part.name.clone(), action: Action::Update, reasons: vec![Reason::Unchanged] }
        } else {
            let reasons = reinstall_reasons
                .iter()
                .find(|(name, _)| *name == part.name)
                .map_or_else(|| vec![Reason::New], |(_, reasons)| reasons.clone());
            Step { part: part.name.clone(), action: Action::Install, reasons }
        };
        steps.push(step);
    }
    Plan { steps }
}

/// Why a recorded part must be installed again, if it must: what differs between the recorded
/// options and the current ones, else the recorded paths that are missing.
fn differences(recorded: &PartOptions, current: &PartOptions, exists: &dyn Fn(&str) -> bool) -> Vec<Reason> {
    let files = recorded.get(INSTALLED).map_or("", String::as_str);
    // Both maps are sorted: compare them in one pass, the recorded paths left out.
    if recorded.iter().filter(|(k, _)| *k != INSTALLED).eq(current.iter()) {
        return files
            .split('\n')
            .filter(|f| !f.is_empty() && !exists(f))
            .map(|f| Reason::MissingPath { path: f.to_owned() })
            .collect();
    }
    let mut reasons = Vec::new();
    let changed_to = |key: &str| match (recorded.get(key), current.get(key)) {
        (Some(from), Some(to)) if from != to => Some((from.clone(), to.clone())),
        _ => None,
    };
    if let Some((from, to)) = changed_to("recipe") {
        reasons.push(Reason::RecipeChanged { from, to });
    }
    if let Some((from, to)) = changed_to(SIGNATURE) {
        reasons.push(Reason::RecipeVersionChanged { from, to });
    }
    let (mut changed, mut added, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in recorded.iter().filter(|(k, _)| *k != INSTALLED) {
        match current.get(key) {
            Some(now) if now == value || key == "recipe" || key == SIGNATURE => {}
            Some(_) => changed.push(key.clone()),
            None => removed.push(key.clone()),
        }
    }
    added.extend(current.keys().filter(|k| !recorded.contains_key(*k)).cloned());
    if !(changed.is_empty() && added.is_empty() && removed.is_empty()) {
        reasons.push(Reason::OptionsChanged { changed, added, removed });
    }
    reasons
}

impl Reason {
    /// The reason in words, as `buildout plan` and `-v` show it.
    pub fn describe(&self) -> String {
        let names = |what: &str, list: &[String]| match list {
            [] => None,
            [one] => Some(format!("option {one} {what}")),
            many => Some(format!("options {} {what}", many.join(", "))),
        };
        match self {
            Reason::New => "not installed yet".to_owned(),
            Reason::NotInParts => "no longer in parts".to_owned(),
            Reason::RecipeChanged { from, to } => format!("recipe changed from {from} to {to}"),
            Reason::RecipeVersionChanged { from, to } => format!("recipe library changed from {from} to {to}"),
            Reason::OptionsChanged { changed, added, removed } => {
                [names("changed", changed), names("added", added), names("removed", removed)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            Reason::MissingPath { path } => format!("{path} is missing"),
            Reason::Unchanged => "options unchanged".to_owned(),
        }
    }
}

impl Step {
    /// `Uninstall a: option x changed; b is missing.`
    pub fn describe(&self) -> String {
        let action = match self.action {
            Action::Uninstall => "Uninstall",
            Action::Install => "Install",
            Action::Update => "Update",
        };
        let reasons: Vec<String> = self.reasons.iter().map(Reason::describe).collect();
        format!("{action} {}: {}.", self.part, reasons.join("; "))
    }
}

impl Plan {
    /// The machine form: `{"steps": [{"part", "action", "reasons": [{"reason", ...}]}]}`, one
    /// line. Fields are only ever added.
    pub fn to_json(&self) -> String {
        // Strings, lists and enums of them: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line per step; `Nothing to install.` for none.
    pub fn describe(&self) -> String {
        if self.steps.is_empty() {
            return "Nothing to install.\n".to_owned();
        }
        self.steps.iter().map(|s| s.describe() + "\n").collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn options(pairs: &[(&str, &str)]) -> PartOptions {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// Recorded parts: (name, options with `__buildout_installed__`).
    fn installed(parts: &[(&str, &[(&str, &str)])]) -> Installed {
        Installed {
            parts: parts.iter().map(|(name, _)| (*name).to_owned()).collect(),
            develop_eggs: String::new(),
            options: parts.iter().map(|(name, o)| ((*name).to_owned(), options(o))).collect::<BTreeMap<_, _>>(),
        }
    }

    fn part(name: &str, pairs: &[(&str, &str)]) -> Constructed {
        Constructed { name: name.to_owned(), options: options(pairs) }
    }

    fn step(part: &str, action: Action, reasons: Vec<Reason>) -> Step {
        Step { part: part.to_owned(), action, reasons }
    }

    const SIG: (&str, &str) = ("__buildout_signature__", "t-1.0");
    const MKDIR: (&str, &str) = ("recipe", "t:mkdir");

    #[test]
    fn decides_as_zc_buildout() {
        use Action::*;
        let on_disk = |path: &str| path != "gone";
        // (what, recorded, parts now, only named, expected steps)
        type Case<'a> = (&'a str, Installed, Vec<Constructed>, bool, Vec<Step>);
        let cases: Vec<Case<'_>> = vec![
            (
                "first run",
                installed(&[]),
                vec![part("a", &[MKDIR, SIG])],
                false,
                vec![step("a", Install, vec![Reason::New])],
            ),
            (
                "unchanged",
                installed(&[("a", &[MKDIR, SIG, (INSTALLED, "d")])]),
                vec![part("a", &[MKDIR, SIG])],
                false,
                vec![step("a", Update, vec![Reason::Unchanged])],
            ),
            (
                "removed from parts, in reverse recorded order",
                installed(&[("a", &[MKDIR, SIG]), ("b", &[MKDIR, SIG]), ("c", &[MKDIR, SIG])]),
                vec![part("b", &[MKDIR, SIG])],
                false,
                vec![
                    step("c", Uninstall, vec![Reason::NotInParts]),
                    step("a", Uninstall, vec![Reason::NotInParts]),
                    step("b", Update, vec![Reason::Unchanged]),
                ],
            ),
            (
                "named parts leave the others alone",
                installed(&[("a", &[MKDIR, SIG]), ("c", &[MKDIR, SIG])]),
                vec![part("c", &[MKDIR, SIG]), part("n", &[MKDIR, SIG])],
                true,
                vec![step("c", Update, vec![Reason::Unchanged]), step("n", Install, vec![Reason::New])],
            ),
            (
                "options changed: uninstalled, then installed again for the same reasons",
                installed(&[("a", &[MKDIR, SIG, ("path", "x"), ("old", "1"), (INSTALLED, "x")])]),
                vec![part("a", &[MKDIR, SIG, ("path", "y"), ("new", "2")])],
                false,
                {
                    let why = Reason::OptionsChanged {
                        changed: vec!["path".into()],
                        added: vec!["new".into()],
                        removed: vec!["old".into()],
                    };
                    vec![step("a", Uninstall, vec![why.clone()]), step("a", Install, vec![why])]
                },
            ),
            (
                "recipe and its version",
                installed(&[("a", &[MKDIR, SIG])]),
                vec![part("a", &[("recipe", "t:other"), ("__buildout_signature__", "t-1.1")])],
                false,
                {
                    let why = vec![
                        Reason::RecipeChanged { from: "t:mkdir".into(), to: "t:other".into() },
                        Reason::RecipeVersionChanged { from: "t-1.0".into(), to: "t-1.1".into() },
                    ];
                    vec![step("a", Uninstall, why.clone()), step("a", Install, why)]
                },
            ),
            (
                "a recorded path is missing",
                installed(&[("a", &[MKDIR, SIG, (INSTALLED, "here\ngone")]), ("b", &[MKDIR, SIG])]),
                vec![part("a", &[MKDIR, SIG]), part("b", &[MKDIR, SIG])],
                false,
                {
                    let why = vec![Reason::MissingPath { path: "gone".into() }];
                    vec![
                        step("a", Uninstall, why.clone()),
                        step("a", Install, why),
                        step("b", Update, vec![Reason::Unchanged]),
                    ]
                },
            ),
            ("nothing at all", installed(&[]), vec![], false, vec![]),
        ];
        for (what, recorded, parts, only_named, expected) in cases {
            assert_eq!(plan(&recorded, &parts, only_named, &on_disk).steps, expected, "{what}");
        }
    }

    #[test]
    fn describes_steps_in_words() {
        let cases: [(Step, &str); 4] = [
            (step("a", Action::Install, vec![Reason::New]), "Install a: not installed yet."),
            (step("a", Action::Uninstall, vec![Reason::NotInParts]), "Uninstall a: no longer in parts."),
            (
                step(
                    "a",
                    Action::Uninstall,
                    vec![
                        Reason::OptionsChanged {
                            changed: vec!["x".into(), "y".into()],
                            added: vec!["z".into()],
                            removed: vec![],
                        },
                        Reason::MissingPath { path: "/p".into() },
                    ],
                ),
                "Uninstall a: options x, y changed, option z added; /p is missing.",
            ),
            (step("a", Action::Update, vec![Reason::Unchanged]), "Update a: options unchanged."),
        ];
        for (step, expected) in cases {
            assert_eq!(step.describe(), expected);
        }
        assert_eq!(Plan::default().describe(), "Nothing to install.\n");
        let json = Plan { steps: vec![step("a", Action::Update, vec![Reason::Unchanged])] }.to_json();
        assert_eq!(json, r#"{"steps":[{"part":"a","action":"update","reasons":[{"reason":"unchanged"}]}]}"#);
    }
}
