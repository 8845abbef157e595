//! Budgets: `budget = "20GB"` per project, `[global] budget` for the
//! overview's total, and `--fail-over SIZE` for any view's total. Checked on
//! the JSON a report serializes to, so every view is covered the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::history::SNAPSHOT_KIND;
use crate::size;

#[derive(Debug, Default, Clone)]
pub struct Budgets {
    pub projects: BTreeMap<String, u64>,
    /// `[global] budget`: the overview's total.
    pub total: Option<u64>,
    /// `--fail-over`: the total of whatever view runs.
    pub fail_over: Option<u64>,
}

/// A total over its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub what: String,
    pub bytes: u64,
    pub budget: u64,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {} ({} B), {} over its budget of {}",
            self.what,
            size::format(self.bytes),
            self.bytes,
            size::format(self.bytes - self.budget),
            size::format(self.budget)
        )
    }
}

/// Every total of `report` that is over its budget.
pub fn check(report: &Value, budgets: &Budgets) -> Vec<Breach> {
    let mut out = Vec::new();
    let mut over = |what: String, bytes: u64, budget: u64| {
        if bytes > budget {
            out.push(Breach {
                what,
                bytes,
                budget,
            });
        }
    };
    let overview = if report.get("kind").and_then(Value::as_str) == Some(SNAPSHOT_KIND) {
        report.get("overview").unwrap_or(&Value::Null)
    } else {
        report
    };
    let total = overview.get("total_bytes").and_then(Value::as_u64);
    if let (Some(t), Some(b)) = (total, budgets.fail_over) {
        over("the total".into(), t, b);
    }
    let is_overview = overview.get("rows").is_some() || overview.get("local").is_some();
    if let (Some(t), Some(b), true) = (total, budgets.total, is_overview) {
        over("the total".into(), t, b);
    }
    // A project's bytes: its overview row(s) (one per host with
    // --all-connections, plus this host's), or the `project ID` view.
    let mut per_project: BTreeMap<String, u64> = BTreeMap::new();
    let mut add_rows = |r: &Value| {
        for row in r
            .get("rows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if row.get("kind").and_then(Value::as_str) != Some("project") {
                continue;
            }
            if let (Some(id), Some(b)) = (
                row.get("id").and_then(Value::as_str),
                row.get("total_bytes").and_then(Value::as_u64),
            ) {
                *per_project.entry(id.to_string()).or_default() += b;
            }
        }
    };
    add_rows(overview);
    for h in overview
        .get("hosts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add_rows(h.get("report").unwrap_or(&Value::Null));
    }
    add_rows(overview.get("local").unwrap_or(&Value::Null));
    if !is_overview {
        if let (Some(id), Some(b), Some(_)) = (
            overview.get("id").and_then(Value::as_str),
            total,
            overview.get("workspaces_bytes"),
        ) {
            per_project.insert(id.to_string(), b);
        }
    }
    for (id, bytes) in per_project {
        if let Some(budget) = budgets.projects.get(&id) {
            over(format!("project {id}"), bytes, *budget);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn breaches_name_what_and_by_how_much() {
        let report = json!({"rows": [
            {"id": "web", "kind": "project", "total_bytes": 25_000_000_000u64},
            {"id": "api", "kind": "project", "total_bytes": 1}],
            "total_bytes": 25_000_000_001u64});
        let budgets = Budgets {
            projects: [("web".to_string(), 20_000_000_000), ("api".to_string(), 1)].into(),
            total: Some(30_000_000_000),
            fail_over: Some(25_000_000_000),
        };
        let b = check(&report, &budgets);
        let lines: Vec<String> = b.iter().map(|b| b.to_string()).collect();
        assert_eq!(
            lines,
            [
                "the total is 25 GB (25000000001 B), 1 B over its budget of 25 GB",
                "project web is 25 GB (25000000000 B), 5 GB over its budget of 20 GB"
            ]
        );
    }

    #[test]
    fn a_project_view_is_checked_against_its_budget() {
        let view = json!({"id": "web", "total_bytes": 11, "workspaces_bytes": 0});
        let budgets = Budgets {
            projects: [("web".to_string(), 10)].into(),
            ..Default::default()
        };
        assert_eq!(check(&view, &budgets).len(), 1);
    }
}
