//! Attribution: every byte to exactly one row, a project or a synthetic row.
//!
//! Pure functions of the collected data, so the invariant "rows sum to the
//! total, no layer twice" is testable without podman.
//!
//! Rules, in order of precedence:
//! * a **container** belongs to the configured project whose label selector it
//!   matches, else to its compose project label, else to its Quadlet unit
//!   (`PODMAN_SYSTEMD_UNIT=web.service` is project `web`), else to its pod;
//! * an **image** belongs to `(global)` when a `[global]` pattern matches it,
//!   else to the configured project whose image pattern matches, else to its
//!   compose label's project, else to the projects of the containers created
//!   from it; a compose label naming a project that no longer exists (not
//!   configured, no container left) makes it an orphan;
//! * a **layer** goes to `(global)` if a global image uses it; else to its one
//!   owner, or `(shared)` when several own it: the owners are the projects
//!   of the images that use it, and `(orphans)` for orphan images (one owner
//!   for all of them); images that belong to no project (build
//!   intermediates, untagged bases) do not compete, so they only get layers
//!   no owner uses, in `(global)`;
//! * a **volume** belongs to the configured project that lists it or whose
//!   labels it matches, else to its compose label's (or Quadlet unit label's)
//!   project (an orphan if that project is gone);
//! * workspaces to their project, shared mounts to `(shared)`, caches and
//!   anything unattributed to `(global)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::account;
use crate::config::Config;
use crate::engine::{Inventory, Labels};
use crate::size::SumBytes;

/// Compose labels that name a project: docker compose, then podman-compose.
pub const COMPOSE_LABELS: &[&str] = &["com.docker.compose.project", "io.podman.compose.project"];

/// A row of the overview. Synthetic rows use parentheses, which no project
/// id can contain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum RowId {
    Project(String),
    Shared,
    Global,
    Orphans,
}

impl RowId {
    pub fn name(&self) -> &str {
        match self {
            RowId::Project(id) => id,
            RowId::Shared => "(shared)",
            RowId::Global => "(global)",
            RowId::Orphans => "(orphans)",
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RowId::Project(_) => "project",
            RowId::Shared => "shared",
            RowId::Global => "global",
            RowId::Orphans => "orphans",
        }
    }
}

impl From<RowId> for String {
    fn from(r: RowId) -> String {
        r.name().to_string()
    }
}

/// Turns a label value or pod name into a project id (`[a-z0-9][a-z0-9_-]*`),
/// the way compose normalizes project names; `None` if nothing is left.
pub fn normalize_id(raw: &str) -> Option<String> {
    let id: String = raw
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_start_matches(['-', '_']).to_string();
    (!id.is_empty()).then_some(id)
}

fn compose_project(labels: &Labels) -> Option<String> {
    COMPOSE_LABELS
        .iter()
        .find_map(|k| labels.get(*k))
        .and_then(|v| normalize_id(v))
}

/// The label Quadlet (and `podman generate systemd --new`) puts on each
/// container it runs, naming the systemd unit.
pub const UNIT_LABEL: &str = "PODMAN_SYSTEMD_UNIT";

/// A Quadlet-run service is a project named after its unit: `web.service`
/// is `web`, `app@2.service` is `app-2`.
fn unit_project(labels: &Labels) -> Option<String> {
    let unit = labels.get(UNIT_LABEL)?;
    normalize_id(unit.strip_suffix(".service").unwrap_or(unit))
}

/// The project a container's or volume's own labels name: compose first
/// (a compose project run under systemd stays that project), then the unit.
fn labelled_project(labels: &Labels) -> Option<String> {
    compose_project(labels).or_else(|| unit_project(labels))
}

/// Who owns what.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    /// Per container (same order as the inventory): its project, if any.
    pub containers: Vec<Option<String>>,
    /// Per image: the row its own bytes (metadata) go to, and the projects it
    /// belongs to (empty for global, orphan and unattributed images).
    pub images: Vec<ImageOwner>,
    /// Per layer key: its row.
    pub layers: BTreeMap<String, RowId>,
    /// Per volume: its row.
    pub volumes: Vec<RowId>,
    /// Projects that exist: configured, or with at least one container.
    pub projects: BTreeSet<String>,
    /// One line per image whose config pattern and compose label name
    /// different projects (the config wins): a warning, not a failure.
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOwner {
    pub row: RowId,
    pub projects: BTreeSet<String>,
    pub global: bool,
    pub orphan: bool,
}

pub fn attribute(inv: &Inventory, config: &Config) -> Attribution {
    let pods: BTreeMap<&str, &str> = inv
        .pods
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let containers: Vec<Option<String>> = inv
        .containers
        .iter()
        .map(|c| {
            config
                .projects
                .iter()
                .find(|p| p.matches_labels(&c.labels))
                .map(|p| p.id.clone())
                .or_else(|| labelled_project(&c.labels))
                .or_else(|| {
                    c.pod
                        .as_deref()
                        .and_then(|id| pods.get(id))
                        .and_then(|n| normalize_id(n))
                })
        })
        .collect();
    let mut projects: BTreeSet<String> = config.projects.iter().map(|p| p.id.clone()).collect();
    projects.extend(containers.iter().flatten().cloned());

    // Projects of the containers created from each image.
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (c, p) in inv.containers.iter().zip(&containers) {
        if let Some(p) = p {
            users
                .entry(c.image_id.as_str())
                .or_default()
                .insert(p.clone());
        }
    }
    // Compose projects named by the labels of each image's containers.
    let mut composed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in &inv.containers {
        if let Some(p) = compose_project(&c.labels) {
            composed.entry(c.image_id.as_str()).or_default().insert(p);
        }
    }
    let mut conflicts = Vec::new();
    let images: Vec<ImageOwner> = inv
        .images
        .iter()
        .map(|img| {
            let repos: Vec<&str> = img.repositories().collect();
            if repos.iter().any(|r| config.global.matches_image(r)) {
                return ImageOwner {
                    row: RowId::Global,
                    projects: BTreeSet::new(),
                    global: true,
                    orphan: false,
                };
            }
            let configured = config
                .projects
                .iter()
                .find(|p| repos.iter().any(|r| p.matches_image(r)));
            let labelled = compose_project(&img.labels);
            // The label on the image, else on a container created from it.
            let other = labelled
                .iter()
                .chain(composed.get(img.id.as_str()).into_iter().flatten())
                .find(|l| configured.is_some_and(|p| &p.id != *l));
            if let (Some(p), Some(l)) = (configured, other) {
                conflicts.push(label_conflict(img, p, l));
            }
            let configured = configured.map(|p| p.id.clone());
            let set: BTreeSet<String> = match (configured, labelled) {
                (Some(p), _) => [p].into(),
                (None, Some(p)) if projects.contains(&p) => [p].into(),
                (None, Some(_)) => {
                    return ImageOwner {
                        row: RowId::Orphans,
                        projects: BTreeSet::new(),
                        global: false,
                        orphan: true,
                    }
                }
                (None, None) => users.get(img.id.as_str()).cloned().unwrap_or_default(),
            };
            let row = match set.len() {
                0 => RowId::Global,
                1 => RowId::Project(set.iter().next().unwrap().clone()),
                _ => RowId::Shared,
            };
            ImageOwner {
                row,
                projects: set,
                global: false,
                orphan: false,
            }
        })
        .collect();

    let mut layers = BTreeMap::new();
    let mut layer_users: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, img) in inv.images.iter().enumerate() {
        for l in &img.layers {
            layer_users.entry(l.as_str()).or_default().push(i);
        }
    }
    for (layer, idx) in layer_users {
        let owners = idx.iter().map(|i| &images[*i]);
        let row = if owners.clone().any(|o| o.global) {
            RowId::Global
        } else {
            // Orphan images own like a project (one owner, `(orphans)`):
            // what only they use is theirs, a layer they share with a
            // project's images is `(shared)`, never wholly that project's.
            let rows: BTreeSet<RowId> = owners
                .flat_map(|o| {
                    let orphan = o.orphan.then_some(RowId::Orphans);
                    o.projects.iter().cloned().map(RowId::Project).chain(orphan)
                })
                .collect();
            match rows.len() {
                0 => RowId::Global,
                1 => rows.into_iter().next().expect("one row"),
                _ => RowId::Shared,
            }
        };
        layers.insert(layer.to_string(), row);
    }

    let volumes = inv
        .volumes
        .iter()
        .map(|v| {
            if let Some(p) = config
                .projects
                .iter()
                .find(|p| p.claims_volume(&v.name) || p.matches_labels(&v.labels))
            {
                return RowId::Project(p.id.clone());
            }
            if let Some(p) = labelled_project(&v.labels) {
                return if projects.contains(&p) {
                    RowId::Project(p)
                } else {
                    RowId::Orphans
                };
            }
            RowId::Global
        })
        .collect();

    Attribution {
        containers,
        images,
        layers,
        volumes,
        projects,
        conflicts,
    }
}

/// Names the image, the pattern that claimed it and the label it carries.
fn label_conflict(img: &crate::engine::Image, p: &crate::config::Project, label: &str) -> String {
    let repos: Vec<&str> = img.repositories().collect();
    let pattern = p
        .images
        .iter()
        .find(|re| repos.iter().any(|r| re.is_match(r)))
        .map_or("", |re| re.as_str());
    let name = img.names.first().map_or(img.id.as_str(), String::as_str);
    format!(
        "image {name}: config pattern {pattern:?} puts it in project {}, a compose label (on it \
         or a container from it) in project {label}; counted in {}",
        p.id, p.id
    )
}

/// How a project is known: `config`, or from its containers' labels
/// (`compose`, `quadlet`) or pod (`pod`).
pub fn project_kind(
    id: &str,
    inv: &Inventory,
    attr: &Attribution,
    config: &Config,
) -> &'static str {
    if config.projects.iter().any(|p| p.id == id) {
        return "config";
    }
    let labels = inv
        .containers
        .iter()
        .zip(&attr.containers)
        .filter(|(_, p)| p.as_deref() == Some(id))
        .map(|(c, _)| &c.labels);
    let mut kind = "pod";
    for l in labels {
        if compose_project(l).is_some() {
            return "compose";
        }
        if unit_project(l).is_some() {
            kind = "quadlet";
        }
    }
    kind
}

/// Directories measured for the overview, with the row they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredDir {
    pub row: RowId,
    pub path: PathBuf,
    pub bytes: u64,
    pub files: u64,
    pub incomplete: bool,
}

/// What kind of directory a [`MeasuredDir`] is.
#[derive(Debug, Clone, Default)]
pub struct Dirs {
    pub workspaces: Vec<MeasuredDir>,
    pub shared_mounts: Vec<MeasuredDir>,
    pub caches: Vec<MeasuredDir>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub id: RowId,
    pub kind: &'static str,
    pub images_bytes: u64,
    /// Writable layers; null where not measured (the overview never asks).
    pub containers_bytes: Option<u64>,
    pub volumes_bytes: u64,
    pub workspaces_bytes: u64,
    pub caches_bytes: u64,
    pub shared_mounts_bytes: u64,
    pub total_bytes: u64,
    pub containers: u64,
    pub workspaces: u64,
    pub volumes: u64,
    pub images: u64,
    /// A directory of this row could only be partly measured.
    pub incomplete: bool,
}

impl Row {
    fn new(id: RowId) -> Self {
        Row {
            kind: id.kind(),
            id,
            images_bytes: 0,
            containers_bytes: None,
            volumes_bytes: 0,
            workspaces_bytes: 0,
            caches_bytes: 0,
            shared_mounts_bytes: 0,
            total_bytes: 0,
            containers: 0,
            workspaces: 0,
            volumes: 0,
            images: 0,
            incomplete: false,
        }
    }
}

/// The overview's rows: every configured or labelled project (even empty),
/// then `(shared)`, `(global)`, `(orphans)`. Rows sum to the total by
/// construction: each byte is added to exactly one row here.
pub fn rows(
    inv: &Inventory,
    attr: &Attribution,
    dirs: &Dirs,
    with_container_bytes: bool,
) -> Vec<Row> {
    let mut rows: BTreeMap<RowId, Row> = BTreeMap::new();
    fn row<'a>(rows: &'a mut BTreeMap<RowId, Row>, id: &RowId) -> &'a mut Row {
        rows.entry(id.clone())
            .or_insert_with(|| Row::new(id.clone()))
    }
    for p in &attr.projects {
        row(&mut rows, &RowId::Project(p.clone()));
    }
    for synthetic in [RowId::Shared, RowId::Global, RowId::Orphans] {
        row(&mut rows, &synthetic);
    }
    for (layer, id) in &attr.layers {
        let r = row(&mut rows, id);
        r.images_bytes = r
            .images_bytes
            .saturating_add(inv.layers.get(layer).map_or(0, |l| l.bytes));
    }
    for (img, owner) in inv.images.iter().zip(&attr.images) {
        let r = row(&mut rows, &owner.row);
        r.images_bytes = r.images_bytes.saturating_add(img.metadata_bytes);
        if !img.intermediate {
            r.images += 1;
        }
    }
    for (c, p) in inv.containers.iter().zip(&attr.containers) {
        let id = p.clone().map_or(RowId::Global, RowId::Project);
        let r = row(&mut rows, &id);
        r.containers += 1;
        if with_container_bytes {
            let sum = r.containers_bytes.get_or_insert(0);
            *sum = sum.saturating_add(c.rw_bytes.unwrap_or(0));
        }
    }
    for (v, id) in inv.volumes.iter().zip(&attr.volumes) {
        let r = row(&mut rows, id);
        r.volumes += 1;
        r.volumes_bytes = r.volumes_bytes.saturating_add(v.bytes.unwrap_or(0));
    }
    for d in &dirs.workspaces {
        let r = row(&mut rows, &d.row);
        r.workspaces += 1;
        r.workspaces_bytes = r.workspaces_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    for d in &dirs.shared_mounts {
        let r = row(&mut rows, &d.row);
        r.shared_mounts_bytes = r.shared_mounts_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    for d in &dirs.caches {
        let r = row(&mut rows, &d.row);
        r.caches_bytes = r.caches_bytes.saturating_add(d.bytes);
        r.incomplete |= d.incomplete;
    }
    let mut out: Vec<Row> = rows.into_values().collect();
    for r in &mut out {
        if with_container_bytes && r.containers_bytes.is_none() {
            r.containers_bytes = Some(0);
        }
        // Saturating, like every sum of engine-reported and walked sizes.
        r.total_bytes = [
            r.images_bytes,
            r.containers_bytes.unwrap_or(0),
            r.volumes_bytes,
            r.workspaces_bytes,
            r.caches_bytes,
            r.shared_mounts_bytes,
        ]
        .into_iter()
        .sum_bytes();
    }
    out
}

/// What pruning unused images and unused volumes would free (the overview
/// does not measure containers, so their writable layers are not included).
pub fn reclaimable(inv: &Inventory) -> u64 {
    inv.volumes
        .iter()
        .filter(|v| !v.in_use)
        .filter_map(|v| v.bytes)
        .fold(account::images_reclaimable(inv), u64::saturating_add)
}

#[cfg(test)]
mod tests;
