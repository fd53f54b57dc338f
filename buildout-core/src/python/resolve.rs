//! zc.buildout's working-set walk: the requested distributions first, in order, then the rest
//! as a breadth-first requirement stack reaches them, each requirement constrained by the
//! `[versions]` pins. No backtracking: the first distribution chosen for a name stays, and a
//! later requirement it does not satisfy is a conflict, explained as zc.buildout explains it,
//! plus what zc.buildout leaves out: the chain of requirements behind each side, and where the
//! pin involved is set.

use std::collections::{HashMap, HashSet};

use super::egg::{Egg, safe_name};
use super::requirement::{Requirement, canonical_name, compare_versions};
use super::settings::Settings;
use crate::config::pytext::repr;
use pep508_rs::MarkerEnvironment as Environment;

/// Why a requirement set cannot be resolved from what `find` offers.
#[derive(Debug)]
pub(super) enum Shortfall {
    /// Nothing for this requirement: the chain that led to it (see [`Walk::chains`]), and the
    /// distributions added before.
    Missing { req: Box<Requirement>, chain: Vec<String>, added: Vec<(Egg, String)> },
    /// zc.buildout's error, the information block it logs first, and the distributions added
    /// before the conflict showed (zc.buildout has fetched them by then).
    /// `pins` names the distribution whose `[versions]` pin is involved, if one is.
    Conflict { message: String, information: String, added: Vec<(Egg, String)>, pins: Vec<String> },
    /// A requirement names extras its distribution lacks (and `allow-unknown-extras` is off):
    /// the eggs added so far, and the warnings zc.buildout logs before failing.
    UnknownExtras(Vec<(Egg, String)>, Vec<String>),
}

/// Finds the distribution for a requirement (unconstrained; the finder applies the pins).
pub(super) type Finder<'a> = &'a dyn Fn(&Requirement) -> Option<Egg>;

/// Walks the requirements `specs` parsed to `reqs` (those whose markers apply). Returns the
/// distributions in the order they were added, each with the constrained requirement that
/// added it.
pub(super) fn walk(
    specs: &[String],
    reqs: &[Requirement],
    settings: &Settings,
    env: &Environment,
    find: Finder<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Egg, String)>, Shortfall> {
    let mut walk = Walk::new(settings, specs);
    for req in reqs {
        let Some(dist) = find(req) else { return Err(walk.missing(req, vec![req.to_string()])) };
        walk.chains.insert(req.to_string(), vec![req.to_string()]);
        if !walk.ws.iter().any(|(e, _)| e.key() == dist.key()) {
            walk.chosen_for.insert(dist.key(), vec![req.to_string()]);
            walk.ws.push((dist, settings.constrained(req).to_string()));
        }
    }
    let mut stack: Vec<Requirement> = reqs.iter().rev().cloned().collect();
    let mut processed: HashSet<String> = HashSet::new();
    let mut best: HashMap<String, Egg> = HashMap::new();
    while !stack.is_empty() {
        let req = stack.remove(0);
        let text = req.to_string();
        if processed.contains(&text) {
            continue;
        }
        let chain = walk.chain(&text);
        if let Some(pin) = settings.violated_pin(&req) {
            return Err(walk.pin_violated(&req, &pin, &chain));
        }
        let constrained = settings.constrained(&req);
        let known = best.get(&req.key()).or_else(|| walk.ws.iter().map(|(e, _)| e).find(|e| e.key() == req.key()));
        let dist = match known {
            Some(d) => d.clone(),
            None => {
                let Some(d) = find(&req) else { return Err(walk.missing(&req, chain)) };
                walk.chosen_for.insert(d.key(), chain.clone());
                walk.ws.push((d.clone(), constrained.to_string()));
                d
            }
        };
        if !constrained.allows(&dist.version) {
            return Err(walk.conflict(&dist, &req, &constrained, env));
        }
        best.insert(req.key(), dist.clone());
        let missing = dist.missing_extras(&req.extras);
        for extra in &missing {
            warnings.push(format!("{} {} does not provide the extra '{extra}'", safe_name(&dist.name), dist.version));
        }
        if !missing.is_empty() && !settings.allow_unknown_extras {
            return Err(Shortfall::UnknownExtras(walk.ws, std::mem::take(warnings)));
        }
        let extras: Vec<String> = req.extras.iter().filter(|e| !missing.contains(&e.to_lowercase())).cloned().collect();
        let mut new = dist.requires_for(&extras, env);
        new.reverse();
        for r in &new {
            walk.log.push(format!("Requirement of {text}: {r}"));
            let mut c = chain.clone();
            c.push(format!("{} {}", safe_name(&dist.name), dist.version));
            c.push(r.to_string());
            walk.chains.entry(r.to_string()).or_insert(c);
        }
        stack.extend(new);
        processed.insert(text);
    }
    Ok(walk.ws)
}

/// The state of one walk that an explanation draws on.
struct Walk<'a> {
    settings: &'a Settings,
    ws: Vec<(Egg, String)>,
    /// For each distribution added, the chain of the requirement it was added for.
    chosen_for: HashMap<String, Vec<String>>,
    /// For each requirement met, how it was reached, from the request down: requirement,
    /// the distribution chosen for it, the requirement of that distribution, ..., ending with
    /// the requirement itself.
    chains: HashMap<String, Vec<String>>,
    /// zc.buildout's `_requirements_and_constraints`: the request, then every requirement of
    /// every distribution processed.
    log: Vec<String>,
}

impl<'a> Walk<'a> {
    fn new(settings: &'a Settings, specs: &[String]) -> Walk<'a> {
        Walk {
            settings,
            ws: Vec::new(),
            chosen_for: HashMap::new(),
            chains: HashMap::new(),
            log: vec![base_request(specs)],
        }
    }

    fn chain(&self, text: &str) -> Vec<String> {
        self.chains.get(text).cloned().unwrap_or_else(|| vec![text.to_owned()])
    }

    /// zc.buildout's "Version and requirements information containing <name>" block: the pin
    /// on the name, then every request and requirement that mentions it.
    fn information(&self, name: &str) -> String {
        let mut lines = vec![format!("Version and requirements information containing {name}:")];
        if let Some(pin) = self.settings.versions.get(&canonical_name(name)).filter(|p| !p.is_empty()) {
            lines.push(format!("[versions] constraint on {name}: {pin}"));
        }
        let needle = name.to_lowercase();
        lines.extend(self.log.iter().filter(|l| l.to_lowercase().contains(&needle)).cloned());
        lines.join("\n  ")
    }

    fn missing(self, req: &Requirement, chain: Vec<String>) -> Shortfall {
        Shortfall::Missing { req: Box::new(req.clone()), chain, added: self.ws }
    }

    fn pin_violated(self, req: &Requirement, pin: &str, chain: &[String]) -> Shortfall {
        let mut message = format!(
            "The requirement ({}) is not allowed by your [versions] constraint ({pin})",
            repr(&req.to_string())
        );
        message.push_str(&format!("\n{req} comes from: {}", chain.join(" -> ")));
        Shortfall::Conflict {
            information: self.information(&req.key()),
            message,
            added: self.ws,
            pins: vec![req.key()],
        }
    }

    fn conflict(self, dist: &Egg, req: &Requirement, constrained: &Requirement, env: &Environment) -> Shortfall {
        let mut lines = vec![
            "There is a version conflict.".to_owned(),
            format!("We already have: {} {}", safe_name(&dist.name), dist.version),
        ];
        // zc.buildout names each distribution of the working set (sorted by version) that
        // requires exactly the conflicting requirement.
        let mut requirers: Vec<&Egg> = self.ws.iter().map(|(e, _)| e).collect();
        requirers.sort_by(|a, b| compare_versions(&a.version, &b.version).then_with(|| a.key().cmp(&b.key())));
        let wanted = constrained.to_string();
        for e in requirers {
            if e.requires_for(&[], env).iter().any(|r| r.to_string() == wanted) {
                lines.push(format!("but {} {} requires {}.", safe_name(&e.name), e.version, repr(&wanted)));
            }
        }
        let chosen_for = self.chosen_for.get(&dist.key()).cloned().unwrap_or_else(|| vec![dist.name.clone()]);
        lines.push(format!("{} {} comes from: {}", safe_name(&dist.name), dist.version, chosen_for.join(" -> ")));
        lines.push(format!("{req} comes from: {}", self.chain(&req.to_string()).join(" -> ")));
        let information = self.information(&safe_name(&req.name).to_lowercase());
        let pins = self.settings.pin(&req.key()).map(|_| req.key()).into_iter().collect();
        Shortfall::Conflict { message: lines.join("\n"), information, added: self.ws, pins }
    }
}

/// zc.buildout's "Base installation request" line: the requested specs as Python reprs.
fn base_request(specs: &[String]) -> String {
    let request: Vec<String> = specs.iter().map(|s| repr(s)).collect();
    format!("Base installation request: {}", request.join(", "))
}

/// The information block for a request that a top-level `[versions]` pin refuses, before any
/// distribution is looked at.
pub(super) fn request_information(key: &str, specs: &[String], settings: &Settings) -> String {
    Walk::new(settings, specs).information(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn egg(name: &str, version: &str, requires: &[&str]) -> Egg {
        super::super::egg::test_egg(name, version, requires, &[])
    }

    /// Walks `specs` over `available` (highest version first per name) with `pins`.
    fn run(specs: &[&str], available: &[Egg], pins: &[(&str, &str)]) -> Result<Vec<(Egg, String)>, Shortfall> {
        let settings = Settings {
            versions: pins.iter().map(|(k, v)| (canonical_name(k), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
            ..Settings::default()
        };
        let specs: Vec<String> = specs.iter().map(|s| (*s).to_owned()).collect();
        let reqs: Vec<Requirement> = specs.iter().map(|s| Requirement::parse(s).expect("requirement")).collect();
        let find = |req: &Requirement| {
            let r = settings.constrained(req);
            available.iter().find(|e| e.key() == r.key() && r.allows(&e.version)).cloned()
        };
        walk(&specs, &reqs, &settings, &super::super::requirement::test_environment(), &find, &mut Vec::new())
    }

    #[test]
    fn conflicts_say_where_each_side_comes_from() {
        let available = [
            egg("app", "1.0", &["lib", "tool"]),
            egg("lib", "2.0", &["base<2"]),
            egg("tool", "1.0", &["base>=2"]),
            egg("base", "2.0", &[]),
            egg("base", "1.5", &[]),
            egg("base", "1.0", &[]),
        ];
        /// Specs, pins, then the message, information block and pin name expected.
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str, Option<&'a str>);
        let cases: [Case<'_>; 3] = [
            (
                &["app"],
                &[],
                "There is a version conflict.\nWe already have: base 2.0\nbut lib 2.0 requires 'base<2'.\n\
                 base 2.0 comes from: app -> app 1.0 -> tool -> tool 1.0 -> base>=2\n\
                 base<2 comes from: app -> app 1.0 -> lib -> lib 2.0 -> base<2",
                // "Base installation request" mentions "base" too: zc.buildout's search is that plain.
                "Version and requirements information containing base:\n  Base installation request: 'app'\n  \
                 Requirement of tool: base>=2\n  Requirement of lib: base<2",
                None,
            ),
            (
                &["app"],
                &[("base", "1.0")],
                "The requirement ('base>=2') is not allowed by your [versions] constraint (1.0)\n\
                 base>=2 comes from: app -> app 1.0 -> tool -> tool 1.0 -> base>=2",
                "Version and requirements information containing base:\n  [versions] constraint on base: 1.0\n  \
                 Base installation request: 'app'\n  Requirement of tool: base>=2\n  Requirement of lib: base<2",
                Some("base"),
            ),
            (
                &["base<1.2", "tool"],
                &[],
                "There is a version conflict.\nWe already have: base 1.0\nbut tool 1.0 requires 'base>=2'.\n\
                 base 1.0 comes from: base<1.2\nbase>=2 comes from: tool -> tool 1.0 -> base>=2",
                "Version and requirements information containing base:\n  Base installation request: 'base<1.2', \
                 'tool'\n  Requirement of tool: base>=2",
                None,
            ),
        ];
        for (specs, pins, message, information, pin) in cases {
            let Err(Shortfall::Conflict { message: m, information: i, pins: p, added }) = run(specs, &available, pins)
            else {
                panic!("{specs:?} {pins:?} conflicts")
            };
            assert_eq!(
                (m.as_str(), i.as_str(), p.first().map(String::as_str)),
                (message, information, pin),
                "{specs:?} {pins:?}"
            );
            assert!(!added.is_empty(), "what was walked through is handed back");
        }
    }

    #[test]
    fn a_missing_requirement_keeps_its_chain() {
        let available = [egg("app", "1.0", &["lib"]), egg("lib", "2.0", &["gone>=1"])];
        let Err(Shortfall::Missing { req, chain, added }) = run(&["app"], &available, &[]) else { panic!("missing") };
        assert_eq!(req.to_string(), "gone>=1");
        assert_eq!(chain, ["app", "app 1.0", "lib", "lib 2.0", "gone>=1"]);
        let added: Vec<&str> = added.iter().map(|(e, _)| e.name.as_str()).collect();
        assert_eq!(added, ["app", "lib"]);
        let Err(Shortfall::Missing { chain, .. }) = run(&["nothing"], &available, &[]) else { panic!("missing") };
        assert_eq!(chain, ["nothing"]);
    }
}
