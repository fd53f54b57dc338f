//! The library behind the `buildout` command: everything a user of zc.buildout-style
//! configurations needs, without the command line.

//!
//! Features: `host` (default) is buildout itself (the configuration language, the engine, the
//! loader); `python` is what recipes that install Python distributions need (the installer,
//! the index client, [`sdk::python`]). A recipe crate turns default features off and gets the
//! recipe ABI and the SDK alone.

pub mod abi;
#[cfg(feature = "python")]
pub mod config;
#[cfg(feature = "host")]
pub mod develop;
#[cfg(feature = "host")]
pub mod engine;
#[cfg(feature = "python")]
pub mod http;
#[cfg(feature = "python")]
pub mod interrupt;
#[cfg(feature = "host")]
pub mod loader;
#[cfg(feature = "python")]
pub mod log;
#[cfg(feature = "host")]
pub mod ops;
// Wheels of native code (recipe wheels, buildout's own) read ELF files and load libraries.
#[cfg(feature = "host")]
pub mod package;
#[cfg(feature = "python")]
pub mod python;
#[cfg(feature = "host")]
pub mod recipe_wheel;
pub mod sdk;
#[cfg(feature = "python")]
mod stable_hash;
#[cfg(feature = "python")]
pub mod user_cache;
