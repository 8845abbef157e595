//! The overview (the default view) and `--all-connections`: one row per
//! project, every byte once.

use crate::config::Config;
use crate::engine::collect::collect;
use crate::engine::podman::{ConnectionEntry, Podman};
use crate::engine::Needs;
use crate::engine::{Engine, Inventory};
use crate::projects::{self, MeasuredDir, RowId};
use crate::report::overview::{
    DirEntry, GlobalSection, HostSection, MultiHostReport, OverviewReport, ProjectList,
    ProjectListRow,
};
use crate::report::SCHEMA;
use crate::runner::Runner;
use crate::{account, caches, dirs, Warnings};

/// The overview never asks podman for per-container sizes: that is the slow
/// part of `podman system df`, and the detail view has it.
pub const NEEDS: Needs = Needs {
    images: true,
    containers: true,
    container_sizes: false,
    volumes: true,
    pods: true,
    store_metadata: false,
    build_leftovers: false,
};

/// The overview of one engine: its store and this machine's directories,
/// measured at the same time.
pub fn overview(engine: &Engine, config: &Config, warnings: &Warnings) -> OverviewReport {
    let (collected, (dirs, caches_reclaimable)) = std::thread::scope(|s| {
        let dirs = s.spawn(|| measure_dirs(config, warnings));
        let collected = engine.collect(NEEDS, warnings);
        (
            collected,
            dirs.join().expect("directory walks do not panic"),
        )
    });
    assemble(
        &collected.inventory,
        config,
        &dirs,
        caches_reclaimable,
        warnings.to_vec(),
    )
}

/// The overview of one inventory plus the given directories.
pub fn assemble(
    inv: &Inventory,
    config: &Config,
    dirs: &projects::Dirs,
    caches_reclaimable: u64,
    mut warnings: Vec<String>,
) -> OverviewReport {
    let attr = projects::attribute(inv, config);
    warnings.extend(attr.conflicts.iter().cloned());
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
    let reclaimable = projects::reclaimable(inv).saturating_add(caches_reclaimable);
    OverviewReport::new(global, rows, reclaimable, warnings)
}

/// `--all-connections`: every given connection at once, one section each;
/// a host that fails or times out is one line and the others report. The
/// local directories (workspaces, mounts, caches) are measured once.
pub fn all_connections(
    runner: &Runner,
    podman_binary: &str,
    connections: &[ConnectionEntry],
    config: &Config,
    warnings: &Warnings,
) -> MultiHostReport {
    let (hosts, (dirs, caches_reclaimable)) = std::thread::scope(|s| {
        let dirs = s.spawn(|| measure_dirs(config, warnings));
        let hosts: Vec<_> = connections
            .iter()
            .map(|c| s.spawn(move || host(runner, podman_binary, c, config)))
            .collect();
        let hosts: Vec<_> = hosts
            .into_iter()
            .map(|h| h.join().expect("a host's collection does not panic"))
            .collect();
        (hosts, dirs.join().expect("directory walks do not panic"))
    });
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
    let local = assemble(
        &Inventory::default(),
        config,
        &dirs,
        caches_reclaimable,
        Vec::new(),
    );
    MultiHostReport::new(sections, local, warnings.to_vec())
}

/// One host's section, its warning lines and its notes.
fn host(
    runner: &Runner,
    podman_binary: &str,
    c: &ConnectionEntry,
    config: &Config,
) -> (HostSection, Vec<String>, Vec<String>) {
    let podman = Podman::new(runner.clone(), podman_binary, Some(&c.name), None);
    let host_warnings = Warnings::new();
    let collected = collect(&podman, NEEDS, &host_warnings);
    let lines = host_warnings.to_vec();
    let (report, error, lines) = if collected.reachable {
        let none = projects::Dirs::default();
        (
            Some(assemble(
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
}

/// Workspaces, shared mounts and caches (configured plus the well-known ones
/// that exist: ko, zarf), and what pruning the caches would free.
pub fn measure_dirs(config: &Config, warnings: &Warnings) -> (projects::Dirs, u64) {
    // The caches are listed for what pruning frees; their sizes come from
    // the one walk of all the directories.
    let reports = caches::classify_all(&caches::discover(&config.caches.paths));
    for e in reports.iter().flat_map(|r| &r.errors) {
        warnings.push(e);
    }
    for m in caches::missing_named(&reports) {
        warnings.push(m);
    }
    let measured: Vec<MeasuredDir> = reports
        .iter()
        .filter(|r| r.kind != caches::Kind::Missing)
        .map(|r| cache_dir(r.path.clone(), !r.errors.is_empty()))
        .collect();
    let reclaimable = account::caches_component(&reports, 0).reclaimable_bytes;
    (dirs::measure(config, &measured, warnings), reclaimable)
}

pub(crate) fn dir_entry(d: &MeasuredDir) -> DirEntry {
    DirEntry {
        path: d.path.display().to_string(),
        bytes: d.bytes,
        files: d.files,
        incomplete: d.incomplete,
    }
}

/// `project` without an id: every project with its kind and overview total.
pub fn project_list(engine: &Engine, config: &Config, warnings: &Warnings) -> ProjectList {
    let (collected, (dirs, _)) = std::thread::scope(|s| {
        let dirs = s.spawn(|| measure_dirs(config, warnings));
        let collected = engine.collect(NEEDS, warnings);
        (
            collected,
            dirs.join().expect("directory walks do not panic"),
        )
    });
    let inv = &collected.inventory;
    let attr = projects::attribute(inv, config);
    let rows = projects::rows(inv, &attr, &dirs, false);
    ProjectList {
        schema: SCHEMA,
        projects: rows
            .iter()
            .filter_map(|r| match &r.id {
                RowId::Project(id) => Some(ProjectListRow {
                    id: id.clone(),
                    kind: projects::project_kind(id, inv, &attr, config),
                    containers: r.containers,
                    total_bytes: r.total_bytes,
                }),
                _ => None,
            })
            .collect(),
        warnings: [warnings.to_vec(), attr.conflicts.clone()].concat(),
    }
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
pub fn project_workspaces(config: &Config, id: &str, warnings: &Warnings) -> Vec<MeasuredDir> {
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
