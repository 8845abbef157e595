//! `--format prometheus`: the text exposition format, for node_exporter's
//! textfile collector. A renderer only: it reads the figures the JSON
//! reports already carry (rows' `*_bytes` columns, df components), so new
//! columns and components become samples without a change here.

use serde_json::Value;

use crate::history::SNAPSHOT_KIND;

/// Metric families in order of first use; samples stay grouped by family,
/// as the format requires, with HELP and TYPE once each.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<Family>,
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(String, String)>, u64)>,
}

impl Exposition {
    pub fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    help,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        self.families[i].samples.push((labels, value));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            out.push_str(&format!("# HELP {} {}\n", f.name, escape_help(f.help)));
            out.push_str(&format!("# TYPE {} gauge\n", f.name));
            for (labels, value) in &f.samples {
                out.push_str(f.name);
                if !labels.is_empty() {
                    let inner: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                        .collect();
                    out.push_str(&format!("{{{}}}", inner.join(",")));
                }
                out.push_str(&format!(" {value}\n"));
            }
        }
        out
    }
}

/// Label values: backslash, double quote and newline are escaped.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text: backslash and newline are escaped (a quote is literal).
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Budgets to publish beside the figures.
#[derive(Debug, Default, Clone)]
pub struct BudgetFigures {
    pub projects: Vec<(String, u64)>,
    pub total: Option<u64>,
}

/// The samples of an overview, `--all-connections` overview, df or snapshot report.
pub fn render(report: &Value, budgets: &BudgetFigures) -> String {
    let mut e = Exposition::default();
    add_report(&mut e, report, None);
    for (project, bytes) in &budgets.projects {
        e.add(
            "podman_storage_budget_bytes",
            "Budget configured for a project, in bytes.",
            &[("project", project)],
            *bytes,
        );
    }
    if let Some(total) = budgets.total {
        e.add(
            "podman_storage_total_budget_bytes",
            "The [global] budget for the total, in bytes.",
            &[],
            total,
        );
    }
    e.render()
}

fn add_report(e: &mut Exposition, v: &Value, host: Option<&str>) {
    if v.get("kind").and_then(Value::as_str) == Some(SNAPSHOT_KIND) {
        for section in ["overview", "df"] {
            if let Some(s) = v.get(section).filter(|s| !s.is_null()) {
                add_report(e, s, host);
            }
        }
        return;
    }
    let with_host = |labels: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        host.map(|h| ("host", h.to_string()))
            .into_iter()
            .chain(labels.iter().map(|(k, v)| (*k, (*v).to_string())))
            .collect()
    };
    let add = |e: &mut Exposition, name, help, labels: &[(&'static str, &str)], value| {
        let owned = with_host(labels);
        let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        e.add(name, help, &refs, value);
    };
    if let (Some(hosts), Some(local)) = (v.get("hosts").and_then(Value::as_array), v.get("local")) {
        for h in hosts {
            let name = h.get("connection").and_then(Value::as_str).unwrap_or("?");
            let up = h.get("report").filter(|r| !r.is_null());
            add(
                e,
                "podman_storage_host_up",
                "1 when the connection answered, 0 when it did not.",
                &[("connection", name)],
                u64::from(up.is_some()),
            );
            if let Some(r) = up {
                add_report(e, r, Some(name));
            }
        }
        add_report(e, local, host);
        return;
    }
    if let Some(rows) = v.get("rows").and_then(Value::as_array) {
        for r in rows {
            let (Some(id), Some(o)) = (r.get("id").and_then(Value::as_str), r.as_object()) else {
                continue;
            };
            for (field, value) in o {
                // An unmeasured figure (null) gets no sample, never a zero.
                let (Some(stem), Some(n)) = (field.strip_suffix("_bytes"), value.as_u64()) else {
                    continue;
                };
                if stem == "total" {
                    add(
                        e,
                        "podman_storage_project_bytes",
                        "Bytes of a project row, each byte counted in one row only.",
                        &[("project", id)],
                        n,
                    );
                } else {
                    add(
                        e,
                        "podman_storage_bytes",
                        "Bytes of one component of a project row.",
                        &[("project", id), ("component", stem)],
                        n,
                    );
                }
            }
        }
        if let Some(n) = v.get("total_bytes").and_then(Value::as_u64) {
            add(
                e,
                "podman_storage_total_bytes",
                "Sum of every row of the overview.",
                &[],
                n,
            );
        }
        if let Some(n) = v.get("reclaimable_bytes").and_then(Value::as_u64) {
            add(
                e,
                "podman_storage_total_reclaimable_bytes",
                "Unused images and volumes and blob caches the overview counts as reclaimable.",
                &[],
                n,
            );
        }
    }
    if let Some(comps) = v.get("components").and_then(Value::as_array) {
        for c in comps {
            let Some(kind) = c.get("kind").and_then(Value::as_str) else {
                continue;
            };
            if c.get("measured").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let figures = [
                (
                    "bytes",
                    "podman_storage_component_bytes",
                    "Bytes of an engine component (df), each layer counted once.",
                ),
                (
                    "reclaimable_bytes",
                    "podman_storage_reclaimable_bytes",
                    "Bytes pruning the unused items of a component would free.",
                ),
                (
                    "count",
                    "podman_storage_component_items",
                    "Items of an engine component (df).",
                ),
                (
                    "active",
                    "podman_storage_component_active_items",
                    "Items of an engine component in use.",
                ),
            ];
            for (field, name, help) in figures {
                if let Some(n) = c.get(field).and_then(Value::as_u64) {
                    add(e, name, help, &[("component", kind)], n);
                }
            }
        }
    }
    if v.get("rows").is_some() || v.get("components").is_some() {
        let complete = v
            .get("warnings")
            .and_then(Value::as_array)
            .is_none_or(|w| w.is_empty());
        let section = if v.get("rows").is_some() {
            "overview"
        } else {
            "df"
        };
        add(
            e,
            "podman_storage_report_complete",
            "1 when every source was measured in full, 0 when some figures are lower bounds.",
            &[("report", section)],
            u64::from(complete),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_labels_and_groups_families() {
        let r = json!({"rows": [
            {"id": "a\\b\"c\nd", "images_bytes": 5, "containers_bytes": null, "total_bytes": 5},
            {"id": "web", "images_bytes": 1, "total_bytes": 1}],
            "total_bytes": 6, "reclaimable_bytes": 0, "warnings": []});
        let text = render(&r, &BudgetFigures::default());
        assert!(
            text.contains(r#"podman_storage_bytes{project="a\\b\"c\nd",component="images"} 5"#),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE podman_storage_bytes gauge").count(), 1);
        assert!(!text.contains("component=\"containers\""), "{text}");
        // Samples of a family are contiguous.
        let names: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(['{', ' ']).next().unwrap())
            .collect();
        let mut seen = Vec::new();
        for n in names {
            if seen.last() != Some(&n) {
                assert!(!seen.contains(&n), "{n} split in {text}");
                seen.push(n);
            }
        }
    }
}
