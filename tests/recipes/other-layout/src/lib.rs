//! Claims recipe ABI 1.0.0 but exports a root module of another shape, as a library built
//! against a buildout-core whose ABI changed without a version bump would.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RString;
use abi_stable::{StableAbi, declare_root_module_statics, export_root_module, prefix_type::PrefixTypeTrait};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = OtherLibraryRef)))]
pub struct OtherLibrary {
    pub metadata: extern "C" fn() -> RString,
    #[sabi(last_prefix_field)]
    pub count: extern "C" fn(u64) -> u64,
}

impl RootModule for OtherLibraryRef {
    declare_root_module_statics! {OtherLibraryRef}
    const BASE_NAME: &'static str = "buildout_recipe";
    const NAME: &'static str = "buildout recipe library";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}

extern "C" fn metadata() -> RString {
    RString::from("{\"distribution\":\"other.layout\"}")
}

extern "C" fn count(n: u64) -> u64 {
    n + 1
}

#[export_root_module]
fn root_module() -> OtherLibraryRef {
    OtherLibrary { metadata, count }.leak_into_prefix()
}
