//! `why TARGET`: everything that keeps an object on disk, and what removing
//! each holder would free.
//!
//! Pure over the inventory, the attribution and the relations the store
//! records; blobs in caches are found by `caches::locate` and only shaped
//! here. What removing something frees follows podman's own rules: `podman
//! rmi -f` takes the image's containers with it, libimage then removes the
//! nameless parents no other image needs, and a layer is freed only when no
//! image left holds it (the exact-once ownership of `account`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::caches::locate::BlobSite;
use crate::engine::local::Relations;
use crate::engine::{ContainerState, Inventory, Labels};
use crate::projects::{Attribution, COMPOSE_LABELS, UNIT_LABEL};

mod lookup;
mod removal;

use crate::size::SumBytes;
pub use lookup::{candidate, find, Candidate, Matches, MIN_PREFIX};
use lookup::{diff_id, image_name};
use removal::{containers_of, descendants};
pub use removal::{frees, Freed};

/// The store `why` looks into.
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    pub inv: &'a Inventory,
    pub attr: &'a Attribution,
    pub relations: &'a Relations,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Layer,
    Volume,
    Container,
    Blob,
    Pod,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Layer => "layer",
            Kind::Volume => "volume",
            Kind::Container => "container",
            Kind::Blob => "blob",
            Kind::Pod => "pod",
        }
    }
}

/// One engine object a TARGET names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Found {
    Image(usize),
    Layer(String),
    Volume(usize),
    Container(usize),
}

impl Found {
    pub fn kind(&self) -> Kind {
        match self {
            Found::Image(_) => Kind::Image,
            Found::Layer(_) => Kind::Layer,
            Found::Volume(_) => Kind::Volume,
            Found::Container(_) => Kind::Container,
        }
    }
}

/// The labels that tie an object to a project: compose's and Quadlet's.
fn project_labels(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| COMPOSE_LABELS.contains(&k.as_str()) || k.as_str() == UNIT_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The object asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// Image tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Layers: the uncompressed diff digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// Its own size: an image's engine size, a layer's diff, a volume's
    /// contents, a container's writable layer, a blob's file; null when
    /// not measured.
    pub bytes: Option<u64>,
    /// The overview row its bytes are attributed to (blobs: none).
    pub row: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    /// Compose and Quadlet labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// In an additional (read-only) image store: no prune here removes it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// How a holder is related to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// An image built on the target image.
    ChildImage,
    /// A container created from the image (or from one built on it).
    Container,
    /// An image whose chain holds the layer.
    Image,
    /// A container that mounts the volume.
    Mounts,
    /// The pod a container is in.
    Pod,
    /// A container's image (it keeps that image, not the reverse).
    CreatedFrom,
    /// A volume a container mounts (removing the container keeps it).
    MountedVolume,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::ChildImage => "child image",
            Relation::Container => "container",
            Relation::Image => "image",
            Relation::Mounts => "mounts it",
            Relation::Pod => "pod",
            Relation::CreatedFrom => "its image",
            Relation::MountedVolume => "volume",
        }
    }
}

/// One object that keeps the target, or (for a container) one it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub relation: Relation,
    pub kind: Kind,
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    /// Its project (attribution's), if any.
    pub project: Option<String>,
    /// Images: how many containers were created from it (removing the
    /// image removes them too, and `frees_bytes` counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<u64>,
    /// What removing this holder alone frees (with its own containers for
    /// an image); null where removing it frees nothing countable here.
    pub frees_bytes: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
}

/// The answer to `why TARGET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhyReport {
    pub schema: u32,
    pub query: String,
    pub target: Target,
    /// What keeps the target.
    pub holders: Vec<Holder>,
    /// What a container keeps (its image, volumes): not holders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Holder>,
    /// Blobs: each cache or layout holding it, with what references it there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<BlobSite>,
    /// What removing the target frees once nothing holds it (with its own
    /// containers for an image); null for a layer, which goes only with
    /// its images.
    pub frees_bytes: Option<u64>,
    /// What removing the target and every holder frees: the target's bytes
    /// that no other object keeps, plus the holders' own.
    pub frees_with_holders_bytes: Option<u64>,
    /// A container's size was not measured: the figures are at least these.
    pub lower_bound: bool,
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

fn project_of_container(store: &Store<'_>, n: usize) -> Option<String> {
    store.attr.containers.get(n).cloned().flatten()
}

fn image_project(store: &Store<'_>, i: usize) -> Option<String> {
    store.attr.images.get(i).map(|o| o.row.name().to_string())
}

fn container_holder(store: &Store<'_>, n: usize, relation: Relation) -> Holder {
    let c = &store.inv.containers[n];
    let f = frees(store, &BTreeSet::new(), &[n].into());
    Holder {
        relation,
        kind: Kind::Container,
        id: c.id.clone(),
        name: c.name.clone(),
        state: Some(c.state),
        project: project_of_container(store, n),
        containers: None,
        frees_bytes: Some(f.bytes),
        lower_bound: f.lower_bound,
    }
}

fn image_holder(store: &Store<'_>, i: usize, relation: Relation) -> Holder {
    let img = &store.inv.images[i];
    let own = containers_of(store.inv, &img.id);
    let f = frees(store, &[i].into(), &own);
    Holder {
        relation,
        kind: Kind::Image,
        id: img.id.clone(),
        name: image_name(img),
        state: None,
        project: image_project(store, i),
        containers: Some(own.len() as u64),
        frees_bytes: (!img.read_only).then_some(f.bytes),
        lower_bound: f.lower_bound,
    }
}

fn lower_bound(holders: &[Holder], freed: &[Freed]) -> bool {
    holders.iter().any(|h| h.lower_bound) || freed.iter().any(|f| f.lower_bound)
}

/// Everything that keeps the engine object `found`.
pub fn explain(store: &Store<'_>, query: &str, found: &Found) -> WhyReport {
    let inv = store.inv;
    let mut notes = Vec::new();
    let (target, holders, related, alone, all) = match found {
        Found::Image(i) => {
            let i = *i;
            let img = &inv.images[i];
            let kids = descendants(store, i);
            let mut holders: Vec<Holder> = containers_of(inv, &img.id)
                .into_iter()
                .map(|n| container_holder(store, n, Relation::Container))
                .collect();
            holders.extend(
                kids.iter()
                    .map(|&k| image_holder(store, k, Relation::ChildImage)),
            );
            let own = containers_of(inv, &img.id);
            let alone = frees(store, &[i].into(), &own);
            let family: BTreeSet<usize> = kids.iter().copied().chain([i]).collect();
            let all = frees(store, &family, &BTreeSet::new());
            if img.read_only {
                notes.push(
                    "in a read-only (additional) image store: no prune here removes it".into(),
                );
            }
            if img.intermediate {
                notes.push(
                    "a build intermediate: podman removes it with the last image built on it"
                        .into(),
                );
            }
            let target = Target {
                kind: Kind::Image,
                id: img.id.clone(),
                name: image_name(img),
                tags: img.names.clone(),
                diff_id: None,
                bytes: Some(img.size),
                row: image_project(store, i),
                state: None,
                labels: project_labels(&img.labels),
                read_only: img.read_only,
            };
            let freed = (!img.read_only).then_some(alone);
            (target, holders, Vec::new(), freed, Some(all))
        }
        Found::Layer(key) => {
            let holding: Vec<usize> = inv
                .images
                .iter()
                .enumerate()
                .filter(|(_, img)| img.layers.contains(key))
                .map(|(i, _)| i)
                .collect();
            let holders: Vec<Holder> = holding
                .iter()
                .map(|&i| image_holder(store, i, Relation::Image))
                .collect();
            let all = frees(store, &holding.iter().copied().collect(), &BTreeSet::new());
            let target = Target {
                kind: Kind::Layer,
                id: key.clone(),
                name: diff_id(store, key).unwrap_or(key).to_string(),
                tags: Vec::new(),
                diff_id: diff_id(store, key).map(str::to_string),
                bytes: inv.layers.get(key).map(|l| l.bytes),
                row: store.attr.layers.get(key).map(|r| r.name().to_string()),
                state: None,
                labels: BTreeMap::new(),
                read_only: false,
            };
            (target, holders, Vec::new(), None, Some(all))
        }
        Found::Volume(n) => {
            let v = &inv.volumes[*n];
            let users: Option<Vec<usize>> = store.relations.volume_users.as_ref().map(|m| {
                let ids = m.get(&v.name).cloned().unwrap_or_default();
                inv.containers
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| ids.contains(&c.id))
                    .map(|(n, _)| n)
                    .collect()
            });
            let unknown = users.is_none() && v.in_use;
            if unknown {
                notes.push(
                    "a container uses it, but the engine does not say which: its holders and their bytes are missing".into(),
                );
            }
            let users = users.unwrap_or_default();
            let holders: Vec<Holder> = users
                .iter()
                .map(|&c| container_holder(store, c, Relation::Mounts))
                .collect();
            let with = frees(store, &BTreeSet::new(), &users.iter().copied().collect());
            let target = Target {
                kind: Kind::Volume,
                id: v.name.clone(),
                name: v.name.clone(),
                tags: Vec::new(),
                diff_id: None,
                bytes: v.bytes,
                row: store.attr.volumes.get(*n).map(|r| r.name().to_string()),
                state: None,
                labels: project_labels(&v.labels),
                read_only: false,
            };
            let alone = Freed {
                bytes: v.bytes.unwrap_or(0),
                lower_bound: v.bytes.is_none() || v.lower_bound,
            };
            let all = Freed {
                bytes: alone.bytes.saturating_add(with.bytes),
                lower_bound: alone.lower_bound || with.lower_bound || unknown,
            };
            (target, holders, Vec::new(), Some(alone), Some(all))
        }
        Found::Container(n) => {
            let n = *n;
            let c = &inv.containers[n];
            let mut holders = Vec::new();
            if let Some(pod) = c.pod.as_deref() {
                let name = inv
                    .pods
                    .iter()
                    .find(|p| p.id == pod)
                    .map_or_else(|| pod.to_string(), |p| p.name.clone());
                holders.push(Holder {
                    relation: Relation::Pod,
                    kind: Kind::Pod,
                    id: pod.to_string(),
                    name,
                    state: None,
                    project: project_of_container(store, n),
                    containers: Some(
                        inv.containers
                            .iter()
                            .filter(|o| o.pod.as_deref() == Some(pod))
                            .count() as u64,
                    ),
                    frees_bytes: None,
                    lower_bound: false,
                });
            }
            let mut related = Vec::new();
            if let Some(i) = inv.images.iter().position(|img| img.id == c.image_id) {
                related.push(image_holder(store, i, Relation::CreatedFrom));
            }
            if let Some(m) = &store.relations.volume_users {
                for (vn, v) in inv.volumes.iter().enumerate() {
                    if m.get(&v.name).is_some_and(|ids| ids.contains(&c.id)) {
                        related.push(Holder {
                            relation: Relation::MountedVolume,
                            kind: Kind::Volume,
                            id: v.name.clone(),
                            name: v.name.clone(),
                            state: None,
                            project: store.attr.volumes.get(vn).map(|r| r.name().to_string()),
                            containers: None,
                            frees_bytes: v.bytes,
                            lower_bound: v.bytes.is_none() || v.lower_bound,
                        });
                    }
                }
            }
            if c.state.is_active() {
                notes.push(format!(
                    "{}: podman rm refuses it until it is stopped",
                    c.state.as_str()
                ));
            }
            let alone = frees(store, &BTreeSet::new(), &[n].into());
            let target = Target {
                kind: Kind::Container,
                id: c.id.clone(),
                name: c.name.clone(),
                tags: Vec::new(),
                diff_id: None,
                bytes: c.rw_bytes,
                row: Some(project_of_container(store, n).unwrap_or_else(|| "(global)".into())),
                state: Some(c.state),
                labels: project_labels(&c.labels),
                read_only: false,
            };
            (target, holders, related, Some(alone), Some(alone))
        }
    };
    let freed: Vec<Freed> = alone.iter().chain(all.iter()).copied().collect();
    WhyReport {
        schema: crate::report::SCHEMA,
        query: query.to_string(),
        lower_bound: lower_bound(&holders, &freed),
        target,
        holders,
        related,
        sites: Vec::new(),
        frees_bytes: alone.map(|f| f.bytes),
        frees_with_holders_bytes: all.map(|f| f.bytes),
        notes,
        warnings: Vec::new(),
    }
}

/// The answer for a blob found in caches (`sites` non-empty).
pub fn explain_blob(query: &str, digest: &str, sites: Vec<BlobSite>) -> WhyReport {
    let mut notes = Vec::new();
    let orphan_bytes = sites
        .iter()
        .filter(|s| s.referrers.as_ref().is_some_and(|r| r.is_empty()))
        .map(|s| s.bytes)
        .sum_bytes();
    for s in &sites {
        let place = s.cache.display();
        match (&s.referrers, &s.error, s.kind) {
            (Some(r), _, _) if r.is_empty() => notes.push(format!(
                "{place}: nothing references it; `podman-storage prune caches --orphans {place}` removes it"
            )),
            (_, Some(e), _) => notes.push(format!("{place}: references unknown: {e}")),
            (_, _, crate::caches::Kind::Fscache) => notes.push(format!(
                "{place}: a flat cache, where nothing references a blob: it stays until pruned by age or size"
            )),
            (_, _, crate::caches::Kind::Registry) => notes.push(format!(
                "{place}: registry storage: its garbage-collect decides what references it"
            )),
            _ => {}
        }
    }
    let bytes = sites.iter().map(|s| s.bytes).sum_bytes();
    WhyReport {
        schema: crate::report::SCHEMA,
        query: query.to_string(),
        target: Target {
            kind: Kind::Blob,
            id: digest.to_string(),
            name: digest.to_string(),
            tags: Vec::new(),
            diff_id: None,
            bytes: Some(bytes),
            row: None,
            state: None,
            labels: BTreeMap::new(),
            read_only: false,
        },
        holders: Vec::new(),
        related: Vec::new(),
        lower_bound: sites.iter().any(|s| s.error.is_some()),
        sites,
        frees_bytes: Some(orphan_bytes),
        frees_with_holders_bytes: Some(bytes),
        notes,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
