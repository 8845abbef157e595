//! `plan` and `prune images|containers|volumes|all`: the plan as a table,
//! JSON or a shell script, and what a prune did.

use serde::{Deserialize, Serialize};

use super::table::{Align, Table};
use super::{sanitize, SCHEMA};
use crate::plan::{Plan, PlanItem, PlanKind};
use crate::runner::Argv;
use crate::size::{display, Units};

/// `plan --format json`, also what `prune --from FILE` reads.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanView {
    pub schema: u32,
    #[serde(flatten)]
    pub plan: Plan,
    /// Figures are lower bounds where a source failed (see `warnings`).
    pub complete: bool,
    pub warnings: Vec<String>,
}

impl PlanView {
    pub fn new(plan: Plan, warnings: Vec<String>) -> Self {
        PlanView {
            schema: SCHEMA,
            complete: warnings.is_empty() && !plan.lower_bound,
            plan,
            warnings,
        }
    }

    pub fn table(&self, units: Units) -> String {
        let p = &self.plan;
        if p.items.is_empty() {
            let mut out = "nothing to prune\n".to_string();
            out.push_str(&next_plan_note(p, units));
            return out;
        }
        let mut t = Table::new(&[
            ("KIND", Align::Left),
            ("ID", Align::Left),
            ("NAME", Align::Left),
            ("FREES", Align::Right),
            ("COMMAND", Align::Left),
        ]);
        for i in &p.items {
            t.row([
                i.kind.as_str().to_string(),
                short_id(i),
                sanitize(&i.name),
                bytes_cell(i.bytes, i.lower_bound, units),
                sanitize(&Argv(i.command.clone()).to_string()),
            ]);
        }
        t.row([
            "Total".to_string(),
            String::new(),
            String::new(),
            bytes_cell(p.total_bytes, !self.complete, units),
        ]);
        let mut out = t.render();
        out.push_str(&footer(p));
        out.push_str(&next_plan_note(p, units));
        out
    }

    /// A reviewable `sh` script: each command preceded by what it frees.
    pub fn script(&self) -> String {
        let p = &self.plan;
        let mut out = String::from("#!/bin/sh\n");
        out.push_str(&format!(
            "# podman-storage plan: {} object(s), {} bytes{}\n# {}\nset -e\n",
            p.items.len(),
            p.total_bytes,
            if self.complete { "" } else { " at least" },
            footer(p).trim_end()
        ));
        for i in &p.items {
            out.push_str(&format!(
                "\n# {} {}: {}{} bytes\n{}\n",
                i.kind.as_str(),
                sanitize(&i.name),
                if i.lower_bound { ">= " } else { "" },
                i.bytes,
                Argv(i.command.clone())
            ));
        }
        out
    }
}

fn short_id(i: &PlanItem) -> String {
    let id = sanitize(&i.id);
    if i.kind.is_engine_object() && i.kind != PlanKind::Volume {
        id.chars().take(12).collect()
    } else if i.id == i.name {
        String::new()
    } else {
        id
    }
}

fn bytes_cell(bytes: u64, lower_bound: bool, units: Units) -> String {
    if lower_bound {
        format!(">= {}", display(bytes, units))
    } else {
        display(bytes, units)
    }
}

/// What the total equals, in `df`'s words.
fn footer(p: &Plan) -> String {
    let rows: Vec<&str> = p
        .totals
        .iter()
        .map(|t| match t.kind {
            PlanKind::Container => "Containers",
            PlanKind::Image => "Images",
            PlanKind::Volume => "Local Volumes",
            PlanKind::BuildLeftover => "Build cache",
            PlanKind::Cache => "Blob caches",
        })
        .collect();
    format!(
        "Total = `df` RECLAIMABLE of {}; each row frees its bytes once the rows above it are removed.\n",
        rows.join(" + ")
    )
}

fn next_plan_note(p: &Plan, units: Units) -> String {
    if p.images_after_containers_bytes == 0 {
        return String::new();
    }
    format!(
        "Once these containers are gone, images holding {} more are unused: run `plan` again.\n",
        display(p.images_after_containers_bytes, units)
    )
}

/// What happened to one planned object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Removed,
    /// Changed since planning (now in use, running, renamed) or gone.
    Skipped,
    /// The engine refused or failed.
    Failed,
}

#[derive(Debug, Serialize)]
pub struct ItemResult {
    #[serde(flatten)]
    pub item: PlanItem,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Per kind: planned bytes against the store measured before and after.
#[derive(Debug, Serialize)]
pub struct KindResult {
    pub kind: PlanKind,
    pub planned_bytes: u64,
    /// The kind's bytes in `df` before minus after.
    pub freed_bytes: u64,
    pub removed: u64,
    pub skipped: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize)]
pub struct PruneView {
    pub schema: u32,
    pub dry_run: bool,
    pub kinds: Vec<KindResult>,
    pub items: Vec<ItemResult>,
    pub planned_bytes: u64,
    pub freed_bytes: u64,
    pub warnings: Vec<String>,
}

impl PruneView {
    pub fn table(&self, units: Units) -> String {
        let mut t = Table::new(&[
            ("KIND", Align::Left),
            ("REMOVED", Align::Right),
            ("SKIPPED", Align::Right),
            ("FAILED", Align::Right),
            ("PLANNED", Align::Right),
            ("FREED", Align::Right),
        ]);
        for k in &self.kinds {
            t.row([
                k.kind.as_str().to_string(),
                k.removed.to_string(),
                k.skipped.to_string(),
                k.failed.to_string(),
                display(k.planned_bytes, units),
                display(k.freed_bytes, units),
            ]);
        }
        t.row([
            "Total".to_string(),
            String::new(),
            String::new(),
            String::new(),
            display(self.planned_bytes, units),
            display(self.freed_bytes, units),
        ]);
        let mut out = t.render();
        out.push_str("FREED = the kind's bytes in `df` before minus after the prune.\n");
        for i in &self.items {
            if i.outcome == Outcome::Removed {
                continue;
            }
            out.push_str(&format!(
                "{} {} {} ({}): {}\n",
                if i.outcome == Outcome::Skipped {
                    "skipped"
                } else {
                    "failed"
                },
                i.item.kind.as_str(),
                sanitize(&i.item.name),
                sanitize(&i.item.id),
                sanitize(i.reason.as_deref().unwrap_or(""))
            ));
        }
        out
    }
}
