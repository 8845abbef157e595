//! `df`, `images`, `containers`, `volumes`: one engine, its views.

use anyhow::{bail, Result};
use podman_storage::engine::{Collected, Engine, Failed, Needs};
use podman_storage::report::{json, to_json};
use podman_storage::select::{Members, Selection, SortKey::*};
use podman_storage::{views, Status, Warnings};

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
    gather_from(ctx, &ctx.engine()?, needs, warnings, essential)
}

/// [`gather`] from an engine the caller also runs commands on.
pub(super) fn gather_from(
    ctx: &Ctx,
    engine: &Engine,
    needs: Needs,
    warnings: &Warnings,
    essential: impl Fn(&Failed) -> bool,
) -> Result<Collected> {
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
    let config = ctx.config()?;
    let (c, caches_row) = std::thread::scope(|s| {
        let caches = s.spawn(|| views::engine::caches_component(&config, &warnings));
        let c = gather(ctx, views::engine::DF_NEEDS, &warnings, |_| false);
        (c, caches.join().expect("cache inspection does not panic"))
    });
    let report = views::engine::df(&c?, caches_row, &warnings);
    finish(
        ctx,
        &warnings,
        || to_json(&json::Df::from(&report)),
        || report.table(ctx.units()),
    )
}

/// The objects `--project` keeps (see [`views::engine::members`]).
fn members(ctx: &Ctx, c: &Collected, sel: &Selection) -> Result<Option<Members>> {
    views::engine::members(c, &ctx.config()?, sel).map_err(anyhow::Error::msg)
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
    let c = gather(
        ctx,
        views::engine::for_project(needs, sel),
        &warnings,
        |f| f.images,
    )?;
    let members = members(ctx, &c, sel)?;
    let view = views::engine::images(&c, members.as_ref(), sel, &warnings);
    finish(
        ctx,
        &warnings,
        || to_json(&json::Images::from(&view)),
        || view.table(ctx.units()),
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
    let c = gather(
        ctx,
        views::engine::for_project(needs, sel),
        &warnings,
        |f| f.containers,
    )?;
    let members = members(ctx, &c, sel)?;
    let view = views::engine::containers(&c, members.as_ref(), sel, &warnings);
    finish(
        ctx,
        &warnings,
        || to_json(&json::Containers::from(&view)),
        || view.table(ctx.units()),
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
    let c = gather(
        ctx,
        views::engine::for_project(needs, sel),
        &warnings,
        |f| f.volumes,
    )?;
    let members = members(ctx, &c, sel)?;
    let view = views::engine::volumes(&c, members.as_ref(), sel, &warnings);
    finish(
        ctx,
        &warnings,
        || to_json(&json::Volumes::from(&view)),
        || view.table(ctx.units()),
    )
}
