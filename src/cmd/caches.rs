//! `podman-storage caches [PATH...]`: what each blob cache holds.

use anyhow::Result;
use podman_storage::report::{json, to_json};
use podman_storage::select::SortKey;
use podman_storage::{caches, views, Status};

use super::{print_warnings, Ctx};

pub fn run(args: &crate::cli::CachesArgs, ctx: &Ctx) -> Result<Status> {
    let sel = super::sorting(&args.sort);
    sel.check("caches", &[SortKey::Size, SortKey::Used, SortKey::Name])
        .map_err(anyhow::Error::msg)?;
    let found = if args.paths.is_empty() {
        caches::discover(&ctx.config()?.caches.paths)
    } else {
        caches::discover::from_arguments(&args.paths)
    };
    let spinner = ctx.progress("inspecting caches...");
    let report = views::caches::caches(&found, &sel);
    drop(spinner);
    ctx.emit(
        || to_json(&json::Caches::from(&report)),
        || report.table(ctx.units()),
    )?;
    print_warnings(&report.warnings);
    Ok(if report.incomplete() {
        Status::Partial
    } else {
        Status::Complete
    })
}
