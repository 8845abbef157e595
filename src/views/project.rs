//! `project ID`: one project's images, containers, logs, workspaces and
//! volumes, the same figures as its overview row plus its containers.

use crate::config::Config;
use crate::engine::Needs;
use crate::engine::{logs, Container, Engine};
use crate::projects::{self, RowId};
use crate::report::engine::ContainerRow;
use crate::report::overview::{DirEntry, ProjectReport, ProjectVolume};
use crate::report::SCHEMA;
use crate::size::sum;
use crate::{account, Warnings};

use super::overview::dir_entry;

/// The id names no project: these are the ones there are.
#[derive(Debug, thiserror::Error)]
#[error("unknown project {id:?}; known projects: {}", list(.known))]
pub struct UnknownProject {
    pub id: String,
    pub known: Vec<String>,
}

fn list(known: &[String]) -> String {
    if known.is_empty() {
        "(none)".to_string()
    } else {
        known.join(", ")
    }
}

pub fn project(
    engine: &Engine,
    config: &Config,
    id: &str,
    warnings: &Warnings,
) -> Result<ProjectReport, UnknownProject> {
    // Locally, writable layers are walked with everything else (no podman
    // call); otherwise one `ps --size` for just this project's containers.
    let local = engine.reads_store();
    let needs = Needs {
        container_sizes: local,
        ..super::overview::NEEDS
    };
    let collected = engine.collect(needs, warnings);
    let inv = &collected.inventory;
    let attr = projects::attribute(inv, config);
    if !attr.projects.contains(id) {
        return Err(UnknownProject {
            id: id.to_string(),
            known: attr.projects.iter().cloned().collect(),
        });
    }
    let row = RowId::Project(id.to_string());

    // Only this project's containers are measured, in one podman call.
    let mine: Vec<usize> = (0..inv.containers.len())
        .filter(|i| attr.containers[*i].as_deref() == Some(id))
        .collect();
    let ids: Vec<String> = mine.iter().map(|i| inv.containers[*i].id.clone()).collect();
    let (sizes, logs, dirs) = std::thread::scope(|s| {
        let dirs = s.spawn(|| super::overview::project_workspaces(config, id, warnings));
        let logs = (!local).then(|| s.spawn(|| engine.container_logs(&ids)));
        let sizes = if local {
            Ok(inv
                .containers
                .iter()
                .filter_map(|c| Some((c.id.clone(), c.rw_bytes?)))
                .collect())
        } else {
            engine.container_sizes(&ids)
        };
        let logs = logs.map(|h| h.join().expect("podman calls do not panic"));
        (
            sizes,
            logs,
            dirs.join().expect("directory walks do not panic"),
        )
    });
    let sizes = sizes.unwrap_or_else(|e| {
        warnings.push(e);
        Default::default()
    });
    // Locally the logs came with the inventory; otherwise they are stat'ed
    // now, and taken out of podman's writable-layer figure where it has them.
    let mut mine_containers: Vec<Container> = mine
        .iter()
        .map(|i| {
            let mut c = inv.containers[*i].clone();
            if !local {
                c.rw_bytes = sizes.get(&c.id).copied();
                c.lower_bound = false;
            }
            c
        })
        .collect();
    match logs {
        Some(Ok(Some(configs))) => {
            logs::attach(engine.runner(), &mut mine_containers, &configs, warnings)
        }
        Some(Err(e)) => warnings.push(e),
        Some(Ok(None)) | None => {}
    }

    let usage = account::images(inv);
    let images: Vec<_> = usage
        .images
        .into_iter()
        .zip(&attr.images)
        .filter(|(_, o)| o.projects.contains(id))
        .map(|(u, _)| u)
        .collect();
    let images_bytes = sum(attr
        .layers
        .iter()
        .filter(|(_, r)| **r == row)
        .map(|(k, _)| inv.layers.get(k).map_or(0, |l| l.bytes))
        .chain(
            inv.images
                .iter()
                .zip(&attr.images)
                .filter(|(_, o)| o.row == row)
                .map(|(i, _)| i.metadata_bytes),
        ));
    let containers: Vec<ContainerRow> = mine_containers.iter().map(ContainerRow::new).collect();
    let volumes: Vec<ProjectVolume> = inv
        .volumes
        .iter()
        .zip(&attr.volumes)
        .filter(|(_, r)| **r == row)
        .map(|(v, _)| ProjectVolume {
            name: v.name.clone(),
            bytes: v.bytes,
            in_use: v.in_use,
        })
        .collect();
    let workspaces: Vec<DirEntry> = dirs.iter().map(dir_entry).collect();
    let containers_bytes = sum(containers.iter().filter_map(|c| c.rw_bytes));
    let logs_bytes = sum(containers.iter().map(ContainerRow::log_bytes));
    let workspaces_bytes = sum(workspaces.iter().map(|w| w.bytes));
    let volumes_bytes = sum(volumes.iter().filter_map(|v| v.bytes));
    Ok(ProjectReport {
        schema: SCHEMA,
        id: id.to_string(),
        row_bytes: sum([images_bytes, workspaces_bytes, volumes_bytes]),
        total_bytes: sum([
            images_bytes,
            containers_bytes,
            logs_bytes,
            workspaces_bytes,
            volumes_bytes,
        ]),
        images,
        images_bytes,
        containers,
        containers_bytes,
        logs_bytes,
        workspaces,
        workspaces_bytes,
        volumes,
        volumes_bytes,
        warnings: [warnings.to_vec(), attr.conflicts.clone()].concat(),
    })
}
