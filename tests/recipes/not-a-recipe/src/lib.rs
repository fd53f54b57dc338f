//! A perfectly valid shared library that exports no recipe root module.

/// Something to export, so the library is not empty.
pub fn answer() -> u32 {
    42
}
