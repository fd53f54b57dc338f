//! End-to-end tests: one test binary, one module per area.

mod config_fixtures;
mod develop;
mod egg_fixtures;
mod eggs;
mod engine;
mod engine_fixtures;
mod index_cache;
mod interrupt;
mod loading;
mod plone_style;
mod production_example;
mod pypi_stacks;
mod python_bridge;
mod recipe_fixtures;
mod recipe_wheels;
mod remote_extends;
mod sdk;
mod takeover;
mod zeo_live;
mod zodb_fixtures;
