//! The local fast path: a podman store read from its own files with no
//! podman call at all.
//!
//! Every podman call costs 50-100 ms of process start, more than the whole
//! of this path: containers/storage's JSON records give images, layers and
//! containers' layers (`store.rs`), libpod's database (bolt or SQLite) gives
//! containers' states and labels, volumes and pods (`libpod/`), and the
//! walker measures writable layers, volumes and the layers whose recorded
//! size is missing or, on vfs, not what the disk holds. `resolve.rs` finds
//! the store as podman would; this module checks that what it found is what
//! the database was made for, and otherwise refuses (the caller asks podman).
//! The CLI path stays the reference: the real-podman tests check that both
//! agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::layers::{self, TreeImage};
use super::libpod::LibpodState;
use super::resolve;
use super::store::{self, StoreSnapshot};
use super::{Container, ContainerState, Image, Inventory, Layer, Pod, Volume};
use crate::size::SumBytes;

/// Everything the local path reads, recorded and replayed as one piece.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalState {
    pub store: StoreSnapshot,
    pub libpod: LibpodState,
    /// Sizes of layer directories walked because their records could not
    /// give them (vfs, partial pulls): (bytes, problems met while walking).
    #[serde(default)]
    pub walked_layers: BTreeMap<String, (u64, Vec<String>)>,
    /// The graph root and libpod's database file, for the store-metadata
    /// walk; empty in recordings made before it existed.
    #[serde(default)]
    pub graphroot: PathBuf,
    #[serde(default)]
    pub database: PathBuf,
}

/// Reads of libpod's database and the store are two moments: a container
/// created or removed between them shows in one only. Reading again settles
/// it; a store that keeps disagreeing is not this database's.
const ATTEMPTS: usize = 3;

/// Reads the local store; `Ok(None)` when there is none yet (podman would
/// make it, and only podman can say what it would show), an error saying in
/// one line why the store cannot be read. Either way the caller asks podman.
///
/// `resolved` is where [`resolve::resolve`] found the store (resolved once
/// per report: the build-leftovers search uses it too). `podman_version` is
/// asked only when both database files exist and the configuration does not
/// choose: then podman's version decides.
pub fn read(
    resolved: Result<resolve::Resolved, String>,
    podman_version: impl FnOnce() -> Result<String, String>,
) -> Result<Option<LocalState>, String> {
    let mut r = resolved?;
    if let Some(bolt) = r.bolt_before_5_8_1.take() {
        let version = podman_version()?;
        if !resolve::reads_sqlite_first(&version)? {
            r.database = bolt;
        }
    }
    if !r.store.graphroot.is_dir() {
        // A wrongly resolved path must not read as an empty store.
        return Ok(None);
    }
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        let libpod = r.database.read().map_err(|e| e.to_string())?;
        check_config(&r, &libpod)?;
        let store = store::read(&r.store).map_err(|e| e.to_string())?;
        match check_containers(&libpod, &store) {
            Ok(()) => {
                let walked_layers = walk_layers(&store);
                return Ok(Some(LocalState {
                    store,
                    libpod,
                    walked_layers,
                    graphroot: r.store.graphroot.clone(),
                    database: r.database.path().to_path_buf(),
                }));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// podman opens the store its database records, and refuses to run when
/// storage.conf names another driver or graph root: so must we.
fn check_config(r: &resolve::Resolved, libpod: &LibpodState) -> Result<(), String> {
    let db = r.database.path().display();
    let c = &libpod.config;
    if let Some(root) = &c.graph_root {
        if !same_path(root, &r.store.graphroot) {
            return Err(format!(
                "{db} was made for the graph root {}, but storage.conf gives {}",
                root.display(),
                r.store.graphroot.display()
            ));
        }
    }
    if let Some(driver) = c.graph_driver.as_deref().filter(|d| !d.is_empty()) {
        if driver != r.store.driver {
            return Err(format!(
                "{db} was made for the {driver} driver, but the store is read as {}",
                r.store.driver
            ));
        }
    }
    Ok(())
}

fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Every container libpod knows has its storage; containers only in the
/// store are not podman's (buildah, interrupted builds) and are counted as
/// such, never a reason to refuse.
fn check_containers(libpod: &LibpodState, store: &StoreSnapshot) -> Result<(), String> {
    let missing: Vec<&str> = libpod
        .containers
        .iter()
        .filter(|c| !store.containers.contains_key(&c.id))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "libpod's database lists {} container(s) the store does not have ({})",
            missing.len(),
            missing.join(", ")
        ));
    }
    // podman removes a container with its image: an image a container
    // still names must be in the store read, or the store is another one.
    let orphaned: Vec<&str> = libpod
        .containers
        .iter()
        .filter(|c| !c.image_id.is_empty() && !store.images.contains_key(&c.image_id))
        .map(|c| c.name.as_str())
        .collect();
    if !orphaned.is_empty() {
        return Err(format!(
            "libpod's database has container(s) whose image is not in the store ({})",
            orphaned.join(", ")
        ));
    }
    Ok(())
}

/// Walks the layer directories whose recorded sizes cannot be used.
fn walk_layers(store: &StoreSnapshot) -> BTreeMap<String, (u64, Vec<String>)> {
    let vfs = !store.layer_dirs.is_empty();
    let mut targets: Vec<(String, PathBuf)> = store
        .layer_dirs
        .iter()
        .map(|(id, d)| (id.clone(), d.clone()))
        .collect();
    targets.extend(
        store
            .unsized_layers
            .iter()
            .filter(|u| !u.dir.as_os_str().is_empty())
            .map(|u| (u.id.clone(), u.dir.clone())),
    );
    let roots: Vec<PathBuf> = targets.iter().map(|t| t.1.clone()).collect();
    let usages = crate::walk::measure(&roots, &crate::walk::WalkOptions::default());
    targets
        .into_iter()
        .zip(usages)
        .map(|((id, _), u)| {
            // A vfs layer holds a whole tree (du -sb); a diff dir counts
            // like c/storage's own diff size (files only).
            let bytes = if vfs { u.apparent_bytes } else { u.file_bytes };
            let errors = u
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.path.display(), e.message))
                .collect();
            (id, (bytes, errors))
        })
        .collect()
}

/// The inventory, without sizes of writable layers and volumes (the caller
/// walks [`LocalState::container_dirs`] and the volumes' mountpoints), and
/// the problems to report: a layer size that could not be measured.
pub fn inventory(state: &LocalState) -> (Inventory, Vec<String>) {
    let mut warnings = Vec::new();
    let mut inv = Inventory::default();
    let mut layer = |key: &String, bytes: u64| {
        inv.layers.insert(
            key.clone(),
            Layer {
                key: key.clone(),
                bytes,
            },
        );
    };
    for (key, bytes) in &state.store.layer_bytes {
        layer(key, *bytes);
    }
    for (key, (bytes, errors)) in &state.walked_layers {
        layer(key, *bytes);
        for e in errors {
            warnings.push(format!(
                "layer {}: {e}; its size is a lower bound",
                short(key)
            ));
        }
    }
    for u in &state.store.unsized_layers {
        if !state.walked_layers.contains_key(&u.id) {
            warnings.push(format!(
                "layer {}: {} and its directory cannot be measured; not counted",
                short(&u.id),
                u.reason
            ));
        }
    }
    let stored: Vec<(&String, &store::StoredImage)> = state.store.images.iter().collect();
    let tree: Vec<TreeImage<'_>> = stored
        .iter()
        .map(|(_, img)| TreeImage {
            layers: &img.layers,
            diff_ids: &img.config.diff_ids,
            history: &img.config.history,
        })
        .collect();
    let has_child = layers::has_child(&tree);
    for ((id, img), has_child) in stored.into_iter().zip(has_child) {
        let bytes_of = |l: &String| inv.layers.get(l).map_or(0, |l| l.bytes);
        let layer_bytes: u64 = img.layers.iter().map(bytes_of).sum_bytes();
        let mut all_layers = img.layers.clone();
        all_layers.extend(img.mapped_layers.iter().cloned());
        inv.images.push(Image {
            id: id.clone(),
            names: img.names.clone(),
            layers: all_layers,
            size: layer_bytes.saturating_add(img.metadata_bytes),
            metadata_bytes: img.metadata_bytes,
            labels: img.config.labels.clone(),
            intermediate: Image::is_intermediate(&img.names, has_child),
            read_only: img.read_only,
            created: img.created,
        });
    }
    let ours: BTreeSet<&str> = state
        .libpod
        .containers
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let image_names: BTreeMap<&str, &str> = inv
        .images
        .iter()
        .filter_map(|i| Some((i.id.as_str(), i.names.first()?.as_str())))
        .collect();
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
            log: None,
            created: c.created,
        })
        .chain(
            state
                .store
                .containers
                .iter()
                .filter(|(id, _)| !ours.contains(id.as_str()))
                .map(|(id, c)| Container {
                    id: id.clone(),
                    name: if c.name.is_empty() {
                        id.chars().take(12).collect()
                    } else {
                        c.name.clone()
                    },
                    image: image_names
                        .get(c.image_id.as_str())
                        .map_or_else(|| c.image_id.clone(), |n| n.to_string()),
                    image_id: c.image_id.clone(),
                    state: ContainerState::External,
                    labels: Default::default(),
                    pod: None,
                    infra: false,
                    rw_bytes: None,
                    lower_bound: false,
                    log: None,
                    created: c.created,
                }),
        )
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
            created: v.created,
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
    (inv, warnings)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Links the inventory leaves out, read from the same records: `why`
/// needs them, the figures do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Layer id -> the uncompressed diff digest of the image layer.
    pub diff_ids: BTreeMap<String, String>,
    /// Volume name -> ids of the existing containers that mount it; `None`
    /// when the source does not say (podman's CLI prints destinations only).
    pub volume_users: Option<BTreeMap<String, Vec<String>>>,
    /// Image id -> its parent's id by c/common's layer tree (the parent
    /// `podman images` prints); `None` when the source does not say.
    pub image_parents: Option<BTreeMap<String, String>>,
}

impl LocalState {
    pub fn relations(&self) -> Relations {
        let mut diff_ids = BTreeMap::new();
        for img in self.store.images.values() {
            for (layer, diff) in img.layers.iter().zip(&img.config.diff_ids) {
                diff_ids.insert(layer.clone(), diff.clone());
            }
        }
        let stored: Vec<(&String, &store::StoredImage)> = self.store.images.iter().collect();
        let tree: Vec<TreeImage<'_>> = stored
            .iter()
            .map(|(_, img)| TreeImage {
                layers: &img.layers,
                diff_ids: &img.config.diff_ids,
                history: &img.config.history,
            })
            .collect();
        let image_parents = layers::parents(&tree)
            .into_iter()
            .zip(&stored)
            .filter_map(|(p, (id, _))| Some(((*id).clone(), stored[p?].0.clone())))
            .collect();
        let users = self.libpod.volumes.iter();
        Relations {
            diff_ids,
            volume_users: Some(users.map(|v| (v.name.clone(), v.users.clone())).collect()),
            image_parents: Some(image_parents),
        }
    }

    /// Each libpod container's log driver and file, by container id. The
    /// writable layer walked here is the diff alone: no log in it.
    pub fn log_configs(&self) -> BTreeMap<String, super::logs::LogConfig> {
        self.libpod
            .containers
            .iter()
            .map(|c| {
                let config = super::logs::LogConfig {
                    driver: c.log_driver.clone(),
                    path: c.log_path.clone(),
                    counted_in_rw: false,
                };
                (c.id.clone(), config)
            })
            .collect()
    }

    /// Each container's writable-layer directory, by container id.
    pub fn container_dirs(&self) -> BTreeMap<String, PathBuf> {
        self.store
            .containers
            .iter()
            .map(|(id, c)| (id.clone(), c.dir.clone()))
            .collect()
    }
}
