//! The library behind the `buildout` command: everything a user of zc.buildout-style
//! configurations needs, without the command line.

pub mod config;
pub mod log;
