//! `podman-storage prune caches [PATH...]`: remove what is safe to remove.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use podman_storage::caches::{self, PruneOptions};
use podman_storage::report::{json, to_json};
use podman_storage::size::{self};
use podman_storage::{views, Status};

use super::{print, print_warnings, Ctx};

pub fn run(args: &crate::cli::PruneCachesArgs, ctx: &Ctx) -> Result<Status> {
    let older_than = args
        .older_than
        .as_deref()
        .map(caches::parse_age)
        .transpose()
        .context("--older-than")?;
    let max_size = args
        .max_size
        .as_deref()
        .map(size::parse_bytes)
        .transpose()
        .context("--max-size")?;
    let found = if args.paths.is_empty() {
        caches::discover(&ctx.config()?.caches.paths)
    } else {
        caches::discover::from_arguments(&args.paths)
    };
    let opts = PruneOptions {
        dry_run: args.dry_run,
        orphans: args.orphans,
        older_than,
        max_size,
        registry_offline: args.registry_offline,
        delete_untagged: args.delete_untagged,
        now: SystemTime::now(),
    };
    let report = if args.dry_run || args.force {
        views::caches::prune(&found, &opts)
    } else {
        // Nothing to remove needs no confirmation: the plan is the answer,
        // with or without a terminal.
        let plan = views::caches::prune(
            &found,
            &PruneOptions {
                dry_run: true,
                ..opts.clone()
            },
        );
        if plan.frees_nothing() {
            plan
        } else {
            require_terminal()?;
            if !ask(&plan.table(ctx.units()))? {
                eprintln!("nothing removed");
                return Ok(Status::Complete);
            }
            views::caches::prune(&found, &opts)
        }
    };
    if ctx.json() {
        print(&to_json(&json::Prune::from(&report)))?;
    } else {
        ctx.print_table(&report.table(ctx.units()))?;
    }
    print_warnings(&report.warnings);
    Ok(if report.warnings.is_empty() {
        Status::Complete
    } else {
        Status::Partial
    })
}

/// Refuses to go on when nobody can be asked (as podman's prune does).
pub(super) fn require_terminal() -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to prune without confirmation: standard input is not a terminal \
             (pass --force to prune, or --dry-run to see what would be freed)"
        );
    }
    Ok(())
}

/// Shows what would go on stderr and asks; only "y" or "yes" goes on.
pub(super) fn ask(summary: &str) -> Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{summary}")?;
    write!(err, "Are you sure you want to continue? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
