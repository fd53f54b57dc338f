//! The recipe side of buildout-core 0.1.0 (recipe ABI 1.0.0), as released: `abi/` and `sdk.rs`
//! are that release's files (the SDK without its test host and the host-only helpers), kept so
//! that a library built for ABI 1 can be built and loaded by every later buildout. Do not edit.

pub mod abi;
pub mod sdk;
