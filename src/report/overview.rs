//! The overview (the default view) and the per-project detail.

use super::engine::ContainerRow;
use super::table::{Align, Table};
use super::SCHEMA;
use crate::account::ImageUsage;
use crate::projects::Row;
use crate::size::{display, sum, Units};

#[derive(Debug)]
pub struct DirEntry {
    pub path: String,
    pub bytes: u64,
    pub files: u64,
    pub incomplete: bool,
}

#[derive(Debug)]
pub struct GlobalSection {
    /// Names of images matched by `[global] images`.
    pub images: Vec<String>,
    pub shared_mounts: Vec<DirEntry>,
}

#[derive(Debug)]
pub struct OverviewReport {
    pub schema: u32,
    pub global: GlobalSection,
    pub rows: Vec<Row>,
    /// Sum of the rows' `total_bytes`.
    pub total_bytes: u64,
    /// Unused images (layers no kept image needs) and unused volumes.
    pub reclaimable_bytes: u64,
    pub warnings: Vec<String>,
}

impl OverviewReport {
    pub fn new(
        global: GlobalSection,
        rows: Vec<Row>,
        reclaimable_bytes: u64,
        warnings: Vec<String>,
    ) -> Self {
        OverviewReport {
            schema: SCHEMA,
            global,
            total_bytes: sum(rows.iter().map(|r| r.total_bytes)),
            rows,
            reclaimable_bytes,
            warnings,
        }
    }

    pub fn table(&self, units: Units) -> String {
        let mut out = String::new();
        if !self.global.images.is_empty() || !self.global.shared_mounts.is_empty() {
            out.push_str("GLOBAL\n");
            let mut t = Table::new(&[("", Align::Left), ("", Align::Left), ("SIZE", Align::Right)]);
            for name in &self.global.images {
                t.row(["image", name.as_str(), ""]);
            }
            for m in &self.global.shared_mounts {
                t.row([
                    "shared mount".to_string(),
                    m.path.clone(),
                    mark(display(m.bytes, units), m.incomplete),
                ]);
            }
            for line in t.render().lines().skip(1) {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        }
        let mut t = Table::new(&[
            ("PROJECT", Align::Left),
            ("IMAGES", Align::Right),
            ("VOLUMES", Align::Right),
            ("WORKSPACES", Align::Right),
            ("CACHES", Align::Right),
            ("SHARED", Align::Right),
            ("CTRS", Align::Right),
            ("TOTAL", Align::Right),
            ("", Align::Left),
        ]);
        let max = self.rows.iter().map(|r| r.total_bytes).max().unwrap_or(0);
        for r in &self.rows {
            t.row([
                r.id.name().to_string(),
                display(r.images_bytes, units),
                display(r.volumes_bytes, units),
                if r.workspaces > 0 {
                    format!("{} ({})", display(r.workspaces_bytes, units), r.workspaces)
                } else {
                    display(r.workspaces_bytes, units)
                },
                display(r.caches_bytes, units),
                display(r.shared_mounts_bytes, units),
                r.containers.to_string(),
                mark(display(r.total_bytes, units), r.incomplete),
                bar(r.total_bytes, max, 20),
            ]);
        }
        t.row([
            "Total".to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            display(self.total_bytes, units),
        ]);
        out.push_str(&t.render());
        out.push_str(OVERVIEW_TOTAL);
        out.push_str(&format!(
            "Reclaimable: {} (unused images and volumes, blob caches; `df` adds stopped \
             containers, logs, build cache)\n",
            display(self.reclaimable_bytes, units)
        ));
        if self.rows.iter().any(|r| r.incomplete) {
            out.push_str("* incomplete: some directories could not be fully read (see warnings)\n");
        }
        out
    }
}

/// What the overview's total covers, and where the rest is.
const OVERVIEW_TOTAL: &str = "\
Total: images (bytes attributed to each row; a layer of several projects is in (shared)), volumes,
  workspaces, caches. Writable layers and logs are left out: `project ID` measures them, `df` has all.
";

/// A trailing `*` marks a figure that is a lower bound.
fn mark(text: String, incomplete: bool) -> String {
    if incomplete {
        text + "*"
    } else {
        text
    }
}

/// A proportional bar, like dust's, so the big rows stand out.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let filled = ((value as u128 * width as u128 + max as u128 / 2) / max as u128) as usize;
    let filled = if value > 0 { filled.max(1) } else { 0 };
    "█".repeat(filled)
}

/// One host of `--all-connections`.
#[derive(Debug)]
pub struct HostSection {
    pub connection: String,
    pub uri: String,
    /// Engine rows only: workspaces and caches are local, in `local`.
    pub report: Option<OverviewReport>,
    /// Why this host has no report.
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct MultiHostReport {
    pub schema: u32,
    pub hosts: Vec<HostSection>,
    /// This machine's workspaces, shared mounts and caches.
    pub local: OverviewReport,
    /// Sum of every host's total and the local total.
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

impl MultiHostReport {
    pub fn new(hosts: Vec<HostSection>, local: OverviewReport, warnings: Vec<String>) -> Self {
        let total_bytes = sum(hosts
            .iter()
            .filter_map(|h| h.report.as_ref())
            .map(|r| r.total_bytes)
            .chain([local.total_bytes]));
        MultiHostReport {
            schema: SCHEMA,
            hosts,
            local,
            total_bytes,
            warnings,
        }
    }

    pub fn table(&self, units: Units) -> String {
        let mut out = String::new();
        for h in &self.hosts {
            out.push_str(&format!(
                "== {} ({})
",
                super::sanitize(&h.connection),
                super::sanitize(&h.uri)
            ));
            match (&h.report, &h.error) {
                (Some(r), _) => out.push_str(&r.table(units)),
                (None, Some(e)) => out.push_str(&format!(
                    "error: {}
",
                    super::sanitize(e)
                )),
                (None, None) => {}
            }
            out.push('\n');
        }
        out.push_str("== local directories (workspaces, shared mounts, caches)\n");
        out.push_str(&self.local.table(units));
        out.push_str(&format!(
            "\nGrand total: {}\n",
            display(self.total_bytes, units)
        ));
        out
    }
}

/// `project` without an id: the projects there are.
#[derive(Debug)]
pub struct ProjectList {
    pub schema: u32,
    pub projects: Vec<ProjectListRow>,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct ProjectListRow {
    pub id: String,
    /// `config`, `compose`, `quadlet` or `pod`: where the project comes from.
    pub kind: &'static str,
    pub containers: u64,
    /// Its overview row's total.
    pub total_bytes: u64,
}

impl ProjectList {
    pub fn table(&self, units: Units) -> String {
        if self.projects.is_empty() {
            return "no projects: configure some, or run compose projects\n".to_string();
        }
        let mut t = Table::new(&[
            ("PROJECT", Align::Left),
            ("KIND", Align::Left),
            ("CTRS", Align::Right),
            ("TOTAL", Align::Right),
        ]);
        for p in &self.projects {
            t.row([
                p.id.clone(),
                p.kind.to_string(),
                p.containers.to_string(),
                display(p.total_bytes, units),
            ]);
        }
        let mut out = t.render();
        out.push_str(
            "TOTAL: the project's overview row; `project ID` adds its containers' writable layers.\n",
        );
        out
    }
}

#[derive(Debug)]
pub struct ProjectVolume {
    pub name: String,
    pub bytes: Option<u64>,
    pub in_use: bool,
}

#[derive(Debug)]
pub struct ProjectReport {
    pub schema: u32,
    pub id: String,
    pub images: Vec<ImageUsage>,
    /// Image-layer bytes attributed to the project (its unique layers).
    pub images_bytes: u64,
    pub containers: Vec<ContainerRow>,
    pub containers_bytes: u64,
    /// The containers' log files, apart from their writable layers.
    pub logs_bytes: u64,
    pub workspaces: Vec<DirEntry>,
    pub workspaces_bytes: u64,
    pub volumes: Vec<ProjectVolume>,
    pub volumes_bytes: u64,
    /// The project's overview row: attributed image bytes, volumes and
    /// workspaces.
    pub row_bytes: u64,
    /// `row_bytes` plus its containers' writable layers and their logs.
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

impl ProjectReport {
    pub fn table(&self, units: Units) -> String {
        let mut out = format!("Project {}\n\nIMAGES\n", self.id);
        let mut t = Table::new(&[
            ("REPOSITORY:TAG", Align::Left),
            ("IMAGE ID", Align::Left),
            ("SIZE", Align::Right),
            ("UNIQUE", Align::Right),
            ("SHARED", Align::Right),
        ]);
        for i in &self.images {
            t.row([
                i.names.first().cloned().unwrap_or_else(|| "<none>".into()),
                i.id.chars().take(12).collect(),
                display(i.size_bytes, units),
                display(i.unique_bytes, units),
                display(i.shared_bytes, units),
            ]);
        }
        if self.images.is_empty() {
            out.push_str("no images\n");
        } else {
            out.push_str(&t.render());
        }
        out.push_str(&format!(
            "attributed to {}: {} (its overview IMAGES cell: the layers only its images use, \
             each once)\n",
            self.id,
            display(self.images_bytes, units)
        ));

        out.push_str("\nCONTAINERS\n");
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("IMAGE", Align::Left),
            ("STATE", Align::Left),
            ("SIZE", Align::Right),
            ("LOGS", Align::Right),
        ]);
        for c in &self.containers {
            t.row([
                c.name.clone(),
                c.image.clone(),
                c.state.clone(),
                c.rw_bytes.map_or("?".into(), |b| display(b, units)),
                c.log_cell(units),
            ]);
        }
        push_section(&mut out, t, self.containers.is_empty(), "no containers");

        out.push_str("\nWORKSPACES\n");
        let mut t = Table::new(&[
            ("PATH", Align::Left),
            ("SIZE", Align::Right),
            ("FILES", Align::Right),
        ]);
        for w in &self.workspaces {
            t.row([
                w.path.clone(),
                mark(display(w.bytes, units), w.incomplete),
                w.files.to_string(),
            ]);
        }
        push_section(
            &mut out,
            t,
            self.workspaces.is_empty(),
            "no workspaces configured",
        );

        out.push_str("\nVOLUMES\n");
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("SIZE", Align::Right),
            ("IN USE", Align::Left),
        ]);
        for v in &self.volumes {
            t.row([
                v.name.clone(),
                v.bytes.map_or("?".into(), |b| display(b, units)),
                if v.in_use { "yes" } else { "no" }.to_string(),
            ]);
        }
        push_section(&mut out, t, self.volumes.is_empty(), "no volumes");
        out.push_str(&format!(
            "\nTotal: {} = its overview row {} + containers' writable layers {} + logs {}\n",
            display(self.total_bytes, units),
            display(self.row_bytes, units),
            display(self.containers_bytes, units),
            display(self.logs_bytes, units)
        ));
        out
    }
}

/// A section's table, or one line saying it has no rows (never a bare header).
fn push_section(out: &mut String, table: Table, empty: bool, none: &str) {
    if empty {
        out.push_str(none);
        out.push('\n');
    } else {
        out.push_str(&table.render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_never_empty_for_nonzero() {
        assert_eq!(bar(10, 10, 4).chars().count(), 4);
        assert_eq!(bar(5, 10, 4).chars().count(), 2);
        assert_eq!(bar(1, 1000, 4).chars().count(), 1);
        assert_eq!(bar(0, 1000, 4), "");
    }
}
