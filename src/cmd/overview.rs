//! `overview` (the default) and `project ID`.

use anyhow::{bail, Result};
use podman_storage::config::Config;
use podman_storage::engine::collect::{collect, Needs};
use podman_storage::engine::podman::Podman;
use podman_storage::engine::{logs, Container, Inventory};
use podman_storage::projects::{self, MeasuredDir, RowId};
use podman_storage::report::engine::ContainerRow;
use podman_storage::report::overview::{
    DirEntry, GlobalSection, HostSection, MultiHostReport, OverviewReport, ProjectReport,
    ProjectVolume,
};
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::{account, caches, dirs, Status, Warnings};

use super::{print_notes, print_warnings, Ctx};

/// The overview never asks podman for per-container sizes: that is the slow
/// part of `podman system df`, and the detail view has it.
const OVERVIEW_NEEDS: Needs = Needs {
    images: true,
    containers: true,
    container_sizes: false,
    volumes: true,
    pods: true,
    store_metadata: false,
    build_leftovers: false,
};

pub fn overview(ctx: &Ctx) -> Result<Status> {
    if ctx.global.all_connections {
        return all_connections(ctx);
    }
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the store, workspaces and caches...");
    let (collected, (dirs, caches_reclaimable)) = std::thread::scope(|s| {
        let dirs = s.spawn(|| measure_dirs(&config, &warnings));
        let collected = engine.collect(OVERVIEW_NEEDS, &warnings);
        (
            collected,
            dirs.join().expect("directory walks do not panic"),
        )
    });
    drop(spinner);
    let report = engine_report(
        &collected.inventory,
        &config,
        &dirs,
        caches_reclaimable,
        warnings.to_vec(),
    );
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(|| to_json(&report), || report.table(ctx.units()))?;
    Ok(warnings.status())
}

/// The overview of one inventory plus the given directories.
fn engine_report(
    inv: &Inventory,
    config: &Config,
    dirs: &projects::Dirs,
    caches_reclaimable: u64,
    warnings: Vec<String>,
) -> OverviewReport {
    let attr = projects::attribute(inv, config);
    let rows = projects::rows(inv, &attr, dirs, false);
    let global = GlobalSection {
        images: inv
            .images
            .iter()
            .zip(&attr.images)
            .filter(|(_, o)| o.global)
            .flat_map(|(i, _)| i.names.clone())
            .collect(),
        shared_mounts: dirs.shared_mounts.iter().map(dir_entry).collect(),
    };
    let reclaimable = projects::reclaimable(inv) + caches_reclaimable;
    OverviewReport::new(global, rows, reclaimable, warnings)
}

/// `--all-connections`: every configured connection at once, one section
/// each; a host that fails or times out is one line and the others report.
/// The local directories (workspaces, mounts, caches) are measured once.
fn all_connections(ctx: &Ctx) -> Result<Status> {
    if ctx.global.engine == crate::cli::EngineChoice::Docker {
        bail!("--all-connections reads podman's connections; with docker, run once per --context");
    }
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let runner = ctx.runner()?;
    let local_podman = ctx.podman()?;
    let connections = local_podman.connections()?;
    if connections.is_empty() {
        bail!("no podman connections are configured (add one with `podman system connection add NAME URI`)");
    }
    let spinner = ctx.progress("asking every connection...");
    let (hosts, (dirs, caches_reclaimable)) = std::thread::scope(|s| {
        let dirs = s.spawn(|| measure_dirs(&config, &warnings));
        let hosts: Vec<_> = connections
            .iter()
            .map(|c| {
                let (runner, config) = (&runner, &config);
                s.spawn(move || {
                    let podman =
                        Podman::new(runner.clone(), ctx.podman_binary(), Some(&c.name), None);
                    let host_warnings = Warnings::new();
                    let collected = collect(&podman, OVERVIEW_NEEDS, &host_warnings);
                    let lines = host_warnings.to_vec();
                    let (report, error, lines) = if collected.reachable {
                        let none = projects::Dirs::default();
                        (
                            Some(engine_report(
                                &collected.inventory,
                                config,
                                &none,
                                0,
                                lines.clone(),
                            )),
                            None,
                            lines,
                        )
                    } else {
                        // Every call failed the same way: one line for the host.
                        let first = lines.first().cloned().unwrap_or_else(|| "no answer".into());
                        let line = format!("unreachable at {}: {first}", c.uri);
                        (None, Some(line.clone()), vec![line])
                    };
                    (
                        HostSection {
                            connection: c.name.clone(),
                            uri: c.uri.clone(),
                            report,
                            error,
                        },
                        lines,
                        host_warnings.notes(),
                    )
                })
            })
            .collect();
        let hosts: Vec<_> = hosts
            .into_iter()
            .map(|h| h.join().expect("a host's collection does not panic"))
            .collect();
        (hosts, dirs.join().expect("directory walks do not panic"))
    });
    drop(spinner);
    let mut sections = Vec::new();
    for (section, lines, notes) in hosts {
        for l in lines {
            warnings.push(format!("connection {}: {l}", section.connection));
        }
        for n in notes {
            warnings.note(format!("connection {}: {n}", section.connection));
        }
        sections.push(section);
    }
    let local = engine_report(
        &Inventory::default(),
        &config,
        &dirs,
        caches_reclaimable,
        Vec::new(),
    );
    let report = MultiHostReport::new(sections, local, warnings.to_vec());
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(|| to_json(&report), || report.table(ctx.units()))?;
    Ok(warnings.status())
}

/// Workspaces, shared mounts and caches (configured plus the well-known ones
/// that exist: ko, zarf), and what pruning the caches would free. The caches
/// are listed for that; their sizes come from the one walk of all the
/// directories.
fn measure_dirs(config: &Config, warnings: &Warnings) -> (projects::Dirs, u64) {
    let reports = caches::classify_all(&caches::discover(&config.caches.paths));
    for e in reports.iter().flat_map(|r| &r.errors) {
        warnings.push(e);
    }
    let measured: Vec<MeasuredDir> = reports
        .iter()
        .filter(|r| r.kind != caches::Kind::Missing)
        .map(|r| cache_dir(r.path.clone(), !r.errors.is_empty()))
        .collect();
    let reclaimable = account::caches_component(&reports, 0).reclaimable_bytes;
    (dirs::measure(config, &measured, warnings), reclaimable)
}

fn cache_dir(path: std::path::PathBuf, incomplete: bool) -> MeasuredDir {
    MeasuredDir {
        row: RowId::Global,
        path,
        bytes: 0,
        files: 0,
        incomplete,
    }
}

/// The project's workspaces from the overview's walk (same roots: every
/// project's workspaces, the shared mounts and the caches), so that nesting
/// and hard links resolve as in its overview row. Only the warnings about
/// this project's own directories are kept.
fn project_workspaces(
    config: &Config,
    id: &str,
    warnings: &Warnings,
) -> Vec<projects::MeasuredDir> {
    let caches: Vec<MeasuredDir> = caches::discover(&config.caches.paths)
        .into_iter()
        .filter(|c| std::fs::symlink_metadata(&c.path).is_ok())
        .map(|c| cache_dir(c.path, false))
        .collect();
    let all = Warnings::new();
    let dirs = dirs::measure(config, &caches, &all);
    let row = RowId::Project(id.to_string());
    let own_prefix = format!("project {id}: ");
    let own_paths: Vec<String> = config
        .projects
        .iter()
        .filter(|p| p.id == id)
        .flat_map(|p| p.expand_workspaces().dirs)
        .map(|m| m.path.display().to_string())
        .collect();
    let kept: Vec<String> = dirs
        .workspaces
        .iter()
        .filter(|w| w.row == row)
        .map(|w| w.path.display().to_string())
        .collect();
    let own = |line: &str| match line.split_once(" is inside ") {
        // A nesting warning names the directory left out first.
        Some((dropped, _)) => own_paths.iter().any(|p| p == dropped),
        None => {
            line.starts_with(&own_prefix)
                || kept.iter().any(|p| {
                    line.strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with(['/', ':']))
                })
        }
    };
    for line in all.to_vec() {
        if own(&line) {
            warnings.push(line);
        }
    }
    dirs.workspaces
        .into_iter()
        .filter(|w| w.row == row)
        .collect()
}

fn dir_entry(d: &projects::MeasuredDir) -> DirEntry {
    DirEntry {
        path: d.path.display().to_string(),
        bytes: d.bytes,
        files: d.files,
        incomplete: d.incomplete,
    }
}

pub fn project(ctx: &Ctx, id: &str) -> Result<Status> {
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the project...");
    // Locally, writable layers are walked with everything else (no podman
    // call); otherwise one `ps --size` for just this project's containers.
    let local = engine.reads_store();
    let needs = Needs {
        container_sizes: local,
        ..OVERVIEW_NEEDS
    };
    let collected = engine.collect(needs, &warnings);
    let inv = &collected.inventory;
    let attr = projects::attribute(inv, &config);
    if !attr.projects.contains(id) {
        drop(spinner);
        let known: Vec<&str> = attr.projects.iter().map(String::as_str).collect();
        print_notes(&warnings.notes());
        print_warnings(&warnings.to_vec());
        bail!(
            "unknown project {id:?}; known projects: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let row = RowId::Project(id.to_string());

    // Only this project's containers are measured, in one podman call.
    let mine: Vec<usize> = (0..inv.containers.len())
        .filter(|i| attr.containers[*i].as_deref() == Some(id))
        .collect();
    let ids: Vec<String> = mine.iter().map(|i| inv.containers[*i].id.clone()).collect();
    let (sizes, logs, dirs) = std::thread::scope(|s| {
        let dirs = s.spawn(|| project_workspaces(&config, id, &warnings));
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
            logs::attach(engine.runner(), &mut mine_containers, &configs, &warnings)
        }
        Some(Err(e)) => warnings.push(e),
        Some(Ok(None)) | None => {}
    }

    drop(spinner);
    let usage = account::images(inv);
    let images: Vec<_> = usage
        .images
        .into_iter()
        .zip(&attr.images)
        .filter(|(_, o)| o.projects.contains(id))
        .map(|(u, _)| u)
        .collect();
    let images_bytes = attr
        .layers
        .iter()
        .filter(|(_, r)| **r == row)
        .map(|(k, _)| inv.layers.get(k).map_or(0, |l| l.bytes))
        .sum::<u64>()
        + inv
            .images
            .iter()
            .zip(&attr.images)
            .filter(|(_, o)| o.row == row)
            .map(|(i, _)| i.metadata_bytes)
            .sum::<u64>();
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
    let containers_bytes = containers.iter().filter_map(|c| c.rw_bytes).sum();
    let logs_bytes = containers.iter().map(ContainerRow::log_bytes).sum();
    let workspaces_bytes = workspaces.iter().map(|w| w.bytes).sum();
    let volumes_bytes = volumes.iter().filter_map(|v| v.bytes).sum();
    let report = ProjectReport {
        schema: SCHEMA,
        id: id.to_string(),
        total_bytes: images_bytes
            + containers_bytes
            + logs_bytes
            + workspaces_bytes
            + volumes_bytes,
        images,
        images_bytes,
        containers,
        containers_bytes,
        logs_bytes,
        workspaces,
        workspaces_bytes,
        volumes,
        volumes_bytes,
        warnings: warnings.to_vec(),
    };
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(|| to_json(&report), || report.table(ctx.units()))?;
    Ok(warnings.status())
}
