//! `podman-storage du PATH...`: apparent and on-disk bytes of directories,
//! measured all at once, each inode counted once across the paths.

use anyhow::Result;
use podman_storage::report;
use podman_storage::select::SortKey;
use podman_storage::walk::WalkOptions;
use podman_storage::{views, Status};

use super::Ctx;

pub fn run(args: &crate::cli::DuArgs, ctx: &Ctx) -> Result<Status> {
    let sel = super::sorting(&args.sort);
    sel.check("du", &[SortKey::Size, SortKey::Name])
        .map_err(anyhow::Error::msg)?;
    let opts = WalkOptions {
        cross_file_systems: args.cross_file_systems,
    };
    let spinner = ctx.progress("walking...");
    let report = views::du::du(&args.paths, &opts, &sel);
    drop(spinner);
    super::print_warnings(&report.warnings);
    ctx.emit(
        || report::to_json(&report::json::Du::from(&report)),
        || report.table(ctx.units()),
    )?;
    Ok(if report.all.incomplete {
        Status::Partial
    } else {
        Status::Complete
    })
}
