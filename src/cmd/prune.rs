//! `podman-storage prune caches [PATH...]`: remove what is safe to remove.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use podman_storage::caches::prune::Action;
use podman_storage::caches::{self, Discovered, PruneOptions, PruneReport};
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::size::{self, Units};
use podman_storage::Status;
use serde::Serialize;

use super::{print, print_warnings, Ctx};

/// `--format json` output.
#[derive(Serialize)]
struct PruneView<'a> {
    schema: u32,
    dry_run: bool,
    caches: &'a [PruneReport],
    /// Bytes freed (or, under `--dry-run`, that would be freed).
    total_bytes: u64,
    warnings: &'a [String],
}

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
    let reports: Vec<PruneReport> = if args.dry_run || args.force {
        found
            .iter()
            .map(|d| caches::prune(&d.path, &opts))
            .collect()
    } else {
        // Nothing to remove needs no confirmation: the plan is the answer,
        // with or without a terminal.
        let plan = plan(&found, &opts);
        if plan.iter().all(frees_nothing) {
            plan
        } else if confirm(&plan, ctx.units())? {
            found
                .iter()
                .map(|d| caches::prune(&d.path, &opts))
                .collect()
        } else {
            eprintln!("nothing removed");
            return Ok(Status::Complete);
        }
    };
    let total: u64 = reports.iter().map(|r| r.freed_bytes).sum();
    // A named path that does not exist is an error line, as in `caches`.
    let missing = reports
        .iter()
        .filter(|r| r.kind == caches::Kind::Missing)
        .map(|r| format!("{}: does not exist", r.path.display()));
    let warnings: Vec<String> = reports
        .iter()
        .flat_map(|r| r.errors.iter().cloned())
        .chain(missing)
        .collect();
    if ctx.json() {
        print(&to_json(&PruneView {
            schema: SCHEMA,
            dry_run: args.dry_run,
            caches: &reports,
            total_bytes: total,
            warnings: &warnings,
        }))?;
    } else {
        ctx.print_table(&render(&reports, ctx.units()))?;
    }
    print_warnings(&warnings);
    Ok(if warnings.is_empty() {
        Status::Complete
    } else {
        Status::Partial
    })
}

/// What pruning would do, removing nothing.
fn plan(found: &[Discovered], opts: &PruneOptions) -> Vec<PruneReport> {
    let plan_opts = PruneOptions {
        dry_run: true,
        ..opts.clone()
    };
    found
        .iter()
        .map(|d| caches::prune(&d.path, &plan_opts))
        .collect()
}

fn frees_nothing(r: &PruneReport) -> bool {
    r.action == Action::Skip || (r.freed_bytes == 0 && r.removed_files == 0)
}

/// Like podman's prune: ask on a terminal, refuse without one.
fn confirm(plan: &[PruneReport], units: Units) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to prune without confirmation: standard input is not a terminal \
             (pass --force to prune, or --dry-run to see what would be freed)"
        );
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{}", render(plan, units))?;
    write!(err, "Are you sure you want to continue? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

fn bytes(n: u64, units: Units) -> String {
    match units {
        Units::Si => size::format(n),
        Units::Bytes => format!("{n} B"),
    }
}

fn render(reports: &[PruneReport], units: Units) -> String {
    if reports.is_empty() {
        return "no blob caches found: pass a PATH, or list them in the config's [caches] paths\n"
            .to_string();
    }
    let mut out = String::new();
    for r in reports {
        let path = podman_storage::report::sanitize(&r.path.display().to_string());
        if r.action == Action::Skip {
            let note = r.note.as_deref().unwrap_or("nothing to do");
            out.push_str(&format!("skipped {path}: {note}\n"));
            continue;
        }
        let verb = if r.dry_run { "would free" } else { "freed" };
        out.push_str(&format!(
            "{verb} {} across {} blob(s) in {path}",
            bytes(r.freed_bytes, units),
            r.removed_files
        ));
        if !r.errors.is_empty() {
            out.push_str(&format!(" ({} error(s), see warnings)", r.errors.len()));
        }
        out.push('\n');
    }
    if reports.iter().all(frees_nothing) {
        out.push_str("nothing to prune\n");
    }
    out
}
