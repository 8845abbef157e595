//! Gathers one engine's [`Inventory`]: independent podman calls and file
//! reads run at the same time, and every failure becomes a one-line warning
//! while the rest is still collected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::build_cache::{self, Leftover, LeftoverKind};
use super::command::Failures;
use super::layers::{chain_keys, history_plan, layer_sizes, ImageChain};
use super::local;
use super::podman::{
    ContainerEntry, ContainerList, HistoryEntry, ImageEntry, InspectEntry, Inspected, Podman,
    PodmanError, SizeTrouble, VolumeEntry,
};
use super::resolve::{self, Env, Resolved};
use super::{
    Collected, Container, ContainerState, Failed, Image, Inventory, Layer, Needs, Pod, Volume,
};
use crate::runner::RunError;
use crate::size::Reading;
use crate::size::SumBytes;
use crate::walk;
use crate::Warnings;

pub fn collect(podman: &Podman, needs: Needs, warnings: &Warnings) -> Collected {
    // Resolved once: the store read and the build-leftovers search both
    // follow this one reading of storage.conf and containers.conf.
    let env = Env::current();
    let resolved = podman.reads_store().then(|| resolve::resolve(&env));
    let mut c = collect_any(podman, needs, resolved.clone(), warnings);
    // Only with the store read: `--cli-only` is podman's output alone.
    if let (Some(items), Some(resolved)) = (&mut c.build_leftovers, resolved) {
        match temp_leftovers(podman, resolved, env.euid, warnings) {
            Some(found) => items.extend(found),
            // A recording made before they were measured: no row, unless
            // external containers need one.
            None if items.is_empty() => c.build_leftovers = None,
            None => {}
        }
    }
    c
}

/// Leftovers in podman's temp dir and the blob-info cache; `None` from a
/// recording made before they were measured.
fn temp_leftovers(
    podman: &Podman,
    resolved: Result<Resolved, String>,
    euid: u32,
    warnings: &Warnings,
) -> Option<Vec<Leftover>> {
    let places = match resolved {
        Ok(r) => r.build_places,
        Err(e) => {
            warnings.push(format!("build leftovers not looked for: {e}"));
            return Some(Vec::new());
        }
    };
    let key = format!("{places:?}");
    let found = podman.runner().measured("build-leftovers", &key, move || {
        Ok::<_, String>(build_cache::find(&places, euid))
    });
    match found {
        Ok((items, errors)) => {
            for e in errors {
                warnings.push(format!("build leftovers not fully measured: {e}"));
            }
            Some(items)
        }
        Err(RunError::NotRecorded { .. }) => None,
        Err(e) => {
            warnings.push(e);
            Some(Vec::new())
        }
    }
}

fn collect_any(
    podman: &Podman,
    needs: Needs,
    resolved: Option<Result<Resolved, String>>,
    warnings: &Warnings,
) -> Collected {
    if let Some(resolved) = resolved {
        let asker = podman.clone();
        let read =
            move || local::read(resolved, move || asker.version().map_err(|e| e.to_string()));
        match podman.runner().measured("local", "state", read) {
            Ok(Some(state)) => {
                let (mut inventory, problems) = local::inventory(&state);
                for p in problems {
                    warnings.push(p);
                }
                let dirs = state.container_dirs();
                let rw_dirs = needs.container_sizes.then_some(&dirs);
                // With the store-metadata line too, one walk measures all
                // three (see `StoreWalk`).
                let store_walk = (needs.store_metadata
                    && rw_dirs.is_some()
                    && needs.volumes
                    && !state.graphroot.as_os_str().is_empty())
                .then(|| StoreWalk::plan(&state, &inventory, needs.container_sizes));
                let walked = measure_dirs(
                    podman,
                    &mut inventory,
                    rw_dirs,
                    needs.volumes,
                    store_walk,
                    warnings,
                );
                if needs.container_sizes {
                    let logs = state.log_configs();
                    super::logs::attach(
                        podman.runner(),
                        &mut inventory.containers,
                        &logs,
                        warnings,
                    );
                }
                let metadata = needs
                    .store_metadata
                    .then(|| {
                        let logs = log_files(&state, &inventory, needs.container_sizes);
                        store_metadata(podman, &state, &inventory, &logs, walked, warnings)
                    })
                    .flatten();
                let build_leftovers = needs
                    .build_leftovers
                    .then(|| external_containers(&inventory, &dirs));
                return Collected {
                    inventory,
                    reachable: true,
                    metadata,
                    build_leftovers,
                    relations: state.relations(),
                    ..Collected::default()
                };
            }
            // A recording made over the CLI has no local state: replay that.
            Ok(None) | Err(RunError::NotRecorded { .. }) => {}
            Err(e) => warnings.note(format!("local store: {e}; asking podman instead")),
        }
    }
    collect_cli(podman, needs, warnings)
}

/// The reference path, and the only one for remote connections: podman's
/// own list commands, run at the same time. It reads no store file, so the
/// tests can hold the store path against it as an independent source.
fn collect_cli(podman: &Podman, needs: Needs, warnings: &Warnings) -> Collected {
    let local = !podman.is_remote();
    // Each podman call is mostly start-up work on the CPU, so on a machine
    // of few cores fewer calls beat more threads: nothing is asked whose
    // answer is already known.
    let (images, containers, volumes) = std::thread::scope(|s| {
        // The images' chain (list, then inspect beside history) is the
        // longest: it starts first.
        let images = needs.images.then(|| {
            s.spawn(|| {
                podman
                    .images()
                    .and_then(|e| resolve_layers(podman, e, warnings))
            })
        });
        let containers = (needs.containers || needs.images || needs.pods)
            .then(|| s.spawn(|| containers_and_pods(podman, needs, local)));
        let volumes = needs
            .volumes
            .then(|| s.spawn(|| volumes_and_dangling(podman)));
        (join(images), join(containers), join(volumes))
    });
    let (containers, pods, logs) =
        containers.map_or((None, None, None), |c| (Some(c.list), c.pods, c.logs));
    let (volumes, dangling) = match volumes {
        Some(Ok(list)) => (Some(Ok(list.volumes)), list.dangling),
        Some(Err(e)) => (Some(Err(e)), None),
        None => (None, None),
    };

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

    let failures = Failures::new(warnings, repeats);
    let images: Option<ResolvedImages> = failures.take(images);
    let containers: Option<ContainerList> = failures.take(containers);
    let volumes: Option<Vec<VolumeEntry>> = failures.take(volumes);
    let dangling: Option<Vec<String>> = failures.take(dangling);
    out.inventory.pods = failures.take(pods).unwrap_or_default();

    if let Some(list) = &containers {
        if let Some(t) = &list.size_trouble {
            let unmeasured = list.containers.iter().filter(|c| t.affects(&c.id)).count();
            warnings.push(format!(
                "`{}` exited 0 but printed: {}; writable layers of {unmeasured} container(s) not measured",
                t.argv, t.first_line
            ));
        }
        out.inventory.containers = list
            .containers
            .iter()
            .map(|c| to_container(c, list.size_trouble.as_ref()))
            .collect();
        for c in &list.containers {
            if let Some(s) = &c.size {
                let object = format!("container {}", c.names.first().unwrap_or(&c.id));
                super::engine_bytes("podman", &object, "writable layer", s.rw_size, warnings);
            }
        }
    }
    if let Some(logs) = failures.take(logs) {
        super::logs::attach(
            podman.runner(),
            &mut out.inventory.containers,
            &logs.configs,
            warnings,
        );
    }
    if let Some(resolved) = images {
        out.inventory.layers = resolved.layers;
        out.inventory.images = resolved.images;
        out.approximate_layers = resolved.approximate;
        out.relations.image_parents = Some(resolved.parents);
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
                lower_bound: false,
                created: v.created_at,
            })
            .collect();
        // Walking the mountpoints podman printed measures the disk; it
        // reads no store record.
        if local {
            measure_dirs(podman, &mut out.inventory, None, true, None, warnings);
        } else {
            remote_volume_sizes(podman, &mut out.inventory.volumes, warnings);
        }
    }
    out
}

/// `podman ps -a` and the pods its containers are in.
struct ContainerAnswer {
    list: Result<ContainerList, PodmanError>,
    /// `None` when not needed or no container is in a pod.
    pods: Option<Result<Vec<Pod>, PodmanError>>,
    /// Log drivers and files of the containers listed; `None` when sizes
    /// are not asked for, or remote (the files are on the other machine).
    logs: Option<Result<super::podman::CliLogs, PodmanError>>,
}

/// `podman ps -a`, then `podman pod ps` only when a container is in a pod:
/// a pod holds no bytes of its own, it only groups containers.
fn containers_and_pods(podman: &Podman, needs: Needs, local: bool) -> ContainerAnswer {
    let list = podman.containers(needs.container_sizes);
    let in_pods = list
        .as_ref()
        .is_ok_and(|l| l.containers.iter().any(|c| !c.pod.is_empty()));
    // The logs of exactly the containers listed: no second listing, and no
    // container from another moment.
    let ids: Option<Vec<String>> = list
        .as_ref()
        .ok()
        .filter(|_| needs.container_sizes && local)
        .map(|l| l.containers.iter().map(|c| c.id.clone()).collect());
    std::thread::scope(|s| {
        let pods = (needs.pods && in_pods).then(|| s.spawn(|| podman.pods()));
        let logs = ids.map(|ids| podman.container_logs(Some(&ids)));
        ContainerAnswer {
            list,
            pods: join(pods),
            logs,
        }
    })
}

/// `podman volume ls` and which of them no container uses.
struct VolumeList {
    volumes: Vec<VolumeEntry>,
    /// `None` when there was no volume to ask about.
    dangling: Option<Result<Vec<String>, PodmanError>>,
}

/// `podman volume ls`, then, only when it listed a volume, the names of
/// those no container uses: with no volume there is nothing to ask.
fn volumes_and_dangling(podman: &Podman) -> Result<VolumeList, PodmanError> {
    let volumes = podman.volumes()?;
    let dangling = (!volumes.is_empty()).then(|| podman.dangling_volumes());
    Ok(VolumeList { volumes, dangling })
}

/// A missing podman fails every call the same way.
fn repeats(e: &PodmanError) -> bool {
    matches!(e, PodmanError::Run(RunError::NotFound { .. }))
}

fn join<T>(h: Option<std::thread::ScopedJoinHandle<'_, T>>) -> Option<T> {
    h.map(|h| h.join().expect("podman calls do not panic"))
}

/// A container as listed; a size podman said on stderr it could not get
/// is unmeasured (a lower bound), not the 0 it printed.
fn to_container(c: &ContainerEntry, trouble: Option<&SizeTrouble>) -> Container {
    let troubled = trouble.is_some_and(|t| t.affects(&c.id));
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
        rw_bytes: c
            .size
            .as_ref()
            .filter(|_| !troubled)
            .and_then(|s| u64::try_from(s.rw_size).ok()),
        lower_bound: troubled,
        log: None,
        created: c.created,
    }
}

/// Images with their layers, from podman's output alone.
struct ResolvedImages {
    layers: BTreeMap<String, Layer>,
    images: Vec<Image>,
    /// Some shared bytes are estimated from image totals.
    approximate: bool,
    /// Image id -> its parent's id, as `podman images` says.
    parents: BTreeMap<String, String>,
}

/// Every image's layers with exact sizes from podman's public output:
/// `image inspect` gives each image's diff ids and total, the trie over
/// those chains gives segment sizes, and `podman history` of a few images
/// gives the exact layer bytes where the totals alone cannot (see
/// [`history_plan`]). Sizes, layers and histories all come from `inspect`'s
/// moment or from immutable per-id data; the list from `images` only names
/// which ids to ask about, so an image removed in between is dropped, never
/// mixed with what was read before.
fn resolve_layers(
    podman: &Podman,
    entries: Vec<ImageEntry>,
    warnings: &Warnings,
) -> Result<ResolvedImages, PodmanError> {
    for e in &entries {
        let object = format!("image {}", e.names.first().unwrap_or(&e.id));
        super::engine_bytes("podman", &object, "size", e.size, warnings);
    }
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    // The histories the plan will most likely ask for run beside `inspect`
    // rather than after it: each podman call is mostly start-up, and this
    // chain is the longest of the view.
    let likely: Vec<&str> = likely_history_plan(&entries)
        .into_iter()
        .map(|i| entries[i].id.as_str())
        .collect();
    std::thread::scope(|s| {
        let early = spawn_histories(s, podman, &likely);
        // Without the chains, totals would count shared layers once per
        // image: the images are unmeasured rather than over-counted.
        let inspected = podman.inspect_images(&ids)?;
        Ok(resolve_inspected(
            s, podman, &entries, &inspected, early, warnings,
        ))
    })
}

/// The rest of [`resolve_layers`] once `inspect` has answered: `early`
/// holds the histories started beside it.
fn resolve_inspected<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    entries: &[ImageEntry],
    inspected: &Inspected,
    early: Histories<'scope>,
    warnings: &Warnings,
) -> ResolvedImages {
    if !inspected.gone.is_empty() {
        let short: Vec<String> = inspected
            .gone
            .iter()
            .map(|id| id.chars().take(12).collect())
            .collect();
        warnings.note(format!(
            "{} image(s) removed while the store was being read, not counted: {}",
            short.len(),
            short.join(", ")
        ));
    }
    let by_id: BTreeMap<&str, &InspectEntry> = inspected
        .images
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let entries: Vec<&ImageEntry> = entries
        .iter()
        .filter(|e| by_id.contains_key(e.id.as_str()))
        .collect();
    let parents: BTreeSet<&str> = entries.iter().map(|e| e.parent_id.as_str()).collect();
    let chains: Vec<ImageChain> = entries
        .iter()
        .zip(generations(&entries))
        .map(|(e, generation)| {
            let inspect = by_id[e.id.as_str()];
            ImageChain {
                keys: chain_keys(&inspect.root_fs.layers),
                size: inspect.size.unwrap_or(e.size).max(0) as u64,
                generation,
            }
        })
        .collect();

    let known = exact_layer_bytes(s, podman, &chains, &entries, &by_id, early, warnings);
    let (sizes, approximate) = layer_sizes(&chains, &known);
    if approximate {
        warnings.push(
            "some images share layers where no image ends; shared bytes between them are estimated from image totals",
        );
    }
    let mut layers = BTreeMap::new();
    let mut images = Vec::new();
    for (e, chain) in entries.iter().zip(chains) {
        let layer_total = chain.keys.iter().map(|k| sizes[k]).sum_bytes();
        for key in &chain.keys {
            layers.insert(
                key.clone(),
                Layer {
                    key: key.clone(),
                    bytes: sizes[key],
                },
            );
        }
        images.push(Image {
            id: e.id.clone(),
            names: e.names.clone(),
            size: chain.size,
            metadata_bytes: chain.size.saturating_sub(layer_total),
            layers: chain.keys,
            labels: e.labels.clone(),
            intermediate: Image::is_intermediate(&e.names, parents.contains(e.id.as_str())),
            read_only: e.read_only,
            created: e.created,
        });
    }
    let parents = entries
        .iter()
        .filter(|e| !e.parent_id.is_empty())
        .map(|e| (e.id.clone(), e.parent_id.clone()))
        .collect();
    ResolvedImages {
        layers,
        images,
        approximate,
        parents,
    }
}

/// Each image's number of ancestors by `ParentId` (a cycle, which podman
/// never prints, stops at the list's length).
fn generations(entries: &[&ImageEntry]) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    entries
        .iter()
        .map(|e| {
            let mut n = 0;
            let mut parent = e.parent_id.as_str();
            while let Some(&p) = index.get(parent) {
                if n == entries.len() {
                    break;
                }
                n += 1;
                parent = entries[p].parent_id.as_str();
            }
            n
        })
        .collect()
}

/// The images [`history_plan`] will most likely choose, guessed from
/// `podman images` alone so their histories can start beside `inspect`:
/// the plan over chains of image ids (each image's `ParentId` ancestors)
/// instead of layers. Exact for images built on one another; a guess that
/// misses only costs a history asked for after `inspect`.
fn likely_history_plan(entries: &[ImageEntry]) -> Vec<usize> {
    let refs: Vec<&ImageEntry> = entries.iter().collect();
    let generation = generations(&refs);
    let index: BTreeMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let chains: Vec<ImageChain> = entries
        .iter()
        .zip(&generation)
        .map(|(e, &g)| {
            let mut keys = vec![e.id.clone()];
            let mut parent = e.parent_id.as_str();
            while let Some(&p) = index.get(parent).filter(|_| keys.len() <= g) {
                keys.push(entries[p].id.clone());
                parent = entries[p].parent_id.as_str();
            }
            keys.reverse();
            ImageChain {
                keys,
                size: 0,
                generation: g,
            }
        })
        .collect();
    history_plan(&chains)
}

type Histories<'scope> =
    BTreeMap<String, std::thread::ScopedJoinHandle<'scope, Result<Vec<HistoryEntry>, PodmanError>>>;

/// Starts `podman history` of each image, all at once.
fn spawn_histories<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    ids: &[&str],
) -> Histories<'scope> {
    ids.iter()
        .map(|&id| {
            let owned = id.to_string();
            (id.to_string(), s.spawn(move || podman.history(&owned)))
        })
        .collect()
}

/// Exact bytes of the layers [`history_plan`] asks for: `podman history`
/// of each chosen image, those in `early` already started, the rest all
/// at once now; an early one the plan did not choose is not read, so the
/// figures are the plan's whichever guess was made. A history that fails
/// or does not line up with the image's layers is a warning; those layers
/// are then estimated.
fn exact_layer_bytes<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    podman: &'env Podman,
    chains: &[ImageChain],
    entries: &[&ImageEntry],
    by_id: &BTreeMap<&str, &InspectEntry>,
    mut early: Histories<'scope>,
    warnings: &Warnings,
) -> BTreeMap<String, u64> {
    let plan = history_plan(chains);
    let late: Vec<&str> = plan
        .iter()
        .map(|&i| entries[i].id.as_str())
        .filter(|id| !early.contains_key(*id))
        .collect();
    let mut started = spawn_histories(s, podman, &late);
    let answers: Vec<_> = plan
        .iter()
        .map(|&i| {
            let id = entries[i].id.as_str();
            let handle = early
                .remove(id)
                .or_else(|| started.remove(id))
                .expect("every planned history was started");
            (i, handle.join().expect("podman calls do not panic"))
        })
        .collect();
    let mut known = BTreeMap::new();
    for (i, answer) in answers {
        let id = &entries[i].id;
        match answer.map(|h| by_id[id.as_str()].layer_sizes(&h)) {
            Ok(Some(sizes)) => known.extend(chains[i].keys.iter().cloned().zip(sizes)),
            Ok(None) => warnings.push(format!(
                "image {}: `podman history` does not line up with its layers; its shared bytes are estimated",
                id.chars().take(12).collect::<String>()
            )),
            Err(e) => warnings.push(format!("{e}; shared bytes of that image are estimated")),
        }
    }
    known
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

/// The store-metadata walk planned with the writable layers and volumes
/// in it, so that one walk gives the containers' and volumes' lines and the
/// metadata line (a writable layer's `file_bytes` to its container, the rest
/// of its `apparent_bytes` to metadata). The recording keeps the two records
/// it always had, `walk` and `store-walk`: recordings made before and after
/// replay alike.
struct StoreWalk {
    graphroot: PathBuf,
    planned: Vec<(PathBuf, super::metadata::Role)>,
}

impl StoreWalk {
    fn plan(state: &local::LocalState, inv: &Inventory, logs_attached: bool) -> StoreWalk {
        let volumes = volume_dirs(inv);
        let logs = log_files(state, inv, logs_attached);
        StoreWalk {
            graphroot: state.graphroot.clone(),
            planned: super::metadata::plan(state, &volumes, true, &logs),
        }
    }

    /// Walks; each of `roots` (writable layers and volumes) gets its share.
    fn run(self, roots: &[PathBuf]) -> (super::metadata::StoreMetadata, Vec<walk::Usage>) {
        use super::metadata::Role;
        let (m, usages) = super::metadata::measure_with_roots(self.graphroot, self.planned.clone());
        let mut by_root: BTreeMap<&PathBuf, walk::Usage> = BTreeMap::new();
        for ((p, role), u) in self.planned.iter().zip(usages) {
            if matches!(role, Role::Writable | Role::Measured) {
                by_root.entry(p).or_insert(u);
            }
        }
        let planned: BTreeSet<&PathBuf> = by_root.keys().copied().collect();
        // A root given twice counts once, in its first place, as in a walk.
        let per_root = roots
            .iter()
            .map(|r| {
                let planned = planned.contains(r);
                by_root.remove(r).unwrap_or_else(|| walk::Usage {
                    errors: (!planned)
                        .then(|| walk::WalkError {
                            path: r.clone(),
                            message: "not in the store walk".into(),
                        })
                        .into_iter()
                        .collect(),
                    ..walk::Usage::default()
                })
            })
            .collect();
        (m, per_root)
    }
}

/// The store-metadata figure a [`StoreWalk`] left for the `store-walk`
/// record.
type Walked = Option<super::metadata::StoreMetadata>;

fn volume_dirs(inv: &Inventory) -> Vec<PathBuf> {
    inv.volumes
        .iter()
        .map(|v| PathBuf::from(&v.mountpoint))
        .collect()
}

/// The log files the logs line counts (the k8s-file logs libpod names, when
/// the logs are measured: what `logs::attach` stats), and where k8s-file
/// logs are by default: the store-metadata walk leaves them out.
fn log_files(state: &local::LocalState, inv: &Inventory, attached: bool) -> BTreeSet<PathBuf> {
    let mut logs = super::metadata::default_log_paths(state);
    if attached {
        let configs = state.log_configs();
        logs.extend(
            inv.containers
                .iter()
                .filter_map(|c| configs.get(&c.id))
                .filter(|l| l.driver == "k8s-file" && !l.path.is_empty())
                .map(|l| PathBuf::from(&l.path)),
        );
    }
    logs
}

/// Walks, in one concurrent pass, the containers' writable layers (when
/// `rw_dirs` is given) and the volumes' mountpoints (when `volumes`).
/// Writable layers count like podman's `rwSize` (non-directories only);
/// volumes like `du -sb`. With `store_walk`, that pass is the store's (and
/// what it found for the metadata line is returned).
fn measure_dirs(
    podman: &Podman,
    inv: &mut Inventory,
    rw_dirs: Option<&BTreeMap<String, PathBuf>>,
    volumes: bool,
    store_walk: Option<StoreWalk>,
    warnings: &Warnings,
) -> Walked {
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
        return None;
    }
    let key = roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let metadata = std::sync::Arc::new(std::sync::Mutex::new(None));
    let found = std::sync::Arc::clone(&metadata);
    let to_dir = |u: walk::Usage| WalkedDir {
        apparent_bytes: u.apparent_bytes,
        file_bytes: u.file_bytes,
        errors: u
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path.display(), e.message))
            .collect(),
    };
    let measured =
        podman
            .runner()
            .measured("walk", &key, move || -> Result<Vec<WalkedDir>, String> {
                let usages = match store_walk {
                    Some(sw) => {
                        let (m, usages) = sw.run(&roots);
                        *found.lock().unwrap_or_else(|e| e.into_inner()) = Some(m);
                        usages
                    }
                    None => walk::measure(&roots, &walk::WalkOptions::default()),
                };
                Ok(usages.into_iter().map(to_dir).collect())
            });
    let walked = metadata.lock().unwrap_or_else(|e| e.into_inner()).take();
    let dirs = match measured {
        Ok(d) => d,
        Err(e) => {
            // Nothing was measured: every figure asked for is unknown.
            for (is_container, i) in targets {
                if is_container {
                    inv.containers[i].lower_bound = true;
                } else {
                    inv.volumes[i].lower_bound = true;
                }
            }
            warnings.push(e);
            return walked;
        }
    };
    // A walk that failed anywhere (a missing directory included) measured
    // only part of it: the figure is a lower bound, never a measured one.
    for ((is_container, i), d) in targets.into_iter().zip(dirs) {
        if is_container {
            let c = &mut inv.containers[i];
            for e in &d.errors {
                warnings.push(format!(
                    "container {}: writable layer not fully measured: {e}",
                    c.name
                ));
            }
            c.rw_bytes = Some(d.file_bytes);
            c.lower_bound = !d.errors.is_empty();
        } else {
            let v = &mut inv.volumes[i];
            for e in &d.errors {
                warnings.push(format!("volume {}: not fully measured: {e}", v.name));
            }
            v.bytes = Some(d.apparent_bytes);
            v.lower_bound = !d.errors.is_empty();
        }
    }
    walked
}

/// Containers libpod does not own, as build leftovers: their writable
/// layers, measured like any container's.
fn external_containers(inv: &Inventory, dirs: &BTreeMap<String, PathBuf>) -> Vec<Leftover> {
    inv.containers
        .iter()
        .filter(|c| c.state == ContainerState::External)
        .map(|c| Leftover {
            kind: LeftoverKind::ExternalContainer,
            path: dirs.get(&c.id).cloned().unwrap_or_default(),
            bytes: c.rw_bytes.unwrap_or(0),
            lower_bound: c.lower_bound || c.rw_bytes.is_none(),
        })
        .collect()
}

/// The store-metadata walk, recorded and replayed like the others; a
/// recording made before it existed has none (then there is no line).
/// `walked` is its figure when the writable layers' walk was this one.
fn store_metadata(
    podman: &Podman,
    state: &local::LocalState,
    inv: &Inventory,
    logs: &BTreeSet<PathBuf>,
    walked: Walked,
    warnings: &Warnings,
) -> Option<super::metadata::StoreMetadata> {
    use super::metadata;
    if state.graphroot.as_os_str().is_empty() {
        return None;
    }
    let key = state.graphroot.display().to_string();
    let planned = metadata::plan(state, &volume_dirs(inv), false, logs);
    let graphroot = state.graphroot.clone();
    match podman.runner().measured("store-walk", &key, move || {
        Ok::<_, String>(walked.unwrap_or_else(|| metadata::measure_planned(graphroot, planned)))
    }) {
        Ok(m) => {
            for e in &m.errors {
                warnings.push(format!("store metadata not fully measured: {e}"));
            }
            Some(m)
        }
        Err(RunError::NotRecorded { .. }) => None,
        Err(e) => {
            warnings.push(e);
            None
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
mod tests;
