//! `abi1.recipes`, built against the ABI 1 SDK: `note` writes `text` (and `${greeting:who}`,
//! read from another section) to `path`, logs at warning level, offers `update`, and has an
//! uninstall entry that logs; `boom = true` makes `install` panic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use buildout_core::sdk::{Context, LogLevel, Options, Recipe, RecipeError};

struct Note {
    path: PathBuf,
    boom: bool,
}

impl Recipe for Note {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let path = ctx.path(options.require("path")?)?;
        let who = ctx.get("greeting", "who")?.unwrap_or_else(|| "nobody".into());
        options.set("line", format!("{} {who}", options.require("text")?));
        options.set("path", path.display().to_string());
        Ok(Note { path, boom: options.bool("boom", false)? })
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        if self.boom {
            panic!("the ABI 1 recipe broke");
        }
        ctx.created(&[&self.path])?;
        std::fs::write(&self.path, format!("{}\n", options.require("line")?))
            .map_err(|e| RecipeError::io("write", &self.path, &e))?;
        ctx.log(LogLevel::Warning, ctx.part(), "written by an ABI 1 library");
        Ok(vec![self.path.clone()])
    }

    fn update(&mut self, ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        ctx.info("updated by an ABI 1 library");
        Ok(None)
    }
}

fn forget(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    ctx.info(&format!("uninstalling {}", options.get("path").map_or("?", String::as_str)));
    Ok(())
}

buildout_core::export_recipes! {
    distribution: "abi1.recipes",
    version: env!("CARGO_PKG_VERSION"),
    entries: { "default" => Note, "note" => Note },
    uninstall: { "default" => forget, "note" => forget },
}
