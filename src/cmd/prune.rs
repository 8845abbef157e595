//! `podman-storage prune caches [PATH...]`: remove what is safe to remove.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use podman_storage::caches::prune::Action;
use podman_storage::caches::{self, Discovered, PruneOptions};
use podman_storage::report::{json, to_json};
use podman_storage::size::{self, Units};
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
    if !args.dry_run && !args.force && !confirm(&found, &opts, ctx.units())? {
        eprintln!("nothing removed");
        return Ok(Status::Complete);
    }
    let report = views::caches::prune(&found, &opts);
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

/// Like podman's prune: ask on a terminal, refuse without one.
fn confirm(found: &[Discovered], opts: &PruneOptions, units: Units) -> Result<bool> {
    require_terminal()?;
    let plan_opts = PruneOptions {
        dry_run: true,
        ..opts.clone()
    };
    let plan = views::caches::prune(found, &plan_opts);
    if plan.caches.iter().all(|r| r.action == Action::Skip) {
        eprint!("{}", plan.table(units));
        return Ok(false);
    }
    ask(&plan.table(units))
}

/// Refuses to go on when nobody can be asked.
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
