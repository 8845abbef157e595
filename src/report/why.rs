//! `why TARGET` as text: the target, a table of what keeps it, and what
//! removing it frees. Figures come from `why::WhyReport` unchanged.

use serde::Serialize;

use super::table::{Align, Table};
use crate::size::{display, Units};
use crate::why::{Candidate, Holder, Kind, WhyReport};

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

fn bytes(b: Option<u64>, lower_bound: bool, units: Units) -> String {
    match b {
        Some(b) if lower_bound => format!(">= {}", display(b, units)),
        Some(b) => display(b, units),
        None => "-".into(),
    }
}

fn holders_table(title: &str, holders: &[Holder], units: Units) -> String {
    let mut t = Table::new(&[
        (title, Align::Left),
        ("NAME", Align::Left),
        ("ID", Align::Left),
        ("STATE", Align::Left),
        ("PROJECT", Align::Left),
        ("CONTAINERS", Align::Right),
        ("FREES", Align::Right),
    ]);
    for h in holders {
        t.row([
            h.relation.as_str().to_string(),
            h.name.clone(),
            if h.kind == Kind::Volume {
                String::new()
            } else {
                short(&h.id).to_string()
            },
            h.state.map_or("", |s| s.as_str()).to_string(),
            h.project.clone().unwrap_or_else(|| "-".into()),
            h.containers.map_or(String::new(), |n| n.to_string()),
            bytes(h.frees_bytes, h.lower_bound, units),
        ]);
    }
    t.render()
}

impl WhyReport {
    pub fn table(&self, units: Units) -> String {
        let t = &self.target;
        let mut out = String::new();
        let size = bytes(t.bytes, false, units);
        let id = match t.kind {
            Kind::Volume | Kind::Blob => String::new(),
            Kind::Layer => format!(" (layer {})", short(&t.id)),
            _ => format!(" (id {})", short(&t.id)),
        };
        out.push_str(&format!("{} {}{id}: {size}", t.kind.as_str(), t.name));
        if let Some(row) = &t.row {
            out.push_str(&format!(", attributed to {row}"));
        }
        if let Some(state) = t.state {
            out.push_str(&format!(", {}", state.as_str()));
        }
        out.push('\n');
        if t.tags.len() > 1 {
            out.push_str(&format!("tags: {}\n", t.tags.join(", ")));
        }
        if !t.labels.is_empty() {
            let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("labels: {}\n", labels.join(", ")));
        }
        out.push('\n');
        if self.target.kind != Kind::Blob {
            if self.holders.is_empty() && self.lower_bound {
                out.push_str("No holder known (see the note below).\n");
            } else if self.holders.is_empty() {
                out.push_str("Nothing keeps it: no container, child image or pod.\n");
            } else {
                out.push_str(&holders_table("KEPT BY", &self.holders, units));
            }
        }
        if !self.related.is_empty() {
            out.push('\n');
            out.push_str(&holders_table("IT KEEPS", &self.related, units));
        }
        for s in &self.sites {
            out.push_str(&format!(
                "{} {} ({}): {}\n",
                s.kind.as_str(),
                s.cache.display(),
                s.path.display(),
                display(s.bytes, units)
            ));
            for r in s.referrers.iter().flatten() {
                let mut chain = vec![if r.tags.is_empty() {
                    "index.json".to_string()
                } else {
                    format!("index.json (tag {})", r.tags.join(", "))
                }];
                chain.extend(
                    r.chain
                        .iter()
                        .map(|d| format!("manifest {}", short(&d.to_string()))),
                );
                out.push_str(&format!("  referenced by {}\n", chain.join(" -> ")));
            }
        }
        out.push('\n');
        let lb = self.lower_bound;
        let own = self
            .holders
            .iter()
            .filter(|h| h.relation == crate::why::Relation::Container)
            .count();
        let it = match (t.kind, own) {
            (Kind::Image, 1) => "Removing it (and its container, as `podman rmi -f`)".to_string(),
            (Kind::Image, n) if n > 1 => {
                format!("Removing it (and its {n} containers, as `podman rmi -f`)")
            }
            _ => "Removing it".to_string(),
        };
        match (t.kind, self.frees_bytes, self.frees_with_holders_bytes) {
            (Kind::Blob, _, Some(all)) => out.push_str(&format!(
                "Removing every copy frees {}.\n",
                bytes(Some(all), lb, units)
            )),
            (Kind::Layer, _, Some(all)) => out.push_str(&format!(
                "It goes with the images holding it: removing them (and their containers) frees {}.\n",
                bytes(Some(all), lb, units)
            )),
            (_, Some(alone), Some(all)) if alone == all => out.push_str(&format!(
                "{it} frees {}.\n",
                bytes(Some(alone), lb, units)
            )),
            (_, Some(alone), Some(all)) => out.push_str(&format!(
                "{it} frees {}; with everything else that keeps it, {}.\n",
                bytes(Some(alone), lb, units),
                bytes(Some(all), lb, units)
            )),
            (_, None, Some(all)) => out.push_str(&format!(
                "Removing everything that keeps it frees {}.\n",
                bytes(Some(all), lb, units)
            )),
            _ => {}
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }
}

/// `--format json` when TARGET names several objects.
#[derive(Debug, Serialize)]
pub struct Ambiguous<'a> {
    pub schema: u32,
    pub query: &'a str,
    pub candidates: &'a [Candidate],
}

impl Ambiguous<'_> {
    pub fn table(&self) -> String {
        let mut t = Table::new(&[
            ("KIND", Align::Left),
            ("NAME", Align::Left),
            ("ID", Align::Left),
        ]);
        for c in self.candidates {
            t.row([c.kind.as_str(), &c.name, &c.id]);
        }
        format!(
            "{:?} names {} objects; name one with a longer id or --kind:\n{}",
            self.query,
            self.candidates.len(),
            t.render()
        )
    }
}
