//! End-to-end tests: one test binary, one module per area.

mod config_fixtures;
mod engine;
mod engine_fixtures;
mod loading;
mod takeover;
