//! `df`, `images`, `containers`, `volumes`: one engine, its views.

use anyhow::{bail, Result};
use podman_storage::account::ComponentKind;
use podman_storage::engine::collect::{Collected, Failed, Needs};
use podman_storage::report::engine::{ContainersView, DfDetail, DfReport, ImagesView, VolumesView};
use podman_storage::report::to_json;
use podman_storage::select::{Members, Selection, SortKey::*};
use podman_storage::{account, caches, projects, timestamp, Status, Warnings};

use super::{print_notes, print_warnings, Ctx};

/// Collects what the view needs. A view whose own list could not be had
/// has nothing true to show, so that is fatal (`essential`); `df` instead
/// shows the components it has and marks the others.
fn gather(
    ctx: &Ctx,
    needs: Needs,
    warnings: &Warnings,
    essential: fn(&Failed) -> bool,
) -> Result<Collected> {
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the store...");
    let collected = engine.collect(needs, warnings);
    drop(spinner);
    if !collected.reachable || essential(&collected.failed) {
        // The fatal line is podman's own error; a fallback that led to it
        // is a note printed before it, never the message in its place.
        print_notes(&warnings.notes());
        let lines = warnings.to_vec();
        bail!(
            "{}",
            lines
                .first()
                .map(String::as_str)
                .unwrap_or("podman did not answer")
        );
    }
    Ok(collected)
}

fn finish<F>(
    ctx: &Ctx,
    warnings: &Warnings,
    json: impl FnOnce() -> String,
    table: F,
) -> Result<Status>
where
    F: FnOnce() -> String,
{
    print_notes(&warnings.notes());
    print_warnings(&warnings.to_vec());
    ctx.emit(json, table)?;
    Ok(warnings.status())
}

pub fn df(ctx: &Ctx) -> Result<Status> {
    let warnings = Warnings::new();
    let needs = Needs {
        images: true,
        containers: true,
        container_sizes: true,
        volumes: true,
        pods: false,
        store_metadata: true,
        build_leftovers: true,
    };
    let config = ctx.config()?;
    let (c, caches_row) = std::thread::scope(|s| {
        let caches = s.spawn(|| {
            let reports = caches::inspect_all(&caches::discover(&config.caches.paths));
            for e in reports.iter().flat_map(|r| &r.errors) {
                warnings.push(e);
            }
            // Nested caches are counted once by total_bytes; that is a note, not a failure.
            let (total, _nested) = caches::total_bytes(&reports);
            account::caches_component(&reports, total)
        });
        let c = gather(ctx, needs, &warnings, |_| false);
        (c, caches.join().expect("cache inspection does not panic"))
    });
    let c = c?;
    let mut components = account::components(&c.inventory);
    components.extend(account::logs_component(&c.inventory));
    if let Some(m) = &c.metadata {
        components.push(account::metadata_component(m));
    }
    if let Some(items) = &c.build_leftovers {
        components.push(account::build_cache_component(items));
    }
    if caches_row.count > 0 {
        components.push(caches_row);
    }
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
    finish(
        ctx,
        &warnings,
        || to_json(&report),
        || report.table(ctx.units()),
    )
}

/// `--project`: what the inventory needs for the overview's attribution
/// (containers and pods decide which projects exist and own what).
fn for_project(needs: Needs, sel: &Selection) -> Needs {
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

/// The objects `--project` keeps, attributed as the overview does.
fn members(ctx: &Ctx, c: &Collected, sel: &Selection) -> Result<Option<Members>> {
    let Some(id) = &sel.project else {
        return Ok(None);
    };
    let attr = projects::attribute(&c.inventory, &ctx.config()?);
    Ok(Some(
        Members::of(&c.inventory, &attr, id).map_err(anyhow::Error::msg)?,
    ))
}

pub fn images(ctx: &Ctx, sel: &Selection) -> Result<Status> {
    sel.check("images", &[Size, Unique, Created, Used, Name])
        .map_err(anyhow::Error::msg)?;
    let warnings = Warnings::new();
    let needs = Needs {
        images: true,
        containers: true,
        ..Needs::default()
    };
    let c = gather(ctx, for_project(needs, sel), &warnings, |f| f.images)?;
    let members = members(ctx, &c, sel)?;
    let mut view = ImagesView::new(account::images(&c.inventory), warnings.to_vec());
    view.select(&c.inventory, members.as_ref(), sel);
    let now = timestamp::now();
    finish(
        ctx,
        &warnings,
        || to_json(&view),
        || view.table_at(ctx.units(), now),
    )
}

pub fn containers(ctx: &Ctx, size: bool, sel: &Selection) -> Result<Status> {
    sel.check("containers", &[Size, Created, Name])
        .map_err(anyhow::Error::msg)?;
    let warnings = Warnings::new();
    let needs = Needs {
        containers: true,
        // Sorting by size needs the sizes.
        container_sizes: size || sel.sort == Some(Size),
        ..Needs::default()
    };
    let c = gather(ctx, for_project(needs, sel), &warnings, |f| f.containers)?;
    let members = members(ctx, &c, sel)?;
    let view = ContainersView::selected(
        &c.inventory.containers,
        members.as_ref(),
        sel,
        warnings.to_vec(),
    );
    let now = timestamp::now();
    finish(
        ctx,
        &warnings,
        || to_json(&view),
        || view.table_at(ctx.units(), now),
    )
}

pub fn volumes(ctx: &Ctx, sel: &Selection) -> Result<Status> {
    sel.check("volumes", &[Size, Created, Name])
        .map_err(anyhow::Error::msg)?;
    let warnings = Warnings::new();
    let needs = Needs {
        volumes: true,
        ..Needs::default()
    };
    let c = gather(ctx, for_project(needs, sel), &warnings, |f| f.volumes)?;
    let members = members(ctx, &c, sel)?;
    let view = VolumesView::selected(
        c.inventory.volumes.clone(),
        members.as_ref(),
        sel,
        warnings.to_vec(),
    );
    let now = timestamp::now();
    finish(
        ctx,
        &warnings,
        || to_json(&view),
        || view.table_at(ctx.units(), now),
    )
}
