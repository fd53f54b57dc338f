//! `buildout.testrecipes`: recipes whose behaviour the tests choose through options.
//!
//! * `mkdir`: creates directory `path` (relative to the buildout); `update` keeps it.
//! * `options`: adds `computed = <part>-<base>` in its constructor and, with `read =
//!   section:option`, stores that option's value as `read-value`.
//! * `fail`: fails in `construct`, `install` or `update` as option `fail-in` says.
//! * `panic`: panics in `construct`, `install` or `update` as option `panic-in` says.
//! * `noupdate`: like `mkdir` but without an `update` method.
//! * `files`: writes every name in `files` (relative to the buildout) with `content`.
//!
//! Uninstall entry `mkdir` logs before the directory is removed.
//!
//! For crash and lock tests, `BUILDOUT_TESTRECIPES_HOLD=<part>:<dir>` makes the `mkdir` install
//! of that part create its directory, write `<dir>/held` and wait (up to a minute) until
//! `<dir>/release` exists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use buildout_core::sdk::{Context, Options, Recipe, RecipeError};

fn absolute(ctx: &Context<'_>, path: &str) -> Result<PathBuf, RecipeError> {
    Ok(PathBuf::from(ctx.buildout_option("directory")?).join(path))
}

fn io(path: &std::path::Path, e: std::io::Error) -> RecipeError {
    RecipeError::user(format!("{}: {e}", path.display()))
}

struct Mkdir {
    path: PathBuf,
}

impl Recipe for Mkdir {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let path = absolute(ctx, options.require("path")?)?;
        options.set("path", path.display().to_string());
        Ok(Mkdir { path })
    }

    fn install(&mut self, ctx: &Context<'_>, _options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        ctx.created(&[&self.path])?;
        std::fs::create_dir_all(&self.path).map_err(|e| io(&self.path, e))?;
        ctx.info(&format!("Creating directory {}", self.path.display()));
        hold_if_asked(ctx.part());
        Ok(vec![self.path.clone()])
    }

    fn update(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

/// Waits where a test asked to (see the module documentation).
fn hold_if_asked(part: &str) {
    let Ok(spec) = std::env::var("BUILDOUT_TESTRECIPES_HOLD") else {
        return;
    };
    let Some((held_part, dir)) = spec.split_once(':') else {
        return;
    };
    if held_part != part {
        return;
    }
    let dir = PathBuf::from(dir);
    let _ = std::fs::write(dir.join("held"), part);
    for _ in 0..6000 {
        if dir.join("release").exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

struct NoUpdate(Mkdir);

impl Recipe for NoUpdate {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        Mkdir::new(ctx, options).map(NoUpdate)
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        self.0.install(ctx, options)
    }
}

struct Computed;

impl Recipe for Computed {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let base = options.get("base").unwrap_or("none").to_owned();
        options.set("computed", format!("{}-{base}", ctx.part()));
        if let Some(reference) = options.get("read").map(str::to_owned) {
            let (section, option) = reference
                .split_once(':')
                .ok_or_else(|| RecipeError::user(format!("read must be section:option, not {reference}")))?;
            let value = ctx.get(section, option)?.unwrap_or_else(|| "<missing>".to_owned());
            options.set("read-value", value);
        }
        Ok(Computed)
    }

    fn install(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }

    fn update(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

/// Fails or panics where asked; `how` is "fail" or "panic".
fn trouble(options: &Options, how: &str, step: &str) -> Result<(), RecipeError> {
    let key = format!("{how}-in");
    if options.get(&key) == Some(step) {
        if how == "panic" {
            panic!("{step} panicked as asked");
        }
        return Err(RecipeError::user(format!("{step} failed as asked")));
    }
    Ok(())
}

struct Trouble {
    how: &'static str,
    path: Option<PathBuf>,
}

impl Trouble {
    fn build(ctx: &Context<'_>, options: &mut Options, how: &'static str) -> Result<Trouble, RecipeError> {
        trouble(options, how, "construct")?;
        let path = options.get("path").map(|p| absolute(ctx, p)).transpose()?;
        Ok(Trouble { how, path })
    }

    fn run(&self, ctx: &Context<'_>, options: &Options, step: &str) -> Result<Vec<PathBuf>, RecipeError> {
        // Create first, so that a failure has something to roll back.
        if let Some(path) = &self.path {
            ctx.created(&[path])?;
            std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
        }
        trouble(options, self.how, step)?;
        Ok(self.path.iter().cloned().collect())
    }
}

struct Fail(Trouble);
struct Panic(Trouble);

impl Recipe for Fail {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        Trouble::build(ctx, options, "fail").map(Fail)
    }
    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        self.0.run(ctx, options, "install")
    }
    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.0.run(ctx, options, "update").map(Some)
    }
}

impl Recipe for Panic {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        Trouble::build(ctx, options, "panic").map(Panic)
    }
    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        self.0.run(ctx, options, "install")
    }
    fn update(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.0.run(ctx, options, "update").map(Some)
    }
}

struct Files {
    paths: Vec<PathBuf>,
}

impl Recipe for Files {
    fn new(ctx: &Context<'_>, options: &mut Options) -> Result<Self, RecipeError> {
        let paths = options.require("files")?.split_whitespace().map(|f| absolute(ctx, f)).collect::<Result<_, _>>()?;
        Ok(Files { paths })
    }

    fn install(&mut self, ctx: &Context<'_>, options: &Options) -> Result<Vec<PathBuf>, RecipeError> {
        let content = options.get("content").unwrap_or("");
        for path in &self.paths {
            ctx.created(&[path])?;
            std::fs::write(path, content).map_err(|e| io(path, e))?;
        }
        Ok(self.paths.clone())
    }

    fn update(&mut self, _ctx: &Context<'_>, _options: &Options) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

fn uninstall_mkdir(ctx: &Context<'_>, options: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    let path = options.get("path").map(String::as_str).unwrap_or("?");
    ctx.info(&format!("Uninstalling directory {path}"));
    Ok(())
}

buildout_core::export_recipes! {
    // Benchmarks build this library under other names to get many distinct libraries.
    distribution: match option_env!("BUILDOUT_TESTRECIPES_DIST") {
        Some(name) => name,
        None => "buildout.testrecipes",
    },
    version: env!("CARGO_PKG_VERSION"),
    entries: {
        "mkdir" => Mkdir,
        "default" => Mkdir,
        "options" => Computed,
        "fail" => Fail,
        "panic" => Panic,
        "noupdate" => NoUpdate,
        "files" => Files,
    },
    uninstall: { "mkdir" => uninstall_mkdir },
}
