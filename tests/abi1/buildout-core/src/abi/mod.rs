//! The stable ABI between `buildout` and recipe libraries (`cdylib`s built separately, possibly
//! with another rustc).
//!
//! The root module is frozen: it never gains a field (abi_stable refuses to load a library whose
//! root module has fewer fields than the host's). Everything that can grow travels as JSON in
//! `RString`s (`wire`), where unknown fields are ignored and missing ones take defaults; new
//! host services are new method names of [`HostHandle::call`], new recipe operations new method
//! names of [`RecipeLibrary::call`].
//!
//! Recipe authors never use this module directly: the `sdk` module and [`crate::export_recipes`]
//! generate the exports.

#![allow(unsafe_code)] // The FFI boundary; nothing else in the crate uses unsafe.

use std::ffi::c_void;

use abi_stable::library::{LibHeader, RootModule};
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr, RString};
use abi_stable::{StableAbi, declare_root_module_statics};

pub mod wire;

#[doc(hidden)]
pub use abi_stable as reexport;

/// The recipe ABI this buildout speaks. Set by hand, never from the crate version: a release of
/// buildout-core does not break existing recipe libraries. Bump the major only when the root
/// module or a type below changes layout (every library must then be rebuilt).
pub const ABI_VERSION: &str = "1.0.0";

/// A host service callable from a recipe: `call(ctx, method, json) -> json`. Errors are JSON
/// [`wire::RecipeError`]s.
pub type HostCall = extern "C" fn(ctx: *const c_void, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, RString>;

/// What a recipe gets to reach the host during a call: an opaque context and its entry point.
/// Valid only for the duration of the call it was passed to.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostHandle {
    pub ctx: *const c_void,
    pub call: extern "C" fn(ctx: *const c_void, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, RString>,
}

/// A recipe instance owned by its library, opaque to the host.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy)]
pub struct RecipeHandle(pub *mut c_void);

/// What constructing a recipe returns: the instance and a JSON [`wire::Constructed`].
#[repr(C)]
#[derive(StableAbi)]
pub struct Constructed {
    pub recipe: RecipeHandle,
    pub reply: RString,
}

/// The root module every recipe library exports. Frozen: see the module documentation.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RecipeLibraryRef)))]
#[sabi(missing_field(panic))]
pub struct RecipeLibrary {
    /// JSON [`wire::Metadata`].
    pub metadata: extern "C" fn() -> RString,
    /// Constructs the recipe of an entry from a JSON [`wire::Construct`].
    pub construct: extern "C" fn(host: HostHandle, request: RStr<'_>) -> RResult<Constructed, RString>,
    /// Runs `method` (`install`, `update`) on a recipe; the reply is JSON [`wire::Installed`].
    pub call: extern "C" fn(recipe: RecipeHandle, host: HostHandle, method: RStr<'_>) -> RResult<RString, RString>,
    /// Frees a recipe made by `construct`.
    pub release: extern "C" fn(recipe: RecipeHandle),
    /// Runs the uninstall entry of an entry name on a JSON [`wire::Uninstall`].
    #[sabi(last_prefix_field)]
    pub uninstall: extern "C" fn(host: HostHandle, request: RStr<'_>) -> RResult<RString, RString>,
}

impl RootModule for RecipeLibraryRef {
    declare_root_module_statics! {RecipeLibraryRef}
    const BASE_NAME: &'static str = "buildout_recipe";
    const NAME: &'static str = "buildout recipe library";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(ABI_VERSION);
}

/// Builds the root module from the library's functions (the export macro calls this).
#[doc(hidden)]
pub fn library(
    metadata: extern "C" fn() -> RString,
    construct: extern "C" fn(HostHandle, RStr<'_>) -> RResult<Constructed, RString>,
    call: extern "C" fn(RecipeHandle, HostHandle, RStr<'_>) -> RResult<RString, RString>,
    release: extern "C" fn(RecipeHandle),
    uninstall: extern "C" fn(HostHandle, RStr<'_>) -> RResult<RString, RString>,
) -> RecipeLibraryRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    RecipeLibrary { metadata, construct, call, release, uninstall }.leak_into_prefix()
}

/// The header a recipe library exports (what `#[export_root_module]` would generate), built here
/// so that the export macro expands to safe code in the recipe crate.
#[doc(hidden)]
pub const fn lib_header(loader: extern "C" fn() -> abi_stable::library::RootModuleResult) -> LibHeader {
    // SAFETY: `loader` returns the root module of type `RecipeLibraryRef`, which is what this
    // header declares; this is exactly the expansion of abi_stable's `export_root_module`.
    unsafe { LibHeader::from_constructor::<RecipeLibraryRef>(loader, abi_stable::library::CheckTypeLayout::Yes) }
}

/// Calls the library's root-module builder, catching panics (abi_stable's own loader glue).
#[doc(hidden)]
pub fn root_module_result(build: fn() -> RecipeLibraryRef) -> abi_stable::library::RootModuleResult {
    abi_stable::library::__call_root_module_loader(build)
}

/// Turns a host callback into a call of a Rust closure: the host passes `&dyn HostService` as the
/// context. Only the host side uses this.
pub trait HostService {
    fn call(&self, method: &str, payload: &str) -> Result<String, String>;
}

extern "C" fn host_trampoline(ctx: *const c_void, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, RString> {
    // SAFETY: `ctx` is the `&&dyn HostService` that `host_handle` made, alive for the call.
    let service: &&dyn HostService = unsafe { &*(ctx as *const &dyn HostService) };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.call(method.as_str(), payload.as_str())));
    match result {
        Ok(Ok(reply)) => RResult::ROk(reply.into()),
        Ok(Err(error)) => RResult::RErr(error.into()),
        Err(_) => {
            RResult::RErr(wire::RecipeError::internal("the host panicked while serving a recipe").to_json().into())
        }
    }
}

/// Makes a [`HostHandle`] for `service`, valid while `service` lives.
pub fn host_handle<'a>(service: &'a &'a dyn HostService) -> HostHandle {
    HostHandle { ctx: service as *const &dyn HostService as *const c_void, call: host_trampoline }
}

impl HostHandle {
    /// Calls a host service (from inside a recipe library).
    pub fn invoke(&self, method: &str, payload: &str) -> Result<String, String> {
        match (self.call)(self.ctx, method.into(), payload.into()) {
            RResult::ROk(s) => Ok(s.into()),
            RResult::RErr(e) => Err(e.into()),
        }
    }
}

/// Hands a boxed value to the host as an opaque handle.
#[doc(hidden)]
pub fn into_handle<T>(value: Box<T>) -> RecipeHandle {
    RecipeHandle(Box::into_raw(value).cast())
}

/// Borrows the value behind a handle made by [`into_handle`] with the same `T`.
///
/// # Safety
/// `handle` must come from `into_handle::<T>` and not have been released.
#[doc(hidden)]
pub unsafe fn handle_mut<'a, T>(handle: RecipeHandle) -> &'a mut T {
    // SAFETY: guaranteed by the caller.
    unsafe { &mut *handle.0.cast::<T>() }
}

/// Frees a handle made by [`into_handle`] with the same `T`.
///
/// # Safety
/// `handle` must come from `into_handle::<T>` and not have been released.
#[doc(hidden)]
pub unsafe fn release_handle<T>(handle: RecipeHandle) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(handle.0.cast::<T>()) });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_export_macro_uses_abi_stables_symbol_name() {
        assert_eq!(abi_stable::library::ROOT_MODULE_LOADER_NAME, "_1as_0lib_1header_0root_bmodule_bloader");
    }
}
