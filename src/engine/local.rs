//! The local fast path: a podman store read from its own files with no
//! podman call at all.
//!
//! Every podman call costs 50-100 ms of process start on 4.3, more than the
//! whole of this path: containers/storage's JSON records give images, layers
//! and containers' layers (`store.rs`), libpod's bolt database gives
//! containers' states and labels, volumes and pods (`libpod/`), and the
//! walker measures writable layers and volumes. The CLI path stays the
//! reference: the real-podman tests check that both agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::libpod::{self, LibpodDbError, LibpodState};
use super::store::{self, StoreLocation, StoreSnapshot};
use super::{Container, ContainerState, Image, Inventory, Layer, Pod, Volume};

/// Everything the local path reads, recorded and replayed as one piece.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalState {
    pub store: StoreSnapshot,
    pub libpod: LibpodState,
}

/// Reads the local store; `Ok(None)` when there is none this path can read
/// (no libpod bolt database: a fresh machine, or podman 5's SQLite), so the
/// caller asks podman instead.
pub fn read() -> Result<Option<LocalState>, String> {
    let Some(loc) = StoreLocation::resolve() else {
        return Ok(None);
    };
    let db = loc.libpod_db();
    if !db.exists() {
        return Ok(None);
    }
    let libpod = match libpod::bolt::read(&db) {
        Ok(state) => state,
        Err(LibpodDbError::Unsupported { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let store = store::read(&loc).map_err(|e| e.to_string())?;
    Ok(Some(LocalState { store, libpod }))
}

/// The inventory, without sizes of writable layers and volumes (the caller
/// walks [`Self::container_dirs`] and the volumes' mountpoints).
pub fn inventory(state: &LocalState) -> Result<Inventory, String> {
    let in_db: BTreeSet<&str> = state
        .libpod
        .containers
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let in_store: BTreeSet<&str> = state.store.containers.keys().map(String::as_str).collect();
    if in_db != in_store {
        // A container being created or removed right now, or a store that is
        // not the one this libpod database belongs to: do not guess.
        return Err(format!(
            "libpod's database lists {} containers and containers.json {}",
            in_db.len(),
            in_store.len()
        ));
    }
    let mut inv = Inventory::default();
    for (key, bytes) in &state.store.layer_bytes {
        inv.layers.insert(
            key.clone(),
            Layer {
                key: key.clone(),
                bytes: *bytes,
            },
        );
    }
    // A nameless image whose top layer another image builds on is a build
    // step (podman's `images` hides it), not a dangling image.
    let built_on: BTreeSet<&str> = state
        .store
        .images
        .values()
        .flat_map(|i| i.layers.iter().rev().skip(1).map(String::as_str))
        .collect();
    for (id, img) in &state.store.images {
        let layer_bytes: u64 = img
            .layers
            .iter()
            .map(|l| state.store.layer_bytes.get(l).copied().unwrap_or(0))
            .fold(0, u64::saturating_add);
        inv.images.push(Image {
            id: id.clone(),
            names: img.names.clone(),
            layers: img.layers.clone(),
            size: layer_bytes.saturating_add(img.metadata_bytes),
            metadata_bytes: img.metadata_bytes,
            labels: img.labels.clone(),
            intermediate: img.names.is_empty()
                && img
                    .layers
                    .last()
                    .is_some_and(|top| built_on.contains(top.as_str())),
        });
    }
    inv.images.sort_by(|a, b| {
        a.names
            .is_empty()
            .cmp(&b.names.is_empty())
            .then(a.names.cmp(&b.names))
            .then(a.id.cmp(&b.id))
    });
    inv.containers = state
        .libpod
        .containers
        .iter()
        .map(|c| Container {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image_name.clone(),
            image_id: c.image_id.clone(),
            state: ContainerState::parse(&c.state),
            labels: c.labels.clone(),
            pod: c.pod.clone(),
            infra: c.infra,
            rw_bytes: None,
            lower_bound: false,
        })
        .collect();
    inv.volumes = state
        .libpod
        .volumes
        .iter()
        .map(|v| Volume {
            name: v.name.clone(),
            mountpoint: v.mountpoint.clone(),
            labels: v.labels.clone(),
            in_use: !v.users.is_empty(),
            bytes: None,
            approximate: false,
            lower_bound: false,
        })
        .collect();
    inv.pods = state
        .libpod
        .pods
        .iter()
        .map(|p| Pod {
            id: p.id.clone(),
            name: p.name.clone(),
            labels: p.labels.clone(),
        })
        .collect();
    Ok(inv)
}

impl LocalState {
    /// Each container's writable-layer directory, by container id.
    pub fn container_dirs(&self) -> &BTreeMap<String, PathBuf> {
        &self.store.containers
    }
}
