//! `plan` and `prune images|containers|volumes|all`: the library computes
//! the plan; prune carries it out through the engine's own commands.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};
use podman_storage::account::{self, Component, ComponentKind};
use podman_storage::engine::{Collected, Needs};
use podman_storage::engine::{Engine, Inventory};
use podman_storage::plan::{self, Filter, Plan, PlanItem, PlanKind, Sources};
use podman_storage::report::plan::{ItemResult, KindResult, Outcome, PlanView, PruneView};
use podman_storage::report::{to_json, SCHEMA};
use podman_storage::{caches, projects, Status, Warnings};

use super::engine_views::gather_from;
use super::prune::{ask, require_terminal};
use super::{print_notes, print_warnings, Ctx};
use crate::cli::{Format, PlanArgs, PruneObjectsArgs};

pub fn run(args: &PlanArgs, ctx: &Ctx) -> Result<Status> {
    let kinds = [
        (args.containers, PlanKind::Container),
        (args.images, PlanKind::Image),
        (args.volumes, PlanKind::Volume),
        (args.build_cache, PlanKind::BuildLeftover),
        (args.caches, PlanKind::Cache),
    ];
    let filter = Filter {
        kinds: kinds
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, k)| *k)
            .collect(),
        project: args.project.clone(),
        created_before: cutoff(args.older_than.as_deref())?,
    };
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let (plan, _) = compute(ctx, &engine, &filter, &warnings)?;
    print_notes(&warnings.notes());
    print_warnings(&warnings.to_vec());
    let view = PlanView::new(plan, warnings.to_vec());
    match ctx.global.format {
        Format::Json => ctx.write_out(&to_json(&view))?,
        Format::Script => ctx.write_out(&view.script())?,
        Format::Table if ctx.global.output.is_some() => ctx.write_out(&view.table(ctx.units()))?,
        Format::Table => ctx.print_table(&view.table(ctx.units()))?,
        Format::Prometheus => unreachable!("run() refuses --format prometheus for plan"),
    }
    Ok(if view.complete {
        Status::Complete
    } else {
        Status::Partial
    })
}

/// Collects what the kinds asked for need and plans. A kind whose list
/// could not be had cannot be planned: fatal.
fn compute(
    ctx: &Ctx,
    engine: &Engine,
    filter: &Filter,
    warnings: &Warnings,
) -> Result<(Plan, Collected)> {
    let wants = |k| filter.wants(k);
    let needs = Needs {
        images: true,
        containers: true,
        container_sizes: wants(PlanKind::Container) || wants(PlanKind::BuildLeftover),
        volumes: wants(PlanKind::Volume),
        pods: filter.project.is_some(),
        store_metadata: false,
        build_leftovers: wants(PlanKind::BuildLeftover),
    };
    let config = ctx.config()?;
    let (collected, reports) = std::thread::scope(|s| {
        let reports = s.spawn(|| {
            wants(PlanKind::Cache).then(|| {
                let reports = caches::inspect_all(&caches::discover(&config.caches.paths));
                for e in reports.iter().flat_map(|r| &r.errors) {
                    warnings.push(e);
                }
                reports
            })
        });
        let c = gather_from(ctx, engine, needs, warnings, |f| {
            f.images || f.containers || (f.volumes && wants(PlanKind::Volume))
        });
        (c, reports.join().expect("cache inspection does not panic"))
    });
    let collected = collected?;
    let attribution = filter
        .project
        .as_ref()
        .map(|_| projects::attribute(&collected.inventory, &config));
    let command = |args: &[&str]| engine.command(args);
    let plan = plan::plan(
        &Sources {
            inventory: &collected.inventory,
            attribution: attribution.as_ref(),
            leftovers: collected.build_leftovers.as_deref(),
            caches: reports.as_deref(),
            command: &command,
            self_command: "podman-storage",
        },
        filter,
    );
    Ok((plan, collected))
}

pub fn prune(args: &PruneObjectsArgs, ctx: &Ctx, kinds: &[PlanKind]) -> Result<Status> {
    let filter = Filter {
        kinds: kinds.iter().copied().collect(),
        project: args.project.clone(),
        created_before: cutoff(args.older_than.as_deref())?,
    };
    let warnings = Warnings::new();
    let engine = ctx.engine()?;
    let plan = match &args.from {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let view: PlanView = serde_json::from_str(&text).with_context(|| {
                format!("{}: not a `plan --format json` output", path.display())
            })?;
            let mut plan = view.plan;
            plan.items.retain(|i| filter.kinds.contains(&i.kind));
            plan.totals.retain(|t| filter.kinds.contains(&t.kind));
            plan.total_bytes = plan.items.iter().map(|i| i.bytes).sum();
            plan
        }
        None => compute(ctx, &engine, &filter, &warnings)?.0,
    };
    if args.dry_run {
        print_warnings(&warnings.to_vec());
        let view = PlanView::new(plan, warnings.to_vec());
        if ctx.json() {
            ctx.write_out(&to_json(&view))?;
        } else {
            ctx.print_table(&view.table(ctx.units()))?;
        }
        return Ok(warnings.status());
    }
    if plan.items.is_empty() {
        eprintln!("nothing to prune");
        return Ok(warnings.status());
    }
    if !args.force {
        require_terminal()?;
        let summary = PlanView::new(plan.clone(), Vec::new()).table(ctx.units());
        if !ask(&summary)? {
            eprintln!("nothing removed");
            return Ok(Status::Complete);
        }
    }
    // The store as it is now: each object is checked against it, and its
    // figures are the "before" of what was freed.
    let measure = Needs {
        images: true,
        containers: true,
        container_sizes: true,
        volumes: true,
        ..Needs::default()
    };
    let before = gather_from(ctx, &engine, measure, &warnings, |f| {
        f.images || f.containers || f.volumes
    })?;
    let items: Vec<ItemResult> = plan
        .items
        .into_iter()
        .map(|item| carry_out(&engine, &before.inventory, item))
        .collect();
    let after = gather_from(ctx, &engine, measure, &warnings, |_| false)?;
    let view = result_view(
        &items,
        &account::components(&before.inventory),
        &account::components(&after.inventory),
        kinds,
        warnings.to_vec(),
    );
    print_notes(&warnings.notes());
    print_warnings(&view.warnings);
    if ctx.json() {
        ctx.write_out(&to_json(&view))?;
    } else {
        ctx.print_table(&view.table(ctx.units()))?;
    }
    let all_removed = view.items.iter().all(|i| i.outcome == Outcome::Removed);
    Ok(if all_removed {
        warnings.status()
    } else {
        Status::Partial
    })
}

fn result_view(
    items: &[ItemResult],
    before: &[Component],
    after: &[Component],
    kinds: &[PlanKind],
    warnings: Vec<String>,
) -> PruneView {
    let bytes_of = |rows: &[Component], kind| {
        rows.iter()
            .find(|c| c.kind == kind)
            .map_or(0, |c: &Component| c.bytes)
    };
    let kinds: Vec<KindResult> = kinds
        .iter()
        .map(|&kind| {
            let row = match kind {
                PlanKind::Container => ComponentKind::Containers,
                PlanKind::Image => ComponentKind::Images,
                _ => ComponentKind::Volumes,
            };
            let of_kind = items.iter().filter(|i| i.item.kind == kind);
            let count = |o| of_kind.clone().filter(|i| i.outcome == o).count() as u64;
            KindResult {
                kind,
                planned_bytes: of_kind.clone().map(|i| i.item.bytes).sum(),
                freed_bytes: bytes_of(before, row).saturating_sub(bytes_of(after, row)),
                removed: count(Outcome::Removed),
                skipped: count(Outcome::Skipped),
                failed: count(Outcome::Failed),
            }
        })
        .collect();
    PruneView {
        schema: SCHEMA,
        dry_run: false,
        planned_bytes: kinds.iter().map(|k| k.planned_bytes).sum(),
        freed_bytes: kinds.iter().map(|k| k.freed_bytes).sum(),
        kinds,
        items: items
            .iter()
            .map(|i| ItemResult {
                item: i.item.clone(),
                outcome: i.outcome,
                reason: i.reason.clone(),
            })
            .collect(),
        warnings,
    }
}

/// Checks the object against the store as it is now, then removes it with
/// the engine's own command; the engine's rules (an image in use, a
/// running container) stay the last word.
fn carry_out(engine: &Engine, now: &Inventory, item: PlanItem) -> ItemResult {
    let result = |outcome, reason: Option<String>| ItemResult {
        item: item.clone(),
        outcome,
        reason,
    };
    if let Some(reason) = changed(now, &item) {
        return result(Outcome::Skipped, Some(reason));
    }
    match engine.runner().run_any(&item.command, "") {
        Ok(out) if out.exit_code == Some(0) => result(Outcome::Removed, None),
        Ok(out) if gone(&out.stderr) => result(
            Outcome::Removed,
            Some("already gone (removed with an object before it)".into()),
        ),
        Ok(out) => result(
            Outcome::Failed,
            Some(out.stderr.lines().next().unwrap_or("failed").to_string()),
        ),
        Err(e) => result(Outcome::Failed, Some(e.to_string())),
    }
}

/// Why the object must not be removed any more, if it changed since planning.
fn changed(now: &Inventory, item: &PlanItem) -> Option<String> {
    match item.kind {
        PlanKind::Container => {
            let Some(c) = now.containers.iter().find(|c| c.id == item.id) else {
                return Some("no longer exists".into());
            };
            (!c.state.is_prunable()).then(|| format!("now {}", c.state.as_str()))
        }
        PlanKind::Image => {
            let Some(img) = now.images.iter().find(|i| i.id == item.id) else {
                return Some("no longer exists".into());
            };
            if let Some(c) = now.containers.iter().find(|c| c.image_id == img.id) {
                return Some(format!("now used by container {}", c.name));
            }
            let planned: BTreeSet<&str> =
                item.name.split(", ").filter(|n| *n != "<none>").collect();
            let names: BTreeSet<&str> = img.names.iter().map(String::as_str).collect();
            (planned != names || img.read_only).then(|| "its names changed".to_string())
        }
        PlanKind::Volume => {
            let Some(v) = now.volumes.iter().find(|v| v.name == item.id) else {
                return Some("no longer exists".into());
            };
            v.in_use.then(|| "now used by a container".to_string())
        }
        PlanKind::BuildLeftover | PlanKind::Cache => {
            Some("not an engine object: run its command".into())
        }
    }
}

/// The engine's "no such object" answers (podman 4.3 and 5, docker).
fn gone(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("no such") || s.contains("not known") || s.contains("no container with")
}

/// `--older-than DURATION` as the time before which an object was created.
fn cutoff(older_than: Option<&str>) -> Result<Option<podman_storage::timestamp::Timestamp>> {
    let Some(text) = older_than else {
        return Ok(None);
    };
    let age = podman_storage::caches::parse_age(text).context("--older-than")?;
    let now = podman_storage::timestamp::now();
    let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
    Ok(Some(podman_storage::timestamp::Timestamp(
        now.0.saturating_sub(secs),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_recognises_each_engines_words() {
        assert!(gone("Error: localhost/x:1: image not known"));
        assert!(gone(
            "Error: no container with name or ID \"abc\" found: no such container"
        ));
        assert!(gone("Error response from daemon: No such image: x:1"));
        assert!(!gone(
            "Error: image used by 1f2e: image is in use by a container"
        ));
    }
}
