//! `growth`: the comparison of two reports, as JSON or a table.

use serde::Serialize;

use super::table::{Align, Table};
use super::{sanitize, SCHEMA};
use crate::growth::{Growth, State, Thing};
use crate::size::{display, Units};

/// One side of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// RFC 3339 UTC.
    pub taken_at: String,
    /// The snapshot file or report compared with; `null` for a live measurement.
    pub source: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GrowthReport {
    pub schema: u32,
    pub then: Point,
    pub now: Point,
    pub seconds: u64,
    #[serde(flatten)]
    pub growth: Growth,
    pub warnings: Vec<String>,
}

impl GrowthReport {
    pub fn new(
        then: Point,
        now: Point,
        seconds: u64,
        growth: Growth,
        warnings: Vec<String>,
    ) -> Self {
        GrowthReport {
            schema: SCHEMA,
            then,
            now,
            seconds,
            growth,
            warnings,
        }
    }

    pub fn table(&self, units: Units) -> String {
        let days = self.seconds as f64 / 86_400.0;
        let mut out = format!(
            "Since {} ({days:.1} days{})\n",
            self.then.taken_at,
            self.then
                .source
                .as_deref()
                .map(|s| format!(", {}", sanitize(s)))
                .unwrap_or_default()
        );
        let changed: Vec<_> = self
            .growth
            .changes
            .iter()
            .filter(|c| c.state != State::Same)
            .collect();
        if changed.is_empty() {
            out.push_str("No change.\n");
        } else {
            let mut t = Table::new(&[
                ("WHAT", Align::Left),
                ("FIGURE", Align::Left),
                ("THEN", Align::Right),
                ("NOW", Align::Right),
                ("CHANGE", Align::Right),
                ("PER DAY", Align::Right),
            ]);
            let opt = |b: Option<u64>| b.map_or("-".to_string(), |b| display(b, units));
            for c in changed {
                let host = if c.host.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", sanitize(&c.host))
                };
                t.row([
                    format!("{host}{} {}", c.kind, sanitize(&c.label)),
                    c.measure.clone(),
                    opt(c.then_bytes),
                    opt(c.now_bytes),
                    signed(c.change_bytes, units),
                    signed(c.per_day_bytes, units),
                ]);
            }
            out.push_str(&t.render());
        }
        for (title, things) in [
            ("New", &self.growth.new),
            ("Vanished", &self.growth.vanished),
        ] {
            if !things.is_empty() {
                out.push_str(&format!("{title}: {}\n", names(things)));
            }
        }
        out
    }
}

fn signed(n: i64, units: Units) -> String {
    let sign = if n > 0 {
        "+"
    } else if n < 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", display(n.unsigned_abs(), units))
}

fn names(things: &[Thing]) -> String {
    things
        .iter()
        .map(|t| {
            let host = if t.host.is_empty() {
                String::new()
            } else {
                format!("{}: ", t.host)
            };
            sanitize(&format!("{host}{} {}", t.kind, t.label))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
