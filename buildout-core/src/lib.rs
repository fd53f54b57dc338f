//! The library behind the `buildout` command: everything a user of zc.buildout-style
//! configurations needs, without the command line.

pub mod abi;
pub mod config;
pub mod develop;
pub mod engine;
pub mod interrupt;
pub mod loader;
pub mod log;
pub mod python;
pub mod sdk;
