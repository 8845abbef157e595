//! Renderers: they format report structs and never compute figures.

pub mod engine;
pub mod overview;
pub mod table;

use serde::Serialize;

/// Version of the JSON contract; bump on any breaking change to field names or meaning.
pub const SCHEMA: u32 = 1;

/// Pretty JSON with a trailing newline, for every `--format json` view.
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("report structs always serialize");
    out.push('\n');
    out
}

/// Makes text from engines safe to print on a terminal: control characters
/// (escape sequences, newlines, tabs) become visible `\u{..}`-style escapes.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(sanitize("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert_eq!(sanitize("plain-name_1"), "plain-name_1");
    }
}
