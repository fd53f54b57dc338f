//! The library side of the recipe ABI, generated into every recipe crate by
//! [`crate::export_recipes`]: the table's functions turn the host's JSON requests into calls of
//! [`Recipe`] methods, catch panics, and write replies and errors back.

#![allow(unsafe_code)] // Only to borrow the recipe behind an instance handle the host passes back.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use super::{Context, Options, Recipe, RecipeError, UninstallFn};
use crate::abi::wire::{self, ErrorKind};
use crate::abi::{Bytes, Host, Instance, Sink, Status};

/// A constructed recipe, whatever its type.
#[doc(hidden)]
pub trait DynRecipe {
    fn run(&mut self, method: &str, ctx: &Context<'_>) -> Result<wire::Installed, RecipeError>;
}

struct Constructed<R> {
    recipe: R,
    options: Options,
}

impl<R: Recipe> DynRecipe for Constructed<R> {
    fn run(&mut self, method: &str, ctx: &Context<'_>) -> Result<wire::Installed, RecipeError> {
        let paths = match method {
            "install" => Some(self.recipe.install(ctx, &self.options)?),
            "update" => self.recipe.update(ctx, &self.options)?,
            other => {
                return Err(RecipeError::internal(format!("unknown recipe method '{other}'")));
            }
        };
        let paths = paths.map(|p| p.iter().map(|p| p.display().to_string()).collect());
        Ok(wire::Installed { paths, used: self.options.take_used() })
    }
}

/// Constructs a recipe of type `R`; one per entry in the export table.
#[doc(hidden)]
pub type Factory =
    for<'h> fn(&Context<'h>, wire::Construct) -> Result<(Box<dyn DynRecipe>, wire::Constructed), RecipeError>;

#[doc(hidden)]
pub fn factory<R: Recipe>(
    ctx: &Context<'_>,
    request: wire::Construct,
) -> Result<(Box<dyn DynRecipe>, wire::Constructed), RecipeError> {
    let mut options = Options::new(request.part, request.options);
    let recipe = R::new(ctx, &mut options)?;
    let reply =
        wire::Constructed { options: options.values.clone(), used: options.take_used(), signature: recipe.signature() };
    Ok((Box::new(Constructed { recipe, options }), reply))
}

/// What an [`Instance`] handed to the host points to.
struct Boxed {
    recipe: Box<dyn DynRecipe>,
    part: String,
    buildout: BTreeMap<String, String>,
}

thread_local! {
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics in a recipe become errors naming the part; the library's own hook would print a
/// backtrace to stderr, so replace it with one that keeps the message for the error.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{location}")));
        }));
    });
}

/// Runs recipe code as the host would: a panic is an error of kind `Panic` with the panic's
/// message (and its location as the detail).
pub(super) fn guarded<T>(body: impl FnOnce() -> Result<T, RecipeError>) -> Result<T, RecipeError> {
    quiet_panics();
    // This library's copy of `interrupt` sees Ctrl-C and SIGTERM from its first call on, so
    // that recipe code (unpacking, linking) can stop in the middle of a part: the host watches
    // already, and its handler is chained after ours.
    #[cfg(feature = "python")]
    crate::interrupt::watch();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(_) => {
            let detail = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            let message = detail.split(" at ").next().unwrap_or_default().to_owned();
            Err(RecipeError::from_wire(wire::RecipeError {
                kind: ErrorKind::Panic,
                message,
                detail: Some(detail),
                doing: Vec::new(),
            }))
        }
    }
}

/// Writes a reply (or the error) and answers the status.
fn reply(result: Result<String, RecipeError>, mut out: Sink<'_>) -> Status {
    let status = Status::of(&result);
    let text = result.unwrap_or_else(|e| e.into_wire().to_json());
    out.write(text.as_bytes());
    status
}

fn to_json(value: &impl serde::Serialize) -> Result<String, RecipeError> {
    serde_json::to_string(value).map_err(|e| RecipeError::internal(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(text: Bytes<'_>) -> Result<T, RecipeError> {
    serde_json::from_slice(text.as_slice())
        .map_err(|e| RecipeError::internal(format!("bad request from buildout: {e}")))
}

#[doc(hidden)]
pub fn metadata_impl(
    distribution: &str,
    version: &str,
    entries: &[(&str, Factory)],
    uninstall: &[(&str, UninstallFn)],
    mut out: Sink<'_>,
) {
    let metadata = wire::Metadata {
        distribution: distribution.to_owned(),
        version: version.to_owned(),
        entries: entries.iter().map(|(name, _)| (*name).to_owned()).collect(),
        uninstall: uninstall.iter().map(|(name, _)| (*name).to_owned()).collect(),
    };
    out.write(to_json(&metadata).unwrap_or_default().as_bytes());
}

#[doc(hidden)]
pub fn construct_impl(entries: &[(&str, Factory)], host: Host<'_>, request: Bytes<'_>, mut out: Sink<'_>) -> Instance {
    let result = guarded(|| {
        let request: wire::Construct = parse(request)?;
        let factory = entries
            .iter()
            .find(|(name, _)| *name == request.entry)
            .map(|(_, f)| *f)
            .ok_or_else(|| RecipeError::internal(format!("no recipe entry '{}'", request.entry)))?;
        let part = request.part.clone();
        let buildout = request.buildout.clone();
        let ctx = Context { host, part: &part, buildout: &buildout };
        let (recipe, constructed) = factory(&ctx, request)?;
        let reply = to_json(&constructed)?;
        Ok((Boxed { recipe, part, buildout }, reply))
    });
    match result {
        Ok((boxed, text)) => {
            out.write(text.as_bytes());
            Instance::new(Box::new(boxed))
        }
        Err(e) => {
            out.write(e.into_wire().to_json().as_bytes());
            Instance::null()
        }
    }
}

#[doc(hidden)]
pub fn call_impl(mut recipe: Instance, host: Host<'_>, method: Bytes<'_>, out: Sink<'_>) -> Status {
    let result = guarded(|| {
        // SAFETY: the host only passes instances `construct_impl` made and has not released.
        let boxed: &mut Boxed = unsafe { recipe.get_mut() };
        let ctx = Context { host, part: &boxed.part, buildout: &boxed.buildout };
        let installed = boxed.recipe.run(&method.to_text(), &ctx)?;
        to_json(&installed)
    });
    reply(result, out)
}

#[doc(hidden)]
pub fn release_impl(recipe: Instance) {
    // SAFETY: as in `call_impl`; the host releases each instance once.
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { recipe.release::<Boxed>() }));
    drop(result);
}

#[doc(hidden)]
pub fn uninstall_impl(uninstall: &[(&str, UninstallFn)], host: Host<'_>, request: Bytes<'_>, out: Sink<'_>) -> Status {
    let result = guarded(|| {
        let request: wire::Uninstall = parse(request)?;
        let Some((_, f)) = uninstall.iter().find(|(name, _)| *name == request.entry) else {
            return Ok(String::new());
        };
        let empty = BTreeMap::new();
        let ctx = Context { host, part: &request.part, buildout: &empty };
        f(&ctx, &request.options)?;
        Ok(String::new())
    });
    reply(result, out)
}

/// Exports a recipe library: its distribution name, version, install entries and optional
/// uninstall entries. See the [`sdk`](crate::sdk) module for an example.
///
/// It expands to the table of recipe ABI functions, exported as one `no_mangle` static (so a
/// recipe crate can `deny` but not `forbid` `unsafe_code`).
#[macro_export]
macro_rules! export_recipes {
    (
        distribution: $dist:expr,
        version: $version:expr,
        entries: { $($entry:literal => $recipe:ty),* $(,)? }
        $(, uninstall: { $($uentry:literal => $ufn:path),* $(,)? })?
        $(,)?
    ) => {
        // A panic must unwind to the SDK's guard, which turns it into an error naming the part;
        // with `panic = "abort"` it would kill buildout itself, silently.
        #[cfg(panic = "abort")]
        compile_error!(
            "a buildout recipe library must be built with panic = \"unwind\" (the default): with \
             panic = \"abort\" a panicking recipe would kill buildout instead of failing its part; \
             remove `panic = \"abort\"` from the profile (or `-C panic=abort` from RUSTFLAGS)"
        );
        const _: () = {
            use $crate::abi::{Bytes, Host, Instance, RecipeLibrary, Sink, Status};

            const ENTRIES: &[(&str, $crate::sdk::Factory)] = &[$(($entry, $crate::sdk::factory::<$recipe>)),*];
            const UNINSTALL: &[(&str, $crate::sdk::UninstallFn)] = &[$($(($uentry, $ufn)),*)?];

            extern "C" fn __buildout_metadata(out: Sink<'_>) {
                $crate::sdk::metadata_impl($dist, $version, ENTRIES, UNINSTALL, out)
            }
            extern "C" fn __buildout_construct(host: Host<'_>, request: Bytes<'_>, out: Sink<'_>) -> Instance {
                $crate::sdk::construct_impl(ENTRIES, host, request, out)
            }
            extern "C" fn __buildout_call(recipe: Instance, host: Host<'_>, method: Bytes<'_>, out: Sink<'_>) -> Status {
                $crate::sdk::call_impl(recipe, host, method, out)
            }
            extern "C" fn __buildout_release(recipe: Instance) {
                $crate::sdk::release_impl(recipe)
            }
            extern "C" fn __buildout_uninstall(host: Host<'_>, request: Bytes<'_>, out: Sink<'_>) -> Status {
                $crate::sdk::uninstall_impl(UNINSTALL, host, request, out)
            }
            // The name is `abi::LIBRARY_SYMBOL`. The functions' names are the crate's own
            // namespace's: a recipe's own `fn uninstall` must not shadow them.
            #[allow(unsafe_code, non_upper_case_globals)]
            #[unsafe(no_mangle)]
            pub static buildout_recipe_library: RecipeLibrary =
                RecipeLibrary::new(
                    __buildout_metadata,
                    __buildout_construct,
                    __buildout_call,
                    __buildout_release,
                    __buildout_uninstall,
                );
        };
    };
}
