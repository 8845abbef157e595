//! Gathers one engine's [`Inventory`]: independent podman calls and file
//! reads run at the same time, and every failure becomes a one-line warning
//! while the rest is still collected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::local;
use super::podman::{ContainerEntry, ImageEntry, Podman, PodmanError, VolumeEntry};
use super::store::{self, StoreSnapshot};
use super::{Container, Image, Inventory, Layer, Volume};
use crate::runner::RunError;
use crate::size::Reading;
use crate::walk;
use crate::Warnings;

/// What a view needs; everything else is not asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub images: bool,
    pub containers: bool,
    /// Writable-layer bytes per container (`podman ps --size`, slow).
    pub container_sizes: bool,
    pub volumes: bool,
    pub pods: bool,
}

impl Needs {
    pub fn all() -> Self {
        Needs {
            images: true,
            containers: true,
            container_sizes: true,
            volumes: true,
            pods: true,
        }
    }
}

/// The result of collecting: what was found, and whether podman answered at all.
#[derive(Debug, Default)]
pub struct Collected {
    pub inventory: Inventory,
    /// False when not one podman call succeeded (missing binary, no service).
    pub reachable: bool,
    /// What failed to be listed; its part of the inventory is empty.
    pub failed: Failed,
    /// Layer sizes were estimated from image totals (remote store with
    /// images that branch where there is no image).
    pub approximate_layers: bool,
}

/// Sources that were asked for and did not answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failed {
    pub images: bool,
    pub containers: bool,
    pub volumes: bool,
}

pub fn collect(podman: &Podman, needs: Needs, warnings: &Warnings) -> Collected {
    let mut c = collect_any(podman, needs, warnings);
    // One order whichever path answered: reports and snapshots stay stable.
    c.inventory
        .containers
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    c.inventory.volumes.sort_by(|a, b| a.name.cmp(&b.name));
    c.inventory.pods.sort_by(|a, b| a.name.cmp(&b.name));
    c
}

fn collect_any(podman: &Podman, needs: Needs, warnings: &Warnings) -> Collected {
    if podman.reads_store() {
        match podman.runner().measured("local", "state", local::read) {
            Ok(Some(state)) => {
                let (mut inventory, problems) = local::inventory(&state);
                for p in problems {
                    warnings.push(p);
                }
                let dirs = state.container_dirs();
                let rw_dirs = needs.container_sizes.then_some(&dirs);
                measure_dirs(podman, &mut inventory, rw_dirs, needs.volumes, warnings);
                return Collected {
                    inventory,
                    reachable: true,
                    ..Collected::default()
                };
            }
            // A recording made over the CLI has no local state: replay that.
            Ok(None) | Err(RunError::NotRecorded { .. }) => {}
            Err(e) => warnings.push(format!("local store: {e}; asking podman instead")),
        }
    }
    collect_cli(podman, needs, warnings)
}

/// The reference path, and the only one for remote connections: podman's
/// own list commands, run at the same time.
fn collect_cli(podman: &Podman, needs: Needs, warnings: &Warnings) -> Collected {
    let local = !podman.is_remote();
    let (images, containers, volumes, dangling, pods, snapshot) = std::thread::scope(|s| {
        let images = needs.images.then(|| s.spawn(|| podman.images()));
        let containers = (needs.containers || needs.images)
            .then(|| s.spawn(|| podman.containers(needs.container_sizes)));
        let volumes = needs.volumes.then(|| s.spawn(|| podman.volumes()));
        let dangling = needs.volumes.then(|| s.spawn(|| podman.dangling_volumes()));
        let pods = needs.pods.then(|| s.spawn(|| podman.pods()));
        let snapshot = (needs.images && local).then(|| s.spawn(|| read_store(podman)));
        (
            join(images),
            join(containers),
            join(volumes),
            join(dangling),
            join(pods),
            snapshot.map(|h| h.join().expect("store reader does not panic")),
        )
    });

    let mut out = Collected {
        reachable: [
            images.as_ref().map(|r| r.is_ok()),
            containers.as_ref().map(|r| r.is_ok()),
            volumes.as_ref().map(|r| r.is_ok()),
            pods.as_ref().map(|r| r.is_ok()),
        ]
        .contains(&Some(true)),
        failed: Failed {
            images: images.as_ref().is_some_and(|r| r.is_err()),
            containers: containers.as_ref().is_some_and(|r| r.is_err()),
            volumes: volumes.as_ref().is_some_and(|r| r.is_err()),
        },
        ..Collected::default()
    };

    let failures = Failures::new(warnings);
    let images: Option<Vec<ImageEntry>> = failures.take(images);
    let containers: Option<Vec<ContainerEntry>> = failures.take(containers);
    let volumes: Option<Vec<VolumeEntry>> = failures.take(volumes);
    let dangling: Option<Vec<String>> = failures.take(dangling);
    out.inventory.pods = failures.take(pods).unwrap_or_default();

    if let Some(containers) = &containers {
        out.inventory.containers = containers.iter().map(to_container).collect();
        // A negative size (an engine bug) is a value to report, not to add.
        for c in containers {
            if let Some(s) = c.size.as_ref().filter(|s| s.rw_size < 0) {
                warnings.push(format!(
                    "container {}: podman reports its writable layer as {} bytes; not counted",
                    c.names.first().unwrap_or(&c.id),
                    s.rw_size
                ));
            }
        }
    }
    if let Some(images) = images {
        let snapshot = match snapshot {
            Some(Ok(snap)) => Some(snap),
            Some(Err(e)) => {
                warnings.push(format!("{e}; asking podman for layers instead"));
                None
            }
            None => None,
        };
        let (layers, imgs, approximate) =
            resolve_layers(podman, &images, snapshot.as_ref(), warnings);
        out.inventory.layers = layers;
        out.inventory.images = imgs;
        out.approximate_layers = approximate;
    }
    if let Some(volumes) = volumes {
        let dangling: Option<BTreeSet<&str>> = dangling
            .as_ref()
            .map(|d| d.iter().map(String::as_str).collect());
        out.inventory.volumes = volumes
            .into_iter()
            .map(|v| Volume {
                in_use: dangling
                    .as_ref()
                    .is_none_or(|d| !d.contains(v.name.as_str())),
                name: v.name,
                mountpoint: v.mountpoint,
                labels: v.labels,
                bytes: None,
                approximate: false,
            })
            .collect();
        if local {
            measure_dirs(podman, &mut out.inventory, None, true, warnings);
        } else {
            remote_volume_sizes(podman, &mut out.inventory.volumes, warnings);
        }
    }
    out
}

/// Turns failed calls into warnings; a missing podman is said once, not once per call.
struct Failures<'a> {
    warnings: &'a Warnings,
    said_missing: std::cell::Cell<bool>,
}

impl<'a> Failures<'a> {
    fn new(warnings: &'a Warnings) -> Self {
        Failures {
            warnings,
            said_missing: std::cell::Cell::new(false),
        }
    }

    fn take<T>(&self, r: Option<Result<T, PodmanError>>) -> Option<T> {
        match r? {
            Ok(v) => Some(v),
            Err(e @ PodmanError::Run(RunError::NotFound { .. })) => {
                if !self.said_missing.replace(true) {
                    self.warnings.push(e);
                }
                None
            }
            Err(e) => {
                self.warnings.push(e);
                None
            }
        }
    }
}

fn join<T>(h: Option<std::thread::ScopedJoinHandle<'_, T>>) -> Option<T> {
    h.map(|h| h.join().expect("podman calls do not panic"))
}

fn read_store(podman: &Podman) -> Result<StoreSnapshot, RunError> {
    podman.runner().measured("store", "layers", || {
        let r = super::resolve::resolve(&super::resolve::Env::current())?;
        store::read(&r.store).map_err(|e| e.to_string())
    })
}

fn to_container(c: &ContainerEntry) -> Container {
    Container {
        id: c.id.clone(),
        name: c
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| c.id.chars().take(12).collect()),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        state: c.state(),
        labels: c.labels.clone(),
        pod: (!c.pod.is_empty()).then(|| c.pod.clone()),
        infra: c.is_infra,
        rw_bytes: c.size.as_ref().and_then(|s| u64::try_from(s.rw_size).ok()),
    }
}

/// Every image's layer list with exact sizes: from the local store when it
/// has the image, else from `podman image inspect` and the image totals.
fn resolve_layers(
    podman: &Podman,
    entries: &[ImageEntry],
    snapshot: Option<&StoreSnapshot>,
    warnings: &Warnings,
) -> (BTreeMap<String, Layer>, Vec<Image>, bool) {
    let parents: BTreeSet<&str> = entries.iter().map(|e| e.parent_id.as_str()).collect();
    let mut layers = BTreeMap::new();
    let mut images = Vec::new();
    let mut unresolved = Vec::new();
    for e in entries {
        if e.size < 0 {
            warnings.push(format!(
                "image {}: podman reports its size as {} bytes; counted as 0",
                e.names.first().unwrap_or(&e.id),
                e.size
            ));
        }
        let mut img = Image {
            id: e.id.clone(),
            names: e.names.clone(),
            layers: Vec::new(),
            size: e.size.max(0) as u64,
            metadata_bytes: 0,
            labels: e.labels.clone(),
            intermediate: e.names.is_empty() && parents.contains(e.id.as_str()),
            read_only: false,
        };
        let stored = snapshot.and_then(|s| {
            let si = s.images.get(&e.id)?;
            let sizes: Option<Vec<u64>> = si
                .layers
                .iter()
                .map(|l| s.layer_bytes.get(l).copied())
                .collect();
            Some((si, sizes?))
        });
        match stored {
            Some((si, sizes)) => {
                for (id, bytes) in si.layers.iter().zip(sizes) {
                    layers.insert(
                        id.clone(),
                        Layer {
                            key: id.clone(),
                            bytes,
                        },
                    );
                }
                img.layers = si.layers.clone();
                img.metadata_bytes = si.metadata_bytes;
                images.push(img);
            }
            None => unresolved.push(img),
        }
    }
    let mut approximate = false;
    if !unresolved.is_empty() {
        let ids: Vec<String> = unresolved.iter().map(|i| i.id.clone()).collect();
        match podman.image_layers(&ids) {
            Ok(diffs) => {
                let chains: Vec<(Vec<String>, u64)> = unresolved
                    .iter()
                    .map(|img| {
                        (
                            chain_keys(diffs.get(&img.id).map(Vec::as_slice).unwrap_or(&[])),
                            img.size,
                        )
                    })
                    .collect();
                let (sizes, approx) = segment_sizes(&chains);
                approximate = approx;
                for (img, (chain, _)) in unresolved.iter_mut().zip(chains) {
                    for key in &chain {
                        layers.insert(
                            key.clone(),
                            Layer {
                                key: key.clone(),
                                bytes: sizes[key],
                            },
                        );
                    }
                    img.layers = chain;
                }
                if approximate {
                    warnings.push(
                        "some images share layers where no image ends; shared bytes between them are estimated from image totals",
                    );
                }
            }
            Err(e) => {
                warnings.push(e);
                // Without layers each image counts whole: totals may double-count.
                for img in &mut unresolved {
                    let key = format!("image:{}", img.id);
                    layers.insert(
                        key.clone(),
                        Layer {
                            key: key.clone(),
                            bytes: img.size,
                        },
                    );
                    img.layers = vec![key];
                }
            }
        }
        images.extend(unresolved);
    }
    images.sort_by(|a, b| {
        a.names
            .is_empty()
            .cmp(&b.names.is_empty())
            .then(a.names.cmp(&b.names))
            .then(a.id.cmp(&b.id))
    });
    (layers, images, approximate)
}

/// Keys for a diff-id list: each position is identified by its whole prefix,
/// since the same diff on another parent is another layer on disk.
pub fn chain_keys(diff_ids: &[String]) -> Vec<String> {
    let mut keys = Vec::with_capacity(diff_ids.len());
    let mut prefix = String::new();
    for d in diff_ids {
        if !prefix.is_empty() {
            prefix.push('>');
        }
        prefix.push_str(d);
        keys.push(format!("chain:{:016x}:{}", fnv1a(prefix.as_bytes()), d));
    }
    keys
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Per-layer bytes from image totals alone. Images form a trie over their
/// layer chains; a layer's cumulative size is known exactly where an image
/// ends on it. Elsewhere it is taken as the smallest total of the images
/// below it, which keeps every image's layers summing to its own total and
/// is exact unless two images branch at a layer where no image ends (the
/// returned flag says so).
pub fn segment_sizes(images: &[(Vec<String>, u64)]) -> (BTreeMap<String, u64>, bool) {
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut children: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut cumulative: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ends: BTreeSet<&str> = BTreeSet::new();
    for (chain, size) in images {
        let mut prev: Option<&str> = None;
        for key in chain {
            parent.insert(key, prev);
            if let Some(p) = prev {
                children.entry(p).or_default().insert(key);
            }
            prev = Some(key);
        }
        // Every node on the chain is at most this image's total.
        for key in chain {
            let c = cumulative.entry(key).or_insert(u64::MAX);
            *c = (*c).min(*size);
        }
        if let Some(top) = chain.last() {
            ends.insert(top);
        }
    }
    let approximate = children
        .iter()
        .any(|(node, kids)| kids.len() > 1 && !ends.contains(node));
    let sizes = parent
        .iter()
        .map(|(key, p)| {
            let below = p.map_or(0, |p| cumulative[p]);
            (key.to_string(), cumulative[key].saturating_sub(below))
        })
        .collect();
    (sizes, approximate)
}

/// Volume sizes over a remote connection: podman's rounded `system df -v`
/// figures (the mountpoints are on another machine).
fn remote_volume_sizes(podman: &Podman, volumes: &mut [Volume], warnings: &Warnings) {
    if volumes.is_empty() {
        return;
    }
    match podman.system_df_verbose() {
        Ok(df) => {
            for v in volumes {
                match df.volumes.get(&v.name).map(|d| d.size) {
                    Some(Reading::Bytes(b)) => {
                        v.bytes = Some(b);
                        v.approximate = true;
                    }
                    Some(other) => warnings.push(format!(
                        "volume {}: podman reports its size as {other}, which is not added",
                        v.name
                    )),
                    None => warnings.push(format!(
                        "volume {}: missing from `podman system df -v`",
                        v.name
                    )),
                }
            }
        }
        Err(e) => warnings.push(e),
    }
}

/// Walks, in one concurrent pass, the containers' writable layers (when
/// `rw_dirs` is given) and the volumes' mountpoints (when `volumes`).
/// Writable layers count like podman's `rwSize` (non-directories only);
/// volumes like `du -sb`.
fn measure_dirs(
    podman: &Podman,
    inv: &mut Inventory,
    rw_dirs: Option<&BTreeMap<String, PathBuf>>,
    volumes: bool,
    warnings: &Warnings,
) {
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut targets: Vec<(bool, usize)> = Vec::new(); // (is_container, index)
    if let Some(dirs) = rw_dirs {
        for (i, c) in inv.containers.iter().enumerate() {
            if let Some(d) = dirs.get(&c.id) {
                roots.push(d.clone());
                targets.push((true, i));
            }
        }
    }
    if volumes {
        for (i, v) in inv.volumes.iter().enumerate() {
            roots.push(PathBuf::from(&v.mountpoint));
            targets.push((false, i));
        }
    }
    if roots.is_empty() {
        return;
    }
    let key = roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let measured = podman
        .runner()
        .measured("walk", &key, || -> Result<Vec<WalkedDir>, String> {
            Ok(walk::measure(&roots, &walk::WalkOptions::default())
                .into_iter()
                .map(|u| WalkedDir {
                    apparent_bytes: u.apparent_bytes,
                    file_bytes: u.file_bytes,
                    errors: u
                        .errors
                        .iter()
                        .map(|e| format!("{}: {}", e.path.display(), e.message))
                        .collect(),
                })
                .collect())
        });
    let dirs = match measured {
        Ok(d) => d,
        Err(e) => return warnings.push(e),
    };
    for ((is_container, i), d) in targets.into_iter().zip(dirs) {
        if is_container {
            let c = &mut inv.containers[i];
            for e in &d.errors {
                warnings.push(format!("container {}: {e}", c.name));
            }
            c.rw_bytes = Some(d.file_bytes);
        } else {
            let v = &mut inv.volumes[i];
            for e in &d.errors {
                warnings.push(format!("volume {}: {e}", v.name));
            }
            v.bytes = Some(d.apparent_bytes);
        }
    }
}

/// A walk's result as recorded for replay.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct WalkedDir {
    apparent_bytes: u64,
    file_bytes: u64,
    errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(ids: &[&str]) -> Vec<String> {
        chain_keys(&ids.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn segments_from_a_base_and_two_derived_images_are_exact() {
        let base = chain(&["a"]);
        let app1 = chain(&["a", "b"]);
        let app2 = chain(&["a", "c"]);
        let (sizes, approx) = segment_sizes(&[
            (base.clone(), 100),
            (app1.clone(), 130),
            (app2.clone(), 150),
        ]);
        assert!(!approx);
        assert_eq!(sizes[&base[0]], 100);
        assert_eq!(sizes[&app1[1]], 30);
        assert_eq!(sizes[&app2[1]], 50);
    }

    #[test]
    fn branching_without_an_image_is_flagged_and_totals_still_hold() {
        let x = chain(&["a", "b"]);
        let y = chain(&["a", "c"]);
        let (sizes, approx) = segment_sizes(&[(x.clone(), 130), (y.clone(), 150)]);
        assert!(approx);
        assert_eq!(sizes[&x[0]] + sizes[&x[1]], 130);
        assert_eq!(sizes[&y[0]] + sizes[&y[1]], 150);
    }

    #[test]
    fn same_diff_on_another_parent_is_another_layer() {
        let x = chain(&["a", "b"]);
        let y = chain(&["c", "b"]);
        assert_ne!(x[1], y[1]);
    }
}
