//! Engine views: `df`, `images`, `containers`, `volumes`. Each has one
//! report struct, serialized as JSON or rendered as a table.

use super::table::{Align, Table};
use super::SCHEMA;
use crate::account::{Component, ComponentKind, ImageUsage, ImagesReport};
use crate::engine::Failed;
use crate::engine::{Container, ContainerLog, Inventory, Labels, Volume};
use crate::select::{Members, Selection, Shown, SortValues};
use crate::size::SumBytes;
use crate::size::{display, sum, Units};
use crate::timestamp::Timestamp;

/// A `df` row, and whether its source answered.
#[derive(Debug)]
pub struct DfComponent {
    pub figures: Component,
    /// False when the engine could not list this component: its figures are
    /// zeros that mean "unknown", and the table shows `?`.
    pub measured: bool,
    /// What the row is made of (store metadata's parts, build leftovers'
    /// paths), in bytes.
    pub details: Vec<DfDetail>,
}

/// One part of a `df` row.
#[derive(Debug)]
pub struct DfDetail {
    pub name: String,
    pub path: Option<String>,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct DfReport {
    pub schema: u32,
    pub components: Vec<DfComponent>,
    pub total_bytes: u64,
    pub reclaimable_bytes: u64,
    /// Container bytes come from `podman ps --size`; false if it failed.
    pub complete: bool,
    pub warnings: Vec<String>,
}

impl DfReport {
    pub fn new(components: Vec<Component>, failed: &Failed, warnings: Vec<String>) -> Self {
        let components: Vec<DfComponent> = components
            .into_iter()
            .map(|c| DfComponent {
                measured: !match c.kind {
                    ComponentKind::Images => failed.images,
                    ComponentKind::Containers | ComponentKind::Logs => failed.containers,
                    ComponentKind::Volumes => failed.volumes,
                    ComponentKind::Caches | ComponentKind::Metadata | ComponentKind::BuildCache => {
                        false
                    }
                },
                figures: c,
                details: Vec::new(),
            })
            .collect();
        DfReport {
            schema: SCHEMA,
            total_bytes: sum(components.iter().map(|c| c.figures.bytes)),
            reclaimable_bytes: sum(components.iter().map(|c| c.figures.reclaimable_bytes)),
            complete: warnings.is_empty(),
            components,
            warnings,
        }
    }

    /// Names what a row is made of in `--format json`.
    pub fn set_details(&mut self, kind: ComponentKind, details: Vec<DfDetail>) {
        if let Some(c) = self.components.iter_mut().find(|c| c.figures.kind == kind) {
            c.details = details;
        }
    }

    pub fn table(&self, units: Units) -> String {
        let mut t = Table::new(&[
            ("TYPE", Align::Left),
            ("TOTAL", Align::Right),
            ("ACTIVE", Align::Right),
            ("SIZE", Align::Right),
            ("RECLAIMABLE", Align::Right),
        ]);
        for DfComponent {
            figures: c,
            measured,
            ..
        } in &self.components
        {
            if !measured {
                t.row([c.kind.title(), "?", "?", "?", "?"]);
                continue;
            }
            t.row([
                c.kind.title().to_string(),
                c.count.to_string(),
                if c.kind.has_active() {
                    c.active.to_string()
                } else {
                    "-".to_string()
                },
                mark_partial(display(c.bytes, units), !c.incomplete),
                mark_partial(
                    with_percent(c.reclaimable_bytes, c.bytes, units),
                    !c.incomplete,
                ),
            ]);
        }
        t.row([
            "Total".to_string(),
            String::new(),
            String::new(),
            mark_partial(display(self.total_bytes, units), self.complete),
            with_percent(self.reclaimable_bytes, self.total_bytes, units),
        ]);
        let mut out = t.render();
        out.push_str(DF_FOOTER);
        if self
            .components
            .iter()
            .any(|c| c.figures.kind == ComponentKind::Caches)
        {
            out.push_str(DF_CACHES_ACTIVE);
        }
        out
    }
}

/// What `df`'s total covers, and how its figures relate to the other views.
const DF_FOOTER: &str = "\
Total: every byte the engine keeps, once (image layers, writable layers, volumes, logs, metadata,
  build cache): its store's disk, as `du` of the graph root finds it plus what lives outside it;
  the overview leaves writable layers, logs, metadata and build cache out.
ACTIVE: images a container uses, running or paused containers, volumes a container mounts.
RECLAIMABLE: what pruning the unused ones frees (shared layers only when no kept image needs them).
";

/// ACTIVE for blob caches, which no container uses.
const DF_CACHES_ACTIVE: &str =
    "Blob caches: ACTIVE counts OCI layouts and registries whose tags reference blobs (flat caches: 0).\n";

/// A total that leaves out a failed source is a lower bound: `>= 1.2 MB`.
fn mark_partial(text: String, complete: bool) -> String {
    if complete {
        text
    } else {
        format!(">= {text}")
    }
}

/// `23.5 MB (87%)`, like podman's RECLAIMABLE column.
fn with_percent(part: u64, whole: u64, units: Units) -> String {
    let pct = if whole == 0 {
        0
    } else {
        (part as u128 * 100 / whole as u128) as u64
    };
    format!("{} ({pct}%)", display(part, units))
}

#[derive(Debug)]
pub struct ImagesView {
    pub schema: u32,
    pub images: Vec<ImageUsage>,
    pub shared_layers_bytes: u64,
    pub total_bytes: u64,
    /// `--sort`, `--top`, `--project`: absent when none was given.
    pub selection: Shown,
    pub warnings: Vec<String>,
}

impl ImagesView {
    pub fn new(report: ImagesReport, warnings: Vec<String>) -> Self {
        ImagesView {
            schema: SCHEMA,
            images: report.images,
            shared_layers_bytes: report.shared_layers_bytes,
            total_bytes: report.total_bytes,
            selection: Shown::default(),
            warnings,
        }
    }

    /// Keeps the project's images (the totals then cover them alone: their
    /// layers once, plus their metadata), then sorts and cuts the listed
    /// images. Build intermediates stay folded in their own row, never
    /// among the top N.
    pub fn select(&mut self, inv: &Inventory, members: Option<&Members>, sel: &Selection) {
        if let Some(m) = members {
            self.images.retain(|i| m.images.contains(&i.id));
            self.total_bytes = crate::account::images_bytes(inv, |i| m.images.contains(&i.id));
            let unique = self.images.iter().map(|i| i.unique_bytes).sum_bytes();
            self.shared_layers_bytes = self.total_bytes.saturating_sub(unique);
        }
        let (mut listed, steps): (Vec<ImageUsage>, Vec<ImageUsage>) =
            std::mem::take(&mut self.images)
                .into_iter()
                .partition(|i| !i.intermediate);
        self.selection = sel.apply(&mut listed, |i| SortValues {
            name: i.names.first().cloned().unwrap_or_default(),
            size: Some(i.size_bytes),
            unique: Some(i.unique_bytes),
            created: i.created,
            used: i.last_used,
        });
        listed.extend(steps);
        self.images = listed;
    }

    /// One row per listed image; build intermediates (hidden by `podman
    /// images` too) are folded into one row so the UNIQUE column still sums
    /// to the total.
    pub fn table(&self, units: Units) -> String {
        self.table_at(units, crate::timestamp::now())
    }

    /// The table with ages relative to `now`.
    pub fn table_at(&self, units: Units, now: Timestamp) -> String {
        let mut t = Table::new(&[
            ("REPOSITORY:TAG", Align::Left),
            ("IMAGE ID", Align::Left),
            ("SIZE", Align::Right),
            ("UNIQUE", Align::Right),
            ("SHARED", Align::Right),
            ("CONTAINERS", Align::Right),
            ("CREATED", Align::Left),
            ("LAST USED", Align::Left),
        ]);
        let (steps, listed): (Vec<&ImageUsage>, Vec<&ImageUsage>) =
            self.images.iter().partition(|i| i.intermediate);
        for img in listed {
            let mut name = match img.names.first() {
                Some(n) => n.clone(),
                None => "<none>:<none> (dangling)".to_string(),
            };
            if img.read_only {
                // On this disk, but in a store no prune here can free.
                name.push_str(" (read-only)");
            }
            t.row([
                name,
                img.id.chars().take(12).collect(),
                display(img.size_bytes, units),
                display(img.unique_bytes, units),
                display(img.shared_bytes, units),
                img.containers.to_string(),
                ago(img.created, now),
                ago(img.last_used, now),
            ]);
            for extra in img.names.iter().skip(1) {
                t.row([format!("  {extra}"), String::new()]);
            }
        }
        if !steps.is_empty() {
            t.row([
                format!("(build intermediates: {})", steps.len()),
                String::new(),
                String::new(),
                display(sum(steps.iter().map(|i| i.unique_bytes)), units),
                String::new(),
                steps.iter().map(|i| i.containers).sum::<u64>().to_string(),
            ]);
        }
        t.row([
            "(shared layers, counted once)".to_string(),
            String::new(),
            String::new(),
            display(self.shared_layers_bytes, units),
        ]);
        t.row([
            "Total".to_string(),
            String::new(),
            String::new(),
            display(self.total_bytes, units),
        ]);
        if self.images.is_empty() {
            return "no images\n".to_string();
        }
        let mut out = t.render();
        out.extend(self.selection.footer("image"));
        out.push_str(
            "Total: UNIQUE + shared layers once = `df`'s Images row. UNIQUE: layers only that \
             image uses;\n  SHARED: layers other images use too.\n",
        );
        out
    }
}

/// A CREATED or LAST USED cell: podman's relative age, `-` when unknown.
pub fn ago(t: Option<Timestamp>, now: Timestamp) -> String {
    t.map_or_else(|| "-".to_string(), |t| t.ago(now))
}

#[derive(Debug)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub pod: Option<String>,
    /// Writable-layer bytes; null unless measured (`--size`).
    pub rw_bytes: Option<u64>,
    /// Asked for but not measured in full: `rw_bytes` (if any) is a lower bound.
    pub lower_bound: bool,
    /// Its log (driver, file, bytes); null unless measured (`--size`).
    pub log: Option<ContainerLog>,
    pub created: Option<Timestamp>,
}

impl ContainerRow {
    /// Bytes of its log file; 0 for a log kept elsewhere or not measured.
    pub fn log_bytes(&self) -> u64 {
        self.log.as_ref().and_then(|l| l.bytes).unwrap_or(0)
    }

    /// The LOGS cell: the file's size, `in the journal`, `-` for no file
    /// or not measured, `?` for a log that should be there and is not.
    pub fn log_cell(&self, units: Units) -> String {
        match &self.log {
            Some(l) if l.in_journal() => "in the journal".to_string(),
            Some(ContainerLog {
                bytes: Some(b),
                lower_bound,
                ..
            }) => mark_partial(display(*b, units), !lower_bound),
            Some(l) if l.lower_bound => "?".to_string(),
            // No file (none, passthrough), or not asked (no --size, remote).
            Some(_) | None => "-".to_string(),
        }
    }
}

#[derive(Debug)]
pub struct ContainersView {
    pub schema: u32,
    pub containers: Vec<ContainerRow>,
    /// Sum of the measured writable layers (0 without `--size`).
    pub total_bytes: u64,
    /// Sum of the measured log files, apart from `total_bytes`.
    pub logs_bytes: u64,
    /// `--sort`, `--top`, `--project`: absent when none was given.
    pub selection: Shown,
    pub warnings: Vec<String>,
    /// Of every container kept, listed or not: the totals' `>=` marks and
    /// whether sizes were measured at all.
    complete: bool,
    logs_complete: bool,
    measured: bool,
}

impl ContainerRow {
    pub fn new(c: &Container) -> Self {
        ContainerRow {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            state: c.state.as_str().to_string(),
            pod: c.pod.clone(),
            rw_bytes: c.rw_bytes,
            lower_bound: c.lower_bound,
            log: c.log.clone(),
            created: c.created,
        }
    }
}

impl ContainersView {
    pub fn new(containers: &[Container], warnings: Vec<String>) -> Self {
        Self::selected(containers, None, &Selection::default(), warnings)
    }

    /// The containers `members` keeps (all without it), sorted and cut as
    /// `sel` says; the totals cover every container kept.
    pub fn selected(
        containers: &[Container],
        members: Option<&Members>,
        sel: &Selection,
        warnings: Vec<String>,
    ) -> Self {
        let rows: Vec<ContainerRow> = containers
            .iter()
            .filter(|c| members.is_none_or(|m| m.containers.contains(&c.id)))
            .map(ContainerRow::new)
            .collect();
        let measured = rows.iter().any(|c| c.rw_bytes.is_some());
        let complete = !rows.iter().any(|c| c.lower_bound);
        let logs_complete = !rows
            .iter()
            .any(|c| c.log.as_ref().is_some_and(|l| l.lower_bound));
        let mut view = Self::from_rows(rows, warnings);
        view.selection = sel.apply(&mut view.containers, |c| SortValues {
            name: c.name.clone(),
            size: c.rw_bytes,
            unique: None,
            created: c.created,
            used: None,
        });
        view.complete = complete;
        view.logs_complete = logs_complete;
        view.measured = measured;
        view
    }

    fn from_rows(rows: Vec<ContainerRow>, warnings: Vec<String>) -> Self {
        ContainersView {
            complete: true,
            logs_complete: true,
            measured: false,
            selection: Shown::default(),
            schema: SCHEMA,
            total_bytes: sum(rows.iter().filter_map(|r| r.rw_bytes)),
            logs_bytes: sum(rows.iter().map(ContainerRow::log_bytes)),
            containers: rows,
            warnings,
        }
    }

    pub fn table(&self, units: Units) -> String {
        self.table_at(units, crate::timestamp::now())
    }

    /// The table with ages relative to `now`.
    pub fn table_at(&self, units: Units, now: Timestamp) -> String {
        let mut t = Table::new(&[
            ("CONTAINER ID", Align::Left),
            ("NAME", Align::Left),
            ("IMAGE", Align::Left),
            ("STATE", Align::Left),
            ("SIZE", Align::Right),
            ("LOGS", Align::Right),
            ("CREATED", Align::Left),
        ]);
        let measured = self.measured;
        for c in &self.containers {
            t.row([
                c.id.chars().take(12).collect(),
                c.name.clone(),
                c.image.clone(),
                c.state.clone(),
                match (c.rw_bytes, c.lower_bound) {
                    (Some(b), lower) => mark_partial(display(b, units), !lower),
                    (None, true) => "?".to_string(),
                    (None, false) => "-".to_string(),
                },
                c.log_cell(units),
                ago(c.created, now),
            ]);
        }
        if measured {
            let (complete, logs_complete) = (self.complete, self.logs_complete);
            t.row([
                "Total".to_string(),
                String::new(),
                String::new(),
                String::new(),
                mark_partial(display(self.total_bytes, units), complete),
                mark_partial(display(self.logs_bytes, units), logs_complete),
            ]);
        }
        if self.containers.is_empty() {
            return "no containers\n".to_string();
        }
        let mut out = t.render();
        out.extend(self.selection.footer("container"));
        if !measured && self.warnings.is_empty() {
            out.push_str("(writable layers not measured: use --size)\n");
        }
        if measured {
            out.push_str(
                "Total: writable layers (SIZE) = `df`'s Containers row; LOGS apart, = its Container logs row.\n",
            );
        }
        out
    }
}

#[derive(Debug)]
pub struct VolumesView {
    pub schema: u32,
    pub volumes: Vec<Volume>,
    pub total_bytes: u64,
    /// `--sort`, `--top`, `--project`: absent when none was given.
    pub selection: Shown,
    pub warnings: Vec<String>,
    /// Every kept volume measured in full, listed or not.
    complete: bool,
}

impl VolumesView {
    pub fn new(volumes: Vec<Volume>, warnings: Vec<String>) -> Self {
        Self::selected(volumes, None, &Selection::default(), warnings)
    }

    /// The volumes `members` keeps (all without it), sorted and cut as
    /// `sel` says; the total covers every volume kept.
    pub fn selected(
        mut volumes: Vec<Volume>,
        members: Option<&Members>,
        sel: &Selection,
        warnings: Vec<String>,
    ) -> Self {
        if let Some(m) = members {
            volumes.retain(|v| m.volumes.contains(&v.name));
        }
        let total_bytes = sum(volumes.iter().filter_map(|v| v.bytes));
        let complete = volumes.iter().all(|v| v.bytes.is_some() && !v.lower_bound);
        let selection = sel.apply(&mut volumes, |v| SortValues {
            name: v.name.clone(),
            size: v.bytes,
            unique: None,
            created: v.created,
            used: None,
        });
        VolumesView {
            schema: SCHEMA,
            total_bytes,
            volumes,
            selection,
            warnings,
            complete,
        }
    }

    pub fn table(&self, units: Units) -> String {
        self.table_at(units, crate::timestamp::now())
    }

    /// The table with ages relative to `now`.
    pub fn table_at(&self, units: Units, now: Timestamp) -> String {
        let mut t = Table::new(&[
            ("VOLUME NAME", Align::Left),
            ("SIZE", Align::Right),
            ("IN USE", Align::Left),
            ("CREATED", Align::Left),
            ("LABELS", Align::Left),
        ]);
        for v in &self.volumes {
            let size = match v.bytes {
                Some(b) if v.lower_bound => format!(">= {}", display(b, units)),
                Some(b) if v.approximate => format!("~{}", display(b, units)),
                Some(b) => display(b, units),
                None => "?".to_string(),
            };
            t.row([
                v.name.clone(),
                size,
                yes_no(v.in_use).to_string(),
                ago(v.created, now),
                labels_text(&v.labels),
            ]);
        }
        t.row([
            "Total".to_string(),
            mark_partial(display(self.total_bytes, units), self.complete),
        ]);
        if self.volumes.is_empty() {
            return "no volumes\n".to_string();
        }
        let mut out = t.render();
        out.extend(self.selection.footer("volume"));
        out.push_str(
            "Total: every volume's files = `df`'s Local Volumes row; IN USE: a container mounts it.\n",
        );
        out
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `k=v,k2=v2`, sorted, as podman prints label filters.
pub fn labels_text(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
