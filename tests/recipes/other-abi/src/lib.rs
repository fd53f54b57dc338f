//! Exports a root module under buildout's root-module name but claiming recipe ABI 2.0.0, as a
//! library built against a future buildout-core would.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RString;
use abi_stable::{StableAbi, declare_root_module_statics, export_root_module, prefix_type::PrefixTypeTrait};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = FutureLibraryRef)))]
pub struct FutureLibrary {
    #[sabi(last_prefix_field)]
    pub metadata: extern "C" fn() -> RString,
}

impl RootModule for FutureLibraryRef {
    declare_root_module_statics! {FutureLibraryRef}
    const BASE_NAME: &'static str = "buildout_recipe";
    const NAME: &'static str = "buildout recipe library";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("2.0.0");
}

extern "C" fn metadata() -> RString {
    RString::from("{\"distribution\":\"other.abi\"}")
}

#[export_root_module]
fn root_module() -> FutureLibraryRef {
    FutureLibrary { metadata }.leak_into_prefix()
}
