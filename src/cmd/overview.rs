//! `overview` (the default) and `project ID`.

use anyhow::{bail, Result};
use podman_storage::report::{json, to_json};
use podman_storage::{views, Status, Warnings};

use super::{print_notes, print_warnings, Ctx};

pub fn overview(ctx: &Ctx) -> Result<Status> {
    if ctx.global.all_connections {
        return all_connections(ctx);
    }
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the store, workspaces and caches...");
    let report = views::overview::overview(&engine, &config, &warnings);
    drop(spinner);
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(
        || to_json(&json::Overview::from(&report)),
        || report.table(ctx.units()),
    )?;
    Ok(warnings.status())
}

/// `--all-connections`: every configured connection at once.
fn all_connections(ctx: &Ctx) -> Result<Status> {
    if ctx.global.engine == crate::cli::EngineChoice::Docker {
        bail!("--all-connections reads podman's connections; with docker, run once per --context");
    }
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let runner = ctx.runner()?;
    let connections = ctx.podman()?.connections()?;
    if connections.is_empty() {
        bail!("no podman connections are configured (add one with `podman system connection add NAME URI`)");
    }
    let spinner = ctx.progress("asking every connection...");
    let report = views::overview::all_connections(
        &runner,
        ctx.podman_binary(),
        &connections,
        &config,
        &warnings,
    );
    drop(spinner);
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(
        || to_json(&json::MultiHost::from(&report)),
        || report.table(ctx.units()),
    )?;
    Ok(warnings.status())
}

/// `project` without an id: every project with its kind and overview total.
pub fn project_list(ctx: &Ctx) -> Result<Status> {
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the store, workspaces and caches...");
    let list = views::overview::project_list(&engine, &config, &warnings);
    drop(spinner);
    print_notes(&warnings.notes());
    print_warnings(&list.warnings);
    ctx.emit(
        || to_json(&json::ProjectList::from(&list)),
        || list.table(ctx.units()),
    )?;
    Ok(warnings.status())
}

pub fn project(ctx: &Ctx, id: &str) -> Result<Status> {
    let config = ctx.config()?;
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let spinner = ctx.progress("measuring the project...");
    let report = views::project::project(&engine, &config, id, &warnings);
    drop(spinner);
    let report = match report {
        Ok(r) => r,
        Err(unknown) => {
            print_notes(&warnings.notes());
            print_warnings(&warnings.to_vec());
            bail!(unknown);
        }
    };
    print_notes(&warnings.notes());
    print_warnings(&report.warnings);
    ctx.emit(
        || to_json(&json::Project::from(&report)),
        || report.table(ctx.units()),
    )?;
    Ok(warnings.status())
}
