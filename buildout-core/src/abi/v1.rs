//! Recipe ABI 1 (buildout-core 0.1, abi_stable), host side only: libraries built for it keep
//! loading. Frozen: these types must keep their names, fields and layout, and the package that
//! defines them must stay `buildout-core` 0.1.x, because abi_stable compares all of that with
//! what each library was built against (`tests/abi1` holds such a library's sources).

// Public items in a private module: abi_stable records fields' and types' visibility in the
// layout it checks, so they stay exactly as ABI 1 declared them (all `pub`), while nothing
// outside this crate can reach them.
#![allow(unreachable_pub)]

use std::ffi::c_void;

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr, RString};
use abi_stable::{StableAbi, declare_root_module_statics};

use super::{HostService, wire};

/// The version ABI 1 libraries declared.
pub(crate) const ABI_VERSION: &str = "1.0.0";

/// What a recipe got to reach the host during a call. Valid only for the duration of the call
/// it was passed to; made only by [`with_host`].
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

/// What constructing a recipe returned: the instance and a JSON [`wire::Constructed`].
#[repr(C)]
#[derive(StableAbi)]
pub struct Constructed {
    pub recipe: RecipeHandle,
    pub reply: RString,
}

/// The root module every ABI 1 library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RecipeLibraryRef)))]
#[sabi(missing_field(panic))]
pub struct RecipeLibrary {
    pub metadata: extern "C" fn() -> RString,
    pub construct: extern "C" fn(host: HostHandle, request: RStr<'_>) -> RResult<Constructed, RString>,
    pub call: extern "C" fn(recipe: RecipeHandle, host: HostHandle, method: RStr<'_>) -> RResult<RString, RString>,
    pub release: extern "C" fn(recipe: RecipeHandle),
    #[sabi(last_prefix_field)]
    pub uninstall: extern "C" fn(host: HostHandle, request: RStr<'_>) -> RResult<RString, RString>,
}

impl RootModule for RecipeLibraryRef {
    declare_root_module_statics! {RecipeLibraryRef}
    const BASE_NAME: &'static str = "buildout_recipe";
    const NAME: &'static str = "buildout recipe library";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(ABI_VERSION);
}

extern "C" fn host_trampoline(ctx: *const c_void, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, RString> {
    // SAFETY: `ctx` is the `&&dyn HostService` that `with_host` made, alive for the call.
    let service: &&dyn HostService = unsafe { &*ctx.cast::<&dyn HostService>() };
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

/// Runs `f` with a [`HostHandle`] serving calls through `service`.
pub(crate) fn with_host<R>(service: &dyn HostService, f: impl FnOnce(HostHandle) -> R) -> R {
    let service: &dyn HostService = service;
    f(HostHandle { ctx: (&service as *const &dyn HostService).cast(), call: host_trampoline })
}
