//! Exports a recipe table under buildout's symbol whose header claims recipe ABI 3.1, as a
//! library built against a future buildout-core would.

/// A future table: the frozen header, then functions this buildout does not know.
#[repr(C)]
pub struct FutureLibrary {
    magic: [u8; 8],
    abi_major: u32,
    abi_minor: u32,
    size: usize,
    describe: extern "C" fn() -> u32,
}

extern "C" fn describe() -> u32 {
    3
}

#[allow(unsafe_code, non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static buildout_recipe_library: FutureLibrary =
    FutureLibrary { magic: *b"BUILDOUT", abi_major: 3, abi_minor: 1, size: size_of::<FutureLibrary>(), describe };
