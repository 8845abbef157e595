//! The integration tests, one binary (one link instead of one per file).
//! Tests that need root or a real engine are `#[ignore]`d with the reason;
//! CI runs them with `--include-ignored`. Run one module with
//! `cargo test --test it MODULE::`.

mod common;

mod build_leftovers;
mod caches;
mod clarity;
mod docker;
mod docker_plugin;
mod du;
mod engine_docker;
mod faults;
mod fuzz;
mod libpod_bolt;
mod libpod_sqlite;
mod man;
mod one_walk;
mod ops;
mod packages;
mod plan;
mod podman;
mod projects;
mod prune_stress;
mod registry;
mod remote;
mod replay;
mod schema;
mod setups;
mod shell;
mod sort;
mod store_metadata;
mod terminal;
mod version;
mod why;
