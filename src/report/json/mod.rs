//! The `--format json` contract: one output type per view, defined here and
//! nowhere else.
//!
//! Model and report structs (`engine::Volume`, `account::ImageUsage`,
//! `caches::CacheReport`, `report::overview::OverviewReport`...) do not reach
//! the output: each view's report is converted (`From`) into the types below,
//! so renaming a model field or enum variant fails to compile here instead of
//! renaming a JSON key. `tests/schema.rs` snapshots every view's keys and
//! JSON types. Bump [`SCHEMA`](super::SCHEMA) on any breaking change.
//!
//! Conventions, for every view:
//! - the top level has `schema` (an integer) first and `warnings` (strings,
//!   one line each) last;
//! - sizes are integer bytes in fields ending in `_bytes` (or `bytes`),
//!   never human strings; `null` means not measured, never zero;
//! - `total_bytes` counts every byte once; `incomplete` / `lower_bound` /
//!   `complete: false` mark figures that are lower bounds;
//! - enum-like fields are lowercase strings (`kind`, `state`, `action`);
//! - paths are strings (non-UTF-8 bytes replaced by U+FFFD).
//!
//! | view                  | type                    |
//! |-----------------------|-------------------------|
//! | `overview`            | [`Overview`]            |
//! | `--all-connections`   | [`MultiHost`]           |
//! | `project ID`          | [`Project`]             |
//! | `df`                  | [`Df`]                  |
//! | `images`              | [`Images`]              |
//! | `containers`          | [`Containers`]          |
//! | `volumes`             | [`Volumes`]             |
//! | `du`                  | [`caches::Du`]          |
//! | `caches`              | [`caches::Caches`]      |
//! | `prune caches`        | [`caches::Prune`]       |

pub mod caches;

use std::collections::BTreeMap;

use serde::Serialize;

use super::engine::{
    ContainerRow, ContainersView, DfComponent, DfDetail, DfReport, ImagesView, VolumesView,
};
use super::overview::{
    self, DirEntry, HostSection, MultiHostReport, OverviewReport, ProjectReport,
    ProjectVolume as ProjectVolumeRow,
};
use crate::account::{ComponentKind, ImageUsage};
use crate::engine::ContainerLog;
use crate::projects;

pub use caches::{Caches, Du, Prune};

fn all<'a, S: 'a, T: From<&'a S>>(items: &'a [S]) -> Vec<T> {
    items.iter().map(T::from).collect()
}

/// `overview`: one row per project and synthetic row.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub schema: u32,
    pub global: Global,
    pub rows: Vec<Row>,
    /// The rows' `total_bytes`, added.
    pub total_bytes: u64,
    /// Unused images (layers no kept image needs), unused volumes, blob caches.
    pub reclaimable_bytes: u64,
    pub warnings: Vec<String>,
}

/// What `[global]` in the config matched.
#[derive(Debug, Serialize)]
pub struct Global {
    /// Names of images matched by `[global] images`.
    pub images: Vec<String>,
    pub shared_mounts: Vec<Dir>,
}

/// A measured directory (workspace, shared mount).
#[derive(Debug, Serialize)]
pub struct Dir {
    pub path: String,
    pub bytes: u64,
    pub files: u64,
    /// Not everything could be read: `bytes` is a lower bound.
    pub incomplete: bool,
}

/// One overview row.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The project's id, or `(shared)`, `(global)`, `(orphans)`.
    pub id: String,
    /// `project`, `shared`, `global` or `orphans`.
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
    pub incomplete: bool,
}

/// `--all-connections`.
#[derive(Debug, Serialize)]
pub struct MultiHost {
    pub schema: u32,
    pub hosts: Vec<Host>,
    /// This machine's workspaces, shared mounts and caches.
    pub local: Overview,
    /// Every host's total and the local total, added.
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Host {
    pub connection: String,
    pub uri: String,
    /// Engine rows only: workspaces and caches are in `local`.
    pub report: Option<Overview>,
    /// Why this host has no report.
    pub error: Option<String>,
}

/// `project ID`.
#[derive(Debug, Serialize)]
pub struct Project {
    pub schema: u32,
    pub id: String,
    pub images: Vec<Image>,
    /// Image-layer bytes attributed to the project (its unique layers).
    pub images_bytes: u64,
    pub containers: Vec<Container>,
    pub containers_bytes: u64,
    /// The containers' log files, apart from their writable layers.
    pub logs_bytes: u64,
    pub workspaces: Vec<Dir>,
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

/// `--sort`, `--top`, `--project` as applied; a view leaves it out when
/// none was given.
#[derive(Debug, Serialize)]
pub struct Selection {
    pub sort: Option<&'static str>,
    pub top: Option<usize>,
    pub project: Option<String>,
    /// Rows listed.
    pub shown: usize,
    /// Rows that matched: the view's total covers all of them.
    pub matched: usize,
}

/// `None` when no option was given (the field is then left out).
pub fn selection(s: &crate::select::Shown) -> Option<Selection> {
    use crate::select::SortKey;
    (!s.is_default()).then(|| Selection {
        sort: s.sort.map(|k| match k {
            SortKey::Size => "size",
            SortKey::Unique => "unique",
            SortKey::Created => "created",
            SortKey::Used => "used",
            SortKey::Name => "name",
        }),
        top: s.top,
        project: s.project.clone(),
        shown: s.shown,
        matched: s.matched,
    })
}

/// `project` without an id: the projects there are.
#[derive(Debug, Serialize)]
pub struct ProjectList {
    pub schema: u32,
    pub projects: Vec<ProjectListRow>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProjectListRow {
    pub id: String,
    /// `config`, `compose`, `quadlet` or `pod`: where the project comes from.
    pub kind: &'static str,
    pub containers: u64,
    /// Its overview row's total.
    pub total_bytes: u64,
}

/// `df`: one component per row.
#[derive(Debug, Serialize)]
pub struct Df {
    pub schema: u32,
    pub components: Vec<Component>,
    pub total_bytes: u64,
    pub reclaimable_bytes: u64,
    /// False when a source failed: the totals are lower bounds.
    pub complete: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Component {
    /// `images`, `containers`, `volumes`, `caches`, `logs`, `metadata`,
    /// `build_cache`.
    pub kind: &'static str,
    pub count: u64,
    pub active: u64,
    pub bytes: u64,
    /// What pruning the unused ones would really free.
    pub reclaimable_bytes: u64,
    /// Some items could not be measured in full: the figures are lower bounds.
    pub incomplete: bool,
    /// False when the engine could not list this component: its figures are
    /// zeros that mean "unknown".
    pub measured: bool,
    /// What the row is made of (store metadata's parts, build leftovers'
    /// paths); absent when not itemized.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
}

#[derive(Debug, Serialize)]
pub struct Detail {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub bytes: u64,
}

/// `images`: each layer counted once.
#[derive(Debug, Serialize)]
pub struct Images {
    pub schema: u32,
    pub images: Vec<Image>,
    /// Layers owned by more than one image, counted once.
    pub shared_layers_bytes: u64,
    /// Every image's unique bytes plus the shared layers.
    pub total_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Image {
    pub id: String,
    pub names: Vec<String>,
    /// The engine's own figure (all its layers plus metadata).
    pub size_bytes: u64,
    /// What only this image owns: removing it frees them.
    pub unique_bytes: u64,
    /// `size_bytes - unique_bytes`.
    pub shared_bytes: u64,
    pub containers: u64,
    pub dangling: bool,
    pub intermediate: bool,
    /// From an additional image store; present only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// RFC 3339 UTC; null when the engine does not say.
    pub created: Option<String>,
    /// When the newest container made from it was created; null when none.
    pub last_used: Option<String>,
}

/// `containers`.
#[derive(Debug, Serialize)]
pub struct Containers {
    pub schema: u32,
    pub containers: Vec<Container>,
    /// The measured writable layers (0 without `--size`).
    pub total_bytes: u64,
    /// The measured log files, apart from `total_bytes`.
    pub logs_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `running`, `paused`, `created`, `exited`, `stopped`, `external`, `other`.
    pub state: String,
    pub pod: Option<String>,
    /// Writable-layer bytes; null unless measured.
    pub rw_bytes: Option<u64>,
    /// Asked for but not measured in full: `rw_bytes` (if any) is a lower bound.
    pub lower_bound: bool,
    /// Null unless measured.
    pub log: Option<Log>,
    /// RFC 3339 UTC; null when the engine does not say.
    pub created: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Log {
    pub driver: String,
    pub path: Option<String>,
    pub bytes: Option<u64>,
    /// Present only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
}

/// `volumes`.
#[derive(Debug, Serialize)]
pub struct Volumes {
    pub schema: u32,
    pub volumes: Vec<Volume>,
    pub total_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Volume {
    pub name: String,
    pub mountpoint: String,
    pub labels: BTreeMap<String, String>,
    pub in_use: bool,
    /// Null when it could not be measured.
    pub bytes: Option<u64>,
    /// The engine's figure, which may count hard links twice.
    pub approximate: bool,
    pub lower_bound: bool,
    /// RFC 3339 UTC; null when the engine does not say.
    pub created: Option<String>,
}

/// A volume of `project ID`.
#[derive(Debug, Serialize)]
pub struct ProjectVolume {
    pub name: String,
    pub bytes: Option<u64>,
    pub in_use: bool,
}

impl From<&OverviewReport> for Overview {
    fn from(r: &OverviewReport) -> Self {
        Overview {
            schema: r.schema,
            global: Global {
                images: r.global.images.clone(),
                shared_mounts: all(&r.global.shared_mounts),
            },
            rows: all(&r.rows),
            total_bytes: r.total_bytes,
            reclaimable_bytes: r.reclaimable_bytes,
            warnings: r.warnings.clone(),
        }
    }
}

impl From<&DirEntry> for Dir {
    fn from(d: &DirEntry) -> Self {
        Dir {
            path: d.path.clone(),
            bytes: d.bytes,
            files: d.files,
            incomplete: d.incomplete,
        }
    }
}

impl From<&projects::Row> for Row {
    fn from(r: &projects::Row) -> Self {
        Row {
            id: r.id.name().to_string(),
            kind: r.id.kind(),
            images_bytes: r.images_bytes,
            containers_bytes: r.containers_bytes,
            volumes_bytes: r.volumes_bytes,
            workspaces_bytes: r.workspaces_bytes,
            caches_bytes: r.caches_bytes,
            shared_mounts_bytes: r.shared_mounts_bytes,
            total_bytes: r.total_bytes,
            containers: r.containers,
            workspaces: r.workspaces,
            volumes: r.volumes,
            images: r.images,
            incomplete: r.incomplete,
        }
    }
}

impl From<&MultiHostReport> for MultiHost {
    fn from(r: &MultiHostReport) -> Self {
        MultiHost {
            schema: r.schema,
            hosts: all(&r.hosts),
            local: Overview::from(&r.local),
            total_bytes: r.total_bytes,
            warnings: r.warnings.clone(),
        }
    }
}

impl From<&HostSection> for Host {
    fn from(h: &HostSection) -> Self {
        Host {
            connection: h.connection.clone(),
            uri: h.uri.clone(),
            report: h.report.as_ref().map(Overview::from),
            error: h.error.clone(),
        }
    }
}

impl From<&ProjectReport> for Project {
    fn from(r: &ProjectReport) -> Self {
        Project {
            schema: r.schema,
            id: r.id.clone(),
            images: all(&r.images),
            images_bytes: r.images_bytes,
            containers: all(&r.containers),
            containers_bytes: r.containers_bytes,
            logs_bytes: r.logs_bytes,
            workspaces: all(&r.workspaces),
            workspaces_bytes: r.workspaces_bytes,
            volumes: all(&r.volumes),
            volumes_bytes: r.volumes_bytes,
            row_bytes: r.row_bytes,
            total_bytes: r.total_bytes,
            warnings: r.warnings.clone(),
        }
    }
}

impl From<&overview::ProjectList> for ProjectList {
    fn from(l: &overview::ProjectList) -> Self {
        ProjectList {
            schema: l.schema,
            projects: l
                .projects
                .iter()
                .map(|p| ProjectListRow {
                    id: p.id.clone(),
                    kind: p.kind,
                    containers: p.containers,
                    total_bytes: p.total_bytes,
                })
                .collect(),
            warnings: l.warnings.clone(),
        }
    }
}

impl From<&ProjectVolumeRow> for ProjectVolume {
    fn from(v: &ProjectVolumeRow) -> Self {
        ProjectVolume {
            name: v.name.clone(),
            bytes: v.bytes,
            in_use: v.in_use,
        }
    }
}

impl From<&DfReport> for Df {
    fn from(r: &DfReport) -> Self {
        Df {
            schema: r.schema,
            components: all(&r.components),
            total_bytes: r.total_bytes,
            reclaimable_bytes: r.reclaimable_bytes,
            complete: r.complete,
            warnings: r.warnings.clone(),
        }
    }
}

impl From<&DfComponent> for Component {
    fn from(c: &DfComponent) -> Self {
        let f = &c.figures;
        Component {
            kind: component_kind(f.kind),
            count: f.count,
            active: f.active,
            bytes: f.bytes,
            reclaimable_bytes: f.reclaimable_bytes,
            incomplete: f.incomplete,
            measured: c.measured,
            details: all(&c.details),
        }
    }
}

fn component_kind(k: ComponentKind) -> &'static str {
    match k {
        ComponentKind::Images => "images",
        ComponentKind::Containers => "containers",
        ComponentKind::Volumes => "volumes",
        ComponentKind::Caches => "caches",
        ComponentKind::Logs => "logs",
        ComponentKind::Metadata => "metadata",
        ComponentKind::BuildCache => "build_cache",
    }
}

impl From<&DfDetail> for Detail {
    fn from(d: &DfDetail) -> Self {
        Detail {
            name: d.name.clone(),
            path: d.path.clone(),
            bytes: d.bytes,
        }
    }
}

impl From<&ImagesView> for Images {
    fn from(v: &ImagesView) -> Self {
        Images {
            schema: v.schema,
            images: all(&v.images),
            shared_layers_bytes: v.shared_layers_bytes,
            total_bytes: v.total_bytes,
            selection: selection(&v.selection),
            warnings: v.warnings.clone(),
        }
    }
}

impl From<&ImageUsage> for Image {
    fn from(i: &ImageUsage) -> Self {
        Image {
            id: i.id.clone(),
            names: i.names.clone(),
            size_bytes: i.size_bytes,
            unique_bytes: i.unique_bytes,
            shared_bytes: i.shared_bytes,
            containers: i.containers,
            dangling: i.dangling,
            intermediate: i.intermediate,
            read_only: i.read_only,
            created: i.created.map(|t| t.rfc3339()),
            last_used: i.last_used.map(|t| t.rfc3339()),
        }
    }
}

impl From<&ContainersView> for Containers {
    fn from(v: &ContainersView) -> Self {
        Containers {
            schema: v.schema,
            containers: all(&v.containers),
            total_bytes: v.total_bytes,
            logs_bytes: v.logs_bytes,
            selection: selection(&v.selection),
            warnings: v.warnings.clone(),
        }
    }
}

impl From<&ContainerRow> for Container {
    fn from(c: &ContainerRow) -> Self {
        Container {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            state: c.state.clone(),
            pod: c.pod.clone(),
            rw_bytes: c.rw_bytes,
            lower_bound: c.lower_bound,
            log: c.log.as_ref().map(Log::from),
            created: c.created.map(|t| t.rfc3339()),
        }
    }
}

impl From<&ContainerLog> for Log {
    fn from(l: &ContainerLog) -> Self {
        Log {
            driver: l.driver.clone(),
            path: l.path.clone(),
            bytes: l.bytes,
            lower_bound: l.lower_bound,
        }
    }
}

impl From<&VolumesView> for Volumes {
    fn from(v: &VolumesView) -> Self {
        Volumes {
            schema: v.schema,
            volumes: all(&v.volumes),
            total_bytes: v.total_bytes,
            selection: selection(&v.selection),
            warnings: v.warnings.clone(),
        }
    }
}

impl From<&crate::engine::Volume> for Volume {
    fn from(v: &crate::engine::Volume) -> Self {
        Volume {
            name: v.name.clone(),
            mountpoint: v.mountpoint.clone(),
            labels: v.labels.clone(),
            in_use: v.in_use,
            bytes: v.bytes,
            approximate: v.approximate,
            lower_bound: v.lower_bound,
            created: v.created.map(|t| t.rfc3339()),
        }
    }
}
