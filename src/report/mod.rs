//! Renderers: they format report structs and never compute figures;
//! `json` is the `--format json` contract, converted from the same reports.

pub mod caches;
pub mod du;
pub mod engine;
pub mod growth;
pub mod json;
pub mod overview;
pub mod plan;
pub mod prometheus;
pub mod table;
pub mod why;

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

/// Colors a rendered table for a terminal: the header bold, totals bold,
/// synthetic rows (`(shared)`, `(global)`, ...) dim, bars cyan. Applied after
/// layout, so escape codes never shift columns; cells were sanitized before,
/// so the only escapes in the output are these.
pub fn paint(table: &str) -> String {
    const BOLD: &str = "\x1b[1m";
    const DIM: &str = "\x1b[2m";
    const CYAN: &str = "\x1b[36m";
    const RESET: &str = "\x1b[0m";
    let mut out = String::with_capacity(table.len() + 64);
    let mut header_next = true;
    for line in table.split_inclusive('\n') {
        let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let trimmed = body.trim_start();
        let bar = body.find('█');
        let styled = if body.is_empty() {
            header_next = true;
            String::new()
        } else if header_next && body.chars().any(|c| c.is_ascii_uppercase()) && !body.contains('█')
        {
            header_next = false;
            format!("{BOLD}{body}{RESET}")
        } else if trimmed.starts_with("Total")
            || trimmed.starts_with("TOTAL")
            || trimmed.starts_with("Grand total")
        {
            format!("{BOLD}{body}{RESET}")
        } else {
            let (text, bars) = match bar {
                Some(i) => body.split_at(i),
                None => (body, ""),
            };
            let text = if trimmed.starts_with('(') {
                format!("{DIM}{text}{RESET}")
            } else {
                text.to_string()
            };
            if bars.is_empty() {
                text
            } else {
                format!("{text}{CYAN}{bars}{RESET}")
            }
        };
        out.push_str(&styled);
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod paint_tests {
    use super::paint;

    #[test]
    fn paints_header_totals_synthetic_rows_and_bars() {
        let t = "NAME  SIZE\nweb   1 B  ██\n(shared)  2 B\nTotal  3 B\n";
        let p = paint(t);
        assert!(p.starts_with("\x1b[1mNAME  SIZE\x1b[0m\n"), "{p:?}");
        assert!(p.contains("web   1 B  \x1b[36m██\x1b[0m"), "{p:?}");
        assert!(p.contains("\x1b[2m(shared)  2 B\x1b[0m"), "{p:?}");
        assert!(p.contains("\x1b[1mTotal  3 B\x1b[0m"), "{p:?}");
        // Stripping the escapes gives back the table.
        let plain = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&p, "");
        assert_eq!(plain, t);
    }
}
