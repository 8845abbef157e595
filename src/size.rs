//! Parse and format human sizes. STUB: the real implementation replaces this file.

use thiserror::Error;

/// A size as an engine printed it: a count of bytes, or a value that is
/// reported but never added (negative sizes from engine bugs, `N/A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Bytes(u64),
    /// A negative size such as `-2768B`; holds the magnitude in bytes.
    Negative(u64),
    NotAvailable,
}

/// A size with the annotations engines print after it:
/// `12B (virtual 3.36MB)` or `23.49MB (87%)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Annotated {
    pub size: Reading,
    pub virtual_size: Option<Reading>,
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("not a size: {0:?}")]
    Invalid(String),
    #[error("size out of range: {0:?}")]
    Overflow(String),
}

/// How tables print sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// SI units with three significant digits, like podman: `3.37 MB`.
    #[default]
    Si,
    /// Integer bytes.
    Bytes,
}

pub fn parse(s: &str) -> Result<Reading, SizeError> {
    let _ = s;
    todo!("size::parse")
}

pub fn parse_bytes(s: &str) -> Result<u64, SizeError> {
    match parse(s)? {
        Reading::Bytes(b) => Ok(b),
        _ => Err(SizeError::Invalid(s.to_string())),
    }
}

pub fn parse_annotated(s: &str) -> Result<Annotated, SizeError> {
    let _ = s;
    todo!("size::parse_annotated")
}

/// `3.37 MB`, like `podman images`.
pub fn format(bytes: u64) -> String {
    format!("{bytes} B")
}

pub fn display(bytes: u64, units: Units) -> String {
    match units {
        Units::Si => format(bytes),
        Units::Bytes => bytes.to_string(),
    }
}
