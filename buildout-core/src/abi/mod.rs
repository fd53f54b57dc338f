//! The stable ABI between `buildout` and recipe libraries (`cdylib`s built separately, possibly
//! with another rustc).
//!
//! Recipe ABI 2 is plain C: a library exports one static, [`RecipeLibrary`], under the symbol
//! [`LIBRARY_SYMBOL`], whose fields are `extern "C"` functions taking `#[repr(C)]` values. Nothing
//! owned crosses the boundary: requests and replies are borrowed bytes ([`Bytes`]) that the
//! receiver copies, replies are written through a [`Sink`] owned by the caller, so the two sides
//! may use different allocators. Everything that can grow travels as JSON in those bytes
//! ([`wire`]), where unknown fields are ignored and missing ones take defaults; new host services
//! are new method names of the host's `call`, new recipe operations new method names of the
//! library's `call`, and new functions are appended to [`RecipeLibrary`], whose `size` field says
//! which a library has.
//!
//! Libraries built for recipe ABI 1 (abi_stable's root module, buildout-core 0.1) are loaded by
//! the host through a frozen copy of that ABI (`v1`, host side only).
//!
//! Recipe authors never use this module directly: the `sdk` module and [`crate::export_recipes`]
//! generate the export. Every pointer below is private and every value that holds one borrows for
//! the length of one call, so safe code can neither forge nor keep one.

#![allow(unsafe_code)] // The FFI boundary; nothing else in the crate uses unsafe.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

#[cfg(feature = "host")]
pub(crate) mod v1;
pub mod wire;

/// The recipe ABI this buildout speaks. Set by hand, never from the crate version: a release of
/// buildout-core does not break existing recipe libraries. The major changes only when a
/// function of [`RecipeLibrary`] changes its signature or meaning (every library must then be
/// rebuilt); appending a function is a minor change.
pub const ABI_VERSION: &str = "2.1.0";
/// The major of [`ABI_VERSION`], as libraries declare it.
pub const ABI_MAJOR: u32 = 2;
/// The minor of [`ABI_VERSION`].
pub const ABI_MINOR: u32 = 1;
/// The recipe ABI majors this buildout loads: 1 (abi_stable, through `v1`) and 2.
pub const LOADABLE_MAJORS: [u32; 2] = [1, ABI_MAJOR];

/// The name of the static a recipe library exports, in every ABI from 2 on: its header says which
/// ABI the library speaks, so a library of a future, incompatible ABI is recognised and named.
pub const LIBRARY_SYMBOL: &str = "buildout_recipe_library";

/// The first bytes of [`RecipeLibrary`]: a symbol of that name that does not start with them is
/// not a recipe library.
pub const MAGIC: [u8; 8] = *b"BUILDOUT";

/// Borrowed bytes (UTF-8 JSON or text), valid for the call they are passed to.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> Bytes<'a> {
    pub fn new(bytes: &'a [u8]) -> Bytes<'a> {
        Bytes { ptr: bytes.as_ptr(), len: bytes.len(), _borrow: PhantomData }
    }

    pub fn as_slice(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: only `new` makes a `Bytes` (the fields are private), from a slice borrowed for
        // `'a`; across the boundary the other side's `new` did, for the length of the call.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes as text (invalid UTF-8 replaced).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(self.as_slice()).into_owned()
    }
}

impl<'a> From<&'a str> for Bytes<'a> {
    fn from(text: &'a str) -> Bytes<'a> {
        Bytes::new(text.as_bytes())
    }
}

/// Where the callee writes its reply: a buffer of the caller's, appended to through the caller's
/// own function (so the callee never allocates for the caller).
#[repr(C)]
pub struct Sink<'a> {
    buffer: *mut c_void,
    append: extern "C" fn(buffer: *mut c_void, bytes: Bytes<'_>),
    _borrow: PhantomData<&'a mut Vec<u8>>,
}

extern "C" fn append_to_vec(buffer: *mut c_void, bytes: Bytes<'_>) {
    // SAFETY: `buffer` is the `&mut Vec<u8>` that `Sink::new` took, borrowed for the sink's life.
    let buffer = unsafe { &mut *buffer.cast::<Vec<u8>>() };
    // Growing a Vec can only fail by aborting on allocation failure; nothing here unwinds.
    buffer.extend_from_slice(bytes.as_slice());
}

impl<'a> Sink<'a> {
    pub fn new(buffer: &'a mut Vec<u8>) -> Sink<'a> {
        Sink { buffer: (buffer as *mut Vec<u8>).cast(), append: append_to_vec, _borrow: PhantomData }
    }

    /// Appends `bytes` to the caller's buffer.
    pub fn write(&mut self, bytes: &[u8]) {
        (self.append)(self.buffer, Bytes::new(bytes));
    }
}

/// The result of a call across the boundary: [`Status::OK`], or [`Status::ERROR`] with a JSON
/// [`wire::RecipeError`] in the reply.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(u32);

impl Status {
    pub const OK: Status = Status(0);
    pub const ERROR: Status = Status(1);

    pub fn of<T, E>(result: &Result<T, E>) -> Status {
        if result.is_ok() { Status::OK } else { Status::ERROR }
    }

    pub fn is_ok(self) -> bool {
        self == Status::OK
    }
}

/// The host's services as a recipe reaches them during one call (`get`, `log`, `created`, ...):
/// `call(method, json)` answers JSON, or a JSON [`wire::RecipeError`]. It borrows the host for
/// the call it was passed to and cannot be kept beyond it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Host<'a> {
    service: *const c_void,
    call: extern "C" fn(service: *const c_void, method: Bytes<'_>, payload: Bytes<'_>, reply: Sink<'_>) -> Status,
    _borrow: PhantomData<&'a dyn HostService>,
}

/// What answers a recipe's calls to the host: the engine for a part, or a test host.
pub trait HostService {
    fn call(&self, method: &str, payload: &str) -> Result<String, String>;
}

extern "C" fn host_trampoline(
    service: *const c_void,
    method: Bytes<'_>,
    payload: Bytes<'_>,
    mut reply: Sink<'_>,
) -> Status {
    // SAFETY: `service` is the `&&dyn HostService` that `Host::with` made, alive for the call.
    let service: &&dyn HostService = unsafe { &*service.cast::<&dyn HostService>() };
    let result = catch_unwind(AssertUnwindSafe(|| service.call(&method.to_text(), &payload.to_text())));
    let result = match result {
        Ok(result) => result,
        Err(_) => Err(wire::RecipeError::internal("the host panicked while serving a recipe").to_json()),
    };
    let (Ok(text) | Err(text)) = &result;
    reply.write(text.as_bytes());
    Status::of(&result)
}

impl Host<'_> {
    /// Runs `f` with a [`Host`] that serves calls through `service`. The `Host` cannot leave `f`.
    pub fn with<R>(service: &dyn HostService, f: impl for<'h> FnOnce(Host<'h>) -> R) -> R {
        let service: &dyn HostService = service;
        let host =
            Host { service: (&service as *const &dyn HostService).cast(), call: host_trampoline, _borrow: PhantomData };
        f(host)
    }

    /// Calls a host service (from inside a recipe library).
    pub fn call(&self, method: &str, payload: &str) -> Result<String, String> {
        let mut reply = Vec::new();
        let status = (self.call)(self.service, method.into(), payload.into(), Sink::new(&mut reply));
        let reply = String::from_utf8_lossy(&reply).into_owned();
        if status.is_ok() { Ok(reply) } else { Err(reply) }
    }
}

/// A recipe instance owned by its library, opaque to the host; null when construction failed.
#[repr(transparent)]
pub struct Instance(*mut c_void);

impl Instance {
    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// Hands a boxed value to the host as an opaque instance.
    #[doc(hidden)]
    pub fn new<T>(value: Box<T>) -> Instance {
        Instance(Box::into_raw(value).cast())
    }

    #[doc(hidden)]
    pub fn null() -> Instance {
        Instance(std::ptr::null_mut())
    }

    /// Borrows the value behind an instance made by [`Instance::new`] with the same `T`.
    ///
    /// # Safety
    /// `self` must come from `Instance::new::<T>` and not have been released.
    #[doc(hidden)]
    pub unsafe fn get_mut<T>(&mut self) -> &mut T {
        // SAFETY: guaranteed by the caller.
        unsafe { &mut *self.0.cast::<T>() }
    }

    /// Frees an instance made by [`Instance::new`] with the same `T`.
    ///
    /// # Safety
    /// `self` must come from `Instance::new::<T>` and not have been released.
    #[doc(hidden)]
    pub unsafe fn release<T>(self) {
        // SAFETY: guaranteed by the caller.
        drop(unsafe { Box::from_raw(self.0.cast::<T>()) });
    }

    /// A second handle to the same instance, for the host to pass to the library again.
    #[cfg(feature = "host")]
    pub(crate) fn share(&self) -> Instance {
        Instance(self.0)
    }
}

/// The functions of a recipe library, exported as a static under [`LIBRARY_SYMBOL`].
///
/// Frozen layout: `magic`, `abi_major`, `abi_minor` and `size` come first in every version;
/// later minors only append functions, and `size` (the struct's size as the library was built)
/// tells the host which it has.
#[repr(C)]
pub struct RecipeLibrary {
    magic: [u8; 8],
    abi_major: u32,
    abi_minor: u32,
    size: usize,
    /// Writes JSON [`wire::Metadata`].
    metadata: extern "C" fn(out: Sink<'_>),
    /// Constructs the recipe of an entry from a JSON [`wire::Construct`]; writes a JSON
    /// [`wire::Constructed`], or an error and answers a null instance.
    construct: extern "C" fn(host: Host<'_>, request: Bytes<'_>, out: Sink<'_>) -> Instance,
    /// Runs `method` (`install`, `update`) on a recipe; writes JSON [`wire::Installed`].
    call: extern "C" fn(recipe: Instance, host: Host<'_>, method: Bytes<'_>, out: Sink<'_>) -> Status,
    /// Frees a recipe made by `construct`.
    release: extern "C" fn(recipe: Instance),
    /// Runs the uninstall entry named in a JSON [`wire::Uninstall`].
    uninstall: extern "C" fn(host: Host<'_>, request: Bytes<'_>, out: Sink<'_>) -> Status,
}

/// The functions a library passes to [`RecipeLibrary::new`].
pub type MetadataFn = extern "C" fn(Sink<'_>);
pub type ConstructFn = extern "C" fn(Host<'_>, Bytes<'_>, Sink<'_>) -> Instance;
pub type CallFn = extern "C" fn(Instance, Host<'_>, Bytes<'_>, Sink<'_>) -> Status;
pub type ReleaseFn = extern "C" fn(Instance);
pub type UninstallFn = extern "C" fn(Host<'_>, Bytes<'_>, Sink<'_>) -> Status;

impl RecipeLibrary {
    /// The table the export macro puts in the library.
    #[doc(hidden)]
    pub const fn new(
        metadata: MetadataFn,
        construct: ConstructFn,
        call: CallFn,
        release: ReleaseFn,
        uninstall: UninstallFn,
    ) -> RecipeLibrary {
        RecipeLibrary {
            magic: MAGIC,
            abi_major: ABI_MAJOR,
            abi_minor: ABI_MINOR,
            size: size_of::<RecipeLibrary>(),
            metadata,
            construct,
            call,
            release,
            uninstall,
        }
    }

    /// What the header of a table says: the ABI major and minor and the table's size, or `None`
    /// if it does not start with [`MAGIC`].
    ///
    /// # Safety
    /// `table` must point to readable memory of at least the header's size (a static exported
    /// under [`LIBRARY_SYMBOL`]).
    #[cfg(feature = "host")]
    pub(crate) unsafe fn header(table: *const RecipeLibrary) -> Option<(u32, u32, usize)> {
        // SAFETY: the header fields come first in every version of the table; the caller
        // guarantees they are readable. Read field by field, not as a whole `RecipeLibrary`.
        unsafe {
            let magic = std::ptr::addr_of!((*table).magic).read_unaligned();
            if magic != MAGIC {
                return None;
            }
            let major = std::ptr::addr_of!((*table).abi_major).read_unaligned();
            let minor = std::ptr::addr_of!((*table).abi_minor).read_unaligned();
            let size = std::ptr::addr_of!((*table).size).read_unaligned();
            Some((major, minor, size))
        }
    }

    #[cfg(feature = "host")]
    pub(crate) fn metadata(&self) -> String {
        let mut out = Vec::new();
        (self.metadata)(Sink::new(&mut out));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[cfg(feature = "host")]
    pub(crate) fn construct(&self, service: &dyn HostService, request: &str) -> Result<(Instance, String), String> {
        let mut out = Vec::new();
        let instance = Host::with(service, |host| (self.construct)(host, request.into(), Sink::new(&mut out)));
        let out = String::from_utf8_lossy(&out).into_owned();
        if instance.is_null() { Err(out) } else { Ok((instance, out)) }
    }

    #[cfg(feature = "host")]
    pub(crate) fn call(&self, recipe: &Instance, service: &dyn HostService, method: &str) -> Result<String, String> {
        let mut out = Vec::new();
        let status = Host::with(service, |host| (self.call)(recipe.share(), host, method.into(), Sink::new(&mut out)));
        let out = String::from_utf8_lossy(&out).into_owned();
        if status.is_ok() { Ok(out) } else { Err(out) }
    }

    #[cfg(feature = "host")]
    pub(crate) fn release(&self, recipe: Instance) {
        (self.release)(recipe);
    }

    #[cfg(feature = "host")]
    pub(crate) fn uninstall(&self, service: &dyn HostService, request: &str) -> Result<String, String> {
        let mut out = Vec::new();
        let status = Host::with(service, |host| (self.uninstall)(host, request.into(), Sink::new(&mut out)));
        let out = String::from_utf8_lossy(&out).into_owned();
        if status.is_ok() { Ok(out) } else { Err(out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl HostService for Echo {
        fn call(&self, method: &str, payload: &str) -> Result<String, String> {
            match method {
                "echo" => Ok(payload.to_owned()),
                "panic" => panic!("the test host panics"),
                other => Err(format!("no method {other}")),
            }
        }
    }

    #[test]
    fn host_calls_cross_and_come_back() {
        let cases: [(&str, &str, Result<&str, &str>); 3] =
            [("echo", "{\"a\":1}", Ok("{\"a\":1}")), ("echo", "", Ok("")), ("nope", "x", Err("no method nope"))];
        for (method, payload, expected) in cases {
            let got = Host::with(&Echo, |host| host.call(method, payload));
            assert_eq!(got, expected.map(str::to_owned).map_err(str::to_owned), "{method}");
        }
        let panicked = Host::with(&Echo, |host| host.call("panic", "")).expect_err("a panic is an error");
        assert!(panicked.contains("the host panicked"), "{panicked}");
    }

    #[test]
    fn sinks_append_to_the_callers_buffer() {
        let mut buffer = b"a".to_vec();
        let mut sink = Sink::new(&mut buffer);
        sink.write(b"bc");
        sink.write(b"");
        sink.write("dé".as_bytes());
        assert_eq!(String::from_utf8(buffer).expect("utf-8"), "abcdé");
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn the_table_header_is_frozen() {
        // The host reads these offsets from libraries of every ABI 2 minor.
        assert_eq!(std::mem::offset_of!(RecipeLibrary, magic), 0);
        assert_eq!(std::mem::offset_of!(RecipeLibrary, abi_major), 8);
        assert_eq!(std::mem::offset_of!(RecipeLibrary, abi_minor), 12);
        assert_eq!(std::mem::offset_of!(RecipeLibrary, size), 16);
        assert_eq!(std::mem::offset_of!(RecipeLibrary, metadata), 24);
        assert_eq!(ABI_VERSION, format!("{ABI_MAJOR}.{ABI_MINOR}.0"));
    }
}
