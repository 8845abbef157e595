//! `df`, `images`, `containers`, `volumes`: one engine's store, each view
//! built from what `Engine::collect` gathered.

use crate::account::{self, ComponentKind};
use crate::caches;
use crate::config::Config;
use crate::engine::{Collected, Needs};
use crate::projects;
use crate::report::engine::{ContainersView, DfDetail, DfReport, ImagesView, VolumesView};
use crate::select::{Members, Selection};
use crate::Warnings;

/// What `df` asks the engine for: everything but pods.
pub const DF_NEEDS: Needs = Needs {
    images: true,
    containers: true,
    container_sizes: true,
    volumes: true,
    pods: false,
    store_metadata: true,
    build_leftovers: true,
};

/// `df`'s blob-cache row, from the configured and well-known caches (none
/// when there are none). Run it beside the engine's collection: the two
/// read different disks.
pub fn caches_component(config: &Config, warnings: &Warnings) -> Option<account::Component> {
    let reports = caches::inspect_all(&caches::discover(&config.caches.paths));
    for e in reports.iter().flat_map(|r| &r.errors) {
        warnings.push(e);
    }
    for m in caches::missing_named(&reports) {
        warnings.push(m);
    }
    // Nested caches are counted once by total_bytes; that is a note, not a failure.
    let (total, _nested) = caches::total_bytes(&reports);
    Some(account::caches_component(&reports, total)).filter(|c| c.count > 0)
}

/// `df`: one row per component the store has, plus the caches row.
pub fn df(c: &Collected, caches_row: Option<account::Component>, warnings: &Warnings) -> DfReport {
    let mut components = account::components(&c.inventory);
    components.extend(account::logs_component(&c.inventory));
    if let Some(m) = &c.metadata {
        components.push(account::metadata_component(m));
    }
    if let Some(items) = &c.build_leftovers {
        components.push(account::build_cache_component(items));
    }
    components.extend(caches_row);
    let mut report = DfReport::new(components, &c.failed, warnings.to_vec());
    if let Some(m) = &c.metadata {
        let parts = m.parts.iter().map(|(name, bytes)| DfDetail {
            name: name.clone(),
            path: None,
            bytes: *bytes,
        });
        report.set_details(ComponentKind::Metadata, parts.collect());
    }
    if let Some(items) = &c.build_leftovers {
        let paths = items.iter().map(|l| DfDetail {
            name: l.kind.as_str().to_string(),
            path: Some(l.path.display().to_string()),
            bytes: l.bytes,
        });
        report.set_details(ComponentKind::BuildCache, paths.collect());
    }
    report
}

/// `--project`: what the inventory needs for the overview's attribution
/// (containers and pods decide which projects exist and own what).
pub fn for_project(needs: Needs, sel: &Selection) -> Needs {
    if sel.project.is_none() {
        return needs;
    }
    Needs {
        images: true,
        containers: true,
        volumes: true,
        pods: true,
        ..needs
    }
}

/// The objects `--project` keeps, attributed as the overview does; `None`
/// without `--project`, an error naming the projects for an unknown id.
pub fn members(c: &Collected, config: &Config, sel: &Selection) -> Result<Option<Members>, String> {
    let Some(id) = &sel.project else {
        return Ok(None);
    };
    let attr = projects::attribute(&c.inventory, config);
    Members::of(&c.inventory, &attr, id).map(Some)
}

pub fn images(
    c: &Collected,
    members: Option<&Members>,
    sel: &Selection,
    warnings: &Warnings,
) -> ImagesView {
    let mut view = ImagesView::new(account::images(&c.inventory), warnings.to_vec());
    view.select(&c.inventory, members, sel);
    view
}

pub fn containers(
    c: &Collected,
    members: Option<&Members>,
    sel: &Selection,
    warnings: &Warnings,
) -> ContainersView {
    ContainersView::selected(&c.inventory.containers, members, sel, warnings.to_vec())
}

pub fn volumes(
    c: &Collected,
    members: Option<&Members>,
    sel: &Selection,
    warnings: &Warnings,
) -> VolumesView {
    VolumesView::selected(c.inventory.volumes.clone(), members, sel, warnings.to_vec())
}
