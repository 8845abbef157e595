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

mod images;
mod store_walk;
use images::*;
use store_walk::*;

#[cfg(test)]
mod tests;
