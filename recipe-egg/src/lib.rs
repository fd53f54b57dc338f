//! `zc.recipe.egg`: installs Python distributions as eggs (`eggs`) and writes `bin/` scripts for
//! their console entry points and an optional interpreter (`script`, `scripts`, `default`),
//! option for option and byte for byte as zc.recipe.egg 6.0.0 does.

use std::path::PathBuf;

use buildout_core::sdk::python::{self, Eggs, Requirement, ScriptOptions, Scripts, Target};
use buildout_core::sdk::{Context, LogLevel, Options, Recipe, RecipeError};

/// The distribution name recipes are looked up by (`recipe = zc.recipe.egg:script`).
pub const DISTRIBUTION: &str = "zc.recipe.egg";

/// `zc.recipe.egg:eggs`: only installs the distributions.
pub struct EggsRecipe(Eggs);

impl Recipe for EggsRecipe {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        Eggs::new(ctx, options).map(EggsRecipe)
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        self.0.working_set(ctx, options, &[])?;
        Ok(Vec::new())
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install(ctx, options).map(Some)
    }
}

/// `zc.recipe.egg:script` (also `default` and `scripts`).
pub struct ScriptsRecipe {
    eggs: Eggs,
    extra_paths: Vec<String>,
    relative_paths: Option<String>,
}

/// `name=module:attrs`, zc.recipe.egg's entry-point syntax.
fn parse_entry_point(text: &str) -> Option<Target> {
    let (name, target) = text.split_once('=')?;
    let (module, attrs) = target.split_once(':')?;
    let dotted = |s: &str| {
        !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    (!name.is_empty() && dotted(module) && dotted(attrs)).then(|| Target::EntryPoint {
        name: name.to_owned(),
        module: module.to_owned(),
        attrs: attrs.to_owned(),
    })
}

impl Recipe for ScriptsRecipe {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let eggs = Eggs::new(ctx, options)?;
        let ScriptOptions { extra_paths, relative_paths, .. } = ScriptOptions::new(ctx, options)?;
        Ok(ScriptsRecipe { eggs, extra_paths, relative_paths })
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let (distributions, ws, interpreter) = self.eggs.working_set(ctx, options, &[])?;
        let scripts = options.get("scripts");
        if scripts.is_some_and(|s| s.trim().is_empty()) {
            return Ok(Vec::new());
        }
        let names = scripts.map(|s| {
            s.split_whitespace()
                .map(|t| match t.split_once('=') {
                    Some((a, b)) => (a.to_owned(), b.to_owned()),
                    None => (t.to_owned(), t.to_owned()),
                })
                .collect::<Vec<_>>()
        });
        let mut targets: Vec<Target> = Vec::new();
        let mut names_seen: Vec<String> = Vec::new();
        let env = interpreter.environment().map_err(|e| RecipeError::user(e.to_string()))?;
        for d in &distributions {
            let req = Requirement::parse(d).map_err(|e| RecipeError::user(e.to_string()))?;
            // zc.buildout skips requirements whose marker does not hold here.
            if !req.applies(&env, &[]) {
                continue;
            }
            names_seen.push(req.name.clone());
            targets.push(Target::Distribution(req.name));
        }
        for ep in options.get("entry-points").unwrap_or("").split_whitespace() {
            match parse_entry_point(ep) {
                Some(t) => targets.push(t),
                None => {
                    ctx.log(LogLevel::Error, ctx.part(), &format!("Cannot parse the entry point {ep}."));
                    return Err(RecipeError::user("Invalid entry point"));
                }
            }
        }
        match options.get("dependent-scripts") {
            None | Some("") | Some("false") => {}
            Some("true") => {
                for egg in &ws {
                    if egg.name != "setuptools" && !names_seen.contains(&egg.name) {
                        names_seen.push(egg.name.clone());
                        targets.push(Target::Distribution(egg.name.clone()));
                    }
                }
            }
            Some(other) => {
                return Err(RecipeError::user(format!("Invalid value for dependent-scripts option: {other}")));
            }
        }
        let spec = Scripts {
            targets,
            executable: interpreter.executable.clone(),
            dest: PathBuf::from(options.require("bin-directory")?),
            names,
            extra_paths: self.extra_paths.clone(),
            arguments: options.get("arguments").unwrap_or("").to_owned(),
            interpreter: options.get("interpreter").map(str::to_owned),
            initialization: options.get("initialization").unwrap_or("").to_owned(),
            relative_paths: self.relative_paths.clone(),
        };
        python::generate_scripts(ctx, &spec, &ws)
    }

    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install(ctx, options).map(Some)
    }
}

buildout_core::export_recipes! {
    distribution: DISTRIBUTION,
    version: env!("CARGO_PKG_VERSION"),
    entries: {
        "default" => ScriptsRecipe,
        "script" => ScriptsRecipe,
        "scripts" => ScriptsRecipe,
        "eggs" => EggsRecipe,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points() {
        let ok = [("a=m:f", ("a", "m", "f")), ("x=pkg.mod:obj.attr", ("x", "pkg.mod", "obj.attr"))];
        for (text, (name, module, attrs)) in ok {
            assert_eq!(
                parse_entry_point(text),
                Some(Target::EntryPoint { name: name.into(), module: module.into(), attrs: attrs.into() })
            );
        }
        for bad in ["nothing", "a=m", "a=m:", "=m:f", "a=m-x:f"] {
            assert_eq!(parse_entry_point(bad), None, "{bad}");
        }
    }
}
