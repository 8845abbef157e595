//! Exact-once accounting: pure functions from an [`Inventory`] to figures.
//!
//! A layer's bytes are counted once however many images use it. Build
//! intermediates (nameless parents of other images) do not make a layer
//! look shared: a layer's owners are the non-intermediate images that use it,
//! and only when there is none do intermediates own it.
//!
//! Sums saturate at `u64::MAX` rather than overflow: sizes come from the
//! engine and from walks of sparse files, and neither is bounded.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::engine::{Image, Inventory, LayerKey};
use crate::size::SumBytes;
use crate::timestamp::Timestamp;

/// Per-image figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageUsage {
    pub id: String,
    pub names: Vec<String>,
    /// The engine's own figure for the image (all its layers plus metadata).
    pub size_bytes: u64,
    /// Bytes that only this image owns: removing it frees them.
    pub unique_bytes: u64,
    /// `size_bytes - unique_bytes`: bytes also owned by other images.
    pub shared_bytes: u64,
    pub containers: u64,
    pub dangling: bool,
    pub intermediate: bool,
    /// From an additional image store: on disk, freed by no prune here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    pub created: Option<Timestamp>,
    /// When the newest container created from it was created; `None` when
    /// no container uses it.
    pub last_used: Option<Timestamp>,
}

/// The images of a store, each layer counted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagesReport {
    pub images: Vec<ImageUsage>,
    /// Bytes of layers owned by more than one image, counted once.
    pub shared_layers_bytes: u64,
    /// Sum of every image's unique bytes plus the shared layers: all bytes
    /// the images hold on disk.
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Images,
    Containers,
    Volumes,
    Caches,
    Logs,
    Metadata,
    #[serde(rename = "build_cache")]
    BuildCache,
}

impl ComponentKind {
    /// Whether ACTIVE means anything for it: metadata and build leftovers
    /// are never in use on their own.
    pub fn has_active(self) -> bool {
        !matches!(self, Self::Metadata | Self::BuildCache)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Images => "Images",
            Self::Containers => "Containers",
            Self::Volumes => "Local Volumes",
            Self::Caches => "Blob caches",
            Self::Logs => "Container logs",
            Self::Metadata => "Store metadata",
            Self::BuildCache => "Build cache",
        }
    }
}

/// One row of `df`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub kind: ComponentKind,
    pub count: u64,
    pub active: u64,
    pub bytes: u64,
    /// What pruning the unused ones would really free.
    pub reclaimable_bytes: u64,
    /// Some of its items could not be measured in full: `bytes` and
    /// `reclaimable_bytes` are lower bounds.
    pub incomplete: bool,
}

/// The `df` row for blob caches: `active` counts OCI layouts some tag still
/// references; reclaimable is what `prune caches` frees by default (flat
/// caches whole) plus what `--orphans` frees from layouts and
/// `--registry-offline` from registries.
pub fn caches_component(reports: &[crate::caches::CacheReport], total_bytes: u64) -> Component {
    use crate::caches::Kind;
    let present = reports.iter().filter(|r| r.kind != Kind::Missing);
    Component {
        kind: ComponentKind::Caches,
        count: present.clone().count() as u64,
        active: present
            .clone()
            .filter(|r| r.referenced.as_ref().is_some_and(|b| b.blobs > 0))
            .count() as u64,
        bytes: total_bytes,
        reclaimable_bytes: present
            .map(|r| match r.kind {
                Kind::Fscache => r.listed_file_bytes,
                Kind::OciLayout | Kind::Registry => r.orphans.as_ref().map_or(0, |o| o.bytes),
                Kind::Unknown | Kind::Missing => 0,
            })
            .sum_bytes(),
        incomplete: false,
    }
}

/// The `df` row for what the graph root holds besides the other rows:
/// nothing in it is freed on its own (it goes with what it describes), so
/// none of it is reclaimable.
pub fn metadata_component(m: &crate::engine::metadata::StoreMetadata) -> Component {
    Component {
        kind: ComponentKind::Metadata,
        count: m.parts.len() as u64,
        active: 0,
        bytes: m.bytes,
        reclaimable_bytes: 0,
        incomplete: !m.errors.is_empty(),
    }
}

/// The `df` row for build leftovers: all of it is reclaimable (removing
/// the paths; for external containers `podman rm -f` on 4.3, `podman system
/// prune --build` on 5.x). Only a later build's cache mounts would reuse any.
pub fn build_cache_component(items: &[crate::engine::build_cache::Leftover]) -> Component {
    let bytes = items.iter().map(|l| l.bytes).sum_bytes();
    Component {
        kind: ComponentKind::BuildCache,
        count: items.len() as u64,
        active: 0,
        bytes,
        reclaimable_bytes: bytes,
        incomplete: items.iter().any(|l| l.lower_bound),
    }
}

/// Which images own each layer (see the module docs).
pub fn layer_owners(images: &[Image]) -> BTreeMap<&str, BTreeSet<usize>> {
    let mut users: BTreeMap<&str, (BTreeSet<usize>, BTreeSet<usize>)> = BTreeMap::new();
    for (i, img) in images.iter().enumerate() {
        for layer in &img.layers {
            let entry = users.entry(layer.as_str()).or_default();
            if img.intermediate {
                entry.1.insert(i);
            } else {
                entry.0.insert(i);
            }
        }
    }
    users
        .into_iter()
        .map(|(layer, (named, intermediate))| {
            (
                layer,
                if named.is_empty() {
                    intermediate
                } else {
                    named
                },
            )
        })
        .collect()
}

fn layer_bytes(inv: &Inventory, key: &str) -> u64 {
    inv.layers.get(key).map_or(0, |l| l.bytes)
}

/// Containers per image id.
fn containers_by_image(inv: &Inventory) -> BTreeMap<&str, u64> {
    let mut map = BTreeMap::new();
    for c in &inv.containers {
        *map.entry(c.image_id.as_str()).or_insert(0) += 1;
    }
    map
}

pub fn images(inv: &Inventory) -> ImagesReport {
    let owners = layer_owners(&inv.images);
    let mut unique = vec![0u64; inv.images.len()];
    let mut shared_layers_bytes = 0;
    for (layer, who) in &owners {
        let bytes = layer_bytes(inv, layer);
        match who.iter().collect::<Vec<_>>()[..] {
            [only] => unique[*only] = unique[*only].saturating_add(bytes),
            _ => shared_layers_bytes = u64::saturating_add(shared_layers_bytes, bytes),
        }
    }
    let per_image = containers_by_image(inv);
    let mut last_used: BTreeMap<&str, Timestamp> = BTreeMap::new();
    for c in &inv.containers {
        if let Some(t) = c.created {
            let newest = last_used.entry(c.image_id.as_str()).or_insert(t);
            *newest = (*newest).max(t);
        }
    }
    let images: Vec<ImageUsage> = inv
        .images
        .iter()
        .zip(&unique)
        .map(|(img, layers_unique)| {
            let unique_bytes = layers_unique.saturating_add(img.metadata_bytes);
            ImageUsage {
                id: img.id.clone(),
                names: img.names.clone(),
                size_bytes: img.size,
                unique_bytes,
                shared_bytes: img.size.saturating_sub(unique_bytes),
                containers: per_image.get(img.id.as_str()).copied().unwrap_or(0),
                dangling: img.dangling(),
                intermediate: img.intermediate,
                read_only: img.read_only,
                created: img.created,
                last_used: last_used.get(img.id.as_str()).copied(),
            }
        })
        .collect();
    let total_bytes = images
        .iter()
        .map(|i| i.unique_bytes)
        .fold(shared_layers_bytes, u64::saturating_add);
    ImagesReport {
        images,
        shared_layers_bytes,
        total_bytes,
    }
}

/// Bytes some of the images hold on disk: each of their layers once, plus
/// their own metadata (for all images, the report's `total_bytes`).
pub fn images_bytes(inv: &Inventory, keep: impl Fn(&Image) -> bool) -> u64 {
    let kept: Vec<&Image> = inv.images.iter().filter(|i| keep(i)).collect();
    let layers: BTreeSet<&LayerKey> = kept.iter().flat_map(|i| &i.layers).collect();
    layers
        .into_iter()
        .map(|l| layer_bytes(inv, l))
        .chain(kept.iter().map(|i| i.metadata_bytes))
        .sum_bytes()
}

/// Bytes `podman image prune -a` frees: it removes every image no container
/// uses; a removed image's layers go only where no kept image still needs them.
pub fn images_reclaimable(inv: &Inventory) -> u64 {
    let used = containers_by_image(inv);
    let kept: Vec<&Image> = inv
        .images
        .iter()
        .filter(|i| i.read_only || used.contains_key(i.id.as_str()))
        .collect();
    let kept_layers: BTreeSet<&LayerKey> = kept.iter().flat_map(|i| &i.layers).collect();
    let all_layers: BTreeSet<&LayerKey> = inv.images.iter().flat_map(|i| &i.layers).collect();
    let freed_layers: u64 = all_layers
        .difference(&kept_layers)
        .map(|l| layer_bytes(inv, l))
        .sum_bytes();
    let freed_metadata: u64 = inv
        .images
        .iter()
        .filter(|i| !i.read_only && !used.contains_key(i.id.as_str()))
        .map(|i| i.metadata_bytes)
        .sum_bytes();
    freed_layers.saturating_add(freed_metadata)
}

/// The `df` rows: images (layers once), containers (writable layers),
/// volumes. Containers' bytes are 0 when they were not measured.
pub fn components(inv: &Inventory) -> Vec<Component> {
    let imgs = images(inv);
    let used = containers_by_image(inv);
    let listed = inv.images.iter().filter(|i| !i.intermediate);
    let images = Component {
        kind: ComponentKind::Images,
        count: listed.clone().count() as u64,
        active: listed.filter(|i| used.contains_key(i.id.as_str())).count() as u64,
        bytes: imgs.total_bytes,
        reclaimable_bytes: images_reclaimable(inv),
        incomplete: false,
    };
    let rw = |c: &crate::engine::Container| c.rw_bytes.unwrap_or(0);
    // Containers libpod does not own are build leftovers, counted there.
    let podmans = inv
        .containers
        .iter()
        .filter(|c| c.state != crate::engine::ContainerState::External);
    let containers = Component {
        kind: ComponentKind::Containers,
        count: podmans.clone().count() as u64,
        active: podmans.clone().filter(|c| c.state.is_active()).count() as u64,
        bytes: podmans.clone().map(rw).sum_bytes(),
        reclaimable_bytes: podmans
            .clone()
            .filter(|c| c.state.is_prunable())
            .map(rw)
            .sum_bytes(),
        incomplete: podmans.clone().any(|c| c.lower_bound),
    };
    let vbytes = |v: &crate::engine::Volume| v.bytes.unwrap_or(0);
    let volumes = Component {
        kind: ComponentKind::Volumes,
        count: inv.volumes.len() as u64,
        active: inv.volumes.iter().filter(|v| v.in_use).count() as u64,
        bytes: inv.volumes.iter().map(vbytes).sum_bytes(),
        reclaimable_bytes: inv
            .volumes
            .iter()
            .filter(|v| !v.in_use)
            .map(vbytes)
            .sum_bytes(),
        incomplete: inv
            .volumes
            .iter()
            .any(|v| v.lower_bound || v.bytes.is_none()),
    };
    vec![images, containers, volumes]
}

/// The `df` row for container log files (k8s-file): active = running
/// containers' logs, reclaimable = the logs `podman container prune` removes
/// with their containers. Journald logs are the journal's, not counted.
/// `None` when no container's log was looked at (the engine does not say).
pub fn logs_component(inv: &Inventory) -> Option<Component> {
    let files: Vec<(&crate::engine::Container, &crate::engine::ContainerLog)> = inv
        .containers
        .iter()
        .filter_map(|c| Some((c, c.log.as_ref()?)))
        .collect();
    if files.is_empty() {
        return None;
    }
    let files: Vec<_> = files
        .into_iter()
        .filter(|(_, l)| l.path.is_some())
        .collect();
    let bytes =
        |(_, l): &(&crate::engine::Container, &crate::engine::ContainerLog)| l.bytes.unwrap_or(0);
    Some(Component {
        kind: ComponentKind::Logs,
        count: files.len() as u64,
        active: files.iter().filter(|(c, _)| c.state.is_active()).count() as u64,
        bytes: files.iter().map(bytes).sum_bytes(),
        reclaimable_bytes: files
            .iter()
            .filter(|(c, _)| c.state.is_prunable())
            .map(bytes)
            .sum_bytes(),
        incomplete: files.iter().any(|(_, l)| l.lower_bound),
    })
}

#[cfg(test)]
mod tests;
