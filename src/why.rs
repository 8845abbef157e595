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
use crate::engine::{ContainerState, Image, Inventory, Labels};
use crate::projects::{Attribution, COMPOSE_LABELS, UNIT_LABEL};

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

/// One of several objects an ambiguous TARGET names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub kind: Kind,
    pub id: String,
    pub name: String,
}

/// What TARGET names: exact matches (a name, a full id or digest), else
/// id prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub exact: BTreeSet<Found>,
    pub prefix: BTreeSet<Found>,
}

impl Matches {
    /// Exact matches win over prefixes, as in podman's own lookups.
    pub fn best(self) -> BTreeSet<Found> {
        if self.exact.is_empty() {
            self.prefix
        } else {
            self.exact
        }
    }
}

/// An id prefix must be at least this long: shorter ones match by chance.
pub const MIN_PREFIX: usize = 3;

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `app`, `app:1`, `localhost/app:1` all name `localhost/app:1`; a name
/// without a tag means `:latest`, as podman reads it.
fn names_image(name: &str, query: &str) -> bool {
    let tagged = crate::engine::repository_of(query) != query;
    let full = if tagged {
        query.to_string()
    } else {
        format!("{query}:latest")
    };
    name == full || name.ends_with(&format!("/{full}"))
}

/// The diff digest of a layer: from the store's records, or the tail of a
/// CLI chain key (`chain:<hash>:<digest>`).
fn diff_id<'a>(store: &Store<'a>, key: &'a str) -> Option<&'a str> {
    store
        .relations
        .diff_ids
        .get(key)
        .map(String::as_str)
        .or_else(|| {
            key.strip_prefix("chain:")
                .and_then(|k| k.split_once(':'))
                .map(|(_, d)| d)
        })
}

/// Every object of `kind` (all kinds when `None`) that `query` names.
pub fn find(store: &Store<'_>, query: &str, kind: Option<Kind>) -> Matches {
    let mut m = Matches::default();
    let want = |k: Kind| kind.is_none_or(|w| w == k);
    let bare = query.strip_prefix("sha256:").unwrap_or(query);
    let prefix_ok = is_hex(bare) && bare.len() >= MIN_PREFIX;
    let id_match = |id: &str, found: Found, m: &mut Matches| {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        if id == bare {
            m.exact.insert(found);
        } else if prefix_ok && id.starts_with(bare) {
            m.prefix.insert(found);
        }
    };
    let inv = store.inv;
    if want(Kind::Image) {
        for (i, img) in inv.images.iter().enumerate() {
            if img.names.iter().any(|n| names_image(n, query)) {
                m.exact.insert(Found::Image(i));
            }
            id_match(&img.id, Found::Image(i), &mut m);
        }
    }
    if want(Kind::Layer) {
        for key in inv.layers.keys() {
            id_match(key, Found::Layer(key.clone()), &mut m);
            if let Some(d) = diff_id(store, key) {
                id_match(d, Found::Layer(key.clone()), &mut m);
            }
        }
    }
    if want(Kind::Volume) {
        for (i, v) in inv.volumes.iter().enumerate() {
            if v.name == query {
                m.exact.insert(Found::Volume(i));
            }
        }
    }
    if want(Kind::Container) {
        for (i, c) in inv.containers.iter().enumerate() {
            if c.name == query {
                m.exact.insert(Found::Container(i));
            }
            id_match(&c.id, Found::Container(i), &mut m);
        }
    }
    m
}

pub fn candidate(store: &Store<'_>, found: &Found) -> Candidate {
    let inv = store.inv;
    let (id, name) = match found {
        Found::Image(i) => {
            let img = &inv.images[*i];
            (img.id.clone(), image_name(img))
        }
        Found::Layer(key) => (
            key.clone(),
            diff_id(store, key).unwrap_or_default().to_string(),
        ),
        Found::Volume(i) => (inv.volumes[*i].name.clone(), inv.volumes[*i].name.clone()),
        Found::Container(i) => (
            inv.containers[*i].id.clone(),
            inv.containers[*i].name.clone(),
        ),
    };
    Candidate {
        kind: found.kind(),
        id,
        name,
    }
}

fn image_name(img: &Image) -> String {
    img.names.first().cloned().unwrap_or_else(|| {
        if img.intermediate {
            "<none> (build intermediate)".into()
        } else {
            "<none>".into()
        }
    })
}

/// Bytes that removing something frees; a lower bound when a container's
/// writable layer or log was not measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Freed {
    pub bytes: u64,
    pub lower_bound: bool,
}

/// What removing these images and containers frees, as podman does it.
/// A removed image takes its containers (`podman rmi -f`) and the build
/// intermediates that no image left descends from (libimage removes
/// nameless parents that lose their last child); a layer is freed when no
/// image left holds it. Read-only images cannot be removed here.
pub fn frees(store: &Store<'_>, images: &BTreeSet<usize>, containers: &BTreeSet<usize>) -> Freed {
    let inv = store.inv;
    // Only a removed image can take intermediates with it.
    let below: BTreeMap<usize, Vec<usize>> = inv
        .images
        .iter()
        .enumerate()
        .filter(|_| !images.is_empty())
        .filter(|(_, img)| img.intermediate && !img.read_only)
        .map(|(i, _)| (i, descendants(store, i)))
        .collect();
    let mut removed: BTreeSet<usize> = images
        .iter()
        .copied()
        .filter(|&i| !inv.images[i].read_only)
        .collect();
    loop {
        let before = removed.len();
        for (&i, kids) in &below {
            // A same-chain sibling only guessed from layers (no recorded
            // parents) must not keep it: each would wait for the other.
            let layers = &inv.images[i].layers;
            let waits = |j: &usize| {
                let same_chain = inv.images[*j].intermediate && &inv.images[*j].layers == layers;
                !(removed.contains(j) || same_chain)
            };
            if !removed.contains(&i) && !kids.is_empty() && !kids.iter().any(waits) {
                removed.insert(i);
            }
        }
        if removed.len() == before {
            break;
        }
    }
    let ids: BTreeSet<&str> = removed.iter().map(|&i| inv.images[i].id.as_str()).collect();
    let gone_containers = inv
        .containers
        .iter()
        .enumerate()
        .filter(|(n, c)| containers.contains(n) || ids.contains(c.image_id.as_str()));
    let kept: BTreeSet<&String> = inv
        .images
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .flat_map(|(_, img)| &img.layers)
        .collect();
    let layers: BTreeSet<&String> = removed
        .iter()
        .flat_map(|&i| &inv.images[i].layers)
        .filter(|l| !kept.contains(l))
        .collect();
    let mut freed = Freed::default();
    let mut add = |b: u64| freed.bytes = freed.bytes.saturating_add(b);
    for l in layers {
        add(inv.layers.get(l).map_or(0, |l| l.bytes));
    }
    for &i in &removed {
        add(inv.images[i].metadata_bytes);
    }
    for (_, c) in gone_containers {
        match c.rw_bytes {
            Some(b) => add(b),
            None => freed.lower_bound = true,
        }
        freed.lower_bound |= c.lower_bound;
        if let Some(log) = &c.log {
            add(log.bytes.unwrap_or(0));
            freed.lower_bound |= log.lower_bound;
        }
    }
    freed
}

/// Images built on image `i`, children and their children: by the parents
/// the store records (c/common's layer tree, as `podman images` prints
/// them), else by layer chains that start with all of its layers.
fn descendants(store: &Store<'_>, i: usize) -> Vec<usize> {
    let inv = store.inv;
    match &store.relations.image_parents {
        Some(parents) => {
            let index: BTreeMap<&str, usize> = inv
                .images
                .iter()
                .enumerate()
                .map(|(n, img)| (img.id.as_str(), n))
                .collect();
            let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (child, parent) in parents {
                if let (Some(&c), Some(&p)) =
                    (index.get(child.as_str()), index.get(parent.as_str()))
                {
                    children.entry(p).or_default().push(c);
                }
            }
            let mut out = BTreeSet::new();
            let mut todo = vec![i];
            while let Some(n) = todo.pop() {
                for &c in children.get(&n).into_iter().flatten() {
                    if c != i && out.insert(c) {
                        todo.push(c);
                    }
                }
            }
            out.into_iter().collect()
        }
        None => {
            let base = &inv.images[i].layers;
            inv.images
                .iter()
                .enumerate()
                .filter(|(j, img)| *j != i && !base.is_empty() && img.layers.starts_with(base))
                .map(|(j, _)| j)
                .collect()
        }
    }
}

fn containers_of(inv: &Inventory, image_id: &str) -> BTreeSet<usize> {
    inv.containers
        .iter()
        .enumerate()
        .filter(|(_, c)| c.image_id == image_id)
        .map(|(n, _)| n)
        .collect()
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
        .fold(0, u64::saturating_add);
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
    let bytes = sites.iter().map(|s| s.bytes).fold(0, u64::saturating_add);
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
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{Container, Layer, Volume};
    use proptest::prelude::*;

    fn layers(spec: &[(&str, u64)]) -> BTreeMap<String, Layer> {
        spec.iter()
            .map(|(k, b)| {
                let layer = Layer {
                    key: k.to_string(),
                    bytes: *b,
                };
                (k.to_string(), layer)
            })
            .collect()
    }

    fn image(id: &str, names: &[&str], chain: &[&str], meta: u64, inv: &Inventory) -> Image {
        let size = chain.iter().map(|l| inv.layers[*l].bytes).sum::<u64>() + meta;
        Image {
            id: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            layers: chain.iter().map(|s| s.to_string()).collect(),
            size,
            metadata_bytes: meta,
            labels: Default::default(),
            intermediate: false,
            read_only: false,
        }
    }

    fn container(id: &str, name: &str, image_id: &str, rw: Option<u64>) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            image: image_id.into(),
            image_id: image_id.into(),
            state: ContainerState::Exited,
            labels: Default::default(),
            pod: None,
            infra: false,
            rw_bytes: rw,
            lower_bound: false,
            log: None,
        }
    }

    /// One base, two apps built on it, a container on the base and one on app1.
    fn store() -> Inventory {
        let mut inv = Inventory {
            layers: layers(&[("base", 3_400_000), ("a1", 2_000_000), ("a2", 3_000_000)]),
            ..Default::default()
        };
        inv.images = vec![
            image("bbb111", &["localhost/base:1"], &["base"], 1000, &inv),
            image("aaa111", &["localhost/app1:1"], &["base", "a1"], 2000, &inv),
            image(
                "aaa222",
                &["localhost/app2:latest"],
                &["base", "a2"],
                3000,
                &inv,
            ),
        ];
        inv.containers = vec![
            container("ccc111", "idle", "bbb111", Some(10)),
            container("ccc222", "web", "aaa111", Some(500)),
        ];
        inv.volumes = vec![Volume {
            name: "web".into(),
            mountpoint: String::new(),
            labels: Default::default(),
            in_use: true,
            bytes: Some(7000),
            approximate: false,
            lower_bound: false,
        }];
        inv
    }

    fn relations(volume_users: &[(&str, &[&str])]) -> Relations {
        Relations {
            volume_users: Some(
                volume_users
                    .iter()
                    .map(|(v, ids)| (v.to_string(), ids.iter().map(|s| s.to_string()).collect()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn explain_one(inv: &Inventory, rel: &Relations, query: &str, kind: Option<Kind>) -> WhyReport {
        let attr = crate::projects::attribute(inv, &Config::default());
        let store = Store {
            inv,
            attr: &attr,
            relations: rel,
        };
        let found: Vec<Found> = find(&store, query, kind).best().into_iter().collect();
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        explain(&store, query, &found[0])
    }

    /// Bytes of the layers of `removed` that no other image holds, counted
    /// from the layer lists directly.
    fn layers_only_in(inv: &Inventory, removed: &[&str]) -> u64 {
        let keep: BTreeSet<&String> = inv
            .images
            .iter()
            .filter(|i| !removed.contains(&i.id.as_str()))
            .flat_map(|i| &i.layers)
            .collect();
        let gone: BTreeSet<&String> = inv
            .images
            .iter()
            .filter(|i| removed.contains(&i.id.as_str()))
            .flat_map(|i| &i.layers)
            .filter(|l| !keep.contains(l))
            .collect();
        gone.iter().map(|l| inv.layers[*l].bytes).sum()
    }

    #[test]
    fn an_image_is_kept_by_its_containers_and_the_images_built_on_it() {
        let inv = store();
        let r = explain_one(&inv, &Relations::default(), "localhost/base:1", None);
        let held: Vec<(&str, Relation)> = r
            .holders
            .iter()
            .map(|h| (h.name.as_str(), h.relation))
            .collect();
        assert_eq!(
            held,
            [
                ("idle", Relation::Container),
                ("localhost/app1:1", Relation::ChildImage),
                ("localhost/app2:latest", Relation::ChildImage)
            ]
        );
        // Alone: only its metadata and its container (the apps keep the layer).
        assert_eq!(r.frees_bytes, Some(1000 + 10));
        let everything = layers_only_in(&inv, &["bbb111", "aaa111", "aaa222"]) + 6000 + 510;
        assert_eq!(r.frees_with_holders_bytes, Some(everything));
        // app1 as a holder: its own layer, metadata and its container.
        let app1 = &r.holders[1];
        assert_eq!(
            app1.frees_bytes,
            Some(layers_only_in(&inv, &["aaa111"]) + 2000 + 500)
        );
        assert_eq!(app1.containers, Some(1));
    }

    #[test]
    fn a_layer_is_kept_by_every_image_holding_it() {
        let inv = store();
        let r = explain_one(&inv, &Relations::default(), "base", Some(Kind::Layer));
        assert_eq!(r.target.bytes, Some(3_400_000));
        assert_eq!(r.holders.len(), 3);
        assert_eq!(r.frees_bytes, None);
        let all = layers_only_in(&inv, &["bbb111", "aaa111", "aaa222"]) + 6000 + 510;
        assert_eq!(r.frees_with_holders_bytes, Some(all));
    }

    #[test]
    fn intermediates_go_with_the_last_image_built_on_them() {
        let mut inv = store();
        inv.layers.insert(
            "s1".into(),
            Layer {
                key: "s1".into(),
                bytes: 400,
            },
        );
        // base -> step1 (LABEL: same chain) -> step2 (+s1) -> app3, app4 (+s1 only).
        let mut step1 = image("5e1", &[], &["base"], 50, &inv);
        let mut step2 = image("5e2", &[], &["base", "s1"], 60, &inv);
        step1.intermediate = true;
        step2.intermediate = true;
        let app3 = image("aaa333", &["localhost/app3:1"], &["base", "s1"], 70, &inv);
        let app4 = image("aaa444", &["localhost/app4:1"], &["base", "s1"], 80, &inv);
        inv.images.extend([step1, step2, app3, app4]);
        let rel = Relations {
            image_parents: Some(
                [
                    ("5e1", "bbb111"),
                    ("5e2", "5e1"),
                    ("aaa333", "5e2"),
                    ("aaa444", "5e2"),
                    ("aaa111", "bbb111"),
                    ("aaa222", "bbb111"),
                ]
                .iter()
                .map(|(c, p)| (c.to_string(), p.to_string()))
                .collect(),
            ),
            ..Default::default()
        };
        // app4 keeps the steps and s1: removing app3 frees its metadata only.
        let r = explain_one(&inv, &rel, "app3:1", None);
        assert_eq!(r.frees_bytes, Some(70));
        // Both apps gone: the steps go too, and s1 with them.
        let attr = crate::projects::attribute(&inv, &Config::default());
        let store = Store {
            inv: &inv,
            attr: &attr,
            relations: &rel,
        };
        let both = frees(&store, &[5, 6].into(), &BTreeSet::new());
        assert_eq!(both.bytes, 400 + 50 + 60 + 70 + 80);
        // The base's children by recorded parents, step1 included.
        let r = explain_one(&inv, &rel, "base:1", None);
        let kids: BTreeSet<&str> = r
            .holders
            .iter()
            .filter(|h| h.relation == Relation::ChildImage)
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(
            kids,
            ["5e1", "5e2", "aaa111", "aaa222", "aaa333", "aaa444"].into()
        );
    }

    #[test]
    fn a_volume_is_kept_by_the_containers_mounting_it() {
        let inv = store();
        let rel = relations(&[("web", &["ccc222"])]);
        let r = explain_one(&inv, &rel, "web", Some(Kind::Volume));
        assert_eq!(r.holders.len(), 1);
        assert_eq!(r.holders[0].name, "web");
        assert_eq!(r.holders[0].frees_bytes, Some(500));
        assert_eq!(r.frees_bytes, Some(7000));
        assert_eq!(r.frees_with_holders_bytes, Some(7500));
        // The container keeps its image and the volume; nothing keeps it.
        let c = explain_one(&inv, &rel, "web", Some(Kind::Container));
        assert!(c.holders.is_empty());
        let kept: Vec<Relation> = c.related.iter().map(|h| h.relation).collect();
        assert_eq!(kept, [Relation::CreatedFrom, Relation::MountedVolume]);
        assert_eq!(c.frees_bytes, Some(500));
    }

    #[test]
    fn a_container_in_a_pod_is_kept_by_its_pod() {
        let mut inv = store();
        inv.pods.push(crate::engine::Pod {
            id: "pod1".into(),
            name: "shop".into(),
            labels: Default::default(),
        });
        inv.containers[1].pod = Some("pod1".into());
        let r = explain_one(&inv, &Relations::default(), "ccc222", None);
        assert_eq!(r.holders.len(), 1);
        let pod = &r.holders[0];
        assert_eq!((pod.relation, pod.name.as_str()), (Relation::Pod, "shop"));
        assert_eq!(pod.containers, Some(1));
        // Attribution puts a pod's containers in the pod's project.
        assert_eq!(pod.project.as_deref(), Some("shop"));
        assert_eq!(r.target.row.as_deref(), Some("shop"));
    }

    #[test]
    fn unmeasured_containers_make_a_lower_bound() {
        let mut inv = store();
        inv.containers[1].rw_bytes = None;
        let r = explain_one(&inv, &Relations::default(), "app1:1", None);
        assert!(r.lower_bound);
        assert_eq!(r.frees_bytes, Some(2_000_000 + 2000));
    }

    #[test]
    fn names_ids_and_prefixes() {
        let inv = store();
        let attr = crate::projects::attribute(&inv, &Config::default());
        let rel = Relations::default();
        let store = Store {
            inv: &inv,
            attr: &attr,
            relations: &rel,
        };
        let best = |q: &str| find(&store, q, None).best();
        // A container and a volume of one name: ambiguous.
        assert_eq!(best("web"), [Found::Volume(0), Found::Container(1)].into());
        // `app2` means `:latest`; a tag must match.
        assert_eq!(best("app2"), [Found::Image(2)].into());
        assert_eq!(best("app1"), BTreeSet::new());
        assert_eq!(best("app1:1"), [Found::Image(1)].into());
        // Prefixes of at least MIN_PREFIX hex digits; several match: all.
        assert_eq!(best("aaa"), [Found::Image(1), Found::Image(2)].into());
        assert_eq!(best("aa"), BTreeSet::new());
        assert_eq!(best("sha256:aaa2"), [Found::Image(2)].into());
        // An exact id beats another object's prefix.
        assert_eq!(best("ccc111"), [Found::Container(0)].into());
    }

    /// Random stores without intermediates: removing an image frees exactly
    /// what `account` calls its unique bytes, plus its containers.
    fn arb_inventory() -> impl Strategy<Value = Inventory> {
        let tree = prop::collection::vec((any::<prop::sample::Index>(), 0u64..1_000_000), 1..12);
        let imgs = prop::collection::vec((any::<prop::sample::Index>(), 0u64..5000, 0u8..3), 1..8);
        (tree, imgs).prop_map(|(tree, imgs)| {
            let mut parent: Vec<Option<usize>> = Vec::new();
            let mut inv = Inventory::default();
            for (i, (p, bytes)) in tree.iter().enumerate() {
                parent.push((i > 0).then(|| p.index(i)));
                let key = format!("l{i}");
                inv.layers.insert(key.clone(), Layer { key, bytes: *bytes });
            }
            for (n, (top, meta, containers)) in imgs.into_iter().enumerate() {
                let mut chain = Vec::new();
                let mut cur = Some(top.index(tree.len()));
                while let Some(c) = cur {
                    chain.push(format!("l{c}"));
                    cur = parent[c];
                }
                chain.reverse();
                let chain: Vec<&str> = chain.iter().map(String::as_str).collect();
                let name = format!("localhost/i{n}:1");
                let img = image(&format!("{n:06x}"), &[&name], &chain, meta, &inv);
                inv.images.push(img);
                for k in 0..containers {
                    let id = format!("c{n}{k}");
                    inv.containers.push(container(
                        &id,
                        &id,
                        &format!("{n:06x}"),
                        Some(u64::from(k) * 7),
                    ));
                }
            }
            inv
        })
    }

    proptest! {
        #[test]
        fn removing_an_image_frees_its_unique_bytes(inv in arb_inventory()) {
            let attr = crate::projects::attribute(&inv, &Config::default());
            let rel = Relations::default();
            let store = Store { inv: &inv, attr: &attr, relations: &rel };
            let usage = crate::account::images(&inv);
            for (i, img) in inv.images.iter().enumerate() {
                let own = containers_of(&inv, &img.id);
                let rw: u64 = own.iter().map(|&c| inv.containers[c].rw_bytes.unwrap()).sum();
                let f = frees(&store, &[i].into(), &own);
                prop_assert_eq!(f.bytes, usage.images[i].unique_bytes + rw);
                // Removing the image and everything that keeps it leaves no
                // layer of it on disk.
                let r = explain(&store, &img.id, &Found::Image(i));
                let family: Vec<&str> = descendants(&store, i)
                    .into_iter()
                    .chain([i])
                    .map(|j| inv.images[j].id.as_str())
                    .collect();
                let meta: u64 = family.iter().map(|id| inv.images.iter().find(|x| x.id == *id).unwrap().metadata_bytes).sum();
                let rw_all: u64 = inv.containers.iter().filter(|c| family.contains(&c.image_id.as_str())).map(|c| c.rw_bytes.unwrap()).sum();
                prop_assert_eq!(r.frees_with_holders_bytes, Some(layers_only_in(&inv, &family) + meta + rw_all));
            }
        }
    }
}
