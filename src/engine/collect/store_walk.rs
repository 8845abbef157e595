//! The one walk of the store on the store path: writable layers, volumes
//! and what the graph root holds besides them, and build leftovers.

use super::*;

/// The store-metadata walk planned with the writable layers and volumes
/// in it, so that one walk gives the containers' and volumes' lines and the
/// metadata line (a writable layer's `file_bytes` to its container, the rest
/// of its `apparent_bytes` to metadata). The recording keeps the two records
/// it always had, `walk` and `store-walk`: recordings made before and after
/// replay alike.
pub(super) struct StoreWalk {
    pub(super) graphroot: PathBuf,
    pub(super) planned: Vec<(PathBuf, crate::engine::metadata::Role)>,
}

impl StoreWalk {
    pub(super) fn plan(
        state: &local::LocalState,
        inv: &Inventory,
        logs_attached: bool,
    ) -> StoreWalk {
        let volumes = volume_dirs(inv);
        let logs = log_files(state, inv, logs_attached);
        StoreWalk {
            graphroot: state.graphroot.clone(),
            planned: crate::engine::metadata::plan(state, &volumes, true, &logs),
        }
    }

    /// Walks; each of `roots` (writable layers and volumes) gets its share.
    pub(super) fn run(
        self,
        roots: &[PathBuf],
    ) -> (crate::engine::metadata::StoreMetadata, Vec<walk::Usage>) {
        use crate::engine::metadata::Role;
        let (m, usages) =
            crate::engine::metadata::measure_with_roots(self.graphroot, self.planned.clone());
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
pub(super) type Walked = Option<crate::engine::metadata::StoreMetadata>;

pub(super) fn volume_dirs(inv: &Inventory) -> Vec<PathBuf> {
    inv.volumes
        .iter()
        .map(|v| PathBuf::from(&v.mountpoint))
        .collect()
}

/// The log files the logs line counts (the k8s-file logs libpod names, when
/// the logs are measured: what `logs::attach` stats), and where k8s-file
/// logs are by default: the store-metadata walk leaves them out.
pub(super) fn log_files(
    state: &local::LocalState,
    inv: &Inventory,
    attached: bool,
) -> BTreeSet<PathBuf> {
    let mut logs = crate::engine::metadata::default_log_paths(state);
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
pub(super) fn measure_dirs(
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
pub(super) fn external_containers(
    inv: &Inventory,
    dirs: &BTreeMap<String, PathBuf>,
) -> Vec<Leftover> {
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
pub(super) fn store_metadata(
    podman: &Podman,
    state: &local::LocalState,
    inv: &Inventory,
    logs: &BTreeSet<PathBuf>,
    walked: Walked,
    warnings: &Warnings,
) -> Option<crate::engine::metadata::StoreMetadata> {
    use crate::engine::metadata;
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
pub(super) struct WalkedDir {
    pub(super) apparent_bytes: u64,
    pub(super) file_bytes: u64,
    pub(super) errors: Vec<String>,
}
