//! podman-storage: exact-once storage accounting for container hosts.
//!
//! Data flows one way: sources (`engine`, `caches`, `walk`) return typed
//! structs with exact byte counts, `account` attributes every byte to exactly
//! one row, and `report` renders the result. The library knows nothing of clap.

pub mod account;
pub mod budget;
pub mod caches;
pub mod config;
pub mod dirs;
pub mod engine;
pub mod fnv;
pub mod growth;
pub mod history;
pub mod plan;
pub mod projects;
pub mod report;
pub mod runner;
pub mod select;
pub mod size;
pub mod status;
pub mod timestamp;
pub mod views;
pub mod walk;
pub mod why;

pub use status::{Status, Warnings};
