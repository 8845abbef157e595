//! View assembly: one function per view gathers from the sources, accounts
//! and returns the report its renderer (`report::`) and JSON type take.
//! `cmd/` only parses arguments, calls one of these, prints and exits.

pub mod caches;
pub mod du;
pub mod engine;
pub mod overview;
pub mod project;
